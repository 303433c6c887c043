/*
 * Portable sigmoid and log_sigmoid in double, and software float16 / bfloat16 conversions:
 * the scalar kernels, and the lane bodies the compiler vectorizes for the SIMD builds.
 *
 * float32 sigmoid and log_sigmoid are computed in float32 with the library's float32 exp (within
 * about 1 ulp of exp(-|x|), which is up to 2 ulp of a result in the binade below); the division
 * is refined and the sums kept exact, so the result carries that error plus one rounding:
 * measured <= 1.9 ulp (README, tests/test_sigmoid.py). Computing them in double cost twice the
 * lanes and the float64 exp: 2.3x to 5x PyTorch's time.
 *
 * Each function divides once: 1 / den, and the quotient num * (1 / den) refined by one step
 * with the exact residual, which is as accurate as a division refined by a second division
 * and costs a multiply instead (divisions were most of the time of these loops).
 */
#ifndef SF_SIGMOID_PORTABLE_H
#define SF_SIGMOID_PORTABLE_H

#include <math.h>
#include <stdint.h>

#include "exp_portable.h"

/* num - q * s exactly (for q = fl(num / s)): one FMA where the target has it, else Dekker's
 * product in halves (Veltkamp split), which is exact without FMA hardware. */
SF_INLINE double sf_div_residual(double num, double q, double s) {
#ifdef SF_HAVE_FMA
    return fma(-q, s, num);
#else
    const double split = 134217729.0; /* 2^27 + 1 */
    const double qc = q * split, sc = s * split;
    const double qh = qc - (qc - q), ql = q - qh;
    const double sh = sc - (sc - s), sl = s - sh;
    const double p = q * s;
    const double err = ((qh * sh - p) + qh * sl + ql * sh) + ql * sl; /* q * s = p + err */
    return (num - p) - err;
#endif
}

/* (num + numlo) / (den + denlo) for |numlo| <= ulp(num), |denlo| <= ulp(den), den in [1, 2.5]:
 * q = num * (1 / den) is within a few ulp (float64: 2^-48 relative); num - q den is then (nearly) exact, and the correction
 * (num + numlo - q (den + denlo)) / den, a few ulp of q, needs only a few correct bits: the
 * result carries 0.5 ulp + about 2^-50 ulp, the low parts folded in. */
SF_INLINE double sf_div_refined(double num, double numlo, double den, double denlo) {
    /* 1 / den from a float division (den in [1, 2.5] here) and one Newton step: 2^-48 relative,
     * enough for q (the residual step makes it exact); vdivps on 8 lanes is about 3x the
     * throughput of vdivpd */
    const double r0 = (double)(1.0f / (float)den);
    const double r = SF_MADD(r0, SF_MADD(-den, r0, 1.0), r0);
    const double q = num * r;
    return q + ((sf_div_residual(num, q, den) + numlo) - q * denlo) * r;
}

/* num - q * s in float, as sf_div_residual (the split is 2^12 + 1) */
SF_INLINE float sf_div_residualf(float num, float q, float s) {
#ifdef SF_HAVE_FMA
    return fmaf(-q, s, num);
#else
    const float split = 4097.0f;
    const float qc = q * split, sc = s * split;
    const float qh = qc - (qc - q), ql = q - qh;
    const float sh = sc - (sc - s), sl = s - sh;
    const float p = q * s;
    const float err = ((qh * sh - p) + qh * sl + ql * sh) + ql * sl;
    return (num - p) - err;
#endif
}

/* sf_div_refined in float: 0.5 ulp + about 2^-20 ulp */
SF_INLINE float sf_div_refinedf(float num, float numlo, float den, float denlo) {
    const float r = 1.0f / den;
    const float q = num * r;
    return q + ((sf_div_residualf(num, q, den) + numlo) - q * denlo) * r;
}

#define SF_2P128 0x1p128
#define SF_2M128 0x1p-128

/* sigmoid(x) = 1 / (1 + exp(-x)) for x >= 0, exp(x) / (1 + exp(x)) for x < 0: exp(-|x|) <= 1 never
 * overflows. The exp is biased by 2^128 (f64_exp_biased) so that a result below the smallest
 * normal (x < -708) is rounded once, by the final exact-power-of-two multiply. 1 + e is taken
 * exactly (its rounding error c: 1 >= e, so Fast2Sum holds). NaN gives NaN; +-inf give 1 and 0. */
SF_INLINE double sf_sigmoid_d(double x) {
    const double ax = fabs(x);
    const double eb = f64_exp_biased(-ax); /* exp(-|x|) * 2^128, exactly 0 far below */
    const double e = eb * SF_2M128;
    const double s = 1.0 + e;
    const double c = (1.0 - s) + e;
    const double num = x >= 0 ? SF_2P128 : eb; /* NaN: eb is NaN, so is the result */
    return sf_div_refined(num, 0.0, s, c) * SF_2M128;
}

