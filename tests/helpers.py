"""Shared helpers of the test suite: the tolerance model, reference checks and memory layouts.

Every comparison is against ``softmax_fast._reference`` (plain NumPy, float64), evaluated on the
exact values the library sees (the input converted to float64, so no rounding of the input is
blamed on the library).
"""
from __future__ import annotations

import contextlib
import warnings

import numpy as np

from softmax_fast import _core
from softmax_fast import _reference as ref

ALGORITHMS = ("auto", "three-pass", "two-pass", "online")
DTYPES = (np.float32, np.float64)

#: Row lengths around every SIMD width and unroll boundary (tails of 1 .. 64+1 lanes).
TAIL_LENGTHS = (1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 129, 255, 257)
#: Long rows; rows of >= 65536 elements take the blocked code path (blocks of 16384).
LONG_LENGTHS = (1000, 65535, 65536, 65537, 100003)

# ---- tolerances --------------------------------------------------------------------------------
#
# The error model, in units of u = the unit roundoff of the result dtype (2^-24 for float32,
# 2^-53 for float64; float16 results use 2^-11). For one slice let v = scale * x (masked-out
# entries -inf), m = max(v), v0 = the slice's first value, p = softmax(v), and
#
#     d = |v - m|                         (elementwise)
#     E = |v0 - m| + sum(p * |v - m|)     (per slice)
#     s = |v| + |m|  if a scale is given, else 0
#     L = |logsumexp(v)|                  (per slice)
#
# * softmax:     |got - ref| <= (u * (TOL_CONST + TOL_SLOPE * (d + E + s))
#                                + u64 * TOL_SLOPE * L) * ref + tiny
# * log_softmax: |got - ref| <= u * (TOL_CONST * max(1, |ref|) + TOL_SLOPE * (E + s))
#                               + u64 * TOL_SLOPE * L
# * logsumexp:   |got - ref| <= u * (TOL_CONST * max(1, |ref|) + TOL_SLOPE * (E + s))
#
# Why each term:
# - d: float32 kernels round `v - m` (relative error u of |v - m|); exp turns that absolute error
#   into a relative error of the output. The float64 reference itself is exp(v - lse) and has
#   the same conditioning, so the term is needed for float64 too.
# - E: errors of the normaliser sum(exp(v - m)) are shared by the whole slice; each term carries
#   the error of its own `v - m` (weighted by p), and the two-pass algorithm subtracts the first
#   value v0 instead of the max (so terms carry |v - v0| <= |v - m| + |v0 - m|).
# - s: the kernels round `scale * x` in the compute dtype before subtracting (float32).
# - u64 * L: the reference's own error: it computes `x - lse` in float64, an absolute error of
#   u64 * |lse| that exp turns into a relative one (u64 = 2^-53; negligible for float32).
# - TOL_CONST: the exp polynomial (<= 2 ulp), the rounding of the sums (DESIGN section 6: it
#   must not grow with the row length; partial sums of a few dozen terms combined in float64
#   or pairwise stay within a few u on random data and ~32 u on equal terms, their worst
#   case), the final multiply, the rounding to the result dtype, and the reference's own
#   float64 rounding (pairwise sums: see `reference`).
# - tiny: the smallest normal number of the result dtype: results below it are subnormal and
#   may lose relative accuracy (exp of a very negative argument).
# On random logits the row kernels stay below a quarter of these bounds on this machine; a
# result outside them is a bug, not noise. Do not loosen them to make a test pass.
TOL_CONST = 32.0
TOL_SLOPE = 2.0
U64 = 2.0**-53


def unit_roundoff(dtype) -> float:
    return float(np.finfo(dtype).eps) / 2


def normalize_axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    axes = axis if isinstance(axis, tuple) else (axis,)
    return tuple(sorted(a % ndim for a in axes))


def _error_terms(x, axes, where, scale):
    """(v, d, E, s, p-weighted s, u64 * L) of the error model above, float64, per-slice terms
    with kept dims."""
    v = np.asarray(x, dtype=np.float64)
    if scale is not None:
        v = v * float(scale)
    if where is not None:
        v = np.where(where, v, -np.inf)
    with np.errstate(all="ignore"):
        m = np.max(v, axis=axes, keepdims=True) if v.size else v
        v0 = v[tuple(slice(0, 1) if k in axes else slice(None) for k in range(v.ndim))]
        d = np.abs(v - m)
        d0 = np.abs(v0 - m)
        p = np.exp(v - m)
        p = p / np.sum(p, axis=axes, keepdims=True)
        pd = np.where(np.isfinite(d) & (p > 0), p * d, 0.0)
        big_e = np.where(np.isfinite(d0), d0, 0.0) + np.sum(pd, axis=axes, keepdims=True)
        if scale is not None:
            s = np.abs(v) + np.abs(m)
        else:
            s = np.zeros_like(v)
        s_row = np.sum(np.where(np.isfinite(s) & (p > 0), p * s, 0.0), axis=axes, keepdims=True)
        p_lse = np.abs(reference("logsumexp", v, axes))
        ref_err = U64 * np.where(np.isfinite(p_lse), p_lse, 0.0)
    d = np.where(np.isfinite(d), d, 0.0)
    s = np.where(np.isfinite(s), s, 0.0)
    return v, d, big_e, s, s_row, ref_err


