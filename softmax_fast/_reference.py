"""Plain NumPy float64 reference: the oracle of the tests and the baseline of the benchmarks.

Written for clarity, not speed: ``max``, ``exp``, ``sum``, divide, in float64, with the special
values of DESIGN section 3 spelled out. Results are float64 whatever the input dtype.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

_F64 = npt.NDArray[np.float64]


def _prepare(x: npt.ArrayLike, axis: Any, where: npt.ArrayLike | None,
             scale: float | None) -> tuple[_F64, Any]:
    x = np.asarray(x, dtype=np.float64)
    if scale is not None:
        x = x * float(scale)
    if x.ndim == 0:
        x = x.reshape(1)
        axis = 0
    if where is not None:
        x = np.where(where, x, -np.inf)
    return x, axis


def logsumexp(x: npt.ArrayLike, axis: Any = None, *, keepdims: bool = False,
              where: npt.ArrayLike | None = None, scale: float | None = None) -> _F64:
    """log(sum(exp(x))) in float64; -inf for empty or all -inf slices, +inf with +inf, NaN with NaN."""
    x0 = np.asarray(x)
    x, axis = _prepare(x, axis, where, scale)
    with np.errstate(all="ignore"):
        if x.size == 0 or 0 in [x.shape[a] for a in np.atleast_1d(
                np.arange(x.ndim) if axis is None else axis)]:
            out = np.full(np.sum(x, axis=axis, keepdims=True).shape, -np.inf)
        else:
            m = np.max(x, axis=axis, keepdims=True)
            shift = np.where(np.isfinite(m), m, 0.0)
            s = np.sum(np.exp(x - shift), axis=axis, keepdims=True)
            out = shift + np.log(s)
    if not keepdims:
        out = np.squeeze(out, axis=axis) if axis is not None else out.reshape(())
    return out.reshape(()) if x0.ndim == 0 else out


def log_softmax(x: npt.ArrayLike, axis: Any = -1, *, where: npt.ArrayLike | None = None,
                scale: float | None = None) -> _F64:
    """x - logsumexp(x) in float64; masked-out entries and fully masked slices are -inf."""
    shape = np.shape(x)
    x, ax = _prepare(x, axis, where, scale)
    if x.size == 0:
        return np.empty(shape)
    lse = logsumexp(x, axis=ax, keepdims=True)
    with np.errstate(all="ignore"):
        out = x - lse
    if where is not None:
        full = ~np.broadcast_to(where, x.shape).any(axis=ax, keepdims=True)
        out = np.where(full | ~np.broadcast_to(where, x.shape), -np.inf, out)
    return out.reshape(shape)


def softmax(x: npt.ArrayLike, axis: Any = -1, *, where: npt.ArrayLike | None = None,
            scale: float | None = None) -> _F64:
    """exp(x - logsumexp(x)) in float64; masked-out entries and fully masked slices are 0."""
    with np.errstate(all="ignore"):
        return np.exp(log_softmax(x, axis, where=where, scale=scale))


def softmax_naive(x: npt.NDArray[Any], axis: Any = -1) -> npt.NDArray[Any]:
    """The textbook NumPy expression a user would write (the benchmarks' baseline)."""
    m = np.max(x, axis=axis, keepdims=True)
    e = np.exp(x - m)
    p: npt.NDArray[Any] = e / np.sum(e, axis=axis, keepdims=True)
    return p


def sigmoid(x: npt.ArrayLike) -> npt.NDArray[Any]:
    """1 / (1 + exp(-x)) in long double (80-bit on x86-64 Linux; float64 where it is not wider),
    in the overflow-free form exp(x) / (1 + exp(x)) for x < 0. Returns long double."""
    with np.errstate(all="ignore"):    # NaN payloads of 16-bit inputs warn when widened
        xl = np.asarray(x, dtype=np.longdouble)
        e = np.exp(-np.abs(xl))
        r: npt.NDArray[Any] = np.where(xl >= 0, 1 / (1 + e), e / (1 + e))
        return r


def log_sigmoid(x: npt.ArrayLike) -> npt.NDArray[Any]:
    """log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|)) in long double. Returns long double."""
    with np.errstate(all="ignore"):
        xl = np.asarray(x, dtype=np.longdouble)
        r: npt.NDArray[Any] = np.minimum(xl, 0) - np.log1p(np.exp(-np.abs(xl)))
        return r


def log_softmax_exact(x: npt.ArrayLike, axis: int = -1) -> npt.NDArray[Any]:
    """log_softmax in long double along one axis, (x - max) - log1p(rest) with the terms equal to
    the max counted apart from the others (rest = sum of exp(x - max) - 1): accurate to long
    double even where the result is tiny next to max (float64's ``x - lse`` has an absolute
    error of 2^-53 |lse| there). Finite inputs only. Returns long double."""
    x = np.asarray(x, dtype=np.longdouble)
    m = np.max(x, axis=axis, keepdims=True)
    at_max = x == m
    with np.errstate(all="ignore"):
        others = np.sum(np.where(at_max, 0, np.exp(x - m)), axis=axis, keepdims=True)
        rest = (np.sum(at_max, axis=axis, keepdims=True) - 1) + others
        r: npt.NDArray[Any] = (x - m) - np.log1p(rest)
        return r


# ---- fused operations ----------------------------------------------------------------------

def cross_entropy(logits: Any, target: Any, axis: int = -1, *, reduction: str = "mean",
                  ignore_index: int | None = None, label_smoothing: float = 0.0) -> Any:
    """torch.nn.functional.cross_entropy's definition with the class axis at `axis`, in float64:
    from log_softmax, class indices (ignore_index slices give 0 and "mean" does not count them)
    or class probabilities (smoothed, "mean" over all slices). A slice holding +inf gives NaN
    (DESIGN section 3's log_softmax; PyTorch agrees)."""
    x = np.moveaxis(np.asarray(logits, dtype=np.float64), axis, -1)
    lsm = log_softmax(x, -1)
    n = x.shape[-1]
    eps = float(label_smoothing)
    t = np.asarray(target)
    with np.errstate(all="ignore"):
        if t.dtype.kind in "iu":
            valid = np.ones(t.shape, bool) if ignore_index is None else t != ignore_index
            safe = np.where(valid, t, 0).astype(np.intp)
            nll = -np.take_along_axis(lsm, safe[..., None], -1)[..., 0]
            loss = nll if eps == 0 else (1 - eps) * nll - eps * np.mean(lsm, axis=-1)
            loss = np.where(np.isposinf(x).any(-1), np.nan, loss)   # DESIGN section 3
            loss = np.where(valid, loss, 0.0)
            count = int(np.count_nonzero(valid))
        else:
            p = np.moveaxis(np.asarray(t, dtype=np.float64), axis, -1)
            p = p * (1 - eps) + eps / n
            loss = -np.sum(p * lsm, axis=-1)
            loss = np.where(np.isposinf(x).any(-1), np.nan, loss)   # DESIGN section 3
            count = loss.size
        if reduction == "none":
            return loss
        total = np.sum(loss)
        return total if reduction == "sum" else (total / count if count else np.nan)


def softmax_topk(x: Any, k: int, axis: int = -1, *, where: Any = None,
                 scale: float | None = None) -> tuple[Any, Any]:
    """(values, indices): the softmax sorted by logit (NaN first, then descending, equal logits
    lower index first), the first k kept, in float64."""
    v = np.asarray(x, dtype=np.float64)
    if scale is not None:
        v = v * float(scale)
    if where is not None:
        v = np.where(where, v, -np.inf)
    p = softmax(v, axis)
    v, p = np.moveaxis(v, axis, -1), np.moveaxis(p, axis, -1)
    order = np.lexsort((-v, ~np.isnan(v)), axis=-1)[..., :k]
    values = np.take_along_axis(p, order, -1)
    values[np.isposinf(v).any(-1)] = np.nan   # DESIGN section 3: a slice holding +inf is NaN
    if where is not None:
        full = ~np.moveaxis(np.broadcast_to(where, np.shape(x)), axis, -1).any(-1)
        values[full] = 0.0
    return np.moveaxis(values, -1, axis), np.moveaxis(order, -1, axis)


def softmax_backward(grad: Any, y: Any, axis: int = -1) -> Any:
    """y * (grad - sum(grad * y)) in float64."""
    g, y = np.asarray(grad, dtype=np.float64), np.asarray(y, dtype=np.float64)
    with np.errstate(all="ignore"):
        return y * (g - np.sum(g * y, axis=axis, keepdims=True))


def log_softmax_backward(grad: Any, y: Any, axis: int = -1) -> Any:
    """grad - exp(y) * sum(grad) in float64."""
    g, y = np.asarray(grad, dtype=np.float64), np.asarray(y, dtype=np.float64)
    with np.errstate(all="ignore"):
        return g - np.exp(y) * np.sum(g, axis=axis, keepdims=True)


def segment_softmax(values: Any, offsets: Any, *, log: bool = False,
                    scale: float | None = None) -> Any:
    """softmax (or log_softmax) of each values[offsets[s]:offsets[s + 1]], one by one."""
    v = np.asarray(values, dtype=np.float64)
    out = np.empty_like(v)
    fn = log_softmax if log else softmax
    for lo, hi in zip(offsets[:-1], offsets[1:]):
        if hi > lo:
            out[lo:hi] = fn(v[lo:hi], scale=scale)
    return out
