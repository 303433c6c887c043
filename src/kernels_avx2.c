/*
 * AVX2 + FMA kernels. The target is set here, for this file only: the rest of the library stays
 * baseline x86-64, and dispatch.c calls into this table only after CPUID and XGETBV said the CPU
 * and the OS support AVX2 and FMA.
 *
 * The table is the portable source built for this target, with the float32 row max and exp-sum
 * pass hand-written. AVX2 has no vscalefps and no masked loads: 2^(n + 64) is built from integer
 * bits (exactly 0 at the floor, as in exp_portable.h), and the tail goes through a lane array.
 */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#if !defined(__clang__)
#pragma GCC target("avx2,fma,f16c,popcnt")
#endif
#define SF_HAVE_FMA 1 /* this target has FMA: exp_portable.h and the kernels use it */
#include <immintrin.h>
#include <math.h>
#include <stddef.h>
#if defined(__clang__)
/* clang has no `#pragma GCC target`: the same target as an attribute of every function
 * defined below, pushed after the system headers (exp_portable.h's too), whose own
 * functions keep their own targets. */
#include <stdint.h>
#include <string.h>
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,popcnt"))), apply_to = function)
#endif

#include "exp_portable.h"
#include "sigmoid_portable.h"

static float sf_f32_rmax__avx2(const float *x, ptrdiff_t n, float scale) {
    const __m256 vs = _mm256_set1_ps(scale), ninf = _mm256_set1_ps(-INFINITY);
    __m256 m0 = ninf, m1 = ninf, m2 = ninf, m3 = ninf;
    ptrdiff_t i = 0;
    /* vmaxps returns its second operand (the running max) when the first is NaN: NaN skipped */
    for (; i + 32 <= n; i += 32) {
        m0 = _mm256_max_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), vs), m0);
        m1 = _mm256_max_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i + 8), vs), m1);
        m2 = _mm256_max_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i + 16), vs), m2);
        m3 = _mm256_max_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i + 24), vs), m3);
    }
    for (; i + 8 <= n; i += 8) m0 = _mm256_max_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), vs), m0);
    float r = -INFINITY;
    for (; i < n; i++) {
        float v = x[i] * scale;
        r = v > r ? v : r;
    }
    __m256 m = _mm256_max_ps(_mm256_max_ps(m0, m1), _mm256_max_ps(m2, m3));
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    float v = _mm_cvtss_f32(h);
    return v > r ? v : r;
}

/* scale*x - shift is taken exactly (TwoSum; see f32_two_diff), its rounding error added to the
 * reduced argument above the floor. Without `store`, the terms equal to 1 are counted apart
 * (the partial's `rest`). */
