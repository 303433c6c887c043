"""Argument handling: the one place where user input is checked, normalised and planned.

Everything a call can get wrong is checked before anything is written. The compiled core only
ever sees 3-D views (outer, n, inner) of native-endian, aligned float32/float64 arrays.
"""
from __future__ import annotations

import math
import numbers
import operator
import os

from typing import Any, Iterable, Literal, Sequence

import numpy as np
import numpy.typing as npt
from numpy.exceptions import AxisError

from . import _core, _fused, _runtime
from ._version import __version__

_Array = npt.NDArray[Any]
#: dims of an array grouped as (outer, reduced, inner); each group merges into one strided dim
_Plan = tuple[list[int], list[int], list[int]]

ALGORITHMS = {"three-pass": _core.THREE_PASS, "two-pass": _core.TWO_PASS, "online": _core.ONLINE}
ALGORITHM_NAMES = {v: k for k, v in ALGORITHMS.items()}

#: What "auto" picks, per compute dtype and function, measured on the development machine
#: (2-core AVX-512, `python benchmarks/auto_choice.py`): computing exp costs more than a memory
#: pass, so three-pass (one exp per element) wins at every row length from 256 to 2^22, for both
#: dtypes and both functions: e.g. float32 softmax on 1 x 2^22 1.20 ms against 1.40 (online) and
#: 1.63 (two-pass); float64 softmax 2.18 ms against 3.50 (two-pass) and 4.98 (online). (With only
#: the auto-vectorized float64 kernels, two-pass had tied three-pass; the hand-written AVX-512 exp
#: pass settled it.)
AUTO_ALGORITHM = {
    ("float32", "softmax"): "three-pass",
    ("float32", "log_softmax"): "three-pass",
    ("float64", "softmax"): "three-pass",
    ("float64", "log_softmax"): "three-pass",
}

#: num_threads above this is clamped (more threads than this never helps a softmax).
MAX_THREADS = 1024


def _select_isa() -> str:
    name = os.environ.get("SOFTMAX_FAST_ISA") or None
    try:
        return _core.select_isa(name)
    except ValueError as exc:
        raise ImportError(f"SOFTMAX_FAST_ISA: {exc}") from None


ISA = _select_isa()


# ---- argument checks -------------------------------------------------------------------------

def _is_bfloat16(dt: np.dtype[Any]) -> bool:
    # ml_dtypes' bfloat16 is a user dtype (kind "V") of scalar type `bfloat16`; dt.name would
    # say so too, but NumPy computes it in Python: 1.4 us, more than a small softmax
    return dt.kind == "V" and dt.type.__name__ == "bfloat16"


def _half_kind(dt: np.dtype) -> int:
    """The core's code for a 16-bit float dtype: 1 float16, 2 bfloat16 (ml_dtypes), else 0."""
    if dt == np.float16:
        return 1
    return 2 if _is_bfloat16(dt) else 0


def _as_input(x: Any, name: str = "x") -> tuple[_Array, _Array | None]:
    """(array, where-from-mask or None). Masked arrays: the mask acts as `where`. `name`: the
    argument's name in error messages."""
    mask_where = None
    if isinstance(x, np.ma.MaskedArray):
        mask_where = ~np.ma.getmaskarray(x)
        x = np.ma.getdata(x)
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:   # ragged nesting, too many dimensions, ...
        kind = ValueError if isinstance(exc, ValueError) else TypeError
        raise kind(f"{name}: cannot be converted to an array: {exc}") from exc
    check_input_dtype(arr.dtype, name)
    return arr, mask_where


def check_input_dtype(dt: np.dtype[Any], name: str = "x") -> None:
    """TypeError unless `dt` is a dtype the functions take (also for dask arrays' dtypes);
    `name`: the argument's name in the message."""
    if not (dt.kind in "biuf" or _is_bfloat16(dt)):
        raise TypeError(f"{name}: unsupported dtype {dt}; softmax_fast takes real numbers "
                        "(bool, integers, float16/32/64, bfloat16)")


_F64 = np.dtype(np.float64)


def _dtypes(in_dtype: np.dtype[Any], dtype: Any) -> tuple[np.dtype[Any], np.dtype[Any]]:
    """(result dtype, compute dtype)."""
    if dtype is not None:
        try:
            result = np.dtype(dtype)
        except TypeError as exc:
            raise TypeError(f"dtype: {exc}") from None
        if not (result.kind == "f" or _is_bfloat16(result)):
            raise TypeError(f"dtype: must be a floating dtype, got {result}")
    elif in_dtype.kind in "biu":
        result = np.dtype(np.float64)
    else:
        result = in_dtype
    if result.kind == "f" and result.itemsize > 8:  # long double: computed in float64
        result = np.dtype(np.float64)
    result = result.newbyteorder("=") if result.kind == "f" else result
    compute = np.dtype(np.float64) if result == np.float64 else np.dtype(np.float32)
    return result, compute


def _normalize_axes(axis: Any, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    items = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
    out = []
    for a in items:
        if isinstance(a, (bool, np.bool_)):
            raise TypeError(f"axis: expected an int, a tuple of ints or None, got {a!r}")
        try:
            a = operator.index(a)
        except TypeError:
            raise TypeError(f"axis: expected an int, a tuple of ints or None, got {a!r}") from None
        if not -ndim <= a < ndim:
            raise AxisError(a, ndim)
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"axis: repeated axis in {axis!r}")
    return tuple(sorted(out))


def _check_scalar_axis(axis: Any) -> None:
    """A 0-d input is its own single slice: accept the axis spellings that mean it."""
    if axis is None or (isinstance(axis, tuple) and len(axis) == 0):
        return
    _normalize_axes(axis, 1)  # type errors as for any array; 0 and -1 pass


def _algorithm(algorithm: Any) -> str:
    if algorithm == "auto" or algorithm in ALGORITHMS:
        return str(algorithm)
    raise ValueError(f"algorithm: expected 'auto', 'three-pass', 'two-pass' or 'online', "
                     f"got {algorithm!r}")


def _threads(num_threads: Any) -> int:
    if num_threads is None:
        return max(1, _core.omp_max_threads())
    if isinstance(num_threads, (bool, np.bool_)) or not isinstance(num_threads, numbers.Integral):
        raise TypeError(f"num_threads: expected None or an int >= 1, got {num_threads!r}")
    if num_threads < 1:
        raise ValueError(f"num_threads: must be >= 1, got {num_threads}")
    return min(int(num_threads), MAX_THREADS)


