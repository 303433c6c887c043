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
#include <stdint.h>
#if defined(__clang__)
/* clang has no `#pragma GCC target`: the same target as an attribute of every function
 * defined below, pushed after the system headers (exp_portable.h's too), whose own
 * functions keep their own targets. */
#include <stdint.h>
#include <string.h>
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,popcnt"))), apply_to = function)
#endif

#include <string.h>

#include "exp_portable.h"
#include "sigmoid_portable.h"
#include "softmax_fast.h"

/* the row max of scale*x, and in *least its least value (kernels_portable.inc's FN(max)); with
 * `unit` (scale 1) x itself, a third of the loop's operations less */
SF_INLINE float sf_f32_rmax_impl__avx2(const float *x, ptrdiff_t n, float scale, const int unit,
                                       float *least) {
    const __m256 vs = _mm256_set1_ps(scale), ninf = _mm256_set1_ps(-INFINITY);
    const __m256 pinf = _mm256_set1_ps(INFINITY);
    __m256 m0 = ninf, m1 = ninf, m2 = ninf, m3 = ninf, l0 = pinf, l1 = pinf;
    ptrdiff_t i = 0;
#define SF_SCALED8(v) (unit ? (v) : _mm256_mul_ps((v), vs))
    /* vmaxps/vminps return their second operand (the running value) when the first is NaN:
     * NaN skipped */
    for (; i + 32 <= n; i += 32) {
        const __m256 v0 = SF_SCALED8(_mm256_loadu_ps(x + i));
        const __m256 v1 = SF_SCALED8(_mm256_loadu_ps(x + i + 8));
        const __m256 v2 = SF_SCALED8(_mm256_loadu_ps(x + i + 16));
        const __m256 v3 = SF_SCALED8(_mm256_loadu_ps(x + i + 24));
        m0 = _mm256_max_ps(v0, m0);
        m1 = _mm256_max_ps(v1, m1);
        m2 = _mm256_max_ps(v2, m2);
        m3 = _mm256_max_ps(v3, m3);
        l0 = _mm256_min_ps(_mm256_min_ps(v0, v1), l0);
        l1 = _mm256_min_ps(_mm256_min_ps(v2, v3), l1);
    }
    for (; i + 8 <= n; i += 8) {
        const __m256 v = SF_SCALED8(_mm256_loadu_ps(x + i));
        m0 = _mm256_max_ps(v, m0);
        l0 = _mm256_min_ps(v, l0);
    }
#undef SF_SCALED8
    float r = -INFINITY, low = INFINITY;
    for (; i < n; i++) {
        float v = unit ? x[i] : x[i] * scale;
        r = v > r ? v : r;
        low = v < low ? v : low;
    }
    __m256 m = _mm256_max_ps(_mm256_max_ps(m0, m1), _mm256_max_ps(m2, m3));
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    __m256 l = _mm256_min_ps(l0, l1);
    __m128 g = _mm_min_ps(_mm256_castps256_ps128(l), _mm256_extractf128_ps(l, 1));
    g = _mm_min_ps(g, _mm_movehl_ps(g, g));
    g = _mm_min_ss(g, _mm_movehdup_ps(g));
    const float v = _mm_cvtss_f32(h), w = _mm_cvtss_f32(g);
    *least = w < low ? w : low;
    return v > r ? v : r;
}

static float sf_f32_rmax__avx2(const float *x, ptrdiff_t n, float scale, float *least) {
    return scale == 1.0f ? sf_f32_rmax_impl__avx2(x, n, scale, 1, least)
                         : sf_f32_rmax_impl__avx2(x, n, scale, 0, least);
}

/* scale*x - shift is taken exactly (TwoSum, see f32_two_diff, or Fast2Sum: the form, SF_DIFF_*
 * of exp_portable.h), its rounding error added to the reduced argument. The terms equal to 1
 * are counted apart (the partial's `rest`; stored terms too, for the sum's accuracy). With
 * `folded` (sums only, sf_f32_fold_fits__avx2) the terms are exp(v) fold_c instead, and
 * `unbias` takes the sum back to `shift`; otherwise fold_c is 1 and unbias 2^-64. */
