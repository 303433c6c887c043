/*
 * softmax_fast: the one header the Cython layer sees.
 *
 * Kernels work on one contiguous row (or on a panel of columns for a non-last axis) and never
 * touch Python. Every algorithm is split into a reduction ("partial") and a write pass so that
 * one long row can be cut into fixed blocks, reduced per block on any thread, merged in block
 * order, and written: the bits do not depend on the number of threads.
 */
#ifndef SOFTMAX_FAST_H
#define SOFTMAX_FAST_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum sf_algorithm { SF_THREE_PASS = 0, SF_TWO_PASS = 1, SF_ONLINE = 2, SF_NUM_ALGORITHMS = 3 };

/* The exponential sum of a slice in factored form: sum(exp(v)) = sum * exp(max).
 * For the (max, sum) partials of the three-pass and online reductions `max` is the slice's
 * maximum (or -inf with sum 0 for a slice holding only -inf; partial_store's may instead be a
 * double within 2^-19 of it, see there: such a partial only merges and rescales stored terms,
 * never feeds write_softmax or write_log_softmax), and `rest` is sum - 1 computed
 * without the rounding of the 1: the terms equal to the max are counted apart from the others,
 * so log(sum) = log1p(rest) keeps its accuracy when the max dominates (a log_softmax output
 * near 0 is -log(sum)). For the two-pass reduction it is the extended-range pair relative to a
 * shift c, sum(exp(v)) = sum * 2^max * exp(c), and rest is unused. */
typedef struct sf_partial {
    double max;
    double sum;
    double rest;
} sf_partial;

/* One dtype's kernels. T is float or double. `scale` multiplies x before anything else.
 * Row kernels accept y == x (in place); no other overlap. */