def _scale(scale: Any) -> float:
    if scale is None:
        return 1.0
    if isinstance(scale, (bool, np.bool_)) or not isinstance(scale, numbers.Real):
        raise TypeError(f"scale: expected a finite real number, got {scale!r}")
    s = float(scale)
    if not np.isfinite(s):
        raise ValueError(f"scale: must be finite, got {scale!r}")
    return s


def _where(where: Any, mask_where: _Array | None, shape: tuple[int, ...]) -> _Array | None:
    if where is not None:
        w = np.asarray(where)
        if w.dtype != np.bool_:
            raise TypeError(f"where: expected a boolean array, got dtype {w.dtype}")
        try:
            np.broadcast_shapes(w.shape, shape)
            w = np.broadcast_to(w, shape)
        except ValueError:
            raise ValueError(f"where: shape {w.shape} does not broadcast to {shape}") from None
        if mask_where is not None:
            w = w & mask_where
        return w
    return mask_where


def _check_out(out: Any, shape: Sequence[int], result_dtype: np.dtype[Any], arr: _Array) -> bool:
    """Validate `out`; True when it is `x` itself (in place)."""
    if out is None:
        return False
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out: expected a numpy.ndarray, got {type(out).__name__}")
    if out.shape != tuple(shape):
        raise ValueError(f"out: shape {out.shape} does not match the result's {tuple(shape)}")
    if out.dtype != result_dtype:
        raise TypeError(f"out: dtype {out.dtype} does not match the result's {result_dtype}")
    if not out.flags.writeable:
        raise ValueError("out: array is read-only")
    if isinstance(arr, np.ndarray) and np.may_share_memory(out, arr):
        same = (out.__array_interface__["data"][0] == arr.__array_interface__["data"][0]
                and out.strides == arr.strides and out.shape == arr.shape
                and out.dtype == arr.dtype)
        if same:
            return True
        if np.shares_memory(out, arr):
            raise ValueError("out: overlaps x in memory (only out=x itself, in place, is allowed)")
    return False


# ---- layout planning -------------------------------------------------------------------------

def _group(shape: Sequence[int], strides: Sequence[int],
           dims: Iterable[int]) -> tuple[int, int] | None:
    """Merge `dims` (outermost first) into one (size, stride) of `strides`, or None."""
    size, stride = 1, 0
    for d in dims:
        if shape[d] == 1:
            continue
        if size == 1:
            size, stride = shape[d], strides[d]
        elif stride == strides[d] * shape[d]:
            size, stride = size * shape[d], strides[d]
        else:
            return None
    return size, stride


def _plan(arr: _Array, axes: Sequence[int]) -> _Plan | None:
    """Order the dims of `arr` as (outer, reduced, inner) groups that each merge into one
    strided dim, following the memory order of `arr`; None when its layout does not allow it."""
    st, sh = arr.strides, arr.shape
    red = sorted(axes, key=lambda d: -abs(st[d]))
    g = _group(sh, st, red)
    if g is None:
        return None
    n, sn = g
    others = sorted((d for d in range(arr.ndim) if d not in axes), key=lambda d: -abs(st[d]))
    zero = [d for d in others if st[d] == 0 and sh[d] > 1]    # broadcast dims
    splits: list[tuple[list[int], list[int]]]
    if n == 1:
        splits = [(others, [])]
    else:   # broadcast dims outside: the slices of one repeated slice are then written apart
        splits = [([d for d in others if abs(st[d]) >= abs(sn) or d in zero],
                   [d for d in others if abs(st[d]) < abs(sn) and d not in zero])]
    # broadcast dims merge only with each other: else try them as a group of their own
    if zero:
        rest = [d for d in others if d not in zero]
        splits += [(zero, rest), (rest, zero)]
    for outer, inner in splits:
        if _group(sh, st, outer) is not None and _group(sh, st, inner) is not None:
            return outer, red, inner
    return None


def _view3(arr: _Array, plan: _Plan, writeable: bool) -> _Array | None:
    """The (outer, n, inner) strided view of `arr` under `plan`, or None if it needs a copy."""
    groups = []
    for dims in plan:
        g = _group(arr.shape, arr.strides, dims)
        if g is None:
            return None
        groups.append(g)
    shape = tuple(g[0] for g in groups)
    strides = tuple(g[1] for g in groups)
    return _core.strided_view(arr, shape, strides, writeable)


def _masked(target: _Array, src: _Array | None, wh: _Array, sc: float, fill: float,
            plan: _Plan, nt: int) -> None:
    """target = sc * src where wh, else fill (the input of a masked reduction: sc * x rounded
    once in target's dtype, as NumPy's multiply; inf * 0 is NaN); with src None, target = fill
    where not wh (the masked output). One pass in C over the (outer, n, inner) views of `plan`
    when all three arrays have them, else NumPy's (an order of magnitude slower: its masked
    copy goes one element at a time)."""
    v_dst = _view3(target, plan, writeable=True)
    v_src = v_dst if src is None else _view3(src, plan, writeable=False)
    v_m = _view3(wh.view(np.uint8), plan, writeable=False)
    if v_dst is not None and v_src is not None and v_m is not None:
        _core.masked_3d(v_src, v_m, v_dst, sc, fill, src is not None, nt)
        return
    if src is not None:
        with np.errstate(all="ignore"):   # scale * x: inf * 0 is NaN, overflow inf, as in C
            np.multiply(src, target.dtype.type(sc), out=target)
    np.copyto(target, fill, where=~wh)


def _from3(tmp3: _Array, shape: Sequence[int], plan: _Plan) -> _Array:
    """View a C-ordered (outer, n, inner) result as an array of `shape` (dims as in `plan`)."""
    order = [d for dims in plan for d in dims]
    full = tmp3.reshape([shape[d] for d in order])
    return full.transpose(np.argsort(order))


def _zero_stride_dims(arr: _Array, dims: Iterable[int]) -> list[int]:
    """The dims among `dims` along which `arr` repeats one value (stride 0, length > 1)."""
    return [d for d in dims if arr.strides[d] == 0 and arr.shape[d] > 1]


def _native(arr: _Array, compute: np.dtype[Any]) -> _Array:
    """`arr` as the kernels may read it: `compute` dtype (native byte order) and aligned (a
    misaligned float load is undefined behaviour in C). A copy only when it is not already."""
    if arr.dtype == compute and arr.flags.aligned:
        return arr
    zero = _zero_stride_dims(arr, range(arr.ndim))
    if zero:   # a broadcast input: cast what it repeats, not the repetitions
        base = arr[tuple(slice(0, 1) if d in zero else slice(None) for d in range(arr.ndim))]
        return np.broadcast_to(_aligned_cast(base, compute), arr.shape)
    return _aligned_cast(arr, compute)