SF_INLINE double sf_f32_raddexp_impl__avx2(const float *x, float *y, ptrdiff_t n, float scale,
                                           float shift, const float *next, const int store,
                                           const int form, const int unit, const int clamp,
                                           const int folded, float fold_c, double unbias,
                                           double *rest) {
    const __m256 vs = _mm256_set1_ps(scale), vsh = _mm256_set1_ps(shift);
    const __m256 vfloor = _mm256_set1_ps(F32_EXP_FLOOR), vlog2e = _mm256_set1_ps(F32_LOG2E);
    const __m256 vhi = _mm256_set1_ps(F32_LN2_HI), vlo = _mm256_set1_ps(F32_LN2_LO);
    /* the coefficients times fold_c (exact products when it is 1) */
    const __m256 c6 = _mm256_set1_ps(fold_c * F32_EXP_C6), c5 = _mm256_set1_ps(fold_c * F32_EXP_C5);
    const __m256 c4 = _mm256_set1_ps(fold_c * F32_EXP_C4), c3 = _mm256_set1_ps(fold_c * F32_EXP_C3);
    const __m256 c2 = _mm256_set1_ps(fold_c * F32_EXP_C2), c0 = _mm256_set1_ps(fold_c);
    const __m256 vmagic = _mm256_set1_ps(F32_ROUND_MAGIC); /* round(d / ln2): FMA + sub, 1 uop less
                                                             * than vroundps on Intel cores */
    /* d / ln2 + magic holds n in its low bits (magic's binade for |n| < 2^22): its bit pattern
     * minus magic's is n, so the power of two is one integer add and a shift from it, the same
     * integer as a conversion of n would give, one operation less (folded terms carry their
     * 2^64 in fold_c) */
    const __m256i vkbias = _mm256_set1_epi32((int32_t)(127 + (folded ? 0 : F32_EXP_BIAS)) -
                                             (int32_t)f32_bits(F32_ROUND_MAGIC));
    __m256d s_lo = _mm256_setzero_pd(), s_hi = s_lo; /* the lane sums, in double */
    /* terms equal to 1 (scale*x == shift) are counted apart, stored or not: in the float32 lanes
     * the max's term made every later addition to its lane round at its magnitude (see
     * sf_f32_term__avx512) */
    ptrdiff_t ones = 0;
/* exp(d) * 2^64 into out (at the floor n + 64 + 127 = 0: the power of two is +0.0 and so is
 * the term), and into add the same with the terms equal to 1 zeroed (counted into ones: h is
 * 0 only for a finite shift, inf - inf being NaN). With `unit` scale*x is x itself; without
 * `clamp` every d is at or above the floor (the caller knows from the row's least value), and
 * the clamp would change none. Folded, d is v itself and its terms v == shift are the 1s. */
#define SF_EXP_BIASED8(xv, out, add)                                                            \
    do {                                                                                        \
        const __m256 v_ = unit ? (xv) : _mm256_mul_ps((xv), vs);                                \
        const __m256 h_ = folded ? v_ : _mm256_sub_ps(v_, vsh);                                 \
        const __m256 d_ = clamp ? _mm256_max_ps(vfloor, h_) : h_; /* max keeps NaN */           \
        const __m256 t_ = _mm256_fmadd_ps(d_, vlog2e, vmagic);                                  \
        const __m256 n_ = _mm256_sub_ps(t_, vmagic);                                            \
        __m256 r_ = _mm256_fnmadd_ps(n_, vlo, _mm256_fnmadd_ps(n_, vhi, d_));                  \
        if (!folded) { /* the rounding error of scale*x - shift; TwoSum's is masked where not  \
                        * finite (x = -inf); below the floor the term is 0 whatever the error */ \
            __m256 l_;                                                                          \
            if (form == SF_DIFF_SHIFT_BIG) {                                                    \
                l_ = _mm256_sub_ps(v_, _mm256_add_ps(h_, vsh));                                 \
            } else if (form == SF_DIFF_V_BIG) {                                                 \
                l_ = _mm256_sub_ps(_mm256_sub_ps(v_, h_), vsh);                                 \
            } else {                                                                            \
                const __m256 bv_ = _mm256_sub_ps(h_, v_);                                       \
                l_ = _mm256_sub_ps(_mm256_sub_ps(v_, _mm256_sub_ps(h_, bv_)),                   \
                                   _mm256_add_ps(vsh, bv_));                                    \
                if (form == SF_DIFF_TWOSUM)                                                     \
                    l_ = _mm256_and_ps(l_, _mm256_cmp_ps(h_, vfloor, _CMP_GE_OQ));              \
            }                                                                                   \
            r_ = _mm256_add_ps(r_, l_);                                                         \
        }                                                                                       \
        __m256 p_ = _mm256_fmadd_ps(c6, r_, c5);                                                \
        p_ = _mm256_fmadd_ps(p_, r_, c4);                                                       \
        p_ = _mm256_fmadd_ps(p_, r_, c3);                                                       \
        p_ = _mm256_fmadd_ps(p_, r_, c2);                                                       \
        p_ = _mm256_fmadd_ps(p_, r_, c0);                                                       \
        p_ = _mm256_fmadd_ps(p_, r_, c0);                                                       \
        const __m256i k_ =                                                                      \
            _mm256_slli_epi32(_mm256_add_epi32(_mm256_castps_si256(t_), vkbias), 23);           \
        (out) = _mm256_mul_ps(p_, _mm256_castsi256_ps(k_));                                     \
        const __m256 z_ = _mm256_cmp_ps(h_, folded ? vsh : _mm256_setzero_ps(), _CMP_EQ_OQ);    \
        (add) = _mm256_andnot_ps(z_, (out));                                                    \
        ones += __builtin_popcount((unsigned)_mm256_movemask_ps(z_));                           \
    } while (0)
    ptrdiff_t i = 0;
    while (i < n) {
        const ptrdiff_t end = n - i > SF_F32_LANE_CHUNK(8) ? i + SF_F32_LANE_CHUNK(8) : n;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, e0, e1, e2, e3, s0, s1, s2, s3;
        for (; i + 32 <= end; i += 32) {
            if (next) { /* the next row, at this pass's pace: see the portable expsum */
                _mm_prefetch((const char *)(next + i), _MM_HINT_T0);
                _mm_prefetch((const char *)(next + i + 16), _MM_HINT_T0);
            }
            SF_EXP_BIASED8(_mm256_loadu_ps(x + i), e0, s0);
            SF_EXP_BIASED8(_mm256_loadu_ps(x + i + 8), e1, s1);
            SF_EXP_BIASED8(_mm256_loadu_ps(x + i + 16), e2, s2);
            SF_EXP_BIASED8(_mm256_loadu_ps(x + i + 24), e3, s3);
            if (store) {
                _mm256_storeu_ps(y + i, e0);
                _mm256_storeu_ps(y + i + 8, e1);
                _mm256_storeu_ps(y + i + 16, e2);
                _mm256_storeu_ps(y + i + 24, e3);
            }
            a0 = _mm256_add_ps(a0, s0);
            a1 = _mm256_add_ps(a1, s1);
            a2 = _mm256_add_ps(a2, s2);
            a3 = _mm256_add_ps(a3, s3);
        }
        for (; i + 8 <= end; i += 8) {
            SF_EXP_BIASED8(_mm256_loadu_ps(x + i), e0, s0);
            if (store) _mm256_storeu_ps(y + i, e0);
            a0 = _mm256_add_ps(a0, s0);
        }
        if (i < end) { /* the tail, through a padded lane array; padded lanes are zeroed after */
            float pad[8], e[8];
            const ptrdiff_t rem = end - i;
            /* padding is -inf: never counted as a 1, and its terms (0, or garbage where
             * neither clamped nor subtracted) are dropped below */
            for (int j = 0; j < 8; j++) pad[j] = j < rem ? x[i + j] : -INFINITY;
            SF_EXP_BIASED8(_mm256_loadu_ps(pad), e0, s0);
            if (store) {
                _mm256_storeu_ps(e, e0);
                for (int j = 0; j < rem; j++) y[i + j] = e[j];
            }
            _mm256_storeu_ps(e, s0);
            for (int j = (int)rem; j < 8; j++) e[j] = 0.0f;
            a1 = _mm256_add_ps(a1, _mm256_loadu_ps(e));
            i = end;
        }
        const __m256 a = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
        s_lo = _mm256_add_pd(s_lo, _mm256_cvtps_pd(_mm256_castps256_ps128(a)));
        s_hi = _mm256_add_pd(s_hi, _mm256_cvtps_pd(_mm256_extractf128_ps(a, 1)));
    }
#undef SF_EXP_BIASED8
    const __m256d w = _mm256_add_pd(s_lo, s_hi);
    const __m128d w2 = _mm_add_pd(_mm256_castpd256_pd128(w), _mm256_extractf128_pd(w, 1));
    const double others = _mm_cvtsd_f64(_mm_add_sd(w2, _mm_unpackhi_pd(w2, w2))) * unbias;
    if (!store) *rest = ((double)ones - 1.0) + others;
    return (double)ones + others;
}

/* The same for float64 (4 lanes a vector). The portable loop it replaces did not vectorize and
 * took 28% of a (32, 1000) float64 log_softmax: 1 ns an element. */
