"""softmax_fast: fast and accurate softmax, log_softmax and logsumexp for NumPy arrays on CPUs.

The kernel set (ISA level) is chosen once, at import, from the CPU; set the environment variable
``SOFTMAX_FAST_ISA`` (``scalar``, ``avx2``, ``avx512``) before importing to force one.
"""
from ._version import __version__
from . import _api

__all__ = ["softmax", "log_softmax", "logsumexp", "sigmoid", "log_sigmoid", "show_config",
           "__version__"]


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