#define SF_DECLARE_KERNEL_TABLE(NAME, T)                                                           \
    typedef struct NAME {                                                                          \
        /* whole contiguous row, one call */                                                       \
        void (*softmax[SF_NUM_ALGORITHMS])(const T *x, T *y, ptrdiff_t n, T scale);                \
        void (*log_softmax[SF_NUM_ALGORITHMS])(const T *x, T *y, ptrdiff_t n, T scale);            \
        /* block pieces: reductions. `next` (or NULL): the n elements to be read after this      \
         * block, prefetched during its exp pass */                                                \
        sf_partial (*partial_three_pass)(const T *x, ptrdiff_t n, T scale, const T *next);         \
        sf_partial (*partial_online)(const T *x, ptrdiff_t n, T scale);                            \
        /* y = exp(scale*x - max) * 2^BIAS; returns (max, sum) with max the block's own max or, \
         * where the ISA folds the shift into its exp (AVX-512 float32), a double within 2^-19 \
         * of it that the stored terms are exactly relative to */                                 \
        sf_partial (*partial_store)(const T *x, T *y, ptrdiff_t n, T scale, const T *next);        \
        /* partial_store (the same bits) with another row's rescale riding along its exp pass:    \
         * rescale(fsrc, fdst, n, factor, factor_lo, stream=1) of that row, n elements too; fdst \
         * aligned to T. Where the ISA has a fused kernel, the output stores of one row then      \
         * overlap the next row's arithmetic; else the two passes run one after the other. */    \
        sf_partial (*partial_store_flush)(const T *x, T *y, ptrdiff_t n, T scale, const T *next,   \
                                          const T *fsrc, T *fdst, double factor,                  \
                                          double factor_lo);                                      \
        /* partial_three_pass with another row's write_log_softmax(fsrc, fdst, n, scale, max,     \
         * log_sum, log_lo, stream=1) riding along, as partial_store_flush */                    \
        sf_partial (*partial_flush_log)(const T *x, ptrdiff_t n, T scale, const T *next,           \
                                        const T *fsrc, T *fdst, double max, double log_sum,       \
                                        double log_lo);                                           \
        /* extended-range sum of exp(scale*x - shift); returns nonzero when a value lies too far  \
         * above the shift for the range reduction (caller falls back to the online algorithm) */ \
        int (*partial_two_pass)(const T *x, ptrdiff_t n, T scale, T shift, sf_partial *out);       \
        /* block pieces: write passes. `stream` nonzero: y is written with non-temporal stores    \
         * (the caller issues sf_stream_fence() before anyone reads it) */                         \
        /* y = src * (factor + factor_lo), src holding partial_store's biased terms (src may be \
         * y). Factors come in two parts (sf_inverse2): float64 outputs then round once. */      \
        void (*rescale)(const T *src, T *y, ptrdiff_t n, double factor, double factor_lo,          \
                        int stream);                                                               \
        void (*write_softmax)(const T *x, T *y, ptrdiff_t n, T scale, double max, double inv_sum,  \
                              double inv_lo, int stream);                                          \
        /* log_sum + log_lo = log(sum) (sf_log1p2) */                                              \
        void (*write_log_softmax)(const T *x, T *y, ptrdiff_t n, T scale, double max,              \
                                  double log_sum, double log_lo, int stream);                      \
        void (*write_two_pass)(const T *x, T *y, ptrdiff_t n, T scale, T shift, double exponent,   \
                               double inv_sum, double inv_lo);                                     \
        /* a panel of `width` contiguous columns, `n` rows `x_stride`/`y_stride` elements apart;  \
         * softmax (log=0) or log_softmax (log=1) down each column */                              \
        void (*columns[SF_NUM_ALGORITHMS])(const T *x, T *y, ptrdiff_t n, ptrdiff_t width,         \
                                           ptrdiff_t x_stride, ptrdiff_t y_stride, T scale,        \
                                           int log);                                               \
        /* logsumexp down each column of a panel into out[j * out_stride] */                       \
        void (*logsumexp_columns)(const T *x, T *out, ptrdiff_t n, ptrdiff_t width,                \
                                  ptrdiff_t x_stride, ptrdiff_t out_stride, T scale);              \
        /* elementwise, contiguous, y == x allowed: 1 / (1 + exp(-x)) and its log */              \
        void (*sigmoid)(const T *x, T *y, ptrdiff_t n);                                            \
        void (*log_sigmoid)(const T *x, T *y, ptrdiff_t n);                                        \
        /* where=, elementwise, contiguous x and y, the mask's bytes ms (0 or 1) apart: y =       \
         * scale * x where the mask holds, else fill (scale_x); or, with x == y, y = fill where   \
         * it does not (the masked output) */                                                     \
        void (*mask)(const T *x, const unsigned char *m, ptrdiff_t ms, T *y, ptrdiff_t n,          \
                     T scale, T fill, int scale_x);                                                \
        /* three-pass softmax (log=0) or log_softmax (log=1) of R rows of n elements (n below    \
         * the blocked rows' length), row r at x + r * xs and y + r * ys (y may be x): one row    \
         * after another as the block pieces give them (partial_store and rescale; or            \
         * partial_three_pass and write_log_softmax: the same bits), without a call per row from \
         * the caller; rows that fit in registers by a kernel of their own where the ISA has one  \
         */                                                                                        \
        void (*softmax_rows)(const T *x, T *y, ptrdiff_t R, ptrdiff_t n, ptrdiff_t xs,            \
                             ptrdiff_t ys, T scale, int log);                                      \
        /* the three-pass partials of blocks b0 .. b1 - 1 of an n-long row cut into `block`-long  \
         * blocks (the last may be shorter) into parts[b]: partial_store's (y != NULL: the terms  \
         * stored into y) or partial_three_pass's, the same bits, `next` (or NULL) prefetched    \
         * during the last; where the ISA has one, each block's exp pass carries the next        \
         * block's max pass */                                                                    \
        void (*partials_blocks)(const T *x, T *y, ptrdiff_t n, ptrdiff_t block, ptrdiff_t b0,     \
                                ptrdiff_t b1, T scale, sf_partial *parts, const T *next);         \
        /* the rest (sum - 1) of a whole slice's partial (max, rest) for its log_softmax,        \
         * taken again from the slice (n values at stride `stride`) in higher precision where    \
         * log1p(rest) would show its error (kernels_portable.inc, FN(refine_rest)), else `rest` \
         * itself */                                                                              \
        double (*refine_rest)(const T *x, ptrdiff_t n, ptrdiff_t stride, T scale, double max,      \
                              double rest);                                                       \
        /* the same in pieces, for a slice cut into chunks (n values in all): refine_low says  \
         * whether its rest is to be taken again and from which values (*low); rest_parts gives \
         * a chunk's (count of values at the max, hi, lo of its terms' sum biased by 2^128),    \
         * which add up over the chunks to the slice's */                                        \
        int (*refine_low)(double max, double rest, ptrdiff_t n, T *low);                           \
        void (*rest_parts)(const T *x, ptrdiff_t n, ptrdiff_t stride, T scale, T max, T low,       \
                           double *out);                                                          \
    } NAME;