SF_INLINE double sf_f64_rmax_impl__avx2(const double *x, ptrdiff_t n, double scale,
                                        const int unit, double *least) {
    const __m256d vs = _mm256_set1_pd(scale), ninf = _mm256_set1_pd(-INFINITY);
    const __m256d pinf = _mm256_set1_pd(INFINITY);
    __m256d m0 = ninf, m1 = ninf, m2 = ninf, m3 = ninf, l0 = pinf, l1 = pinf;
    ptrdiff_t i = 0;
#define SF_SCALED4(v) (unit ? (v) : _mm256_mul_pd((v), vs))
    /* vmaxpd/vminpd return their second operand (the running value) when the first is NaN */
    for (; i + 16 <= n; i += 16) {
        const __m256d v0 = SF_SCALED4(_mm256_loadu_pd(x + i));
        const __m256d v1 = SF_SCALED4(_mm256_loadu_pd(x + i + 4));
        const __m256d v2 = SF_SCALED4(_mm256_loadu_pd(x + i + 8));
        const __m256d v3 = SF_SCALED4(_mm256_loadu_pd(x + i + 12));
        m0 = _mm256_max_pd(v0, m0);
        m1 = _mm256_max_pd(v1, m1);
        m2 = _mm256_max_pd(v2, m2);
        m3 = _mm256_max_pd(v3, m3);
        l0 = _mm256_min_pd(_mm256_min_pd(v0, v1), l0);
        l1 = _mm256_min_pd(_mm256_min_pd(v2, v3), l1);
    }
    for (; i + 4 <= n; i += 4) {
        const __m256d v = SF_SCALED4(_mm256_loadu_pd(x + i));
        m0 = _mm256_max_pd(v, m0);
        l0 = _mm256_min_pd(v, l0);
    }
#undef SF_SCALED4
    double r = -INFINITY, low = INFINITY;
    for (; i < n; i++) {
        const double v = unit ? x[i] : x[i] * scale;
        r = v > r ? v : r;
        low = v < low ? v : low;
    }
    const __m256d m = _mm256_max_pd(_mm256_max_pd(m0, m1), _mm256_max_pd(m2, m3));
    __m128d h = _mm_max_pd(_mm256_castpd256_pd128(m), _mm256_extractf128_pd(m, 1));
    h = _mm_max_sd(h, _mm_unpackhi_pd(h, h));
    const __m256d l = _mm256_min_pd(l0, l1);
    __m128d g = _mm_min_pd(_mm256_castpd256_pd128(l), _mm256_extractf128_pd(l, 1));
    g = _mm_min_sd(g, _mm_unpackhi_pd(g, g));
    const double v = _mm_cvtsd_f64(h), w = _mm_cvtsd_f64(g);
    *least = w < low ? w : low;
    return v > r ? v : r;
}

static double sf_f64_rmax__avx2(const double *x, ptrdiff_t n, double scale, double *least) {
    return scale == 1.0 ? sf_f64_rmax_impl__avx2(x, n, scale, 1, least)
                        : sf_f64_rmax_impl__avx2(x, n, scale, 0, least);
}

/* The folded sum (the AVX-512 kernel's SF_EXP_FOLDED for sums, in its own lanes): exp(v) c with
 * c the float nearest 2^64 exp(-shift) folded into the polynomial's coefficients, reduced from v
 * itself, an exact input, so that v - shift and its error are not taken at all (4 operations of
 * 20 a vector). The terms of v == shift are counted apart, as the unfolded pass counts its
 * 1s, and the sum goes back to `shift` in double (`unbias`). The power of two is built from
 * its bits, which bounds n to [-126, 127]: this admits only rows whose v all lie in [-87, 87]
 * and within 80 of the shift (every term then normal, none clamped), every N(0, 10) row of
 * logits among them. */
#define SF_F32_FOLD_MIN_SUMMED_AVX2 768 /* shorter rows: the exp in double costs more than it saves */
SF_INLINE int sf_f32_fold_fits__avx2(float shift, float least, ptrdiff_t n) {
    return n >= SF_F32_FOLD_MIN_SUMMED_AVX2 && shift >= -40.0f && shift <= 87.0f &&
           least >= -87.0f && least - shift >= -80.0f;
}

/* `least`: the row's least scale*x (sf_f32_rmax__avx2), which picks the exact difference and
 * tells whether any d = scale*x - shift lies below the floor (only then the clamp). One thread,
 * (32, 1000) float32, unit scale and no clamp: log_softmax 15.7 -> 14.0 us, softmax 17.0 -> 15.5
 * us. */
static double sf_f32_raddexp__avx2(const float *x, float *y, ptrdiff_t n, float scale,
                                   float shift, float least, const float *next, double *rest,
                                   double *eff) {
    (void)eff; /* the terms are relative to `shift` itself */
    if (!y && sf_f32_fold_fits__avx2(shift, least, n)) {
        const double exact = ldexp(exp(-(double)shift), F32_EXP_BIAS);
        const float c = (float)exact;
        const double unbias = (double)F32_EXP_UNBIAS / (1.0 + ((double)c - exact) / exact);
#define SF_CALL_FOLDED(unit)                                                                      \
    sf_f32_raddexp_impl__avx2(x, NULL, n, scale, shift, next, 0, SF_DIFF_TWOSUM_NEAR, unit, 0, 1, \
                              c, unbias, rest)
        return scale == 1.0f ? SF_CALL_FOLDED(1) : SF_CALL_FOLDED(0);
#undef SF_CALL_FOLDED
    }
    const int clamp = !((double)least - (double)shift >= (double)F32_EXP_FLOOR);
#define SF_CALL_UC(form, unit, clamp)                                                             \
    (y ? sf_f32_raddexp_impl__avx2(x, y, n, scale, shift, next, 1, form, unit, clamp, 0, 1.0f,    \
                                   (double)F32_EXP_UNBIAS, NULL)                                  \
       : sf_f32_raddexp_impl__avx2(x, NULL, n, scale, shift, next, 0, form, unit, clamp, 0, 1.0f, \
                                   (double)F32_EXP_UNBIAS, rest))
#define SF_CALL(form)                                                                             \
    (form == SF_DIFF_TWOSUM || clamp                                                              \
         ? (scale == 1.0f ? SF_CALL_UC(form, 1, 1) : SF_CALL_UC(form, 0, 1))                      \
         : (scale == 1.0f ? SF_CALL_UC(form, 1, 0) : SF_CALL_UC(form, 0, 0)))
    SF_RETURN_BY_DIFF_FORM(sf_diff_form(shift, least, 0), SF_CALL);
#undef SF_CALL
#undef SF_CALL_UC
}

/* ---- the rescale (three-pass softmax's write pass) ---- */

/* y = t (hi + lo) for biased terms t, the factor taken pre-scaled by 2^126 as on AVX-512
 * (sf_f32_apply_factor__avx512, where the reasons are): fma(t, hi 2^126, t lo 2^126) 2^-126,
 * whose products stay normal, and a denormal output rounded from the scaled value by an integer
 * conversion (its bit pattern at 2^-149) instead of a denormal multiply. Each denormal result
 * or operand costs a microcode assist: 64 x 2048 rows with a tenth of their entries 90 below
 * the max took 6.4x a plain row's time through the portable fma(t, hi, t * lo). The same bits as
 * the AVX-512 kernel. */
SF_INLINE __m256 sf_f32_scaled_product8__avx2(__m256 t, __m256 hs, __m256 ls) {
    return _mm256_fmadd_ps(t, hs, _mm256_mul_ps(t, ls));
}