def _aligned_cast(a: _Array, dtype: np.dtype[Any]) -> _Array:
    # astype(copy=False) hands back an unaligned array unchanged when the dtype already matches
    with np.errstate(over="ignore", under="ignore"):
        return a.astype(dtype, copy=not a.flags.aligned)


def _contiguous_plan(ndim: int, axes: Sequence[int]) -> _Plan:
    """The plan of an array laid out C-contiguously with the reduced axes last."""
    return [d for d in range(ndim) if d not in axes], list(axes), []


def _prepare_source(arr: _Array, axes: Sequence[int],
                    like: _Array | None = None) -> tuple[_Array, _Plan]:
    """(source array, plan) with a plan its layout allows. When none does, a copy of `arr` in
    the memory order of `like`'s plan (the array to be written, so that it can be written
    directly), or else with the reduced axes last; the plan numbers dims as `arr` does."""
    plan = _plan(arr, axes)
    if plan is not None:
        return arr, plan
    if like is not None:
        plan = _plan(like, axes)
    if plan is None:
        plan = _contiguous_plan(arr.ndim, axes)
    order = [d for dims in plan for d in dims]
    moved = np.ascontiguousarray(arr.transpose(order)).transpose(np.argsort(order))
    return moved, plan


def _empty_for_plan(like: _Array, plan: _Plan, dtype: np.dtype[Any]) -> _Array:
    """An uninitialized array shaped as `like` that `_view3` can view under `plan`: in `like`'s
    memory order when that suits the plan, else in the plan's order. (A broadcast `like`
    always takes the plan's order: NumPy would put its zero-stride dims innermost, which makes
    the kernels write strided slices.)"""
    if not _zero_stride_dims(like, range(like.ndim)):
        a = np.empty_like(like, dtype=dtype)
        if _view3(a, plan, writeable=True) is not None:
            return a
        del a   # release it before allocating the other one
    order = [d for dims in plan for d in dims]
    return np.empty([like.shape[d] for d in order], dtype=dtype).transpose(np.argsort(order))


def _repeats_correction(res: Any, repeats: int, op: str) -> Any:
    """`res` divided by `repeats` (op "divide": softmax), or minus / plus log(repeats) ("sub_log":
    log_softmax, "add_log": logsumexp), computed in float64 and rounded to res's dtype: the
    correction for reduced axes along which the input repeats each value `repeats` times."""
    c = float(repeats) if op == "divide" else math.log(repeats)
    ufunc = {"divide": np.divide, "sub_log": np.subtract, "add_log": np.add}[op]
    with np.errstate(all="ignore"):
        if isinstance(res, np.ndarray):   # in place (res is `out` or our own result)
            ufunc(res, c, out=res, dtype=np.float64, casting="unsafe")
            return res
        value = ufunc(np.float64(res), c)    # a NumPy scalar result
        return np.asarray(value).astype(np.asarray(res).dtype)[()]


# A float32 result outside float16's range rounds to +-inf (or to 0 below it): that is the correct
# rounding, so the casts to the result dtype do not warn.
def _cast(a: _Array, dtype: np.dtype[Any]) -> _Array:
    with np.errstate(over="ignore", under="ignore"):
        return a.astype(dtype, copy=False)


def _cast_into(out: _Array, a: Any) -> None:
    with np.errstate(over="ignore", under="ignore"):
        np.copyto(out, a, casting="unsafe")


def _resolve_algorithm(algorithm: str, compute: np.dtype[Any], log: bool) -> int:
    if algorithm == "auto":
        algorithm = AUTO_ALGORITHM["float64" if compute == _F64 else "float32",
                                   "log_softmax" if log else "softmax"]
    return ALGORITHMS[algorithm]


# ---- the operations --------------------------------------------------------------------------

# the fast path's checks run in the core (_core.fast_plan); what they accept comes from here
_FAST_AUTO = {(dt == "float64", log): ALGORITHMS[AUTO_ALGORITHM[dt, "log_softmax" if log else "softmax"]]
              for dt in ("float32", "float64") for log in (False, True)}
_core.configure_fast_path(_FAST_AUTO, ALGORITHMS,
                          lambda dt: _half_kind(dt) if dt.isnative else 0, MAX_THREADS)


# dtype= arguments seen, and the float32 / float64 dtype each names (None for any other dtype)
_FAST_DTYPES: dict[Any, np.dtype[Any] | None] = {}


def _fast_widening(x: Any, dtype: Any) -> Any:
    """`x` cast to `dtype` for the fast path when that is how the full path starts and cannot
    overflow: an ndarray of a real dtype into float32 / float64 no narrower than it (the full
    path computes in that dtype from the same cast); else None."""
    if type(x) is not np.ndarray:
        return None
    try:
        result = _FAST_DTYPES[dtype]
    except KeyError:
        try:
            result = np.dtype(dtype)
        except TypeError:
            result = None
        if result is not None and not (result.kind == "f" and result.itemsize in (4, 8)
                                       and result.isnative):
            result = None
        _FAST_DTYPES[dtype] = result
    except TypeError:   # an unhashable dtype= argument: the full path judges it
        return None
    if result is None:
        return None
    dt = x.dtype
    if dt == result:
        return x
    if dt.kind in "biu" or (dt.kind == "f" and dt.itemsize <= result.itemsize):
        return x.astype(result)
    return None


