"""softmax_fast: fast and accurate softmax, log_softmax and logsumexp for NumPy arrays on CPUs.

The kernel set (ISA level) is chosen once, at import, from the CPU; set the environment variable
``SOFTMAX_FAST_ISA`` (``scalar``, ``avx2``, ``avx512``) before importing to force one.
"""
from ._version import __version__
from . import _api

__all__ = ["softmax", "log_softmax", "logsumexp", "sigmoid", "log_sigmoid", "show_config",
           "__version__"]
__all__ += ["cross_entropy", "softmax_topk", "softmax_backward", "log_softmax_backward",
            "segment_softmax"]


def softmax(x, axis=-1, *, out=None, dtype=None, where=None, scale=None, algorithm="auto",
            num_threads=None):
    """Softmax along an axis: ``exp(x - max) / sum(exp(x - max))``, without temporaries.

    Parameters
    ----------
    x : array_like
        Input values (bool, integer or floating; integers and bool compute in float64).
    axis : int, tuple of int or None, default -1
        The axis (or axes, taken together) along which the result sums to 1. The default is the
        last axis, as in PyTorch, JAX and ONNX (``scipy.special.softmax`` uses ``None``).
    out : ndarray, optional
        Where to write the result: the result's shape and dtype, writable, not overlapping `x`
        except for ``out=x`` itself (in place). Any strides.
    dtype : dtype, optional
        Compute and result dtype; `x` is cast first (like ``torch.softmax(dtype=)``).
        float16 and bfloat16 compute in float32 and return their own dtype.
    where : array_like of bool, optional
        Broadcastable to `x`. Masked-out entries take no part and come out as 0; a fully masked
        slice comes out as all 0. A `numpy.ma.MaskedArray` input's mask acts the same way.
    scale : float, optional
        Finite factor applied to `x` first, without materialising ``scale * x``
        (temperature ``T`` is ``scale=1/T``).
    algorithm : {"auto", "three-pass", "two-pass", "online"}, default "auto"
        The reduction algorithm; "auto" picks by row length (see ``show_config()["auto"]``).
    num_threads : int, optional
        Threads to use (default: the OpenMP default, which follows ``OMP_NUM_THREADS`` and
        threadpoolctl). Results are bitwise identical for any thread count.

    Returns
    -------
    ndarray
        The probabilities, `x`'s shape. Slices holding NaN or +inf, or only -inf, are all NaN.

    Raises
    ------
    TypeError
        Complex, object or string input; `out` of the wrong type or dtype.
    ValueError
        Bad `out` shape or overlap, bad `where` shape, non-finite `scale`, unknown `algorithm`,
        ``num_threads < 1``.
    numpy.exceptions.AxisError
        `axis` out of range.

    Examples
    --------
    >>> import numpy as np, softmax_fast as sf
    >>> sf.softmax(np.array([1.0, 2.0, 3.0])).round(4)
    array([0.09  , 0.2447, 0.6652])
    """
    return _api.softmax_like(x, axis, out, dtype, where, scale, algorithm, num_threads, False)


def log_softmax(x, axis=-1, *, out=None, dtype=None, where=None, scale=None, algorithm="auto",
                num_threads=None):
    """Logarithm of the softmax along an axis: ``x - logsumexp(x)``, computed without exp stores.

    Parameters
    ----------
    x : array_like
        Input values (bool, integer or floating; integers and bool compute in float64).
    axis : int, tuple of int or None, default -1
        The axis (or axes, taken together) to normalise over; the default is the last axis.
    out : ndarray, optional
        Output array (the result's shape and dtype; ``out=x`` works in place).
    dtype : dtype, optional
        Compute and result dtype; `x` is cast first.
    where : array_like of bool, optional
        Broadcastable to `x`; masked-out entries (and fully masked slices) come out as -inf.
    scale : float, optional
        Finite factor applied to `x` first (temperature ``T`` is ``scale=1/T``).
    algorithm : {"auto", "three-pass", "two-pass", "online"}, default "auto"
        The reduction algorithm.
    num_threads : int, optional
        Threads to use; results do not depend on it.

    Returns
    -------
    ndarray
        The log-probabilities, `x`'s shape. Slices holding NaN or +inf, or only -inf, are NaN.

    Raises
    ------
    TypeError, ValueError, numpy.exceptions.AxisError
        As for `softmax`.

    Examples
    --------
    >>> import numpy as np, softmax_fast as sf
    >>> sf.log_softmax(np.array([0.0, 0.0])).round(4)
    array([-0.6931, -0.6931])
    """
    return _api.softmax_like(x, axis, out, dtype, where, scale, algorithm, num_threads, True)