/* ys 2^-126 for lanes where ys < 1 may hold (the caller's test): those by their bit pattern */
SF_INLINE __m256 sf_f32_unscale_tiny8__avx2(__m256 ys) {
    const __m256 one = _mm256_set1_ps(1.0f), down = _mm256_set1_ps(0x1p-126f);
    /* 0 < ys < 1; exact zeros (the terms of -inf, masked entries) multiply as they are */
    const __m256 tiny = _mm256_and_ps(_mm256_cmp_ps(ys, one, _CMP_LT_OQ),
                                      _mm256_cmp_ps(ys, _mm256_setzero_ps(), _CMP_GT_OQ));
    if (_mm256_movemask_ps(tiny) == 0) return _mm256_mul_ps(ys, down);
    const __m256 den =
        _mm256_castsi256_ps(_mm256_cvtps_epi32(_mm256_mul_ps(ys, _mm256_set1_ps(0x1p23f))));
    /* the other lanes multiplied with the tiny ones' ys replaced by 1: no denormal product */
    return _mm256_blendv_ps(_mm256_mul_ps(_mm256_blendv_ps(ys, one, tiny), down), den, tiny);
}

SF_INLINE __m256 sf_f32_apply_factor8__avx2(__m256 t, __m256 hs, __m256 ls) {
    return sf_f32_unscale_tiny8__avx2(sf_f32_scaled_product8__avx2(t, hs, ls));
}

/* y = src * (hi + lo), src holding biased terms (FN(rescale)'s FAST_RESCALE) */
static void sf_f32_store_scaled__avx2(const float *src, float *y, ptrdiff_t n, float hi,
                                      float lo, int stream) {
    if (stream) { /* chunks through the stack to the streaming copy, as the portable rescale */
        float tmp[1024];
        for (ptrdiff_t i = 0; i < n; i += 1024) {
            const ptrdiff_t len = n - i < 1024 ? n - i : 1024;
            sf_f32_store_scaled__avx2(src + i, tmp, len, hi, lo, 0);
            sf_stream_copy(tmp, y + i, (size_t)len * sizeof(float));
        }
        return;
    }
    const __m256 hs = _mm256_set1_ps(hi * 0x1p126f), ls = _mm256_set1_ps(lo * 0x1p126f);
    ptrdiff_t i = 0;
    const __m256 one = _mm256_set1_ps(1.0f), down = _mm256_set1_ps(0x1p-126f);
    for (; i + 32 <= n; i += 32) { /* one test for 32 lanes: any ys < 1 (zeros too) */
        const __m256 y0 = sf_f32_scaled_product8__avx2(_mm256_loadu_ps(src + i), hs, ls);
        const __m256 y1 = sf_f32_scaled_product8__avx2(_mm256_loadu_ps(src + i + 8), hs, ls);
        const __m256 y2 = sf_f32_scaled_product8__avx2(_mm256_loadu_ps(src + i + 16), hs, ls);
        const __m256 y3 = sf_f32_scaled_product8__avx2(_mm256_loadu_ps(src + i + 24), hs, ls);
        const __m256 low = _mm256_or_ps(
            _mm256_or_ps(_mm256_cmp_ps(y0, one, _CMP_LT_OQ), _mm256_cmp_ps(y1, one, _CMP_LT_OQ)),
            _mm256_or_ps(_mm256_cmp_ps(y2, one, _CMP_LT_OQ), _mm256_cmp_ps(y3, one, _CMP_LT_OQ)));
        if (__builtin_expect(_mm256_movemask_ps(low) == 0, 1)) {
            _mm256_storeu_ps(y + i, _mm256_mul_ps(y0, down));
            _mm256_storeu_ps(y + i + 8, _mm256_mul_ps(y1, down));
            _mm256_storeu_ps(y + i + 16, _mm256_mul_ps(y2, down));
            _mm256_storeu_ps(y + i + 24, _mm256_mul_ps(y3, down));
        } else {
            _mm256_storeu_ps(y + i, sf_f32_unscale_tiny8__avx2(y0));
            _mm256_storeu_ps(y + i + 8, sf_f32_unscale_tiny8__avx2(y1));
            _mm256_storeu_ps(y + i + 16, sf_f32_unscale_tiny8__avx2(y2));
            _mm256_storeu_ps(y + i + 24, sf_f32_unscale_tiny8__avx2(y3));
        }
    }
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, sf_f32_apply_factor8__avx2(_mm256_loadu_ps(src + i), hs, ls));
    if (i < n) { /* the last 1..7 through a lane array (zeros beyond: no assist, no fault) */
        float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        memcpy(lane, src + i, (size_t)(n - i) * sizeof(float));
        _mm256_storeu_ps(lane, sf_f32_apply_factor8__avx2(_mm256_loadu_ps(lane), hs, ls));
        memcpy(y + i, lane, (size_t)(n - i) * sizeof(float));
    }
}

/* y = (scale*x - max) - log_sum in float (FN(write_log_softmax)'s FAST_WRITE_LOG): both terms
 * are <= 0, so there is no cancellation, and the operations are the AVX-512 kernel's, hence
 * its bits. The portable pass it replaces goes through double (one rounding instead of two,
 * within the same bound) and took a quarter of a (32, 1000) log_softmax here: 5.4 of 20.3 us. */
static void sf_f32_write_log__avx2(const float *x, float *y, ptrdiff_t n, float scale,
                                   float max, float log_sum, float log_lo, int stream) {
    (void)log_lo; /* beyond float32 */
    if (stream) { /* chunks through the stack to the streaming copy, as the rescale */
        float tmp[1024];
        for (ptrdiff_t i = 0; i < n; i += 1024) {
            const ptrdiff_t len = n - i < 1024 ? n - i : 1024;
            sf_f32_write_log__avx2(x + i, tmp, len, scale, max, log_sum, log_lo, 0);
            sf_stream_copy(tmp, y + i, (size_t)len * sizeof(float));
        }
        return;
    }
    const __m256 vs = _mm256_set1_ps(scale), vm = _mm256_set1_ps(max);
    const __m256 vl = _mm256_set1_ps(log_sum);
    const int unit = scale == 1.0f; /* scale*x exact: the multiply is skipped */
#define SF_OP8(v) _mm256_sub_ps(_mm256_sub_ps(unit ? (v) : _mm256_mul_ps((v), vs), vm), vl)
    ptrdiff_t i = 0;
    for (; i + 32 <= n; i += 32) {
        _mm256_storeu_ps(y + i, SF_OP8(_mm256_loadu_ps(x + i)));
        _mm256_storeu_ps(y + i + 8, SF_OP8(_mm256_loadu_ps(x + i + 8)));
        _mm256_storeu_ps(y + i + 16, SF_OP8(_mm256_loadu_ps(x + i + 16)));
        _mm256_storeu_ps(y + i + 24, SF_OP8(_mm256_loadu_ps(x + i + 24)));
    }
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, SF_OP8(_mm256_loadu_ps(x + i)));
    if (i < n) { /* the last 1..7 through a lane array */
        float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        memcpy(lane, x + i, (size_t)(n - i) * sizeof(float));
        _mm256_storeu_ps(lane, SF_OP8(_mm256_loadu_ps(lane)));
        memcpy(y + i, lane, (size_t)(n - i) * sizeof(float));
    }
