/*
 * Portable exp building blocks, shared by every build of the portable kernels.
 *
 * exp(d) = p(r) * 2^n with n = round(d / ln2) and r = d - n ln2 (Cody-Waite: ln2 split in two
 * constants so that n * LN2_HI is exact), p a minimax polynomial fitted for this project
 * (tools/fit_exp.py): float32 degree 6 (0.15 ulp of 2^-24 on the interval), float64 degree 11.
 */
#ifndef SF_EXP_PORTABLE_H
#define SF_EXP_PORTABLE_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* The hot helpers must be inlined into the lane loops, or those loops do not vectorize. */
#if defined(_MSC_VER)
#define SF_INLINE static __forceinline
#else
#define SF_INLINE static inline __attribute__((always_inline))
#endif

/* Multiply-adds of the polynomials. The build turns off the compiler's own contraction
 * (-ffp-contract=off): it would fuse a product into a following subtraction, e.g. scale*x into
 * the TwoSum of scale*x - max, whose error term then describes a different sum (a 1-element row
 * with scale=-0.37 gave 1 +- 2 ulp). Where the target has FMA (SF_HAVE_FMA, set by the ISA file)
 * the polynomials ask for it explicitly. */
#ifdef SF_HAVE_FMA
#define SF_MADDF(a, b, c) fmaf((a), (b), (c))
#define SF_MADD(a, b, c) fma((a), (b), (c))
#else
#define SF_MADDF(a, b, c) ((a) * (b) + (c))
#define SF_MADD(a, b, c) ((a) * (b) + (c))
#endif

/* ------------------------------------------------------------------------------------------ */
/* float32 exp pieces                                                                         */

SF_INLINE uint32_t f32_bits(float v) { uint32_t u; memcpy(&u, &v, sizeof u); return u; }
SF_INLINE float f32_from_bits(uint32_t u) { float v; memcpy(&v, &u, sizeof v); return v; }

/* Adding 1.5 * 2^23 rounds a float of magnitude < 2^22 to an integer held in the low mantissa
 * bits; it avoids a float-to-int conversion, which is undefined for NaN in C. */
#define F32_ROUND_MAGIC 0x1.8p23f
#define F32_LOG2E 0x1.715476p+0f
/* ln2 = F32_LN2_HI + F32_LN2_LO; HI has 13 significant bits so n * HI is exact for |n| < 2^11 */
#define F32_LN2_HI 0x1.62ep-1f
#define F32_LN2_LO 0x1.0bfbe8p-15f
/* Exp terms are computed biased, exp(d) * 2^F32_EXP_BIAS: normal for every d <= 0 the kernels
 * pass, so scaling by 2^n is one multiply. The bias comes off in the final multiply by
 * 2^-BIAS / sum, which rounds a subnormal output once. At and below F32_EXP_FLOOR =
 * -(127 + BIAS) ln2, 2^(n + BIAS) is built from all-zero bits: the term is exactly 0. */
#define F32_EXP_BIAS 64
#define F32_EXP_UNBIAS 0x1p-64f
#define F32_EXP_FLOOR (-0x1.08c84p+7f)

/* 2^k for an integer-valued k in [-127, 127]; k = -127 gives +0.0. */
SF_INLINE float f32_pow2i(float k) {
    uint32_t n = f32_bits(k + F32_ROUND_MAGIC) - f32_bits(F32_ROUND_MAGIC);
    return f32_from_bits((n + 127u) << 23);
}

/* exp(r) ~ 1 + r + r^2 (C2 + r (C3 + r (C4 + r (C5 + r C6)))) on |r| <= ln2 / 2 */
#define F32_EXP_C6 0x1.6c8512p-10f
#define F32_EXP_C5 0x1.122ab6p-7f
#define F32_EXP_C4 0x1.5555c2p-5f
#define F32_EXP_C3 0x1.5554acp-3f
#define F32_EXP_C2 0x1.0p-1f