def softmax_like(x: Any, axis: Any, out: Any, dtype: Any, where: Any, scale: Any, algorithm: Any,
                 num_threads: Any, log: bool) -> Any:  # an ndarray: `out` or a new one
    xw = x if dtype is None else _fast_widening(x, dtype)
    if xw is not None and (xw is x or out is None):   # (the full path judges out= against x)
        # the common call (_core.fast_plan says which) goes straight to the core
        fast = _core.fast_plan(xw, axis, out, algorithm, num_threads, scale, where, log)
        if fast is not None:
            y, algo, half, sc, ax, nt = fast
            _core.softmax_rows(xw, y, log, algo, half, sc, where, ax, nt)
            return y
    arr, mask_where = _as_input(x)
    result_dtype, compute = _dtypes(arr.dtype, dtype)
    algorithm = _algorithm(algorithm)
    nt = _threads(num_threads)
    sc = _scale(scale)
    if arr.ndim == 0:
        _check_scalar_axis(axis)
        w0 = None if where is None and mask_where is None else _where(where, mask_where, (1,))
        _check_out(out, (), result_dtype, arr)
        res = softmax_like(arr.reshape(1), 0, None, dtype, w0, scale, algorithm, num_threads, log)
        if out is None:
            return res.reshape(())
        out[...] = res[0]
        return out
    axes = _normalize_axes(axis, arr.ndim)
    wh = _where(where, mask_where, arr.shape)
    in_place = _check_out(out, arr.shape, result_dtype, arr)
    # ---- nothing has been written above this line ----

    repeated = _zero_stride_dims(arr, axes) if wh is None and not in_place else []
    if repeated and arr.size and _plan(arr, axes) is None:
        # a slice that repeats each value k times along broadcast (zero-stride) axes, in a
        # layout that would need a copy of the input: the softmax over the other axes,
        # divided by k (log_softmax: minus log k)
        rest = tuple(d for d in axes if d not in repeated)
        res = softmax_like(arr, rest, out, dtype, None, scale, algorithm, num_threads, log)
        return _repeats_correction(res, math.prod(arr.shape[d] for d in repeated),
                                   "sub_log" if log else "divide")

    if wh is None and arr.size and result_dtype == arr.dtype and _half_kind(arr.dtype):
        res = _half_softmax(arr, axes, out, sc, _resolve_algorithm(algorithm, compute, log), nt,
                            log)
        if res is not None:
            return res

    xc = _native(arr, compute)
    use_out = (out is not None and out.dtype == compute and out.flags.aligned and
               (in_place or xc is not arr or not np.may_share_memory(out, xc)))
    if arr.size == 0:
        if out is not None:
            return out
        return np.empty_like(xc, dtype=result_dtype)

    if wh is not None:
        # masked-out entries become -inf after scaling: they take no part and give 0 / -inf
        plan = _plan(xc, axes) or _contiguous_plan(xc.ndim, axes)
        target = out if use_out else _empty_for_plan(xc, plan, compute)
        _masked(target, xc, wh, sc, -np.inf, _plan(target, axes) or plan, nt)
        sc = 1.0
        src, plan = _prepare_source(target, axes, like=target)
    else:
        src, plan = _prepare_source(xc, axes, like=out if use_out else None)
        target = out if use_out else _empty_for_plan(xc, plan, compute)
    v_src = _view3(src, plan, writeable=False)
    assert v_src is not None  # _prepare_source chose a plan that src's layout allows
    v_dst = _view3(target, plan, writeable=True)
    tmp = None
    if v_dst is None:    # an `out` whose layout does not suit the plan
        tmp = np.empty(v_src.shape, dtype=compute)
        v_dst = tmp
    algo = _resolve_algorithm(algorithm, compute, log)
    _core.softmax_3d(v_src, v_dst, log, algo, sc, nt)
    if tmp is not None:
        np.copyto(target, _from3(tmp, target.shape, plan))
    if wh is not None:
        # masked-out entries are 0 / -inf whatever the rest of the slice holds (a NaN or +inf
        # elsewhere makes the kernels write NaN over the whole slice), fully masked slices too
        _masked(target, None, wh, 1.0, -np.inf if log else 0.0, plan, nt)
    if out is not None:
        if target is not out:
            _cast_into(out, target)
        return out
    return target if result_dtype == compute else _cast(target, result_dtype)


def _half_view3(arr: _Array, plan: _Plan, writeable: bool) -> _Array | None:
    """_view3 of a float16/bfloat16 array as uint16 patterns, when its rows (the middle axis)
    are contiguous, else None."""
    v = _view3(arr, plan, writeable)
    if v is None or (v.shape[1] > 1 and v.strides[1] != arr.itemsize):
        return None
    return v.view(np.uint16)


def _half_softmax(arr: _Array, axes: tuple[int, ...], out: _Array | None, sc: float, algo: int,
                  nt: int, log: bool) -> _Array | None:
    """softmax of a native float16/bfloat16 array into its own dtype, rows converted to
    float32 in a per-thread buffer (no float32 copy of the array), or None when the reduced
    axes are not contiguous in memory (the caller then computes from a float32 copy)."""
    if not (arr.dtype.isnative and arr.flags.aligned):
        return None
    src, plan = _prepare_source(arr, axes, like=out)
    v_src = _half_view3(src, plan, writeable=False)
    if v_src is None:
        return None
    target = out if out is not None else _empty_for_plan(arr, plan, arr.dtype)
    v_dst = _half_view3(target, plan, writeable=True)
    tmp = None
    if v_dst is None:    # an `out` whose layout does not suit the plan
        tmp = np.empty(v_src.shape, dtype=arr.dtype)
        v_dst = tmp.view(np.uint16)
    _core.softmax_half_3d(v_src, v_dst, _half_kind(arr.dtype) == 2, log, algo, sc, nt)
    if tmp is not None:
        np.copyto(target, _from3(tmp, target.shape, plan))
    return target


