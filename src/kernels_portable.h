/*
 * One build of the portable kernels: both dtypes and the kernel table, for the ISA named by
 * SF_ISA (scalar, avx2, avx512) with SF_LANES_F32 / SF_LANES_F64 lanes per lane array. The
 * including file sets the compiler target; the C is the same everywhere. An ISA file may define
 * SF_<dtype>_RMAX, _RADDEXP, _RESCALE, _WRITE_SOFTMAX and _WRITE_LOG (dtype F32 or F64) to
 * hand-written versions of hot primitives.
 */
#include <float.h>

#include "softmax_fast.h"
#include "exp_portable.h"

#define SF_NAME_(dt, name, isa) sf_##dt##_##name##__##isa
#define SF_NAME(dt, name, isa) SF_NAME_(dt, name, isa)
#define SF_TABLE_NAME_(isa) sf_kernels_##isa
#define SF_TABLE_NAME(isa) SF_TABLE_NAME_(isa)
#define SF_STR_(x) #x
#define SF_STR(x) SF_STR_(x)
/* The ISA file defines SF_HAVE_FMA when its target has FMA (GCC's target pragma does not
 * define __FMA__ for the preprocessor): the final multiply of a softmax then rounds once. */

#define T float
#define WIDE double /* sums and the final scaling of float32 run in double */
#define LANES SF_LANES_F32
#define FN(name) SF_NAME(f32, name, SF_ISA)
#define EXP_BIASED f32_exp_biased
#define EXP2_BIASED f32_exp2_biased
#define EXP_PARTS f32_exp_parts
#define EXP_PARTS2 f32_exp_parts2
#define TWO_DIFF f32_two_diff
#define EXP_TERM_EXACT f32_exp_term_exact
#define T_MIN_EXP FLT_MIN_EXP /* frexp's exponent of T's least normal */
#define T_MANT_DIG FLT_MANT_DIG
#define NEXT_DOWN(v) nextafterf((v), -INFINITY)
#define EXP_BIAS F32_EXP_BIAS
#define EXP_UNBIAS F32_EXP_UNBIAS
#define EXP_ZERO_K (-191.0f) /* -(127 + BIAS): POW2I(k + BIAS) is +0.0 here */
#define POW2I f32_pow2i
#define POW2_MIN (-126.0f)
/* two-pass: |scale*x - shift| must stay below this for the range reduction */
#define TWO_PASS_BOUND 1400.0f
#define TABLE_FIELD f32
#define FMA_T fmaf
/* log(sum) in double is far beyond float32: one term, and the WIDE log_softmax write */
#define LOG_SUM2(rest, lo) (*(lo) = 0.0, log1p(rest))
#define SF_LOG_TWO_TERMS 0
/* float32 terms summed in float32 lanes, 8 per lane (4 pair sums, SUM_CHUNK) before the
 * double total */