SF_INLINE double sf_f32_raddexp_impl__avx2(const float *x, float *y, ptrdiff_t n, float scale,
                                           float shift, const float *next, const int store,
                                           double *rest) {
    const __m256 vs = _mm256_set1_ps(scale), vsh = _mm256_set1_ps(shift);
    const __m256 vfloor = _mm256_set1_ps(F32_EXP_FLOOR), vlog2e = _mm256_set1_ps(F32_LOG2E);
    const __m256 vhi = _mm256_set1_ps(F32_LN2_HI), vlo = _mm256_set1_ps(F32_LN2_LO);
    const __m256 c6 = _mm256_set1_ps(F32_EXP_C6), c5 = _mm256_set1_ps(F32_EXP_C5);
    const __m256 c4 = _mm256_set1_ps(F32_EXP_C4), c3 = _mm256_set1_ps(F32_EXP_C3);
    const __m256 c2 = _mm256_set1_ps(F32_EXP_C2), one = _mm256_set1_ps(1.0f);
    const __m256i vbias = _mm256_set1_epi32(127 + F32_EXP_BIAS);
    const __m256 vmagic = _mm256_set1_ps(F32_ROUND_MAGIC); /* round(d / ln2): FMA + sub, 1 uop less
                                                             * than vroundps on Intel cores */
    double hi = 0, lo = 0;
    ptrdiff_t ones = 0; /* without store: terms equal to 1 (scale*x == shift), counted apart */
    const __m256 countable = _mm256_castsi256_ps(_mm256_set1_epi32(isfinite(shift) ? -1 : 0));
/* exp(d) * 2^64; at the floor n + 64 + 127 = 0: the power of two is +0.0 and so is the term */
#define SF_EXP_BIASED8(xv, out)                                                                 \
    do {                                                                                        \
        const __m256 v_ = _mm256_mul_ps((xv), vs);                                              \
        const __m256 h_ = _mm256_sub_ps(v_, vsh);                                               \
        __m256 d_ = _mm256_max_ps(vfloor, h_); /* keeps NaN */                                  \
        __m256 n_ = _mm256_sub_ps(_mm256_fmadd_ps(d_, vlog2e, vmagic), vmagic);                \
        __m256 r_ = _mm256_fnmadd_ps(n_, vlo, _mm256_fnmadd_ps(n_, vhi, d_));                  \
        {   /* the rounding error of scale*x - shift, see f32_two_diff */                       \
            const __m256 bv_ = _mm256_sub_ps(h_, v_);                                           \
            __m256 l_ = _mm256_sub_ps(_mm256_sub_ps(v_, _mm256_sub_ps(h_, bv_)),                \
                                      _mm256_add_ps(vsh, bv_));                                 \
            l_ = _mm256_and_ps(l_, _mm256_cmp_ps(h_, vfloor, _CMP_GE_OQ));                      \
            r_ = _mm256_add_ps(r_, l_);                                                         \
        }                                                                                       \
        __m256 p_ = _mm256_fmadd_ps(c6, r_, c5);                                                \
        p_ = _mm256_fmadd_ps(p_, r_, c4);                                                       \
        p_ = _mm256_fmadd_ps(p_, r_, c3);                                                       \
        p_ = _mm256_fmadd_ps(p_, r_, c2);                                                       \
        p_ = _mm256_fmadd_ps(p_, r_, one);                                                      \
        p_ = _mm256_fmadd_ps(p_, r_, one);                                                      \
        __m256i k_ = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n_), vbias), 23);    \
        (out) = _mm256_mul_ps(p_, _mm256_castsi256_ps(k_));                                     \
        if (!store) {                                                                           \
            const __m256 z_ = _mm256_and_ps(countable, /* +inf shift: inf - inf is no 1 */     \
                                            _mm256_cmp_ps(h_, _mm256_setzero_ps(), _CMP_EQ_OQ)); \
            (out) = _mm256_andnot_ps(z_, (out));                                                \
            ones += __builtin_popcount((unsigned)_mm256_movemask_ps(z_));                       \
        }                                                                                       \
    } while (0)
    ptrdiff_t i = 0;
    while (i < n) {
        const ptrdiff_t end = n - i > 1024 ? i + 1024 : n;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, e0, e1, e2, e3;
        for (; i + 32 <= end; i += 32) {
            if (next) { /* the next row, at this pass's pace: see the portable expsum */
                _mm_prefetch((const char *)(next + i), _MM_HINT_T0);
                _mm_prefetch((const char *)(next + i + 16), _MM_HINT_T0);
            }
            SF_EXP_BIASED8(_mm256_loadu_ps(x + i), e0);
            SF_EXP_BIASED8(_mm256_loadu_ps(x + i + 8), e1);
            SF_EXP_BIASED8(_mm256_loadu_ps(x + i + 16), e2);
            SF_EXP_BIASED8(_mm256_loadu_ps(x + i + 24), e3);
            if (store) {
                _mm256_storeu_ps(y + i, e0);
                _mm256_storeu_ps(y + i + 8, e1);
                _mm256_storeu_ps(y + i + 16, e2);
                _mm256_storeu_ps(y + i + 24, e3);
            }
            a0 = _mm256_add_ps(a0, e0);
            a1 = _mm256_add_ps(a1, e1);
            a2 = _mm256_add_ps(a2, e2);
            a3 = _mm256_add_ps(a3, e3);
        }
        for (; i + 8 <= end; i += 8) {
            SF_EXP_BIASED8(_mm256_loadu_ps(x + i), e0);
            if (store) _mm256_storeu_ps(y + i, e0);
            a0 = _mm256_add_ps(a0, e0);
        }
        if (i < end) { /* the tail, through a padded lane array; padded lanes are zeroed after */
            float pad[8], e[8];
            const ptrdiff_t rem = end - i;
            /* padding is -inf: exp gives 0 and it is never counted as a 1 */
            for (int j = 0; j < 8; j++) pad[j] = j < rem ? x[i + j] : -INFINITY;
            SF_EXP_BIASED8(_mm256_loadu_ps(pad), e0);
            _mm256_storeu_ps(e, e0);
            for (int j = (int)rem; j < 8; j++) e[j] = 0.0f;
            if (store)
                for (int j = 0; j < rem; j++) y[i + j] = e[j];
            a1 = _mm256_add_ps(a1, _mm256_loadu_ps(e));
            i = end;
        }
        const __m256 a = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
        __m256d w = _mm256_add_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(a)),
                                  _mm256_cvtps_pd(_mm256_extractf128_ps(a, 1)));
        __m128d w2 = _mm_add_pd(_mm256_castpd256_pd128(w), _mm256_extractf128_pd(w, 1));
        sf_acc_add(&hi, &lo, _mm_cvtsd_f64(_mm_add_sd(w2, _mm_unpackhi_pd(w2, w2))));
    }