def logsumexp(x: Any, axis: Any, keepdims: bool, out: Any, dtype: Any, where: Any, scale: Any,
              num_threads: Any) -> Any:
    if out is None and dtype is None and where is None and scale is None:
        fast = _core.fast_lse_plan(x, axis, keepdims, num_threads)
        if fast is not None:   # the common call (_core.fast_lse_plan says which)
            res, ax, nt = fast
            _core.logsumexp_rows(x, res, ax, nt)
            return res[()] if res.ndim == 0 else res
    arr, mask_where = _as_input(x)
    result_dtype, compute = _dtypes(arr.dtype, dtype)
    nt = _threads(num_threads)
    sc = _scale(scale)
    axes: tuple[int, ...]
    kept: tuple[int, ...]
    result_shape: tuple[int, ...]
    if arr.ndim == 0:
        _check_scalar_axis(axis)
        arr = arr.reshape(1)
        axes, kept, result_shape = (0,), (1,), ()
    else:
        axes = _normalize_axes(axis, arr.ndim)
        kept = tuple(1 if d in axes else s for d, s in enumerate(arr.shape))
        result_shape = kept if keepdims else tuple(s for d, s in enumerate(arr.shape)
                                                   if d not in axes)
    wh = _where(where, mask_where, arr.shape)
    _check_out(out, result_shape, result_dtype, arr)
    # ---- nothing has been written above this line ----

    repeated = _zero_stride_dims(arr, axes) if wh is None else []
    if repeated and arr.size:
        # each value repeated k times along broadcast (zero-stride) axes: log(k) plus the
        # logsumexp of one repetition (reading the repetitions would need a copy of the
        # input for some layouts, and a gathered row of all of them for the others)
        one = arr[tuple(slice(0, 1) if d in repeated else slice(None) for d in range(arr.ndim))]
        res = logsumexp(one, axes, keepdims, out, dtype, None, scale, num_threads)
        return _repeats_correction(res, math.prod(arr.shape[d] for d in repeated), "add_log")

    n = int(np.prod([arr.shape[d] for d in axes], dtype=np.int64))
    v_half = None
    if (wh is None and n and arr.size and _half_kind(arr.dtype) and compute == np.float32
            and arr.dtype.isnative and arr.flags.aligned):
        # 16-bit rows converted to float32 in a per-thread buffer, not in a copy of the array
        src, plan = _prepare_source(arr, axes)
        v_half = _half_view3(src, plan, writeable=False)
    xc = arr if v_half is not None else _native(arr, compute)
    if wh is not None:
        plan = _plan(xc, axes) or _contiguous_plan(xc.ndim, axes)
        masked = _empty_for_plan(xc, plan, compute)
        _masked(masked, xc, wh, sc, -np.inf, plan, nt)
        xc, sc = masked, 1.0
    if v_half is not None:
        tmp = np.empty((v_half.shape[0], v_half.shape[2]), dtype=np.float32)
        _core.logsumexp_half_3d(v_half, tmp, _half_kind(arr.dtype) == 2, sc, nt)
        res = _from3(tmp.reshape(v_half.shape[0], 1, v_half.shape[2]), kept, plan)
    elif n == 0 or arr.size == 0:
        res = np.full(kept, -np.inf if n == 0 else 0.0, dtype=compute)
    else:
        src, plan = _prepare_source(xc, axes)
        v_src = _view3(src, plan, writeable=False)
        assert v_src is not None  # _prepare_source chose a plan that src's layout allows
        tmp = np.empty((v_src.shape[0], v_src.shape[2]), dtype=compute)
        _core.logsumexp_3d(v_src, tmp, sc, nt)
        res = _from3(tmp.reshape(v_src.shape[0], 1, v_src.shape[2]), kept, plan)
    res = res.reshape(result_shape)
    if out is not None:
        _cast_into(out, res)
        return out
    res = _cast(res, result_dtype)
    return res[()] if res.ndim == 0 else res


def sigmoid_like(x: Any, out: Any, dtype: Any, num_threads: Any, log: bool) -> Any:
    """sigmoid (log=False) or log_sigmoid (log=True), elementwise: `softmax_fast.sigmoid`."""
    if dtype is None:   # the common call (_core.fast_elementwise says which), computed in C
        fast = _core.fast_elementwise(x, out, _core.LOG_SIGMOID if log else _core.SIGMOID,
                                      num_threads)
        if fast is not None:
            return fast
    arr, _ = _as_input(x)    # a masked array's data; elementwise, the mask has nothing to do
    result_dtype, compute = _dtypes(arr.dtype, dtype)
    nt = _threads(num_threads)
    in_place = _check_out(out, arr.shape, result_dtype, arr)
    # ---- nothing has been written above this line ----
    kind = _half_kind(result_dtype)
    if kind:     # 16-bit results: x cast to that dtype, computed in float32 chunk by chunk
        work = result_dtype
        src = _aligned_cast(arr, work)   # arr itself when already aligned in that dtype
    else:
        work = compute
        src = _native(arr, compute)
    order: Literal["C", "F"]
    if src.flags.c_contiguous or not src.flags.f_contiguous:
        order = "C"
        if not src.flags.c_contiguous:
            src = np.ascontiguousarray(src)
    else:
        order = "F"
    good_out = (out is not None and out.dtype == work and out.flags["C_CONTIGUOUS" if order == "C"
                                                                     else "F_CONTIGUOUS"]
                and (in_place or not np.may_share_memory(out, src)))
    dst = out if good_out else np.empty(src.shape, dtype=work, order=order)
    flat_src, flat_dst = src.reshape(-1, order=order), dst.reshape(-1, order=order)
    if kind:
        flat_src, flat_dst = flat_src.view(np.uint16), flat_dst.view(np.uint16)
    _core.elementwise(flat_src, flat_dst, _core.LOG_SIGMOID if log else _core.SIGMOID, kind, nt)
    if out is not None:
        if dst is not out:
            _cast_into(out, dst)
        return out
    res = dst if result_dtype == work else _cast(dst, result_dtype)
    return res[()] if res.ndim == 0 else res


# ---- chunks of one slice (softmax_fast.dask) -------------------------------------------------
#
# A slice cut into chunks (dask blocks along the reduced axes) is done in two passes: each chunk's
# (max, sum, rest) partial, the partials merged (associatively: any tree), then each chunk
# written from its slice's merged partial. These functions work on one NumPy chunk each; the
# dask graph is built in `softmax_fast.dask`.

#: One slice's partial, the C struct `sf_partial` as a NumPy record: exp-sum = sum * exp(max),
#: rest = sum - 1 counted without rounding the 1 (see src/softmax_fast.h).
PARTIAL_DTYPE = np.dtype([("max", np.float64), ("sum", np.float64), ("rest", np.float64)])
#: The partial of an empty chunk (or of one holding only -inf): neutral in the merge.
EMPTY_PARTIAL = np.array((-np.inf, 0.0, -1.0), dtype=PARTIAL_DTYPE)


def _rows_source(arr: _Array, axes: tuple[int, ...]) -> tuple[_Array, _Plan]:
    """(source, plan) for `arr`'s chunk kernels: a plan whose rows (the reduced axes) are
    contiguous in memory. The kernels gather strided rows element by element, which costs far
    more than one copy in that order when the reduced axis is not the innermost one."""
    plan = _plan(arr, axes)
    if plan is not None and _group(arr.shape, arr.strides, plan[2]) == (1, 0):
        src = arr
    else:
        plan = _contiguous_plan(arr.ndim, axes)
        order = [d for dims in plan for d in dims]
        src = np.ascontiguousarray(arr.transpose(order)).transpose(np.argsort(order))
    return src, plan


def _partials_rows(parts: _Array, plan: _Plan) -> _Array:
    """The (O, I, 3) float64 C-contiguous, aligned view (a copy when needed) of a PARTIAL_DTYPE
    array of kept shape (reduced axes of length 1), in the order of `plan`. (dask.distributed
    may hand a worker a partial array at an odd address: a misaligned double load in C.)"""
    order = [d for dims in plan for d in dims]
    p = _aligned_f64(np.ascontiguousarray(parts.transpose(order)))
    outer = math.prod(parts.shape[d] for d in plan[0])
    inner = math.prod(parts.shape[d] for d in plan[2])
    return p.reshape(outer, inner, 3)