#define LANE_COMPENSATED 0
#define LANE_ADD(acc, cmp, e) ((acc) += (e))
#define FACTOR_MIN 0x1p-100 /* lo ~ 2^-124 >= FLT_MIN */
#ifdef SF_F32_RMAX
#define FAST_RMAX SF_F32_RMAX
#endif
#ifdef SF_F32_REST_EXACT
#define FAST_REST_EXACT SF_F32_REST_EXACT
#endif
#ifdef SF_F32_RADDEXP
#define FAST_RADDEXP SF_F32_RADDEXP
#endif
#ifdef SF_F32_RADDEXP_FLUSH
#define FAST_RADDEXP_FLUSH SF_F32_RADDEXP_FLUSH
#endif
#ifdef SF_F32_COLUMNS_SOFTMAX
#define FAST_COLUMNS_SOFTMAX SF_F32_COLUMNS_SOFTMAX
#endif
#ifdef SF_F32_RADDEXP_FLUSH_LOG
#define FAST_RADDEXP_FLUSH_LOG SF_F32_RADDEXP_FLUSH_LOG
#endif
#ifdef SF_F32_RADDEXP_RIDE
#define FAST_RADDEXP_RIDE SF_F32_RADDEXP_RIDE
#define FAST_RADDEXP_RIDE_LOG SF_F32_RADDEXP_RIDE_LOG
#endif
#ifdef SF_F32_RESCALE
#define FAST_RESCALE SF_F32_RESCALE
#endif
#ifdef SF_F32_WRITE_SOFTMAX
#define FAST_WRITE_SOFTMAX SF_F32_WRITE_SOFTMAX
#endif
#ifdef SF_F32_WRITE_LOG
#define FAST_WRITE_LOG SF_F32_WRITE_LOG
#endif
#ifdef SF_F32_SHORT_ROW
#define FAST_SHORT_ROW SF_F32_SHORT_ROW
#define FAST_SHORT_ROW_MAX SF_F32_SHORT_ROW_MAX
#endif
#include "kernels_portable.inc"
#undef FAST_SHORT_ROW
#undef FAST_SHORT_ROW_MAX
#undef FAST_RMAX
#undef FAST_RADDEXP
#undef FAST_REST_EXACT
#undef FAST_RADDEXP_FLUSH
#undef FAST_COLUMNS_SOFTMAX
#undef FAST_RADDEXP_FLUSH_LOG
#undef FAST_RADDEXP_RIDE
#undef FAST_RADDEXP_RIDE_LOG
#undef FAST_RESCALE
#undef FAST_WRITE_SOFTMAX
#undef FAST_WRITE_LOG
#undef T
#undef WIDE
#undef LANES
#undef FN
#undef EXP_BIASED
#undef EXP2_BIASED
#undef EXP_PARTS
#undef EXP_PARTS2
#undef TWO_DIFF
#undef EXP_TERM_EXACT
#undef T_MIN_EXP
#undef T_MANT_DIG
#undef NEXT_DOWN
#undef EXP_BIAS
#undef EXP_UNBIAS
#undef EXP_ZERO_K
#undef POW2I
#undef POW2_MIN
#undef TWO_PASS_BOUND
#undef TABLE_FIELD
#undef FMA_T
#undef LOG_SUM2
#undef SF_LOG_TWO_TERMS
#undef LANE_COMPENSATED
#undef LANE_ADD
#undef FACTOR_MIN

#define T double
#define WIDE double
#define LANES SF_LANES_F64
#define FN(name) SF_NAME(f64, name, SF_ISA)
#define EXP_BIASED f64_exp_biased
#define EXP2_BIASED f64_exp2_biased
#define EXP_PARTS f64_exp_parts
#define EXP_PARTS2 f64_exp_parts2
#define TWO_DIFF f64_two_diff
#define EXP_TERM_EXACT f64_exp_term_exact
#define T_MIN_EXP DBL_MIN_EXP
#define T_MANT_DIG DBL_MANT_DIG
#define NEXT_DOWN(v) nextafter((v), -INFINITY)
#define EXP_BIAS F64_EXP_BIAS
#define EXP_UNBIAS F64_EXP_UNBIAS
#define EXP_ZERO_K (-1151.0) /* -(1023 + BIAS) */
#define POW2I f64_pow2i
#define POW2_MIN (-1022.0)
#define TWO_PASS_BOUND 100000.0
#define TABLE_FIELD f64
#define FMA_T fma
#define LOG_SUM2 sf_log1p2
#define SF_LOG_TWO_TERMS 1
/* float64 terms are summed with their rounding errors kept apart (Fast2Sum on the larger of
 * the two nonnegative addends): the lane sums' rounding was a relative error of the whole sum,
 * hence of every output of the row, up to 2.5 float64 ulp (n = 1000), on top of the exp's own */
#define LANE_COMPENSATED 1
#define LANE_ADD(acc, cmp, e) sf_f64_fast2sum_add(&(acc), &(cmp), (e))
#define FACTOR_MIN 0x1p-960 /* lo ~ 2^-1013 >= DBL_MIN */
#ifdef SF_F64_RMAX
#define FAST_RMAX SF_F64_RMAX
#endif
#ifdef SF_F64_REST_EXACT
#define FAST_REST_EXACT SF_F64_REST_EXACT
#endif
#ifdef SF_F64_RADDEXP
#define FAST_RADDEXP SF_F64_RADDEXP
#endif
#ifdef SF_F64_RADDEXP_FLUSH
#define FAST_RADDEXP_FLUSH SF_F64_RADDEXP_FLUSH
#endif
#ifdef SF_F64_RESCALE
#define FAST_RESCALE SF_F64_RESCALE
#endif
#ifdef SF_F64_WRITE_SOFTMAX
#define FAST_WRITE_SOFTMAX SF_F64_WRITE_SOFTMAX
#endif
#ifdef SF_F64_WRITE_LOG
#define FAST_WRITE_LOG SF_F64_WRITE_LOG
#endif
#include "kernels_portable.inc"

/* ---- elementwise: sigmoid and log_sigmoid (sigmoid_portable.h), each dtype in its own ---- */
#include "sigmoid_portable.h"

