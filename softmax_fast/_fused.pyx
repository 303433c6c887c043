# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, cpow=True
"""Fused operations: what follows a softmax, computed from the core's row reductions without
writing the probabilities (a second pass over the row, if any, reads it from cache).

cross entropy, top-k of the softmax, the two backward passes and the softmax of ragged segments.
Every row reduction goes through _core (cimported from _core.pxd): its kernel table, so that
`_core.select_isa` switches these functions too, and its row plan (fixed blocks for long rows),
so that the results keep the core's accuracy and special values and do not depend on the
thread count. Arrays arrive from `_api.py` as C-contiguous (rows, n) views in the compute dtype.

Rows are handed to threads by guided scheduling: each row is computed by one thread alone, so
the result does not depend on the schedule, and on a shared machine a thread that the OS
preempts does not hold back a fixed share of the rows.
"""
from cython.parallel cimport prange, parallel
from libc.stdlib cimport malloc, free, qsort
from libc.math cimport exp, log1p, isfinite, INFINITY, NAN
from libc.stdint cimport int64_t

cimport numpy as cnp
import numpy as np

from softmax_fast._core cimport (sf_partial, floating, kernel_table, blocked_partial,
                                 refined_partial, one_row,
                                 row_logsumexp_finish, fast_threads, fast_out, fast_layout,
                                 fast_float, fast_result)
from softmax_fast import _core

cnp.import_array()

# Only the fields of the kernel table read here; the C compiler sees the full struct.
cdef extern from "softmax_fast.h" nogil:
    ctypedef void (*f32_write_fn)(const float *, float *, Py_ssize_t, float, double, double,
                                  double, int) noexcept nogil
    ctypedef void (*f64_write_fn)(const double *, double *, Py_ssize_t, double, double, double,
                                  double, int) noexcept nogil
    ctypedef struct sf_f32_kernels:
        f32_write_fn write_softmax
    ctypedef struct sf_f64_kernels:
        f64_write_fn write_softmax
    ctypedef struct sf_kernels:
        sf_f32_kernels f32
        sf_f64_kernels f64

# The core's thread plan (see _core's module docstring).
cdef Py_ssize_t SPLIT_MIN = _core.SPLIT_MIN_
cdef Py_ssize_t PARALLEL_MIN = _core.PARALLEL_MIN_
cdef Py_ssize_t BLOCK = _core.BLOCK_
cdef enum:
    # exp(y) of log_softmax_backward is computed by the write kernel in chunks of this many
    # elements into a stack buffer: `out` may then be `grad` or `y` itself
    EXP_CHUNK = 512
    # softmax_topk screens the elements in groups of this many: one compare each, vectorized,
    # and a scalar look only into a group holding a new candidate
    SCREEN = 16


cdef inline int plan_threads(Py_ssize_t total, Py_ssize_t tasks, int nt) noexcept nogil:
    if total < PARALLEL_MIN or tasks < 2:
        return 1
    return <int> min(<Py_ssize_t> nt, tasks)


cdef inline bint finite_partial(sf_partial p) noexcept nogil:
    return isfinite(p.max) and isfinite(p.sum)


# ---------------------------------------------------------------------------------------------
# accurate sums (DESIGN section 6): float32 terms are exact in double (products too) and summed
# in four double accumulators, whose rounding stays far below float32's for any practical row
# length; float64 terms are summed with Neumaier's compensation, whose error does not grow with
# the row length

cdef inline void neumaier_add(double *s, double *c, double v) noexcept nogil:
    cdef double t = s[0] + v
    if abs(s[0]) >= abs(v):
        c[0] += (s[0] - t) + v
    else:
        c[0] += (v - t) + s[0]
    s[0] = t


cdef inline double neumaier_total(double s, double c) noexcept nogil:
    """The compensated sum's value. An infinite (or NaN) running sum is the answer itself: the
    compensation of an infinity is inf - inf = NaN."""
    return s + c if isfinite(s) else s