SF_DECLARE_KERNEL_TABLE(sf_f32_kernels, float)
SF_DECLARE_KERNEL_TABLE(sf_f64_kernels, double)

/* float16 (IEEE binary16) and bfloat16 <-> float32 conversions of contiguous arrays, as raw
 * 16-bit patterns: round to nearest even, NaN stays NaN, infinities kept. bfloat16 subnormal
 * outputs may flush to zero where the CPU's own conversion (AVX512-BF16) is used. */
typedef struct sf_half_kernels {
    void (*f16_to_f32)(const uint16_t *x, float *y, ptrdiff_t n);
    void (*f32_to_f16)(const float *x, uint16_t *y, ptrdiff_t n);
    void (*bf16_to_f32)(const uint16_t *x, float *y, ptrdiff_t n);
    void (*f32_to_bf16)(const float *x, uint16_t *y, ptrdiff_t n);
    /* softmax (log=0) or log_softmax (log=1) of one contiguous 16-bit row (bf16: bfloat16, else
     * float16) into y, three-pass; y may be x. buf (n floats): scale * x in float32 where the
     * kernel needs it (a scale other than 1). `next` (or NULL): the next row,
     * prefetched into L2 meanwhile. NULL where the ISA has no hand-written one: the caller
     * converts rows into float32 and uses the float32 kernels. */
    void (*softmax_row)(const uint16_t *x, uint16_t *y, ptrdiff_t n, float scale, int bf16,
                        int log, float *buf, const uint16_t *next);
    /* The passes of softmax_row, for a row cut into blocks across threads (the same bits): (1)
     * buf = scale * x in float32, returns the block's max (NaN skipped); (2) the exp terms'
     * sums, one double per SF_HALF_CHUNK-element chunk of the block (which starts at a multiple
     * of SF_HALF_CHUNK) into sums, terms equal to 1 counted into *ones unless `softmax` (whose
     * terms are as precise as the output format, bf16, needs), m the row's max (NaN skipped, as
     * softmax_row's); then the row's sum from all its chunk sums (*rest = sum - 1); (3) y:
     * softmax from buf, m and c = the row's sum; log_softmax (buf - m) - c, c = log1p(rest). */
    float (*load_max)(const uint16_t *x, float *buf, ptrdiff_t n, float scale, int bf16);
    void (*expsum_chunks)(const float *buf, ptrdiff_t n, float m, int softmax, int bf16,
                          double *sums, ptrdiff_t *ones);
    double (*sum_chunks)(const double *sums, ptrdiff_t nc, ptrdiff_t ones, double *rest);
    void (*write)(const float *buf, uint16_t *y, ptrdiff_t n, int bf16, int log, float m,
                  double c);
} sf_half_kernels;

typedef struct sf_kernels {
    const char *isa;
    sf_f32_kernels f32;
    sf_f64_kernels f64;
    sf_half_kernels half;
} sf_kernels;

/* ISA levels, lowest first. */
enum sf_isa { SF_ISA_SCALAR = 0, SF_ISA_AVX2 = 1, SF_ISA_AVX512 = 2, SF_NUM_ISAS = 3 };