def _aligned_f64(a: _Array) -> _Array:
    """A C-contiguous PARTIAL_DTYPE array as float64 (three a partial), at an 8-byte aligned
    address (a copy only when it is not: the structured dtype itself only needs 1)."""
    return np.require(a.view(np.float64), requirements=["C", "A"])


def chunk_partials(block: Any, axes: tuple[int, ...], compute: np.dtype[Any], scale: float,
                   num_threads: int) -> _Array:
    """The partials of one chunk over `axes` (normalised): a PARTIAL_DTYPE array of the
    chunk's shape with the reduced axes of length 1. Special values are explicit in them:
    a slice holding NaN has max NaN; one holding +inf (no NaN) max +inf and sum NaN."""
    arr = _native(np.asarray(block), compute)
    kept = tuple(1 if d in axes else s for d, s in enumerate(arr.shape))
    if arr.size == 0:
        return np.full(kept, EMPTY_PARTIAL, dtype=PARTIAL_DTYPE)
    src, plan = _rows_source(arr, axes)
    v_src = _view3(src, plan, writeable=False)
    assert v_src is not None    # _rows_source chose a plan the layout allows
    parts = np.empty((v_src.shape[0], v_src.shape[2]), dtype=PARTIAL_DTYPE)
    _core.partials_3d(v_src, parts.view(np.float64).reshape(parts.shape + (3,)), scale,
                      num_threads)
    return _from3(parts.reshape(v_src.shape[0], 1, v_src.shape[2]), kept, plan)


def merge_chunk_partials(parts: _Array, axes: tuple[int, ...]) -> _Array:
    """Merge a PARTIAL_DTYPE array along `axes` (the partials of a slice's chunks, any number
    along each reduced axis) into one partial per slice, kept shape; `sf_merge_all`'s rule."""
    k = len(axes)
    moved = np.moveaxis(parts, axes, tuple(range(parts.ndim - k, parts.ndim)))
    count = math.prod(moved.shape[parts.ndim - k:])
    rows = np.ascontiguousarray(moved).reshape(-1, count)
    out = np.empty(rows.shape[0], dtype=PARTIAL_DTYPE)
    _core.merge_partials(_aligned_f64(rows).reshape(rows.shape[0], count, 3),
                         out.view(np.float64).reshape(rows.shape[0], 3))
    merged = out.reshape(moved.shape[:parts.ndim - k] + (1,) * k)
    return np.moveaxis(merged, tuple(range(parts.ndim - k, parts.ndim)), axes)


def chunk_rest_parts(block: Any, parts: Any, axes: tuple[int, ...], compute: np.dtype[Any],
                     scale: float, n_total: int) -> _Array:
    """One chunk's pieces of the rests that log_softmax takes again (`_core.rest_parts_3d`),
    from each slice's merged partial `parts` (kept shape): a PARTIAL_DTYPE-shaped array of
    the chunk's shape with the reduced axes of length 1, its three fields (count, hi, lo)."""
    kept = tuple(1 if d in axes else s for d, s in enumerate(np.shape(block)))
    p = np.asarray(parts)
    # the kernels' refine_low takes no rest from 4.75 up, nor a special one: a chunk whose slices
    # all have such rests (rows of N(0, 1) and most others) is not read at all
    if np.size(block) == 0 or not np.any((p["rest"] > 0) & (p["rest"] < 4.75)
                                         & np.isfinite(p["max"])):
        return np.zeros(kept, dtype=PARTIAL_DTYPE)
    arr = _native(np.asarray(block), compute)
    src, plan = _rows_source(arr, axes)
    v_src = _view3(src, plan, writeable=False)
    assert v_src is not None    # _rows_source chose a plan the layout allows
    pieces = np.empty((v_src.shape[0], v_src.shape[2]), dtype=PARTIAL_DTYPE)
    _core.rest_parts_3d(v_src, _partials_rows(p, plan), n_total, scale,
                        pieces.view(np.float64).reshape(pieces.shape + (3,)))
    return _from3(pieces.reshape(v_src.shape[0], 1, v_src.shape[2]), kept, plan)


def refine_merged_partials(parts: _Array, pieces: _Array, axes: tuple[int, ...],
                           compute: np.dtype[Any]) -> _Array:
    """The merged partials `parts` (kept shape) with the rests log_softmax takes again added
    up from every chunk's `pieces` (`chunk_rest_parts`, all of a slice's chunks along `axes`),
    as a NumPy row's (`_core.refine_rests`)."""
    k = len(axes)
    last = tuple(range(parts.ndim - k, parts.ndim))
    moved = np.moveaxis(pieces, axes, last)
    count = math.prod(moved.shape[parts.ndim - k:])
    rows = np.ascontiguousarray(moved).reshape(-1, count)
    out = np.moveaxis(parts, axes, last).copy(order="C")   # a new array: aligned
    flat = out.reshape(-1)
    _core.refine_rests(flat.view(np.float64).reshape(flat.shape[0], 3),
                       _aligned_f64(rows).reshape(rows.shape[0], count, 3),
                       compute == np.float64)
    return np.moveaxis(out, last, axes)


def logsumexp_from_chunk_partials(parts: _Array, axes: tuple[int, ...], keepdims: bool,
                                  compute: np.dtype[Any], result_dtype: np.dtype[Any]) -> _Array:
    """The logsumexp over `axes` from the partials of a slice's chunks (see
    `merge_chunk_partials`), in `result_dtype`; the reduced axes kept with length 1 or dropped."""
    merged = np.ascontiguousarray(merge_chunk_partials(parts, axes))
    res = np.empty(merged.shape, dtype=compute)
    _core.logsumexp_from_partials(merged.view(np.float64).reshape(-1, 3), res.reshape(-1))
    if not keepdims:
        res = res.reshape(tuple(s for d, s in enumerate(res.shape) if d not in axes))
    return _cast(res, result_dtype)


def softmax_chunk_from_partials(block: Any, parts: Any, axes: tuple[int, ...],
                                compute: np.dtype[Any], result_dtype: np.dtype[Any], scale: float,
                                num_threads: int, log: bool) -> _Array:
    """softmax (log_softmax with `log`) of one chunk whose slices over `axes` continue in other
    chunks, from each slice's merged partial `parts` (kept shape, `merge_chunk_partials`)."""
    arr = _native(np.asarray(block), compute)
    if arr.size == 0:
        return np.empty(arr.shape, dtype=result_dtype)
    src, plan = _rows_source(arr, axes)
    v_src = _view3(src, plan, writeable=False)
    target = _empty_for_plan(src, plan, compute)
    v_dst = _view3(target, plan, writeable=True)
    assert v_src is not None and v_dst is not None    # plans the layouts allow (_rows_source)
    _core.softmax_from_partials_3d(v_src, _partials_rows(np.asarray(parts), plan), v_dst, log,
                                   scale, num_threads)
    return target if result_dtype == compute else _cast(target, result_dtype)