def logsumexp(x, axis=None, *, keepdims=False, out=None, dtype=None, where=None, scale=None,
              num_threads=None):
    """``log(sum(exp(x)))`` along axes, without overflow.

    Parameters
    ----------
    x : array_like
        Input values (bool, integer or floating).
    axis : int, tuple of int or None, default None
        Axes to reduce. The default reduces all axes, as ``scipy.special.logsumexp`` does.
    keepdims : bool, default False
        Keep the reduced axes with length 1.
    out : ndarray, optional
        Output array of the result's shape and dtype.
    dtype : dtype, optional
        Compute and result dtype.
    where : array_like of bool, optional
        Broadcastable to `x`; masked-out entries take no part (a fully masked slice gives -inf).
    scale : float, optional
        Finite factor applied to `x` first.
    num_threads : int, optional
        Threads to use; results do not depend on it.

    Returns
    -------
    ndarray or scalar
        A NumPy scalar when the result is 0-d and `out` is not given. A slice of length 0 or of
        only -inf gives -inf; one holding +inf gives +inf; one holding NaN gives NaN.

    Raises
    ------
    TypeError, ValueError, numpy.exceptions.AxisError
        As for `softmax`.

    Examples
    --------
    >>> import numpy as np, softmax_fast as sf
    >>> float(sf.logsumexp(np.array([0.0, 0.0])))
    0.6931471805599453
    """
    return _api.logsumexp(x, axis, keepdims, out, dtype, where, scale, num_threads)


def sigmoid(x, *, out=None, dtype=None, num_threads=None):
    """The logistic sigmoid ``1 / (1 + exp(-x))``, elementwise, without overflow.

    Computed as ``1 / (1 + exp(-x))`` for ``x >= 0`` and ``exp(x) / (1 + exp(x))`` for
    ``x < 0``, so no intermediate overflows whatever the magnitude of `x`. float32 is computed in
    float64 and rounded once (<= 0.5 ulp + 2^-28 measured), float64 to within 2 ulp; float16
    and bfloat16 in float32, rounded to nearest even.

    Parameters
    ----------
    x : array_like
        Input values, any shape (bool, integer or floating; integers and bool compute in
        float64). A `numpy.ma.MaskedArray` is computed on its data.
    out : ndarray, optional
        Where to write the result: `x`'s shape and the result dtype, writable, not overlapping
        `x` except for ``out=x`` itself (in place). Any strides.
    dtype : dtype, optional
        Result dtype; `x` is cast to it first. float16 and bfloat16 compute in float32.
    num_threads : int, optional
        Threads to use for large arrays (default: the OpenMP default).

    Returns
    -------
    ndarray or scalar
        Values in [0, 1], `x`'s shape (a NumPy scalar for a 0-d input without `out`).
        ``sigmoid(+inf) = 1``, ``sigmoid(-inf) = 0``, NaN stays NaN.

    Raises
    ------
    TypeError
        Complex, object or string input; `dtype` not floating; `out` of the wrong type or dtype.
    ValueError
        Bad `out` shape, `out` overlapping `x` (other than ``out=x``) or read-only,
        ``num_threads < 1``.

    Examples
    --------
    >>> import numpy as np, softmax_fast as sf
    >>> sf.sigmoid(np.array([-1.0, 0.0, 1.0])).round(4)
    array([0.2689, 0.5   , 0.7311])
    >>> float(sf.sigmoid(-800.0))
    0.0
    """
    return _api.sigmoid_like(x, out, dtype, num_threads, False)