/* exp(r) on |r| <= ln2/2 (a little beyond is fine) */
SF_INLINE float f32_exp_poly(float r) {
    float q = F32_EXP_C6;
    q = SF_MADDF(q, r, F32_EXP_C5);
    q = SF_MADDF(q, r, F32_EXP_C4);
    q = SF_MADDF(q, r, F32_EXP_C3);
    q = SF_MADDF(q, r, F32_EXP_C2);
    return SF_MADDF(q * r, r, r) + 1.0f;
}

/* exp(d + lo) = p * 2^nf with p in [0.7, 1.42], for |d| < 2^11 * ln2 and |lo| <= ulp(d): lo is
 * the rounding error of d (see f32_two_diff), added to the reduced argument, where it is
 * small. NaN gives p = NaN. */
SF_INLINE float f32_exp_parts2(float d, float lo, float *nf) {
    float n = (d * F32_LOG2E + F32_ROUND_MAGIC) - F32_ROUND_MAGIC;
    float r = d - n * F32_LN2_HI;
    r = r - n * F32_LN2_LO;
    *nf = n;
    return f32_exp_poly(r + lo);
}

/* exp(d) = p * 2^nf with p in [0.7, 1.42]; valid for |d| < 2^11 * ln2. NaN gives p = NaN. */
SF_INLINE float f32_exp_parts(float d, float *nf) {
    float n = (d * F32_LOG2E + F32_ROUND_MAGIC) - F32_ROUND_MAGIC;
    float r = d - n * F32_LN2_HI;
    r = r - n * F32_LN2_LO;
    *nf = n;
    return f32_exp_poly(r);
}

/* a - b = hi + *lo exactly, hi = fl(a - b): Knuth's TwoSum of a and -b, for any magnitudes.
 * Rounding d = x - max costs exp(d) a relative error of |d| u (50 ulp at d = -100); the kernels
 * that write exps carry lo into the range reduction instead. Infinite inputs give lo = NaN:
 * callers drop lo wherever hi is not finite. */
SF_INLINE float f32_two_diff(float a, float b, float *lo) {
    float hi = a - b;
    float bv = hi - a;
    *lo = (a - (hi - bv)) - (b + bv);
    return hi;
}

/* exp(hi + lo) * 2^F32_EXP_BIAS for hi + lo = the exact v - shift <= 0 (or NaN, or -inf, for
 * which lo is ignored); exactly 0 at and below F32_EXP_FLOOR. */
SF_INLINE float f32_exp2_biased(float hi, float lo) {
    float nf;
    if (!(hi >= F32_EXP_FLOOR)) { /* below the floor, -inf or NaN: lo does not matter */
        lo = 0.0f;
        hi = hi < F32_EXP_FLOOR ? F32_EXP_FLOOR : hi; /* keeps NaN */
    }
    float p = f32_exp_parts2(hi, lo, &nf);
    return p * f32_pow2i(nf + F32_EXP_BIAS);
}

/* exp(d) * 2^F32_EXP_BIAS for d <= 0 (or NaN); exactly 0 at and below F32_EXP_FLOOR. */
SF_INLINE float f32_exp_biased(float d) {
    float nf;
    d = d < F32_EXP_FLOOR ? F32_EXP_FLOOR : d; /* keeps NaN */
    float p = f32_exp_parts(d, &nf);
    return p * f32_pow2i(nf + F32_EXP_BIAS);
}

/* ------------------------------------------------------------------------------------------ */
/* float64 exp pieces                                                                         */

SF_INLINE uint64_t f64_bits(double v) { uint64_t u; memcpy(&u, &v, sizeof u); return u; }
SF_INLINE double f64_from_bits(uint64_t u) { double v; memcpy(&v, &u, sizeof v); return v; }

#define F64_ROUND_MAGIC 0x1.8p52
#define F64_LOG2E 0x1.71547652b82fep+0
/* HI has 32 significant bits: n * HI is exact for |n| < 2^21 */
#define F64_LN2_HI 0x1.62e42feep-1
#define F64_LN2_LO 0x1.a39ef35793c76p-33
#define F64_EXP_BIAS 128 /* as for float32 */
#define F64_EXP_UNBIAS 0x1p-128
#define F64_EXP_FLOOR (-0x1.8ee7fce19c29fp+9) /* -(1023 + BIAS) ln2 */

