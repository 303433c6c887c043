# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, cpow=True
"""Compiled core: typed memoryviews in, C kernels underneath, GIL released, OpenMP threads.

Every array arrives as a 3-D view (outer, n, inner) with arbitrary strides: the reduction axis
is the middle one. `_api.py` builds these views without copying whenever the layout allows.

Parallel plan (results are bitwise identical for any thread count):
- rows (inner == 1, or a strided inner axis): rows are spread over threads; a row of at least
  ``SPLIT_MIN`` elements is always cut into fixed blocks of ``BLOCK`` elements whose partials are
  merged in block order, whether one thread or several do the blocks;
- a non-last axis with contiguous inner columns: panels of columns are spread over threads and
  the kernels vectorize across the columns;
- below ``PARALLEL_MIN`` elements everything runs on the calling thread.
"""
from cython.parallel cimport prange, parallel, threadid
from libc.stdlib cimport malloc, calloc, free
from libc.stdio cimport snprintf
from libc.math cimport log, log1p, exp, fma, ldexp, INFINITY, NAN
from libc.stdint cimport uint16_t
from libc.math cimport isfinite
cimport numpy as cnp
from cpython.object cimport PyObject, PyTypeObject
from cpython.ref cimport Py_INCREF
import numpy as np

cnp.import_array()

cdef extern from "softmax_fast.h" nogil:
    ctypedef struct sf_partial:
        double max
        double sum
        double rest

    ctypedef void (*f32_row_fn)(const float *, float *, Py_ssize_t, float) noexcept nogil
    ctypedef sf_partial (*f32_partial_fn)(const float *, Py_ssize_t, float, const float *) noexcept nogil
    ctypedef sf_partial (*f32_online_fn)(const float *, Py_ssize_t, float) noexcept nogil
    ctypedef sf_partial (*f32_store_fn)(const float *, float *, Py_ssize_t, float, const float *) noexcept nogil
    ctypedef sf_partial (*f32_store_flush_fn)(const float *, float *, Py_ssize_t, float,
                                              const float *, const float *, float *, double,
                                              double) noexcept nogil
    ctypedef sf_partial (*f32_flush_log_fn)(const float *, Py_ssize_t, float, const float *,
                                            const float *, float *, double, double,
                                            double) noexcept nogil
    ctypedef int (*f32_two_pass_fn)(const float *, Py_ssize_t, float, float, sf_partial *) noexcept nogil
    ctypedef void (*f32_rescale_fn)(const float *, float *, Py_ssize_t, double, double, int) noexcept nogil
    ctypedef void (*f32_write_fn)(const float *, float *, Py_ssize_t, float, double, double, double,
                                  int) noexcept nogil
    ctypedef void (*f32_write2_fn)(const float *, float *, Py_ssize_t, float, float, double,
                                   double, double) noexcept nogil
    ctypedef void (*f32_columns_fn)(const float *, float *, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                                    Py_ssize_t, float, int) noexcept nogil
    ctypedef void (*f32_lse_columns_fn)(const float *, float *, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                                        Py_ssize_t, float) noexcept nogil
    ctypedef void (*f32_elementwise_fn)(const float *, float *, Py_ssize_t) noexcept nogil
    ctypedef void (*f64_elementwise_fn)(const double *, double *, Py_ssize_t) noexcept nogil
    ctypedef void (*f32_mask_fn)(const float *, const unsigned char *, Py_ssize_t, float *,
                                 Py_ssize_t, float, float, int) noexcept nogil
    ctypedef void (*f64_mask_fn)(const double *, const unsigned char *, Py_ssize_t, double *,
                                 Py_ssize_t, double, double, int) noexcept nogil
    ctypedef void (*f32_blocks_fn)(const float *, float *, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                                   Py_ssize_t, float, sf_partial *, const float *) noexcept nogil
    ctypedef void (*f64_blocks_fn)(const double *, double *, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                                   Py_ssize_t, double, sf_partial *, const double *) noexcept nogil
    ctypedef void (*f32_rows_fn)(const float *, float *, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                                 Py_ssize_t, float, int) noexcept nogil
    ctypedef void (*f64_rows_fn)(const double *, double *, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                                 Py_ssize_t, double, int) noexcept nogil
    ctypedef double (*f32_refine_fn)(const float *, Py_ssize_t, Py_ssize_t, float, double,
                                     double) noexcept nogil
    ctypedef double (*f64_refine_fn)(const double *, Py_ssize_t, Py_ssize_t, double, double,
                                     double) noexcept nogil
    ctypedef int (*f32_low_fn)(double, double, Py_ssize_t, float *) noexcept nogil
    ctypedef int (*f64_low_fn)(double, double, Py_ssize_t, double *) noexcept nogil
    ctypedef void (*f32_rest_parts_fn)(const float *, Py_ssize_t, Py_ssize_t, float, float, float,
                                       double *) noexcept nogil
    ctypedef void (*f64_rest_parts_fn)(const double *, Py_ssize_t, Py_ssize_t, double, double,
                                       double, double *) noexcept nogil
    ctypedef void (*f64_row_fn)(const double *, double *, Py_ssize_t, double) noexcept nogil
    ctypedef sf_partial (*f64_partial_fn)(const double *, Py_ssize_t, double, const double *) noexcept nogil
    ctypedef sf_partial (*f64_online_fn)(const double *, Py_ssize_t, double) noexcept nogil
    ctypedef sf_partial (*f64_store_fn)(const double *, double *, Py_ssize_t, double, const double *) noexcept nogil
    ctypedef int (*f64_two_pass_fn)(const double *, Py_ssize_t, double, double, sf_partial *) noexcept nogil
    ctypedef sf_partial (*f64_store_flush_fn)(const double *, double *, Py_ssize_t, double,
                                              const double *, const double *, double *, double,
                                              double) noexcept nogil
    ctypedef sf_partial (*f64_flush_log_fn)(const double *, Py_ssize_t, double, const double *,
                                            const double *, double *, double, double,
                                            double) noexcept nogil
    ctypedef void (*f64_rescale_fn)(const double *, double *, Py_ssize_t, double, double, int) noexcept nogil
    ctypedef void (*f64_write_fn)(const double *, double *, Py_ssize_t, double, double, double, double,
                                  int) noexcept nogil
    ctypedef void (*f64_write2_fn)(const double *, double *, Py_ssize_t, double, double, double,
                                   double, double) noexcept nogil
    ctypedef void (*f64_columns_fn)(const double *, double *, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                                    Py_ssize_t, double, int) noexcept nogil
    ctypedef void (*f64_lse_columns_fn)(const double *, double *, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                                        Py_ssize_t, double) noexcept nogil

    ctypedef struct sf_f32_kernels:
        f32_row_fn softmax[3]
        f32_row_fn log_softmax[3]
        f32_partial_fn partial_three_pass
        f32_online_fn partial_online
        f32_store_fn partial_store
        f32_store_flush_fn partial_store_flush
        f32_flush_log_fn partial_flush_log
        f32_two_pass_fn partial_two_pass
        f32_rescale_fn rescale
        f32_write_fn write_softmax
        f32_write_fn write_log_softmax
        f32_write2_fn write_two_pass
        f32_columns_fn columns[3]
        f32_lse_columns_fn logsumexp_columns
        f32_elementwise_fn sigmoid
        f32_elementwise_fn log_sigmoid
        f32_mask_fn mask
        f32_rows_fn softmax_rows
        f32_blocks_fn partials_blocks
        f32_refine_fn refine_rest
        f32_low_fn refine_low
        f32_rest_parts_fn rest_parts

    ctypedef struct sf_f64_kernels:
        f64_row_fn softmax[3]
        f64_row_fn log_softmax[3]
        f64_partial_fn partial_three_pass
        f64_online_fn partial_online
        f64_store_fn partial_store
        f64_store_flush_fn partial_store_flush
        f64_flush_log_fn partial_flush_log
        f64_two_pass_fn partial_two_pass
        f64_rescale_fn rescale
        f64_write_fn write_softmax
        f64_write_fn write_log_softmax
        f64_write2_fn write_two_pass
        f64_columns_fn columns[3]
        f64_lse_columns_fn logsumexp_columns
        f64_elementwise_fn sigmoid
        f64_elementwise_fn log_sigmoid
        f64_mask_fn mask
        f64_rows_fn softmax_rows
        f64_blocks_fn partials_blocks
        f64_refine_fn refine_rest
        f64_low_fn refine_low
        f64_rest_parts_fn rest_parts

    ctypedef void (*half_in_fn)(const uint16_t *, float *, Py_ssize_t) noexcept nogil
    ctypedef void (*half_out_fn)(const float *, uint16_t *, Py_ssize_t) noexcept nogil
    ctypedef void (*half_row_fn)(const uint16_t *, uint16_t *, Py_ssize_t, float, int, int,
                                 float *, const uint16_t *) noexcept nogil
    ctypedef float (*half_load_max_fn)(const uint16_t *, float *, Py_ssize_t, float,
                                       int) noexcept nogil
    ctypedef void (*half_expsum_chunks_fn)(const float *, Py_ssize_t, float, int, int, double *,
                                           Py_ssize_t *) noexcept nogil
    ctypedef double (*half_sum_chunks_fn)(const double *, Py_ssize_t, Py_ssize_t,
                                          double *) noexcept nogil
    ctypedef void (*half_write_fn)(const float *, uint16_t *, Py_ssize_t, int, int, float,
                                   double) noexcept nogil
    ctypedef struct sf_half_kernels:
        half_in_fn f16_to_f32
        half_out_fn f32_to_f16
        half_in_fn bf16_to_f32
        half_out_fn f32_to_bf16
        half_row_fn softmax_row
        half_load_max_fn load_max
        half_expsum_chunks_fn expsum_chunks
        half_sum_chunks_fn sum_chunks
        half_write_fn write

    ctypedef struct sf_kernels:
        const char *isa
        sf_f32_kernels f32
        sf_f64_kernels f64
        sf_half_kernels half

    int SF_THREE_PASS, SF_TWO_PASS, SF_ONLINE, SF_NUM_ISAS
    const char *sf_isa_name(int isa)
    int sf_cpu_isa_mask()
    const sf_kernels *sf_kernels_for_isa(int isa)
    int sf_best_isa()
    double sf_exp_of_diff(double a, double b)
    double sf_inverse2(double s, double *lo)
    double sf_exp_of_diff2(double a, double b, double *lo)
    double sf_log1p2(double rest, double *lo)
    sf_partial sf_merge_all(const sf_partial *p, Py_ssize_t count)
    sf_partial sf_merge_extended(sf_partial a, sf_partial b)
    double sf_f32_logsumexp_finish(const float *x, Py_ssize_t n, Py_ssize_t stride, float scale,
                                   sf_partial p)
    double sf_f64_logsumexp_finish(const double *x, Py_ssize_t n, Py_ssize_t stride, double scale,
                                   sf_partial p)
    int sf_omp_max_threads()
    int sf_omp_thread_count()
    void sf_omp_barrier()
    int sf_have_openmp()
    void *sf_scratch_get(size_t nbytes)
    Py_ssize_t SF_HALF_CHUNK
    void sf_scratch_release(void *p)
    void sf_stream_copy(const void *src, void *dst, size_t nbytes)
    void sf_stream_fence()

# the fused type `floating` is declared in _core.pxd (shared with _fused)

# ---- the plan's constants (elements); documented in the README and show_config() ----
SPLIT_MIN_ = 65536       # rows at least this long are cut into blocks
BLOCK_ = 16384           # the fixed block of a cut row
PARALLEL_MIN_ = 4096     # inputs smaller than this stay on the calling thread (fork+join ~1 us)
COLUMN_PANEL_ = 64       # columns per task on a non-last axis
cdef Py_ssize_t SPLIT_MIN = SPLIT_MIN_
cdef Py_ssize_t BLOCK = BLOCK_
cdef Py_ssize_t PARALLEL_MIN = PARALLEL_MIN_
cdef Py_ssize_t COLUMN_PANEL = COLUMN_PANEL_
# Three-pass outputs of at least this many bytes are computed in a per-thread row buffer (rows up
# to STREAM_MAX_ROW_BYTES) and written once by non-temporal stores: plain stores would first read
# every output line from memory (write-allocate). Measured (2 threads, benchmarks/streaming.py):
# 4096 x 4096 float32 softmax 5.22 -> 4.60 ms, log_softmax 6.53 -> 4.62 ms; float64 log_softmax
# 28.2 -> 26.1 ms. Smaller outputs stay in the last-level cache between calls and lose
# (16384 x 512 float32: 1.65 -> 2.14 ms), and so does two-pass (float64 softmax 16.5 -> 18.1 ms).
STREAM_MIN_BYTES_ = 64 << 20
cdef Py_ssize_t STREAM_MIN_BYTES = STREAM_MIN_BYTES_

THREE_PASS = SF_THREE_PASS
TWO_PASS = SF_TWO_PASS
ONLINE = SF_ONLINE

cdef const sf_kernels *K = NULL
cdef bint STREAM_ENABLED = True