def show_config() -> dict[str, Any]:
    """Build and run-time configuration of softmax_fast (see `softmax_fast.show_config`)."""
    return {
        "version": __version__,
        "isa": _core.current_isa(),
        "available_isas": _core.available_isas(),
        "cpu_isas": _core.cpu_isas(),
        "openmp": _core.have_openmp(),
        "openmp_runtime": _runtime.openmp_runtime(),
        "num_threads": max(1, _core.omp_max_threads()),
        "auto": {f"{dt} {fn}": algo for (dt, fn), algo in AUTO_ALGORITHM.items()},
        "parallel": {
            "split_rows_from": _core.SPLIT_MIN_,
            "block": _core.BLOCK_,
            "single_thread_below": _core.PARALLEL_MIN_,
            "column_panel": _core.COLUMN_PANEL_,
            "stream_output_from_bytes": _core.STREAM_MIN_BYTES_,
        },
        "build": _core.build_info(),
    }


# ---- fused operations (cross entropy, top-k, backward passes, segments) ----------------------
#
# Their kernels take C-contiguous (rows, n) arrays in the compute dtype with the reduced axis
# last: `_rows` makes them (a view when the layout allows, else one copy) and `_unrows` puts a
# (rows, n) result back in the caller's axis order.

CE_REDUCTIONS = ("none", "sum", "mean")


def _no_mask(mask_where: _Array | None, name: str, fn: str) -> None:
    if mask_where is not None:
        raise TypeError(f"{name}: {fn} does not take masked arrays")


def _one_axis(axis: Any, ndim: int) -> int:
    """A single axis (an int), normalised and checked like every other axis."""
    if axis is None or isinstance(axis, (tuple, list)):
        raise TypeError(f"axis: expected an int, got {axis!r}")
    return _normalize_axes(axis, ndim)[0]


def _rows(arr: _Array, axes: tuple[int, ...],
          compute: np.dtype[Any]) -> tuple[_Array, tuple[int, ...]]:
    """(C-contiguous (rows, n) array of `arr` in `compute` with `axes` moved last, the moved
    shape)."""
    k = len(axes)
    nd = arr.ndim
    xc = _native(arr, compute)
    trailing = tuple(range(nd - k, nd))
    # the common call (reduced axes last) skips moveaxis: it costs microseconds per call
    moved = xc if axes == trailing else np.moveaxis(xc, axes, trailing)
    n = math.prod(moved.shape[nd - k:])
    rows = math.prod(moved.shape[:nd - k])
    return np.ascontiguousarray(moved).reshape(rows, n), moved.shape


def _unrows(res2: _Array, moved_shape: tuple[int, ...], axes: tuple[int, ...]) -> _Array:
    k = len(axes)
    nd = len(moved_shape)
    trailing = tuple(range(nd - k, nd))
    res = res2.reshape(moved_shape)
    return res if axes == trailing else np.moveaxis(res, trailing, axes)


def _real_in(value: Any, name: str, lo: float, hi: float) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a real number, got {value!r}")
    v = float(value)
    if not lo <= v <= hi:
        raise ValueError(f"{name}: must be in [{lo}, {hi}], got {value!r}")
    return v


def cross_entropy(logits: Any, target: Any, axis: Any, reduction: Any, ignore_index: Any,
                  label_smoothing: Any, num_threads: Any) -> Any:
    fast = _fused.cross_entropy_fast(logits, target, axis, reduction, ignore_index,
                                     label_smoothing, num_threads)
    if fast is not None:   # the common call (class indices, class axis last), judged in C
        return fast
    arr, mask_where = _as_input(logits, "logits")
    _no_mask(mask_where, "logits", "cross_entropy")
    result_dtype, compute = _dtypes(arr.dtype, None)
    if arr.ndim == 0:
        raise ValueError("logits: needs at least one dimension (the class axis)")
    ax = _one_axis(axis, arr.ndim)
    if reduction not in CE_REDUCTIONS:
        raise ValueError(f"reduction: expected 'none', 'sum' or 'mean', got {reduction!r}")
    eps = _real_in(label_smoothing, "label_smoothing", 0.0, 1.0)
    if ignore_index is not None:
        if isinstance(ignore_index, (bool, np.bool_)) or not isinstance(ignore_index,
                                                                        numbers.Integral):
            raise TypeError(f"ignore_index: expected None or an int, got {ignore_index!r}")
        ignore_index = int(ignore_index)
    nt = _threads(num_threads)
    t = np.asarray(target)
    n = arr.shape[ax]
    batch = arr.shape[:ax] + arr.shape[ax + 1:]
    rows = math.prod(batch)
    if t.dtype.kind in "iu":
        if t.shape != batch:
            raise ValueError(f"target: class indices must have the shape of logits without "
                             f"axis {ax}, {batch}; got {t.shape}")
        if t.dtype.kind == "u" and t.size and t.max() > np.iinfo(np.int64).max:
            raise ValueError(f"target: class index {t.max()} out of range [0, {n})")
        t64 = np.ascontiguousarray(t, dtype=np.int64).reshape(rows)
        bad = (t64 < 0) | (t64 >= n)
        if ignore_index is not None:
            bad &= t64 != ignore_index
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"target: class index {t64[i]} out of range [0, {n}) at "
                             f"{np.unravel_index(i, batch) if batch else ()}")
        kept = rows if ignore_index is None else rows - int(np.count_nonzero(t64 == ignore_index))
        loss = np.zeros(rows)
        if rows and kept and n:
            x2, _ = _rows(arr, (ax,), compute)
            _fused.cross_entropy_index(x2, t64, loss, ignore_index is not None,
                                       0 if ignore_index is None else ignore_index, eps, nt)
    elif t.dtype.kind == "f" or _is_bfloat16(t.dtype):
        if t.shape != arr.shape:
            raise ValueError(f"target: class probabilities must have the shape of logits "
                             f"{arr.shape}; got {t.shape}")
        kept = rows
        loss = np.zeros(rows)
        if rows and n:
            x2, _ = _rows(arr, (ax,), compute)
            t2, _ = _rows(t, (ax,), compute)
            _fused.cross_entropy_probs(x2, t2, loss, eps, nt)
    else:
        raise TypeError(f"target: expected integer class indices or floating class "
                        f"probabilities, got dtype {t.dtype}")
    if reduction == "none":
        res = _cast(loss.reshape(batch), result_dtype)
        return res[()] if res.ndim == 0 else res
    total = _fused.loss_total(loss)   # compensated, in float64
    if reduction == "mean":
        total = total / kept if kept else math.nan
    return _cast(np.asarray(total), result_dtype)[()]


