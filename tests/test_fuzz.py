"""Fuzzing (hypothesis, derandomized in conftest.py, a fixed budget per test): random shapes
(0-4 dims, sides 0..70, now and then a row of ~70000 elements: the blocked path), memory layouts
(C, Fortran, negative strides, steps, a permutation of the axes, padded rows, zero-stride
broadcast views, views that are not aligned), axes (int, negative, tuple, (), None), dtypes
(float16/32/64, int32, bool, byte-swapped '>f4'/'>f8'), where= masks (full or broadcast),
scale=, out= (fresh, strided, or x itself) and special values sprinkled in (NaN, +-inf, huge
finite, subnormal, a whole slice of -inf), on every ISA and algorithm.

Each result is checked twice:
* exactly, against DESIGN section 3 (per slice: any NaN -> all NaN / NaN, any +inf -> all NaN /
  +inf, only -inf -> all NaN / -inf, fully masked -> 0 / -inf / -inf, masked-out entries 0 /
  -inf), computed here from the input without the reference;
* numerically, against softmax_fast._reference with the suite's tolerance model
  (helpers.assert_softmax_close / assert_logsumexp_close, never loosened).

The reference's log_softmax of a slice holding +inf is -inf at its finite entries (x - inf),
where DESIGN says all NaN; for the numerical check such entries are fed to it as NaN (which DESIGN
treats the same way), so both checks agree.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import softmax_fast as sf
from softmax_fast import _core
from helpers import (ALGORITHMS, SENTINEL, assert_logsumexp_close, assert_softmax_close, call,
                     layout, normalize_axes, strided_buffer, using_isa)

ISAS = _core.available_isas()

#: Examples per test and ISA: about 35 s for the whole file on the 2-core CI machine (about
#: 1 minute against the ASan build of .ci/run).
EXAMPLES = 1200
LSE_EXAMPLES = 600

FUZZ = settings(max_examples=EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
LSE_FUZZ = settings(FUZZ, max_examples=LSE_EXAMPLES)

DTYPES = [np.dtype(d) for d in ("float32", "float64", "float16", "int32", "bool", ">f4", ">f8")]
#: Largest total size of a short-shape case (the long rows are apart).
MAX_SIZE = 4096
#: Row lengths of the long cases: rows of >= 65536 elements take the blocked path.
LONG_LENGTHS = (65536, 65537, 70001)
#: Near the SIMD widths and unroll boundaries (tails of 1 .. 64+1 lanes).
EDGE_SIDES = (1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 0)

LAYOUTS = ("C", "F", "reversed", "step", "transposed", "padded", "broadcast", "unaligned")
BASES = ("normal", "wide", "offset", "huge", "tiny", "constant", "sixty-fourths", "neginf")
SPECIALS = ("nan", "+inf", "-inf", "+huge", "-huge", "+subnormal", "-subnormal", "-inf slice")


def _huge(dtype):
    """Huge finite logits: 1e30 (float16: 8e3, so that scale * x and log_softmax stay inside
    float16's range: a log-probability below -65504 rounds to -inf, correctly)."""
    return 8e3 if dtype == np.float16 else 1e30


def _subnormal(dtype):
    return {2: 1e-6, 4: 1e-40, 8: 5e-320}[dtype.itemsize]


def result_dtype(dtype):
    dtype = np.dtype(dtype)
    return np.dtype(np.float64) if dtype.kind in "biu" else dtype.newbyteorder("=")


# ---- strategies ------------------------------------------------------------------------------

@st.composite
def short_shapes(draw):
    ndim = draw(st.sampled_from([1, 2, 3, 4, 0]))
    shape, size = [], 1
    for _ in range(ndim):
        cap = min(70, MAX_SIZE // size)
        side = draw(st.one_of(st.sampled_from([s for s in EDGE_SIDES if s <= cap]),
                              st.integers(0, cap)))
        shape.append(side)
        size *= max(side, 1)
    return tuple(shape)


@st.composite
def long_shapes(draw):
    n = draw(st.sampled_from(LONG_LENGTHS))
    return draw(st.sampled_from([(n,), (2, n), (n, 2)]))


@st.composite
def shapes(draw):
    # a long row in about one case in five (one draw in twelve; hypothesis favours the bounds)
    return draw(long_shapes()) if draw(st.integers(0, 11)) == 0 else draw(short_shapes())


def axes_for(ndim):
    if ndim == 0:
        return st.sampled_from([None, 0, -1, ()])
    return st.one_of(
        st.none(),
        st.integers(-ndim, ndim - 1),
        st.lists(st.integers(-ndim, ndim - 1), min_size=0, max_size=ndim)
        .map(lambda a: tuple({k % ndim: k for k in a}.values())))   # no repeated axis


scales = st.one_of(
    st.none(),
    st.sampled_from([1.0, -1.0, 0.0, 0.5, 2.0, -0.37, 1e-3]),
    # |scale| >= 1e-3: a scale below float32's range would round to 0 in the float32 kernels
    st.floats(-4.0, 4.0).filter(lambda s: s == 0 or abs(s) >= 1e-3))


def _base_values(rng, base, shape, dtype):
    """float64 values of the kind `base`, representable (finite) in `dtype`."""
    if dtype == np.bool_:
        return np.array(rng.random(shape) < 0.5).reshape(shape)
    if dtype.kind == "i" and base in ("tiny", "neginf"):
        base = "normal"
    huge = 2e9 if dtype.kind == "i" else _huge(dtype)
    if base == "normal":
        v = 3.0 * rng.standard_normal(shape)
    elif base == "wide":
        v = 100.0 * rng.standard_normal(shape)
    elif base == "offset":
        v = 1e4 + 10.0 * rng.random(shape)
    elif base == "huge":
        sign = rng.choice([1.0, -1.0, 0.0])
        v = huge * (1 + 1e-3 * rng.standard_normal(shape))
        if sign == 0.0:     # [0, 1] and -huge
            v = np.where(rng.random(shape) < 0.5, rng.random(shape), -v)
        else:
            v = sign * v
    elif base == "tiny":
        v = _subnormal(dtype) * rng.integers(-9, 10, shape)
    elif base == "constant":
        v = np.full(shape, rng.choice([0.0, 1.5, -40.0, 1e4]))
    elif base == "sixty-fourths":
        v = rng.integers(-640, 641, shape) / 64
    elif base == "neginf":
        v = np.full(shape, -np.inf)
    else:
        raise ValueError(base)
    if dtype.kind == "i":
        v = np.clip(np.round(v), -2**31 + 1, 2**31 - 1)
    return np.array(v, dtype=np.float64).reshape(shape)


def _sprinkle(values, specials, axes, dtype):
    """Put the special values at their (fractional) flat positions."""
    v = values.reshape(values.shape)    # a view when values is 0-d too
    size = v.size
    for frac, kind in specials:
        idx = np.unravel_index(min(int(frac * size), size - 1), v.shape)
        if kind == "-inf slice":
            sl = tuple(slice(None) if k in axes else i for k, i in enumerate(idx))
            v[sl] = -np.inf
            continue
        v[idx] = {"nan": np.nan, "+inf": np.inf, "-inf": -np.inf,
                  "+huge": _huge(dtype), "-huge": -_huge(dtype),
                  "+subnormal": _subnormal(dtype), "-subnormal": -_subnormal(dtype)}[kind]
        if kind.endswith("huge") and dtype == np.float64 and frac < 0.5:
            v[idx] *= 1e270     # +-1e300
    return v


def make_layout(values, dtype, kind, bdim):
    """An array of `dtype` with `values` (float64 or bool), laid out as `kind`."""
    shape = values.shape
    if values.ndim == 0 and kind not in ("C", "F", "unaligned"):
        kind = "C"
    if kind == "broadcast":
        # zero stride along `bdim`: the values of its first index, repeated
        first = np.take(values, [0], axis=bdim) if shape[bdim] else values
        return np.broadcast_to(first.astype(dtype), shape)
    if kind == "unaligned":
        buf = np.zeros(values.size * dtype.itemsize + 1, np.uint8)
        x = buf[1:].view(dtype).reshape(shape)
        x[...] = values
        return x
    if dtype.kind != "f" and kind in ("step", "padded"):   # helpers.layout pads with NaN
        if kind == "step":
            x, _ = strided_buffer(shape, dtype, 0)
        else:
            x = np.zeros(shape[:-1] + (shape[-1] + 5,), dtype)[..., 2:shape[-1] + 2]
        x[...] = values
        return x
    return layout(values, kind, dtype)


@st.composite
def cases(draw):
    """(x, axis, where, scale): x of any dtype, shape and layout, special values sprinkled."""
    dtype = draw(st.sampled_from(DTYPES))
    shape = draw(shapes())
    ndim = len(shape)
    axis = draw(axes_for(ndim))
    axes = normalize_axes(axis, max(ndim, 1))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    values = _base_values(rng, draw(st.sampled_from(BASES)), shape, dtype)
    size = int(np.prod(shape))
    if dtype.kind == "f" and size:
        specials = draw(st.lists(st.tuples(st.floats(0, 1, exclude_max=True),
                                           st.sampled_from(SPECIALS)), max_size=4))
        values = _sprinkle(values, specials, axes if ndim else (), dtype)
    kind = draw(st.sampled_from(LAYOUTS))
    bdim = draw(st.integers(0, ndim - 1)) if ndim else 0
    x = make_layout(values, dtype, kind, bdim)

    where = None
    wkind = draw(st.sampled_from(["none", "none", "full", "broadcast", "scalar"]))
    if wkind == "scalar":
        where = draw(st.booleans())
    elif wkind != "none":
        p = draw(st.sampled_from([0.2, 0.7, 0.95]))
        wshape = shape
        if wkind == "broadcast" and ndim:
            keep = draw(st.lists(st.booleans(), min_size=ndim, max_size=ndim))
            wshape = tuple(s if k else 1 for s, k in zip(shape, keep))
            wshape = wshape[draw(st.integers(0, ndim)):]     # fewer dims broadcast too
        where = rng.random(wshape) < p
    scale = draw(scales)
    return x, axis, where, scale


# ---- DESIGN section 3, exactly ---------------------------------------------------------------

def slice_kinds(x, axis, where, scale):
    """Per-slice classes (kept dims) and the unmasked entries, from the input alone."""
    v = np.asarray(x, dtype=np.float64).copy()
    if v.ndim == 0:
        v, axis = v.reshape(1), 0
        where = None if where is None else np.asarray(where).reshape(1)
    axes = normalize_axes(axis, v.ndim)
    if scale is not None:
        with np.errstate(invalid="ignore"):
            v = v * float(scale)
    unmasked = np.ones(v.shape, bool) if where is None else np.broadcast_to(where, v.shape)
    ve = np.where(unmasked, v, -np.inf)
    kw = {"axis": axes, "keepdims": True}
    nan = np.isnan(ve).any(**kw)
    pinf = np.isposinf(ve).any(**kw) & ~nan
    any_unmasked = unmasked.any(**kw)
    ninf_only = np.isneginf(ve).all(**kw) & any_unmasked
    return {"v": ve, "unmasked": unmasked, "axes": axes, "nan": nan, "pinf": pinf,
            "ninf_only": ninf_only, "fully_masked": ~any_unmasked,
            "some_masked": (~unmasked).any(**kw)}


def settle_disputed(x, axis, where, scale):
    """`where` with every slice that holds an unmasked NaN or +inf, or only -inf unmasked,
    unmasked whole. Such slices with masked-out entries are the one case where the library
    and the README disagree (see test_masked_out_entries_of_a_nan_slice below); the fuzz tests
    keep to what is agreed."""
    if where is None:
        return where
    k = slice_kinds(x, axis, where, scale)
    disputed = (k["nan"] | k["pinf"] | k["ninf_only"]) & k["some_masked"]
    if not disputed.any():
        return where
    full = np.array(np.broadcast_to(where, np.shape(x)))
    full |= np.broadcast_to(disputed, k["unmasked"].shape).reshape(full.shape)
    return full


def settle_scale(x, where, scale):
    """The scale to fuzz with, for what the checks can judge:
    * None instead of 0 with where= and an infinite x: that call warns
      (test_where_zero_scale_and_inf_does_not_warn below);
    * a power of two (an exact product) instead of a scale whose product with x has a rounding
      error u * |scale * x| that is not small: the kernels round scale * x in the compute dtype
      (README), the reference in float64, and the tolerance model's first-order term s holds only
      while that error is well below 1 (beyond it, e.g. float32 3 * 1e30 and 3 * 1.0000001e30
      round to the same value: softmax [0.5, 0.5], the reference [0, 1]).
      test_inexact_scale_equal_logits covers large logits with an inexact scale."""
    if scale is None:
        return None
    x64 = np.asarray(x, np.float64)
    if where is not None and scale == 0 and np.isinf(x64).any():
        return None
    finite = x64[np.isfinite(x64)]
    big = float(np.max(np.abs(finite))) * abs(scale) if finite.size else 0.0
    compute = np.float64 if result_dtype(x.dtype) == np.float64 else np.float32
    if big * float(np.finfo(compute).eps) > 2.0**-6 and scale != 0:
        return float(np.copysign(2.0 ** np.round(np.log2(abs(scale))), scale))
    return scale


def check_softmax_exact(got, x, axis, where, scale, log):
    k = slice_kinds(x, axis, where, scale)
    g = np.asarray(got, dtype=np.float64).reshape(k["v"].shape)
    shape = g.shape
    bad = np.broadcast_to(k["nan"] | k["pinf"] | k["ninf_only"], shape) & k["unmasked"]
    assert np.all(np.isnan(g[bad])), "a NaN / +inf / only -inf slice is not NaN"
    masked_value = -np.inf if log else 0.0
    assert np.all(g[~k["unmasked"]] == masked_value), "masked-out entries are not 0 / -inf"
    normal = ~np.broadcast_to(k["nan"] | k["pinf"] | k["ninf_only"] | k["fully_masked"], shape)
    finite_in = normal & np.isfinite(k["v"])
    assert np.all(np.isfinite(g[finite_in])), "a finite logit of a normal slice gives inf/NaN"
    if log:
        assert np.all(g[normal & np.isneginf(k["v"])] == -np.inf)
    else:
        assert np.all((g[normal] >= 0) & (g[normal] <= 1)), "a probability outside [0, 1]"
        assert np.all(g[normal & np.isneginf(k["v"])] == 0)


def check_logsumexp_exact(got, x, axis, where, scale, keepdims):
    k = slice_kinds(x, axis, where, scale)
    g = np.asarray(got, dtype=np.float64)
    if np.ndim(x) == 0:
        want_nan, want_pinf = k["nan"].reshape(()), k["pinf"].reshape(())
        want_ninf = (k["ninf_only"] | k["fully_masked"]).reshape(())
    else:
        sq = (lambda a: a) if keepdims else (lambda a: np.squeeze(a, axis=k["axes"]))
        want_nan, want_pinf = sq(k["nan"]), sq(k["pinf"])
        want_ninf = sq(k["ninf_only"] | k["fully_masked"])
    assert g.shape == np.shape(want_nan), (g.shape, np.shape(want_nan))
    assert np.array_equal(np.isnan(g), want_nan), "NaN slices"
    assert np.array_equal(np.isposinf(g), want_pinf), "+inf slices"
    assert np.array_equal(np.isneginf(g), want_ninf), "-inf slices"


def for_reference(x, where, scale):
    """x as float64, the unmasked entries that scale to +inf made NaN (see the module doc)."""
    x64 = np.asarray(x, dtype=np.float64).copy()
    with np.errstate(invalid="ignore"):
        v = x64 * float(scale) if scale is not None else x64
    pinf = np.isposinf(v)
    if where is not None:
        pinf &= np.broadcast_to(where, x64.shape)
    x64[pinf] = np.nan
    return x64


# ---- out= ------------------------------------------------------------------------------------

def make_out(kind, shape, dtype):
    """(out, base, view of base outside out or None)."""
    if kind == "step" and len(shape):
        out, base = strided_buffer(shape, dtype, SENTINEL)
        return out, base
    out = np.full(shape, SENTINEL, dtype, order="F" if kind == "F" else "C")
    if kind == "reversed" and out.ndim:
        out = out[(slice(None, None, -1),) * out.ndim]
    return out, None


def _writeable_same_dtype(x):
    return (isinstance(x, np.ndarray) and x.flags.writeable and x.dtype.isnative
            and x.dtype == result_dtype(x.dtype) and all(s != 0 for s in x.strides))


# ---- the tests ---------------------------------------------------------------------------------

@pytest.mark.parametrize("isa_name", ISAS)
@FUZZ
@given(case=cases(), algorithm=st.sampled_from(ALGORITHMS), log=st.booleans(),
       out_kind=st.sampled_from(["none", "none", "C", "F", "reversed", "step", "in-place"]))
def test_fuzz_softmax(isa_name, case, algorithm, log, out_kind):
    x, axis, where, scale = case
    scale = settle_scale(x, where, scale)
    where = settle_disputed(x, axis, where, scale)
    rdt = result_dtype(x.dtype)
    shape = np.shape(x)
    fn = sf.log_softmax if log else sf.softmax
    x_before = np.array(x, copy=True)
    if out_kind == "in-place" and not _writeable_same_dtype(x):
        out_kind = "none"
    out = base = None
    if out_kind == "in-place":
        out = x
    elif out_kind != "none":
        out, base = make_out(out_kind, shape, rdt)
    with using_isa(isa_name):
        got = call(fn, x, axis, algorithm=algorithm, where=where, scale=scale, out=out)
    if out is not None:
        assert got is out
    else:
        assert x.tobytes() == x_before.tobytes(), "x was written"
    if base is not None:
        assert np.count_nonzero(base == SENTINEL) == base.size - out.size, "wrote outside out"
    assert got.shape == shape and got.dtype == rdt, (got.shape, got.dtype)
    if x_before.size == 0:
        return
    check_softmax_exact(got, x_before, axis, where, scale, log)
    with np.errstate(invalid="ignore"):     # the oracle's own inf * 0 (scale 0)
        assert_softmax_close(got, for_reference(x_before, where, scale), axis, where=where,
                             scale=scale, log=log, result_dtype=rdt,
                             what=f"{'log_softmax' if log else 'softmax'} {algorithm}")


@pytest.mark.parametrize("isa_name", ISAS)
@LSE_FUZZ
@given(case=cases(), keepdims=st.booleans(), use_out=st.booleans())
def test_fuzz_logsumexp(isa_name, case, keepdims, use_out):
    x, axis, where, scale = case     # logsumexp has no masked-out entries to fill
    scale = settle_scale(x, where, scale)
    rdt = result_dtype(x.dtype)
    shape = np.shape(x)
    if len(shape) == 0:
        rshape = ()
    else:
        axes = normalize_axes(axis, len(shape))
        rshape = tuple(1 if d in axes else s for d, s in enumerate(shape) if keepdims or
                       d not in axes)
    out = np.full(rshape, SENTINEL, rdt) if use_out else None
    x_before = np.array(x, copy=True)
    with using_isa(isa_name):
        got = call(sf.logsumexp, x, axis, keepdims=keepdims, where=where, scale=scale, out=out)
    if use_out:
        assert got is out
    assert x.tobytes() == x_before.tobytes(), "x was written"
    assert np.shape(got) == rshape and np.asarray(got).dtype == rdt, (np.shape(got), rshape)
    if x_before.size == 0:
        red = [shape[d] for d in normalize_axes(axis, len(shape))]
        want = -np.inf if 0 in red else None     # a length-0 slice: log of an empty sum
        assert np.size(got) == 0 or np.all(np.asarray(got) == want)
        return
    check_logsumexp_exact(got, x_before, axis, where, scale, keepdims)
    with np.errstate(invalid="ignore"):     # the oracle's own inf * 0 (scale 0)
        assert_logsumexp_close(got, x_before, axis, keepdims=keepdims, where=where,
                               scale=scale, result_dtype=rdt)


# ---- found by the fuzz tests ------------------------------------------------------------------

# A slice with masked-out entries whose unmasked entries hold a NaN or +inf, or are all -inf:
# softmax_fast wrote NaN over the whole slice, masked-out entries included (fixed: _api writes
# 0 / -inf over every masked-out entry after the kernels). The README
# ("where: ... Masked-out entries take no part and come out as 0 (softmax) or -inf
# (log_softmax)") and softmax_fast._reference give 0 / -inf there (DESIGN section 3's "all NaN"
# row is about the slice's entries that take part). Minimal examples:
#     sf.softmax([nan, 1.0], where=[True, False])      -> was [nan, nan], want [nan, 0.0]
#     sf.log_softmax([inf, 1.0], where=[True, False])  -> [nan, nan], want [nan, -inf]
#     sf.softmax([-inf, 1.0], where=[True, False])     -> [nan, nan], want [nan, 0.0]
@pytest.mark.parametrize("isa_name", ISAS)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("log", [False, True], ids=["softmax", "log_softmax"])
@pytest.mark.parametrize("special", [np.nan, np.inf, -np.inf], ids=["nan", "+inf", "-inf"])
def test_masked_out_entries_of_a_nan_slice(isa_name, algorithm, log, special):
    x = np.array([special, 1.0])
    where = np.array([True, False])
    with using_isa(isa_name):
        got = call(sf.log_softmax if log else sf.softmax, x, where=where, algorithm=algorithm)
    assert np.isnan(got[0])
    assert got[1] == (-np.inf if log else 0.0), got


# where= with scale=0 and an infinite x: the where= path multiplies x by the scale with NumPy
# before masking, and inf * 0 warned (fixed: the product is taken under np.errstate) "invalid value encountered in multiply" (DESIGN section 2: no
# call ever emits a NumPy RuntimeWarning; under helpers.call it raises FloatingPointError), also
# when the infinite entry is masked out. Minimal:
#     sf.softmax([-inf, 1.0], where=[True, True], scale=0.0)    -> RuntimeWarning
#     sf.logsumexp([inf, 1.0], where=[False, True], scale=0.0)  -> RuntimeWarning
@pytest.mark.parametrize("fn_name", ["softmax", "log_softmax", "logsumexp"])
@pytest.mark.parametrize("special,mask", [(-np.inf, True), (np.inf, True), (np.inf, False)],
                         ids=["-inf", "+inf", "masked-out +inf"])
def test_where_zero_scale_and_inf_does_not_warn(fn_name, special, mask):
    x = np.array([special, 1.0])
    call(getattr(sf, fn_name), x, where=np.array([mask, True]), scale=0.0)


# An inexact scale: the max and the terms must both see scale * x rounded the same way. They did
# not while gcc fused scale * x into the subtraction of the max (-ffp-contract, now off): exp saw
# the product's rounding error, e.g. sf.softmax(np.float32([473.19577]), scale=0.375,
# algorithm="online") -> [1.0000076], and NaN / -inf for large logits (float32 [1e10], scale=3).
# Equal logits make the answer exact whatever the rounding (softmax 1/n, log_softmax -log n).
@pytest.mark.parametrize("isa_name", ISAS)
def test_inexact_scale_equal_logits(isa_name):
    errors = []
    with using_isa(isa_name):
        for dtype, bigs, scale in ((np.float32, (473.19577, 1e10, 1e30), 0.375),
                                   (np.float32, (1e10, 1e30), 3.0),
                                   (np.float64, (1e23, 1e30), 3.0)):
            u = float(np.finfo(dtype).eps) / 2
            for big in bigs:
                for n in (1, 2, 4, 64):
                    x = np.full(n, big, dtype)
                    for algorithm in ALGORITHMS:
                        y = call(sf.softmax, x, scale=scale, algorithm=algorithm)
                        ly = call(sf.log_softmax, x, scale=scale, algorithm=algorithm)
                        if not (np.all(y == 1 / n) and np.all(
                                np.abs(ly + np.log(n)) <= 32 * u * max(1.0, np.log(n)))):
                            errors.append((dtype.__name__, big, scale, n, algorithm, y[0], ly[0]))
                    lse = call(sf.logsumexp, x, scale=scale)
                    want = float(dtype(scale) * dtype(big)) + np.log(n)
                    if not abs(lse - want) <= 4 * u * abs(want) + 32 * u:
                        errors.append((dtype.__name__, big, scale, n, "logsumexp", lse, want))
    assert not errors, f"{len(errors)} wrong: " + "; ".join(map(str, errors[:8]))


# A native float32/float64 array that is not aligned (e.g. a view at an odd byte offset) was
# handed to the C kernels as it was (fixed: _api._native() copies it): astype(dtype,
# copy=False) returns the array itself when the dtype already matches. A misaligned
# float access is undefined behaviour in C; the UBSan build of .ci/run stops on it:
#     kernels_portable.inc:75: runtime error: load of misaligned address 0x...781 for type
#     'const float', which requires 4 byte alignment   (in sf_f32_max__scalar)
# Minimal (SOFTMAX_FAST_ISA=scalar, the SOFTMAX_FAST_SANITIZE=1 build):
#     x = np.zeros(33, np.uint8)[1:].view(np.float32); sf.softmax(x, axis=None)
# This test looks at what reaches the kernels, so it would fail the same way in any build.
def unaligned(n, dtype):
    """A writable float array of n elements at an odd byte address."""
    return np.zeros(n * dtype.itemsize + 1, np.uint8)[1:].view(dtype)


@pytest.mark.parametrize("fn_name", ["softmax", "log_softmax", "logsumexp"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("where", [None, "where"])
@pytest.mark.parametrize("out", [None, "unaligned out"])
def test_unaligned_input_is_not_handed_to_the_kernels(fn_name, dtype, where, out, monkeypatch):
    for name in ("softmax_3d", "logsumexp_3d", "softmax_rows", "logsumexp_rows"):
        kernel = getattr(_core, name)

        def checked(*args, _kernel=kernel, _name=name):
            for a in args:
                if isinstance(a, np.ndarray):
                    assert a.flags.aligned, f"{_name} got an unaligned {a.dtype} array"
            return _kernel(*args)
        monkeypatch.setattr(_core, name, checked)
    dtype = np.dtype(dtype)
    x = unaligned(37, dtype)
    x[...] = np.linspace(-3, 3, 37)
    assert not x.flags.aligned
    kw = {} if where is None else {"where": np.arange(37) % 5 != 0}
    if out is not None:   # an unaligned out= must not reach the kernels either
        kw["out"] = unaligned(1 if fn_name == "logsumexp" else 37, dtype)
        if fn_name == "logsumexp":
            kw["out"] = kw["out"].reshape(())
    got = call(getattr(sf, fn_name), x, axis=0, **kw)
    kw.pop("out", None)
    want = getattr(sf, fn_name)(x.copy(), axis=0, **kw)
    assert np.array_equal(got, want)