#undef SF_OP8
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

/* ------------------------------------------------------------------------------------------ */
/* sigmoid and log_sigmoid: the algorithms of sigmoid_portable.h (each dtype in its own
 * precision, exp biased so that tiny results round once, sums kept exact) with the division
 * replaced by vrcpps and Newton steps (no vdivps / vdivpd), masked loads and stores for the
 * tail. */

/* exp(d) * 2^64 for d <= 0 or NaN, exactly 0 at and below F32_EXP_FLOOR (2^(n + 64) is then
 * built from all-zero bits), as f32_exp_biased */
SF_INLINE __m256 sf_f32_exp_biased8__avx2(__m256 d) {
    d = _mm256_max_ps(_mm256_set1_ps(F32_EXP_FLOOR), d); /* returns d when d is NaN */
    const __m256 magic = _mm256_set1_ps(F32_ROUND_MAGIC), one = _mm256_set1_ps(1.0f);
    const __m256 n = _mm256_sub_ps(_mm256_fmadd_ps(d, _mm256_set1_ps(F32_LOG2E), magic), magic);
    const __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(F32_LN2_LO),
                                      _mm256_fnmadd_ps(n, _mm256_set1_ps(F32_LN2_HI), d));
    __m256 p = _mm256_fmadd_ps(_mm256_set1_ps(F32_EXP_C6), r, _mm256_set1_ps(F32_EXP_C5));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(F32_EXP_C4));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(F32_EXP_C3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(F32_EXP_C2));
    p = _mm256_fmadd_ps(p, r, one);
    p = _mm256_fmadd_ps(p, r, one);
    const __m256i k = _mm256_slli_epi32(
        _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127 + F32_EXP_BIAS)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(k));
}

/* exp(d) * 2^128 for d <= 0 or NaN, exactly 0 at and below F64_EXP_FLOOR, as f64_exp_biased */
SF_INLINE __m256d sf_f64_exp_biased4__avx2(__m256d d) {
    d = _mm256_max_pd(_mm256_set1_pd(F64_EXP_FLOOR), d);
    const __m256d magic = _mm256_set1_pd(F64_ROUND_MAGIC), one = _mm256_set1_pd(1.0);
    const __m256d n = _mm256_sub_pd(_mm256_fmadd_pd(d, _mm256_set1_pd(F64_LOG2E), magic), magic);
    const __m256d r = _mm256_fnmadd_pd(n, _mm256_set1_pd(F64_LN2_LO),
                                       _mm256_fnmadd_pd(n, _mm256_set1_pd(F64_LN2_HI), d));
    __m256d p = _mm256_fmadd_pd(_mm256_set1_pd(F64_EXP_C11), r, _mm256_set1_pd(F64_EXP_C10));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(F64_EXP_C9));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(F64_EXP_C8));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(F64_EXP_C7));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(F64_EXP_C6));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(F64_EXP_C5));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(F64_EXP_C4));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(F64_EXP_C3));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(F64_EXP_C2));
    p = _mm256_fmadd_pd(p, r, one);
    p = _mm256_fmadd_pd(p, r, one);
    const __m256i k = _mm256_slli_epi64(
        _mm256_add_epi64(_mm256_cvtepi32_epi64(_mm256_cvtpd_epi32(n)),
                         _mm256_set1_epi64x(1023 + F64_EXP_BIAS)), 52);
    return _mm256_mul_pd(p, _mm256_castsi256_pd(k));
}

/* A log_softmax row's rest taken again (kernels_portable.inc, FN(rest_exact); the contract of
 * the AVX-512 versions): the terms of the values v >= low in higher precision, 8 values a
 * step, the steps holding none skipped (a row of logits keeps a few near its max). float32:
 * v - m exact in double, the float64 exp, summed in double lanes. float64: v - m exact
 * (TwoSum), the exp's result as an unrounded pair (f64_exp_term_exact's steps), summed
 * compensated. Through the portable versions (auto-vectorized) the rest pass took 32 rows
 * of 1000 of N(0, 1) x 30 float32 log_softmax from 23 to 64 us; through these to 31 us. */
SF_INLINE __m256d sf_f32_rest_terms4__avx2(__m256d vd, __m256d md, __m256d lowd, __m256d *ones) {
    const __m256d one = _mm256_cmp_pd(vd, md, _CMP_EQ_OQ);
    *ones = _mm256_sub_pd(*ones, _mm256_and_pd(one, _mm256_set1_pd(-1.0)));
    const __m256d live = _mm256_andnot_pd(one, _mm256_cmp_pd(vd, lowd, _CMP_GE_OQ));
    return _mm256_and_pd(live, sf_f64_exp_biased4__avx2(_mm256_sub_pd(vd, md)));
}

static double sf_f32_rest_exact_row__avx2(const float *x, ptrdiff_t n, float scale, float m,
                                          float low) {
    const __m256 vs = _mm256_set1_ps(scale), vlow = _mm256_set1_ps(low);
    const __m256d md = _mm256_set1_pd((double)m), lowd = _mm256_set1_pd((double)low);
    __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
    __m256d ones = _mm256_setzero_pd();
    for (ptrdiff_t i = 0; i < n; i += 8) {
        __m256 v;
        if (n - i >= 8) {
            v = _mm256_mul_ps(_mm256_loadu_ps(x + i), vs);
        } else { /* the tail, padded with -inf (below low: no term) */
            float t[8];
            for (int j = 0; j < 8; j++) t[j] = i + j < n ? x[i + j] * scale : -INFINITY;
            v = _mm256_loadu_ps(t);
        }
        if (!_mm256_movemask_ps(_mm256_cmp_ps(v, vlow, _CMP_GE_OQ))) continue;
        a0 = _mm256_add_pd(a0, sf_f32_rest_terms4__avx2(_mm256_cvtps_pd(_mm256_castps256_ps128(v)),
                                                         md, lowd, &ones));
        a1 = _mm256_add_pd(a1, sf_f32_rest_terms4__avx2(_mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)),
                                                         md, lowd, &ones));
    }
    double a[4], c[4];
    _mm256_storeu_pd(a, _mm256_add_pd(a0, a1));
    _mm256_storeu_pd(c, ones);
    return ((c[0] + c[1] + c[2] + c[3]) - 1.0) + ((a[0] + a[1]) + (a[2] + a[3])) * F64_EXP_UNBIAS;
}

SF_INLINE __m256d sf_f64_two_diff4__avx2(__m256d a, __m256d b, __m256d *lo) {
    const __m256d hi = _mm256_sub_pd(a, b);
    const __m256d bv = _mm256_sub_pd(hi, a);
    *lo = _mm256_sub_pd(_mm256_sub_pd(a, _mm256_sub_pd(hi, bv)), _mm256_add_pd(b, bv));
    return hi;
}

