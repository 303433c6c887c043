/*
 * AVX-512 (F, DQ, BW, VL) kernels. Target set for this file only; dispatch.c calls into this
 * table only after CPUID and XGETBV confirmed the CPU has AVX-512 and the OS saves ZMM state.
 *
 * The table is the portable source built for this target (512-bit vectors preferred), with the
 * hot primitives hand-written for both dtypes: the row max, the exp-sum pass, and the write
 * passes. Measured on a 4096-long float32 row: the portable build's max + exp-sum-store takes
 * 0.274 ns/element, the intrinsics 0.149 ns/element for the exp pass. vscalefps rebuilds
 * p * 2^n in one instruction and rounds a subnormal result once; masked loads and stores do the
 * tails; the write passes can stream (non-temporal stores) from registers.
 */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#if !defined(__clang__)
#pragma GCC target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma,f16c,popcnt,prefer-vector-width=512")
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
#pragma clang attribute push(__attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma,f16c,popcnt"))), apply_to = function)
#endif

#include "exp_portable.h"
#include "softmax_fast.h"
#include "sigmoid_portable.h"

/* Lanes the first store of a streaming loop covers: up to y's next 64-byte boundary, so every
 * later full-width store is aligned, as vmovntps needs. */
static inline ptrdiff_t sf_stream_lead(const void *y, ptrdiff_t elem, ptrdiff_t lanes) {
    const ptrdiff_t off = (ptrdiff_t)((uintptr_t)y & 63);
    return off == 0 ? lanes : (64 - off) / elem;
}

/* Where the exp pass prefetches the next row: into L1 while this row and its stored terms
 * leave room there for the next one, else into L2. 4096 x 4096, 2 threads, against a stream
 * copy: float32 (16 KiB rows) 1.32 with L1 / 1.39 with L2; float64 (32 KiB rows, which with
 * their terms already fill a 48 KiB L1) 2.03 with L1 / 1.81 with L2. */
SF_INLINE int sf_prefetch_to_l1(ptrdiff_t row_bytes) { return row_bytes <= 16384; }

/* Prefetch the 256 bytes at p (4 cache lines) into L1 or L2. */
SF_INLINE void sf_prefetch_256(const void *p, int to_l1) {
    const char *c = (const char *)p;
    if (to_l1) {
        _mm_prefetch(c, _MM_HINT_T0);
        _mm_prefetch(c + 64, _MM_HINT_T0);
        _mm_prefetch(c + 128, _MM_HINT_T0);
        _mm_prefetch(c + 192, _MM_HINT_T0);
    } else {
        _mm_prefetch(c, _MM_HINT_T1);
        _mm_prefetch(c + 64, _MM_HINT_T1);
        _mm_prefetch(c + 128, _MM_HINT_T1);
        _mm_prefetch(c + 192, _MM_HINT_T1);
    }
}

/* How many of the n elements of p come before its first 64-byte boundary (0 when p is on one, or
 * not aligned to its element): a pass whose result does not depend on the order of its elements
 * handles them apart, so that its full-vector loads each stay within one cache line (a split
 * load costs the max pass of a 1 x 128256 float32 row ~15%). */
static inline ptrdiff_t sf_head_to_line(const void *p, size_t elem, ptrdiff_t n) {
    if ((uintptr_t)p % elem) return 0;
    const ptrdiff_t h = (ptrdiff_t)(((64 - (uintptr_t)p % 64) % 64) / elem);
    return h < n ? h : n;
}

/* How far ahead of x the streaming write passes prefetch (into L2): they read x from memory
 * while their stores go around the cache, and an exp-heavy loop (softmax's recomputed terms)
 * otherwise leaves too few reads in flight. (1, 2^24) float32 softmax, 2 threads, 3 runs
 * alternated: 4.33-4.56 -> 4.13-4.24 ms (the stream copy: 2.37-2.39 ms); log_softmax 4.04 ->
 * 3.98-4.04 ms. */
#define SF_STREAM_AHEAD 16384

/* Streaming needs y aligned to its element (NumPy allows unaligned arrays): plain stores else. */
static inline int sf_can_stream(const void *y, int stream, size_t elem) {
    return stream && ((uintptr_t)y % elem) == 0;
}

/* ------------------------------------------------------------------------------------------ */
/* float32                                                                                     */

/* Below this d the biased term p * 2^(n + 64) < 2^-150 rounds to exactly 0. */
#define F32_AVX512_FLOOR (-149.0f)
#define F32_BIAS_SCALE 0x1p64f /* 2^F32_EXP_BIAS */

/* A term whose result would be denormal makes vscalefps take a microcode assist, about 150
 * cycles a lane: a row of 2048 with a tenth of its entries masked to -inf (clamped to the
 * floor) took 13x the time of a plain row. The forms that clamp (the rows that reach below the
 * floor) zero such lanes instead (`zero_tiny`): a biased term below 2^-125.5 is far below
 * anything it could change, a sum (>= 2^64: the max's term) or an output (term * 2^-64 / sum <
 * 2^-189, which rounds to 0). n below this gives such a term in sf_f32_exp_core__avx512
 * (p < 2^64.5): -125 - log2(2^64), as sf_f32_fold_coefficients__avx512's tiny_n for c = 2^64. */
#define F32_TINY_N (-125.0f - F32_EXP_BIAS)
/* A row whose least v - shift is below this may have such terms (2^64 e^-131 = 2^-125): it
 * takes a form that zeroes them (SF_DIFF_TWOSUM, SF_EXP_FOLDED_CLAMPED) */
#define F32_TINY_D (-131.0f)

/* p 2^n (vscalefps), or with `zero_tiny` 0 where n < tiny_n (unordered, NaN, lanes kept: NaN
 * stays NaN) */
SF_INLINE __m512 sf_f32_scalef_zero_tiny__avx512(__m512 p, __m512 n, __m512 tiny_n,
                                                 const int zero_tiny) {
    if (zero_tiny) return _mm512_maskz_scalef_ps(_mm512_cmp_ps_mask(n, tiny_n, _CMP_NLT_UQ), p, n);
    return _mm512_scalef_ps(p, n);
}

/* exp(d + lo) * 2^64 for d in about [F32_AVX512_FLOOR, 0] (lo added when `has_lo`); NaN stays
 * NaN. The bias rides in the polynomial's coefficients (each Horner step of 2^64 p is exactly
 * 2^64 times that of p), which saves the add of 64 to n; vscalefps then applies 2^n with one
 * rounding. With `zero_tiny`, 0 where n < F32_TINY_N. */
SF_INLINE __m512 sf_f32_exp_core__avx512(__m512 d, __m512 lo, const int has_lo,
                                         const int zero_tiny) {
    /* round(d / ln2) by the magic-number addition: one FMA and one subtraction, where
     * vrndscaleps costs two uops on Intel cores */
    const __m512 magic = _mm512_set1_ps(F32_ROUND_MAGIC);
    const __m512 n = _mm512_sub_ps(_mm512_fmadd_ps(d, _mm512_set1_ps(F32_LOG2E), magic), magic);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(F32_LN2_LO),
                                _mm512_fnmadd_ps(n, _mm512_set1_ps(F32_LN2_HI), d));
    if (has_lo) r = _mm512_add_ps(r, lo);
    __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(F32_EXP_C6 * F32_BIAS_SCALE), r,
                               _mm512_set1_ps(F32_EXP_C5 * F32_BIAS_SCALE));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(F32_EXP_C4 * F32_BIAS_SCALE));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(F32_EXP_C3 * F32_BIAS_SCALE));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(F32_EXP_C2 * F32_BIAS_SCALE));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(F32_BIAS_SCALE));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(F32_BIAS_SCALE));
    return sf_f32_scalef_zero_tiny__avx512(p, n, _mm512_set1_ps(F32_TINY_N), zero_tiny);
}

/* exp(d) * 2^64 for d <= 0; NaN stays NaN; exactly 0 at the floor (sums: d may be rounded) */
SF_INLINE __m512 sf_f32_exp_biased__avx512(__m512 d) {
    d = _mm512_max_ps(_mm512_set1_ps(F32_AVX512_FLOOR), d); /* vmaxps returns d when d is NaN */
    return sf_f32_exp_core__avx512(d, _mm512_setzero_ps(), 0, 0);
}

/* The lowest v the terms of a shift need: the largest float with low - shift <= the floor
 * (shift + floor, stepped down once where its rounding went up, as when a shift beyond 2^31
 * swallows the floor); below it every term is 0 anyway. +inf for a shift of +inf: every term
 * NaN, as inf - inf must make them. */
static inline float sf_f32_low_of(float shift) {
    float low = shift + F32_AVX512_FLOOR;
    if ((double)low - (double)shift > (double)F32_AVX512_FLOOR) low = nextafterf(low, -INFINITY);
    return low;
}

/* A shift whose float spacing is wider than the floor's distance (|shift| >= 2^31, or not
 * finite): a v just below it is then ulp(shift) >= 256 below, and far larger shifts leave
 * v - shift beyond the reach of the reduction (round(d/ln2) by the magic number), which then
 * gives inf or NaN instead of 0. Such rows take the `wide` form of the kernels. */
SF_INLINE int sf_f32_wide_shift(float shift) { return !(fabsf(shift) < 0x1p31f); }

/* scale * v, or v itself when `unit` (scale == 1, the common call): a multiply by 1 is exact,
 * so both give the same bits, and the passes that read x twice save one operation a vector */
#define SF_F32_SCALED(unit, v, vs) ((unit) ? (v) : _mm512_mul_ps((v), (vs)))

/* exp(v - shift) * 2^64 with v - shift taken exactly (the terms that become outputs), in the
 * given form. TWOSUM raises v to low = sf_f32_low_of(shift) first (NaN stays NaN: vmaxps
 * returns its second operand), so that the difference and error are finite and need neither a
 * clamp nor a mask: the rounding error of v - shift simply joins the reduced argument. With
 * `wide` (sf_f32_wide_shift) the difference is raised to the floor too, where the term is
 * exactly 0 (lo is 0 there: v - shift is exact, Sterbenz); one more operation a vector (7% of
 * the exp pass), which only those rows pay. Fast2Sum (a + b with |a| >= |b|: s, then
 * b - (s - a)) is exact, as TwoSum is, with two operations after the difference instead of
 * four. */
SF_INLINE __m512 sf_f32_exp_of_diff__avx512(__m512 v, __m512 shift, __m512 low, const int wide,
                                            const int form) {
    __m512 hi, lo;
    if (form == SF_DIFF_SHIFT_BIG) {
        hi = _mm512_sub_ps(v, shift);
        lo = _mm512_sub_ps(v, _mm512_add_ps(hi, shift));
    } else if (form == SF_DIFF_V_BIG) {
        hi = _mm512_sub_ps(v, shift);
        lo = _mm512_sub_ps(_mm512_sub_ps(v, hi), shift);
    } else {
        if (form == SF_DIFF_TWOSUM) v = _mm512_max_ps(low, v);
        hi = _mm512_sub_ps(v, shift);
        const __m512 bv = _mm512_sub_ps(hi, v);
        lo = _mm512_sub_ps(_mm512_sub_ps(v, _mm512_sub_ps(hi, bv)), _mm512_add_ps(shift, bv));
    }
    if (wide) hi = _mm512_max_ps(_mm512_set1_ps(F32_AVX512_FLOOR), hi); /* NaN stays NaN */
    return sf_f32_exp_core__avx512(hi, lo, 1, form == SF_DIFF_TWOSUM || wide);
}

/* The folded exp: a row whose shift s lies in [SF_F32_FOLD_MIN, SF_F32_FOLD_MAX] skips v - s
 * altogether. Its terms are exp(v) * c for a float c near 2^64 exp(-s) (sums: the nearest;
 * stored terms: sf_f32_fold_constant__avx512), reduced from v itself (an exact input: no
 * difference to take exactly), with c folded into the polynomial's coefficients (c * 1 and
 * c * 1/2 exact, the others' rounding far below the result's). That is exp(v - s') 2^64 for
 * s' = s - log(c / 2^64 exp(-s)), within 2^-19 of s: stored terms are
 * reported relative to s' (the partial's max), sums are corrected to s in double. 12 operations
 * a vector instead of 16. The bounds keep every folded coefficient normal (c * C6 >= 2^-126
 * needs s <= 124.8) and c finite (s >= -44.3); v is raised to low = sf_f32_low_of(s) first
 * unless the row's least value is above it (FOLDED), so that v / ln2 stays within the reach of
 * the magic-number rounding and a term below the floor is exactly 0, as the other forms. */
#define SF_F32_FOLD_MIN (-40.0f)
#define SF_F32_FOLD_MAX 120.0f
/* Rows shorter than these keep the exact difference: a fold costs a row one exp in double, and
 * stored terms also the choice of c (sf_f32_fold_constant__avx512), ~10 and ~25 ns. Sums gain
 * from 768 on (measured, one thread, 32 rows of log_softmax: 512 long 7.2 -> 7.1 us, 1000 long
 * 11.2 -> 10.8 us, 256 long 5.2 -> 5.7 us). Stored terms would gain in cache from 2048 (16 x
 * 2048 softmax 9.2 -> 8.8 us) but not in rows that stream to memory (the pipelined rows of
 * partial_store_flush, which must fold as partial_store does: the bits may not depend on which
 * rows start a thread's run), where the choice is pure cost: 4096 x 4096 softmax 2.87 -> 2.97
 * ms folded from 2048, 2.89 from 8192. */
#define SF_F32_FOLD_MIN_STORED 8192
#define SF_F32_FOLD_MIN_SUMMED 768
#define SF_EXP_FOLDED 4         /* every v >= low: no clamp */
#define SF_EXP_FOLDED_CLAMPED 5 /* v raised to low first (NaN stays NaN) */

typedef struct sf_f32_fold_coeffs__avx512 {
    __m512 c0, c2, c3, c4, c5, c6; /* c times exp's coefficients (c1 = c0) */
    __m512 tiny_n; /* below this n the term is below 2^-125.5 (F32_TINY_N for c) */
} sf_f32_fold_coeffs__avx512;

/* the coefficients for c, per lane */
SF_INLINE sf_f32_fold_coeffs__avx512 sf_f32_fold_coefficients__avx512(__m512 c) {
    sf_f32_fold_coeffs__avx512 f;
    f.c0 = c;
    f.c2 = _mm512_mul_ps(c, _mm512_set1_ps(F32_EXP_C2));
    f.c3 = _mm512_mul_ps(c, _mm512_set1_ps(F32_EXP_C3));
    f.c4 = _mm512_mul_ps(c, _mm512_set1_ps(F32_EXP_C4));
    f.c5 = _mm512_mul_ps(c, _mm512_set1_ps(F32_EXP_C5));
    f.c6 = _mm512_mul_ps(c, _mm512_set1_ps(F32_EXP_C6));
    /* p >= 0.7 c >= 0.7 * 2^floor(log2 c): n >= -125 - floor(log2 c) keeps every normal term;
     * a lane below it has p 2^n < 2^-124.5 (outputs < 2^-188) */
    f.tiny_n = _mm512_sub_ps(_mm512_set1_ps(-125.0f), _mm512_getexp_ps(c));
    return f;
}

/* exp(v) * c (the coefficients' c) for v in [low, SF_F32_FOLD_MAX]; NaN stays NaN; with
 * `zero_tiny`, 0 where the term would be tiny (F32_TINY_N) */
SF_INLINE __m512 sf_f32_exp_folded__avx512(__m512 v, const sf_f32_fold_coeffs__avx512 *f,
                                           const int zero_tiny) {
    const __m512 magic = _mm512_set1_ps(F32_ROUND_MAGIC);
    const __m512 n = _mm512_sub_ps(_mm512_fmadd_ps(v, _mm512_set1_ps(F32_LOG2E), magic), magic);
    const __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(F32_LN2_LO),
                                      _mm512_fnmadd_ps(n, _mm512_set1_ps(F32_LN2_HI), v));
    __m512 p = _mm512_fmadd_ps(f->c6, r, f->c5);
    p = _mm512_fmadd_ps(p, r, f->c4);
    p = _mm512_fmadd_ps(p, r, f->c3);
    p = _mm512_fmadd_ps(p, r, f->c2);
    p = _mm512_fmadd_ps(p, r, f->c0);
    p = _mm512_fmadd_ps(p, r, f->c0);
    return sf_f32_scalef_zero_tiny__avx512(p, n, f->tiny_n, zero_tiny);
}

/* The c of a fold whose terms are stored (softmax): of the 16 floats nearest 2^64 exp(-s)
 * (`exact`), the one whose term at v = s comes out closest to c exp(s). In a row that one term
 * dominates (logits) the sum is about that term, so its error becomes every output's: the
 * forms that take v - s exactly compute it exactly (r = 0); folded it is then within ~0.1 of a
 * float32 ulp instead of up to ~0.7 (max error over 17-long rows of N(0, 1) x 30 logits: 1.15
 * ULP unfolded, 2.02 folded with the nearest c, 1.17 with this one). The 16 candidates run
 * through the kernel's own exp, one per lane. */
static float sf_f32_fold_constant__avx512(float shift, double exact) {
    const __m512i steps = _mm512_set_epi32(7, 6, 5, 4, 3, 2, 1, 0, -1, -2, -3, -4, -5, -6, -7, -8);
    const __m512 c = _mm512_castsi512_ps(
        _mm512_add_epi32(_mm512_set1_epi32((int32_t)f32_bits((float)exact)), steps));
    const sf_f32_fold_coeffs__avx512 f = sf_f32_fold_coefficients__avx512(c);
    const __m512 t = sf_f32_exp_folded__avx512(_mm512_set1_ps(shift), &f, 0);
    /* |t / (c exp(s)) - 1| c = |t exact 2^-64 - c| in double, per half: the candidates' c
     * differ by less than 2^-19, far too little to change which error is least */
    const __m512d k = _mm512_set1_pd(exact * 0x1p-64);
    const __m512d e_lo = _mm512_abs_pd(_mm512_fmsub_pd(
        _mm512_cvtps_pd(_mm512_castps512_ps256(t)), k, _mm512_cvtps_pd(_mm512_castps512_ps256(c))));
    const __m512d e_hi = _mm512_abs_pd(_mm512_fmsub_pd(
        _mm512_cvtps_pd(_mm512_extractf32x8_ps(t, 1)), k, _mm512_cvtps_pd(_mm512_extractf32x8_ps(c, 1))));
    const double best = _mm512_reduce_min_pd(_mm512_min_pd(e_lo, e_hi));
    const unsigned at = (unsigned)_mm512_cmp_pd_mask(e_lo, _mm512_set1_pd(best), _CMP_EQ_OQ) |
                        ((unsigned)_mm512_cmp_pd_mask(e_hi, _mm512_set1_pd(best), _CMP_EQ_OQ) << 8);
    float lanes[16];
    _mm512_storeu_ps(lanes, c);
    return lanes[__builtin_ctz(at)];
}

/* The fold of an n-long row with this shift and least value: the form (SF_EXP_FOLDED or
 * SF_EXP_FOLDED_CLAMPED; 0 when the shift is out of the fold's bounds) and *c. With `eff`
 * (stored terms) *eff = s' and *unbias = 2^-64: the sum is relative to s'; without, *unbias
 * = 2^-64 exp(-s) 2^64 / c, which takes the sum back to s. One exp in double a row. */