/* sf_sigmoid_d in float: exp(-|x|) biased by 2^64 (f32_exp_biased, exactly 0 at its floor), the
 * division refined, one rounding at the final multiply (a subnormal result for x < -87.3). */
#define SF_2P64F 0x1p64f
#define SF_2M64F 0x1p-64f
SF_INLINE float sf_sigmoid_f(float x) {
    const float ax = fabsf(x);
    const float eb = f32_exp_biased(-ax);
    const float e = eb * SF_2M64F;
    const float s = 1.0f + e;
    const float c = (1.0f - s) + e;
    const float num = x >= 0 ? SF_2P64F : eb;
    return sf_div_refinedf(num, 0.0f, s, c) * SF_2M64F;
}

/* log(1 + t) for t in [0, 1] (and NaN): u = 1 + t with its exact rounding error c; u = 2^k m with
 * m in [sqrt(1/2), sqrt(2)); log(m) = 2 atanh(f / (2 + f)), f = m - 1 exact, as the series
 * 2 s (1 + z/3 + z^2/5 + ...), z = s^2 <= 0.0295 (11 terms: truncation below 2^-56). The parts
 * are returned unsummed: *mid = 2 s (plus k ln2's high part), *low = the small terms. */
#define SF_LN2_HI 0x1.62e42fefa3800p-1 /* 42 significant bits: k * HI exact for k in {0, 1} */
#define SF_LN2_LO 0x1.ef35793c76730p-45
SF_INLINE void sf_log1p_unit_parts(double t, double *khi, double *mid, double *low) {
    const double u = 1.0 + t;
    const double c = (1.0 - u) + t;           /* u + c = 1 + t exactly */
    const int big = u > 1.4142135623730951;   /* then m = u / 2, k = 1 */
    const double m = big ? 0.5 * u : u;
    const double cm = big ? 0.5 * c : c;       /* the error, scaled with m: m + cm = (1 + t) / 2^k */
    const double k = big ? 1.0 : 0.0;
    const double f = m - 1.0;                  /* exact: m in [0.5, 2] */
    const double d = 2.0 + f;
    const double dc = (2.0 - d) + f;           /* d + dc = 2 + f exactly */
    /* s = (f + cm) / (2 + f + cm): the error cm of 1 + t enters the quotient, to first order
     * exactly (no cm / m term, no second division) */
    const double s = sf_div_refined(f, cm, d, dc + cm);
    const double z = s * s;
    double q = 1.0 / 23;
    q = SF_MADD(q, z, 1.0 / 21);
    q = SF_MADD(q, z, 1.0 / 19);
    q = SF_MADD(q, z, 1.0 / 17);
    q = SF_MADD(q, z, 1.0 / 15);
    q = SF_MADD(q, z, 1.0 / 13);
    q = SF_MADD(q, z, 1.0 / 11);
    q = SF_MADD(q, z, 1.0 / 9);
    q = SF_MADD(q, z, 1.0 / 7);
    q = SF_MADD(q, z, 1.0 / 5);
    q = SF_MADD(q, z, 1.0 / 3);
    *khi = k * SF_LN2_HI;
    *mid = 2.0 * s;
    *low = (2.0 * s) * (z * q) + k * SF_LN2_LO;
}

/* sf_log1p_unit_parts in float: the series to z^5 / 11 (truncation below 2^-28 relative) */
#define SF_LN2_HIF 0x1.62e430p-1f /* k in {0, 1}: k * HI exact */
#define SF_LN2_LOF (-0x1.05c610p-29f)
SF_INLINE void sf_log1p_unit_parts_f(float t, float *khi, float *mid, float *low) {
    const float u = 1.0f + t;
    const float c = (1.0f - u) + t;
    const int big = u > 1.41421356f;
    const float m = big ? 0.5f * u : u;
    const float cm = big ? 0.5f * c : c;
    const float k = big ? 1.0f : 0.0f;
    const float f = m - 1.0f;
    const float d = 2.0f + f;
    const float dc = (2.0f - d) + f;
    const float s = sf_div_refinedf(f, cm, d, dc + cm);
    const float z = s * s;
    float q = 1.0f / 11;
    q = SF_MADDF(q, z, 1.0f / 9);
    q = SF_MADDF(q, z, 1.0f / 7);
    q = SF_MADDF(q, z, 1.0f / 5);
    q = SF_MADDF(q, z, 1.0f / 3);
    *khi = k * SF_LN2_HIF;
    *mid = 2.0f * s;
    *low = (2.0f * s) * (z * q) + k * SF_LN2_LOF;
}