/* 2^k for an integer-valued k in [-1023, 1023]; k = -1023 gives +0.0. */
SF_INLINE double f64_pow2i(double k) {
    uint64_t n = f64_bits(k + F64_ROUND_MAGIC) - f64_bits(F64_ROUND_MAGIC);
    return f64_from_bits((n + 1023u) << 52);
}

/* exp(r) ~ 1 + r + r^2 (C2 + r (C3 + ... + r C11)) on |r| <= ln2 / 2 */
#define F64_EXP_C11 0x1.af52906239de4p-26
#define F64_EXP_C10 0x1.28a6924913659p-22
#define F64_EXP_C9 0x1.71ddffef9e7b1p-19
#define F64_EXP_C8 0x1.a019a2b5a03cap-16
#define F64_EXP_C7 0x1.a01a01aca0134p-13
#define F64_EXP_C6 0x1.6c16c18071d1ep-10
#define F64_EXP_C5 0x1.111111110ff87p-7
#define F64_EXP_C4 0x1.5555555551c52p-5
#define F64_EXP_C3 0x1.5555555555557p-3
#define F64_EXP_C2 0x1.0000000000006p-1

/* exp(rh + rl) for |rh| <= ln2 / 2 and a small correction rl: 1 + rh + rh^2 q(rh) +
 * rl exp(rh), with 1 + rh split exactly (Fast2Sum: s + e) so that only the final addition
 * rounds at the result's magnitude. Rounding r = d - n ln2 itself (twice: n LO, then the
 * difference's own error lo) and then 1 + r p put the result up to ~1.7 ulp off, which a
 * log_softmax whose rest is one such term shows twice over when the rest lies in a higher
 * binade than log1p(rest) (2.7 ULP measured on rows of N(0, 10) x); now ~0.5 ulp. */
SF_INLINE double f64_exp_poly_pair(double rh, double rl, double *lo) {
    double q = F64_EXP_C11;
    q = SF_MADD(q, rh, F64_EXP_C10);
    q = SF_MADD(q, rh, F64_EXP_C9);
    q = SF_MADD(q, rh, F64_EXP_C8);
    q = SF_MADD(q, rh, F64_EXP_C7);
    q = SF_MADD(q, rh, F64_EXP_C6);
    q = SF_MADD(q, rh, F64_EXP_C5);
    q = SF_MADD(q, rh, F64_EXP_C4);
    q = SF_MADD(q, rh, F64_EXP_C3);
    q = SF_MADD(q, rh, F64_EXP_C2);
    const double t = (q * rh) * rh; /* exp(rh) - 1 - rh */
    const double s = 1.0 + rh;
    const double e = (1.0 - s) + rh;
    const double a = SF_MADD(rl, s + t, t); /* + rl exp(rh): rl reaches 2^-44 (lo of d ~ -700) */
    const double c = e + a;
    const double r = s + c;
    *lo = c - (r - s); /* Fast2Sum: |s| > 0.6 > |c| */
    return r;
}

/* the same, rounded to a double */
SF_INLINE double f64_exp_poly2(double rh, double rl) {
    double lo;
    return f64_exp_poly_pair(rh, rl, &lo);
}

/* d - n ln2 as rh + rl: d - n HI is exact (HI's 32 bits), and the Fast2Sum error of taking n LO
 * off it goes into rl with lo (d's own rounding error; n LO's is below 2^-76) */
SF_INLINE double f64_exp_parts_pair(double d, double lo, double *nf, double *plo) {
    const double n = (d * F64_LOG2E + F64_ROUND_MAGIC) - F64_ROUND_MAGIC;
    const double r1 = d - n * F64_LN2_HI;
    const double nl = n * F64_LN2_LO;
    const double rh = r1 - nl;
    const double rl = ((r1 - rh) - nl) + lo;
    *nf = n;
    return f64_exp_poly_pair(rh, rl, plo);
}

SF_INLINE double f64_exp_parts2(double d, double lo, double *nf) { /* as f32_exp_parts2 */
    double plo;
    return f64_exp_parts_pair(d, lo, nf, &plo);
}