static int sf_f32_fold__avx512(float shift, float least, ptrdiff_t n, float *c, double *unbias,
                               double *eff) {
    if (n < (eff ? SF_F32_FOLD_MIN_STORED : SF_F32_FOLD_MIN_SUMMED)) return 0;
    if (!(shift >= SF_F32_FOLD_MIN && shift <= SF_F32_FOLD_MAX)) return 0;
    const double exact = ldexp(exp(-(double)shift), F32_EXP_BIAS);
    /* sums (log_softmax) count the terms at the max apart: the nearest c */
    *c = eff ? sf_f32_fold_constant__avx512(shift, exact) : (float)exact;
    const double rel = ((double)*c - exact) / exact; /* c / exact - 1, |rel| < 2^-19 */
    if (eff) {
        /* s - log1p(rel) (the series to 2^-57; exact itself is good to ~2^-53) */
        *eff = (double)shift - (rel - rel * rel * (0.5 - rel * (1.0 / 3.0)));
        *unbias = (double)F32_EXP_UNBIAS;
    } else {
        *unbias = (double)F32_EXP_UNBIAS / (1.0 + rel);
    }
    /* least >= shift + F32_TINY_D > low: no tiny term, and nothing to clamp */
    return least - shift >= F32_TINY_D ? SF_EXP_FOLDED : SF_EXP_FOLDED_CLAMPED;
}

/* The max pass in pieces, so that another loop can carry it (sf_f32_raddexp_impl__avx512's
 * rider) with the lanes and order of the pass itself, hence its bits: max of scale*x and least
 * value, NaN lanes skipped (vmaxps and vminps return their second operand, the running value,
 * when the first is NaN), as in the portable version: the exp sum catches NaN. begin takes the
 * elements before x's first 64-byte boundary (the loop's loads then stay in one cache line
 * each; the order of a max does not change it) and returns where the 64-steps start; step64
 * takes 64 elements at x + i; finish takes the last 1..63 from i and reduces. */
typedef struct sf_f32_max_state__avx512 {
    __m512 m0, m1, m2, m3, l0, l1, l2, l3;
} sf_f32_max_state__avx512;

SF_INLINE ptrdiff_t sf_f32_max_begin__avx512(sf_f32_max_state__avx512 *s, const float *x,
                                             ptrdiff_t n, __m512 vs) {
    const __m512 ninf = _mm512_set1_ps(-INFINITY), pinf = _mm512_set1_ps(INFINITY);
    s->m0 = s->m1 = s->m2 = s->m3 = ninf;
    s->l0 = s->l1 = s->l2 = s->l3 = pinf;
    const ptrdiff_t i = sf_head_to_line(x, sizeof(float), n);
    if (i) {
        const __mmask16 k = (__mmask16)((1u << i) - 1);
        const __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(k, x), vs);
        s->m0 = _mm512_mask_mov_ps(ninf, k, v);
        s->l0 = _mm512_mask_mov_ps(pinf, k, v);
    }
    return i;
}

SF_INLINE void sf_f32_max_step64__avx512(sf_f32_max_state__avx512 *s, const float *x, __m512 vs,
                                         const int unit) {
    const __m512 v0 = SF_F32_SCALED(unit, _mm512_loadu_ps(x), vs);
    const __m512 v1 = SF_F32_SCALED(unit, _mm512_loadu_ps(x + 16), vs);
    const __m512 v2 = SF_F32_SCALED(unit, _mm512_loadu_ps(x + 32), vs);
    const __m512 v3 = SF_F32_SCALED(unit, _mm512_loadu_ps(x + 48), vs);
    s->m0 = _mm512_max_ps(v0, s->m0);
    s->m1 = _mm512_max_ps(v1, s->m1);
    s->m2 = _mm512_max_ps(v2, s->m2);
    s->m3 = _mm512_max_ps(v3, s->m3);
    s->l0 = _mm512_min_ps(v0, s->l0);
    s->l1 = _mm512_min_ps(v1, s->l1);
    s->l2 = _mm512_min_ps(v2, s->l2);
    s->l3 = _mm512_min_ps(v3, s->l3);
}

SF_INLINE float sf_f32_max_finish__avx512(sf_f32_max_state__avx512 *s, const float *x,
                                          ptrdiff_t i, ptrdiff_t n, __m512 vs, float *least) {
    const __m512 ninf = _mm512_set1_ps(-INFINITY), pinf = _mm512_set1_ps(INFINITY);
    for (; i < n; i += 16) {
        const __mmask16 k = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        /* lanes past the end stay -inf (max) and +inf (min) whatever the sign of scale */
        const __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(k, x + i), vs);
        s->m1 = _mm512_max_ps(_mm512_mask_mov_ps(ninf, k, v), s->m1);
        s->l1 = _mm512_min_ps(_mm512_mask_mov_ps(pinf, k, v), s->l1);
    }
    *least = _mm512_reduce_min_ps(_mm512_min_ps(_mm512_min_ps(s->l0, s->l1),
                                                _mm512_min_ps(s->l2, s->l3)));
    return _mm512_reduce_max_ps(_mm512_max_ps(_mm512_max_ps(s->m0, s->m1),
                                              _mm512_max_ps(s->m2, s->m3)));
}

SF_INLINE float sf_f32_rmax_impl__avx512(const float *x, ptrdiff_t n, float scale, const int unit,
                                         float *least) {
    const __m512 vs = _mm512_set1_ps(scale);
    sf_f32_max_state__avx512 s;
    ptrdiff_t i = sf_f32_max_begin__avx512(&s, x, n, vs);
    for (; i + 64 <= n; i += 64) sf_f32_max_step64__avx512(&s, x + i, vs, unit);
    return sf_f32_max_finish__avx512(&s, x, i, n, vs, least);
}

/* the row max of scale*x, and in *least its least value (NaN skipped by both: vmaxps and vminps
 * return their second operand, the running value, when the first is NaN), which picks the exp
 * pass's exact difference (sf_diff_form) */
static float sf_f32_rmax__avx512(const float *x, ptrdiff_t n, float scale, float *least) {
    return scale == 1.0f ? sf_f32_rmax_impl__avx512(x, n, scale, 1, least)
                         : sf_f32_rmax_impl__avx512(x, n, scale, 0, least);
}

/* One vector of biased terms in the given form: exp(v - shift) 2^64 with v - shift taken
 * exactly (SF_DIFF_*), or folded, exp(v) c (SF_EXP_FOLDED*). */
SF_INLINE __m512 sf_f32_term_of__avx512(__m512 v, __m512 vsh, __m512 vlow, const int wide,
                                        const int form, const sf_f32_fold_coeffs__avx512 *fold) {
    if (form == SF_EXP_FOLDED) return sf_f32_exp_folded__avx512(v, fold, 0);
    if (form == SF_EXP_FOLDED_CLAMPED)
        return sf_f32_exp_folded__avx512(_mm512_max_ps(vlow, v), fold, 1); /* NaN stays */
    return sf_f32_exp_of_diff__avx512(v, vsh, vlow, wide, form);
}

/* One vector of terms into the accumulator a: with `store` the terms become outputs and are
 * returned (sf_f32_lanes_but_top__avx512 may sum them again); without, the terms of scale*x ==
 * shift are counted into *ones instead of added, for the partial's `rest` (sum - 1), whose
 * small values are made of terms far below the max, where a rounded difference would cost
 * |d| u. */
SF_INLINE __m512 sf_f32_term__avx512(__m512 xv, __m512 vs, __m512 vsh, __m512 vlow,
                                     __mmask16 live, __mmask16 countable, int store,
                                     const int unit, const int wide, const int form,
                                     const sf_f32_fold_coeffs__avx512 *fold, __m512 *a,
                                     ptrdiff_t *ones) {
    const __m512 v = SF_F32_SCALED(unit, xv, vs);
    if (store) {
        const __m512 e = _mm512_maskz_mov_ps(live, sf_f32_term_of__avx512(v, vsh, vlow, wide, form, fold));
        *a = _mm512_add_ps(*a, e);
        return e;
    }
    /* countable is 0 when the shift is +inf: inf - inf is NaN, not a 1 */
    const __mmask16 one = _mm512_mask_cmp_ps_mask(live & countable, v, vsh, _CMP_EQ_OQ);
    *a = _mm512_mask_add_ps(*a, (__mmask16)(live & ~one), *a, sf_f32_term_of__avx512(v, vsh, vlow, wide, form, fold));
    *ones += __builtin_popcount(one);
    return *a;
}

/* The write passes' factor (hi + lo = 2^-64 / sum, hi >= FACTOR_MIN = 2^-100), taken pre-scaled:
 * y = t (hi + lo) is computed as fma(t, hs, t ls) 2^-126 with hs = hi 2^126, ls = lo 2^126. On
 * x86 every denormal product, or denormal FMA operand, costs a microcode assist: fma(t, hi,
 * t lo) with t lo denormal (outputs below about 2^-102, as a low temperature makes them) took
 * 100 times a normal lane, 5x on a (1, 128256) row of N(0, 3) logits at scale 1 / 0.3. Scaled,
 * the products of a term (0, or >= 2^-126: sf_f32_exp_core__avx512's zero_tiny) are normal
 * unless lo is far below hi 2^-24 (rare, and only a cost), and t hs <= 2^126.1 cannot overflow.
 * An output whose t lo was normal before keeps its bits (a power-of-two scaling commutes with
 * rounding); those below ~2^-102 may move by an ulp, t lo no longer rounded as a denormal. A
 * denormal output (ys < 1) is rounded from ys by an integer conversion at 2^-149 (to nearest
 * even: its bit pattern; ys itself already rounded to 24 bits), no denormal arithmetic either. */
#define F32_FACTOR_SCALE 0x1p126f
SF_INLINE __m512 sf_f32_apply_factor__avx512(__m512 t, __m512 hs, __m512 ls) {
    const __m512 ys = _mm512_fmadd_ps(t, hs, _mm512_mul_ps(t, ls));
    const __m512 down = _mm512_set1_ps(0x1p-126f);
    const __mmask16 tiny = _mm512_cmp_ps_mask(ys, _mm512_set1_ps(1.0f), _CMP_LT_OQ);
    if (__builtin_expect(tiny == 0, 1)) return _mm512_mul_ps(ys, down);
    const __m512 den =
        _mm512_castsi512_ps(_mm512_cvtps_epi32(_mm512_mul_ps(ys, _mm512_set1_ps(0x1p23f))));
    return _mm512_mask_mul_ps(den, (__mmask16)~tiny, ys, down); /* masked lanes: no assist */
}

/* The same for a row whose outputs are all normal (none below 2^-126: ys >= 1 in every lane),
 * known from its least value (SF_F32_NO_TINY_D): the common case, without the test. */
SF_INLINE __m512 sf_f32_apply_factor_normal__avx512(__m512 t, __m512 hs, __m512 ls) {
    return _mm512_mul_ps(_mm512_fmadd_ps(t, hs, _mm512_mul_ps(t, ls)), _mm512_set1_ps(0x1p-126f));
}

/* The flush riding along an exp pass (sf_f32_raddexp_flush__avx512): another row's write
 * pass, fdst = OP(fsrc), 64 elements per 64 terms. OP (flush kind 1): fsrc * (fh + fl), a
 * softmax row's stored terms times its factor (sf_f32_store_scaled__avx512); kind 2:
 * (scale * fsrc - fh) - fl, a log_softmax row's x, max and log-sum (sf_f32_write_log__avx512).
 * Streamed (the first elements up to fdst's next 64-byte boundary plain), or with
 * SF_FLUSH_PLAIN plain stores from the first element, for an output that stays in cache. */
#define SF_FLUSH_RESCALE 1
#define SF_FLUSH_LOG 2
#define SF_FLUSH_PLAIN 4
#define SF_F32_FLUSH_OP(v)                                                                        \
    ((flush & 3) == SF_FLUSH_RESCALE                                                              \
         ? (ftiny ? sf_f32_apply_factor__avx512((v), vfh, vfl)                                    \
                  : sf_f32_apply_factor_normal__avx512((v), vfh, vfl))                            \
         : _mm512_sub_ps(_mm512_sub_ps(SF_F32_SCALED(unit, (v), vs), vfh), vfl))
#define SF_F32_FLUSH_16(j)                                                                        \
    do {                                                                                          \
        const __m512 f_ = SF_F32_FLUSH_OP(_mm512_loadu_ps(fsrc + (j)));                           \
        if (flush & SF_FLUSH_PLAIN)                                                               \
            _mm512_storeu_ps(fdst + (j), f_);                                                     \
        else                                                                                      \
            _mm512_stream_ps(fdst + (j), f_);                                                     \
    } while (0)
#define SF_F32_FLUSH_MASKED(j, k) \
    _mm512_mask_storeu_ps(fdst + (j), (k), SF_F32_FLUSH_OP(_mm512_maskz_loadu_ps((k), fsrc + (j))))

/* Accumulator j's lane sums of a chunk of stored terms t (len <= SF_F32_LANE_CHUNK(16)) in
 * the exp pass's order (accumulator j takes the 16 terms at 16 j of each 64, the second also
 * the last 1..63 terms 16 at a time), the terms equal to `top` counted into *ones instead of
 * added. The exp pass sums an accumulator's terms again this way when one of its lanes
 * came to between top (2^64 for an exact difference, the max's own term) and twice that
 * (sf_f32_top_lanes__avx512): in float32 lanes every later addition to a lane the max's term
 * dominates rounded at its magnitude, and rows of N(0, 3) x 100 - 1000 long came out up to
 * 4.35 ULP off (2.36 with these sums). Counting in the exp loop itself cost 7-12% (a compare a
 * vector); this costs eight compares a chunk and about two passes over an accumulator's terms
 * a row of N(0, 1) values. A lane of 2 top or more holds other terms as large: no one term
 * dominates it, and rows near their max everywhere (N(0, 0.1) x: every lane of four terms
 * passes top) would recompute every accumulator (10-30% on rows of 4096 of them). */
SF_INLINE __mmask16 sf_f32_top_lanes__avx512(__m512 a, __m512 top) {
    return _mm512_mask_cmp_ps_mask(_mm512_cmp_ps_mask(a, top, _CMP_GE_OQ), a,
                                   _mm512_add_ps(top, top), _CMP_LT_OQ);
}

SF_INLINE __m512 sf_f32_lanes_but_top__avx512(const float *t, ptrdiff_t len, int j, __m512 top,
                                              ptrdiff_t *ones) {
    __m512 a = _mm512_setzero_ps();
    ptrdiff_t i = 0, c = 0;
#define SF_ADD_BUT_TOP(at, live)                                                                  \
    do {                                                                                          \
        const __m512 e_ = _mm512_maskz_loadu_ps((live), t + (at));                                \
        const __mmask16 one_ = _mm512_mask_cmp_ps_mask((live), e_, top, _CMP_EQ_OQ);              \
        a = _mm512_mask_add_ps(a, (__mmask16)((live) & ~one_), a, e_);                            \
        c += __builtin_popcount(one_);                                                            \
    } while (0)
    for (; i + 64 <= len; i += 64) SF_ADD_BUT_TOP(i + 16 * j, 0xffff);
    if (j == 1)
        for (; i < len; i += 16)
            SF_ADD_BUT_TOP(i, len - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (len - i)) - 1));
#undef SF_ADD_BUT_TOP
    *ones += c;
    return a;
}

/* sum of exp(scale*x - shift) for shift >= max (NaN propagates), storing the biased terms
 * into y when y != NULL, prefetching `next` (when not NULL) at the same pace: the contract of
 * the portable expsum. Folded rows' terms are exp(scale*x) c instead, and the sum is scaled by
 * `unbias` (sf_f32_fold__avx512). Lanes go to double every SF_F32_LANE_TERMS terms (a row's last
 * chunk: up to 7 in the lane that takes the tail). With `flush` and fsrc != NULL another row's
 * write pass rides along (above); with `ride` and mx != NULL so does the max pass of another
 * row mx of mn elements (the next one), 64 elements per 64 terms, its max and least value returned in
 * *mx_max and *mx_least: the loads of both passes and the latency at their ends then overlap
 * this pass's arithmetic. */