def set_streaming(bint enabled, min_bytes=None):
    """Turn the non-temporal output path on or off (benchmarks measure it), and optionally set
    the output size from which it is taken (tests set 0 to run it on small arrays). Returns the
    previous (enabled, min_bytes)."""
    global STREAM_ENABLED, STREAM_MIN_BYTES
    previous = (bool(STREAM_ENABLED), int(STREAM_MIN_BYTES))
    STREAM_ENABLED = enabled
    if min_bytes is not None:
        STREAM_MIN_BYTES = max(0, int(min_bytes))
    return previous
cdef int ISA = -1


def isa_names():
    """Names of all ISA levels, lowest first."""
    return [sf_isa_name(i).decode() for i in range(SF_NUM_ISAS)]


def available_isas():
    """The ISA levels this CPU supports and this build has kernels for, lowest first."""
    cdef int mask = sf_cpu_isa_mask()
    return [sf_isa_name(i).decode() for i in range(SF_NUM_ISAS)
            if (mask >> i) & 1 and sf_kernels_for_isa(i) != NULL]


def cpu_isas():
    """The ISA levels this CPU (and OS) supports, whether or not this build has kernels for them."""
    cdef int mask = sf_cpu_isa_mask()
    return [sf_isa_name(i).decode() for i in range(SF_NUM_ISAS) if (mask >> i) & 1]


def select_isa(name=None):
    """Choose the kernel table: the best level, or `name` (ImportError-worthy ValueError if not)."""
    global K, ISA
    cdef int i
    if name is None:
        i = sf_best_isa()
    else:
        names = isa_names()
        if name not in names:
            raise ValueError(f"unknown ISA {name!r}; valid choices: {', '.join(names)}")
        i = names.index(name)
        if name not in available_isas():
            raise ValueError(f"ISA {name!r} is not available on this CPU/build; "
                             f"valid choices here: {', '.join(available_isas())}")
    K = sf_kernels_for_isa(i)
    ISA = i
    return sf_isa_name(i).decode()


def current_isa():
    return sf_isa_name(ISA).decode()


def omp_max_threads():
    return sf_omp_max_threads()


def have_openmp():
    return bool(sf_have_openmp())


# setup.py writes sf_build_config.h (SF_BUILD_FLAGS: the compile flags it chose) into the build's
# temporary directory; the compiler and OpenMP macros come from the compiler itself.
cdef extern from *:
    """
    #include "sf_build_config.h"
    #if defined(__clang__)
    #  define SF_BUILD_COMPILER "clang " __clang_version__
    #elif defined(__GNUC__)
    #  define SF_BUILD_COMPILER "gcc " __VERSION__
    #elif defined(_MSC_VER)
    #  define SF_BUILD_COMPILER_MSC _MSC_FULL_VER
    #endif
    #ifndef SF_BUILD_COMPILER
    #  define SF_BUILD_COMPILER ""
    #endif
    #ifndef SF_BUILD_COMPILER_MSC
    #  define SF_BUILD_COMPILER_MSC 0
    #endif
    #ifdef _OPENMP
    #  define SF_BUILD_OPENMP_SPEC _OPENMP
    #else
    #  define SF_BUILD_OPENMP_SPEC 0
    #endif
    """
    const char *SF_BUILD_FLAGS
    const char *SF_BUILD_COMPILER
    long SF_BUILD_COMPILER_MSC
    long SF_BUILD_OPENMP_SPEC


def build_info():
    """How this extension was compiled: ``compiler`` (name and version), ``flags`` (the compile
    flags setup.py added) and ``openmp_spec`` (the ``_OPENMP`` date, e.g. 201511 for OpenMP 4.5;
    0 without OpenMP)."""
    compiler = SF_BUILD_COMPILER.decode(errors="replace").strip()
    if not compiler and SF_BUILD_COMPILER_MSC:
        compiler = f"MSVC {SF_BUILD_COMPILER_MSC}"
    return {"compiler": compiler or "unknown",
            "flags": SF_BUILD_FLAGS.decode(errors="replace"),
            "openmp_spec": SF_BUILD_OPENMP_SPEC}


# ---------------------------------------------------------------------------------------------
# thin typed wrappers over the kernel table

cdef inline void k_row(bint lg, int algo, const floating *x, floating *y, Py_ssize_t n,
                       floating sc) noexcept nogil:
    if floating is float:
        if lg:
            K.f32.log_softmax[algo](x, y, n, sc)
        else:
            K.f32.softmax[algo](x, y, n, sc)
    else:
        if lg:
            K.f64.log_softmax[algo](x, y, n, sc)
        else:
            K.f64.softmax[algo](x, y, n, sc)


cdef inline void k_softmax_rows(bint lg, const floating *x, floating *y, Py_ssize_t R,
                                Py_ssize_t n, Py_ssize_t xs, Py_ssize_t ys,
                                floating sc) noexcept nogil:
    if floating is float:
        K.f32.softmax_rows(x, y, R, n, xs, ys, sc, lg)
    else:
        K.f64.softmax_rows(x, y, R, n, xs, ys, sc, lg)


cdef inline void k_columns(bint lg, int algo, const floating *x, floating *y, Py_ssize_t n,
                           Py_ssize_t w, Py_ssize_t xs, Py_ssize_t ys, floating sc) noexcept nogil:
    if floating is float:
        K.f32.columns[algo](x, y, n, w, xs, ys, sc, lg)
    else:
        K.f64.columns[algo](x, y, n, w, xs, ys, sc, lg)


cdef inline sf_partial k_partial(int algo, const floating *x, floating *y, Py_ssize_t n,
                                 floating sc, floating shift, int *failed,
                                 const floating *next) noexcept nogil:
    """Pass 1 of one block. three-pass with y != NULL stores exp(v - p.max) into y (p.max: the
    block max, or a double within 2^-19 of it, softmax_fast.h); `next`
    (three-pass, or NULL) is prefetched during it."""
    cdef sf_partial p
    cdef int rc
    if algo == SF_TWO_PASS:
        if floating is float:
            rc = K.f32.partial_two_pass(x, n, sc, shift, &p)
        else:
            rc = K.f64.partial_two_pass(x, n, sc, shift, &p)
        if rc != 0:   # only ever set: other threads may be writing the same flag
            failed[0] = 1
        return p
    if algo == SF_THREE_PASS and y != NULL:
        if floating is float:
            return K.f32.partial_store(x, y, n, sc, next)
        else:
            return K.f64.partial_store(x, y, n, sc, next)
    if algo == SF_THREE_PASS:
        if floating is float:
            return K.f32.partial_three_pass(x, n, sc, next)
        else:
            return K.f64.partial_three_pass(x, n, sc, next)
    if floating is float:
        return K.f32.partial_online(x, n, sc)
    else:
        return K.f64.partial_online(x, n, sc)


cdef inline sf_partial k_refined(const floating *x, Py_ssize_t n, floating sc,
                                sf_partial p) noexcept nogil:
    """A whole contiguous row's partial for its log_softmax write: the rest taken again from x
    where log1p(rest) would show its error (the kernels' refine_rest)."""
    if floating is float:
        p.rest = K.f32.refine_rest(x, n, 1, sc, p.max, p.rest)
    else:
        p.rest = K.f64.refine_rest(x, n, 1, sc, p.max, p.rest)
    return p


cdef inline void k_write(bint lg, int algo, const floating *x, floating *y, Py_ssize_t n,
                         floating sc, floating shift, sf_partial block, sf_partial total,
                         const floating *stored, bint stream) noexcept nogil:
    """Pass 2 of one block, given its own partial and the merged partial of the row. `stored`:
    the block's terms exp(v - block.max) from pass 1 (three-pass softmax), or NULL to compute
    from x. `stream`: write y with non-temporal stores."""
    cdef double f, lo = 0.0, e, e_lo, p
    if lg:   # (max, sum): log_softmax never runs with the two-pass reduction here
        if floating is float:
            K.f32.write_log_softmax(x, y, n, sc, total.max, log1p(total.rest), 0.0, stream)
        else:
            f = sf_log1p2(total.rest, &lo)
            K.f64.write_log_softmax(x, y, n, sc, total.max, f, lo, stream)
        return
    f = sf_inverse2(total.sum, &lo)
    if stored != NULL:    # one multiply finishes the stored terms
        if block.max != total.max:   # f = exp(block max - max) / sum, in double-double (float32)
            e = sf_exp_of_diff2(block.max, total.max, &e_lo)
            p = e * f
            lo = (fma(e, f, -p) + e * lo) + e_lo * f
            f = p
        if floating is float:
            K.f32.rescale(stored, y, n, f, lo, stream)
        else:
            K.f64.rescale(stored, y, n, f, lo, stream)
    elif algo == SF_TWO_PASS:
        if floating is float:
            K.f32.write_two_pass(x, y, n, sc, shift, total.max, f, lo)
        else:
            K.f64.write_two_pass(x, y, n, sc, shift, total.max, f, lo)
    else:    # three-pass or online reduction: (max, sum) of the row
        if floating is float:
            K.f32.write_softmax(x, y, n, sc, total.max, f, lo, stream)
        else:
            K.f64.write_softmax(x, y, n, sc, total.max, f, lo, stream)


cdef inline double k_lse_finish(const floating *x, Py_ssize_t n, Py_ssize_t stride, floating sc,
                                sf_partial p) noexcept nogil:
    if floating is float:
        return sf_f32_logsumexp_finish(x, n, stride, sc, p)
    else:
        return sf_f64_logsumexp_finish(x, n, stride, sc, p)


# ---------------------------------------------------------------------------------------------
# one long row in fixed blocks

cdef inline sf_partial merge_blocks(int algo, sf_partial *parts, Py_ssize_t nb) noexcept nogil:
    cdef sf_partial total = parts[0]
    cdef Py_ssize_t b
    if algo != SF_TWO_PASS:
        return sf_merge_all(parts, nb)
    for b in range(1, nb):
        total = sf_merge_extended(total, parts[b])
    return total


cdef inline void k_partials_blocks(const floating *x, floating *y, Py_ssize_t n, Py_ssize_t b0,
                                   Py_ssize_t b1, floating sc, sf_partial *parts,
                                   const floating *next) noexcept nogil:
    """Three-pass partials of the row's BLOCK-sized blocks b0 .. b1 - 1 (partial_store into y
    when y != NULL), the kernels' own loop over them (on AVX-512 float32 each exp pass carries
    the next block's max pass)."""
    if floating is float:
        K.f32.partials_blocks(x, y, n, BLOCK, b0, b1, sc, parts, next)
    else:
        K.f64.partials_blocks(x, y, n, BLOCK, b0, b1, sc, parts, next)