static double sf_f64_rest_exact_row__avx2(const double *x, ptrdiff_t n, double scale, double m,
                                          double low) {
    const __m256d vs = _mm256_set1_pd(scale), vm = _mm256_set1_pd(m), vlow = _mm256_set1_pd(low);
    const __m256d one_v = _mm256_set1_pd(1.0), magic = _mm256_set1_pd(F64_ROUND_MAGIC);
    __m256d hi = _mm256_setzero_pd(), lo = _mm256_setzero_pd(), ones = _mm256_setzero_pd();
    for (ptrdiff_t i = 0; i < n; i += 4) {
        __m256d v;
        if (n - i >= 4) {
            v = _mm256_mul_pd(_mm256_loadu_pd(x + i), vs);
        } else {
            double t[4];
            for (int j = 0; j < 4; j++) t[j] = i + j < n ? x[i + j] * scale : -INFINITY;
            v = _mm256_loadu_pd(t);
        }
        const __m256d keep = _mm256_cmp_pd(v, vlow, _CMP_GE_OQ);
        if (!_mm256_movemask_pd(keep)) continue;
        const __m256d one = _mm256_cmp_pd(v, vm, _CMP_EQ_OQ);
        ones = _mm256_sub_pd(ones, _mm256_and_pd(one, _mm256_set1_pd(-1.0)));
        __m256d dl;
        __m256d d = sf_f64_two_diff4__avx2(v, vm, &dl);
        /* at and below the floor a term is nothing beside the max's */
        const __m256d live = _mm256_and_pd(_mm256_andnot_pd(one, keep),
                                           _mm256_cmp_pd(d, _mm256_set1_pd(F64_EXP_FLOOR), _CMP_GT_OQ));
        d = _mm256_and_pd(live, d); /* dead lanes: d = 0, dl = 0 (finite steps, then dropped) */
        dl = _mm256_and_pd(live, dl);
        const __m256d nf = _mm256_sub_pd(_mm256_fmadd_pd(d, _mm256_set1_pd(F64_LOG2E), magic), magic);
        const __m256d r1 = _mm256_fnmadd_pd(nf, _mm256_set1_pd(F64_LN2_HI), d);
        const __m256d nl = _mm256_mul_pd(nf, _mm256_set1_pd(F64_LN2_LO));
        const __m256d rh = _mm256_sub_pd(r1, nl);
        const __m256d rl = _mm256_add_pd(_mm256_sub_pd(_mm256_sub_pd(r1, rh), nl), dl);
        __m256d q = _mm256_fmadd_pd(_mm256_set1_pd(F64_EXP_C11), rh, _mm256_set1_pd(F64_EXP_C10));
        q = _mm256_fmadd_pd(q, rh, _mm256_set1_pd(F64_EXP_C9));
        q = _mm256_fmadd_pd(q, rh, _mm256_set1_pd(F64_EXP_C8));
        q = _mm256_fmadd_pd(q, rh, _mm256_set1_pd(F64_EXP_C7));
        q = _mm256_fmadd_pd(q, rh, _mm256_set1_pd(F64_EXP_C6));
        q = _mm256_fmadd_pd(q, rh, _mm256_set1_pd(F64_EXP_C5));
        q = _mm256_fmadd_pd(q, rh, _mm256_set1_pd(F64_EXP_C4));
        q = _mm256_fmadd_pd(q, rh, _mm256_set1_pd(F64_EXP_C3));
        q = _mm256_fmadd_pd(q, rh, _mm256_set1_pd(F64_EXP_C2));
        const __m256d t = _mm256_mul_pd(_mm256_mul_pd(q, rh), rh);
        const __m256d sv = _mm256_add_pd(one_v, rh);
        const __m256d e = _mm256_add_pd(_mm256_sub_pd(one_v, sv), rh);
        const __m256d a = _mm256_fmadd_pd(rl, _mm256_add_pd(sv, t), t);
        const __m256d c = _mm256_add_pd(e, a);
        const __m256d ph = _mm256_add_pd(sv, c);
        const __m256d pl = _mm256_sub_pd(c, _mm256_sub_pd(ph, sv));
        /* 2^(n + 128) from its bits (n + 1023 + 128 >= 0 above the floor; at 0 the bits give
         * +0.0, for a term below 2^-1150 of the max's anyway) */
        const __m256d k = _mm256_castsi256_pd(_mm256_slli_epi64(
            _mm256_add_epi64(_mm256_cvtepi32_epi64(_mm256_cvtpd_epi32(nf)),
                             _mm256_set1_epi64x(1023 + F64_EXP_BIAS)), 52));
        const __m256d th = _mm256_and_pd(live, _mm256_mul_pd(ph, k));
        const __m256d tl = _mm256_and_pd(live, _mm256_mul_pd(pl, k));
        __m256d err;
        hi = sf_f64_two_diff4__avx2(hi, _mm256_sub_pd(_mm256_setzero_pd(), th), &err);
        lo = _mm256_add_pd(lo, _mm256_add_pd(err, tl));
    }
    double h[4], l[4], c[4], sh = 0.0, sl = 0.0;
    _mm256_storeu_pd(h, hi);
    _mm256_storeu_pd(l, lo);
    _mm256_storeu_pd(c, ones);
    for (int j = 0; j < 4; j++) {
        sf_acc_add(&sh, &sl, h[j]);
        sl += l[j];
    }
    return ((c[0] + c[1] + c[2] + c[3]) - 1.0) + (sh + sl) * F64_EXP_UNBIAS;
}

/* (num + numlo) / (den + denlo), den in [1, 2.5]: 1/den from vrcpps (2^-12) and two Newton
 * steps (to the float's precision: where num is 0, in log1p of a tiny t, the quotient is
 * numlo * r alone), then the residual step: 0.5 ulp + a small fraction of an ulp */
SF_INLINE __m256 sf_f32_div_refined8__avx2(__m256 num, __m256 numlo, __m256 den, __m256 denlo) {
    __m256 r = _mm256_rcp_ps(den);
    r = _mm256_fmadd_ps(r, _mm256_fnmadd_ps(den, r, _mm256_set1_ps(1.0f)), r);
    r = _mm256_fmadd_ps(r, _mm256_fnmadd_ps(den, r, _mm256_set1_ps(1.0f)), r);
    const __m256 q0 = _mm256_mul_ps(num, r);
    const __m256 res = _mm256_add_ps(
        _mm256_fnmadd_ps(q0, denlo, _mm256_fnmadd_ps(q0, den, num)), numlo);
    return _mm256_fmadd_ps(res, r, q0);
}

/* the sigmoid's quotient: num is 0 only where the result is, so q0 = num * r carries the value
 * and one Newton step less suffices (the residual step leaves 2^-46 relative) */