SF_INLINE double sf_f32_raddexp_impl__avx512(const float *x, float *y, ptrdiff_t n, float scale,
                                             float shift, const float *next, const int store,
                                             const int unit, const int wide, const int form,
                                             double *rest, const int flush,
                                             const float *fsrc, float *fdst, float fh, float fl,
                                             int ftiny, const int ride, const float *mx, ptrdiff_t mn, float *mx_max,
                                             float *mx_least, float fold_c, double unbias) {
    const __m512 vs = _mm512_set1_ps(scale), vsh = _mm512_set1_ps(shift);
    const sf_f32_fold_coeffs__avx512 fold = sf_f32_fold_coefficients__avx512(_mm512_set1_ps(fold_c));
    /* the rescale's factor pre-scaled (sf_f32_apply_factor__avx512); log_softmax's max, log-sum */
    const float fscale = (flush & 3) == SF_FLUSH_RESCALE ? F32_FACTOR_SCALE : 1.0f;
    const __m512 vfh = _mm512_set1_ps(fh * fscale), vfl = _mm512_set1_ps(fl * fscale);
    const int flushing = flush && fsrc != NULL;
    ptrdiff_t j = 0; /* the flush's next element */
    if (flushing && !(flush & SF_FLUSH_PLAIN)) {
        j = sf_stream_lead(fdst, sizeof(float), 16) % 16;
        j = j < n ? j : n;
        SF_F32_FLUSH_MASKED(0, (__mmask16)((1u << j) - 1));
    }
    const int riding = ride && mx != NULL;
    sf_f32_max_state__avx512 ms;
    /* the rider's next element (none when not riding: begin then only initialises ms) */
    ptrdiff_t k = sf_f32_max_begin__avx512(&ms, riding ? mx : x, riding ? mn : 0, vs);
    const __m512 vlow = _mm512_set1_ps(sf_f32_low_of(shift));
    /* `next` into L1 when it fits, except beside a streamed rescale (rows far larger than cache) */
    const int to_l1 = flush != SF_FLUSH_RESCALE && sf_prefetch_to_l1(n * (ptrdiff_t)sizeof(float));
    const __mmask16 all = (__mmask16)0xffff, countable = isfinite(shift) ? all : 0;
    __m512d s_lo = _mm512_setzero_pd(), s_hi = s_lo; /* the lane sums, in double */
    ptrdiff_t ones = 0;
    /* stored terms: the max's own term (2^64 where the difference is exact; a folded row's at
     * its shift, computed apart from the loop), counted apart (sf_f32_lanes_but_top__avx512) */
    const int folded = form == SF_EXP_FOLDED || form == SF_EXP_FOLDED_CLAMPED;
    const __m512 vtop = folded ? sf_f32_term_of__avx512(vsh, vsh, vlow, wide, form, &fold)
                               : _mm512_set1_ps(F32_BIAS_SCALE);
    for (ptrdiff_t i = 0; i < n;) {
        const ptrdiff_t start = i;
        const ptrdiff_t end = n - i > SF_F32_LANE_CHUNK(16) ? i + SF_F32_LANE_CHUNK(16) : n;
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (; i + 64 <= end; i += 64) {
            if (next) sf_prefetch_256(next + i, to_l1);
            const __m512 e0 = sf_f32_term__avx512(_mm512_loadu_ps(x + i), vs, vsh, vlow, all, countable, store, unit, wide, form, &fold, &a0, &ones);
            const __m512 e1 = sf_f32_term__avx512(_mm512_loadu_ps(x + i + 16), vs, vsh, vlow, all, countable, store, unit, wide, form, &fold, &a1, &ones);
            const __m512 e2 = sf_f32_term__avx512(_mm512_loadu_ps(x + i + 32), vs, vsh, vlow, all, countable, store, unit, wide, form, &fold, &a2, &ones);
            const __m512 e3 = sf_f32_term__avx512(_mm512_loadu_ps(x + i + 48), vs, vsh, vlow, all, countable, store, unit, wide, form, &fold, &a3, &ones);
            if (store) {
                _mm512_storeu_ps(y + i, e0);
                _mm512_storeu_ps(y + i + 16, e1);
                _mm512_storeu_ps(y + i + 32, e2);
                _mm512_storeu_ps(y + i + 48, e3);
            }
            if (flushing && j + 64 <= n) {
                SF_F32_FLUSH_16(j);
                SF_F32_FLUSH_16(j + 16);
                SF_F32_FLUSH_16(j + 32);
                SF_F32_FLUSH_16(j + 48);
                j += 64;
            }
            if (riding && k + 64 <= mn) {
                sf_f32_max_step64__avx512(&ms, mx + k, vs, unit);
                k += 64;
            }
        }
        for (; i < end; i += 16) { /* the last 1..63 elements, 16 at a time, the last masked */
            const __mmask16 m = end - i >= 16 ? all : (__mmask16)((1u << (end - i)) - 1);
            /* lanes past the end add nothing */
            const __m512 e = sf_f32_term__avx512(_mm512_maskz_loadu_ps(m, x + i), vs, vsh, vlow, m, countable, store, unit, wide, form, &fold, &a1, &ones);
            if (store) _mm512_mask_storeu_ps(y + i, m, e);
        }
        i = end;
        if (store) { /* an accumulator whose lane the max's term dominates sums again without it */
            const __mmask16 r0 = sf_f32_top_lanes__avx512(a0, vtop);
            const __mmask16 r1 = sf_f32_top_lanes__avx512(a1, vtop);
            const __mmask16 r2 = sf_f32_top_lanes__avx512(a2, vtop);
            const __mmask16 r3 = sf_f32_top_lanes__avx512(a3, vtop);
            if (__builtin_expect((r0 | r1 | r2 | r3) != 0, 0)) {
                if (r0) a0 = sf_f32_lanes_but_top__avx512(y + start, end - start, 0, vtop, &ones);
                if (r1) a1 = sf_f32_lanes_but_top__avx512(y + start, end - start, 1, vtop, &ones);
                if (r2) a2 = sf_f32_lanes_but_top__avx512(y + start, end - start, 2, vtop, &ones);
                if (r3) a3 = sf_f32_lanes_but_top__avx512(y + start, end - start, 3, vtop, &ones);
            }
        }
        const __m512 a = _mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3));
        s_lo = _mm512_add_pd(s_lo, _mm512_cvtps_pd(_mm512_castps512_ps256(a)));
        s_hi = _mm512_add_pd(s_hi, _mm512_cvtps_pd(_mm512_extractf32x8_ps(a, 1)));
    }
    if (flushing) {
        for (; j + 16 <= n; j += 16) SF_F32_FLUSH_16(j);
        if (j < n) SF_F32_FLUSH_MASKED(j, (__mmask16)((1u << (n - j)) - 1));
    }
    if (riding) {
        for (; k + 64 <= mn; k += 64) sf_f32_max_step64__avx512(&ms, mx + k, vs, unit);
        *mx_max = sf_f32_max_finish__avx512(&ms, mx, k, mn, vs, mx_least);
    }
    const double others = _mm512_reduce_add_pd(_mm512_add_pd(s_lo, s_hi)) * unbias;
    if (!store) *rest = ((double)ones - 1.0) + others;
    if (store) return (double)ones * ((double)_mm512_cvtss_f32(vtop) * unbias) + others;
    return (double)ones + others;
}

/* Return SF_CALL(unit, wide, form), the caller's call of sf_f32_raddexp_impl__avx512, with the
 * compile-time flags this row needs (`shift`, `least` and `scale` in scope). The rare wide rows
 * skip the scale == 1 saving: a multiply by 1 is exact, the same bits. */
#define SF_F32_CALL_UNIT(form) SF_CALL(1, 0, form)
#define SF_F32_CALL_SCALED(form) SF_CALL(0, 0, form)
#define SF_F32_CALL_BY_SCALE(form) (scale == 1.0f ? SF_F32_CALL_UNIT(form) : SF_F32_CALL_SCALED(form))
/* `eff`: NULL for sums, else where the shift of stored terms goes (sf_f32_fold__avx512). SF_CALL
 * passes fold_c_ and unbias_ on. */
#define SF_F32_RADDEXP_SPECIALIZED(eff)                                                           \
    do {                                                                                          \
        float fold_c_ = 1.0f;                                                                     \
        double unbias_ = (double)F32_EXP_UNBIAS;                                                  \
        if (sf_f32_wide_shift(shift)) return SF_CALL(0, 1, SF_DIFF_TWOSUM);                       \
        const int fold_ = sf_f32_fold__avx512(shift, least, n, &fold_c_, &unbias_, (eff));          \
        if (fold_ == SF_EXP_FOLDED) return SF_F32_CALL_BY_SCALE(SF_EXP_FOLDED);                   \
        if (fold_ == SF_EXP_FOLDED_CLAMPED) return SF_F32_CALL_BY_SCALE(SF_EXP_FOLDED_CLAMPED);   \
        const int form_ = least - shift >= F32_TINY_D ? sf_diff_form(shift, least, 0)           \
                                                      : SF_DIFF_TWOSUM; /* may be tiny */       \
        if (scale == 1.0f) SF_RETURN_BY_DIFF_FORM(form_, SF_F32_CALL_UNIT);                       \
        SF_RETURN_BY_DIFF_FORM(form_, SF_F32_CALL_SCALED);                                        \
    } while (0)

/* `least` is the row's least scale*x (sf_f32_rmax__avx512), -inf or NaN if unknown */
static double sf_f32_raddexp__avx512(const float *x, float *y, ptrdiff_t n, float scale,
                                     float shift, float least, const float *next, double *rest,
                                     double *eff) {
#define SF_CALL(unit, wide, form)                                                                 \
    (y ? sf_f32_raddexp_impl__avx512(x, y, n, scale, shift, next, 1, unit, wide, form, NULL, 0,  \
                                     NULL, NULL, 0, 0, 1, 0, NULL, 0, NULL, NULL, fold_c_, unbias_) \
       : sf_f32_raddexp_impl__avx512(x, NULL, n, scale, shift, next, 0, unit, wide, form, rest,  \
                                     0, NULL, NULL, 0, 0, 1, 0, NULL, 0, NULL, NULL, fold_c_,       \
                                     unbias_))
    SF_F32_RADDEXP_SPECIALIZED(y ? eff : NULL);
#undef SF_CALL
}

/* The store form of sf_f32_raddexp__avx512 (y = the biased terms, the same bits) with another
 * row's write pass riding along: fdst = fsrc * (fh + fl) by non-temporal stores (fdst
 * float-aligned), n elements too, 64 per step of the exp loop. The output stores of the rows
 * of a large softmax then overlap the next row's arithmetic instead of running as a
 * store-bound pass of their own (4096 x 4096 float32, 2 threads: 1.44 -> 1.24 x a stream copy
 * in a C test). */
static double sf_f32_raddexp_flush__avx512(const float *x, float *y, ptrdiff_t n, float scale,
                                           float shift, float least, const float *next,
                                           const float *fsrc, float *fdst, float fh, float fl,
                                           double *eff) {
#define SF_CALL(unit, wide, form)                                                                 \
    sf_f32_raddexp_impl__avx512(x, y, n, scale, shift, next, 1, unit, wide, form, NULL,          \
                                SF_FLUSH_RESCALE, fsrc, fdst, fh, fl, 1, 0, NULL, 0, NULL, NULL, \
                                fold_c_, unbias_)
    SF_F32_RADDEXP_SPECIALIZED(eff);
#undef SF_CALL
}

/* The sum form of sf_f32_raddexp__avx512 (with *rest, the same bits) with a log_softmax row's
 * write pass riding along: fdst = (scale * fsrc - max) - log_sum, streamed. */
static double sf_f32_raddexp_flush_log__avx512(const float *x, ptrdiff_t n, float scale,
                                               float shift, float least, const float *next,
                                               double *rest, const float *fsrc, float *fdst,
                                               float max, float log_sum) {
#define SF_CALL(unit, wide, form)                                                                 \
    sf_f32_raddexp_impl__avx512(x, NULL, n, scale, shift, next, 0, unit, wide, form, rest,       \
                                SF_FLUSH_LOG, fsrc, fdst, max, log_sum, 1, 0, NULL, 0, NULL, \
                                NULL, \
                                fold_c_, unbias_)
    SF_F32_RADDEXP_SPECIALIZED(NULL);
#undef SF_CALL
}

/* The exp passes of the pipelined row loop (the portable softmax_rows_ride): this row's
 * stored terms (sf_f32_raddexp__avx512's store form, the same bits), the previous row's
 * rescale in place (fsrc, when not NULL: sf_f32_store_scaled__avx512's operation on fh + fl;
 * fspan: that row's least value minus its max) and the next row's max pass (mx, mn elements,
 * when not NULL: sf_f32_rmax__avx512's lanes and order) in one loop; `next` (or NULL)
 * prefetched meanwhile, *eff as sf_f32_raddexp__avx512's (set it to shift first). A row whose
 * least value is at most 64 below its max has no output below e^-64 / n > 2^-126 (n < 2^31;
 * the callers' rows are shorter than the blocked rows' 2^16): its rescale skips the test for
 * subnormal outputs (two operations of the 23 a vector of this loop). */
#define SF_F32_NO_TINY_D (-64.0f)
static double sf_f32_raddexp_ride__avx512(const float *x, float *y, ptrdiff_t n, float scale,
                                          float shift, float least, float *fsrc, float fh,
                                          float fl, float fspan, const float *mx, ptrdiff_t mn,
                                          float *mx_max, float *mx_least, const float *next,
                                          double *eff) {
    const int ftiny = !(fspan >= SF_F32_NO_TINY_D);
#define SF_CALL(unit, wide, form)                                                                 \
    sf_f32_raddexp_impl__avx512(x, y, n, scale, shift, next, 1, unit, wide, form, NULL,          \
                                SF_FLUSH_RESCALE | SF_FLUSH_PLAIN, fsrc, fsrc, fh, fl, ftiny, 1,   \
                                mx, mn, \
                                mx_max, mx_least, fold_c_, unbias_)
    SF_F32_RADDEXP_SPECIALIZED(eff);
#undef SF_CALL
}

/* The same for log_softmax rows: this row's sum (with *rest), the previous row's
 * (scale * fsrc - max) - log_sum into fdst (sf_f32_write_log__avx512's operation) and the next
 * row's max pass; `next` prefetched. */
static double sf_f32_raddexp_ride_log__avx512(const float *x, ptrdiff_t n, float scale,
                                              float shift, float least, double *rest,
                                              const float *fsrc, float *fdst, float max,
                                              float log_sum, const float *mx, ptrdiff_t mn,
                                              float *mx_max, float *mx_least, const float *next) {
#define SF_CALL(unit, wide, form)                                                                 \
    sf_f32_raddexp_impl__avx512(x, NULL, n, scale, shift, next, 0, unit, wide, form, rest,       \
                                SF_FLUSH_LOG | SF_FLUSH_PLAIN, fsrc, fdst, max, log_sum, 1, 1, mx, mn, \
                                mx_max, mx_least, fold_c_, unbias_)
    SF_F32_RADDEXP_SPECIALIZED(NULL);
#undef SF_CALL
}

/* Softmax (log_softmax with `lg`) of one row of 1 <= n <= 64 floats, held in registers from
 * load to store: the short rows that pay for the general steps (partial_store + rescale) in
 * calls and latency rather than arithmetic (a 16-long row cost 62 ns through them, 3 ns of it
 * exps). Same bits: every exact form of v - shift gives the same difference and error, so the
 * terms are those of the exp pass (its TwoSum form, with neither clamp nor zeroing: rows
 * reaching more than 131 below the max are left to the general steps); they are added in the
 * exp pass's order for n <= 64 (vectors in turn into one accumulator, or for n = 64 pairwise
 * over its four), the sum and 1 / sum (sf_inverse2's steps) taken as there and the factor
 * applied by the same operation; the terms equal to 1 are counted apart, and for log_softmax
 * x - max - log1p(rest) taken as the sum pass and write_log_softmax take them. Returns 0,
 * having written nothing, for a row the general steps must do: a NaN, an infinite max,
 * |max| >= 2^31 (the wide form), an entry more than 131 below the max (tiny terms). */
#define SF_F32_SHORT_ROW_MAX 64
/* kernels_portable.inc's, included at the end of this file: the rest of a log_softmax row taken
 * again where its precision shows */
static double sf_f32_refine_rest__avx512(const float *x, ptrdiff_t n, ptrdiff_t stride,
                                         float scale, double m, double rest);
SF_INLINE int sf_f32_short_row_impl__avx512(const float *x, float *y, ptrdiff_t n, float scale,
                                            const int unit, const int nv, const int lg) {
    const __m512 vs = _mm512_set1_ps(scale);
    __mmask16 k[4];
    __m512 v[4], e[4];
    __m512 m = _mm512_set1_ps(-INFINITY), l = _mm512_set1_ps(INFINITY);
    for (int j = 0; j < 4; j++) {
        if (j >= nv) break;
        const ptrdiff_t left = n - 16 * j;
        k[j] = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
        v[j] = SF_F32_SCALED(unit, _mm512_maskz_loadu_ps(k[j], x + 16 * j), vs);
        m = _mm512_mask_max_ps(m, k[j], v[j], m); /* NaN lanes keep m, as in the max pass */
        l = _mm512_mask_min_ps(l, k[j], v[j], l);
    }
    const float shift = _mm512_reduce_max_ps(m), least = _mm512_reduce_min_ps(l);
    if (!(fabsf(shift) < 0x1p31f) || !(least - shift >= F32_TINY_D)) return 0;
    const __m512 vsh = _mm512_set1_ps(shift), unused_low = vsh;
    /* the terms equal to 1 counted apart (cnt[j]), as in the exp pass: for log_softmax those
     * of v == max, always; for softmax the stored terms equal to 2^64, in the accumulators the
     * exp pass sums again without them (one a vector for n = 64, else one for all: a lane from
     * 2^64 to 2^65, sf_f32_top_lanes__avx512). e[j] the terms (stored), s[j] those without
     * the ones. */
    int ones = 0, cnt[4] = {0, 0, 0, 0};
    __m512 s[4];
    const __m512 vtop = _mm512_set1_ps(F32_BIAS_SCALE);
    for (int j = 0; j < 4; j++) {
        if (j >= nv) break;
        const __m512 t = sf_f32_exp_of_diff__avx512(v[j], vsh, unused_low, 0, SF_DIFF_TWOSUM_NEAR);
        const __mmask16 one = lg ? _mm512_mask_cmp_ps_mask(k[j], v[j], vsh, _CMP_EQ_OQ)
                                 : _mm512_mask_cmp_ps_mask(k[j], t, vtop, _CMP_EQ_OQ);
        cnt[j] = __builtin_popcount(one);
        if (lg) ones += cnt[j]; /* always apart */
        e[j] = _mm512_maskz_mov_ps(k[j], t);
        s[j] = _mm512_maskz_mov_ps((__mmask16)(k[j] & ~one), t);
    }
    __m512 a;
    if (nv == 4 && k[3] == (__mmask16)0xffff) {
        __m512 acc[4];
        for (int j = 0; j < 4; j++) {
            const int apart = lg || sf_f32_top_lanes__avx512(e[j], vtop);
            acc[j] = apart ? s[j] : e[j];
            ones += apart && !lg ? cnt[j] : 0;
        }
        a = _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]));
    } else {
        int apart = lg;
        if (!lg) {
            a = e[0];
            for (int j = 1; j < nv; j++) a = _mm512_add_ps(a, e[j]);
            apart = sf_f32_top_lanes__avx512(a, vtop) != 0;
            if (apart)
                for (int j = 0; j < nv; j++) ones += cnt[j];
        }
        if (apart) {
            a = s[0];
            for (int j = 1; j < nv; j++) a = _mm512_add_ps(a, s[j]);
        }
    }
    const double others = _mm512_reduce_add_pd(_mm512_add_pd(
                              _mm512_cvtps_pd(_mm512_castps512_ps256(a)),
                              _mm512_cvtps_pd(_mm512_extractf32x8_ps(a, 1)))) * (double)F32_EXP_UNBIAS;
    if (others != others) return 0; /* a NaN in the row */
    if (lg) { /* (v - max) - log1p(rest), as partial_three_pass and write_log_softmax */
        const double rest = sf_f32_refine_rest__avx512(x, n, 1, scale, shift,
                                                        ((double)ones - 1.0) + others);
        const __m512 vl = _mm512_set1_ps((float)log1p(rest));
        for (int j = 0; j < 4; j++) {
            if (j >= nv) break;
            _mm512_mask_storeu_ps(y + 16 * j, k[j], _mm512_sub_ps(_mm512_sub_ps(v[j], vsh), vl));
        }
        return 1;
    }
    const double sum = (double)ones + others;
    const double f = 1.0 / sum; /* sf_inverse2: sum >= 1 (the max's term), f normal */
    const double f_lo = fma(-sum, f, 1.0) / sum;
    const double fb = f * (double)F32_EXP_UNBIAS;
    const float hi = (float)fb, lo = (float)((fb - (double)(float)fb) + f_lo * (double)F32_EXP_UNBIAS);
    const __m512 vh = _mm512_set1_ps(hi * F32_FACTOR_SCALE), vl = _mm512_set1_ps(lo * F32_FACTOR_SCALE);
    for (int j = 0; j < 4; j++) {
        if (j >= nv) break;
        _mm512_mask_storeu_ps(y + 16 * j, k[j], sf_f32_apply_factor__avx512(e[j], vh, vl));
    }
    return 1;
}

/* the row's vectors (nv) and scale == 1 compile-time constants in each call: the vectors stay in
 * registers (with nv known only at run time GCC kept them on the stack) */
static int sf_f32_short_row__avx512(const float *x, float *y, ptrdiff_t n, float scale, int lg) {
#define SF_SHORT_LG(nv, lg)                                                                       \
    (scale == 1.0f ? sf_f32_short_row_impl__avx512(x, y, n, scale, 1, nv, lg)                     \
                   : sf_f32_short_row_impl__avx512(x, y, n, scale, 0, nv, lg))
#define SF_SHORT(nv) (lg ? SF_SHORT_LG(nv, 1) : SF_SHORT_LG(nv, 0))
    switch ((n + 15) / 16) {
    case 1: return SF_SHORT(1);
    case 2: return SF_SHORT(2);
    case 3: return SF_SHORT(3);
    default: return SF_SHORT(4);
    }
#undef SF_SHORT
#undef SF_SHORT_LG
}

/* The write passes: y[i] = OP(x[i]) 64 lanes a step, the last 1..63 lanes masked. With
 * `stream`, a masked first step reaches y's next 64-byte boundary and the full steps stream. */