SF_INLINE double f64_exp_parts(double d, double *nf) { return f64_exp_parts2(d, 0.0, nf); }

SF_INLINE double f64_two_diff(double a, double b, double *lo) { /* as f32_two_diff */
    double hi = a - b;
    double bv = hi - a;
    *lo = (a - (hi - bv)) - (b + bv);
    return hi;
}

SF_INLINE double f64_exp2_biased(double hi, double lo) { /* as f32_exp2_biased */
    double nf;
    if (!(hi >= F64_EXP_FLOOR)) {
        lo = 0.0;
        hi = hi < F64_EXP_FLOOR ? F64_EXP_FLOOR : hi;
    }
    double p = f64_exp_parts2(hi, lo, &nf);
    return p * f64_pow2i(nf + F64_EXP_BIAS);
}

SF_INLINE double f64_exp_biased(double d) {
    double nf;
    d = d < F64_EXP_FLOOR ? F64_EXP_FLOOR : d;
    double p = f64_exp_parts(d, &nf);
    return p * f64_pow2i(nf + F64_EXP_BIAS);
}

/* exp(v - m) * 2^F64_EXP_BIAS for v <= m as th + *tl, within ~2^-55 relative: the terms of
 * a rest taken again for log_softmax (kernels_portable.inc, FN(rest_exact)). float32: v - m is
 * exact in double and the double exp is far beyond float32's precision. float64: v - m exact
 * (TwoSum), the exp's pair unrounded. 0 below the floor (a term below 2^-1150 of the
 * max's, beside a rest of at least the max's other terms). */
SF_INLINE double f32_exp_term_exact(float v, float m, double *tl) {
    *tl = 0.0;
    return f64_exp_biased((double)v - (double)m);
}

SF_INLINE double f64_exp_term_exact(double v, double m, double *tl) {
    double lo, nf, plo;
    const double d = f64_two_diff(v, m, &lo);
    if (!(d >= F64_EXP_FLOOR)) {
        *tl = 0.0;
        return 0.0;
    }
    const double p = f64_exp_parts_pair(d, lo, &nf, &plo);
    const double k = f64_pow2i(nf + F64_EXP_BIAS);
    *tl = plo * k;
    return p * k;
}

/* ------------------------------------------------------------------------------------------ */
/* Compensated sums: the error of a long sum must not grow with its length                     */

/* Knuth's TwoSum: hi + lo holds the running sum; lo collects each addition's rounding error. */
SF_INLINE void sf_acc_add(double *hi, double *lo, double v) {
    double s = *hi + v;
    double bv = s - *hi;
    double err = (*hi - (s - bv)) + (v - bv);
    *hi = s;
    *lo += err;
}

/* *acc += e with the rounding error added to *cmp, for nonnegative (or NaN) addends: Fast2Sum
 * with the larger addend first, which makes it exact. Written with selects so it vectorizes. */
SF_INLINE void sf_f64_fast2sum_add(double *acc, double *cmp, double e) {
    const double a = *acc, s = a + e;
    const double big = a > e ? a : e, small = a > e ? e : a;
    *cmp += (big - s) + small;
    *acc = s;
}

/* exp(a - b) as hi + *lo, beyond double where long double is wider (dispatch.c; also declared
 * in softmax_fast.h, which this header does not include) */
double sf_exp_of_diff2(double a, double b, double *lo);

/* (hi + lo) *= exp(a - b) for a < b: the factor in double-double and the rounding of hi * f
 * kept in lo, so rescaling a sum costs it no accuracy. Rare (a lane's max changed): the
 * factor is a libm call. */
static inline void sf_acc_scale(double *hi, double *lo, double a, double b) {
    double f_lo;
    const double f = sf_exp_of_diff2(a, b, &f_lo);
    const double p = *hi * f;
    *lo = (fma(*hi, f, -p) + *lo * f) + *hi * f_lo;
    *hi = p;
}