/* The ISA file may define SF_<F32|F64>_<SIGMOID|LOG_SIGMOID> to hand-written versions. */
#ifndef SF_F32_SIGMOID
static void SF_NAME(f32, sigmoid, SF_ISA)(const float *x, float *y, ptrdiff_t n) {
    for (ptrdiff_t i = 0; i < n; i++) y[i] = sf_sigmoid_f(x[i]);
}
#define SF_F32_SIGMOID SF_NAME(f32, sigmoid, SF_ISA)
#endif
#ifndef SF_F32_LOG_SIGMOID
static void SF_NAME(f32, log_sigmoid, SF_ISA)(const float *x, float *y, ptrdiff_t n) {
    for (ptrdiff_t i = 0; i < n; i++) y[i] = sf_log_sigmoid_f(x[i]);
}
#define SF_F32_LOG_SIGMOID SF_NAME(f32, log_sigmoid, SF_ISA)
#endif
#ifndef SF_F64_SIGMOID
static void SF_NAME(f64, sigmoid, SF_ISA)(const double *x, double *y, ptrdiff_t n) {
    for (ptrdiff_t i = 0; i < n; i++) y[i] = sf_sigmoid_d(x[i]);
}
#define SF_F64_SIGMOID SF_NAME(f64, sigmoid, SF_ISA)
#endif
#ifndef SF_F64_LOG_SIGMOID
static void SF_NAME(f64, log_sigmoid, SF_ISA)(const double *x, double *y, ptrdiff_t n) {
    for (ptrdiff_t i = 0; i < n; i++) y[i] = sf_log_sigmoid_d(x[i]);
}
#define SF_F64_LOG_SIGMOID SF_NAME(f64, log_sigmoid, SF_ISA)
#endif

/* where=: plain loops, which the compiler vectorizes for the ISA file's target (a select per
 * element; a mask of stride 0 is one byte for the whole row) */
#define SF_MASK_LOOPS(x, m, ms, y, n, scale, fill, scale_x)                                       \
    do {                                                                                          \
        if ((scale_x) && (ms) == 1) {                                                             \
            for (ptrdiff_t i = 0; i < (n); i++) (y)[i] = (m)[i] ? (scale) * (x)[i] : (fill);      \
        } else if (scale_x) {                                                                     \
            if ((m)[0]) {                                                                         \
                for (ptrdiff_t i = 0; i < (n); i++) (y)[i] = (scale) * (x)[i];                    \
            } else {                                                                              \
                for (ptrdiff_t i = 0; i < (n); i++) (y)[i] = (fill);                              \
            }                                                                                     \
        } else if ((ms) == 1) {                                                                   \
            for (ptrdiff_t i = 0; i < (n); i++) (y)[i] = (m)[i] ? (y)[i] : (fill);                \
        } else if (!(m)[0]) {                                                                     \
            for (ptrdiff_t i = 0; i < (n); i++) (y)[i] = (fill);                                  \
        }                                                                                         \
    } while (0)
static void SF_NAME(f32, mask, SF_ISA)(const float *x, const unsigned char *m, ptrdiff_t ms,
                                       float *y, ptrdiff_t n, float scale, float fill,
                                       int scale_x) {
    SF_MASK_LOOPS(x, m, ms, y, n, scale, fill, scale_x);
}
static void SF_NAME(f64, mask, SF_ISA)(const double *x, const unsigned char *m, ptrdiff_t ms,
                                       double *y, ptrdiff_t n, double scale, double fill,
                                       int scale_x) {
    SF_MASK_LOOPS(x, m, ms, y, n, scale, fill, scale_x);
}
#undef SF_MASK_LOOPS

/* ---- float16 / bfloat16 conversions: the ISA file may define SF_HALF_<F16|BF16>_<IN|OUT> to
 * hand-written versions (F16C, AVX512-BF16) ---- */