#define SF_F32_WRITE_LOOP(x, y, n, stream, OP)                                                    \
    do {                                                                                          \
        const int st_ = sf_can_stream((y), (stream), sizeof(float));                              \
        ptrdiff_t i = 0;                                                                          \
        if (st_) {                                                                                \
            const ptrdiff_t h_ = sf_stream_lead((y), sizeof(float), 16) % 16;                     \
            i = h_ < (n) ? h_ : (n);                                                              \
            const __mmask16 k_ = (__mmask16)((1u << i) - 1);                                      \
            _mm512_mask_storeu_ps((y), k_, OP(_mm512_maskz_loadu_ps(k_, (x))));                   \
            for (; i + 64 <= (n); i += 64) {                                                      \
                sf_prefetch_256((const char *)((x) + i) + SF_STREAM_AHEAD, 0);                    \
                _mm512_stream_ps((y) + i, OP(_mm512_loadu_ps((x) + i)));                          \
                _mm512_stream_ps((y) + i + 16, OP(_mm512_loadu_ps((x) + i + 16)));                \
                _mm512_stream_ps((y) + i + 32, OP(_mm512_loadu_ps((x) + i + 32)));                \
                _mm512_stream_ps((y) + i + 48, OP(_mm512_loadu_ps((x) + i + 48)));                \
            }                                                                                     \
        } else {                                                                                  \
            for (; i + 64 <= (n); i += 64) {                                                      \
                _mm512_storeu_ps((y) + i, OP(_mm512_loadu_ps((x) + i)));                          \
                _mm512_storeu_ps((y) + i + 16, OP(_mm512_loadu_ps((x) + i + 16)));               \
                _mm512_storeu_ps((y) + i + 32, OP(_mm512_loadu_ps((x) + i + 32)));               \
                _mm512_storeu_ps((y) + i + 48, OP(_mm512_loadu_ps((x) + i + 48)));               \
            }                                                                                     \
        }                                                                                         \
        for (; i < (n); i += 16) {                                                                \
            const __mmask16 k_ = (n) - i >= 16 ? (__mmask16)0xffff                                \
                                               : (__mmask16)((1u << ((n) - i)) - 1);              \
            _mm512_mask_storeu_ps((y) + i, k_, OP(_mm512_maskz_loadu_ps(k_, (x) + i)));           \
        }                                                                                         \
    } while (0)

/* y = src * factor (factor already carries the 2^-64 that unbiases the terms) */
/* y = src * (hi + lo) with one rounding (the portable FN(apply)) */
static void sf_f32_store_scaled__avx512(const float *src, float *y, ptrdiff_t n, float hi,
                                        float lo, int stream) {
    const __m512 vh = _mm512_set1_ps(hi * F32_FACTOR_SCALE), vl = _mm512_set1_ps(lo * F32_FACTOR_SCALE);
#define SF_OP(v) sf_f32_apply_factor__avx512((v), vh, vl)
    SF_F32_WRITE_LOOP(src, y, n, stream, SF_OP);
#undef SF_OP
}

/* y = exp(scale*x - max) * (hi + lo), hi + lo = 2^-64 / sum */
static void sf_f32_store_exp__avx512(const float *x, float *y, ptrdiff_t n, float scale,
                                     float max, float hi, float lo, int stream) {
    const __m512 vs = _mm512_set1_ps(scale), vm = _mm512_set1_ps(max);
    const __m512 vlow = _mm512_set1_ps(sf_f32_low_of(max));
    const __m512 vh = _mm512_set1_ps(hi * F32_FACTOR_SCALE), vl = _mm512_set1_ps(lo * F32_FACTOR_SCALE);
#define SF_OP(v) sf_f32_apply_factor__avx512(sf_f32_exp_of_diff__avx512(_mm512_mul_ps((v), vs), vm, vlow, 0, SF_DIFF_TWOSUM), vh, vl)
#define SF_OP_WIDE(v) sf_f32_apply_factor__avx512(sf_f32_exp_of_diff__avx512(_mm512_mul_ps((v), vs), vm, vlow, 1, SF_DIFF_TWOSUM), vh, vl)
    if (sf_f32_wide_shift(max))
        SF_F32_WRITE_LOOP(x, y, n, stream, SF_OP_WIDE);
    else
        SF_F32_WRITE_LOOP(x, y, n, stream, SF_OP);
#undef SF_OP_WIDE
#undef SF_OP
}

/* y = (scale*x - max) - log_sum, in float: both terms are <= 0, so there is no cancellation. */
static void sf_f32_write_log__avx512(const float *x, float *y, ptrdiff_t n, float scale,
                                     float max, float log_sum, float log_lo, int stream) {
    (void)log_lo; /* beyond float32 */
    const __m512 vs = _mm512_set1_ps(scale), vm = _mm512_set1_ps(max);
    const __m512 vl = _mm512_set1_ps(log_sum);
    if (scale == 1.0f) { /* SF_F32_SCALED's saving */
#define SF_OP(v) _mm512_sub_ps(_mm512_sub_ps((v), vm), vl)
        SF_F32_WRITE_LOOP(x, y, n, stream, SF_OP);
#undef SF_OP
        return;
    }
#define SF_OP(v) _mm512_sub_ps(_mm512_sub_ps(_mm512_mul_ps((v), vs), vm), vl) /* scale*x as the max */
    SF_F32_WRITE_LOOP(x, y, n, stream, SF_OP);
#undef SF_OP
}

/* ---- softmax down the columns of a panel (a non-last axis): w <= 64 contiguous columns ----
 * The portable panel kernel's plan (max; terms stored and summed in float over chunks of rows,
 * the chunk sums in double per column; one multiply by 1 / sum), with the vector
 * exp of the rows, rows prefetched ahead, and a packed copy of the panel where its rows fight
 * over cache sets. Chunks of SF_F32_LANE_TERMS rows (exp_portable.h): with 32, a column of one
 * repeated value below its max was 5.3 ULP off (20000 rows). */
#define SF_COL_SUM_ROWS SF_F32_LANE_TERMS
#define SF_COL_AHEAD 8 /* rows of prefetch distance: 2 KiB of a 64-column panel in flight */

/* Rows a multiple of 512 bytes apart fall into at most 8 of the 64 sets of a 4 KiB-period L1
 * (and few of L2's): a panel of 1000 such rows cannot stay cached between passes. */
SF_INLINE int sf_columns_conflict(ptrdiff_t stride_bytes) { return stride_bytes % 512 == 0; }

SF_INLINE void sf_f32_columns_softmax_impl__avx512(const float *x, float *y, ptrdiff_t n,
                                                   ptrdiff_t w, ptrdiff_t xs, ptrdiff_t ys,
                                                   float scale, const int nv) {
    const ptrdiff_t bs = 16 * nv; /* a packed row of the panel */
    const __m512 vs = _mm512_set1_ps(scale), ninf = _mm512_set1_ps(-INFINITY);
    /* Where the rows of x or y conflict (sf_columns_conflict: a power-of-two width such as
     * 1024), the panel's scaled values are packed into a buffer (when it fits the thread's
     * scratch) and only the first and the last pass touch x and y (1000 x 1024 float32 axis 0,
     * one thread: 1.55 -> 1.09 ns an element). Elsewhere packing only adds traffic (1000 x 1000:
     * 0.66 unpacked, 0.77 packed). */
    const size_t packed = (size_t)n * (size_t)bs * sizeof(float);
    const int pack = (sf_columns_conflict(xs * (ptrdiff_t)sizeof(float)) ||
                      sf_columns_conflict(ys * (ptrdiff_t)sizeof(float))) &&
                     packed <= SF_SCRATCH_KEEP;
    float *buf = pack ? (float *)sf_scratch_get(packed) : NULL;
    __mmask16 k[4];
    __m512 m[4], sh[4], low[4], c[4];
    __m512d shi[8];
    for (int v = 0; v < 4; v++) {
        const ptrdiff_t left = w - 16 * v;
        k[v] = left >= 16 ? (__mmask16)0xffff : left > 0 ? (__mmask16)((1u << left) - 1) : 0;
        m[v] = ninf;
    }
    /* pass 1: max (NaN skipped: vmaxps returns its second operand; the sums catch NaN). The
     * rows of a panel lie in different pages, beyond the hardware prefetchers: each row is
     * prefetched SF_COL_AHEAD rows ahead. */
    for (ptrdiff_t i = 0; i < n; i++) {
        if (i + SF_COL_AHEAD < n) sf_prefetch_256(x + (i + SF_COL_AHEAD) * xs, 1);
        for (int v = 0; v < nv; v++) {
            const __m512 sv = _mm512_mask_mul_ps(ninf, k[v], _mm512_maskz_loadu_ps(k[v], x + i * xs + 16 * v), vs);
            if (buf) _mm512_store_ps(buf + i * bs + 16 * v, sv);
            m[v] = _mm512_max_ps(sv, m[v]);
        }
    }
    float mf[64], lowf[64];
    for (int v = 0; v < nv; v++) { /* the shifts: the max, 0 for a column of -inf */
        m[v] = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(m[v], ninf, _CMP_EQ_OQ), m[v], _mm512_setzero_ps());
        _mm512_storeu_ps(mf + 16 * v, m[v]);
    }
    for (int j = 0; j < 16 * nv; j++) lowf[j] = sf_f32_low_of(mf[j]);
    for (int v = 0; v < nv; v++) {
        sh[v] = m[v];
        low[v] = _mm512_loadu_ps(lowf + 16 * v);
        shi[2 * v] = shi[2 * v + 1] = _mm512_setzero_pd();
    }
    /* pass 2: the terms, stored (in the buffer, or y) and summed in float over chunks of
     * SF_COL_SUM_ROWS rows, the chunk sums in double per column. The terms at a column's max
     * (2^64 each) are counted apart, as in the row kernels (sf_f32_term__avx512): added in the
     * float lanes they made the later additions round at their magnitude (3.6 ULP measured). */
    __mmask16 countable[4];
    for (int v = 0; v < nv; v++) /* a column whose max is +inf has NaN terms, no 1 */
        countable[v] = (__mmask16)(k[v] & _mm512_cmp_ps_mask(sh[v], _mm512_set1_ps(INFINITY), _CMP_NEQ_UQ));
    for (ptrdiff_t i0 = 0; i0 < n; i0 += SF_COL_SUM_ROWS) {
        const ptrdiff_t i1 = n - i0 < SF_COL_SUM_ROWS ? n : i0 + SF_COL_SUM_ROWS;
        __m512 top[4];
        for (int v = 0; v < nv; v++) c[v] = top[v] = _mm512_setzero_ps();
        for (ptrdiff_t i = i0; i < i1; i++)
            for (int v = 0; v < nv; v++) {
                const __m512 sv = buf ? _mm512_load_ps(buf + i * bs + 16 * v)
                                      : _mm512_mul_ps(_mm512_maskz_loadu_ps(k[v], x + i * xs + 16 * v), vs);
                const __m512 e = _mm512_maskz_mov_ps(k[v], sf_f32_exp_of_diff__avx512(sv, sh[v], low[v], 1, SF_DIFF_TWOSUM));
                if (buf)
                    _mm512_store_ps(buf + i * bs + 16 * v, e);
                else
                    _mm512_mask_storeu_ps(y + i * ys + 16 * v, k[v], e);
                const __mmask16 one = _mm512_mask_cmp_ps_mask(countable[v], sv, sh[v], _CMP_EQ_OQ);
                c[v] = _mm512_mask_add_ps(c[v], (__mmask16)~one, c[v], e);
                top[v] = _mm512_mask_add_ps(top[v], one, top[v], _mm512_set1_ps(1.0f));
            }
        for (int v = 0; v < nv; v++) { /* double: n / 4 adds stay far below a float ulp */
            const __m512d b = _mm512_set1_pd(0x1p64);
            shi[2 * v] = _mm512_add_pd(shi[2 * v], _mm512_fmadd_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(top[v])), b,
                                                                   _mm512_cvtps_pd(_mm512_castps512_ps256(c[v]))));
            shi[2 * v + 1] = _mm512_add_pd(shi[2 * v + 1], _mm512_fmadd_pd(_mm512_cvtps_pd(_mm512_extractf32x8_ps(top[v], 1)), b,
                                                                           _mm512_cvtps_pd(_mm512_extractf32x8_ps(c[v], 1))));
        }
    }
    /* the factors 1 / sum, as the portable FN(columns_factors): two floats with 2^-64 */
    double sum[64];
    float fh[64], fl[64];
    for (int v = 0; v < 2 * nv; v++)
        _mm512_storeu_pd(sum + 8 * v, _mm512_mul_pd(shi[v], _mm512_set1_pd((double)F32_EXP_UNBIAS)));
    for (int j = 0; j < 16 * nv; j++) {
        double f_lo;
        const double f = sf_inverse2(sum[j], &f_lo);
        const double fb = f * (double)F32_EXP_UNBIAS;
        fh[j] = (float)fb;
        fl[j] = (float)((fb - (double)(float)fb) + f_lo * (double)F32_EXP_UNBIAS);
    }
    __m512 vh[4], vl[4];
    for (int v = 0; v < nv; v++) {
        vh[v] = _mm512_loadu_ps(fh + 16 * v);
        vl[v] = _mm512_loadu_ps(fl + 16 * v);
    }
    /* pass 3: y = terms / sum */
    for (ptrdiff_t i = 0; i < n; i++) {
        if (i + SF_COL_AHEAD < n) {
            const char *c = (const char *)(y + (i + SF_COL_AHEAD) * ys);
            _mm_prefetch(c, _MM_HINT_ET0); _mm_prefetch(c + 64, _MM_HINT_ET0);
            _mm_prefetch(c + 128, _MM_HINT_ET0); _mm_prefetch(c + 192, _MM_HINT_ET0);
        }
        for (int v = 0; v < nv; v++) {
            float *o = y + i * ys + 16 * v;
            const __m512 t = buf ? _mm512_load_ps(buf + i * bs + 16 * v) : _mm512_maskz_loadu_ps(k[v], o);
            _mm512_mask_storeu_ps(o, k[v], _mm512_fmadd_ps(t, vh[v], _mm512_mul_ps(t, vl[v])));
        }
    }
    if (buf) sf_scratch_release(buf);
}

/* nv (vectors of the panel, 1..4) a compile-time constant in each call: the loops over the
 * panel's vectors unroll and their running maxima and sums stay in registers (with nv known
 * only at run time, GCC kept them on the stack: a store-to-load round trip on every max) */
static void sf_f32_columns_softmax__avx512(const float *x, float *y, ptrdiff_t n, ptrdiff_t w,
                                           ptrdiff_t xs, ptrdiff_t ys, float scale) {
    switch ((w + 15) / 16) {
    case 4: sf_f32_columns_softmax_impl__avx512(x, y, n, w, xs, ys, scale, 4); break;
    case 3: sf_f32_columns_softmax_impl__avx512(x, y, n, w, xs, ys, scale, 3); break;
    case 2: sf_f32_columns_softmax_impl__avx512(x, y, n, w, xs, ys, scale, 2); break;
    default: /* 1..16 columns: callers pass at most COL_TILE = 64 */
        sf_f32_columns_softmax_impl__avx512(x, y, n, w, xs, ys, scale, 1);
        break;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* float64: the same primitives, 8 lanes a vector, the degree-11 polynomial                    */

/* p * 2^(n + 128) < 2^-1075 rounds to 0 below this */
#define F64_AVX512_FLOOR (-835.0)
#define F64_BIAS_SCALE 0x1p128 /* 2^F64_EXP_BIAS */

SF_INLINE __m512d sf_f64_exp_reduced__avx512(__m512d d, __m512d lo, __mmask8 use_lo,
                                              const int clamp) {
    if (clamp) d = _mm512_max_pd(_mm512_set1_pd(F64_AVX512_FLOOR), d); /* keeps NaN */
    const __m512d magic = _mm512_set1_pd(F64_ROUND_MAGIC); /* as for float32 */
    const __m512d n = _mm512_sub_pd(_mm512_fmadd_pd(d, _mm512_set1_pd(F64_LOG2E), magic), magic);
    __m512d r = _mm512_fnmadd_pd(n, _mm512_set1_pd(F64_LN2_LO),
                                 _mm512_fnmadd_pd(n, _mm512_set1_pd(F64_LN2_HI), d));
    r = _mm512_mask_add_pd(r, use_lo, r, lo);
    __m512d p = _mm512_fmadd_pd(_mm512_set1_pd(F64_EXP_C11 * F64_BIAS_SCALE), r,
                                _mm512_set1_pd(F64_EXP_C10 * F64_BIAS_SCALE));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(F64_EXP_C9 * F64_BIAS_SCALE));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(F64_EXP_C8 * F64_BIAS_SCALE));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(F64_EXP_C7 * F64_BIAS_SCALE));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(F64_EXP_C6 * F64_BIAS_SCALE));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(F64_EXP_C5 * F64_BIAS_SCALE));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(F64_EXP_C4 * F64_BIAS_SCALE));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(F64_EXP_C3 * F64_BIAS_SCALE));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(F64_EXP_C2 * F64_BIAS_SCALE));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(F64_BIAS_SCALE));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(F64_BIAS_SCALE));
    return _mm512_scalef_pd(p, n);
}

SF_INLINE __m512d sf_f64_exp_biased__avx512(__m512d d) {
    return sf_f64_exp_reduced__avx512(d, _mm512_setzero_pd(), 0, 1);
}

/* exp(v - shift) * 2^BIAS, v - shift exact in the given form (SF_DIFF_*, as float32's). The
 * general form clamps the difference to the floor and masks the error where it is not finite
 * (v = -inf); the others know every v - shift finite and within reach, and need neither. */
SF_INLINE __m512d sf_f64_exp_of_diff__avx512(__m512d v, __m512d shift, const int form) {
    const __m512d hi = _mm512_sub_pd(v, shift);
    __m512d lo;
    if (form == SF_DIFF_SHIFT_BIG) {
        lo = _mm512_sub_pd(v, _mm512_add_pd(hi, shift));
    } else if (form == SF_DIFF_V_BIG) {
        lo = _mm512_sub_pd(_mm512_sub_pd(v, hi), shift);
    } else {
        const __m512d bv = _mm512_sub_pd(hi, v);
        lo = _mm512_sub_pd(_mm512_sub_pd(v, _mm512_sub_pd(hi, bv)), _mm512_add_pd(shift, bv));
    }
    if (form != SF_DIFF_TWOSUM) return sf_f64_exp_reduced__avx512(hi, lo, (__mmask8)0xff, 0);
    const __mmask8 finite = _mm512_cmp_pd_mask(hi, _mm512_set1_pd(F64_AVX512_FLOOR), _CMP_GE_OQ);
    return sf_f64_exp_reduced__avx512(hi, lo, finite, 1);
}

/* One vector of terms of sf_f64_raddexp_impl__avx512: exp(x*scale - shift) * 2^BIAS in the
 * `live` lanes (0 elsewhere); without `store`, lanes equal to the shift (exactly 1) are counted
 * in *ones and give 0 (as FN(expsum_term) in kernels_portable.inc). */
SF_INLINE __m512d sf_f64_term__avx512(__m512d xv, __m512d vs, __m512d vsh, __mmask8 live,
                                      __mmask8 countable, int store, const int form,
                                      ptrdiff_t *ones) {
    const __m512d v = _mm512_mul_pd(xv, vs);
    if (store) return _mm512_maskz_mov_pd(live, sf_f64_exp_of_diff__avx512(v, vsh, form));
    const __mmask8 one = _mm512_mask_cmp_pd_mask(live & countable, v, vsh, _CMP_EQ_OQ);
    *ones += __builtin_popcount(one);
    return _mm512_maskz_mov_pd((__mmask8)(live & ~one), sf_f64_exp_of_diff__avx512(v, vsh, form));
}