def reference(name, x, axes, *, where=None, scale=None):
    """`softmax_fast._reference.<name>` (softmax, log_softmax, or logsumexp with kept dims) of
    the float64 array `x` over `axes`, evaluated with the reduced axes moved last and made
    contiguous: NumPy then sums pairwise, so the oracle's own rounding error does not grow
    with the length of a non-last axis (a plain sum down axis 0 of a C array is sequential)."""
    k, nd = len(axes), x.ndim
    dest = tuple(range(nd - k, nd))
    moved = np.moveaxis(x, axes, dest)
    rows = np.ascontiguousarray(moved).reshape(moved.shape[:nd - k] + (-1,))
    w = None
    if where is not None:
        w = np.moveaxis(np.broadcast_to(where, x.shape), axes, dest).reshape(rows.shape)
    if name == "logsumexp":
        res = getattr(ref, name)(rows, axis=-1, keepdims=True, where=w, scale=scale)
        res = res.reshape(moved.shape[:nd - k] + (1,) * k)
    else:
        res = getattr(ref, name)(rows, axis=-1, where=w, scale=scale).reshape(moved.shape)
    return np.moveaxis(res, dest, axes)


def _same_specials(got, want, what):
    """NaN, +inf and -inf must sit exactly where the reference has them."""
    for name, test in (("NaN", np.isnan), ("+inf", np.isposinf), ("-inf", np.isneginf)):
        g, w = test(got), test(want)
        if not np.array_equal(g, w):
            bad = np.argwhere(g != w)[:5]
            raise AssertionError(f"{what}: {name} pattern differs from the reference at "
                                 f"{bad.tolist()} (got {got[tuple(bad[0])]!r}, "
                                 f"want {want[tuple(bad[0])]!r})")


def _report(what, got, want, err, tol):
    ratio = np.where(tol > 0, err / np.where(tol > 0, tol, 1), np.inf)
    i = np.unravel_index(np.argmax(ratio), ratio.shape)
    raise AssertionError(f"{what}: {np.count_nonzero(err > tol)} of {err.size} elements out of "
                         f"tolerance; worst at {tuple(int(k) for k in i)}: got {got[i]!r}, "
                         f"want {want[i]!r}, error {err[i]:.3g} > tol {tol[i]:.3g}")


def assert_softmax_close(got, x, axis=-1, *, where=None, scale=None, log=False,
                         result_dtype=None, what="softmax"):
    """Check `got` = softmax_fast.(log_)softmax(x, axis, where=, scale=) against the reference."""
    x64 = np.asarray(x, dtype=np.float64)
    result_dtype = np.dtype(result_dtype or got.dtype)
    assert got.dtype == result_dtype, f"{what}: dtype {got.dtype}, want {result_dtype}"
    assert got.shape == x64.shape, f"{what}: shape {got.shape}, want {x64.shape}"
    if x64.ndim == 0:
        x64, got = x64.reshape(1), np.asarray(got).reshape(1)
        axis = 0
        where = None if where is None else np.asarray(where).reshape(1)
    axes = normalize_axes(axis, x64.ndim)
    want = reference("log_softmax" if log else "softmax", x64, axes, where=where, scale=scale)
    got64 = np.asarray(got, dtype=np.float64)
    _same_specials(got64, want, what)
    u = unit_roundoff(result_dtype)
    _, d, big_e, s, s_row, ref_err = _error_terms(x64, axes, where, scale)
    finite = np.isfinite(want)
    with np.errstate(all="ignore"):
        err = np.where(finite, np.abs(got64 - want), 0.0)
        if log:
            tol = (u * (TOL_CONST * np.maximum(1.0, np.abs(want)) + TOL_SLOPE * (big_e + s_row))
                   + TOL_SLOPE * ref_err)
        else:
            tiny = float(np.finfo(result_dtype).smallest_normal)
            tol = ((u * (TOL_CONST + TOL_SLOPE * (d + big_e + s)) + TOL_SLOPE * ref_err)
                   * np.abs(want) + tiny)
    tol = np.where(finite, tol, 0.0)
    if np.any(err > tol):
        _report(what, got64, want, err, tol)
    if not log:  # exact zeros (masked-out, -inf) must stay exact
        zero = want == 0
        assert np.all(got64[zero] <= float(np.finfo(result_dtype).smallest_normal)), what