/* log_sigmoid(x) = min(x, 0) - log1p(exp(-|x|)): two terms of the same sign (no cancellation),
 * exp(-|x|) <= 1 never overflows. The sum of min(x, 0), k ln2 and 2 s is formed with TwoSums and
 * their errors added with the small terms, so the result is rounded about once:
 * log_sigmoid(-100) = -100 - 3.7e-44 = -100, log_sigmoid(30) = -exp(-30) (1 - exp(-30) / 2). */
SF_INLINE double sf_log_sigmoid_d(double x) {
    const double ax = fabs(x);
    const double tb = f64_exp_biased(-ax);
    const double t = tb * SF_2M128; /* below 2^-1022 (|x| > 708) rounded once: log1p(t) = t */
    double khi, mid, low;
    sf_log1p_unit_parts(t, &khi, &mid, &low);
    const double a = x < 0 ? x : 0.0; /* NaN: t is NaN and so is the result */
    /* a - khi - mid - low, all three subtrahends >= 0 and a <= 0 */
    const double s1 = a - khi;
    const double b1 = s1 - a;
    const double e1 = (a - (s1 - b1)) - (khi + b1);
    const double s2 = s1 - mid;
    const double b2 = s2 - s1;
    const double e2 = (s1 - (s2 - b2)) - (mid + b2);
    const double r = s2 + ((e1 + e2) - low);
    return isfinite(s2) ? r : s2; /* -inf (x = -inf): the TwoSum errors are NaN */
}

/* sf_log_sigmoid_d in float (exp biased by 2^64: t below 2^-126 rounded once) */
SF_INLINE float sf_log_sigmoid_f(float x) {
    const float ax = fabsf(x);
    const float tb = f32_exp_biased(-ax);
    const float t = tb * SF_2M64F;
    float khi, mid, low;
    sf_log1p_unit_parts_f(t, &khi, &mid, &low);
    const float a = x < 0 ? x : 0.0f;
    const float s1 = a - khi;
    const float b1 = s1 - a;
    const float e1 = (a - (s1 - b1)) - (khi + b1);
    const float s2 = s1 - mid;
    const float b2 = s2 - s1;
    const float e2 = (s1 - (s2 - b2)) - (mid + b2);
    const float r = s2 + ((e1 + e2) - low);
    return isfinite(s2) ? r : s2;
}

/* ------------------------------------------------------------------------------------------ */
/* float16 / bfloat16 <-> float32, in software: any x86-64 (and any other CPU). Round to
 * nearest even, NaN stays NaN (quieted), infinities and subnormals exact. Integer-only where it
 * matters, so a caller's FTZ/DAZ setting cannot flush a subnormal half. */

SF_INLINE float sf_f16_to_f32_one(uint16_t h) {
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    const uint32_t ex = (h >> 10) & 0x1fu, man = h & 0x3ffu;
    /* subnormal half: man * 2^-24, exact in float32 (an int below 2^10 times a power of two) */
    const float sub = (float)man * 0x1p-24f;
    const uint32_t sub_bits = f32_bits(sub);
    const uint32_t norm_bits = ((ex + 112u) << 23) | (man << 13);
    const uint32_t special = 0x7f800000u | (man << 13); /* inf, NaN (payload kept) */
    const uint32_t bits = ex == 0 ? sub_bits : (ex == 31 ? special : norm_bits);
    return f32_from_bits(sign | bits);
}

SF_INLINE uint16_t sf_f32_to_f16_one(float f) {
    const uint32_t u = f32_bits(f);
    const uint32_t sign = (u >> 16) & 0x8000u;
    const uint32_t a = u & 0x7fffffffu;
    uint32_t h;
    if (a > 0x7f800000u) {                  /* NaN: quiet, top payload bits kept */
        h = 0x7e00u | ((a >> 13) & 0x3ffu);
    } else if (a >= 0x477ff000u) {          /* >= 65520 (max half + half an ulp): rounds to inf */
        h = 0x7c00u;
    } else if (a < 0x38800000u) {           /* below 2^-14: a subnormal half (or 0) */
        /* adding 0.5 puts the half-subnormal ulp (2^-24) at float32's last bit: the FPU's
         * round-to-nearest-even does the rounding */
        h = f32_bits(f32_from_bits(a) + 0.5f) - 0x3f000000u;
    } else {                                /* normal: rebias, round to nearest even on bit 13 */
        h = (a - 0x38000000u + 0xfffu + ((a >> 13) & 1u)) >> 13;
    }
    return (uint16_t)(sign | h);
}

SF_INLINE float sf_bf16_to_f32_one(uint16_t b) { return f32_from_bits((uint32_t)b << 16); }

SF_INLINE uint16_t sf_f32_to_bf16_one(float f) {
    const uint32_t u = f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u); /* quiet NaN */
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

#endif