/* *a += e with the rounding error added to *c (Fast2Sum, larger addend first: terms are
 * nonnegative): LANE_ADD of kernels_portable.h */
SF_INLINE void sf_f64_fast2sum_add__avx512(__m512d *a, __m512d *c, __m512d e) {
    const __m512d s = _mm512_add_pd(*a, e);
    const __m512d big = _mm512_max_pd(*a, e), small = _mm512_min_pd(*a, e);
    *c = _mm512_add_pd(*c, _mm512_add_pd(_mm512_sub_pd(big, s), small));
    *a = s;
}

/* the row max of scale*x, and in *least its least value (as sf_f32_rmax__avx512) */
static double sf_f64_rmax__avx512(const double *x, ptrdiff_t n, double scale, double *least) {
    const __m512d vs = _mm512_set1_pd(scale), ninf = _mm512_set1_pd(-INFINITY);
    const __m512d pinf = _mm512_set1_pd(INFINITY);
    __m512d m0 = ninf, m1 = ninf, m2 = ninf, m3 = ninf, l0 = pinf, l1 = pinf, l2 = pinf, l3 = pinf;
    ptrdiff_t i = sf_head_to_line(x, sizeof(double), n);
    if (i) { /* as in sf_f32_rmax_impl__avx512 */
        const __mmask8 k = (__mmask8)((1u << i) - 1);
        const __m512d v = _mm512_mul_pd(_mm512_maskz_loadu_pd(k, x), vs);
        m0 = _mm512_mask_mov_pd(ninf, k, v);
        l0 = _mm512_mask_mov_pd(pinf, k, v);
    }
    for (; i + 32 <= n; i += 32) {
        const __m512d v0 = _mm512_mul_pd(_mm512_loadu_pd(x + i), vs);
        const __m512d v1 = _mm512_mul_pd(_mm512_loadu_pd(x + i + 8), vs);
        const __m512d v2 = _mm512_mul_pd(_mm512_loadu_pd(x + i + 16), vs);
        const __m512d v3 = _mm512_mul_pd(_mm512_loadu_pd(x + i + 24), vs);
        m0 = _mm512_max_pd(v0, m0);
        m1 = _mm512_max_pd(v1, m1);
        m2 = _mm512_max_pd(v2, m2);
        m3 = _mm512_max_pd(v3, m3);
        l0 = _mm512_min_pd(v0, l0);
        l1 = _mm512_min_pd(v1, l1);
        l2 = _mm512_min_pd(v2, l2);
        l3 = _mm512_min_pd(v3, l3);
    }
    for (; i < n; i += 8) {
        const __mmask8 k = n - i >= 8 ? (__mmask8)0xff : (__mmask8)((1u << (n - i)) - 1);
        const __m512d v = _mm512_mul_pd(_mm512_maskz_loadu_pd(k, x + i), vs);
        m1 = _mm512_max_pd(_mm512_mask_mov_pd(ninf, k, v), m1);
        l1 = _mm512_min_pd(_mm512_mask_mov_pd(pinf, k, v), l1);
    }
    *least = _mm512_reduce_min_pd(_mm512_min_pd(_mm512_min_pd(l0, l1), _mm512_min_pd(l2, l3)));
    return _mm512_reduce_max_pd(_mm512_max_pd(_mm512_max_pd(m0, m1), _mm512_max_pd(m2, m3)));
}

/* the flush of sf_f64_raddexp_flush__avx512, as float32's */
#define SF_F64_FLUSH_OP(v) _mm512_fmadd_pd((v), vfh, _mm512_mul_pd((v), vfl))
#define SF_F64_FLUSH_STREAM8(j) \
    _mm512_stream_pd(fdst + (j), SF_F64_FLUSH_OP(_mm512_loadu_pd(fsrc + (j))))
#define SF_F64_FLUSH_MASKED(j, k) \
    _mm512_mask_storeu_pd(fdst + (j), (k), SF_F64_FLUSH_OP(_mm512_maskz_loadu_pd((k), fsrc + (j))))

SF_INLINE double sf_f64_raddexp_impl__avx512(const double *x, double *y, ptrdiff_t n,
                                             double scale, double shift, const double *next,
                                             const int store, const int form, double *rest,
                                             const int flush,
                                             const double *fsrc, double *fdst, double fh,
                                             double fl) {
    const __m512d vs = _mm512_set1_pd(scale), vsh = _mm512_set1_pd(shift);
    const __m512d vfh = _mm512_set1_pd(fh), vfl = _mm512_set1_pd(fl);
    ptrdiff_t j = 0; /* the flush's next element */
    if (flush) {
        j = sf_stream_lead(fdst, sizeof(double), 8) % 8;
        j = j < n ? j : n;
        SF_F64_FLUSH_MASKED(0, (__mmask8)((1u << j) - 1));
    }
    const int to_l1 = sf_prefetch_to_l1(n * (ptrdiff_t)sizeof(double));
    const __mmask8 all = (__mmask8)0xff, countable = isfinite(shift) ? all : 0;
    double hi = 0, lo = 0;
    ptrdiff_t ones = 0;
    ptrdiff_t i = 0;
    while (i < n) {
        const ptrdiff_t end = n - i > 1024 ? i + 1024 : n;
        /* two compensated lane sums, each fed the plain sum of two vectors of terms (as
         * FN(expsum)) */
        __m512d a0 = _mm512_setzero_pd(), a1 = a0, c0 = a0, c1 = a0;
        for (; i + 32 <= end; i += 32) {
            if (next) sf_prefetch_256(next + i, to_l1);
            const __m512d e0 = sf_f64_term__avx512(_mm512_loadu_pd(x + i), vs, vsh, all, countable, store, form, &ones);
            const __m512d e1 = sf_f64_term__avx512(_mm512_loadu_pd(x + i + 8), vs, vsh, all, countable, store, form, &ones);
            const __m512d e2 = sf_f64_term__avx512(_mm512_loadu_pd(x + i + 16), vs, vsh, all, countable, store, form, &ones);
            const __m512d e3 = sf_f64_term__avx512(_mm512_loadu_pd(x + i + 24), vs, vsh, all, countable, store, form, &ones);
            if (store) {
                _mm512_storeu_pd(y + i, e0);
                _mm512_storeu_pd(y + i + 8, e1);
                _mm512_storeu_pd(y + i + 16, e2);
                _mm512_storeu_pd(y + i + 24, e3);
            }
            if (flush && j + 32 <= n) {
                SF_F64_FLUSH_STREAM8(j);
                SF_F64_FLUSH_STREAM8(j + 8);
                SF_F64_FLUSH_STREAM8(j + 16);
                SF_F64_FLUSH_STREAM8(j + 24);
                j += 32;
            }
            sf_f64_fast2sum_add__avx512(&a0, &c0, _mm512_add_pd(e0, e1));
            sf_f64_fast2sum_add__avx512(&a1, &c1, _mm512_add_pd(e2, e3));
        }
        for (; i < end; i += 8) {
            const __mmask8 k = end - i >= 8 ? (__mmask8)0xff : (__mmask8)((1u << (end - i)) - 1);
            const __m512d e = sf_f64_term__avx512(_mm512_maskz_loadu_pd(k, x + i), vs, vsh, k, countable, store, form, &ones);
            if (store) _mm512_mask_storeu_pd(y + i, k, e);
            sf_f64_fast2sum_add__avx512(&a1, &c1, e);
        }
        i = end;
        /* the 16 lane sums into the total one by one, compensated; the errors summed plainly */
        double lanes[16];
        _mm512_storeu_pd(lanes, a0);
        _mm512_storeu_pd(lanes + 8, a1);
        for (int j = 0; j < 16; j++) sf_acc_add(&hi, &lo, lanes[j]);
        lo += _mm512_reduce_add_pd(_mm512_add_pd(c0, c1));
    }
    if (flush) {
        for (; j + 8 <= n; j += 8) SF_F64_FLUSH_STREAM8(j);
        if (j < n) SF_F64_FLUSH_MASKED(j, (__mmask8)((1u << (n - j)) - 1));
    }
    const double others = (hi + lo) * F64_EXP_UNBIAS;
    if (!store) *rest = ((double)ones - 1.0) + others;
    return (double)ones + others;
}

static double sf_f64_raddexp__avx512(const double *x, double *y, ptrdiff_t n, double scale,
                                     double shift, double least, const double *next,
                                     double *rest, double *eff) {
    (void)eff; /* the terms are relative to `shift` itself */
#define SF_CALL(form)                                                                             \
    (y ? sf_f64_raddexp_impl__avx512(x, y, n, scale, shift, next, 1, form, NULL, 0, NULL, NULL,  \
                                     0, 0)                                                       \
       : sf_f64_raddexp_impl__avx512(x, NULL, n, scale, shift, next, 0, form, rest, 0, NULL,     \
                                     NULL, 0, 0))
    SF_RETURN_BY_DIFF_FORM(sf_diff_form(shift, least, 0), SF_CALL);
#undef SF_CALL
}

/* sf_f32_raddexp_flush__avx512 for float64 (4096 x 4096, 2 threads: ...) */
static double sf_f64_raddexp_flush__avx512(const double *x, double *y, ptrdiff_t n, double scale,
                                           double shift, double least, const double *next,
                                           const double *fsrc, double *fdst, double fh,
                                           double fl, double *eff) {
    (void)eff;
#define SF_CALL(form)                                                                             \
    sf_f64_raddexp_impl__avx512(x, y, n, scale, shift, next, 1, form, NULL, SF_FLUSH_RESCALE,    \
                                fsrc, fdst, fh, fl)
    SF_RETURN_BY_DIFF_FORM(sf_diff_form(shift, least, 0), SF_CALL);
#undef SF_CALL
}

#define SF_F64_WRITE_LOOP(x, y, n, stream, OP)                                                    \
    do {                                                                                          \
        const int st_ = sf_can_stream((y), (stream), sizeof(double));                             \
        ptrdiff_t i = 0;                                                                          \
        if (st_) {                                                                                \
            const ptrdiff_t h_ = sf_stream_lead((y), sizeof(double), 8) % 8;                      \
            i = h_ < (n) ? h_ : (n);                                                              \
            const __mmask8 k_ = (__mmask8)((1u << i) - 1);                                        \
            _mm512_mask_storeu_pd((y), k_, OP(_mm512_maskz_loadu_pd(k_, (x))));                   \
            for (; i + 32 <= (n); i += 32) {                                                      \
                sf_prefetch_256((const char *)((x) + i) + SF_STREAM_AHEAD, 0);                    \
                _mm512_stream_pd((y) + i, OP(_mm512_loadu_pd((x) + i)));                          \
                _mm512_stream_pd((y) + i + 8, OP(_mm512_loadu_pd((x) + i + 8)));                  \
                _mm512_stream_pd((y) + i + 16, OP(_mm512_loadu_pd((x) + i + 16)));                \
                _mm512_stream_pd((y) + i + 24, OP(_mm512_loadu_pd((x) + i + 24)));                \
            }                                                                                     \
        } else {                                                                                  \
            for (; i + 32 <= (n); i += 32) {                                                      \
                _mm512_storeu_pd((y) + i, OP(_mm512_loadu_pd((x) + i)));                          \
                _mm512_storeu_pd((y) + i + 8, OP(_mm512_loadu_pd((x) + i + 8)));                 \
                _mm512_storeu_pd((y) + i + 16, OP(_mm512_loadu_pd((x) + i + 16)));               \
                _mm512_storeu_pd((y) + i + 24, OP(_mm512_loadu_pd((x) + i + 24)));               \
            }                                                                                     \
        }                                                                                         \
        for (; i < (n); i += 8) {                                                                 \
            const __mmask8 k_ = (n) - i >= 8 ? (__mmask8)0xff : (__mmask8)((1u << ((n) - i)) - 1); \
            _mm512_mask_storeu_pd((y) + i, k_, OP(_mm512_maskz_loadu_pd(k_, (x) + i)));           \
        }                                                                                         \
    } while (0)

static void sf_f64_store_scaled__avx512(const double *src, double *y, ptrdiff_t n, double hi,
                                        double lo, int stream) {
    const __m512d vh = _mm512_set1_pd(hi), vl = _mm512_set1_pd(lo);
#define SF_OP(v) _mm512_fmadd_pd((v), vh, _mm512_mul_pd((v), vl))
    SF_F64_WRITE_LOOP(src, y, n, stream, SF_OP);
#undef SF_OP
}

SF_INLINE __m512d sf_f64_mul_factor__avx512(__m512d t, __m512d hi, __m512d lo) {
    return _mm512_fmadd_pd(t, hi, _mm512_mul_pd(t, lo));
}

static void sf_f64_store_exp__avx512(const double *x, double *y, ptrdiff_t n, double scale,
                                     double max, double hi, double lo, int stream) {
    const __m512d vs = _mm512_set1_pd(scale), vm = _mm512_set1_pd(max);
    const __m512d vh = _mm512_set1_pd(hi), vl = _mm512_set1_pd(lo);
#define SF_OP(v) sf_f64_mul_factor__avx512(sf_f64_exp_of_diff__avx512(_mm512_mul_pd((v), vs), vm, SF_DIFF_TWOSUM), vh, vl)
    SF_F64_WRITE_LOOP(x, y, n, stream, SF_OP);
#undef SF_OP
}

/* a - b = hi + *lo exactly (TwoSum), lanes as f64_two_diff */
SF_INLINE __m512d sf_f64_two_diff__avx512(__m512d a, __m512d b, __m512d *lo) {
    const __m512d hi = _mm512_sub_pd(a, b);
    const __m512d bv = _mm512_sub_pd(hi, a);
    *lo = _mm512_sub_pd(_mm512_sub_pd(a, _mm512_sub_pd(hi, bv)), _mm512_add_pd(b, bv));
    return hi;
}

/* ---- a log_softmax row's rest taken again (kernels_portable.inc, FN(rest_exact)) ----
 * The sum of exp(v - m) 2^128 over a contiguous row, v = scale * x rounded to the dtype, the
 * terms at v == m counted apart, returned as rest = (count - 1) + sum 2^-128: the terms in
 * higher precision than the dtype's. Only the values v >= low count (the others' terms are
 * negligible, FN(refine_rest)): a row of logits has few of them, so they are packed first
 * (vcompressps into a small buffer, a vector of them computed at a time) instead of computing
 * every vector that holds one (1000-long rows of N(0, 1) x 30: 180 -> 90 ns). float32: v - m
 * exact in double and the float64 exp (its ~1 ulp is 2^-52), summed in double lanes. float64:
 * v - m exact (TwoSum) and the exp's result as an unrounded pair, within ~2^-55, summed
 * compensated. */
SF_INLINE void sf_f32_rest_add__avx512(__m512 v, __mmask16 live, float m, __m512d *acc,
                                       ptrdiff_t *ones) {
    const __mmask16 one = _mm512_mask_cmp_ps_mask(live, v, _mm512_set1_ps(m), _CMP_EQ_OQ);
    live = (__mmask16)(live & ~one);
    *ones += __builtin_popcount((unsigned)one);
    const __m512d md = _mm512_set1_pd((double)m);
    const __m512d t0 = sf_f64_exp_biased__avx512(
        _mm512_sub_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(v)), md));
    const __m512d t1 = sf_f64_exp_biased__avx512(
        _mm512_sub_pd(_mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1)), md));
    *acc = _mm512_mask_add_pd(*acc, (__mmask8)live, *acc, t0);
    *acc = _mm512_mask_add_pd(*acc, (__mmask8)(live >> 8), *acc, t1);
}

static double sf_f32_rest_exact_row__avx512(const float *x, ptrdiff_t n, float scale, float m,
                                            float low) {
    const __m512 vs = _mm512_set1_ps(scale), vlow = _mm512_set1_ps(low);
    __m512d acc = _mm512_setzero_pd();
    ptrdiff_t ones = 0;
    if (n <= 48) { /* short rows: every vector computed, without packing (17 long: 47 -> 33 ns) */
        for (ptrdiff_t i = 0; i < n; i += 16) {
            const __mmask16 k = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
            const __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(k, x + i), vs);
            sf_f32_rest_add__avx512(v, _mm512_mask_cmp_ps_mask(k, v, vlow, _CMP_GE_OQ), m, &acc, &ones);
        }
        return ((double)ones - 1.0) + _mm512_reduce_add_pd(acc) * F64_EXP_UNBIAS;
    }
    float buf[96]; /* the packed values: fewer than 16 between iterations */
    int nb = 0;
    ptrdiff_t i = 0;
    /* four vectors a step: their stores' offsets from four independent counts, so that the
     * loop does not wait on one count after another (7 -> ~3 cycles a vector) */
    for (; i + 64 <= n; i += 64) {
        __m512 v[4];
        __mmask16 keep[4];
        int c[4];
        for (int j = 0; j < 4; j++) {
            v[j] = _mm512_mul_ps(_mm512_loadu_ps(x + i + 16 * j), vs);
            keep[j] = _mm512_cmp_ps_mask(v[j], vlow, _CMP_GE_OQ);
            c[j] = __builtin_popcount((unsigned)keep[j]);
        }
        if (!(keep[0] | keep[1] | keep[2] | keep[3])) continue;
        _mm512_storeu_ps(buf + nb, _mm512_maskz_compress_ps(keep[0], v[0]));
        _mm512_storeu_ps(buf + nb + c[0], _mm512_maskz_compress_ps(keep[1], v[1]));
        _mm512_storeu_ps(buf + nb + c[0] + c[1], _mm512_maskz_compress_ps(keep[2], v[2]));
        _mm512_storeu_ps(buf + nb + c[0] + c[1] + c[2], _mm512_maskz_compress_ps(keep[3], v[3]));
        nb += c[0] + c[1] + c[2] + c[3];
        int at = 0;
        for (; nb - at >= 16; at += 16)
            sf_f32_rest_add__avx512(_mm512_loadu_ps(buf + at), (__mmask16)0xffff, m, &acc, &ones);
        if (at) {
            _mm512_storeu_ps(buf, _mm512_loadu_ps(buf + at));
            nb -= at;
        }
    }
    for (; i < n; i += 16) {
        const __mmask16 k = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        const __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(k, x + i), vs);
        const __mmask16 keep = _mm512_mask_cmp_ps_mask(k, v, vlow, _CMP_GE_OQ);
        _mm512_storeu_ps(buf + nb, _mm512_maskz_compress_ps(keep, v));
        nb += __builtin_popcount((unsigned)keep);
        if (nb >= 16) {
            sf_f32_rest_add__avx512(_mm512_loadu_ps(buf), (__mmask16)0xffff, m, &acc, &ones);
            _mm512_storeu_ps(buf, _mm512_loadu_ps(buf + 16));
            nb -= 16;
        }
    }
    if (nb) sf_f32_rest_add__avx512(_mm512_loadu_ps(buf), (__mmask16)((1u << nb) - 1), m, &acc, &ones);
    return ((double)ones - 1.0) + _mm512_reduce_add_pd(acc) * F64_EXP_UNBIAS;
}