def log_sigmoid(x, *, out=None, dtype=None, num_threads=None):
    """``log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|))``, elementwise, accurate for all `x`.

    The two terms have the same sign, so nothing cancels and nothing overflows:
    ``log_sigmoid(-100) == -100.0`` and ``log_sigmoid(30) == -9.357622968839737e-14``, which is
    ``-log1p(exp(-30))`` to the last digit (``-exp(-30)`` alone would be 4.7e-14 off). float32 is computed in float64 and rounded once, float64 to within 2 ulp;
    float16 and bfloat16 in float32, rounded to nearest even.

    Parameters
    ----------
    x : array_like
        Input values, any shape (bool, integer or floating; integers and bool compute in
        float64). A `numpy.ma.MaskedArray` is computed on its data.
    out : ndarray, optional
        Output array (`x`'s shape, the result dtype; ``out=x`` works in place).
    dtype : dtype, optional
        Result dtype; `x` is cast to it first.
    num_threads : int, optional
        Threads to use for large arrays.

    Returns
    -------
    ndarray or scalar
        Values <= 0, `x`'s shape (a NumPy scalar for a 0-d input without `out`).
        ``log_sigmoid(+inf) = 0``, ``log_sigmoid(-inf) = -inf``, NaN stays NaN.

    Raises
    ------
    TypeError, ValueError
        As for `sigmoid`.

    Examples
    --------
    >>> import numpy as np, softmax_fast as sf
    >>> sf.log_sigmoid(np.array([-100.0, 0.0, 30.0]))
    array([-1.00000000e+02, -6.93147181e-01, -9.35762297e-14])
    """
    return _api.sigmoid_like(x, out, dtype, num_threads, True)


def cross_entropy(logits, target, axis=-1, *, reduction="mean", ignore_index=None,
                  label_smoothing=0.0, num_threads=None):
    """Cross entropy of logits against targets, without materialising the probabilities.

    Per slice along `axis` (the class axis): ``logsumexp(x) - x[t]`` for a class index ``t``,
    or ``sum(p * (logsumexp(x) - x))`` for class probabilities ``p``. The values are those of
    ``torch.nn.functional.cross_entropy`` with its class axis moved to `axis`. The log-sum-exp
    of each slice is the accurate row reduction of `logsumexp`, and the difference to the
    target's logit is taken before adding it (no cancellation).

    Parameters
    ----------
    logits : array_like
        Unnormalised scores, at least 1-D (bool, integer or floating; integers compute in
        float64, float16 / bfloat16 in float32).
    target : array_like
        Either integer class indices, shaped as `logits` without `axis`, each in
        ``0 .. n - 1`` (or equal to `ignore_index`); or floating class probabilities shaped as
        `logits`.
    axis : int, default -1
        The class axis.
    reduction : {"mean", "sum", "none"}, default "mean"
        "none": one loss per slice (the shape of `logits` without `axis`); "sum": their sum;
        "mean": their mean -- over the slices whose target is not `ignore_index` for class
        indices (NaN when there is none), over all slices for class probabilities.
    ignore_index : int, optional
        Class index whose slices contribute 0 and are not counted by "mean" (class-index
        targets only; PyTorch's default is -100, here no index is ignored unless given).
    label_smoothing : float, default 0.0
        In [0, 1]. The target becomes ``(1 - label_smoothing) * target + label_smoothing / n``:
        for class indices the loss is ``(1 - eps) * (lse - x[t]) + eps * (lse - mean(x))``.
    num_threads : int, optional
        Threads to use; the result does not depend on it.

    Returns
    -------
    ndarray or scalar
        float64 for integer logits, else the dtype of `logits`: a NumPy scalar for "sum" and
        "mean", an array of the slices' losses for "none". Accumulated in float64. A slice
        holding NaN or +inf, or only -inf, gives NaN (DESIGN section 3's log_softmax);
        ``x[t] = -inf`` in a finite slice gives +inf.

    Raises
    ------
    ValueError
        A class index out of range (other than `ignore_index`); a target of the wrong shape;
        `label_smoothing` outside [0, 1]; an unknown `reduction`; 0-d `logits`.
    TypeError
        A target that is neither integer nor floating; a non-integer `axis` or `ignore_index`;
        masked arrays; unsupported dtypes as for `softmax`.
    numpy.exceptions.AxisError
        `axis` out of range.

    Examples
    --------
    >>> import numpy as np, softmax_fast as sf
    >>> logits = np.array([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    >>> float(sf.cross_entropy(logits, np.array([0, 2])).round(4))
    0.6691
    >>> sf.cross_entropy(logits, np.array([0, 2]), reduction="none").round(4)
    array([0.2395, 1.0986])
    """
    return _api.cross_entropy(logits, target, axis, reduction, ignore_index, label_smoothing,
                              num_threads)