/* Fold m * 2^e (e integer-valued) into the compensated extended sum (hi + lo) * 2^E. */
static inline void sf_ext_fold(double *E, double *hi, double *lo, double e, double m) {
    if (e > *E) {
        double f = ldexp(1.0, (int)fmax(*E - e, -4000.0));
        *hi *= f;
        *lo *= f;
        *E = e;
    }
    sf_acc_add(hi, lo, ldexp(m, (int)fmax(e - *E, -4000.0)));
}

/* How the SIMD exp passes take v - shift exactly (SF_DIFF_*), picked per row from its shift and
 * its least v (sf_diff_form; FN(max) gives the least). Every form gives the same difference and
 * error (all exact), hence the same bits; the cheaper ones need the row's range known. */
#define SF_DIFF_TWOSUM 0      /* any v: clamped or masked where not finite, then TwoSum */
#define SF_DIFF_TWOSUM_NEAR 1 /* every v - shift within the reach below: TwoSum alone */
#define SF_DIFF_SHIFT_BIG 2   /* and no |v| in a higher binade than shift: Fast2Sum, shift */
#define SF_DIFF_V_BIG 3       /* and shift <= 0, so |v| >= |shift|: Fast2Sum around v */

/* Without the clamp every v - shift must stay where the magic-number reduction is exact
 * (|d| / ln 2 < 2^22 for float32) and its error small beside the reduced argument; a term below
 * the floor then comes out 0 as the clamped one does. */
#define SF_DIFF_REACH 0x1p21

/* Fast2Sum (s = a + b, then b - (s - a)) is exact when a's exponent is at least b's, of which
 * the usual |a| >= |b| is one case. With a = -shift, shift > 0, and b = v that is every
 * |v| < 2^e, for 2^(e-1) <= shift < 2^e (frexp): N(0, 1) logits (max ~4.5, least ~-4.5) pass,
 * where |v| <= shift fails half the rows. */
SF_INLINE int sf_diff_form(double shift, double least, const int wide) {
    if (wide || !(least - shift >= -SF_DIFF_REACH)) return SF_DIFF_TWOSUM;
    if (shift <= 0) return SF_DIFF_V_BIG;
    int e;
    (void)frexp(shift, &e);
    return -least < ldexp(1.0, e) ? SF_DIFF_SHIFT_BIG : SF_DIFF_TWOSUM_NEAR;
}

/* `return CALL(f)` for the run-time form `form`, with f a compile-time constant in each branch,
 * so that every form gets a loop of its own */
#define SF_RETURN_BY_DIFF_FORM(form, CALL)                                                        \
    do {                                                                                          \
        const int sf_form_ = (form);                                                              \
        if (sf_form_ == SF_DIFF_SHIFT_BIG) return CALL(SF_DIFF_SHIFT_BIG);                        \
        if (sf_form_ == SF_DIFF_V_BIG) return CALL(SF_DIFF_V_BIG);                                \
        if (sf_form_ == SF_DIFF_TWOSUM_NEAR) return CALL(SF_DIFF_TWOSUM_NEAR);                    \
        return CALL(SF_DIFF_TWOSUM);                                                              \
    } while (0)

/* The SIMD float32 exp-sum passes add each term to one of 4 float32 accumulator vectors of
 * `lanes` lanes, and every SF_F32_LANE_TERMS terms a lane the lanes go into double. Rounding
 * in float32 lanes errs the same way term after term when the terms are equal (a constant row,
 * or one value repeated below the max): with 32 terms a lane the sum of such rows was up to
 * 5.6 ULP off (1 + 19999 x (-0.7): softmax 5.3 ULP on AVX2, 4.3 on AVX-512; a constant row of
 * 300000: |n softmax - 1| = 5.7 u). */
#define SF_F32_LANE_TERMS 4
#define SF_F32_LANE_CHUNK(lanes) (4 * (lanes) * SF_F32_LANE_TERMS)

/* A hint that `p` will be read soon; prefetches never fault, so any address is fine. */
#if defined(__GNUC__) || defined(__clang__)
#define SF_PREFETCH(p) __builtin_prefetch((p), 0, 3)
#else
#define SF_PREFETCH(p) ((void)(p))
#endif

#endif
