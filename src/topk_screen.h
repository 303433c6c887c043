/*
 * The screen of softmax_topk (softmax_fast/_fused.pyx): does any of 16 elements, scaled, beat
 * the weakest candidate kept? Almost every group answers no, so this one test is the cost of
 * the selection. Compilers do not vectorize it from the scalar loop (an early-exit search), so
 * x86-64 gets SSE2 (its baseline: no target attribute needed); other CPUs the scalar loop.
 * The products round as the scalar path's `scale * x` in the element type does.
 */
#ifndef SOFTMAX_FAST_TOPK_SCREEN_H
#define SOFTMAX_FAST_TOPK_SCREEN_H

#if defined(__SSE2__) || defined(_M_X64)
#include <emmintrin.h>

static inline int sf_f32_any_above16(const float *x, float scale, float thr) {
    const __m128 s = _mm_set1_ps(scale), t = _mm_set1_ps(thr);
    __m128 hit = _mm_cmpgt_ps(_mm_mul_ps(_mm_loadu_ps(x), s), t);
    hit = _mm_or_ps(hit, _mm_cmpgt_ps(_mm_mul_ps(_mm_loadu_ps(x + 4), s), t));
    hit = _mm_or_ps(hit, _mm_cmpgt_ps(_mm_mul_ps(_mm_loadu_ps(x + 8), s), t));
    hit = _mm_or_ps(hit, _mm_cmpgt_ps(_mm_mul_ps(_mm_loadu_ps(x + 12), s), t));
    return _mm_movemask_ps(hit);
}

static inline int sf_f64_any_above16(const double *x, double scale, double thr) {
    const __m128d s = _mm_set1_pd(scale), t = _mm_set1_pd(thr);
    __m128d hit = _mm_cmpgt_pd(_mm_mul_pd(_mm_loadu_pd(x), s), t);
    for (int i = 2; i < 16; i += 2)
        hit = _mm_or_pd(hit, _mm_cmpgt_pd(_mm_mul_pd(_mm_loadu_pd(x + i), s), t));
    return _mm_movemask_pd(hit);
}

#else

static inline int sf_f32_any_above16(const float *x, float scale, float thr) {
    int hits = 0;
    for (int i = 0; i < 16; i++) hits |= (float)(x[i] * scale) > thr;
    return hits;
}

static inline int sf_f64_any_above16(const double *x, double scale, double thr) {
    int hits = 0;
    for (int i = 0; i < 16; i++) hits |= x[i] * scale > thr;
    return hits;
}

#endif
#endif