def softmax_topk(x, k, axis=-1, *, scale=None, where=None, num_threads=None):
    """The k largest softmax probabilities along an axis and their indices.

    Equal to sorting ``softmax(x, axis, scale=scale, where=where)`` and keeping the first k,
    without writing the probabilities: one reduction pass (the core's accurate (max, sum))
    and one selection pass in which almost every element costs one compare against the
    weakest candidate kept; only the k winners are exponentiated.

    Parameters
    ----------
    x : array_like
        Input values, at least 1-D.
    k : int
        How many, 1 <= k <= the length of `axis`.
    axis : int, default -1
        The axis along which the softmax is taken.
    scale : float, optional
        Finite factor applied to `x` first (temperature ``T`` is ``scale=1/T``).
    where : array_like of bool, optional
        Broadcastable to `x`; masked-out entries take no part (probability 0, ranked below
        every unmasked entry).
    num_threads : int, optional
        Threads to use; the result does not depend on it.

    Returns
    -------
    values : ndarray
        The probabilities, sorted descending, shaped as `x` with `axis` of length k; the dtype
        of `softmax`'s result.
    indices : ndarray of int64
        Their positions along `axis`. Equal (scaled) logits rank lower index first; NaN ranks
        first. A slice holding NaN or +inf, or only -inf, gives NaN values (a fully masked
        slice: 0), as `softmax` does.

    Raises
    ------
    ValueError
        `k` outside 1..n; 0-d `x`; non-finite `scale`; bad `where` shape.
    TypeError
        Non-integer `k` or `axis`; unsupported dtypes as for `softmax`.
    numpy.exceptions.AxisError
        `axis` out of range.

    Examples
    --------
    >>> import numpy as np, softmax_fast as sf
    >>> values, indices = sf.softmax_topk(np.array([1.0, 3.0, 2.0, 3.0]), 2)
    >>> values.round(4), indices
    (array([0.3995, 0.3995]), array([1, 3]))
    """
    return _api.softmax_topk(x, k, axis, scale, where, num_threads)


def softmax_backward(grad, y, axis=-1, *, out=None, num_threads=None):
    """Gradient of a softmax with respect to its input: ``y * (grad - sum(grad * y))``.

    Parameters
    ----------
    grad : array_like
        Gradient of the loss with respect to the softmax output.
    y : array_like
        The softmax output (``softmax(x, axis)``), the shape of `grad`.
    axis : int, tuple of int or None, default -1
        The axis (or axes) the softmax was taken over.
    out : ndarray, optional
        Output array of the result's shape and dtype; may be `grad` or `y` itself.
    num_threads : int, optional
        Threads to use; the result does not depend on it.

    Returns
    -------
    ndarray
        The gradient with respect to the softmax input; dtype as for `softmax` of the promoted
        dtype of `grad` and `y`. The sum is accumulated in float64 (float32 inputs: exactly
        rounded products; float64: a compensated sum).

    Raises
    ------
    ValueError
        `grad` and `y` of different shapes; bad `out` shape or overlap.
    TypeError
        `out` of the wrong dtype; masked arrays; unsupported dtypes as for `softmax`.
    numpy.exceptions.AxisError
        `axis` out of range.

    Examples
    --------
    >>> import numpy as np, softmax_fast as sf
    >>> y = sf.softmax(np.array([0.0, 0.0]))
    >>> sf.softmax_backward(np.array([1.0, 0.0]), y)
    array([ 0.25, -0.25])
    """
    return _api.softmax_backward(grad, y, axis, out, num_threads, False)