SF_INLINE void sf_f64_rest_add__avx512(__m512d v, __mmask8 live, double m, __m512d *hi,
                                       __m512d *lo, ptrdiff_t *ones) {
    const __m512d vm = _mm512_set1_pd(m);
    const __m512d one_v = _mm512_set1_pd(1.0), magic = _mm512_set1_pd(F64_ROUND_MAGIC);
    const __mmask8 one = _mm512_mask_cmp_pd_mask(live, v, vm, _CMP_EQ_OQ);
    *ones += __builtin_popcount((unsigned)one);
    __m512d dl;
    const __m512d d = sf_f64_two_diff__avx512(v, vm, &dl);
    /* below the floor a term is nothing beside the max's */
    live = (__mmask8)(live & ~one) &
           _mm512_cmp_pd_mask(d, _mm512_set1_pd(F64_AVX512_FLOOR), _CMP_GE_OQ);
    /* f64_exp_term_exact's steps (exp_portable.h), 8 lanes at a time */
    const __m512d nf = _mm512_sub_pd(_mm512_fmadd_pd(d, _mm512_set1_pd(F64_LOG2E), magic), magic);
    const __m512d r1 = _mm512_fnmadd_pd(nf, _mm512_set1_pd(F64_LN2_HI), d);
    const __m512d nl = _mm512_mul_pd(nf, _mm512_set1_pd(F64_LN2_LO));
    const __m512d rh = _mm512_sub_pd(r1, nl);
    const __m512d rl = _mm512_add_pd(_mm512_sub_pd(_mm512_sub_pd(r1, rh), nl), dl);
    __m512d q = _mm512_fmadd_pd(_mm512_set1_pd(F64_EXP_C11), rh, _mm512_set1_pd(F64_EXP_C10));
    q = _mm512_fmadd_pd(q, rh, _mm512_set1_pd(F64_EXP_C9));
    q = _mm512_fmadd_pd(q, rh, _mm512_set1_pd(F64_EXP_C8));
    q = _mm512_fmadd_pd(q, rh, _mm512_set1_pd(F64_EXP_C7));
    q = _mm512_fmadd_pd(q, rh, _mm512_set1_pd(F64_EXP_C6));
    q = _mm512_fmadd_pd(q, rh, _mm512_set1_pd(F64_EXP_C5));
    q = _mm512_fmadd_pd(q, rh, _mm512_set1_pd(F64_EXP_C4));
    q = _mm512_fmadd_pd(q, rh, _mm512_set1_pd(F64_EXP_C3));
    q = _mm512_fmadd_pd(q, rh, _mm512_set1_pd(F64_EXP_C2));
    const __m512d t = _mm512_mul_pd(_mm512_mul_pd(q, rh), rh);
    const __m512d sv = _mm512_add_pd(one_v, rh);
    const __m512d e = _mm512_add_pd(_mm512_sub_pd(one_v, sv), rh);
    const __m512d a = _mm512_fmadd_pd(rl, _mm512_add_pd(sv, t), t);
    const __m512d c = _mm512_add_pd(e, a);
    const __m512d ph = _mm512_add_pd(sv, c);
    const __m512d pl = _mm512_sub_pd(c, _mm512_sub_pd(ph, sv));
    const __m512d kb = _mm512_add_pd(nf, _mm512_set1_pd((double)F64_EXP_BIAS));
    const __m512d th = _mm512_scalef_pd(ph, kb), tl = _mm512_scalef_pd(pl, kb);
    /* hi + lo += th + tl: TwoSum of hi and th, its error and tl into lo */
    __m512d err;
    const __m512d sum = sf_f64_two_diff__avx512(*hi, _mm512_sub_pd(_mm512_setzero_pd(), th), &err);
    *hi = _mm512_mask_mov_pd(*hi, live, sum);
    *lo = _mm512_mask_add_pd(*lo, live, *lo, _mm512_add_pd(err, tl));
}

static double sf_f64_rest_exact_row__avx512(const double *x, ptrdiff_t n, double scale,
                                            double m, double low) {
    const __m512d vs = _mm512_set1_pd(scale), vlow = _mm512_set1_pd(low);
    __m512d hi = _mm512_setzero_pd(), lo = _mm512_setzero_pd();
    ptrdiff_t ones = 0;
    if (n <= 24) { /* short rows: every vector computed, without packing */
        for (ptrdiff_t i = 0; i < n; i += 8) {
            const __mmask8 k = n - i >= 8 ? (__mmask8)0xff : (__mmask8)((1u << (n - i)) - 1);
            const __m512d v = _mm512_mul_pd(_mm512_maskz_loadu_pd(k, x + i), vs);
            sf_f64_rest_add__avx512(v, _mm512_mask_cmp_pd_mask(k, v, vlow, _CMP_GE_OQ), m, &hi,
                                    &lo, &ones);
        }
    } else {
    double buf[48]; /* the packed values: fewer than 8 between iterations */
    int nb = 0;
    ptrdiff_t i = 0;
    for (; i + 32 <= n; i += 32) { /* four vectors a step, as float32's */
        __m512d v[4];
        __mmask8 keep[4];
        int c[4];
        for (int j = 0; j < 4; j++) {
            v[j] = _mm512_mul_pd(_mm512_loadu_pd(x + i + 8 * j), vs);
            keep[j] = _mm512_cmp_pd_mask(v[j], vlow, _CMP_GE_OQ);
            c[j] = __builtin_popcount((unsigned)keep[j]);
        }
        if (!(keep[0] | keep[1] | keep[2] | keep[3])) continue;
        _mm512_storeu_pd(buf + nb, _mm512_maskz_compress_pd(keep[0], v[0]));
        _mm512_storeu_pd(buf + nb + c[0], _mm512_maskz_compress_pd(keep[1], v[1]));
        _mm512_storeu_pd(buf + nb + c[0] + c[1], _mm512_maskz_compress_pd(keep[2], v[2]));
        _mm512_storeu_pd(buf + nb + c[0] + c[1] + c[2], _mm512_maskz_compress_pd(keep[3], v[3]));
        nb += c[0] + c[1] + c[2] + c[3];
        int at = 0;
        for (; nb - at >= 8; at += 8)
            sf_f64_rest_add__avx512(_mm512_loadu_pd(buf + at), (__mmask8)0xff, m, &hi, &lo, &ones);
        if (at) {
            _mm512_storeu_pd(buf, _mm512_loadu_pd(buf + at));
            nb -= at;
        }
    }
    for (; i < n; i += 8) {
        const __mmask8 k = n - i >= 8 ? (__mmask8)0xff : (__mmask8)((1u << (n - i)) - 1);
        const __m512d v = _mm512_mul_pd(_mm512_maskz_loadu_pd(k, x + i), vs);
        const __mmask8 keep = _mm512_mask_cmp_pd_mask(k, v, vlow, _CMP_GE_OQ);
        _mm512_storeu_pd(buf + nb, _mm512_maskz_compress_pd(keep, v));
        nb += __builtin_popcount((unsigned)keep);
        if (nb >= 8) {
            sf_f64_rest_add__avx512(_mm512_loadu_pd(buf), (__mmask8)0xff, m, &hi, &lo, &ones);
            _mm512_storeu_pd(buf, _mm512_loadu_pd(buf + 8));
            nb -= 8;
        }
    }
    if (nb) sf_f64_rest_add__avx512(_mm512_loadu_pd(buf), (__mmask8)((1u << nb) - 1), m, &hi, &lo, &ones);
    }
    double h[8], l[8], sh = 0.0, sl = 0.0;
    _mm512_storeu_pd(h, hi);
    _mm512_storeu_pd(l, lo);
    for (int j = 0; j < 8; j++) {
        sf_acc_add(&sh, &sl, h[j]);
        sl += l[j];
    }
    return ((double)ones - 1.0) + (sh + sl) * F64_EXP_UNBIAS;
}

/* (v - max) - (log_sum + log_lo) rounded about once, as the portable two-term write */
SF_INLINE __m512d sf_f64_log_term__avx512(__m512d v, __m512d vm, __m512d vlh, __m512d vll) {
    __m512d dl, e;
    const __m512d dh = sf_f64_two_diff__avx512(v, vm, &dl);
    const __m512d s = sf_f64_two_diff__avx512(dh, vlh, &e);
    __m512d c = _mm512_sub_pd(_mm512_add_pd(e, dl), vll);
    c = _mm512_maskz_mov_pd(_mm512_cmp_pd_mask(c, c, _CMP_ORD_Q), c); /* NaN: dh not finite */
    return _mm512_add_pd(s, c);
}

static void sf_f64_write_log__avx512(const double *x, double *y, ptrdiff_t n, double scale,
                                     double max, double log_sum, double log_lo, int stream) {
    const __m512d vs = _mm512_set1_pd(scale), vm = _mm512_set1_pd(max);
    const __m512d vlh = _mm512_set1_pd(log_sum), vll = _mm512_set1_pd(log_lo);
#define SF_OP(v) sf_f64_log_term__avx512(_mm512_mul_pd((v), vs), vm, vlh, vll)
    SF_F64_WRITE_LOOP(x, y, n, stream, SF_OP);
#undef SF_OP
}

/* ------------------------------------------------------------------------------------------ */
/* float16 / bfloat16 <-> float32, 16 lanes a vector, masked tails                            */

SF_INLINE __mmask16 sf_tail_mask16(ptrdiff_t left) {
    return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
}

static void sf_f16_to_f32__avx512(const uint16_t *x, float *y, ptrdiff_t n) {
    ptrdiff_t i = 0;
    for (; i + 32 <= n; i += 32) {
        _mm512_storeu_ps(y + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(x + i))));
        _mm512_storeu_ps(y + i + 16,
                         _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(x + i + 16))));
    }
    for (; i < n; i += 16) {
        const __mmask16 k = sf_tail_mask16(n - i);
        _mm512_mask_storeu_ps(y + i, k, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(k, x + i)));
    }
}

static void sf_f32_to_f16__avx512(const float *x, uint16_t *y, ptrdiff_t n) {
    ptrdiff_t i = 0;
    for (; i + 32 <= n; i += 32) { /* vcvtps2ph: round to nearest even, NaN quieted */
        _mm256_storeu_si256((__m256i *)(y + i),
                            _mm512_cvtps_ph(_mm512_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
        _mm256_storeu_si256((__m256i *)(y + i + 16),
                            _mm512_cvtps_ph(_mm512_loadu_ps(x + i + 16), _MM_FROUND_TO_NEAREST_INT));
    }
    for (; i < n; i += 16) {
        const __mmask16 k = sf_tail_mask16(n - i);
        _mm256_mask_storeu_epi16(y + i, k, _mm512_cvtps_ph(_mm512_maskz_loadu_ps(k, x + i),
                                                           _MM_FROUND_TO_NEAREST_INT));
    }
}

static void sf_bf16_to_f32__avx512(const uint16_t *x, float *y, ptrdiff_t n) {
    ptrdiff_t i = 0;
    for (; i < n; i += 16) { /* a bfloat16 is the high half of a float32 */
        const __mmask16 k = sf_tail_mask16(n - i);
        const __m512i w = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(k, x + i));
        _mm512_mask_storeu_ps(y + i, k, _mm512_castsi512_ps(_mm512_slli_epi32(w, 16)));
    }
}

/* round to nearest even on bit 16 by integer addition; NaN lanes keep their top bits, quieted */
SF_INLINE __m256i sf_f32_to_bf16_bits16__avx512(__m512 v) {
    const __m512i u = _mm512_castps_si512(v);
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    __m512i r = _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7fff)), lsb), 16);
    const __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    r = _mm512_mask_or_epi32(r, nan, _mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x40));
    return _mm512_cvtepi32_epi16(r);
}

static void sf_f32_to_bf16_int__avx512(const float *x, uint16_t *y, ptrdiff_t n) {
    ptrdiff_t i = 0;
    for (; i < n; i += 16) {
        const __mmask16 k = sf_tail_mask16(n - i);
        _mm256_mask_storeu_epi16(y + i, k, sf_f32_to_bf16_bits16__avx512(_mm512_maskz_loadu_ps(k, x + i)));
    }
}

/* AVX512-BF16's vcvtneps2bf16 (round to nearest even, NaN quieted; subnormal inputs and outputs
 * are flushed to zero, below bfloat16's smallest normal 1.2e-38) */
__attribute__((target("avx512bf16"))) static __m256i sf_f32_to_bf16_native16__avx512(__m512 v) {
    return (__m256i)_mm512_cvtneps_pbh(v);
}

__attribute__((target("avx512bf16"))) static void sf_f32_to_bf16_native__avx512(const float *x,
                                                                                uint16_t *y,
                                                                                ptrdiff_t n) {
    ptrdiff_t i = 0;
    for (; i < n; i += 16) {
        const __mmask16 k = sf_tail_mask16(n - i);
        const __m256bh b = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(k, x + i));
        _mm256_mask_storeu_epi16(y + i, k, (__m256i)b);
    }
}

static void sf_f32_to_bf16__avx512(const float *x, uint16_t *y, ptrdiff_t n) {
    if (sf_cpu_has_avx512bf16())
        sf_f32_to_bf16_native__avx512(x, y, n);
    else
        sf_f32_to_bf16_int__avx512(x, y, n);
}

/* ---- softmax of a 16-bit row, each vector converted to float32 in registers ----
 * softmax: (1) the row's max, (2) the sum of the terms exp(v - max), (3) each term again, times
 * 1 / sum, converted to 16 bits: x is read three times and nothing but y is written. Pass 3
 * folds 1 / sum into the exponent where it can: y = 2^(v log2(e) + c'), c' = -max log2(e) -
 * log2(sum) rounded once to float32, kept below 128 in magnitude (so its rounding scales y by
 * at most 2^(2^-18)); else y = 2^t * (1 / sum). A float32 buffer of the terms, written in pass 2
 * and read in pass 3, had cost more than the second exp: its 8 bytes an element went through L2
 * ((16, 128256), 2 threads, calls interleaved with PyTorch's: float16 softmax 0.292 ms with the
 * buffer, 0.225-0.253 without; log_softmax 0.318 and 0.235-0.258).
 * log_softmax: (1) the max, (2) the sum, (3) (v - max) - log(sum), from x likewise. With a
 * scale, pass 1 keeps v = scale * x converted in the float32 buffer, which passes 2 and 3 read.
 * The outputs have 11 (float16) or 8 (bfloat16) significant bits, which allows a lighter exp
 * than the float32 kernels': t = (v - max) log2(e) rounded (a relative error |t| 2^-24 ln 2 of
 * the term, below 2^-19 wherever a float16 output is normal) and 2^f by a polynomial fitted
 * for this project: degree 4 (2^-18.5 relative, 0.006 ulp of a float16) for float16 softmax
 * and every log_softmax sum, degree 3 (2^-13.7 relative, 0.02 ulp of a bfloat16, one operation
 * fewer) for bfloat16 softmax, its sum and its outputs. With the float32 lane sums and the
 * folded constant's rounding, a float16 softmax output is within 0.53 ulp, a bfloat16 one
 * within 0.54 (test_softmax_kernel_bound); degree 3 for float16 would have cost 0.16 ulp of a
 * float16 per exp (measured 0.65 ulp) for 4% of the time.
 * log_softmax takes log1p of the sum of the terms other than the max's (each term, so that sum,
 * and so the log1p, within 2^-18.5 relative: no cancellation with v - max <= 0 either).
 * Measured (16 x 128256 float16, 1 thread): 578 us per 16 rows with degree 5 and the
 * magic-number rounding, 520 us with degree 4 and vreduceps. */
#define SF_HALF_EXP2_D4_4 0x1.bb7cd0p-7f /* degree 4: 2^f on [0, 1], 2^-18.5 relative */
#define SF_HALF_EXP2_D4_3 0x1.aa13f6p-5f
#define SF_HALF_EXP2_D4_2 0x1.ee7988p-3f
#define SF_HALF_EXP2_D4_1 0x1.62d166p-1f
#define SF_HALF_EXP2_D4_0 0x1.00002cp+0f
#define SF_HALF_EXP2_D3_3 0x1.3f969ap-4f /* degree 3: 2^f on [0, 1], 2^-13.7 relative */
#define SF_HALF_EXP2_D3_2 0x1.cefc56p-3f
#define SF_HALF_EXP2_D3_1 0x1.64444ap-1f
#define SF_HALF_EXP2_D3_0 0x1.fff632p-1f

SF_INLINE __m512 sf_half_load16__avx512(const uint16_t *p, __mmask16 k, int bf16) {
    const __m256i h = _mm256_maskz_loadu_epi16(k, p);
    if (bf16) return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    return _mm512_cvtph_ps(h);
}

SF_INLINE void sf_half_store16__avx512(uint16_t *p, __mmask16 k, __m512 v, int bf16, int native_bf16) {
    __m256i h;
    if (!bf16)
        h = _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT);
    else if (native_bf16)
        h = sf_f32_to_bf16_native16__avx512(v);
    else
        h = sf_f32_to_bf16_bits16__avx512(v);
    _mm256_mask_storeu_epi16(p, k, h);
}

/* 2^t for t <= 0 or barely above (NaN stays NaN), 0 below -150 (through subnormals, rounded once by
 * vscalefps). vreduceps rounding down gives f = t - floor(t) in [0, 1] in one instruction, and
 * vscalefps multiplies by 2^floor(t) of t itself: no n = t - f to form. f is exact but for t in
 * (-1, 0), where 1 + t is rounded (2^-25 absolute, 2^-25.5 relative in 2^f); 2^f by the
 * polynomial of the given degree (4 or 3, above). t = -inf gives f = 0 and
 * 2^-inf = 0; NaN stays NaN throughout. */
SF_INLINE __m512 sf_half_exp2__avx512(__m512 t, const int degree) {
    const __m512 f = _mm512_reduce_ps(t, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    __m512 p;
    if (degree == 3) {
        p = _mm512_fmadd_ps(_mm512_set1_ps(SF_HALF_EXP2_D3_3), f, _mm512_set1_ps(SF_HALF_EXP2_D3_2));
        p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(SF_HALF_EXP2_D3_1));
        p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(SF_HALF_EXP2_D3_0));
    } else {
        p = _mm512_fmadd_ps(_mm512_set1_ps(SF_HALF_EXP2_D4_4), f, _mm512_set1_ps(SF_HALF_EXP2_D4_3));
        p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(SF_HALF_EXP2_D4_2));
        p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(SF_HALF_EXP2_D4_1));
        p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(SF_HALF_EXP2_D4_0));
    }
    return _mm512_scalef_ps(p, t);
}

/* pass 1: buf = scale * x as float32, returns its max (NaN skipped: vmaxps returns its second
 * operand, the running max, when the first is NaN; the sum catches NaN) */
static float sf_half_load_max__avx512(const uint16_t *x, float *buf, ptrdiff_t n, float scale,
                                      int bf16) {
    const __m512 vs = _mm512_set1_ps(scale), ninf = _mm512_set1_ps(-INFINITY);
    __m512 m0 = ninf, m1 = ninf;
    ptrdiff_t i = 0;
    if (scale == 1.0f) { /* the common call: no multiply */
        for (; i + 32 <= n; i += 32) {
            const __m512 v0 = sf_half_load16__avx512(x + i, 0xffff, bf16);
            const __m512 v1 = sf_half_load16__avx512(x + i + 16, 0xffff, bf16);
            _mm512_storeu_ps(buf + i, v0);
            _mm512_storeu_ps(buf + i + 16, v1);
            m0 = _mm512_max_ps(v0, m0);
            m1 = _mm512_max_ps(v1, m1);
        }
    }
    for (; i + 32 <= n; i += 32) {
        const __m512 v0 = _mm512_mul_ps(sf_half_load16__avx512(x + i, 0xffff, bf16), vs);
        const __m512 v1 = _mm512_mul_ps(sf_half_load16__avx512(x + i + 16, 0xffff, bf16), vs);
        _mm512_storeu_ps(buf + i, v0);
        _mm512_storeu_ps(buf + i + 16, v1);
        m0 = _mm512_max_ps(v0, m0);
        m1 = _mm512_max_ps(v1, m1);
    }
    for (; i < n; i += 16) {
        const __mmask16 k = sf_tail_mask16(n - i);
        const __m512 v = _mm512_mask_mul_ps(ninf, k, sf_half_load16__avx512(x + i, k, bf16), vs);
        _mm512_mask_storeu_ps(buf + i, k, v);
        m1 = _mm512_max_ps(v, m1);
    }
    return _mm512_reduce_max_ps(_mm512_max_ps(m0, m1));
}