SF_INLINE __m256 sf_f32_div8__avx2(__m256 num, __m256 numlo, __m256 den, __m256 denlo) {
    __m256 r = _mm256_rcp_ps(den);
    r = _mm256_fmadd_ps(r, _mm256_fnmadd_ps(den, r, _mm256_set1_ps(1.0f)), r);
    const __m256 q0 = _mm256_mul_ps(num, r);
    const __m256 res = _mm256_add_ps(
        _mm256_fnmadd_ps(q0, denlo, _mm256_fnmadd_ps(q0, den, num)), numlo);
    return _mm256_fmadd_ps(res, r, q0);
}

SF_INLINE __m256d sf_f64_div4__avx2(__m256d num, __m256d numlo, __m256d den, __m256d denlo) {
    const __m256d one = _mm256_set1_pd(1.0);
    __m256d r = _mm256_cvtps_pd(_mm_rcp_ps(_mm256_cvtpd_ps(den)));
    r = _mm256_fmadd_pd(r, _mm256_fnmadd_pd(den, r, one), r);
    r = _mm256_fmadd_pd(r, _mm256_fnmadd_pd(den, r, one), r);
    const __m256d q0 = _mm256_mul_pd(num, r);
    const __m256d res = _mm256_add_pd(
        _mm256_fnmadd_pd(q0, denlo, _mm256_fnmadd_pd(q0, den, num)), numlo);
    return _mm256_fmadd_pd(res, r, q0);
}

/* float64: vrcpps of the rounded den and three Newton steps (to the double's precision, see
 * above), then the residual step */
SF_INLINE __m256d sf_f64_div_refined4__avx2(__m256d num, __m256d numlo, __m256d den,
                                            __m256d denlo) {
    const __m256d one = _mm256_set1_pd(1.0);
    __m256d r = _mm256_cvtps_pd(_mm_rcp_ps(_mm256_cvtpd_ps(den)));
    r = _mm256_fmadd_pd(r, _mm256_fnmadd_pd(den, r, one), r);
    r = _mm256_fmadd_pd(r, _mm256_fnmadd_pd(den, r, one), r);
    r = _mm256_fmadd_pd(r, _mm256_fnmadd_pd(den, r, one), r);
    const __m256d q0 = _mm256_mul_pd(num, r);
    const __m256d res = _mm256_add_pd(
        _mm256_fnmadd_pd(q0, denlo, _mm256_fnmadd_pd(q0, den, num)), numlo);
    return _mm256_fmadd_pd(res, r, q0);
}

/* sigmoid and log_sigmoid of one vector, for both dtypes: V the vector type, sfx ps or pd,
 * EXPB the biased exp, DIV the refined division, BIAS / UNBIAS 2^64 / 2^-64 (float32) or
 * 2^128 / 2^-128 (float64) */