def log_softmax_backward(grad, y, axis=-1, *, out=None, num_threads=None):
    """Gradient of a log_softmax with respect to its input: ``grad - exp(y) * sum(grad)``.

    Parameters
    ----------
    grad : array_like
        Gradient of the loss with respect to the log_softmax output.
    y : array_like
        The log_softmax output (``log_softmax(x, axis)``), the shape of `grad`.
    axis : int, tuple of int or None, default -1
        The axis (or axes) the log_softmax was taken over.
    out : ndarray, optional
        Output array of the result's shape and dtype; may be `grad` or `y` itself.
    num_threads : int, optional
        Threads to use; the result does not depend on it.

    Returns
    -------
    ndarray
        The gradient with respect to the log_softmax input (``exp(y)`` by the library's exp
        kernels, ``sum(grad)`` accumulated in float64).

    Raises
    ------
    ValueError, TypeError, numpy.exceptions.AxisError
        As for `softmax_backward`.

    Examples
    --------
    >>> import numpy as np, softmax_fast as sf
    >>> y = sf.log_softmax(np.array([0.0, 0.0]))
    >>> sf.log_softmax_backward(np.array([1.0, 0.0]), y)
    array([ 0.5, -0.5])
    """
    return _api.softmax_backward(grad, y, axis, out, num_threads, True)


def segment_softmax(values, offsets, *, log=False, scale=None, out=None, num_threads=None):
    """Softmax of ragged segments given CSR-style offsets.

    Segment ``s`` is ``values[offsets[s]:offsets[s + 1]]``; each is normalised on its own, as
    `softmax` normalises a row (same kernels, same special values). This is the sparse softmax
    of ``tf.sparse.softmax`` (per row of a CSR matrix: ``segment_softmax(csr.data,
    csr.indptr)``) and the edge softmax of graph attention. Segments are spread over threads.

    Parameters
    ----------
    values : array_like
        1-D values of all segments, one after the other.
    offsets : array_like of int
        1-D, non-decreasing, from 0 to ``len(values)``; ``len(offsets) - 1`` segments, which
        may be empty.
    log : bool, default False
        Return log_softmax instead.
    scale : float, optional
        Finite factor applied to `values` first.
    out : ndarray, optional
        1-D output of the result's dtype; may be `values` itself.
    num_threads : int, optional
        Threads to use; the result does not depend on it.

    Returns
    -------
    ndarray
        1-D, the length of `values`; dtype as for `softmax`.

    Raises
    ------
    ValueError
        Offsets that decrease, or do not start at 0 and end at ``len(values)``; `values` not
        1-D; bad `out` shape or overlap; non-finite `scale`.
    TypeError
        Non-integer offsets; `out` of the wrong dtype; unsupported dtypes as for `softmax`.

    Examples
    --------
    >>> import numpy as np, softmax_fast as sf
    >>> sf.segment_softmax(np.array([0.0, 0.0, 5.0, 1.0, 1.0]), np.array([0, 2, 3, 3, 5]))
    array([0.5, 0.5, 1. , 0.5, 0.5])
    """
    return _api.segment_softmax(values, offsets, log, scale, out, num_threads)


def show_config():
    """The build and run-time configuration.

    Returns
    -------
    dict
        ``version``; ``isa`` (the kernel set in use); ``available_isas`` (levels this CPU and
        build support, lowest first); ``cpu_isas`` (levels the CPU supports); ``openmp``
        (built with OpenMP); ``num_threads`` (the default thread count); ``auto`` (the
        algorithm thresholds); ``parallel`` (the thread plan's sizes).

    Examples
    --------
    >>> import softmax_fast as sf
    >>> sorted(sf.show_config())[:3]
    ['auto', 'available_isas', 'cpu_isas']
    """
    return _api.show_config()