/* Names of the ISA levels ("scalar", "avx2", "avx512"). */
const char *sf_isa_name(int isa);
/* Bit i set when this CPU (and its OS) supports ISA level i. */
int sf_cpu_isa_mask(void);
/* The kernel table for a level, or NULL when this build has no kernels for it. */
const sf_kernels *sf_kernels_for_isa(int isa);
/* The best level that both the CPU and this build support. */
int sf_best_isa(void);

/* exp(a - b) with a - b taken exactly: a rounded difference d costs exp(d) a relative error of
 * |d| u (float64 maxima of blocks far apart). */
double sf_exp_of_diff(double a, double b);
/* exp(a - b) = the result + *lo, beyond double where long double is wider */
double sf_exp_of_diff2(double a, double b, double *lo);
/* 1 / s = the result + *lo, to about 2^-106 relative (*lo = 0 where 1 / s is not finite) */
double sf_inverse2(double s, double *lo);
/* log1p(rest) = the result + *lo, beyond double where long double is wider */
double sf_log1p2(double rest, double *lo);
/* Merge two (max, sum) partials of the exp-sum; associative and NaN-propagating. */
sf_partial sf_merge_partials(sf_partial a, sf_partial b);
/* The merge of count partials (count >= 1), rounded once rather than once per partial. */
sf_partial sf_merge_all(const sf_partial *p, ptrdiff_t count);
/* Merge two extended-range (exponent, mantissa) partials of the two-pass reduction. */
sf_partial sf_merge_extended(sf_partial a, sf_partial b);
/* logsumexp of a strided slice from its (max, sum) partial: max + log(sum), or, when either is
 * not finite, DESIGN section 3's answer found by scanning the slice (NaN, +inf or -inf). */
double sf_f32_logsumexp_finish(const float *x, ptrdiff_t n, ptrdiff_t stride, float scale,
                               sf_partial p);
double sf_f64_logsumexp_finish(const double *x, ptrdiff_t n, ptrdiff_t stride, double scale,
                               sf_partial p);

/* Copy `bytes` bytes with non-temporal stores (the benchmarks' memory-bandwidth yardstick, and
 * the output path of large softmaxes). Call sf_stream_fence() once after the last copy of a
 * thread: a fence per copy would drain the write-combining buffers every row. */
void sf_stream_copy(const void *src, void *dst, size_t bytes);
void sf_stream_fence(void);

/* Nonzero when this CPU has AVX512-BF16 (vcvtneps2bf16) with the AVX-512 state enabled. */
int sf_cpu_has_avx512bf16(void);

/* A row buffer of at least `bytes` for the calling thread, kept between calls up to
 * SF_SCRATCH_KEEP bytes (a fresh malloc'd buffer's first-touch page faults cost as much as a
 * 16-bit softmax of the row: ~10 us for 512 KiB here); larger ones are malloc'd each time.
 * Give it back with sf_scratch_release, once per get, before the thread asks again. NULL when
 * out of memory. */
#define SF_SCRATCH_KEEP ((size_t)4 << 20)

/* The 16-bit kernels' pass 2 sums its terms in chunks of this many elements (float32 lanes per
 * chunk, the chunk sums compensated in double); a row's split blocks start at multiples of it. */
#define SF_HALF_CHUNK 2048
void *sf_scratch_get(size_t bytes);
void sf_scratch_release(void *p);

/* OpenMP facts of this build (1 and 0 without OpenMP). */
int sf_omp_max_threads(void);
int sf_omp_thread_count(void); /* threads of the enclosing parallel region (1 outside) */
void sf_omp_barrier(void);
int sf_have_openmp(void);

/* The kernel tables, one per ISA file. The SIMD files build only where GCC-style target
 * pragmas exist on x86-64; elsewhere only the scalar table exists. */
extern const sf_kernels sf_kernels_scalar;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SF_HAVE_X86_SIMD_BUILDS 1
extern const sf_kernels sf_kernels_avx2;
extern const sf_kernels sf_kernels_avx512;
#else
#define SF_HAVE_X86_SIMD_BUILDS 0
#endif

#ifdef __cplusplus
}
#endif
#endif