cdef double sum_of(const floating *a, const floating *b, Py_ssize_t n) noexcept nogil:
    """sum(a * b), or sum(a) when b is NULL."""
    cdef Py_ssize_t i
    cdef double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0, c = 0.0
    if floating is float:
        i = 0
        if b == NULL:
            while i + 4 <= n:
                s0 += <double> a[i]
                s1 += <double> a[i + 1]
                s2 += <double> a[i + 2]
                s3 += <double> a[i + 3]
                i += 4
            while i < n:
                s0 += <double> a[i]
                i += 1
        else:
            while i + 4 <= n:
                s0 += <double> a[i] * <double> b[i]
                s1 += <double> a[i + 1] * <double> b[i + 1]
                s2 += <double> a[i + 2] * <double> b[i + 2]
                s3 += <double> a[i + 3] * <double> b[i + 3]
                i += 4
            while i < n:
                s0 += <double> a[i] * <double> b[i]
                i += 1
        return (s0 + s1) + (s2 + s3)
    else:
        if b == NULL:
            for i in range(n):
                neumaier_add(&s0, &c, a[i])
        else:
            for i in range(n):
                neumaier_add(&s0, &c, a[i] * b[i])
        return neumaier_total(s0, c)


cdef void weighted_gaps(const floating *t, const floating *x, Py_ssize_t n, double m,
                        double smooth_w, double smooth_c, double *weight,
                        double *total) noexcept nogil:
    """weight = sum(t'), total = sum(t' * (m - x)) with t' = smooth_w * t + smooth_c (the
    smoothed class probabilities), summed as sum_of does (float32: four float64 accumulators
    each, the loop is latency-bound otherwise)."""
    cdef Py_ssize_t i = 0, j
    cdef double w, ws = 0.0, wc = 0.0, ts = 0.0, tc = 0.0
    cdef double wa[4]
    cdef double ta[4]
    if floating is float:
        for j in range(4):
            wa[j] = 0.0
            ta[j] = 0.0
        while i + 4 <= n:
            for j in range(4):
                w = smooth_w * t[i + j] + smooth_c
                wa[j] += w
                ta[j] += w * (m - x[i + j])
            i += 4
        while i < n:
            w = smooth_w * t[i] + smooth_c
            wa[0] += w
            ta[0] += w * (m - x[i])
            i += 1
        weight[0] = (wa[0] + wa[1]) + (wa[2] + wa[3])
        total[0] = (ta[0] + ta[1]) + (ta[2] + ta[3])
    else:
        for i in range(n):
            w = smooth_w * t[i] + smooth_c
            neumaier_add(&ws, &wc, w)
            neumaier_add(&ts, &tc, w * (m - x[i]))
        weight[0] = neumaier_total(ws, wc)
        total[0] = neumaier_total(ts, tc)


# ---------------------------------------------------------------------------------------------
# cross entropy

cdef double ce_index_row(const floating *x, Py_ssize_t n, int64_t t, double eps, int nt,
                         const floating *next) noexcept nogil:
    """(1 - eps) * (lse - x[t]) + eps * (lse - mean(x)) of one row, lse = m + log1p(rest): the
    gap m - x[t] is taken before adding log(sum), so no cancellation against lse."""
    cdef sf_partial p = blocked_partial(x, n, <floating> 1.0, nt, next)
    cdef double xt = x[t], lse, L, nll, smooth = 0.0
    if finite_partial(p):
        p = refined_partial(x, n, <floating> 1.0, p)   # -log_softmax's accuracy at the max
        L = log1p(p.rest)
        nll = (p.max - xt) + L
        if eps != 0.0:
            smooth = (p.max - sum_of(x, <floating *> NULL, n) / n) + L
    else:   # NaN, +inf or only -inf: log_softmax is all NaN (DESIGN section 3), so is the loss
        lse = row_logsumexp_finish(x, n, 1, <floating> 1.0, p)
        if lse == INFINITY:
            return NAN
        nll = lse - xt     # NaN for NaN and for only -inf (-inf - -inf)
        if eps != 0.0:
            smooth = lse - sum_of(x, <floating *> NULL, n) / n
    if eps == 0.0:
        return nll
    return (1.0 - eps) * nll + eps * smooth