def softmax_topk(x: Any, k: Any, axis: Any, scale: Any, where: Any,
                 num_threads: Any) -> tuple[_Array, _Array]:
    fast = _fused.topk_fast(x, k, axis, scale, where, num_threads)
    if fast is not None:   # the common call (_fused.topk_fast says which), computed in C
        return fast
    arr, mask_where = _as_input(x)
    result_dtype, compute = _dtypes(arr.dtype, None)
    if arr.ndim == 0:
        raise ValueError("x: needs at least one dimension")
    ax = _one_axis(axis, arr.ndim)
    n = arr.shape[ax]
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, numbers.Integral):
        raise TypeError(f"k: expected an int, got {k!r}")
    k = int(k)
    if not 1 <= k <= n:
        raise ValueError(f"k: must be in 1..{n} (the length of axis {ax}), got {k}")
    sc = _scale(scale)
    wh = _where(where, mask_where, arr.shape)
    nt = _threads(num_threads)
    xc = arr
    if wh is not None:
        # masked-out entries become -inf after scaling: they take no part (probability 0)
        src = _native(arr, compute)
        plan = _plan(src, (ax,)) or _contiguous_plan(src.ndim, (ax,))
        xc = _empty_for_plan(src, plan, compute)
        _masked(xc, src, wh, sc, -np.inf, plan, nt)
        sc = 1.0
    x2, moved_shape = _rows(xc, (ax,), compute)
    values = np.empty((x2.shape[0], k), dtype=compute)
    indices = np.empty((x2.shape[0], k), dtype=np.int64)
    if x2.shape[0]:
        _fused.topk_rows(x2, values, indices, sc, nt)
    if wh is not None:
        fully_masked = ~wh.any(axis=ax).reshape(-1)
        values[fully_masked] = 0.0
    out_shape = moved_shape[:-1] + (k,)
    values = _unrows(values, out_shape, (ax,))
    indices = _unrows(indices, out_shape, (ax,))
    return (values if result_dtype == compute else _cast(values, result_dtype)), indices


def softmax_backward(grad: Any, y: Any, axis: Any, out: Any, num_threads: Any, log: bool) -> Any:
    fast = _fused.backward_fast(grad, y, axis, out, log, num_threads)
    if fast is not None:   # the common call (_fused.backward_fast says which), computed in C
        return fast
    fn = "log_softmax_backward" if log else "softmax_backward"
    g, mg = _as_input(grad, "grad")
    yy, my = _as_input(y, "y")
    _no_mask(mg, "grad", fn)
    _no_mask(my, "y", fn)
    if g.shape != yy.shape:
        raise ValueError(f"grad and y: shapes differ, {g.shape} and {yy.shape}")
    result_dtype, compute = _dtypes(np.promote_types(g.dtype, yy.dtype)
                                    if not (_is_bfloat16(g.dtype) or _is_bfloat16(yy.dtype))
                                    else np.dtype(np.float32), None)
    nt = _threads(num_threads)
    shape = g.shape
    _check_out(out, shape, result_dtype, g)
    _check_out(out, shape, result_dtype, yy)
    if g.ndim == 0:
        _check_scalar_axis(axis)
        axes: tuple[int, ...] = (0,)
        g, yy = g.reshape(1), yy.reshape(1)
    else:
        axes = _normalize_axes(axis, g.ndim)
    # ---- nothing has been written above this line ----
    if g.size == 0:
        return out if out is not None else np.empty(shape, dtype=result_dtype)
    g2, moved_shape = _rows(g, axes, compute)
    y2, _ = _rows(yy, axes, compute)
    trailing = axes == tuple(range(g.ndim - len(axes), g.ndim))
    direct = (out is not None and out.dtype == compute and out.flags.c_contiguous and trailing)
    res2 = out.reshape(g2.shape) if direct else np.empty(g2.shape, dtype=compute)
    _fused.backward_rows(g2, y2, res2, log, nt)
    if direct:
        return out
    res = _unrows(res2, moved_shape, axes).reshape(shape)
    if out is not None:
        _cast_into(out, res)
        return out
    return _cast(res, result_dtype)


def segment_softmax(values: Any, offsets: Any, log: Any, scale: Any, out: Any,
                    num_threads: Any) -> Any:
    arr, mask_where = _as_input(values, "values")
    _no_mask(mask_where, "values", "segment_softmax")
    if arr.ndim != 1:
        raise ValueError(f"values: expected a 1-D array, got {arr.ndim} dimensions")
    result_dtype, compute = _dtypes(arr.dtype, None)
    off = np.asarray(offsets)
    if off.ndim != 1 or off.size < 1:
        raise ValueError(f"offsets: expected a 1-D array of at least one element, got shape "
                         f"{off.shape}")
    if off.dtype.kind not in "iu":
        raise TypeError(f"offsets: expected integers, got dtype {off.dtype}")
    size = arr.shape[0]
    if off[0] != 0 or off[-1] != size:
        raise ValueError(f"offsets: must start at 0 and end at len(values) = {size}; got "
                         f"{off[0]} .. {off[-1]}")
    off64 = np.ascontiguousarray(off, dtype=np.int64)
    steps = np.diff(off64)
    if steps.size and steps.min() < 0:
        i = int(np.argmax(steps < 0))
        raise ValueError(f"offsets: must be non-decreasing; offsets[{i}] = {off64[i]} > "
                         f"offsets[{i + 1}] = {off64[i + 1]}")
    sc = _scale(scale)
    nt = _threads(num_threads)
    in_place = _check_out(out, arr.shape, result_dtype, arr)
    # ---- nothing has been written above this line ----
    if size == 0:
        return out if out is not None else np.empty(0, dtype=result_dtype)
    xc = np.ascontiguousarray(_native(arr, compute))
    direct = (out is not None and out.dtype == compute and out.flags.c_contiguous
              and (in_place or not np.may_share_memory(out, xc)))
    target = out if direct else np.empty(size, dtype=compute)
    algo = _resolve_algorithm("auto", compute, log)
    _fused.segment_rows(xc, target, off64, log, algo, sc, nt)
    if out is not None:
        if target is not out:
            _cast_into(out, target)
        return out
    return target if result_dtype == compute else _cast(target, result_dtype)
