# C-level API of _core for the package's other compiled modules (cimported by _fused).
#
# Every kernel call of the package goes through _core: its one kernel table `K` (chosen by
# select_isa(), which also switches these functions) and its row plan. The other modules do not
# link the C sources again: a second copy would carry a second dispatch state.

cimport numpy as cnp

cdef extern from "softmax_fast.h" nogil:
    ctypedef struct sf_partial:
        double max
        double sum
        double rest

ctypedef fused floating:
    float
    double

# the kernel table in use (a `const sf_kernels *`; the caller declares the fields it reads)
cdef const void *kernel_table() noexcept nogil

cdef sf_partial blocked_partial(const floating *x, Py_ssize_t n, floating sc, int nt,
                                const floating *next) noexcept nogil

# a whole contiguous row's partial with its rest taken again where log1p(rest) would show its
# error (the log_softmax of the row's max is -log1p(rest))
cdef sf_partial refined_partial(const floating *x, Py_ssize_t n, floating sc,
                                sf_partial p) noexcept nogil

cdef int one_row(bint lg, int algo, const floating *x, Py_ssize_t xs, floating *y, Py_ssize_t ys,
                 Py_ssize_t n, floating sc, floating *buf, int nt, bint stream,
                 const floating *next) noexcept nogil

cdef double row_logsumexp_finish(const floating *x, Py_ssize_t n, Py_ssize_t stride, floating sc,
                                 sf_partial p) noexcept nogil

# the fast path's num_threads: the count for None or an int in 1..max_threads, else 0
cdef int fast_threads(num_threads) except -1
# `out` an ndarray the fast path may write a result of `a`'s shape and dtype into
cdef bint fast_out(out, cnp.ndarray a) noexcept
# the type number of a float32/float64 ndarray the fast paths take as input, else 0
cdef int fast_float(x) noexcept
# a new array like `a` for out None, `out` when fast_out takes it, else None
cdef object fast_result(out, cnp.ndarray a)
# C-contiguous, aligned, native byte order
cdef bint fast_layout(cnp.ndarray a) noexcept