cdef inline Py_ssize_t run_start(Py_ssize_t t, Py_ssize_t n, int nt) noexcept nogil:
    """The first block of thread t's run when nt threads share the BLOCK-sized blocks of an
    n-long row: the block nearest t / nt of its elements (a shorter last block counts for its
    length). Both passes of a row use these runs, so each thread rescales the terms it stored."""
    cdef Py_ssize_t nb = (n + BLOCK - 1) // BLOCK
    if t >= nt:
        return nb
    return min(nb, (n * t // nt + BLOCK // 2) // BLOCK)


cdef inline const floating *next_block(const floating *x, Py_ssize_t lo, Py_ssize_t n) noexcept nogil:
    """The block after the one at `lo`, for prefetching, when it is a whole block."""
    return x + lo + BLOCK if lo + 2 * BLOCK <= n else NULL


cdef int blocked_row(bint lg, int algo, const floating *x, floating *y, Py_ssize_t n,
                     floating sc, int nt, bint stream, const floating *next) noexcept nogil:
    """Softmax of one contiguous row cut into BLOCK-sized blocks; nt threads share the blocks.
    `next` (or NULL): the next row's x, whose first block the last block prefetches (one thread:
    the others would prefetch into another core's cache).
    Three-pass float32 softmax keeps its terms in y between the passes, unless y is streamed (an output
    far larger than the cache): then pass 2 recomputes them from x, which costs a second read
    of x instead of a read and a write of y. Returns -1 when out of memory."""
    cdef Py_ssize_t nb = (n + BLOCK - 1) // BLOCK
    cdef Py_ssize_t b, lo, ln, t
    cdef sf_partial *parts = <sf_partial *> malloc(nb * sizeof(sf_partial))
    cdef sf_partial total, mine
    cdef double refined_rest = 0.0
    cdef double *refined = &refined_rest   # shared across the region: written through a pointer
    cdef int failed = 0
    cdef floating shift = x[0] * sc
    cdef floating *store = NULL
    if parts == NULL:
        return -1
    if lg and algo == SF_TWO_PASS:
        # log_softmax needs the max (x - lse would cancel near it): online reduction instead
        algo = SF_ONLINE
    # float64 recomputes: stored terms of a block below the max come out less accurate (4.8
    # against 2.4 ulp measured on 1 x 128256) for 1.5x the time (54 -> 84 us), not a target
    if algo == SF_THREE_PASS and not lg and not stream and floating is float:
        store = y
    if nt > 1:
        # one parallel region for both passes (a fork/join less): after a barrier (prange
        # here ends with nowait) every thread merges the partials itself (the same bits)
        with parallel(num_threads=nt):
            if algo == SF_THREE_PASS:   # a run of blocks per thread
                for t in prange(nt, schedule='static'):
                    k_partials_blocks(x, store, n, run_start(t, n, nt), run_start(t + 1, n, nt),
                                      sc, parts, <const floating *> NULL)
            else:
                for b in prange(nb, schedule='static'):
                    lo = b * BLOCK
                    ln = min(BLOCK, n - lo)
                    parts[b] = k_partial(algo, x + lo,
                                         (store + lo) if store != NULL else <floating *> NULL,
                                         ln, sc, shift, &failed, next_block(x, lo, n))
            sf_omp_barrier()
            if not failed:   # the same for every thread: read after the barrier
                mine = merge_blocks(algo, parts, nb)
            if lg and not failed:
                # the rest taken again by one thread (one more read of the row, not nt), and
                # read by all after a barrier, which also keeps every write of an in-place row
                # (y == x) after the last read of x
                if threadid() == 0:
                    refined[0] = k_refined(x, n, sc, mine).rest
                sf_omp_barrier()
                mine.rest = refined[0]
            if not failed:
                # each thread writes the run of blocks it reduced (three-pass): their stored
                # terms are in its cache
                for t in prange(nt, schedule='static'):
                    for b in range(run_start(t, n, nt), run_start(t + 1, n, nt)):
                        lo = b * BLOCK
                        ln = min(BLOCK, n - lo)
                        k_write(lg, algo, x + lo, y + lo, ln, sc, shift, parts[b], mine,
                                (store + lo) if store != NULL else <floating *> NULL, stream)
                if stream:
                    sf_stream_fence()   # once per thread: a fence per block cost 5% on (1, 2^24)
        if failed:   # two-pass range exceeded somewhere: the online algorithm does this row
            free(parts)
            return blocked_row(lg, SF_ONLINE, x, y, n, sc, nt, stream, next)
    else:
        if algo == SF_THREE_PASS:
            k_partials_blocks(x, store, n, 0, nb, sc, parts, next)
        else:
            for b in range(nb):
                lo = b * BLOCK
                ln = min(BLOCK, n - lo)
                parts[b] = k_partial(algo, x + lo,
                                     (store + lo) if store != NULL else <floating *> NULL,
                                     ln, sc, shift, &failed,
                                     next if b == nb - 1 else next_block(x, lo, n))
        if failed:   # two-pass range exceeded somewhere: the online algorithm does this row
            free(parts)
            return blocked_row(lg, SF_ONLINE, x, y, n, sc, nt, stream, next)
        total = merge_blocks(algo, parts, nb)
        if lg:
            total = k_refined(x, n, sc, total)
        for b in range(nb):
            lo = b * BLOCK
            ln = min(BLOCK, n - lo)
            k_write(lg, algo, x + lo, y + lo, ln, sc, shift, parts[b], total,
                    (store + lo) if store != NULL else <floating *> NULL, stream)
        if stream:
            sf_stream_fence()
    free(parts)
    return 0


cdef sf_partial blocked_partial(const floating *x, Py_ssize_t n, floating sc, int nt,
                               const floating *next) noexcept nogil:
    """(max, sum) of one contiguous row: one pass for short rows (prefetching `next`, the next
    row or NULL), fixed blocks for long rows, each reduced by the three-pass kernels (max, then
    exp-sum from cache; faster than the portable online pass), a run of blocks per thread."""
    cdef Py_ssize_t nb, t
    cdef sf_partial *parts
    cdef sf_partial total
    cdef int failed = 0   # two-pass's flag: never set by three-pass
    if n < SPLIT_MIN:
        return k_partial(SF_THREE_PASS, x, <floating *> NULL, n, sc, 0, &failed, next)
    nb = (n + BLOCK - 1) // BLOCK
    parts = <sf_partial *> malloc(nb * sizeof(sf_partial))
    if parts == NULL:
        total.max = NAN
        total.sum = -1.0   # marks the failure for the caller
        return total
    if nt > 1:
        for t in prange(nt, num_threads=nt, schedule='static'):
            k_partials_blocks(x, <floating *> NULL, n, run_start(t, n, nt),
                              run_start(t + 1, n, nt), sc, parts, <const floating *> NULL)
    else:
        k_partials_blocks(x, <floating *> NULL, n, 0, nb, sc, parts, next)
    total = merge_blocks(SF_THREE_PASS, parts, nb)
    free(parts)
    return total


cdef sf_partial refined_partial(const floating *x, Py_ssize_t n, floating sc,
                                sf_partial p) noexcept nogil:
    """k_refined, for _core.pxd."""
    return k_refined(x, n, sc, p)


cdef double row_logsumexp_finish(const floating *x, Py_ssize_t n, Py_ssize_t stride, floating sc,
                                 sf_partial p) noexcept nogil:
    """logsumexp of a slice from its partial (DESIGN section 3's answers); for _core.pxd."""
    return k_lse_finish(x, n, stride, sc, p)


cdef const void *kernel_table() noexcept nogil:
    """The kernel table in use, for the modules that cimport _core.pxd."""
    return K


# ---------------------------------------------------------------------------------------------
# one row anywhere in memory: gathered into a buffer when strided

cdef inline void gather(const floating *x, Py_ssize_t n, Py_ssize_t s, floating *buf) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        buf[i] = x[i * s]


cdef inline void scatter(const floating *buf, Py_ssize_t n, floating *y, Py_ssize_t s) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        y[i * s] = buf[i]


cdef int one_row(bint lg, int algo, const floating *x, Py_ssize_t xs, floating *y, Py_ssize_t ys,
                 Py_ssize_t n, floating sc, floating *buf, int nt, bint stream,
                 const floating *next) noexcept nogil:
    """One row. `buf` (n elements) gathers a strided x or collects a strided y; with `stream` y
    is written by non-temporal stores, and three-pass softmax keeps its terms in `buf` between
    the passes. `next` (or NULL): the next row's contiguous x, prefetched during this one."""
    cdef const floating *src = x
    cdef floating *dst = y
    cdef sf_partial p
    cdef int rc = 0, failed = 0
    if xs != 1:
        gather(x, n, xs, buf)
        src = buf
    if ys != 1:
        dst = buf
        stream = False
    if n >= SPLIT_MIN:
        rc = blocked_row(lg, algo, src, dst, n, sc, nt, stream, next if nt == 1 else NULL)
    elif algo == SF_TWO_PASS:
        k_row(lg, algo, src, dst, n, sc)
    else:
        # three-pass and online rows from the block pieces, which prefetch and stream
        if algo == SF_ONLINE:
            if floating is float:
                p = K.f32.partial_online(src, n, sc)
            else:
                p = K.f64.partial_online(src, n, sc)
            if lg:
                p = k_refined(src, n, sc, p)
            k_write(lg, algo, src, dst, n, sc, 0, p, p, <floating *> NULL, stream)
        elif lg:
            p = k_refined(src, n, sc, k_partial(algo, src, <floating *> NULL, n, sc, 0, &failed,
                                                next))
            k_write(lg, algo, src, dst, n, sc, 0, p, p, <floating *> NULL, stream)
        else:
            p = k_partial(algo, src, buf if stream else dst, n, sc, 0, &failed, next)
            k_write(lg, algo, src, dst, n, sc, 0, p, p, buf if stream else dst, stream)
    if ys != 1:
        scatter(buf, n, y, ys)
    return rc


cdef inline floating *row_at(const floating *base, Py_ssize_t r, Py_ssize_t I, Py_ssize_t s0,
                             Py_ssize_t s2) noexcept nogil:
    """Start of row r of an (O, N, I) block, rows numbered over (O, I)."""
    return <floating *> base + (r // I) * s0 + (r % I) * s2


cdef inline const floating *next_row(const floating *x0, Py_ssize_t r, Py_ssize_t R, Py_ssize_t I,
                                     Py_ssize_t s0, Py_ssize_t s1, Py_ssize_t s2) noexcept nogil:
    """Row r + 1 of x for prefetching, when there is one and it is contiguous."""
    return row_at(x0, r + 1, I, s0, s2) if r + 1 < R and s1 == 1 else NULL


cdef inline Py_ssize_t panel_skew(const void *x, Py_ssize_t isz, Py_ssize_t xs1) noexcept nogil:
    """Where the grid of column panels of a non-last axis starts: at column -skew, so that the
    first panel ends at x's first 64-byte boundary and each full panel's rows are whole cache
    lines (when every row shares x's alignment; else 0). A panel 16 bytes off the line reads 5
    lines a row instead of 4: 1000 x 1024 float32 axis 0 from np.empty, 2 threads, 630 -> 545
    us. Columns are independent: the cut changes no bit."""
    cdef size_t a = <size_t> x % 64
    if a == 0 or a % isz != 0 or (xs1 * isz) % 64 != 0:
        return 0
    return COLUMN_PANEL - (64 - <Py_ssize_t> a) // isz


cdef inline Py_ssize_t panel_count(Py_ssize_t I, Py_ssize_t skew) noexcept nogil:
    return (I + skew + COLUMN_PANEL - 1) // COLUMN_PANEL


cdef inline Py_ssize_t panel_start(Py_ssize_t p, Py_ssize_t skew) noexcept nogil:
    """The first column of panel p of the grid that starts at column -skew."""
    return max(p * COLUMN_PANEL - skew, 0)


cdef inline Py_ssize_t panel_width(Py_ssize_t p, Py_ssize_t skew, Py_ssize_t I) noexcept nogil:
    return min((p + 1) * COLUMN_PANEL - skew, I) - panel_start(p, skew)


cdef inline int plan_threads(Py_ssize_t total, Py_ssize_t tasks, int nt) noexcept nogil:
    if total < PARALLEL_MIN or tasks < 2:
        return 1
    return <int> min(<Py_ssize_t> nt, tasks)


cdef inline sf_partial k_partial_flush(bint lg, const floating *x, floating *y, Py_ssize_t n,
                                       floating sc, const floating *next, const floating *fsrc,
                                       floating *fdst, sf_partial fp) noexcept nogil:
    """k_partial's three-pass form (softmax: the terms of x stored into y) with another row's
    write pass riding along, streamed into fdst, as k_write would do it from that row's
    partial fp: softmax rescales its stored terms fsrc, log_softmax writes from its x, fsrc."""
    cdef double lo = 0.0, f
    if lg:
        fp = k_refined(fsrc, n, sc, fp)
        if floating is float:
            return K.f32.partial_flush_log(x, n, sc, next, fsrc, fdst, fp.max, log1p(fp.rest),
                                           0.0)
        else:
            f = sf_log1p2(fp.rest, &lo)
            return K.f64.partial_flush_log(x, n, sc, next, fsrc, fdst, fp.max, f, lo)
    f = sf_inverse2(fp.sum, &lo)
    if floating is float:
        return K.f32.partial_store_flush(x, y, n, sc, next, fsrc, fdst, f, lo)
    else:
        return K.f64.partial_store_flush(x, y, n, sc, next, fsrc, fdst, f, lo)


cdef int pipelined_rows(bint lg, const floating *x0, floating *y0, Py_ssize_t R, Py_ssize_t N,
                        Py_ssize_t I, Py_ssize_t xs0, Py_ssize_t xs2, Py_ssize_t ys0,
                        Py_ssize_t ys2, floating sc, int nt) noexcept nogil:
    """Three-pass softmax (log_softmax) of contiguous rows (N < SPLIT_MIN) into an output that
    streams, pipelined: each thread takes a run of consecutive rows, and a row's output is
    written, streamed, during the next row's exp pass (k_partial_flush), so that the stores
    overlap arithmetic instead of running as a pass of their own. softmax keeps a row's terms
    in one of two row buffers until then. The same bits as the plain loop (one_row). Nonzero
    when out of memory."""
    cdef int err = 0
    cdef int *errp = &err
    cdef int failed = 0
    # all set in the parallel region (initialised here: Cython makes them firstprivate)
    cdef int t = 0, nth = 1
    cdef Py_ssize_t r = 0, r0 = 0, r1 = 0
    cdef floating *bufs = NULL
    cdef floating *cur = NULL
    cdef floating *prev = NULL
    cdef floating *tmp = NULL
    cdef const floating *nxt = NULL
    cdef sf_partial p, pp
    p.max = p.sum = p.rest = 0
    pp = p
    with parallel(num_threads=nt):
        nth = sf_omp_thread_count()
        t = threadid()
        r0 = R * t // nth
        r1 = R * (t + 1) // nth
        bufs = NULL
        if not lg:
            bufs = <floating *> sf_scratch_get(2 * N * sizeof(floating))
            if bufs == NULL:
                errp[0] = 1
        if r0 < r1 and (lg or bufs != NULL):
            prev = bufs
            cur = (bufs + N) if bufs != NULL else <floating *> NULL
            nxt = row_at(x0, r0 + 1, I, xs0, xs2) if r0 + 1 < r1 else <floating *> NULL
            pp = k_partial(SF_THREE_PASS, row_at(x0, r0, I, xs0, xs2), prev, N, sc, 0, &failed,
                           nxt)
            for r in range(r0 + 1, r1):
                nxt = row_at(x0, r + 1, I, xs0, xs2) if r + 1 < r1 else <floating *> NULL
                # the waiting row's source: its stored terms (softmax) or its x (log_softmax)
                p = k_partial_flush(lg, row_at(x0, r, I, xs0, xs2), cur, N, sc, nxt,
                                    prev if not lg else row_at(x0, r - 1, I, xs0, xs2),
                                    row_at(y0, r - 1, I, ys0, ys2), pp)
                tmp = prev
                prev = cur
                cur = tmp
                pp = p
            if lg:
                pp = k_refined(row_at(x0, r1 - 1, I, xs0, xs2), N, sc, pp)
            k_write(lg, SF_THREE_PASS, row_at(x0, r1 - 1, I, xs0, xs2),
                    row_at(y0, r1 - 1, I, ys0, ys2), N, sc, 0, pp, pp, prev, True)
            sf_stream_fence()
        sf_scratch_release(bufs)
    return err


cdef int run_softmax(bint log_out, int algorithm, const floating *x0, floating *y0,
                     Py_ssize_t O, Py_ssize_t N, Py_ssize_t I,
                     Py_ssize_t xs0, Py_ssize_t xs1, Py_ssize_t xs2,
                     Py_ssize_t ys0, Py_ssize_t ys1, Py_ssize_t ys2,
                     floating sc, int num_threads) noexcept nogil:
    """softmax (or log_softmax) along the middle axis of an (O, N, I) strided block (strides in
    elements); the parallel plan of the module docstring. Returns nonzero when out of memory."""
    cdef Py_ssize_t isz = sizeof(floating)
    cdef Py_ssize_t R = O * I, r, panels, t, o, c0, w, skew
    cdef int nt, rc = 0
    cdef bint strided = xs1 != 1 or ys1 != 1
    cdef bint stream = (STREAM_ENABLED and algorithm != SF_TWO_PASS and ys1 == 1
                        and R * N * isz >= STREAM_MIN_BYTES)
    # rows that are gathered or scattered, or three-pass softmax rows that stream (their terms
    # wait in the buffer; blocked rows recompute them instead), need a row buffer
    cdef bint need_buf = strided or (stream and not log_out and algorithm == SF_THREE_PASS
                                     and N < SPLIT_MIN)
    cdef floating *buf = NULL
    cdef int err = 0
    cdef int *errp = &err
    if I > 1 and xs2 == 1 and ys2 == 1:
        # a non-last axis over contiguous columns: panels of columns, vectorized across them
        skew = panel_skew(x0, sizeof(floating), xs1)
        panels = panel_count(I, skew)
        nt = plan_threads(O * N * I, O * panels, num_threads)
        for t in prange(O * panels, num_threads=nt, schedule='static'):
            o = t // panels
            c0 = panel_start(t % panels, skew)
            w = panel_width(t % panels, skew, I)
            k_columns(log_out, algorithm, x0 + o * xs0 + c0, y0 + o * ys0 + c0, N, w,
                      xs1, ys1, sc)
    elif N >= SPLIT_MIN and R < num_threads:
        # few long rows: the threads share the blocks of each row in turn
        nt = plan_threads(N, (N + BLOCK - 1) // BLOCK, num_threads)
        if need_buf:
            buf = <floating *> sf_scratch_get(N * isz)
            rc = -1 if buf == NULL else 0
        if rc == 0:
            for r in range(R):
                rc = one_row(log_out, algorithm, row_at(x0, r, I, xs0, xs2), xs1,
                             row_at(y0, r, I, ys0, ys2), ys1, N, sc, buf, nt, stream, NULL)
                if rc != 0:
                    break
        if stream:
            sf_stream_fence()
        sf_scratch_release(buf)
    elif (stream and not strided and algorithm == SF_THREE_PASS and N < SPLIT_MIN
          and (<size_t> y0) % isz == 0):
        # three-pass rows whose outputs stream: pipelined across rows
        rc = pipelined_rows(log_out, x0, y0, R, N, I, xs0, xs2, ys0, ys2, sc,
                            plan_threads(R * N, R, num_threads))
    elif (I == 1 and not strided and not stream and algorithm == SF_THREE_PASS
          and N < SPLIT_MIN):
        # regular rows of three-pass (log_)softmax: the kernels' own row loop (the same steps
        # as one_row, the same bits), a run of rows per thread, without a call per row from
        # here ((16384, 16) float32, one thread: softmax 62.6 -> 19.6 ns a row; 1000 long: 325
        # -> 299)
        nt = plan_threads(R * N, R, num_threads)
        if nt == 1:
            k_softmax_rows(log_out, x0, y0, R, N, xs0, ys0, sc)
        else:
            for t in prange(nt, num_threads=nt, schedule='static'):
                o = R * t // nt
                k_softmax_rows(log_out, x0 + o * xs0, y0 + o * ys0, R * (t + 1) // nt - o, N,
                               xs0, ys0, sc)
    else:
        nt = plan_threads(R * N, R, num_threads)
        if nt == 1 and not need_buf:
            # one thread, contiguous rows: no parallel region at all (tiny inputs)
            for r in range(R):
                if one_row(log_out, algorithm, row_at(x0, r, I, xs0, xs2), xs1,
                           row_at(y0, r, I, ys0, ys2), ys1, N, sc, NULL, 1, stream,
                           next_row(x0, r, R, I, xs0, xs1, xs2)) != 0:
                    err = 1
            if stream:
                sf_stream_fence()
            return err
        with parallel(num_threads=nt):
            buf = NULL
            if need_buf:
                buf = <floating *> sf_scratch_get(N * isz)
                if buf == NULL:
                    errp[0] = 1   # a shared flag written through a pointer, only ever set
            for r in prange(R, schedule='static'):
                if not need_buf or buf != NULL:
                    if one_row(log_out, algorithm, row_at(x0, r, I, xs0, xs2), xs1,
                               row_at(y0, r, I, ys0, ys2), ys1, N, sc, buf, 1, stream,
                               next_row(x0, r, R, I, xs0, xs1, xs2)) != 0:
                        errp[0] = 1
            if stream:
                sf_stream_fence()   # once per thread, after its last streamed row
            sf_scratch_release(buf)
    return rc != 0 or err != 0


def softmax_3d(const floating[:, :, :] x, floating[:, :, :] y, bint log_out, int algorithm,
               double scale, int num_threads):
    """softmax (or log_softmax) along axis 1 of a non-empty 3-D view, written into `y`."""
    cdef Py_ssize_t isz = sizeof(floating)
    cdef int rc
    with nogil:
        rc = run_softmax(log_out, algorithm, &x[0, 0, 0], &y[0, 0, 0],
                         x.shape[0], x.shape[1], x.shape[2],
                         x.strides[0] // isz, x.strides[1] // isz, x.strides[2] // isz,
                         y.strides[0] // isz, y.strides[1] // isz, y.strides[2] // isz,
                         <floating> scale, num_threads)
    if rc != 0:
        raise MemoryError("softmax_fast: out of memory for a row buffer")


cdef extern from "numpy/arrayobject.h":
    # a new reference; steals the one of descr
    object PyArray_NewFromDescr(PyTypeObject *subtype, cnp.PyArray_Descr *descr, int nd,
                                cnp.npy_intp *dims, cnp.npy_intp *strides, void *data,
                                int flags, PyObject *obj)


def strided_view(cnp.ndarray a, tuple shape, tuple strides, bint writeable):
    """A view of `a`'s memory from its first element with the given shape and strides (bytes),
    read-only unless `writeable` (and `a` is). The caller makes sure it stays inside `a`'s
    memory. np.lib.stride_tricks.as_strided does the same through __array_interface__, which
    costs ~3 us a call."""
    cdef int nd = len(shape), d
    cdef cnp.npy_intp dims[32]
    cdef cnp.npy_intp st[32]
    cdef cnp.PyArray_Descr *descr = cnp.PyArray_DESCR(a)
    if nd != len(strides) or nd > 32:
        raise ValueError("strided_view: shape and strides must have the same length (<= 32)")
    for d in range(nd):
        dims[d] = shape[d]
        st[d] = strides[d]
    Py_INCREF(<object> descr)
    v = PyArray_NewFromDescr(<PyTypeObject *> cnp.ndarray, descr, nd, dims, st,
                             cnp.PyArray_DATA(a),
                             cnp.NPY_ARRAY_WRITEABLE if writeable and cnp.PyArray_ISWRITEABLE(a)
                             else 0, NULL)
    cnp.set_array_base(v, a)
    return v


# ---- where=: the masked input and the masked output, elementwise in one pass each -----------
# NumPy's masked copy (np.copyto(..., where=)) moves one element at a time: 7.2 ms for 2048 x
# 2048 float32, ten times the softmax itself.

cdef inline void masked_line(const floating *x, Py_ssize_t xs, const unsigned char *m,
                             Py_ssize_t ms, floating *y, Py_ssize_t ys, Py_ssize_t n,
                             floating sc, floating fill, bint scale_x) noexcept nogil:
    """y = sc * x where m, else fill (scale_x); or y = fill where not m, y elsewhere (x is y)."""
    cdef Py_ssize_t i
    if xs == 1 and ys == 1 and (ms == 1 or ms == 0):   # contiguous: the ISA's vectorized loop
        if floating is float:
            K.f32.mask(x, m, ms, y, n, sc, fill, scale_x)
        else:
            K.f64.mask(x, m, ms, y, n, sc, fill, scale_x)
    elif scale_x:
        for i in range(n):
            y[i * ys] = sc * x[i * xs] if m[i * ms] else fill
    else:
        for i in range(n):
            if not m[i * ms]:
                y[i * ys] = fill


def masked_3d(const floating[:, :, :] x, const unsigned char[:, :, :] m, floating[:, :, :] y,
              double scale, double fill, bint scale_x, int num_threads):
    """Elementwise over three (O, N, I) views of one shape (m: a boolean mask as bytes, any
    strides, broadcast ones too): y = scale * x where m, else fill (`scale_x`, the input of a
    masked softmax: the product rounded once in the dtype, as NumPy's multiply), or y = fill
    where not m (`scale_x` false: x must be y; the output's masked entries). Lines run along
    the inner axis when it has more than one element, else along the middle one."""
    cdef Py_ssize_t O = y.shape[0], N = y.shape[1], I = y.shape[2], isz = sizeof(floating)
    cdef Py_ssize_t L, n, t, a, b
    cdef Py_ssize_t xs0 = x.strides[0] // isz, xs1 = x.strides[1] // isz, xs2 = x.strides[2] // isz
    cdef Py_ssize_t ys0 = y.strides[0] // isz, ys1 = y.strides[1] // isz, ys2 = y.strides[2] // isz
    cdef Py_ssize_t ms0 = m.strides[0], ms1 = m.strides[1], ms2 = m.strides[2]
    cdef const floating *x0
    cdef const unsigned char *m0
    cdef floating *y0
    cdef bint along_inner = I > 1
    cdef int nt
    if O == 0 or N == 0 or I == 0:
        return
    x0 = &x[0, 0, 0]
    m0 = &m[0, 0, 0]
    y0 = &y[0, 0, 0]
    L = O * N if along_inner else O * I    # lines
    n = I if along_inner else N            # elements a line
    nt = plan_threads(L * n, L, num_threads)
    with nogil:
        for t in prange(L, num_threads=nt, schedule='static'):
            if along_inner:   # line t: (o, j) = (t // N, t % N), along i
                a = t // N
                b = t % N
                masked_line(x0 + a * xs0 + b * xs1, xs2, m0 + a * ms0 + b * ms1, ms2,
                            y0 + a * ys0 + b * ys1, ys2, n, <floating> scale, <floating> fill,
                            scale_x)
            else:             # line t: (o, i) = (t // I, t % I), along j
                a = t // I
                b = t % I
                masked_line(x0 + a * xs0 + b * xs2, xs1, m0 + a * ms0 + b * ms2, ms1,
                            y0 + a * ys0 + b * ys2, ys1, n, <floating> scale, <floating> fill,
                            scale_x)


# ---- the fast path's checks: the common call judged in C, configured once by _api ----------
# Each check in Python cost 50-200 ns (a flags object, a shape tuple, np.may_share_memory):
# 0.76 us a call of a (1, 4) softmax in all, against 0.15 us for the work itself.
cdef int FAST_AUTO[2][2]            # [float64][log_softmax]: "auto"'s algorithm
cdef dict FAST_NAMES = {}           # algorithm name -> algorithm
cdef dict FAST_HALF = {}            # dtype -> 0 (not a 16-bit float), 1 float16, 2 bfloat16
cdef object FAST_HALF_KIND = None   # dtype -> its half kind, for a dtype not seen before
cdef object FAST_MAX_THREADS = 1


def configure_fast_path(auto, names, half_kind, max_threads):
    """Set what `fast_plan` accepts: `auto[(is_float64, is_log)]` is "auto"'s algorithm,
    `names` maps algorithm names to algorithms, `half_kind(dtype)` tells a native 16-bit float
    (1 float16, 2 bfloat16) from anything else (0), `max_threads` is the largest num_threads."""
    global FAST_NAMES, FAST_HALF_KIND, FAST_MAX_THREADS
    cdef int f, lg
    for f in range(2):
        for lg in range(2):
            FAST_AUTO[f][lg] = auto[bool(f), bool(lg)]
    FAST_NAMES = dict(names)
    FAST_HALF_KIND = half_kind
    FAST_MAX_THREADS = int(max_threads)
    FAST_HALF.clear()


cdef bint fast_layout(cnp.ndarray a) noexcept:
    return (cnp.PyArray_IS_C_CONTIGUOUS(a) and cnp.PyArray_ISALIGNED(a)
            and cnp.PyArray_ISNOTSWAPPED(a))


cdef int fast_float(x) noexcept:
    """The type number (NPY_FLOAT32 or NPY_FLOAT64) of `x` when it is an ndarray the fast
    paths take as their float input: at least 1-D, not empty, C-contiguous, aligned, native,
    float32 or float64; else 0."""
    cdef cnp.ndarray a
    cdef int t
    if type(x) is not cnp.ndarray:
        return 0
    a = <cnp.ndarray> x
    t = cnp.PyArray_TYPE(a)
    if (cnp.PyArray_NDIM(a) == 0 or cnp.PyArray_SIZE(a) == 0 or not fast_layout(a)
            or (t != cnp.NPY_FLOAT32 and t != cnp.NPY_FLOAT64)):
        return 0
    return t


cdef object fast_result(out, cnp.ndarray a):
    """A new array of `a`'s shape and dtype (C order) when `out` is None, `out` itself when
    fast_out takes it, else None (the call takes the full path)."""
    if out is None:
        return cnp.PyArray_EMPTY(cnp.PyArray_NDIM(a), cnp.PyArray_DIMS(a), cnp.PyArray_TYPE(a), 0)
    return out if fast_out(out, a) else None


cdef bint fast_out(out, cnp.ndarray a) noexcept:
    """`out` an ndarray the fast path may write a result of `a`'s shape and dtype into:
    C-contiguous, aligned, native, writeable, and `a` itself or not overlapping it."""
    cdef cnp.ndarray res
    cdef int d, nd = cnp.PyArray_NDIM(a)
    cdef char *lo
    cdef char *hi
    if type(out) is not cnp.ndarray:
        return False
    res = <cnp.ndarray> out
    if (cnp.PyArray_NDIM(res) != nd or cnp.PyArray_TYPE(res) != cnp.PyArray_TYPE(a)
            or not fast_layout(res) or not cnp.PyArray_ISWRITEABLE(res)):
        return False
    for d in range(nd):
        if cnp.PyArray_DIM(res, d) != cnp.PyArray_DIM(a, d):
            return False
    if res is not a:   # both contiguous: their byte ranges tell whether they overlap
        lo = <char *> cnp.PyArray_DATA(a)
        hi = <char *> cnp.PyArray_DATA(res)
        if (lo < hi + cnp.PyArray_NBYTES(res)) and (hi < lo + cnp.PyArray_NBYTES(a)):
            return False
    return True


cdef int fast_threads(num_threads) except -1:
    """A fast-path call's num_threads: None (the OpenMP runtime's count, read at each call) or
    an int in 1..max_threads; 0 for anything else (the full path checks and explains it)."""
    if num_threads is None:
        return sf_omp_max_threads()
    if type(num_threads) is int and 1 <= num_threads <= FAST_MAX_THREADS:
        return num_threads
    return 0


cdef bint fast_mask(where, cnp.ndarray a) noexcept:
    """`where` a boolean ndarray that broadcasts to `a`'s shape (NumPy's rule: trailing dims
    equal or 1)."""
    cdef cnp.ndarray w
    cdef int d, k, wd, nd = cnp.PyArray_NDIM(a)
    if type(where) is not cnp.ndarray:
        return False
    w = <cnp.ndarray> where
    wd = cnp.PyArray_NDIM(w)
    # softmax_rows keeps the mask's broadcast strides in 32 slots (NumPy allows 64 dims)
    if cnp.PyArray_TYPE(w) != cnp.NPY_BOOL or wd > nd or nd > 32:
        return False
    for d in range(wd):
        k = nd - wd + d
        if cnp.PyArray_DIM(w, d) != 1 and cnp.PyArray_DIM(w, d) != cnp.PyArray_DIM(a, k):
            return False
    return True


def fast_plan(x, axis, out, algorithm, num_threads, scale, where, bint log_out):
    """The common call of softmax / log_softmax: an ndarray `x` (C-contiguous, aligned, native
    float32, float64, float16 or bfloat16, not empty), one axis (a Python int; 16-bit x and
    where=: the last one), `out` None or an ndarray of x's shape and dtype that does not
    overlap x (or is x), an algorithm name, num_threads None or an int in 1..max_threads, scale
    None or a finite Python float (a temperature), and where None or a boolean ndarray that
    broadcasts to x (float32/float64 x). Returns (result array, algorithm, half kind, scale,
    axis in 0..ndim-1, threads) for `softmax_rows`, or None: the call takes the full path,
    which checks and explains every argument."""
    cdef cnp.ndarray a, res
    cdef int t, half = 0, nd, algo, nt, ax
    cdef double sc = 1.0
    if type(x) is not cnp.ndarray or type(axis) is not int:
        return None
    if scale is not None:
        if type(scale) is not float:
            return None
        sc = scale
        if not isfinite(sc):
            return None
    a = <cnp.ndarray> x
    nd = cnp.PyArray_NDIM(a)
    if nd == 0 or cnp.PyArray_SIZE(a) == 0 or not fast_layout(a):
        return None
    if not -nd <= axis < nd:
        return None
    ax = axis + nd if axis < 0 else axis
    t = cnp.PyArray_TYPE(a)
    if t != cnp.NPY_FLOAT32 and t != cnp.NPY_FLOAT64:
        dt = <object> cnp.PyArray_DESCR(a)
        kind = FAST_HALF.get(dt)
        if kind is None:
            kind = FAST_HALF[dt] = int(FAST_HALF_KIND(dt))
        half = kind
        if not half or ax != nd - 1:   # 16-bit x along another axis: the full path's copy
            return None
    if half and out is None:
        res = np.empty_like(a)
    else:
        r = fast_result(out, a)
        if r is None:
            return None
        res = <cnp.ndarray> r
    if type(algorithm) is not str:
        return None
    if algorithm == "auto":
        algo = FAST_AUTO[t == cnp.NPY_FLOAT64][log_out]
    else:
        named = FAST_NAMES.get(algorithm)
        if named is None:
            return None
        algo = named
    if where is not None and (half or ax != nd - 1 or not fast_mask(where, a)):
        return None
    nt = fast_threads(num_threads)
    if nt == 0:
        return None
    return res, algo, half, sc, ax, nt


def fast_lse_plan(x, axis, bint keepdims, num_threads):
    """logsumexp's common call: an ndarray `x` (C-contiguous, aligned, native float32 or
    float64, not empty) reduced along one axis (a Python int) or whole (axis None), with or
    without keepdims, num_threads as for `fast_plan`. Returns (result array, axis, threads)
    for `logsumexp_rows` (axis -1 when whole; the result 0-d when it keeps no dim), or None:
    the call takes the full path."""
    cdef cnp.ndarray a
    cdef int t = fast_float(x), nd, nt, ax = -1, d, k = 0
    cdef cnp.npy_intp dims[64]
    cdef bint whole = axis is None
    if t == 0:
        return None
    a = <cnp.ndarray> x
    nd = cnp.PyArray_NDIM(a)
    if not whole:
        if not (type(axis) is int and -nd <= axis < nd):
            return None
        ax = axis + nd if axis < 0 else axis
    nt = fast_threads(num_threads)
    if nt == 0:
        return None
    for d in range(nd):   # the result's dims: x's without the reduced ones, or 1 for them
        if d == ax or whole:
            if keepdims:
                dims[k] = 1
                k += 1
        else:
            dims[k] = cnp.PyArray_DIM(a, d)
            k += 1
    return cnp.PyArray_EMPTY(k, dims, t, 0), ax, nt


cdef inline const unsigned char *mask_row(const unsigned char *m0, Py_ssize_t r, int nd,
                                          const Py_ssize_t *dims,
                                          const Py_ssize_t *mst) noexcept nogil:
    """Row r's mask (rows numbered over x's leading dims, C order; byte strides)."""
    cdef Py_ssize_t off = 0
    cdef int k
    for k in range(nd - 2, -1, -1):
        off += (r % dims[k]) * mst[k]
        r = r // dims[k]
    return m0 + off


cdef void masked_blocks(const floating *x, const unsigned char *m, Py_ssize_t ms, floating *y,
                        Py_ssize_t n, floating sc, floating fill, bint scale_x,
                        int nt) noexcept nogil:
    """masked_line over one long row, its BLOCK-sized pieces shared by nt threads."""
    cdef Py_ssize_t nb = (n + BLOCK - 1) // BLOCK, b, lo
    for b in prange(nb, num_threads=nt, schedule='static'):
        lo = b * BLOCK
        masked_line(x + lo, 1, m + lo * ms, ms, y + lo, 1, min(BLOCK, n - lo), sc, fill, scale_x)


cdef int run_masked_rows(bint lg, int algo, const floating *x, floating *y,
                         const unsigned char *m0, Py_ssize_t R, Py_ssize_t N, int nd,
                         const Py_ssize_t *dims, const Py_ssize_t *mst, floating sc,
                         int num_threads) noexcept nogil:
    """softmax (log_softmax) of contiguous rows with a where= mask, row by row while the row
    is in cache: y = sc * x where the mask holds, else -inf (masked_line); the softmax of y in
    place (one_row, sc 1); y = 0 (-inf) where the mask does not hold, whatever the row's
    special values made of it. The same steps, hence the same bits, as the full path's three
    passes over the whole array (_api.softmax_like). Nonzero when out of memory."""
    cdef Py_ssize_t r, ms = mst[nd - 1]
    cdef const unsigned char *mr
    cdef floating fill = -INFINITY if lg else 0.0
    cdef int nt, rc = 0
    cdef int err = 0
    cdef int *errp = &err
    if N >= SPLIT_MIN and R < num_threads:
        # few long rows: the masked passes and the blocked softmax share the threads per row
        nt = plan_threads(N, (N + BLOCK - 1) // BLOCK, num_threads)
        for r in range(R):
            mr = mask_row(m0, r, nd, dims, mst)
            masked_blocks(x + r * N, mr, ms, y + r * N, N, sc, -INFINITY, True, nt)
            rc = one_row(lg, algo, y + r * N, 1, y + r * N, 1, N, 1.0, NULL, nt, False, NULL)
            masked_blocks(y + r * N, mr, ms, y + r * N, N, 1.0, fill, False, nt)
            if rc != 0:
                return rc
        return 0
    nt = plan_threads(R * N, R, num_threads)
    for r in prange(R, num_threads=nt, schedule='static'):
        mr = mask_row(m0, r, nd, dims, mst)
        masked_line(x + r * N, 1, mr, ms, y + r * N, 1, N, sc, -INFINITY, True)
        if one_row(lg, algo, y + r * N, 1, y + r * N, 1, N, 1.0, NULL, 1, False, NULL) != 0:
            errp[0] = 1
        masked_line(y + r * N, 1, mr, ms, y + r * N, 1, N, 1.0, fill, False)
    return err


cdef Py_ssize_t inner_of(cnp.ndarray x, int axis, Py_ssize_t n) noexcept:
    """The fast paths' (rows / inner, n, inner) block of the full path's plan for a reduction
    along `axis` (n elements; -1: all of x): inner = the product of the dims after it, or 1
    for all of x and for n == 1 (rows of one element, as the full path plans them)."""
    cdef Py_ssize_t inner = 1
    cdef int d
    if axis >= 0 and n > 1:
        for d in range(axis + 1, cnp.PyArray_NDIM(x)):
            inner *= cnp.PyArray_DIM(x, d)
    return inner


def softmax_rows(cnp.ndarray x, cnp.ndarray y, bint log_out, int algorithm, int half_kind,
                 double scale, where, int axis, int num_threads):
    """The fast path's entry: softmax along `axis` (0..ndim-1) of a non-empty, C-contiguous,
    aligned, native float32/float64 `x` (or float16 / bfloat16: `half_kind` 1 / 2, computed in
    float32, last axis) into `y` of the same shape and dtype, with `where` None or a boolean
    array broadcasting to x (float32/float64, last axis; the caller checked all that,
    `fast_plan`). Takes the data pointers directly: acquiring typed memoryviews costs more
    than the whole computation of a tiny input."""
    cdef int rc, d, k, nd = cnp.PyArray_NDIM(x), wd
    cdef Py_ssize_t n = cnp.PyArray_DIM(x, axis)
    cdef Py_ssize_t rows = cnp.PyArray_SIZE(x) // n
    cdef Py_ssize_t inner = inner_of(x, axis, n)
    cdef Py_ssize_t dims[32]
    cdef Py_ssize_t mst[32]
    cdef cnp.ndarray w
    cdef const unsigned char *m0
    if where is not None:
        w = <cnp.ndarray> where
        wd = cnp.PyArray_NDIM(w)
        for d in range(nd):   # the mask's strides broadcast to x's shape: 0 where it repeats
            dims[d] = cnp.PyArray_DIM(x, d)
            k = d - (nd - wd)
            mst[d] = 0 if k < 0 or cnp.PyArray_DIM(w, k) == 1 else cnp.PyArray_STRIDE(w, k)
        m0 = <const unsigned char *> cnp.PyArray_DATA(w)
        if cnp.PyArray_TYPE(x) == cnp.NPY_FLOAT32:
            with nogil:
                rc = run_masked_rows(log_out, algorithm, <const float *> cnp.PyArray_DATA(x),
                                     <float *> cnp.PyArray_DATA(y), m0, rows, n, nd, dims, mst,
                                     <float> scale, num_threads)
        else:
            with nogil:
                rc = run_masked_rows(log_out, algorithm, <const double *> cnp.PyArray_DATA(x),
                                     <double *> cnp.PyArray_DATA(y), m0, rows, n, nd, dims, mst,
                                     <double> scale, num_threads)
    elif half_kind:
        with nogil:
            rc = run_half_softmax(log_out, algorithm, half_kind == 2,
                                  <const uint16_t *> cnp.PyArray_DATA(x),
                                  <uint16_t *> cnp.PyArray_DATA(y), rows, n, 1, n, 1, n, 1,
                                  <float> scale, num_threads)
    elif cnp.PyArray_TYPE(x) == cnp.NPY_FLOAT32:
        with nogil:
            rc = run_softmax(log_out, algorithm, <const float *> cnp.PyArray_DATA(x),
                             <float *> cnp.PyArray_DATA(y), rows // inner, n, inner,
                             n * inner, inner, 1, n * inner, inner, 1, <float> scale,
                             num_threads)
    else:
        with nogil:
            rc = run_softmax(log_out, algorithm, <const double *> cnp.PyArray_DATA(x),
                             <double *> cnp.PyArray_DATA(y), rows // inner, n, inner,
                             n * inner, inner, 1, n * inner, inner, 1, <double> scale,
                             num_threads)
    if rc != 0:
        raise MemoryError("softmax_fast: out of memory for a row buffer")


cdef int run_logsumexp(const floating *x0, floating *out0, Py_ssize_t O, Py_ssize_t N,
                       Py_ssize_t I, Py_ssize_t xs0, Py_ssize_t xs1, Py_ssize_t xs2,
                       Py_ssize_t os0, Py_ssize_t os1, floating sc, int num_threads) noexcept nogil:
    """logsumexp along the middle axis of an (O, N, I) strided block into out[o, i] (strides in
    elements). Returns nonzero when out of memory."""
    cdef Py_ssize_t panels, t, o, c0, w, skew
    cdef int nt
    if I > 1 and xs2 == 1:
        skew = panel_skew(x0, sizeof(floating), xs1)
        panels = panel_count(I, skew)
        nt = plan_threads(O * N * I, O * panels, num_threads)
        for t in prange(O * panels, num_threads=nt, schedule='static'):
            o = t // panels
            c0 = panel_start(t % panels, skew)
            w = panel_width(t % panels, skew, I)
            if floating is float:
                K.f32.logsumexp_columns(x0 + o * xs0 + c0, out0 + o * os0 + c0 * os1, N, w,
                                        xs1, os1, sc)
            else:
                K.f64.logsumexp_columns(x0 + o * xs0 + c0, out0 + o * os0 + c0 * os1, N, w,
                                        xs1, os1, sc)
        return 0
    return reduce_rows(x0, O, N, I, xs0, xs1, xs2, sc, num_threads, <sf_partial *> NULL, out0,
                       os0, os1)


def logsumexp_3d(const floating[:, :, :] x, floating[:, :] out, double scale, int num_threads):
    """logsumexp along axis 1 of a non-empty 3-D view into the 2-D `out` (outer, inner)."""
    cdef Py_ssize_t isz = sizeof(floating)
    cdef int rc
    with nogil:
        rc = run_logsumexp(&x[0, 0, 0], &out[0, 0], x.shape[0], x.shape[1], x.shape[2],
                           x.strides[0] // isz, x.strides[1] // isz, x.strides[2] // isz,
                           out.strides[0] // isz, out.strides[1] // isz, <floating> scale,
                           num_threads)
    if rc != 0:
        raise MemoryError("softmax_fast: out of memory for a row buffer")


def logsumexp_rows(cnp.ndarray x, cnp.ndarray out, int axis, int num_threads):
    """The fast path of logsumexp: along `axis` (0..ndim-1; -1: all of x) of a non-empty,
    C-contiguous, aligned, native float32/float64 `x` into the contiguous `out` (x.size // n
    elements, same dtype)."""
    cdef Py_ssize_t n = cnp.PyArray_SIZE(x) if axis < 0 else cnp.PyArray_DIM(x, axis)
    cdef Py_ssize_t rows = cnp.PyArray_SIZE(x) // n
    cdef Py_ssize_t inner = inner_of(x, axis, n)
    cdef int rc
    if cnp.PyArray_TYPE(x) == cnp.NPY_FLOAT32:
        with nogil:
            rc = run_logsumexp(<const float *> cnp.PyArray_DATA(x), <float *> cnp.PyArray_DATA(out),
                               rows // inner, n, inner, n * inner, inner, 1, inner, 1,
                               <float> 1.0, num_threads)
    else:
        with nogil:
            rc = run_logsumexp(<const double *> cnp.PyArray_DATA(x),
                               <double *> cnp.PyArray_DATA(out), rows // inner, n, inner,
                               n * inner, inner, 1, inner, 1, <double> 1.0, num_threads)
    if rc != 0:
        raise MemoryError("softmax_fast: out of memory for a row buffer")


# ---------------------------------------------------------------------------------------------
# chunks of one slice (softmax_fast.dask): per-row (max, sum, rest) partials, their merge, and
# the write pass from a merged partial. The merged partial is the slice's logsumexp in factored
# form, lse = max + log1p(rest): the write pass takes x - max exactly and applies 1/sum in two
# parts, as for a row cut into blocks in memory. (A plain float64 lse would cost float64 outputs
# a relative error of |lse| * 2^-53, about |lse| ulp, in exp(x - lse).)

cdef inline sf_partial canonical_partial(const floating *x, Py_ssize_t n, Py_ssize_t stride,
                                         floating sc, sf_partial p) noexcept nogil:
    """The partial of a chunk with DESIGN section 3's special values made explicit, so that the
    merge of partials alone gives them: NaN anywhere -> (NaN, NaN, NaN); +inf (no NaN) ->
    (+inf, NaN, NaN); only -inf or empty -> (-inf, 0, -1). The kernels' own partial cannot tell
    a chunk holding +inf and NaN from one holding +inf only."""
    cdef double v
    if isfinite(p.max) and isfinite(p.sum):
        return p
    v = k_lse_finish(x, n, stride, sc, p)     # scans the chunk: NaN, +inf or -inf
    if v != v:
        p.max = NAN
        p.sum = NAN
        p.rest = NAN
    elif v == INFINITY:
        p.max = INFINITY
        p.sum = NAN
        p.rest = NAN
    else:
        p.max = -INFINITY
        p.sum = 0.0
        p.rest = -1.0
    return p


cdef inline void put_row(sf_partial *parts, floating *out0, Py_ssize_t r, Py_ssize_t I,
                         Py_ssize_t os0, Py_ssize_t os1, const floating *xr, Py_ssize_t N,
                         Py_ssize_t xs1, floating sc, sf_partial p) noexcept nogil:
    """Row r's result from its (max, sum) partial p: the partial with its special values made
    explicit into parts[r] (when parts is not NULL), else the logsumexp into out0."""
    if parts != NULL:
        parts[r] = canonical_partial(xr, N, xs1, sc, p)
    else:
        out0[(r // I) * os0 + (r % I) * os1] = <floating> k_lse_finish(xr, N, xs1, sc, p)


cdef int reduce_rows(const floating *x0, Py_ssize_t O, Py_ssize_t N, Py_ssize_t I,
                     Py_ssize_t xs0, Py_ssize_t xs1, Py_ssize_t xs2, floating sc, int num_threads,
                     sf_partial *parts, floating *out0, Py_ssize_t os0,
                     Py_ssize_t os1) noexcept nogil:
    """Reduce every row along the middle axis of an (O, N, I) strided block (strides in
    elements) to its (max, sum) partial, and hand it to `put_row`: the partials of
    `partials_3d` (parts) or the logsumexp of `run_logsumexp` (out0[o, i]). Fixed blocks for
    long rows: bits independent of the thread count. Returns nonzero when out of memory."""
    cdef Py_ssize_t isz = sizeof(floating)
    cdef Py_ssize_t R = O * I, r
    cdef const floating *xr
    cdef int nt, rc = 0
    cdef floating *buf = NULL
    cdef sf_partial p
    cdef int err = 0
    cdef int *errp = &err
    if N >= SPLIT_MIN and R < num_threads:
        nt = plan_threads(N, (N + BLOCK - 1) // BLOCK, num_threads)
        for r in range(R):
            xr = row_at(x0, r, I, xs0, xs2)
            if xs1 != 1:
                if buf == NULL:
                    buf = <floating *> sf_scratch_get(N * isz)
                if buf == NULL:
                    rc = -1
                    break
                gather(xr, N, xs1, buf)
                p = blocked_partial(<const floating *> buf, N, sc, nt, NULL)
            else:
                p = blocked_partial(xr, N, sc, nt, NULL)
            if p.sum == -1.0:
                rc = -1
                break
            put_row(parts, out0, r, I, os0, os1, xr, N, xs1, sc, p)
        sf_scratch_release(buf)
    else:
        nt = plan_threads(R * N, R, num_threads)
        if nt == 1 and xs1 == 1:
            # one thread, contiguous rows: no parallel region at all (a region of one thread
            # costs ~0.3 us, more than a tiny input's work)
            for r in range(R):
                xr = row_at(x0, r, I, xs0, xs2)
                p = blocked_partial(xr, N, sc, 1, next_row(x0, r, R, I, xs0, xs1, xs2))
                if p.sum == -1.0:
                    return 1
                put_row(parts, out0, r, I, os0, os1, xr, N, xs1, sc, p)
            return 0
        with parallel(num_threads=nt):
            buf = NULL
            if xs1 != 1:
                buf = <floating *> sf_scratch_get(N * isz)
                if buf == NULL:
                    errp[0] = 1
            for r in prange(R, schedule='static'):
                xr = row_at(x0, r, I, xs0, xs2)
                if xs1 == 1:
                    p = blocked_partial(xr, N, sc, 1, next_row(x0, r, R, I, xs0, xs1, xs2))
                elif buf != NULL:
                    gather(xr, N, xs1, buf)
                    p = blocked_partial(<const floating *> buf, N, sc, 1, NULL)
                else:
                    continue
                if p.sum == -1.0:
                    errp[0] = 1
                else:
                    put_row(parts, out0, r, I, os0, os1, xr, N, xs1, sc, p)
            sf_scratch_release(buf)
    return rc != 0 or err != 0


def partials_3d(const floating[:, :, :] x, double[:, :, ::1] parts, double scale, int num_threads):
    """The (max, sum, rest) partial of every slice along axis 1 of a non-empty 3-D view
    (outer, n, inner) into ``parts`` (outer, inner, 3), float64 C-contiguous. Special values
    are made explicit (see `canonical_partial`) so that `merge_partials` carries them."""
    cdef Py_ssize_t isz = sizeof(floating)
    cdef int rc
    if parts.shape[0] != x.shape[0] or parts.shape[1] != x.shape[2] or parts.shape[2] != 3:
        raise ValueError("partials_3d: parts must be (outer, inner, 3)")
    with nogil:
        rc = reduce_rows(&x[0, 0, 0], x.shape[0], x.shape[1], x.shape[2], x.strides[0] // isz,
                         x.strides[1] // isz, x.strides[2] // isz, <floating> scale,
                         num_threads, <sf_partial *> &parts[0, 0, 0], <floating *> NULL, 0, 0)
    if rc != 0:
        raise MemoryError("softmax_fast: out of memory for a row buffer")


def merge_partials(const double[:, :, ::1] parts, double[:, ::1] out):
    """Merge the k partials of each of R slices, ``parts`` (R, k, 3), into ``out`` (R, 3) with
    the associative rule of the online algorithm (`sf_merge_all`: the sum of the partials at
    the max and the others rescaled, in one compensated sum)."""
    cdef Py_ssize_t R = parts.shape[0], k = parts.shape[1], r
    cdef sf_partial p
    if parts.shape[2] != 3 or out.shape[0] != R or out.shape[1] != 3 or k < 1:
        raise ValueError("merge_partials: parts must be (R, k >= 1, 3) and out (R, 3)")
    with nogil:
        for r in range(R):
            p = sf_merge_all(<const sf_partial *> &parts[r, 0, 0], k)
            out[r, 0] = p.max
            out[r, 1] = p.sum
            out[r, 2] = p.rest


def rest_parts_3d(const floating[:, :, :] x, const double[:, :, ::1] parts, Py_ssize_t n_total,
                  double scale, double[:, :, ::1] out):
    """For a chunk (outer, n, inner) of longer slices (n_total values each) whose merged partials
    are ``parts`` (outer, inner, 3): ``out`` (outer, inner, 3) = the chunk's pieces of each
    slice's rest taken again (the kernels' rest_parts: count at the max, hi, lo), or zeros for
    the slices whose rest is not (refine_low). They add up over the chunks: `refine_rests`."""
    cdef Py_ssize_t O = x.shape[0], N = x.shape[1], I = x.shape[2], o, i
    cdef Py_ssize_t isz = sizeof(floating)
    cdef floating low
    cdef int need
    if (parts.shape[0] != O or parts.shape[1] != I or parts.shape[2] != 3
            or out.shape[0] != O or out.shape[1] != I or out.shape[2] != 3):
        raise ValueError("rest_parts_3d: parts and out must be (outer, inner, 3)")
    with nogil:
        for o in range(O):
            for i in range(I):
                if floating is float:
                    need = K.f32.refine_low(parts[o, i, 0], parts[o, i, 2], n_total, &low)
                else:
                    need = K.f64.refine_low(parts[o, i, 0], parts[o, i, 2], n_total, &low)
                if not need or N == 0:
                    out[o, i, 0] = out[o, i, 1] = out[o, i, 2] = 0.0
                elif floating is float:
                    K.f32.rest_parts(&x[o, 0, i], N, x.strides[1] // isz, <float> scale,
                                     <float> parts[o, i, 0], low, &out[o, i, 0])
                else:
                    K.f64.rest_parts(&x[o, 0, i], N, x.strides[1] // isz, scale,
                                     parts[o, i, 0], low, &out[o, i, 0])


def refine_rests(double[:, ::1] parts, const double[:, :, ::1] pieces, bint f64):
    """Where a slice's rest is taken again (refine_low of its merged partial, ``parts`` (R, 3),
    in float64 or float32): its rest becomes (count - 1) + (hi + lo) 2^-128 of its chunks'
    ``pieces`` (R, k, 3) from `rest_parts_3d`, added up compensated in chunk order."""
    cdef Py_ssize_t R = parts.shape[0], k = pieces.shape[1], r, c
    cdef double count, hi, lo, v, t, b
    cdef float low32
    cdef double low64
    cdef int need
    if parts.shape[1] != 3 or pieces.shape[0] != R or pieces.shape[2] != 3:
        raise ValueError("refine_rests: parts must be (R, 3) and pieces (R, k, 3)")
    with nogil:
        for r in range(R):
            if f64:
                need = K.f64.refine_low(parts[r, 0], parts[r, 2], 1, &low64)
            else:
                need = K.f32.refine_low(parts[r, 0], parts[r, 2], 1, &low32)
            if not need:
                continue
            count = hi = lo = 0.0
            for c in range(k):
                count += pieces[r, c, 0]
                v = pieces[r, c, 1]
                t = hi + v          # TwoSum: the error of each addition into lo
                b = t - hi
                lo += (hi - (t - b)) + (v - b) + pieces[r, c, 2]
                hi = t
            parts[r, 2] = (count - 1.0) + ldexp(hi + lo, -128)


def logsumexp_from_partials(const double[:, ::1] parts, floating[::1] out):
    """``out[r]`` = the logsumexp of slice r from its merged partial ``parts[r]`` (R, 3):
    max + log1p(rest), or NaN, +inf, -inf for the special partials of `partials_3d`."""
    cdef Py_ssize_t R = parts.shape[0], r
    cdef double m, v
    if parts.shape[1] != 3 or out.shape[0] != R:
        raise ValueError("logsumexp_from_partials: parts must be (R, 3) and out (R,)")
    with nogil:
        for r in range(R):
            m = parts[r, 0]
            if m != m or m == INFINITY or m == -INFINITY:
                v = m
            elif not isfinite(parts[r, 1]):
                v = NAN
            else:
                v = m + log1p(parts[r, 2])
            out[r] = <floating> v


cdef int run_softmax_from_partials(bint log_out, const floating *x0, const sf_partial *parts,
                                   floating *y0, Py_ssize_t O, Py_ssize_t N, Py_ssize_t I,
                                   Py_ssize_t xs0, Py_ssize_t xs1, Py_ssize_t xs2,
                                   Py_ssize_t ys0, Py_ssize_t ys1, Py_ssize_t ys2,
                                   floating sc, int num_threads) noexcept nogil:
    """Write pass of softmax (or log_softmax) along the middle axis of an (O, N, I) block whose
    rows are chunks of longer slices, given each slice's merged partial parts[o * I + i].
    Strided rows go through a row buffer; large outputs stream as in `run_softmax`. Returns
    nonzero when out of memory."""
    cdef Py_ssize_t isz = sizeof(floating)
    cdef Py_ssize_t R = O * I, r, nb, b, lo, ln
    cdef const floating *src
    cdef floating *dst
    cdef int nt
    cdef bint strided = xs1 != 1 or ys1 != 1
    cdef bint stream = STREAM_ENABLED and not strided and R * N * isz >= STREAM_MIN_BYTES
    cdef floating *buf = NULL
    cdef int err = 0
    cdef int *errp = &err
    if N >= SPLIT_MIN and R < num_threads and not strided:
        # few long contiguous rows: the threads share the fixed blocks of each row in turn
        nb = (N + BLOCK - 1) // BLOCK
        nt = plan_threads(N, nb, num_threads)
        for r in range(R):
            src = row_at(x0, r, I, xs0, xs2)
            dst = row_at(y0, r, I, ys0, ys2)
            if nt > 1:
                with parallel(num_threads=nt):
                    for b in prange(nb, schedule='static'):
                        lo = b * BLOCK
                        ln = min(BLOCK, N - lo)
                        k_write(log_out, SF_THREE_PASS, src + lo, dst + lo, ln, sc, 0, parts[r],
                                parts[r], <floating *> NULL, stream)
                    if stream:
                        sf_stream_fence()
            else:
                k_write(log_out, SF_THREE_PASS, src, dst, N, sc, 0, parts[r], parts[r],
                        <floating *> NULL, stream)
        if stream:
            sf_stream_fence()
        return 0
    nt = plan_threads(R * N, R, num_threads)
    with parallel(num_threads=nt):
        buf = NULL
        if strided:
            buf = <floating *> sf_scratch_get(N * isz)
            if buf == NULL:
                errp[0] = 1
        for r in prange(R, schedule='static'):
            if strided and buf == NULL:
                continue
            src = row_at(x0, r, I, xs0, xs2)
            dst = row_at(y0, r, I, ys0, ys2)
            if xs1 != 1:
                gather(src, N, xs1, buf)
                src = buf
            if ys1 != 1:
                dst = buf    # the write kernels accept y == x
            k_write(log_out, SF_THREE_PASS, src, dst, N, sc, 0, parts[r], parts[r],
                    <floating *> NULL, stream)
            if ys1 != 1:
                scatter(buf, N, row_at(y0, r, I, ys0, ys2), ys1)
        if stream:
            sf_stream_fence()
        sf_scratch_release(buf)
    return err != 0


def softmax_from_partials_3d(const floating[:, :, :] x, const double[:, :, ::1] parts,
                             floating[:, :, :] y, bint log_out, double scale, int num_threads):
    """softmax (or log_softmax) along axis 1 of a non-empty 3-D view (outer, n, inner) whose
    slices are chunks of longer slices, written into `y`, from each long slice's merged
    (max, sum, rest) partial ``parts`` (outer, inner, 3) (`merge_partials` of `partials_3d`):
    ``exp(x - max) / sum``, or ``(x - max) - log1p(rest)``."""
    cdef Py_ssize_t isz = sizeof(floating)
    cdef int rc
    if parts.shape[0] != x.shape[0] or parts.shape[1] != x.shape[2] or parts.shape[2] != 3:
        raise ValueError("softmax_from_partials_3d: parts must be (outer, inner, 3)")
    with nogil:
        rc = run_softmax_from_partials(log_out, &x[0, 0, 0], <const sf_partial *> &parts[0, 0, 0],
                                       &y[0, 0, 0], x.shape[0], x.shape[1], x.shape[2],
                                       x.strides[0] // isz, x.strides[1] // isz,
                                       x.strides[2] // isz, y.strides[0] // isz,
                                       y.strides[1] // isz, y.strides[2] // isz,
                                       <floating> scale, num_threads)
    if rc != 0:
        raise MemoryError("softmax_fast: out of memory for a row buffer")


def stream_copy(const unsigned char[::1] src, unsigned char[::1] dst, int num_threads):
    """Copy `src` into `dst` (same length, bytes) with non-temporal stores on `num_threads`
    threads: the memory-bandwidth yardstick of the benchmarks (a softmax reads x, writes out)."""
    cdef Py_ssize_t n = src.shape[0], chunk, t, lo, hi
    cdef int nt = max(1, num_threads)
    if dst.shape[0] != n:
        raise ValueError("stream_copy: src and dst differ in length")
    if n == 0:
        return
    chunk = ((n + nt - 1) // nt + 63) // 64 * 64   # whole cache lines per thread
    with nogil:
        for t in prange(nt, num_threads=nt, schedule='static'):
            lo = t * chunk
            hi = min(n, lo + chunk)
            if lo < hi:
                sf_stream_copy(&src[lo], &dst[lo], <size_t> (hi - lo))
                sf_stream_fence()


# ---------------------------------------------------------------------------------------------
# elementwise: sigmoid and log_sigmoid

SIGMOID = 0
LOG_SIGMOID = 1
# elements per task of a parallel elementwise call, and per conversion chunk of a 16-bit one
# (float32 chunks of 4 KiB stay in L1 between the conversion and the kernel)
cdef Py_ssize_t EW_TASK = 16384
cdef Py_ssize_t HALF_CHUNK = 1024


cdef inline void k_elementwise(int op, const floating *x, floating *y, Py_ssize_t n) noexcept nogil:
    if floating is float:
        if op == 0:
            K.f32.sigmoid(x, y, n)
        else:
            K.f32.log_sigmoid(x, y, n)
    else:
        if op == 0:
            K.f64.sigmoid(x, y, n)
        else:
            K.f64.log_sigmoid(x, y, n)


cdef inline void half_to_f32(bint bf16, const uint16_t *x, float *y, Py_ssize_t n) noexcept nogil:
    if bf16:
        K.half.bf16_to_f32(x, y, n)
    else:
        K.half.f16_to_f32(x, y, n)


cdef inline void f32_to_half(bint bf16, const float *x, uint16_t *y, Py_ssize_t n) noexcept nogil:
    if bf16:
        K.half.f32_to_bf16(x, y, n)
    else:
        K.half.f32_to_f16(x, y, n)


cdef void half_elementwise(int op, bint bf16, const uint16_t *x, uint16_t *y,
                           Py_ssize_t n) noexcept nogil:
    """op on 16-bit floats: chunks converted to float32 in an L1 buffer, computed, converted
    back (round to nearest even). y == x is fine: a chunk is read before it is written."""
    cdef float buf[1024]
    cdef Py_ssize_t i, ln
    i = 0
    while i < n:
        ln = min(HALF_CHUNK, n - i)
        half_to_f32(bf16, x + i, buf, ln)
        k_elementwise(op, <const float *> buf, buf, ln)
        f32_to_half(bf16, buf, y + i, ln)
        i += ln


cdef void run_elementwise(int op, const floating *x, floating *y, Py_ssize_t n,
                          int num_threads) noexcept nogil:
    cdef Py_ssize_t tasks = (n + EW_TASK - 1) // EW_TASK, t, lo
    cdef int nt = plan_threads(n, tasks, num_threads)
    if nt == 1:
        k_elementwise(op, x, y, n)
        return
    for t in prange(tasks, num_threads=nt, schedule='static'):
        lo = t * EW_TASK
        k_elementwise(op, x + lo, y + lo, min(EW_TASK, n - lo))


cdef void run_half_elementwise(int op, bint bf16, const uint16_t *x, uint16_t *y, Py_ssize_t n,
                               int num_threads) noexcept nogil:
    cdef Py_ssize_t tasks = (n + EW_TASK - 1) // EW_TASK, t, lo
    cdef int nt = plan_threads(n, tasks, num_threads)
    if nt == 1:
        half_elementwise(op, bf16, x, y, n)
        return
    for t in prange(tasks, num_threads=nt, schedule='static'):
        lo = t * EW_TASK
        half_elementwise(op, bf16, x + lo, y + lo, min(EW_TASK, n - lo))


def fast_elementwise(x, out, int op, num_threads):
    """sigmoid's / log_sigmoid's common call (op SIGMOID / LOG_SIGMOID), computed here: an
    ndarray `x` (fast_float), `out` None or an ndarray of x's shape and dtype (C-contiguous)
    that does not overlap x (or is x), num_threads as for `fast_plan`. Returns the result, or
    None: the call takes the full path."""
    cdef int nt
    if fast_float(x) == 0:
        return None
    res = fast_result(out, <cnp.ndarray> x)
    nt = fast_threads(num_threads)
    if res is None or nt == 0:
        return None
    elementwise(<cnp.ndarray> x, <cnp.ndarray> res, op, 0, nt)
    return res


def elementwise(cnp.ndarray x, cnp.ndarray y, int op, int half_kind, int num_threads):
    """y = sigmoid(x) (op SIGMOID) or log_sigmoid(x) (LOG_SIGMOID), for contiguous 1-D `x` and
    `y` of the same length: float32 or float64 (half_kind 0, same dtype), or 16-bit patterns
    viewed as uint16 (half_kind 1: float16, 2: bfloat16), computed in float32. y may be x."""
    cdef Py_ssize_t n = cnp.PyArray_SIZE(x)
    cdef int typ = cnp.PyArray_TYPE(x)
    if n == 0:
        return
    if half_kind:
        with nogil:
            run_half_elementwise(op, half_kind == 2, <const uint16_t *> cnp.PyArray_DATA(x),
                                 <uint16_t *> cnp.PyArray_DATA(y), n, num_threads)
    elif typ == cnp.NPY_FLOAT32:
        with nogil:
            run_elementwise(op, <const float *> cnp.PyArray_DATA(x), <float *> cnp.PyArray_DATA(y),
                            n, num_threads)
    else:
        with nogil:
            run_elementwise(op, <const double *> cnp.PyArray_DATA(x),
                            <double *> cnp.PyArray_DATA(y), n, num_threads)


# ---------------------------------------------------------------------------------------------
# float16 / bfloat16 rows: converted to float32 in a per-thread row buffer (in L2 for rows up to
# a few hundred thousand elements), computed there by the float32 kernels, converted back

cdef inline uint16_t *half_row_at(const uint16_t *base, Py_ssize_t r, Py_ssize_t I, Py_ssize_t s0,
                                  Py_ssize_t s2) noexcept nogil:
    """row_at for 16-bit elements."""
    return <uint16_t *> base + (r // I) * s0 + (r % I) * s2


cdef void half_to_f32_par(bint bf16, const uint16_t *x, float *y, Py_ssize_t n, int nt) noexcept nogil:
    cdef Py_ssize_t nb, b, lo
    if nt <= 1 or n < 2 * BLOCK:
        half_to_f32(bf16, x, y, n)
        return
    nb = (n + BLOCK - 1) // BLOCK
    for b in prange(nb, num_threads=nt, schedule='static'):
        lo = b * BLOCK
        half_to_f32(bf16, x + lo, y + lo, min(BLOCK, n - lo))


cdef void f32_to_half_par(bint bf16, const float *x, uint16_t *y, Py_ssize_t n, int nt) noexcept nogil:
    cdef Py_ssize_t nb, b, lo
    if nt <= 1 or n < 2 * BLOCK:
        f32_to_half(bf16, x, y, n)
        return
    nb = (n + BLOCK - 1) // BLOCK
    for b in prange(nb, num_threads=nt, schedule='static'):
        lo = b * BLOCK
        f32_to_half(bf16, x + lo, y + lo, min(BLOCK, n - lo))


cdef float max_of(const float *m, Py_ssize_t n) noexcept nogil:
    cdef float r = m[0]
    cdef Py_ssize_t i
    for i in range(1, n):
        if m[i] > r:
            r = m[i]
    return r


cdef Py_ssize_t sum_of(const Py_ssize_t *v, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t r = 0, i
    for i in range(n):
        r += v[i]
    return r


cdef int half_row_split(bint lg, bint bf16, const uint16_t *x, uint16_t *y, Py_ssize_t n,
                        float sc, float *buf, int nt) noexcept nogil:
    """One long 16-bit row cut into BLOCK-sized blocks that nt threads share, through the ISA's
    16-bit passes: the same arithmetic, chunk for chunk, as its whole-row kernel, so the bits
    do not depend on the thread count. Returns -1 when out of memory."""
    cdef Py_ssize_t nb = (n + BLOCK - 1) // BLOCK, nc = (n + SF_HALF_CHUNK - 1) // SF_HALF_CHUNK
    cdef Py_ssize_t b, lo, ln
    cdef float *maxes = <float *> malloc(nb * sizeof(float))
    cdef Py_ssize_t *ones = <Py_ssize_t *> calloc(nb, sizeof(Py_ssize_t))
    cdef double *sums = <double *> malloc(nc * sizeof(double))
    cdef float m = 0   # set in the parallel region (initialised: firstprivate)
    cdef double total = 0, rest = 0, c = 0
    if maxes == NULL or ones == NULL or sums == NULL:
        free(maxes)
        free(ones)
        free(sums)
        return -1
    with parallel(num_threads=nt):
        for b in prange(nb, schedule='static'):
            lo = b * BLOCK
            ln = min(BLOCK, n - lo)
            maxes[b] = K.half.load_max(x + lo, buf + lo, ln, sc, bf16)
        sf_omp_barrier()   # prange inside parallel() ends with nowait
        m = max_of(maxes, nb)   # every thread: the same value
        for b in prange(nb, schedule='static'):
            lo = b * BLOCK
            ln = min(BLOCK, n - lo)
            K.half.expsum_chunks(buf + lo, ln, m, not lg, bf16, sums + lo // SF_HALF_CHUNK,
                                 &ones[b])
        sf_omp_barrier()
        total = K.half.sum_chunks(sums, nc, sum_of(ones, nb), &rest)
        c = log1p(rest) if lg else total   # the write pass takes what it needs of it
        for b in prange(nb, schedule='static'):
            lo = b * BLOCK
            ln = min(BLOCK, n - lo)
            K.half.write(buf + lo, y + lo, ln, bf16, lg, m, c)
    free(maxes)
    free(ones)
    free(sums)
    return 0


cdef int half_row(bint lg, int algo, bint bf16, const uint16_t *x, uint16_t *y, Py_ssize_t n,
                  float sc, float *buf, int nt, const uint16_t *next) noexcept nogil:
    """softmax (log_softmax) of one contiguous 16-bit row through the float32 buffer `buf`;
    `next` (or NULL): the row this thread does next, prefetched meanwhile."""
    cdef int rc
    if algo == SF_THREE_PASS and K.half.softmax_row != NULL:
        # the ISA's own 16-bit kernel: converts in registers (buf: scale * x where it needs it)
        if nt > 1:
            return half_row_split(lg, bf16, x, y, n, sc, buf, nt)
        K.half.softmax_row(x, y, n, sc, bf16, lg, buf, next)
        return 0
    half_to_f32_par(bf16, x, buf, n, nt)
    rc = one_row(lg, algo, <const float *> buf, 1, buf, 1, n, sc, <float *> NULL, nt, False,
                 <const float *> NULL)
    f32_to_half_par(bf16, buf, y, n, nt)
    return rc


cdef int run_half_softmax(bint lg, int algo, bint bf16, const uint16_t *x0, uint16_t *y0,
                          Py_ssize_t O, Py_ssize_t N, Py_ssize_t I, Py_ssize_t xs0, Py_ssize_t xs2,
                          Py_ssize_t ys0, Py_ssize_t ys2, float sc, int num_threads) noexcept nogil:
    cdef Py_ssize_t R = O * I, r
    cdef int nt, rc = 0
    cdef int err = 0
    cdef int *errp = &err
    cdef float *buf = NULL
    if N >= SPLIT_MIN and R < num_threads:
        # few long rows: the threads share the blocks of each row in turn
        nt = plan_threads(N, (N + BLOCK - 1) // BLOCK, num_threads)
        buf = <float *> sf_scratch_get(N * sizeof(float))
        if buf == NULL:
            return 1
        for r in range(R):
            rc = half_row(lg, algo, bf16, half_row_at(x0, r, I, xs0, xs2),
                          half_row_at(y0, r, I, ys0, ys2), N, sc, buf, nt, <const uint16_t *> NULL)
            if rc != 0:
                break
        sf_scratch_release(buf)
        return rc != 0
    nt = plan_threads(R * N, R, num_threads)
    with parallel(num_threads=nt):
        buf = <float *> sf_scratch_get(N * sizeof(float))
        if buf == NULL:
            errp[0] = 1
        for r in prange(R, schedule='static'):
            if buf != NULL:
                # static schedule: a thread's rows are consecutive, r + 1 is its next
                if half_row(lg, algo, bf16, half_row_at(x0, r, I, xs0, xs2),
                            half_row_at(y0, r, I, ys0, ys2), N, sc, buf, 1,
                            half_row_at(x0, r + 1, I, xs0, xs2) if r + 1 < R
                            else <uint16_t *> NULL) != 0:
                    errp[0] = 1
        sf_scratch_release(buf)
    return err != 0


def softmax_half_3d(const uint16_t[:, :, :] x, uint16_t[:, :, :] y, bint bf16, bint log_out,
                    int algorithm, double scale, int num_threads):
    """softmax (log_softmax) along axis 1 of a non-empty 3-D view of float16 (bfloat16 when
    `bf16`) values seen as uint16, contiguous along axis 1 (x and y), into `y` (same dtype)."""
    cdef int rc
    if x.shape[1] > 1 and (x.strides[1] != 2 or y.strides[1] != 2):
        raise ValueError("softmax_half_3d: the reduced axis must be contiguous")
    with nogil:
        rc = run_half_softmax(log_out, algorithm, bf16, &x[0, 0, 0], &y[0, 0, 0],
                              x.shape[0], x.shape[1], x.shape[2], x.strides[0] // 2,
                              x.strides[2] // 2, y.strides[0] // 2, y.strides[2] // 2,
                              <float> scale, num_threads)
    if rc != 0:
        raise MemoryError("softmax_fast: out of memory for a row buffer")


cdef int run_half_logsumexp(bint bf16, const uint16_t *x0, float *out0, Py_ssize_t O,
                            Py_ssize_t N, Py_ssize_t I, Py_ssize_t xs0, Py_ssize_t xs2,
                            Py_ssize_t os0, Py_ssize_t os1, float sc, int num_threads) noexcept nogil:
    cdef Py_ssize_t R = O * I, r
    cdef int nt
    cdef int err = 0
    cdef int *errp = &err
    cdef float *buf = NULL
    cdef const uint16_t *xr
    cdef sf_partial p
    if N >= SPLIT_MIN and R < num_threads:
        nt = plan_threads(N, (N + BLOCK - 1) // BLOCK, num_threads)
        buf = <float *> sf_scratch_get(N * sizeof(float))
        if buf == NULL:
            return 1
        for r in range(R):
            xr = half_row_at(x0, r, I, xs0, xs2)
            half_to_f32_par(bf16, xr, buf, N, nt)
            p = blocked_partial(<const float *> buf, N, sc, nt, <const float *> NULL)
            if p.sum == -1.0:
                err = 1
                break
            out0[(r // I) * os0 + (r % I) * os1] = <float> k_lse_finish(<const float *> buf, N, 1, sc, p)
        sf_scratch_release(buf)
        return err
    nt = plan_threads(R * N, R, num_threads)
    with parallel(num_threads=nt):
        buf = <float *> sf_scratch_get(N * sizeof(float))
        if buf == NULL:
            errp[0] = 1
        for r in prange(R, schedule='static'):
            if buf != NULL:
                xr = half_row_at(x0, r, I, xs0, xs2)
                half_to_f32(bf16, xr, buf, N)
                p = blocked_partial(<const float *> buf, N, sc, 1, <const float *> NULL)
                if p.sum == -1.0:
                    errp[0] = 1
                else:
                    out0[(r // I) * os0 + (r % I) * os1] = <float> k_lse_finish(
                        <const float *> buf, N, 1, sc, p)
        sf_scratch_release(buf)
    return err != 0


def logsumexp_half_3d(const uint16_t[:, :, :] x, float[:, :] out, bint bf16, double scale,
                      int num_threads):
    """logsumexp along axis 1 of a non-empty 3-D view of float16 (bfloat16) values seen as
    uint16, contiguous along axis 1, into the float32 2-D `out` (outer, inner)."""
    cdef int rc
    if x.shape[1] > 1 and x.strides[1] != 2:
        raise ValueError("logsumexp_half_3d: the reduced axis must be contiguous")
    with nogil:
        rc = run_half_logsumexp(bf16, &x[0, 0, 0], &out[0, 0], x.shape[0], x.shape[1],
                                x.shape[2], x.strides[0] // 2, x.strides[2] // 2,
                                out.strides[0] // 4, out.strides[1] // 4, <float> scale,
                                num_threads)
    if rc != 0:
        raise MemoryError("softmax_fast: out of memory for a row buffer")


def half_to_float32(const uint16_t[::1] x, float[::1] y, bint bf16):
    """The kernel table's conversion of 16-bit patterns to float32 (tests check it bit by bit)."""
    with nogil:
        half_to_f32(bf16, &x[0], &y[0], x.shape[0])


def float32_to_half(const float[::1] x, uint16_t[::1] y, bint bf16):
    """The kernel table's conversion of float32 to 16-bit patterns (round to nearest even)."""
    with nogil:
        f32_to_half(bf16, &x[0], &y[0], x.shape[0])