#ifndef SF_HALF_F16_IN
static void SF_NAME(f16, to_f32, SF_ISA)(const uint16_t *x, float *y, ptrdiff_t n) {
    for (ptrdiff_t i = 0; i < n; i++) y[i] = sf_f16_to_f32_one(x[i]);
}
#define SF_HALF_F16_IN SF_NAME(f16, to_f32, SF_ISA)
#endif
#ifndef SF_HALF_F16_OUT
static void SF_NAME(f32, to_f16, SF_ISA)(const float *x, uint16_t *y, ptrdiff_t n) {
    for (ptrdiff_t i = 0; i < n; i++) y[i] = sf_f32_to_f16_one(x[i]);
}
#define SF_HALF_F16_OUT SF_NAME(f32, to_f16, SF_ISA)
#endif
#ifndef SF_HALF_BF16_IN
static void SF_NAME(bf16, to_f32, SF_ISA)(const uint16_t *x, float *y, ptrdiff_t n) {
    for (ptrdiff_t i = 0; i < n; i++) y[i] = sf_bf16_to_f32_one(x[i]);
}
#define SF_HALF_BF16_IN SF_NAME(bf16, to_f32, SF_ISA)
#endif
#ifndef SF_HALF_BF16_OUT
static void SF_NAME(f32, to_bf16, SF_ISA)(const float *x, uint16_t *y, ptrdiff_t n) {
    for (ptrdiff_t i = 0; i < n; i++) y[i] = sf_f32_to_bf16_one(x[i]);
}
#define SF_HALF_BF16_OUT SF_NAME(f32, to_bf16, SF_ISA)
#endif

#ifndef SF_HALF_SOFTMAX_ROW /* no hand-written 16-bit rows: all of them NULL */
#define SF_HALF_SOFTMAX_ROW NULL
#define SF_HALF_LOAD_MAX NULL
#define SF_HALF_EXPSUM_CHUNKS NULL
#define SF_HALF_SUM_CHUNKS NULL
#define SF_HALF_WRITE NULL
#endif

#define SF_ALGOS(dt, op) \
    {SF_NAME(dt, op##_three_pass, SF_ISA), SF_NAME(dt, op##_two_pass, SF_ISA), \
     SF_NAME(dt, op##_online, SF_ISA)}
#define SF_ELEMENTWISE_f32(op) SF_F32_##op
#define SF_ELEMENTWISE_f64(op) SF_F64_##op
#define SF_ELEMENTWISE(dt, op) SF_ELEMENTWISE_##dt(op)
#define SF_DTYPE_TABLE(dt)                                                                        \
    {                                                                                             \
        .softmax = SF_ALGOS(dt, softmax), .log_softmax = SF_ALGOS(dt, log_softmax),               \
        .partial_three_pass = SF_NAME(dt, partial_three_pass, SF_ISA),                            \
        .partial_online = SF_NAME(dt, partial_online, SF_ISA),                                    \
        .partial_store = SF_NAME(dt, partial_store, SF_ISA),                                      \
        .partial_store_flush = SF_NAME(dt, partial_store_flush, SF_ISA),                          \
        .partial_flush_log = SF_NAME(dt, partial_flush_log, SF_ISA),                              \
        .partial_two_pass = SF_NAME(dt, partial_two_pass, SF_ISA),                                \
        .rescale = SF_NAME(dt, rescale, SF_ISA), .write_softmax = SF_NAME(dt, write_softmax, SF_ISA), \
        .write_log_softmax = SF_NAME(dt, write_log_softmax, SF_ISA),                              \
        .write_two_pass = SF_NAME(dt, write_two_pass, SF_ISA), .columns = SF_ALGOS(dt, columns),  \
        .logsumexp_columns = SF_NAME(dt, logsumexp_columns, SF_ISA),                              \
        .sigmoid = SF_ELEMENTWISE(dt, SIGMOID), .log_sigmoid = SF_ELEMENTWISE(dt, LOG_SIGMOID),  \
        .mask = SF_NAME(dt, mask, SF_ISA), .softmax_rows = SF_NAME(dt, softmax_rows, SF_ISA),   \
        .partials_blocks = SF_NAME(dt, partials_blocks, SF_ISA),                                  \
        .refine_rest = SF_NAME(dt, refine_rest, SF_ISA),                                          \
        .refine_low = SF_NAME(dt, refine_low, SF_ISA),                                            \
        .rest_parts = SF_NAME(dt, rest_parts, SF_ISA),                                            \
    }

const sf_kernels SF_TABLE_NAME(SF_ISA) = {
    .isa = SF_STR(SF_ISA),
    .f32 = SF_DTYPE_TABLE(f32),
    .f64 = SF_DTYPE_TABLE(f64),
    .half = {SF_HALF_F16_IN, SF_HALF_F16_OUT, SF_HALF_BF16_IN, SF_HALF_BF16_OUT,
             SF_HALF_SOFTMAX_ROW, SF_HALF_LOAD_MAX, SF_HALF_EXPSUM_CHUNKS, SF_HALF_SUM_CHUNKS,
             SF_HALF_WRITE},
};