cdef double ce_probs_row(const floating *x, const floating *t, Py_ssize_t n, double eps, int nt,
                         const floating *next) noexcept nogil:
    """sum(t' * (lse - x)) with t' = (1 - eps) t + eps / n, as sum(t' (m - x)) + sum(t') L."""
    cdef sf_partial p = blocked_partial(x, n, <floating> 1.0, nt, next)
    cdef double weight, total, m
    if finite_partial(p):
        p = refined_partial(x, n, <floating> 1.0, p)
        weighted_gaps(t, x, n, p.max, 1.0 - eps, eps / n, &weight, &total)
        return total + weight * log1p(p.rest)
    m = row_logsumexp_finish(x, n, 1, <floating> 1.0, p)
    if m == INFINITY:   # a slice holding +inf: log_softmax is all NaN (DESIGN section 3)
        return NAN
    weighted_gaps(t, x, n, m, 1.0 - eps, eps / n, &weight, &total)
    return total


cdef void ce_index_rows(const floating *x0, Py_ssize_t R, Py_ssize_t n, const int64_t *target,
                        double *loss, bint has_ignore, int64_t ignore_index, double eps,
                        int num_threads) noexcept nogil:
    """loss[r] = the cross entropy of row r of the (R, n) x0 (n >= 1 classes) with class
    target[r]; 0 for rows whose target is ignore_index (when has_ignore)."""
    cdef Py_ssize_t r
    cdef int nt
    if n >= SPLIT_MIN and R < num_threads:   # few long rows: threads share each row's blocks
        nt = plan_threads(n, (n + BLOCK - 1) // BLOCK, num_threads)
        for r in range(R):
            if has_ignore and target[r] == ignore_index:
                loss[r] = 0.0
            else:
                loss[r] = ce_index_row(x0 + r * n, n, target[r], eps, nt, NULL)
    else:
        nt = plan_threads(R * n, R, num_threads)
        for r in prange(R, num_threads=nt, schedule='guided'):
            if has_ignore and target[r] == ignore_index:
                loss[r] = 0.0
            else:
                loss[r] = ce_index_row(x0 + r * n, n, target[r], eps, 1,
                                       x0 + (r + 1) * n if r + 1 < R else NULL)


def cross_entropy_index(const floating[:, ::1] x, const int64_t[::1] target, double[::1] loss,
                        bint has_ignore, int64_t ignore_index, double eps, int num_threads):
    """loss[r] = the cross entropy of row r of x (n >= 1 classes) with class target[r]; 0 for
    rows whose target is ignore_index (when has_ignore). Targets were checked by the caller."""
    with nogil:
        ce_index_rows(&x[0, 0], x.shape[0], x.shape[1], &target[0], &loss[0], has_ignore,
                      ignore_index, eps, num_threads)


cdef double total_of(const double *a, Py_ssize_t n) noexcept nogil:
    """The sum of n doubles, compensated (Neumaier): cross_entropy's "sum" and "mean"."""
    cdef double s = 0.0, c = 0.0
    cdef Py_ssize_t i
    for i in range(n):
        neumaier_add(&s, &c, a[i])
    return neumaier_total(s, c)


def loss_total(const double[::1] loss):
    """The sum of the losses, compensated (Neumaier), as cross_entropy's fast path takes it."""
    return total_of(&loss[0], loss.shape[0]) if loss.shape[0] else 0.0


def cross_entropy_fast(logits, target, axis, reduction, ignore_index, label_smoothing,
                       num_threads):
    """cross_entropy's common call, judged and computed here: C-contiguous, aligned, native
    float32/float64 logits (not empty) with the class axis last (a Python int), int64 class
    indices shaped as the other axes (C-contiguous, all in range or ignore_index), reduction
    a str, ignore_index None or a Python int, label_smoothing a Python float or int in [0, 1],
    num_threads as for the core's fast path. Returns the result (the full path's, bit for
    bit), or None: the call takes the full path, which checks and explains every argument."""
    cdef cnp.ndarray x, t, loss, res
    cdef int nd, d, typ, nt, red
    cdef Py_ssize_t n, R, r, ignored = 0
    cdef int64_t ign = 0, v
    cdef bint has_ignore = ignore_index is not None
    cdef double eps, total
    cdef const int64_t *tg
    cdef double *lp
    cdef float *rp
    typ = fast_float(logits)
    if typ == 0 or type(target) is not cnp.ndarray or type(axis) is not int:
        return None
    x = <cnp.ndarray> logits
    t = <cnp.ndarray> target
    nd = cnp.PyArray_NDIM(x)
    if not (axis == -1 or axis == nd - 1):
        return None
    if (cnp.PyArray_TYPE(t) != cnp.NPY_INT64 or not fast_layout(t)
            or cnp.PyArray_NDIM(t) != nd - 1):
        return None
    for d in range(nd - 1):
        if cnp.PyArray_DIM(t, d) != cnp.PyArray_DIM(x, d):
            return None
    if type(reduction) is not str:
        return None
    red = 0 if reduction == "none" else 1 if reduction == "sum" else 2 if reduction == "mean" else -1
    if red < 0:
        return None
    if has_ignore:
        if type(ignore_index) is not int or not -2**63 <= ignore_index < 2**63:
            return None
        ign = ignore_index
    if type(label_smoothing) is not float and type(label_smoothing) is not int:
        return None
    eps = label_smoothing
    if not 0.0 <= eps <= 1.0:
        return None
    nt = fast_threads(num_threads)
    if nt == 0:
        return None
    n = cnp.PyArray_DIM(x, nd - 1)
    R = cnp.PyArray_SIZE(x) // n
    tg = <const int64_t *> cnp.PyArray_DATA(t)
    for r in range(R):   # an index out of range: the full path says which and where
        v = tg[r]
        if has_ignore and v == ign:
            ignored += 1
        elif v < 0 or v >= n:
            return None
    loss = cnp.PyArray_EMPTY(nd - 1, cnp.PyArray_DIMS(x), cnp.NPY_FLOAT64, 0)
    lp = <double *> cnp.PyArray_DATA(loss)
    if ignored < R:
        if typ == cnp.NPY_FLOAT32:
            with nogil:
                ce_index_rows(<const float *> cnp.PyArray_DATA(x), R, n, tg, lp, has_ignore, ign,
                              eps, nt)
        else:
            with nogil:
                ce_index_rows(<const double *> cnp.PyArray_DATA(x), R, n, tg, lp, has_ignore,
                              ign, eps, nt)
    else:
        for r in range(R):
            lp[r] = 0.0
    if red == 0:
        if typ == cnp.NPY_FLOAT64:
            return loss if nd > 1 else loss[()]
        res = cnp.PyArray_EMPTY(nd - 1, cnp.PyArray_DIMS(x), cnp.NPY_FLOAT32, 0)
        rp = <float *> cnp.PyArray_DATA(res)
        for r in range(R):
            rp[r] = <float> lp[r]
        return res if nd > 1 else res[()]
    total = total_of(lp, R)
    if red == 2:
        total = total / (R - ignored) if ignored < R else NAN
    return np.float64(total) if typ == cnp.NPY_FLOAT64 else np.float32(total)


def cross_entropy_probs(const floating[:, ::1] x, const floating[:, ::1] target,
                        double[::1] loss, double eps, int num_threads):
    """loss[r] = the cross entropy of row r of x (n >= 1 classes) with the class probabilities
    of row r of target, smoothed by eps."""
    cdef Py_ssize_t R = x.shape[0], n = x.shape[1], r
    cdef int nt
    cdef const floating *x0 = &x[0, 0]
    cdef const floating *t0 = &target[0, 0]
    with nogil:
        if n >= SPLIT_MIN and R < num_threads:
            nt = plan_threads(n, (n + BLOCK - 1) // BLOCK, num_threads)
            for r in range(R):
                loss[r] = ce_probs_row(x0 + r * n, t0 + r * n, n, eps, nt, NULL)
        else:
            nt = plan_threads(R * n, R, num_threads)
            for r in prange(R, num_threads=nt, schedule='guided'):
                loss[r] = ce_probs_row(x0 + r * n, t0 + r * n, n, eps, 1,
                                       x0 + (r + 1) * n if r + 1 < R else NULL)


# ---------------------------------------------------------------------------------------------
# top-k of the softmax

ctypedef struct candidate:
    double v        # the scaled logit (exact: a float or double widened)
    Py_ssize_t i    # its index in the row


cdef inline bint ranks_below(candidate a, candidate b) noexcept nogil:
    """a comes after b in the output: a smaller logit, or an equal one at a higher index. NaN
    ranks above everything (its probability is NaN, as the whole row's is)."""
    cdef bint an = a.v != a.v, bn = b.v != b.v
    if an or bn:
        return (a.i > b.i) if (an and bn) else bn
    if a.v != b.v:
        return a.v < b.v
    return a.i > b.i


cdef inline void sift_down(candidate *h, Py_ssize_t k, Py_ssize_t pos) noexcept nogil:
    """Restore the heap below `pos`: every parent ranks below its children, so h[0] is the
    weakest of the k candidates kept."""
    cdef Py_ssize_t child
    cdef candidate item = h[pos]
    while True:
        child = 2 * pos + 1
        if child >= k:
            break
        if child + 1 < k and ranks_below(h[child + 1], h[child]):
            child += 1
        if not ranks_below(h[child], item):
            break
        h[pos] = h[child]
        pos = child
    h[pos] = item


cdef int best_first(const void *a, const void *b) noexcept nogil:
    cdef candidate ca = (<const candidate *> a)[0], cb = (<const candidate *> b)[0]
    if ranks_below(cb, ca):
        return -1
    if ranks_below(ca, cb):
        return 1
    return 0


cdef extern from "topk_screen.h" nogil:
    int sf_f32_any_above16(const float *x, float scale, float thr)
    int sf_f64_any_above16(const double *x, double scale, double thr)


cdef inline int screen_hits(const floating *x, floating sc, floating thr) noexcept nogil:
    """Nonzero when any of x[0:SCREEN] scaled beats thr."""
    if floating is float:
        return sf_f32_any_above16(x, sc, thr)
    else:
        return sf_f64_any_above16(x, sc, thr)


cdef void select_topk(const floating *x, Py_ssize_t n, floating sc, Py_ssize_t k, bint exact_order,
                      candidate *h) noexcept nogil:
    """The k best (logit, index) of a row into h, best first. Scanning in index order, a later
    element enters only with a strictly larger logit than the weakest kept (an equal one would
    rank below it): the screen is one compare per element. `exact_order`: the row may hold NaN,
    which the compare cannot see; every element then goes through ranks_below."""
    cdef Py_ssize_t j, q, i
    cdef floating thr, v
    cdef candidate c
    for j in range(k):
        h[j].v = <floating> (sc * x[j])
        h[j].i = j
    j = k // 2
    while j > 0:
        j -= 1
        sift_down(h, k, j)
    if exact_order:
        for j in range(k, n):
            c.v = <floating> (sc * x[j])
            c.i = j
            if ranks_below(h[0], c):
                h[0] = c
                sift_down(h, k, 0)
    else:
        thr = <floating> h[0].v
        i = k
        while i + SCREEN <= n:
            if screen_hits(x + i, sc, thr):
                for q in range(SCREEN):
                    v = <floating> (sc * x[i + q])
                    if v > thr:
                        h[0].v = v
                        h[0].i = i + q
                        sift_down(h, k, 0)
                        thr = <floating> h[0].v
            i += SCREEN
        while i < n:
            v = <floating> (sc * x[i])
            if v > thr:
                h[0].v = v
                h[0].i = i
                sift_down(h, k, 0)
                thr = <floating> h[0].v
            i += 1
    qsort(h, k, sizeof(candidate), best_first)


cdef void topk_row(const floating *x, Py_ssize_t n, floating sc, Py_ssize_t k, floating *values,
                   int64_t *indices, candidate *h, int nt, const floating *next) noexcept nogil:
    """values = the k largest probabilities, exp(v - max) / sum from the core's (max, sum) of
    the row, computed in double for the k winners only; NaN for a row holding NaN or +inf or
    only -inf (DESIGN section 3)."""
    cdef sf_partial p = blocked_partial(x, n, sc, nt, next)
    cdef bint finite = finite_partial(p)
    cdef Py_ssize_t j
    select_topk(x, n, sc, k, not finite, h)
    for j in range(k):
        indices[j] = h[j].i
        values[j] = <floating> (exp(h[j].v - p.max) / p.sum) if finite else <floating> NAN


cdef int topk_rows_of(const floating *x0, Py_ssize_t R, Py_ssize_t n, floating sc, floating *v0,
                      int64_t *i0, Py_ssize_t k, int num_threads) noexcept nogil:
    """topk_rows on pointers: R rows of n; nonzero when out of memory."""
    cdef Py_ssize_t r
    cdef candidate *h = NULL
    cdef int nt, row_nt = 1, err = 0
    cdef int *errp = &err
    if n >= SPLIT_MIN and R < num_threads:   # few long rows: threads share each row's blocks
        row_nt = plan_threads(n, (n + BLOCK - 1) // BLOCK, num_threads)
        nt = 1
    else:
        nt = plan_threads(R * n, R, num_threads)
    if nt == 1:   # rows in turn; no parallel region (its fork/join costs more than small inputs)
        h = <candidate *> malloc(k * sizeof(candidate))
        if h == NULL:
            return 1
        for r in range(R):
            topk_row(x0 + r * n, n, sc, k, v0 + r * k, i0 + r * k, h, row_nt,
                     x0 + (r + 1) * n if r + 1 < R and row_nt == 1 else NULL)
        free(h)
        return 0
    with parallel(num_threads=nt):
        h = <candidate *> malloc(k * sizeof(candidate))
        if h == NULL:
            errp[0] = 1
        for r in prange(R, schedule='guided'):
            if h != NULL:
                topk_row(x0 + r * n, n, sc, k, v0 + r * k, i0 + r * k, h, 1,
                         x0 + (r + 1) * n if r + 1 < R else NULL)
        free(h)
    return err


def topk_rows(const floating[:, ::1] x, floating[:, ::1] values, int64_t[:, ::1] indices,
              double scale, int num_threads):
    """The k = values.shape[1] (1 <= k <= n) largest softmax probabilities of each row of
    scale * x and their indices, best first (ties: lower index first)."""
    cdef int err
    with nogil:
        err = topk_rows_of(&x[0, 0], x.shape[0], x.shape[1], <floating> scale, &values[0, 0],
                           &indices[0, 0], values.shape[1], num_threads)
    if err:
        raise MemoryError("softmax_fast: out of memory for the top-k candidates")


def topk_fast(x, k, axis, scale, where, num_threads):
    """softmax_topk's common call, computed here: an ndarray `x` (at least 1-D, not empty,
    C-contiguous, aligned, native float32 or float64) along its last axis (a Python int), k a
    Python int in 1..n, scale None or a finite Python float, no where=, num_threads as for the
    core's fast path. Returns (values, indices), or None: the call takes the full path."""
    cdef cnp.ndarray a, values, indices
    cdef int nd, t, nt, err, d
    cdef Py_ssize_t n, kk
    cdef double sc = 1.0
    cdef cnp.npy_intp dims[64]
    t = fast_float(x)
    if t == 0 or type(axis) is not int or type(k) is not int:
        return None
    if where is not None:
        return None
    if scale is not None:
        if type(scale) is not float or not isfinite(scale):
            return None
        sc = scale
    a = <cnp.ndarray> x
    nd = cnp.PyArray_NDIM(a)
    if not (axis == -1 or axis == nd - 1):
        return None
    n = cnp.PyArray_DIM(a, nd - 1)
    if not 1 <= k <= n:
        return None
    kk = k
    nt = fast_threads(num_threads)
    if nt == 0:
        return None
    for d in range(nd - 1):
        dims[d] = cnp.PyArray_DIM(a, d)
    dims[nd - 1] = kk
    values = cnp.PyArray_EMPTY(nd, dims, t, 0)
    indices = cnp.PyArray_EMPTY(nd, dims, cnp.NPY_INT64, 0)
    if t == cnp.NPY_FLOAT32:
        with nogil:
            err = topk_rows_of(<const float *> cnp.PyArray_DATA(a), cnp.PyArray_SIZE(a) // n, n,
                               <float> sc, <float *> cnp.PyArray_DATA(values),
                               <int64_t *> cnp.PyArray_DATA(indices), kk, nt)
    else:
        with nogil:
            err = topk_rows_of(<const double *> cnp.PyArray_DATA(a), cnp.PyArray_SIZE(a) // n, n,
                               sc, <double *> cnp.PyArray_DATA(values),
                               <int64_t *> cnp.PyArray_DATA(indices), kk, nt)
    if err:
        raise MemoryError("softmax_fast: out of memory for the top-k candidates")
    return values, indices



# ---------------------------------------------------------------------------------------------
# backward passes

cdef void softmax_backward_row(const floating *g, const floating *y, floating *out,
                               Py_ssize_t n) noexcept nogil:
    """out = y * (g - sum(g * y)); out may be g or y (each element is read before written)."""
    cdef double s = sum_of(g, y, n)
    cdef Py_ssize_t i
    for i in range(n):
        if floating is float:
            out[i] = <float> (<double> y[i] * (<double> g[i] - s))
        else:
            out[i] = y[i] * (g[i] - s)


cdef void log_softmax_backward_row(const floating *g, const floating *y, floating *out,
                                   Py_ssize_t n) noexcept nogil:
    """out = g - exp(y) * sum(g). exp(y - max(y)) comes from the softmax write kernel (SIMD, the
    core's exp) chunk by chunk, times sum(g) * exp(max(y)); a row whose y holds NaN or +inf, or
    only -inf, takes libm's exp element by element instead."""
    cdef double s = sum_of(g, <floating *> NULL, n), m = -INFINITY, f
    cdef Py_ssize_t i, j, ln
    cdef bint nan = False
    cdef floating e[EXP_CHUNK]
    cdef const sf_kernels *K = <const sf_kernels *> kernel_table()
    for i in range(n):
        nan = nan | (y[i] != y[i])
        if y[i] > m:
            m = y[i]
    if nan or not isfinite(m):
        for i in range(n):
            out[i] = <floating> (<double> g[i] - exp(<double> y[i]) * s)
        return
    f = s * exp(m)
    j = 0
    while j < n:
        ln = min(<Py_ssize_t> EXP_CHUNK, n - j)
        if floating is float:
            K.f32.write_softmax(y + j, e, ln, 1.0, m, 1.0, 0.0, 0)
        else:
            K.f64.write_softmax(y + j, e, ln, 1.0, m, 1.0, 0.0, 0)
        for i in range(ln):
            out[j + i] = <floating> (<double> g[j + i] - <double> e[i] * f)
        j += ln


cdef void backward_rows_of(const floating *g0, const floating *y0, floating *o0, Py_ssize_t R,
                           Py_ssize_t n, bint log_out, int num_threads) noexcept nogil:
    cdef Py_ssize_t r
    cdef int nt = plan_threads(R * n, R, num_threads)
    for r in prange(R, num_threads=nt, schedule='guided'):
        if log_out:
            log_softmax_backward_row(g0 + r * n, y0 + r * n, o0 + r * n, n)
        else:
            softmax_backward_row(g0 + r * n, y0 + r * n, o0 + r * n, n)


def backward_rows(const floating[:, ::1] grad, const floating[:, ::1] y, floating[:, ::1] out,
                  bint log_out, int num_threads):
    """softmax_backward (log_out False) or log_softmax_backward of each row into out, which
    may be grad or y itself."""
    with nogil:
        backward_rows_of(&grad[0, 0], &y[0, 0], &out[0, 0], grad.shape[0], grad.shape[1],
                         log_out, num_threads)


def backward_fast(grad, y, axis, out, bint log_out, num_threads):
    """softmax_backward's / log_softmax_backward's common call, computed here: `grad` and `y`
    ndarrays of one shape (at least 1-D, not empty) and dtype (float32 or float64),
    C-contiguous, aligned, native, along the last axis (a Python int); `out` None or an ndarray
    of that shape and dtype that is grad, y, or overlaps neither; num_threads as for the core's
    fast path. Returns the result, or None: the call takes the full path."""
    cdef cnp.ndarray g, yy, res
    cdef int nd, t = fast_float(grad), d, nt
    cdef Py_ssize_t n
    if t == 0 or fast_float(y) != t or type(axis) is not int:
        return None
    g = <cnp.ndarray> grad
    yy = <cnp.ndarray> y
    nd = cnp.PyArray_NDIM(g)
    if cnp.PyArray_NDIM(yy) != nd or not (axis == -1 or axis == nd - 1):
        return None
    for d in range(nd):
        if cnp.PyArray_DIM(yy, d) != cnp.PyArray_DIM(g, d):
            return None
    if out is not None and not fast_out(out, yy):
        return None
    res = fast_result(out, g)
    if res is None:
        return None
    nt = fast_threads(num_threads)
    if nt == 0:
        return None
    n = cnp.PyArray_DIM(g, nd - 1)
    if t == cnp.NPY_FLOAT32:
        with nogil:
            backward_rows_of(<const float *> cnp.PyArray_DATA(g), <const float *> cnp.PyArray_DATA(yy),
                             <float *> cnp.PyArray_DATA(res), cnp.PyArray_SIZE(g) // n, n, log_out, nt)
    else:
        with nogil:
            backward_rows_of(<const double *> cnp.PyArray_DATA(g),
                             <const double *> cnp.PyArray_DATA(yy),
                             <double *> cnp.PyArray_DATA(res), cnp.PyArray_SIZE(g) // n, n,
                             log_out, nt)
    return res


# ---------------------------------------------------------------------------------------------
# ragged segments

def segment_rows(const floating[::1] x, floating[::1] y, const int64_t[::1] offsets,
                 bint log_out, int algorithm, double scale, int num_threads):
    """(log_)softmax of every segment x[offsets[s]:offsets[s + 1]] into y (which may be x), by
    the core's per-row path. Offsets were checked by the caller (0 first, len(x) last,
    non-decreasing). Short segments are spread over threads; segments long enough for the
    core's blocked plan run one after another, each on all threads."""
    cdef Py_ssize_t S = offsets.shape[0] - 1, s, lo, ln
    cdef floating sc = <floating> scale
    cdef const floating *x0 = &x[0]
    cdef floating *y0 = &y[0]
    cdef int nt = plan_threads(x.shape[0], S, num_threads), err = 0
    cdef int *errp = &err
    with nogil:
        for s in prange(S, num_threads=nt, schedule='guided'):
            lo = offsets[s]
            ln = offsets[s + 1] - lo
            if 0 < ln < SPLIT_MIN:
                if one_row(log_out, algorithm, x0 + lo, 1, y0 + lo, 1, ln, sc, <floating *> NULL,
                           1, False, <floating *> NULL) != 0:
                    errp[0] = 1
        for s in range(S):
            lo = offsets[s]
            ln = offsets[s + 1] - lo
            if ln >= SPLIT_MIN:
                if one_row(log_out, algorithm, x0 + lo, 1, y0 + lo, 1, ln, sc, <floating *> NULL,
                           num_threads, False, <floating *> NULL) != 0:
                    err = 1
    if err:
        raise MemoryError("softmax_fast: out of memory for a row buffer")