#define SF_SIGMOID_BODY__AVX2(V, sfx, EXPB, DIV, BIAS, UNBIAS, x)                                 \
    do {                                                                                          \
        const V one_ = _mm256_set1_##sfx(1.0), unb_ = _mm256_set1_##sfx(UNBIAS);                 \
        const V eb_ = EXPB(_mm256_or_##sfx(x, _mm256_set1_##sfx(-0.0)));                         \
        const V e_ = _mm256_mul_##sfx(eb_, unb_);                                                 \
        const V s_ = _mm256_add_##sfx(one_, e_);                                                  \
        const V c_ = _mm256_add_##sfx(_mm256_sub_##sfx(one_, s_), e_);                           \
        const V pos_ = _mm256_cmp_##sfx(x, _mm256_setzero_##sfx(), _CMP_GE_OQ);                 \
        const V num_ = _mm256_blendv_##sfx(eb_, _mm256_set1_##sfx(BIAS), pos_);                 \
        return _mm256_mul_##sfx(DIV(num_, _mm256_setzero_##sfx(), s_, c_), unb_);               \
    } while (0)

/* log1p of the series (float32: to z^5 / 11; float64: to z^11 / 23) via SERIES(z) = q, then
 * a - khi - mid - low with two TwoSums, as sf_log_sigmoid_d */
#define SF_LOG_SIGMOID_BODY__AVX2(V, sfx, EXPB, DIV, UNBIAS, SQRT2, LN2HI, LN2LO, SERIES, x)      \
    do {                                                                                          \
        const V one_ = _mm256_set1_##sfx(1.0), two_ = _mm256_set1_##sfx(2.0);                   \
        const V tb_ = EXPB(_mm256_or_##sfx(x, _mm256_set1_##sfx(-0.0)));                         \
        const V t_ = _mm256_mul_##sfx(tb_, _mm256_set1_##sfx(UNBIAS));                           \
        const V u_ = _mm256_add_##sfx(one_, t_);                                                  \
        const V c_ = _mm256_add_##sfx(_mm256_sub_##sfx(one_, u_), t_);                           \
        const V big_ = _mm256_cmp_##sfx(u_, _mm256_set1_##sfx(SQRT2), _CMP_GT_OQ);              \
        const V sc_ = _mm256_blendv_##sfx(one_, _mm256_set1_##sfx(0.5), big_);                  \
        const V m_ = _mm256_mul_##sfx(u_, sc_), cm_ = _mm256_mul_##sfx(c_, sc_);                 \
        const V f_ = _mm256_sub_##sfx(m_, one_);                                                  \
        const V d_ = _mm256_add_##sfx(two_, f_);                                                  \
        const V dc_ = _mm256_add_##sfx(_mm256_sub_##sfx(two_, d_), f_);                          \
        const V s_ = DIV(f_, cm_, d_, _mm256_add_##sfx(dc_, cm_));                                \
        const V z_ = _mm256_mul_##sfx(s_, s_);                                                    \
        const V q_ = SERIES(z_);                                                                  \
        const V khi_ = _mm256_and_##sfx(big_, _mm256_set1_##sfx(LN2HI));                         \
        const V mid_ = _mm256_mul_##sfx(two_, s_);                                                \
        const V low_ = _mm256_add_##sfx(_mm256_mul_##sfx(mid_, _mm256_mul_##sfx(z_, q_)),        \
                                        _mm256_and_##sfx(big_, _mm256_set1_##sfx(LN2LO)));       \
        const V a_ = _mm256_min_##sfx(x, _mm256_setzero_##sfx()); /* NaN x: t is NaN */         \
        const V s1_ = _mm256_sub_##sfx(a_, khi_), b1_ = _mm256_sub_##sfx(s1_, a_);               \
        const V e1_ = _mm256_sub_##sfx(_mm256_sub_##sfx(a_, _mm256_sub_##sfx(s1_, b1_)),         \
                                       _mm256_add_##sfx(khi_, b1_));                             \
        const V s2_ = _mm256_sub_##sfx(s1_, mid_), b2_ = _mm256_sub_##sfx(s2_, s1_);             \
        const V e2_ = _mm256_sub_##sfx(_mm256_sub_##sfx(s1_, _mm256_sub_##sfx(s2_, b2_)),       \
                                       _mm256_add_##sfx(mid_, b2_));                             \
        const V r_ = _mm256_add_##sfx(s2_, _mm256_sub_##sfx(_mm256_add_##sfx(e1_, e2_), low_));  \
        /* x = -inf: s2 is -inf and the TwoSum errors NaN */                                     \
        const V ninf_ = _mm256_cmp_##sfx(s2_, _mm256_set1_##sfx(-INFINITY), _CMP_EQ_OQ);        \
        return _mm256_blendv_##sfx(r_, s2_, ninf_);                                               \
    } while (0)

SF_INLINE __m256 sf_f32_series8__avx2(__m256 z) {
    __m256 q = _mm256_fmadd_ps(_mm256_set1_ps(1.0f / 11), z, _mm256_set1_ps(1.0f / 9));
    q = _mm256_fmadd_ps(q, z, _mm256_set1_ps(1.0f / 7));
    q = _mm256_fmadd_ps(q, z, _mm256_set1_ps(1.0f / 5));
    return _mm256_fmadd_ps(q, z, _mm256_set1_ps(1.0f / 3));
}

SF_INLINE __m256d sf_f64_series4__avx2(__m256d z) {
    __m256d q = _mm256_fmadd_pd(_mm256_set1_pd(1.0 / 23), z, _mm256_set1_pd(1.0 / 21));
    q = _mm256_fmadd_pd(q, z, _mm256_set1_pd(1.0 / 19));
    q = _mm256_fmadd_pd(q, z, _mm256_set1_pd(1.0 / 17));
    q = _mm256_fmadd_pd(q, z, _mm256_set1_pd(1.0 / 15));
    q = _mm256_fmadd_pd(q, z, _mm256_set1_pd(1.0 / 13));
    q = _mm256_fmadd_pd(q, z, _mm256_set1_pd(1.0 / 11));
    q = _mm256_fmadd_pd(q, z, _mm256_set1_pd(1.0 / 9));
    q = _mm256_fmadd_pd(q, z, _mm256_set1_pd(1.0 / 7));
    q = _mm256_fmadd_pd(q, z, _mm256_set1_pd(1.0 / 5));
    return _mm256_fmadd_pd(q, z, _mm256_set1_pd(1.0 / 3));
}

SF_INLINE __m256 sf_f32_sigmoid8__avx2(__m256 x) {
    SF_SIGMOID_BODY__AVX2(__m256, ps, sf_f32_exp_biased8__avx2, sf_f32_div8__avx2,
                          0x1p64f, 0x1p-64f, x);
}
SF_INLINE __m256 sf_f32_log_sigmoid8__avx2(__m256 x) {
    SF_LOG_SIGMOID_BODY__AVX2(__m256, ps, sf_f32_exp_biased8__avx2, sf_f32_div_refined8__avx2,
                              0x1p-64f, 1.41421356f, SF_LN2_HIF, SF_LN2_LOF,
                              sf_f32_series8__avx2, x);
}
SF_INLINE __m256d sf_f64_sigmoid4__avx2(__m256d x) {
    SF_SIGMOID_BODY__AVX2(__m256d, pd, sf_f64_exp_biased4__avx2, sf_f64_div4__avx2,
                          SF_2P128, SF_2M128, x);
}
SF_INLINE __m256d sf_f64_log_sigmoid4__avx2(__m256d x) {
    SF_LOG_SIGMOID_BODY__AVX2(__m256d, pd, sf_f64_exp_biased4__avx2, sf_f64_div_refined4__avx2,
                              SF_2M128, 1.4142135623730951, SF_LN2_HI, SF_LN2_LO,
                              sf_f64_series4__avx2, x);
}
#undef SF_SIGMOID_BODY__AVX2
#undef SF_LOG_SIGMOID_BODY__AVX2

/* two vectors an iteration; the tail with vmaskmov (masked-off lanes neither read nor written) */
#define SF_ELEMENTWISE_LOOP__AVX2(name, T, V, W, sfx, MASKT, body)                                \
    static void name(const T *x, T *y, ptrdiff_t n) {                                             \
        ptrdiff_t i = 0;                                                                          \
        for (; i + 2 * (W) <= n; i += 2 * (W)) {                                                  \
            const V a_ = body(_mm256_loadu_##sfx(x + i));                                         \
            const V b_ = body(_mm256_loadu_##sfx(x + i + (W)));                                   \
            _mm256_storeu_##sfx(y + i, a_);                                                       \
            _mm256_storeu_##sfx(y + i + (W), b_);                                                 \
        }                                                                                         \
        for (; i < n; i += (W)) {                                                                 \
            const ptrdiff_t rem_ = n - i;                                                         \
            MASKT lanes_[W];                                                                      \
            for (int j = 0; j < (W); j++) lanes_[j] = j < rem_ ? -1 : 0;                          \
            const __m256i k_ = _mm256_loadu_si256((const __m256i *)lanes_);                      \
            _mm256_maskstore_##sfx(y + i, k_, body(_mm256_maskload_##sfx(x + i, k_)));            \
        }                                                                                         \
    }
SF_ELEMENTWISE_LOOP__AVX2(sf_f32_sigmoid__avx2, float, __m256, 8, ps, int32_t,
                          sf_f32_sigmoid8__avx2)
SF_ELEMENTWISE_LOOP__AVX2(sf_f32_log_sigmoid__avx2, float, __m256, 8, ps, int32_t,
                          sf_f32_log_sigmoid8__avx2)
SF_ELEMENTWISE_LOOP__AVX2(sf_f64_sigmoid__avx2, double, __m256d, 4, pd, int64_t,
                          sf_f64_sigmoid4__avx2)
SF_ELEMENTWISE_LOOP__AVX2(sf_f64_log_sigmoid__avx2, double, __m256d, 4, pd, int64_t,
                          sf_f64_log_sigmoid4__avx2)
#undef SF_ELEMENTWISE_LOOP__AVX2
#define SF_F32_SIGMOID sf_f32_sigmoid__avx2
#define SF_F32_LOG_SIGMOID sf_f32_log_sigmoid__avx2
#define SF_F64_SIGMOID sf_f64_sigmoid__avx2
#define SF_F64_LOG_SIGMOID sf_f64_log_sigmoid__avx2

#define SF_HALF_F16_IN sf_f16_to_f32__avx2
#define SF_HALF_F16_OUT sf_f32_to_f16__avx2
#define SF_HALF_BF16_IN sf_bf16_to_f32__avx2
#define SF_HALF_BF16_OUT sf_f32_to_bf16__avx2

#define SF_ISA avx2
#define SF_LANES_F32 32 /* four 8-float vectors: independent accumulators hide FP latency */
#define SF_LANES_F64 16
#define SF_F32_RMAX sf_f32_rmax__avx2
#define SF_F32_REST_EXACT sf_f32_rest_exact_row__avx2
#define SF_F64_REST_EXACT sf_f64_rest_exact_row__avx2
#define SF_F32_RADDEXP sf_f32_raddexp__avx2
#define SF_F32_RESCALE sf_f32_store_scaled__avx2
#define SF_F32_WRITE_LOG sf_f32_write_log__avx2
#define SF_F64_RMAX sf_f64_rmax__avx2
#include "kernels_portable.h"
#if defined(__clang__)
#pragma clang attribute pop
#endif
#endif