#undef SF_EXP_BIASED8
    const double others = (hi + lo) * (double)F32_EXP_UNBIAS;
    if (!store) *rest = ((double)ones - 1.0) + others;
    return (double)ones + others;
}

static double sf_f32_raddexp__avx2(const float *x, float *y, ptrdiff_t n, float scale,
                                   float shift, const float *next, double *rest) {
    return y ? sf_f32_raddexp_impl__avx2(x, y, n, scale, shift, next, 1, NULL)
             : sf_f32_raddexp_impl__avx2(x, NULL, n, scale, shift, next, 0, rest);
}

/* ---- float16 / bfloat16 <-> float32 (dispatch.c requires F16C for this level) ---- */

static void sf_f16_to_f32__avx2(const uint16_t *x, float *y, ptrdiff_t n) {
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i))));
    for (; i < n; i++) y[i] = sf_f16_to_f32_one(x[i]);
}

static void sf_f32_to_f16__avx2(const float *x, uint16_t *y, ptrdiff_t n) {
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8) /* vcvtps2ph: round to nearest even, NaN quieted */
        _mm_storeu_si128((__m128i *)(y + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++) y[i] = sf_f32_to_f16_one(x[i]);
}

static void sf_bf16_to_f32__avx2(const uint16_t *x, float *y, ptrdiff_t n) {
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8) { /* a bfloat16 is the high half of a float32 */
        const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(x + i)));
        _mm256_storeu_ps(y + i, _mm256_castsi256_ps(_mm256_slli_epi32(w, 16)));
    }
    for (; i < n; i++) y[i] = sf_bf16_to_f32_one(x[i]);
}

/* round to nearest even on bit 16 by integer addition; NaN lanes keep their top bits, quieted */
SF_INLINE __m256i sf_f32_to_bf16_bits8__avx2(__m256 v) {
    const __m256i u = _mm256_castps_si256(v);
    const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
    const __m256i r = _mm256_srli_epi32(
        _mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7fff)), lsb), 16);
    const __m256i q = _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(0x40));
    return _mm256_blendv_epi8(r, q, _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q)));
}

static void sf_f32_to_bf16__avx2(const float *x, uint16_t *y, ptrdiff_t n) {
    ptrdiff_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m256i a = sf_f32_to_bf16_bits8__avx2(_mm256_loadu_ps(x + i));
        const __m256i b = sf_f32_to_bf16_bits8__avx2(_mm256_loadu_ps(x + i + 8));
        /* packus works within 128-bit lanes: the permute puts the four quarters in order */
        const __m256i p = _mm256_permute4x64_epi64(_mm256_packus_epi32(a, b), 0xd8);
        _mm256_storeu_si256((__m256i *)(y + i), p);
    }
    for (; i < n; i++) y[i] = sf_f32_to_bf16_one(x[i]);
}

#define SF_HALF_F16_IN sf_f16_to_f32__avx2
#define SF_HALF_F16_OUT sf_f32_to_f16__avx2
#define SF_HALF_BF16_IN sf_bf16_to_f32__avx2
#define SF_HALF_BF16_OUT sf_f32_to_bf16__avx2

#define SF_ISA avx2
#define SF_LANES_F32 32 /* four 8-float vectors: independent accumulators hide FP latency */
#define SF_LANES_F64 16
#define SF_F32_RMAX sf_f32_rmax__avx2
#define SF_F32_RADDEXP sf_f32_raddexp__avx2
#include "kernels_portable.h"
#if defined(__clang__)
#pragma clang attribute pop
#endif
#endif