/* The max of a float16 or bfloat16 row read as 16-bit integers, 32 lanes a vector and no
 * conversion (softmax with scale 1, whose pass 2 then reads x itself: the float32 copy of the
 * row is never written). Both formats are sign and magnitude, so flipping the magnitude bits of
 * the negative values orders them as signed integers. NaN is skipped, as the float max of
 * sf_half_load_max__avx512 (which a row cut across threads uses) skips it, so that both give
 * the same max and the same bits after it: a positive NaN's key lies above +inf's (masked out),
 * a negative one's below -inf's (never the max of a row with a number; a row with none is
 * empty). Returns the max as float32 (exact), -inf for an empty row. */
SF_INLINE __m512i sf_half_order_key__avx512(__m512i h) {
    return _mm512_xor_si512(h, _mm512_and_si512(_mm512_srai_epi16(h, 15), _mm512_set1_epi16(0x7fff)));
}

static float sf_half_max__avx512(const uint16_t *x, ptrdiff_t n, int bf16) {
    const __m512i lowest = _mm512_set1_epi16((short)0x8000); /* the key of no value: below -inf */
    const int16_t inf_key = bf16 ? 0x7f80 : 0x7c00;              /* +inf's bits, and key */
    const int16_t ninf_key = (int16_t)(0x8000 | (inf_key ^ 0x7fff)); /* -inf's key */
    const __m512i vinf = _mm512_set1_epi16(inf_key);
    __m512i m0 = lowest, m1 = lowest;
    ptrdiff_t i = 0;
#define SF_HALF_MAX_KEYS(m, k, v)                                                                 \
    do {                                                                                          \
        const __m512i key_ = sf_half_order_key__avx512(v);                                        \
        (m) = _mm512_mask_max_epi16((m), (k) & _mm512_cmple_epi16_mask(key_, vinf), (m), key_);   \
    } while (0)
    for (; i + 64 <= n; i += 64) {
        SF_HALF_MAX_KEYS(m0, (__mmask32)0xffffffffu, _mm512_loadu_si512(x + i));
        SF_HALF_MAX_KEYS(m1, (__mmask32)0xffffffffu, _mm512_loadu_si512(x + i + 32));
    }
    for (; i < n; i += 32) {
        const __mmask32 k = n - i >= 32 ? (__mmask32)0xffffffffu : (__mmask32)((1u << (n - i)) - 1);
        SF_HALF_MAX_KEYS(m1, k, _mm512_maskz_loadu_epi16(k, x + i));
    }
#undef SF_HALF_MAX_KEYS
    __m512i m = _mm512_max_epi16(m0, m1);
    __m256i h = _mm256_max_epi16(_mm512_castsi512_si256(m), _mm512_extracti64x4_epi64(m, 1));
    __m128i q = _mm_max_epi16(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
    q = _mm_max_epi16(q, _mm_shuffle_epi32(q, 0x4e));
    q = _mm_max_epi16(q, _mm_shuffle_epi32(q, 0xb1));
    q = _mm_max_epi16(q, _mm_srli_epi32(q, 16));
    const int16_t key = (int16_t)_mm_cvtsi128_si32(q);
    if (key < ninf_key) return -INFINITY; /* no number: empty, or only negative NaN */
    const uint16_t bits = (uint16_t)(key < 0 ? key ^ 0x7fff : key); /* the key back to bits */
    return _mm512_cvtss_f32(sf_half_load16__avx512(&bits, 1, bf16));
}

/* pass 2 runs in chunks of SF_HALF_CHUNK elements: each chunk's terms are summed in float32
 * lanes and the chunk sums, as doubles, compensated in row order. A row cut across threads
 * (sf_half_expsum_chunks + sf_half_sum_chunks) gets the same chunk sums, added in the same
 * order: the same bits as one thread's sf_half_expsum; pass 3 is elementwise. */

/* what passes 2 and 3 derive from the shift, the same for every chunk of a row */
typedef struct sf_half_shift {
    __m512 vsh, vl2e, vc;
    __mmask16 countable;
    int fused;
} sf_half_shift;

SF_INLINE sf_half_shift sf_half_shift_of__avx512(float shift, int softmax) {
    sf_half_shift h;
    h.vsh = _mm512_set1_ps(shift);
    h.countable = isfinite(shift) ? 0xffff : 0; /* inf - inf is no 1 */
    /* softmax: t = v log2(e) - shift log2(e) in one FMA. The rounding of the constant scales
     * every term by the same 2^delta, which the division by their sum cancels; log_softmax
     * needs the sum itself, and takes v - shift first, and so does a shift so large that
     * shift log2(e) would overflow. */
    h.fused = softmax && fabsf(shift) < 0x1p120f;
    h.vl2e = _mm512_set1_ps(F32_LOG2E);
    h.vc = _mm512_set1_ps(-shift * F32_LOG2E);
    return h;
}

/* the shift of pass 2: the max, or 0 for a row of only -inf (or NaN): terms 0, sum 0 */
SF_INLINE float sf_half_safe_shift(float m) { return m == -INFINITY ? 0.0f : m; }

/* the degree of softmax's exp, in its sum and in its outputs: as precise as the output needs */
SF_INLINE int sf_half_softmax_degree(const int bf16) { return bf16 ? 3 : 4; }

/* t of the term 2^t = exp(v - shift), in the form of the shift (`fused`, a constant) */
SF_INLINE __m512 sf_half_arg__avx512(__m512 v, const sf_half_shift *h, const int fused) {
    return fused ? _mm512_fmadd_ps(v, h->vl2e, h->vc)
                 : _mm512_mul_ps(_mm512_sub_ps(v, h->vsh), h->vl2e);
}

/* One chunk (n <= SF_HALF_CHUNK) of pass 2: the float32 lane sum of exp(v - shift) over buf
 * (or over x16, converted, when given; bf16: its format, and the output's). softmax: every
 * term, of sf_half_softmax_degree; log_softmax: the terms equal to 1 (v == shift) are counted
 * into *ones instead of added, for log1p(sum - 1), and the others are of degree 4. At the same
 * pace `next` (the next row, or NULL) is prefetched into L2. Every caller passes `softmax`,
 * `fused`, `bf16` and whether x16 is given as constants of its loop (SF_HALF_CHUNKS): a flag
 * tested inside this loop had cost a compare and a branch per vector. */
SF_INLINE double sf_half_expsum_chunk__avx512(const float *buf, ptrdiff_t n,
                                              const sf_half_shift *h, const int softmax,
                                              ptrdiff_t *ones, const uint16_t *next,
                                              const uint16_t *x16, const int bf16,
                                              const int fused) {
    ptrdiff_t i = 0;
#define SF_HALF_TERM(off, k, a)                                                                   \
    do {                                                                                          \
        const __m512 v_ = x16 ? sf_half_load16__avx512(x16 + i + (off), (k), bf16)                \
                              : _mm512_maskz_loadu_ps((k), buf + i + (off));                      \
        const __m512 e_ = sf_half_exp2__avx512(sf_half_arg__avx512(v_, h, fused),                \
                                               softmax ? sf_half_softmax_degree(bf16) : 4);       \
        if (softmax) {                                                                            \
            (a) = _mm512_mask_add_ps((a), (k), (a), e_);                                          \
        } else {                                                                                  \
            const __mmask16 one_ =                                                                \
                _mm512_mask_cmp_ps_mask((k) & h->countable, v_, h->vsh, _CMP_EQ_OQ);             \
            (a) = _mm512_mask_add_ps((a), (__mmask16)((k) & ~one_), (a), e_);                     \
            c1 = _mm512_mask_add_ps(c1, one_, c1, vone); /* counted in a vector: exact */          \
        }                                                                                         \
    } while (0)
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, c1 = a0;
    const __m512 vone = _mm512_set1_ps(1.0f);
    for (; i + 64 <= n; i += 64) {
        if (next) { /* the next row's 128 bytes into L2 */
            _mm_prefetch((const char *)(next + i), _MM_HINT_T1);
            _mm_prefetch((const char *)(next + i) + 64, _MM_HINT_T1);
        }
        SF_HALF_TERM(0, (__mmask16)0xffff, a0);
        SF_HALF_TERM(16, (__mmask16)0xffff, a1);
        SF_HALF_TERM(32, (__mmask16)0xffff, a2);
        SF_HALF_TERM(48, (__mmask16)0xffff, a3);
    }
    for (; i < n; i += 16) {
        const __mmask16 k = sf_tail_mask16(n - i);
        SF_HALF_TERM(0, k, a1);
    }
#undef SF_HALF_TERM
    if (!softmax) *ones += (ptrdiff_t)_mm512_reduce_add_ps(c1); /* at most 2048: exact */
    const __m512 a = _mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3));
    const __m512d wide = _mm512_add_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(a)),
                                       _mm512_cvtps_pd(_mm512_extractf32x8_ps(a, 1)));
    return _mm512_reduce_add_pd(wide);
}

/* the row's sum from its compensated chunk sums and the count of ones; *rest = sum - 1 */
SF_INLINE double sf_half_sum_finish(double hi, double lo, ptrdiff_t ones, double *rest) {
    const double others = hi + lo;
    if (rest) *rest = ((double)ones - 1.0) + others;
    return (double)ones + others;
}

/* the chunk loop of a block of n elements, `body` run per chunk (i, ln) with `fused` and `b16`
 * (bf16) constants: each form of the shift and each format gets its own copy of the loop
 * (log_softmax's shift is never fused) */
#define SF_HALF_CHUNKS_AS(n, body)                                                                \
    for (ptrdiff_t i = 0; i < (n); i += SF_HALF_CHUNK) {                                          \
        const ptrdiff_t ln = (n) - i > SF_HALF_CHUNK ? SF_HALF_CHUNK : (n) - i;                   \
        body;                                                                                     \
    }
#define SF_HALF_CHUNKS(h, n, bf16, body)                                                          \
    do {                                                                                          \
        if ((h).fused && (bf16)) {                                                                \
            const int fused = 1, b16 = 1;                                                         \
            SF_HALF_CHUNKS_AS(n, body)                                                            \
        } else if ((h).fused) {                                                                   \
            const int fused = 1, b16 = 0;                                                         \
            SF_HALF_CHUNKS_AS(n, body)                                                            \
        } else if (bf16) {                                                                        \
            const int fused = 0, b16 = 1;                                                         \
            SF_HALF_CHUNKS_AS(n, body)                                                            \
        } else {                                                                                  \
            const int fused = 0, b16 = 0;                                                         \
            SF_HALF_CHUNKS_AS(n, body)                                                            \
        }                                                                                         \
    } while (0)

/* pass 2 of a whole row (the terms' v from x16, converted, when given, else from buf): the sum
 * of exp(v - shift), shift = sf_half_safe_shift(m); log_softmax: *rest = sum - 1 with the terms
 * equal to 1 counted apart, for log1p(rest) */
SF_INLINE double sf_half_expsum__avx512(const float *buf, const uint16_t *x16, ptrdiff_t n,
                                        float m, const int softmax, const int bf16,
                                        double *rest, const uint16_t *next) {
    const sf_half_shift h = sf_half_shift_of__avx512(sf_half_safe_shift(m), softmax);
    double hi = 0, lo = 0;
    ptrdiff_t ones = 0;
    SF_HALF_CHUNKS(h, n, bf16, sf_acc_add(&hi, &lo, sf_half_expsum_chunk__avx512(
                                   x16 ? NULL : buf + i, ln, &h, softmax, &ones,
                                   next ? next + i : NULL, x16 ? x16 + i : NULL, b16, fused)));
    return sf_half_sum_finish(hi, lo, ones, rest);
}

/* pass 2 of one block of a row cut across threads (the block starts at a multiple of
 * SF_HALF_CHUNK in its row; m the row's max): its chunk sums into sums[0 ..], its ones added
 * to *ones */
static void sf_half_expsum_chunks__avx512(const float *buf, ptrdiff_t n, float m, int softmax,
                                          int bf16, double *sums, ptrdiff_t *ones) {
    const sf_half_shift h = sf_half_shift_of__avx512(sf_half_safe_shift(m), softmax);
    if (softmax)
        SF_HALF_CHUNKS(h, n, bf16, sums[i / SF_HALF_CHUNK] = sf_half_expsum_chunk__avx512(
                                       buf + i, ln, &h, 1, ones, NULL, NULL, b16, fused));
    else
        SF_HALF_CHUNKS(h, n, bf16, sums[i / SF_HALF_CHUNK] = sf_half_expsum_chunk__avx512(
                                       buf + i, ln, &h, 0, ones, NULL, NULL, b16, fused));
}

/* the sum of a row cut across threads, from all its chunk sums (in row order) and ones */
static double sf_half_sum_chunks__avx512(const double *sums, ptrdiff_t nc, ptrdiff_t ones,
                                         double *rest) {
    double hi = 0, lo = 0;
    for (ptrdiff_t c = 0; c < nc; c++) sf_acc_add(&hi, &lo, sums[c]);
    return sf_half_sum_finish(hi, lo, ones, rest);
}

/* pass 3 over buf (v) or x16 (converted), the flags constants of its loop. softmax: y =
 * 2^(v log2(e) + c') (`folded`: vcf = c') or 2^t * r, the terms of the degree of the output (4
 * for float16, 3 for bfloat16); log_softmax: y = (v - m) - c, both terms <= 0, no cancellation.
 * y is prefetched for writing 1 KiB ahead (without, pass 3 waited on y's lines). */
SF_INLINE void sf_half_write_impl__avx512(const float *buf, const uint16_t *x16, uint16_t *y,
                                          ptrdiff_t n, const int bf16, const int log_out,
                                          const sf_half_shift *h, const int fused,
                                          const int folded, __m512 vcf, __m512 vr, __m512 vm,
                                          __m512 vc) {
    const int native = bf16 && sf_cpu_has_avx512bf16();
    const int degree = sf_half_softmax_degree(bf16);
#define SF_HALF_OUT(off, k)                                                                       \
    do {                                                                                          \
        const __m512 v_ = x16 ? sf_half_load16__avx512(x16 + i + (off), (k), bf16)                \
                              : _mm512_maskz_loadu_ps((k), buf + i + (off));                      \
        __m512 o_;                                                                                \
        if (log_out)                                                                              \
            o_ = _mm512_sub_ps(_mm512_sub_ps(v_, vm), vc);                                        \
        else if (folded)                                                                          \
            o_ = sf_half_exp2__avx512(_mm512_fmadd_ps(v_, h->vl2e, vcf), degree);                 \
        else                                                                                      \
            o_ = _mm512_mul_ps(sf_half_exp2__avx512(sf_half_arg__avx512(v_, h, fused), degree), vr); \
        sf_half_store16__avx512(y + i + (off), (k), o_, bf16, native);                            \
    } while (0)
    ptrdiff_t i = 0;
    for (; i + 32 <= n; i += 32) {
        _mm_prefetch((const char *)(y + i) + 1024, _MM_HINT_ET0);
        SF_HALF_OUT(0, (__mmask16)0xffff);
        SF_HALF_OUT(16, (__mmask16)0xffff);
    }
    for (; i < n; i += 16) {
        const __mmask16 k = sf_tail_mask16(n - i);
        SF_HALF_OUT(0, k);
    }
#undef SF_HALF_OUT
}

/* pass 3 of a row whose sum is NaN (a NaN in it, or +inf): every output is NaN, the format's
 * quiet NaN, positive. Written as such rather than computed: which NaN an operation passes on
 * depends on the order of its operands, which the compiler may swap, and a row cut across
 * threads would then give other NaN bits than the whole-row kernel. */
SF_INLINE void sf_half_fill_nan__avx512(uint16_t *y, ptrdiff_t n, const int bf16) {
    const __m512i q = _mm512_set1_epi16((short)(bf16 ? 0x7fc0 : 0x7e00));
    for (ptrdiff_t i = 0; i < n; i += 32) {
        const __mmask32 k = n - i >= 32 ? (__mmask32)0xffffffffu : (__mmask32)((1u << (n - i)) - 1);
        _mm512_mask_storeu_epi16(y + i, k, q);
    }
}

/* pass 3 of softmax, from the row's max and sum: the folded constant when the shift's form is
 * fused and c' = c - log2(sum) (c the float32 constant pass 2 used) is below 128 in magnitude,
 * so rounding c' to float32 scales y by 2^delta, |delta| <= 2^-18; else (a large or non-finite
 * max, a sum of 0) 2^t * (1 / sum), as pass 2 formed t */
SF_INLINE void sf_half_softmax_write__avx512(const float *buf, const uint16_t *x16, uint16_t *y,
                                             ptrdiff_t n, const int bf16, float m, double sum) {
    if (isnan(sum)) {
        sf_half_fill_nan__avx512(y, n, bf16);
        return;
    }
    const sf_half_shift h = sf_half_shift_of__avx512(sf_half_safe_shift(m), 1);
    const float cf = (float)((double)_mm512_cvtss_f32(h.vc) - log2(sum));
    const __m512 vcf = _mm512_set1_ps(cf), vr = _mm512_set1_ps((float)(1.0 / sum));
    const __m512 unused = _mm512_setzero_ps();
    if (h.fused && fabsf(cf) < 128.0f)
        sf_half_write_impl__avx512(buf, x16, y, n, bf16, 0, &h, 1, 1, vcf, vr, unused, unused);
    else if (h.fused)
        sf_half_write_impl__avx512(buf, x16, y, n, bf16, 0, &h, 1, 0, vcf, vr, unused, unused);
    else
        sf_half_write_impl__avx512(buf, x16, y, n, bf16, 0, &h, 0, 0, vcf, vr, unused, unused);
}

/* pass 3 of log_softmax: y = (v - m) - c */
SF_INLINE void sf_half_log_write__avx512(const float *buf, const uint16_t *x16, uint16_t *y,
                                         ptrdiff_t n, const int bf16, float m, float c) {
    if (isnan(c)) {
        sf_half_fill_nan__avx512(y, n, bf16);
        return;
    }
    const __m512 unused = _mm512_setzero_ps();
    sf_half_write_impl__avx512(buf, x16, y, n, bf16, 1, NULL, 0, 0, unused, unused,
                               _mm512_set1_ps(m), _mm512_set1_ps(c));
}

/* pass 3 of a block from buf: softmax (c = the row's sum, m its max) or log_softmax (c =
 * log(sum)), as above */
static void sf_half_write__avx512(const float *buf, uint16_t *y, ptrdiff_t n, int bf16, int log_out,
                                  float m, double c) {
    if (log_out && bf16)
        sf_half_log_write__avx512(buf, NULL, y, n, 1, m, (float)c);
    else if (log_out)
        sf_half_log_write__avx512(buf, NULL, y, n, 0, m, (float)c);
    else if (bf16)
        sf_half_softmax_write__avx512(buf, NULL, y, n, 1, m, c);
    else
        sf_half_softmax_write__avx512(buf, NULL, y, n, 0, m, c);
}