def assert_logsumexp_close(got, x, axis=None, *, keepdims=False, where=None, scale=None,
                           result_dtype=None, what="logsumexp"):
    x64 = np.asarray(x, dtype=np.float64)
    got64 = np.asarray(got, dtype=np.float64)
    if result_dtype is not None:
        assert np.asarray(got).dtype == np.dtype(result_dtype), \
            f"{what}: dtype {np.asarray(got).dtype}, want {np.dtype(result_dtype)}"
    u = unit_roundoff(np.asarray(got).dtype)
    if x64.ndim == 0:
        want = ref.logsumexp(x64, where=where, scale=scale)
        assert got64.shape == (), what
        _same_specials(got64.reshape(1), np.reshape(want, 1), what)
        if np.isfinite(want):
            assert abs(got64 - want) <= u * TOL_CONST * max(1.0, abs(want)), (what, got, want)
        return
    axes = normalize_axes(axis, x64.ndim)
    want = reference("logsumexp", x64, axes, where=where, scale=scale)
    if x64.size and all(x64.shape[a] for a in axes):
        _, _, big_e, _, s_row, _ = _error_terms(x64, axes, where, scale)
    else:
        big_e = s_row = np.zeros(want.shape)
    if not keepdims:
        want, big_e, s_row = (np.squeeze(a, axis=axes) for a in (want, big_e, s_row))
    assert got64.shape == want.shape, f"{what}: shape {got64.shape}, want {want.shape}"
    _same_specials(got64, want, what)
    finite = np.isfinite(want)
    with np.errstate(all="ignore"):
        err = np.where(finite, np.abs(got64 - want), 0.0)
        tol = u * (TOL_CONST * np.maximum(1.0, np.abs(want)) + TOL_SLOPE * (big_e + s_row))
    tol = np.where(finite, tol, 0.0)
    if np.any(err > tol):
        _report(what, np.atleast_1d(got64), np.atleast_1d(want), np.atleast_1d(err),
                np.atleast_1d(tol))


# ---- memory layouts -------------------------------------------------------------------------

#: Gaps around strided views are filled with this; a kernel reading them would produce it (or
#: NaN) in a result, a kernel writing them would change it.
SENTINEL = 4242.0

INPUT_LAYOUTS = ("C", "F", "reversed", "step", "transposed", "padded")


def _perm(ndim):
    """A cyclic permutation of the axes (for ndim >= 2 neither C nor F order for ndim 3)."""
    return tuple(range(1, ndim)) + (0,)


def strided_buffer(shape, dtype, fill):
    """(view, base): a view of `shape` taking every other element (from the second) of every
    axis of a larger `base` filled with `fill`."""
    base = np.full(tuple(2 * n + 1 for n in shape), fill, dtype=dtype)
    view = base[tuple(slice(1, 2 * n + 1, 2) for n in shape) + (Ellipsis,)]
    return view, base


def layout(a, kind, dtype=None):
    """A new array with the values of `a` (cast to `dtype`) laid out in memory as `kind`:
    C, F (Fortran), reversed (negative strides on every axis), step (every other element of a
    bigger buffer, NaN in the gaps), transposed (a permutation of the axes of a C array) or
    padded (contiguous rows inside wider rows)."""
    a = np.asarray(a)
    dtype = np.dtype(dtype or a.dtype)
    shape = a.shape
    if kind == "C":
        out = np.empty(shape, dtype)
    elif kind == "F":
        out = np.empty(shape, dtype, order="F")
    elif kind == "reversed":
        out = np.empty(shape, dtype)[(slice(None, None, -1),) * a.ndim]
    elif kind == "step":
        out, _ = strided_buffer(shape, dtype, np.nan)
    elif kind == "transposed":
        perm = _perm(a.ndim)
        out = np.empty([shape[k] for k in perm], dtype).transpose(np.argsort(perm))
    elif kind == "padded":
        if a.ndim == 0:
            out = np.empty(shape, dtype)
        else:
            wide = np.full(shape[:-1] + (shape[-1] + 5,), np.nan, dtype)
            out = wide[..., 2:shape[-1] + 2]
    else:
        raise ValueError(kind)
    out[...] = a
    return out


@contextlib.contextmanager
def using_isa(name):
    """Run the block with the kernel set `name`, restoring the previous one after."""
    previous = _core.current_isa()
    _core.select_isa(name)
    try:
        yield name
    finally:
        _core.select_isa(previous)


@contextlib.contextmanager
def strict(under="ignore"):
    """Any warning is an error, and so is any NumPy floating-point error that NumPy's default
    error state reports (overflow, invalid, divide by zero). Underflow is ignored unless asked,
    as NumPy does by default: a float16 probability rounding to a subnormal or 0 is a correct
    result."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise", under=under):
            yield


def logits(rng, shape, dtype=np.float64, scale=3.0, loc=0.0):
    """Moderate random logits: normal(loc, scale), rounded to `dtype`."""
    return (loc + scale * rng.standard_normal(shape)).astype(dtype)


def call(fn, *args, **kwargs):
    """Call a softmax_fast function under `strict()`: no call may warn."""
    with strict():
        return fn(*args, **kwargs)


def call_all_raise(fn, *args, **kwargs):
    """Call under warnings-as-errors and ``np.errstate(all="raise")`` (underflow included)."""
    with strict(under="raise"):
        return fn(*args, **kwargs)