/* passes 2 and 3 of one row whose max is m, v from x16 (converted) when given, else from buf */
SF_INLINE void sf_half_row_impl__avx512(const float *buf, const uint16_t *x16, uint16_t *y,
                                        ptrdiff_t n, const int bf16, int log_out, float m,
                                        const uint16_t *next) {
    if (log_out) {
        double rest;
        sf_half_expsum__avx512(buf, x16, n, m, 0, bf16, &rest, next);
        sf_half_log_write__avx512(buf, x16, y, n, bf16, m, (float)log1p(rest));
    } else {
        sf_half_softmax_write__avx512(buf, x16, y, n, bf16, m,
                                      sf_half_expsum__avx512(buf, x16, n, m, 1, bf16, NULL, next));
    }
}

/* one row. With scale 1 (the common call) the max is that of the 16-bit values and passes 2
 * and 3 read x itself (the same values, converted exactly: the same bits as through buf, which
 * is not written); with a scale, pass 1 keeps scale * x in buf. */
static void sf_half_softmax_row__avx512(const uint16_t *x, uint16_t *y, ptrdiff_t n, float scale,
                                        int bf16, int log_out, float *buf, const uint16_t *next) {
    if (scale == 1.0f) {
        const float m = sf_half_max__avx512(x, n, bf16);
        if (bf16)
            sf_half_row_impl__avx512(NULL, x, y, n, 1, log_out, m, next);
        else
            sf_half_row_impl__avx512(NULL, x, y, n, 0, log_out, m, next);
        return;
    }
    const float m = sf_half_load_max__avx512(x, buf, n, scale, bf16);
    if (bf16)
        sf_half_row_impl__avx512(buf, NULL, y, n, 1, log_out, m, next);
    else
        sf_half_row_impl__avx512(buf, NULL, y, n, 0, log_out, m, next);
}

/* ------------------------------------------------------------------------------------------ */
/* sigmoid and log_sigmoid: the algorithms of sigmoid_portable.h (each dtype in its own
 * precision, exp biased so that tiny results round once, sums kept exact), with vscalefps for
 * 2^n, the division replaced by vrcp14 and Newton steps (no vdivps / vdivpd: they were most of
 * the time of the portable loops), and masked tails. */

/* (num + numlo) / (den + denlo), den in [1, 2.5]: 1/den to 2^-28 (rcp14 + one Newton step),
 * q0 = num / den to 2^-28, then one residual step with the low parts: 0.5 ulp + 2^-4 ulp at
 * worst (num = 0: the quotient is numlo * r alone) */
SF_INLINE __m512 sf_f32_div_refined__avx512(__m512 num, __m512 numlo, __m512 den, __m512 denlo) {
    const __m512 one = _mm512_set1_ps(1.0f);
    __m512 r = _mm512_rcp14_ps(den);
    r = _mm512_fmadd_ps(r, _mm512_fnmadd_ps(den, r, one), r);
    const __m512 q0 = _mm512_mul_ps(num, r);
    const __m512 res = _mm512_sub_ps(_mm512_add_ps(_mm512_fnmadd_ps(q0, den, num), numlo),
                                     _mm512_mul_ps(q0, denlo));
    return _mm512_fmadd_ps(res, r, q0);
}

/* num / (den + denlo) with 1/den from rcp14 alone (2^-14): the residual step leaves 2^-28
 * relative, 0.5 ulp + 2^-4 ulp; the sigmoid's budget has room for it (measured 1.4 ulp) */
SF_INLINE __m512 sf_f32_div_rcp14__avx512(__m512 num, __m512 den, __m512 denlo) {
    const __m512 r = _mm512_rcp14_ps(den);
    const __m512 q0 = _mm512_mul_ps(num, r);
    const __m512 res = _mm512_fnmadd_ps(q0, denlo, _mm512_fnmadd_ps(q0, den, num));
    return _mm512_fmadd_ps(res, r, q0);
}

/* float64: 1/den to the double's precision (rcp14 + three Newton steps: where num is 0, in
 * log1p of a tiny t, the quotient is numlo * r alone), then the residual step as above */
SF_INLINE __m512d sf_f64_div_refined__avx512(__m512d num, __m512d numlo, __m512d den,
                                             __m512d denlo) {
    const __m512d one = _mm512_set1_pd(1.0);
    __m512d r = _mm512_rcp14_pd(den);
    r = _mm512_fmadd_pd(r, _mm512_fnmadd_pd(den, r, one), r);
    r = _mm512_fmadd_pd(r, _mm512_fnmadd_pd(den, r, one), r);
    r = _mm512_fmadd_pd(r, _mm512_fnmadd_pd(den, r, one), r);
    const __m512d q0 = _mm512_mul_pd(num, r);
    const __m512d res = _mm512_sub_pd(_mm512_add_pd(_mm512_fnmadd_pd(q0, den, num), numlo),
                                      _mm512_mul_pd(q0, denlo));
    return _mm512_fmadd_pd(res, r, q0);
}

/* sf_sigmoid_f: exp(-|x|) * 2^64; num = 2^64 (x >= 0) or that exp (x < 0, NaN) */
SF_INLINE __m512 sf_f32_sigmoid16__avx512(__m512 x) {
    const __m512 one = _mm512_set1_ps(1.0f), unbias = _mm512_set1_ps(0x1p-64f);
    const __m512 eb = sf_f32_exp_biased__avx512(_mm512_or_ps(x, _mm512_set1_ps(-0.0f)));
    const __m512 e = _mm512_mul_ps(eb, unbias);
    const __m512 s = _mm512_add_ps(one, e);
    const __m512 c = _mm512_add_ps(_mm512_sub_ps(one, s), e);
    const __mmask16 pos = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_GE_OQ);
    const __m512 num = _mm512_mask_blend_ps(pos, eb, _mm512_set1_ps(0x1p64f));
    return _mm512_mul_ps(sf_f32_div_rcp14__avx512(num, s, c), unbias);
}

/* a - khi - mid - low with two TwoSums (sf_log_sigmoid_d); -inf where a - khi - mid is -inf */
#define SF_LOGSIG_SUM__AVX512(sfx, V, a, khi, mid, low, out)                                    \
    do {                                                                                        \
        const V s1_ = _mm512_sub_##sfx(a, khi), b1_ = _mm512_sub_##sfx(s1_, a);                 \
        const V e1_ = _mm512_sub_##sfx(_mm512_sub_##sfx(a, _mm512_sub_##sfx(s1_, b1_)),         \
                                       _mm512_add_##sfx(khi, b1_));                             \
        const V s2_ = _mm512_sub_##sfx(s1_, mid), b2_ = _mm512_sub_##sfx(s2_, s1_);             \
        const V e2_ = _mm512_sub_##sfx(_mm512_sub_##sfx(s1_, _mm512_sub_##sfx(s2_, b2_)),       \
                                       _mm512_add_##sfx(mid, b2_));                             \
        const V r_ = _mm512_add_##sfx(s2_, _mm512_sub_##sfx(_mm512_add_##sfx(e1_, e2_), low));  \
        /* fpclass 0x10: -inf (x = -inf: the TwoSum errors are NaN) */                          \
        (out) = _mm512_mask_mov_##sfx(r_, _mm512_fpclass_##sfx##_mask(s2_, 0x10), s2_);         \
    } while (0)

/* sf_log_sigmoid_f */
SF_INLINE __m512 sf_f32_log_sigmoid16__avx512(__m512 x) {
    const __m512 one = _mm512_set1_ps(1.0f), two = _mm512_set1_ps(2.0f), zero = _mm512_setzero_ps();
    const __m512 tb = sf_f32_exp_biased__avx512(_mm512_or_ps(x, _mm512_set1_ps(-0.0f)));
    const __m512 t = _mm512_mul_ps(tb, _mm512_set1_ps(0x1p-64f));
    const __m512 u = _mm512_add_ps(one, t);
    const __m512 c = _mm512_add_ps(_mm512_sub_ps(one, u), t);
    const __mmask16 big = _mm512_cmp_ps_mask(u, _mm512_set1_ps(1.41421356f), _CMP_GT_OQ);
    const __m512 half = _mm512_set1_ps(0.5f);
    const __m512 m = _mm512_mask_mul_ps(u, big, u, half);
    const __m512 cm = _mm512_mask_mul_ps(c, big, c, half);
    const __m512 f = _mm512_sub_ps(m, one);
    const __m512 d = _mm512_add_ps(two, f);
    const __m512 dc = _mm512_add_ps(_mm512_sub_ps(two, d), f);
    const __m512 s = sf_f32_div_refined__avx512(f, cm, d, _mm512_add_ps(dc, cm));
    const __m512 z = _mm512_mul_ps(s, s);
    __m512 q = _mm512_fmadd_ps(_mm512_set1_ps(1.0f / 11), z, _mm512_set1_ps(1.0f / 9));
    q = _mm512_fmadd_ps(q, z, _mm512_set1_ps(1.0f / 7));
    q = _mm512_fmadd_ps(q, z, _mm512_set1_ps(1.0f / 5));
    q = _mm512_fmadd_ps(q, z, _mm512_set1_ps(1.0f / 3));
    const __m512 khi = _mm512_maskz_mov_ps(big, _mm512_set1_ps(SF_LN2_HIF));
    const __m512 mid = _mm512_mul_ps(two, s);
    const __m512 low = _mm512_add_ps(_mm512_mul_ps(mid, _mm512_mul_ps(z, q)),
                                     _mm512_maskz_mov_ps(big, _mm512_set1_ps(SF_LN2_LOF)));
    const __m512 a = _mm512_min_ps(x, zero); /* NaN x: 0 here, but t and so the result are NaN */
    __m512 out;
    SF_LOGSIG_SUM__AVX512(ps, __m512, a, khi, mid, low, out);
    return out;
}

/* the sigmoid's float64 quotient: num is 0 only where the result is, so q0 = num * r carries
 * the value and two Newton steps suffice (2^-56; the residual step leaves far less) */
SF_INLINE __m512d sf_f64_div__avx512(__m512d num, __m512d den, __m512d denlo) {
    const __m512d one = _mm512_set1_pd(1.0);
    __m512d r = _mm512_rcp14_pd(den);
    r = _mm512_fmadd_pd(r, _mm512_fnmadd_pd(den, r, one), r);
    r = _mm512_fmadd_pd(r, _mm512_fnmadd_pd(den, r, one), r);
    const __m512d q0 = _mm512_mul_pd(num, r);
    return _mm512_fmadd_pd(_mm512_fnmadd_pd(q0, denlo, _mm512_fnmadd_pd(q0, den, num)), r, q0);
}

/* sf_sigmoid_d */
SF_INLINE __m512d sf_f64_sigmoid8__avx512(__m512d x) {
    const __m512d one = _mm512_set1_pd(1.0), unbias = _mm512_set1_pd(SF_2M128);
    const __m512d eb = sf_f64_exp_biased__avx512(_mm512_or_pd(x, _mm512_set1_pd(-0.0)));
    const __m512d e = _mm512_mul_pd(eb, unbias);
    const __m512d s = _mm512_add_pd(one, e);
    const __m512d c = _mm512_add_pd(_mm512_sub_pd(one, s), e);
    const __mmask8 pos = _mm512_cmp_pd_mask(x, _mm512_setzero_pd(), _CMP_GE_OQ);
    const __m512d num = _mm512_mask_blend_pd(pos, eb, _mm512_set1_pd(SF_2P128));
    return _mm512_mul_pd(sf_f64_div__avx512(num, s, c), unbias);
}

/* sf_log_sigmoid_d */
SF_INLINE __m512d sf_f64_log_sigmoid8__avx512(__m512d x) {
    const __m512d one = _mm512_set1_pd(1.0), two = _mm512_set1_pd(2.0), zero = _mm512_setzero_pd();
    const __m512d tb = sf_f64_exp_biased__avx512(_mm512_or_pd(x, _mm512_set1_pd(-0.0)));
    const __m512d t = _mm512_mul_pd(tb, _mm512_set1_pd(SF_2M128));
    const __m512d u = _mm512_add_pd(one, t);
    const __m512d c = _mm512_add_pd(_mm512_sub_pd(one, u), t);
    const __mmask8 big = _mm512_cmp_pd_mask(u, _mm512_set1_pd(1.4142135623730951), _CMP_GT_OQ);
    const __m512d half = _mm512_set1_pd(0.5);
    const __m512d m = _mm512_mask_mul_pd(u, big, u, half);
    const __m512d cm = _mm512_mask_mul_pd(c, big, c, half);
    const __m512d f = _mm512_sub_pd(m, one);
    const __m512d d = _mm512_add_pd(two, f);
    const __m512d dc = _mm512_add_pd(_mm512_sub_pd(two, d), f);
    const __m512d s = sf_f64_div_refined__avx512(f, cm, d, _mm512_add_pd(dc, cm));
    const __m512d z = _mm512_mul_pd(s, s);
    __m512d q = _mm512_fmadd_pd(_mm512_set1_pd(1.0 / 23), z, _mm512_set1_pd(1.0 / 21));
    q = _mm512_fmadd_pd(q, z, _mm512_set1_pd(1.0 / 19));
    q = _mm512_fmadd_pd(q, z, _mm512_set1_pd(1.0 / 17));
    q = _mm512_fmadd_pd(q, z, _mm512_set1_pd(1.0 / 15));
    q = _mm512_fmadd_pd(q, z, _mm512_set1_pd(1.0 / 13));
    q = _mm512_fmadd_pd(q, z, _mm512_set1_pd(1.0 / 11));
    q = _mm512_fmadd_pd(q, z, _mm512_set1_pd(1.0 / 9));
    q = _mm512_fmadd_pd(q, z, _mm512_set1_pd(1.0 / 7));
    q = _mm512_fmadd_pd(q, z, _mm512_set1_pd(1.0 / 5));
    q = _mm512_fmadd_pd(q, z, _mm512_set1_pd(1.0 / 3));
    const __m512d khi = _mm512_maskz_mov_pd(big, _mm512_set1_pd(SF_LN2_HI));
    const __m512d mid = _mm512_mul_pd(two, s);
    const __m512d low = _mm512_add_pd(_mm512_mul_pd(mid, _mm512_mul_pd(z, q)),
                                      _mm512_maskz_mov_pd(big, _mm512_set1_pd(SF_LN2_LO)));
    const __m512d a = _mm512_min_pd(x, zero);
    __m512d out;
    SF_LOGSIG_SUM__AVX512(pd, __m512d, a, khi, mid, low, out);
    return out;
}

/* The loops: two vectors an iteration (independent chains), masked loads and stores for the
 * tail (masked-off lanes are never read or written). */
#define SF_ELEMENTWISE_LOOP__AVX512(name, T, V, W, MASK, sfx, body)                               \
    static void name(const T *x, T *y, ptrdiff_t n) {                                             \
        ptrdiff_t i = 0;                                                                          \
        for (; i + 2 * (W) <= n; i += 2 * (W)) {                                                  \
            const V a_ = body(_mm512_loadu_##sfx(x + i));                                         \
            const V b_ = body(_mm512_loadu_##sfx(x + i + (W)));                                   \
            _mm512_storeu_##sfx(y + i, a_);                                                       \
            _mm512_storeu_##sfx(y + i + (W), b_);                                                 \
        }                                                                                         \
        for (; i < n; i += (W)) {                                                                 \
            const MASK k_ = n - i >= (W) ? (MASK)~0u : (MASK)((1u << (n - i)) - 1);              \
            _mm512_mask_storeu_##sfx(y + i, k_, body(_mm512_maskz_loadu_##sfx(k_, x + i)));       \
        }                                                                                         \
    }
SF_ELEMENTWISE_LOOP__AVX512(sf_f32_sigmoid__avx512, float, __m512, 16, __mmask16, ps,
                            sf_f32_sigmoid16__avx512)
SF_ELEMENTWISE_LOOP__AVX512(sf_f32_log_sigmoid__avx512, float, __m512, 16, __mmask16, ps,
                            sf_f32_log_sigmoid16__avx512)
SF_ELEMENTWISE_LOOP__AVX512(sf_f64_sigmoid__avx512, double, __m512d, 8, __mmask8, pd,
                            sf_f64_sigmoid8__avx512)
SF_ELEMENTWISE_LOOP__AVX512(sf_f64_log_sigmoid__avx512, double, __m512d, 8, __mmask8, pd,
                            sf_f64_log_sigmoid8__avx512)
#undef SF_ELEMENTWISE_LOOP__AVX512
#undef SF_LOGSIG_SUM__AVX512
#define SF_F32_SIGMOID sf_f32_sigmoid__avx512
#define SF_F32_LOG_SIGMOID sf_f32_log_sigmoid__avx512
#define SF_F64_SIGMOID sf_f64_sigmoid__avx512
#define SF_F64_LOG_SIGMOID sf_f64_log_sigmoid__avx512

#define SF_HALF_SOFTMAX_ROW sf_half_softmax_row__avx512
#define SF_HALF_LOAD_MAX sf_half_load_max__avx512
#define SF_HALF_EXPSUM_CHUNKS sf_half_expsum_chunks__avx512
#define SF_HALF_SUM_CHUNKS sf_half_sum_chunks__avx512
#define SF_HALF_WRITE sf_half_write__avx512
#define SF_HALF_F16_IN sf_f16_to_f32__avx512
#define SF_HALF_F16_OUT sf_f32_to_f16__avx512
#define SF_HALF_BF16_IN sf_bf16_to_f32__avx512
#define SF_HALF_BF16_OUT sf_f32_to_bf16__avx512

#define SF_ISA avx512
#define SF_LANES_F32 32 /* two 16-float vectors: measured faster than four on 1000-long rows */
#define SF_LANES_F64 16
#define SF_F32_RMAX sf_f32_rmax__avx512
#define SF_F32_RADDEXP sf_f32_raddexp__avx512
#define SF_F32_COLUMNS_SOFTMAX sf_f32_columns_softmax__avx512
#define SF_F32_SHORT_ROW sf_f32_short_row__avx512
#define SF_F32_RADDEXP_FLUSH sf_f32_raddexp_flush__avx512
#define SF_F32_RADDEXP_FLUSH_LOG sf_f32_raddexp_flush_log__avx512
#define SF_F32_RADDEXP_RIDE sf_f32_raddexp_ride__avx512
#define SF_F32_RADDEXP_RIDE_LOG sf_f32_raddexp_ride_log__avx512
#define SF_F32_RESCALE sf_f32_store_scaled__avx512
#define SF_F32_WRITE_SOFTMAX sf_f32_store_exp__avx512
#define SF_F32_WRITE_LOG sf_f32_write_log__avx512
#define SF_F32_REST_EXACT sf_f32_rest_exact_row__avx512
#define SF_F64_RMAX sf_f64_rmax__avx512
#define SF_F64_RADDEXP sf_f64_raddexp__avx512
#define SF_F64_RADDEXP_FLUSH sf_f64_raddexp_flush__avx512
#define SF_F64_RESCALE sf_f64_store_scaled__avx512
#define SF_F64_WRITE_SOFTMAX sf_f64_store_exp__avx512
#define SF_F64_WRITE_LOG sf_f64_write_log__avx512
#define SF_F64_REST_EXACT sf_f64_rest_exact_row__avx512
#include "kernels_portable.h"
#if defined(__clang__)
#pragma clang attribute pop
#endif
#endif
