"""DESIGN section 3: NaN, infinities, empty and 0-d inputs, huge finite logits, where= masks,
masked arrays, scale= and dtype=. Every library call runs with warnings as errors and NumPy's
overflow/invalid/divide errors raising (helpers.call), the where= tests with underflow raising
too (helpers.call_all_raise): no call may warn."""
import numpy as np
import pytest

import softmax_fast as sf
from helpers import (ALGORITHMS, DTYPES, assert_logsumexp_close, assert_softmax_close, call,
                     call_all_raise, layout, logits, unit_roundoff)

# ---- special values at many positions, on every code path -------------------------------------

# A slice holding `kind` gives, for (softmax, log_softmax, logsumexp):
NAN, PINF, NINF = np.nan, np.inf, -np.inf
ALL_NAN = "all NaN"
KINDS = {
    # kind: (values placed at the positions, expected softmax, log_softmax, logsumexp)
    "nan": ([NAN], ALL_NAN, ALL_NAN, NAN),
    "+inf": ([PINF], ALL_NAN, ALL_NAN, PINF),
    "+inf,+inf": ([PINF, PINF], ALL_NAN, ALL_NAN, PINF),
    "+inf,-inf": ([PINF, NINF], ALL_NAN, ALL_NAN, PINF),
    "nan,+inf": ([NAN, PINF], ALL_NAN, ALL_NAN, NAN),
    "nan,-inf": ([NAN, NINF], ALL_NAN, ALL_NAN, NAN),
    "-inf": ([NINF], "reference", "reference", "reference"),  # 0 / -inf there, finite lse
}


def _positions(n):
    """Every position of a short row (each lane of the first vectors and of the tail: 37 is
    two 16-lane vectors and a tail of 5, or one 32-lane pair and a tail of 5); in long rows
    first, middle, last, in a tail, at a block boundary."""
    if n <= 64:
        return list(range(n))
    pos = {0, n // 2, n - 1, max(0, n - 2)}
    if n > 16384:
        pos |= {16383, 16384, 65536 + 5}
    return sorted(p for p in pos if p < n)


def _place(row, kind, pos, n):
    """Put the special values of `kind` at `pos` (a second one a third of the row further)."""
    row = row.copy()
    for k, v in enumerate(KINDS[kind][0]):
        row[(pos + k * (1 + n // 3)) % n] = v
    return row


def _embed(row, path, rng, dtype):
    """(array, axis, index of the special slice in the array, index in logsumexp's result)
    placing `row` on the code path `path`; the other slices hold random finite logits and
    must come out as usual."""
    n = row.size
    if path == "row":
        return row, -1, (Ellipsis,), ()
    if path == "rows":        # second of three contiguous rows
        x = logits(rng, (3, n), dtype)
        x[1] = row
        return x, -1, (1,), (1,)
    if path == "gather":      # a strided row
        x = layout(logits(rng, (2, n), dtype), "step")
        x[0] = row
        return x, 1, (0,), (0,)
    if path == "column":      # a column of a C array along axis 0: the column-panel path
        x = logits(rng, (n, 5), dtype)
        x[:, 2] = row
        return x, 0, (slice(None), 2), (2,)
    raise ValueError(path)


def _check_special(fn_name, got, x, axis, index, expected):
    got = np.asarray(got)
    if expected == "reference":
        if fn_name == "logsumexp":
            assert_logsumexp_close(got, x, axis, what=fn_name)
            assert np.all(np.isfinite(got))
        else:
            assert_softmax_close(got, x, axis, log=fn_name == "log_softmax", what=fn_name)
        return
    special = got[index]
    if expected == ALL_NAN:
        assert np.all(np.isnan(special)), f"{fn_name}: want all NaN, got {special}"
    else:
        assert special.shape == () and (np.isnan(special) if np.isnan(expected)
                                        else special == expected), \
            f"{fn_name}: want {expected}, got {special}"
    # the other slices are unaffected
    mask = np.ones(x.shape if fn_name != "logsumexp" else got.shape, bool)
    mask[index] = False
    if mask.any():
        assert np.all(np.isfinite(got[mask])), f"{fn_name}: a finite slice is not finite"


@pytest.mark.parametrize("path,n", [("row", 5), ("row", 37), ("row", 1100), ("row", 70001),
                                    ("rows", 37), ("rows", 70001), ("gather", 37),
                                    ("gather", 70001), ("column", 37), ("column", 1100)])
@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_special_values(isa, algorithm, dtype, kind, path, n, rng):
    base = logits(rng, (n,), dtype)
    for pos in _positions(n):
        row = _place(base, kind, pos, n)
        x, axis, index, lse_index = _embed(row, path, rng, dtype)
        for fn_name, expected in zip(("softmax", "log_softmax", "logsumexp"), KINDS[kind][1:]):
            if fn_name == "logsumexp":
                if algorithm != "auto":
                    continue  # logsumexp has no algorithm argument
                got = call(sf.logsumexp, x, axis)
                _check_special(fn_name, got, x, axis, lse_index, expected)
            else:
                got = call(getattr(sf, fn_name), x, axis, algorithm=algorithm)
                _check_special(fn_name, got, x, axis, index, expected)


@pytest.mark.parametrize("n", [1, 5, 37, 1100, 70001])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_only_neg_inf(isa, algorithm, dtype, n):
    """A slice of only -inf: softmax/log_softmax all NaN, logsumexp -inf; the row next to it
    is unaffected."""
    x = np.full((2, n), -np.inf, dtype)
    x[1] = np.linspace(-3, 3, n)
    for fn in (sf.softmax, sf.log_softmax):
        y = call(fn, x, -1, algorithm=algorithm)                          # rows
        assert np.all(np.isnan(y[0])) and np.all(np.isfinite(y[1])), fn.__name__
        y = call(fn, np.ascontiguousarray(x.T), 0, algorithm=algorithm)  # columns
        assert np.all(np.isnan(y[:, 0])) and np.all(np.isfinite(y[:, 1])), fn.__name__
    assert call(sf.logsumexp, x, 1).tolist() == [-np.inf, call(sf.logsumexp, x[1])]
    assert call(sf.logsumexp, x[0]) == -np.inf


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_neg_inf_block(isa, algorithm, dtype, rng):
    """A whole 16384-element block of a long row is -inf (a block partial of (-inf, 0))."""
    x = logits(rng, (70001,), dtype)
    x[16384:32768] = -np.inf
    x[:100] = -np.inf
    for log in (False, True):
        y = call(sf.log_softmax if log else sf.softmax, x, algorithm=algorithm)
        assert_softmax_close(y, x, -1, log=log)
        assert np.all(y[16384:32768] == (-np.inf if log else 0.0))
    assert_logsumexp_close(call(sf.logsumexp, x), x)


# ---- empty and 0-d inputs ------------------------------------------------------------------------

@pytest.mark.parametrize("shape,axis", [((0,), -1), ((0,), None), ((3, 0), -1), ((3, 0), 1),
                                        ((0, 4), 0), ((0, 4), -1), ((2, 0, 3), 1),
                                        ((2, 0, 3), (0, 2)), ((2, 0, 3), None)])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_empty(algorithm, dtype, shape, axis):
    x = np.zeros(shape, dtype)
    for fn in (sf.softmax, sf.log_softmax):
        y = call(fn, x, axis, algorithm=algorithm)
        assert y.shape == shape and y.dtype == dtype
    res = np.asarray(call(sf.logsumexp, x, axis))
    axes = tuple(range(len(shape))) if axis is None else np.atleast_1d(axis) % len(shape)
    want_shape = tuple(s for k, s in enumerate(shape) if k not in axes)
    assert res.shape == want_shape and res.dtype == dtype
    # a slice of length 0 gives -inf; a slice over non-empty axes of an empty array is empty
    if any(shape[a] == 0 for a in axes):
        assert np.all(res == -np.inf)
    keep = np.asarray(call(sf.logsumexp, x, axis, keepdims=True))
    assert keep.shape == tuple(1 if k in axes else s for k, s in enumerate(shape))


@pytest.mark.parametrize("value", [0.0, 3.5, -7.25, 1e30, -1e30])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_zero_d(algorithm, dtype, value):
    x = np.asarray(value, dtype)
    for fn, want in ((sf.softmax, 1.0), (sf.log_softmax, 0.0)):
        for axis in (-1, 0, None):
            y = call(fn, x, axis, algorithm=algorithm)
            assert isinstance(y, np.ndarray) and y.shape == () and y.dtype == dtype
            assert y == want
        out = np.full((), 99.0, dtype)
        assert call(fn, x, out=out, algorithm=algorithm) is out and out == want
    res = call(sf.logsumexp, x)
    assert np.shape(res) == () and np.asarray(res).dtype == dtype and res == x
    assert call(sf.logsumexp, value) == value   # a Python float
    assert call(sf.softmax, value) == 1.0


@pytest.mark.parametrize("value,sm,lse", [(np.nan, NAN, NAN), (np.inf, NAN, PINF),
                                          (-np.inf, NAN, NINF)])
def test_zero_d_specials(value, sm, lse):
    for fn in (sf.softmax, sf.log_softmax):
        assert np.isnan(call(fn, np.float64(value)))
    got = call(sf.logsumexp, np.float32(value))
    assert (np.isnan(got) if np.isnan(lse) else got == lse)


# ---- huge finite logits ------------------------------------------------------------------------

def _huge_cases(dtype, rng, n):
    yield "[1e4, 1e4+10]", rng.uniform(1e4, 1e4 + 10, n).astype(dtype)
    yield "[90, 100]", rng.uniform(90, 100, n).astype(dtype)
    yield "[-100, -90]", rng.uniform(-100, -90, n).astype(dtype)
    yield "1e30 spread", (1e30 * (1 + 1e-3 * rng.standard_normal(n))).astype(dtype)
    yield "-1e30 spread", (-1e30 * (1 + 1e-3 * rng.standard_normal(n))).astype(dtype)
    yield "[0, 1] and -1e30", np.where(rng.random(n) < 0.5, rng.random(n), -1e30).astype(dtype)


@pytest.mark.parametrize("n", [7, 100, 70001])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_huge_logits_match_reference(isa, algorithm, dtype, n, rng):
    for name, row in _huge_cases(dtype, rng, n):
        for x, axis in ((row, -1), (np.stack([row, row[::-1]], axis=1), 0)):  # row, columns
            for log in (False, True):
                y = call(sf.log_softmax if log else sf.softmax, x, axis, algorithm=algorithm)
                assert_softmax_close(y, x, axis, log=log, what=f"{name} log={log}")
            if algorithm == "auto":
                assert_logsumexp_close(call(sf.logsumexp, x, axis), x, axis, what=name)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("big", [1e4, 1e30, -1e30])
def test_huge_logits_exact(isa, algorithm, dtype, big):
    """Values whose answer is known exactly (no reference involved)."""
    x = np.array([big, big, big, big], dtype)
    assert np.array_equal(call(sf.softmax, x, algorithm=algorithm), np.full(4, 0.25, dtype))
    two = np.array([big, big], dtype)
    assert np.allclose(call(sf.log_softmax, two, algorithm=algorithm), -np.log(2), rtol=1e-6)
    if abs(big) < 1e20:   # (big + log 4 is big itself at 1e30)
        assert abs(call(sf.logsumexp, x) - (float(dtype(big)) + np.log(4))) <= \
            4 * unit_roundoff(dtype) * abs(big)
    else:
        assert call(sf.logsumexp, x) == dtype(big)
    onehot = np.array([0.0, big, -1e30, 1.0], dtype)
    want = np.zeros(4)
    want[np.argmax(onehot)] = 1.0
    if big > 0:
        assert np.array_equal(call(sf.softmax, onehot, algorithm=algorithm), want)
    y = call(sf.softmax, np.array([1e30, -1e30], dtype), algorithm=algorithm)
    assert np.array_equal(y, [1.0, 0.0])


# ---- where= and masked arrays --------------------------------------------------------------------

@pytest.mark.parametrize("shape,axis", [((37,), -1), ((6, 37), -1), ((6, 37), 0),
                                        ((4, 5, 33), (0, 2)), ((4, 5, 33), None),
                                        ((3, 70001), -1)])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_where(isa, algorithm, dtype, shape, axis, rng):
    x = logits(rng, shape, dtype)
    where = rng.random(shape) < 0.6
    # a fully masked slice, and masked-out NaN/inf that must take no part
    if axis == -1 and len(shape) == 2:
        where[2] = False
    flat_x, flat_w = x.reshape(-1), where.reshape(-1)
    off = np.flatnonzero(~flat_w)
    flat_x[off[: 3]] = [np.nan, np.inf, -np.inf][: len(off[:3])]
    for log in (False, True):
        y = call_all_raise(sf.log_softmax if log else sf.softmax, x, axis, where=where,
                 algorithm=algorithm)
        assert_softmax_close(y, x, axis, where=where, log=log)
        assert np.all(y[~where] == (-np.inf if log else 0.0))
        assert not np.any(np.isnan(y))
    if algorithm == "auto":
        for keepdims in (False, True):
            res = call_all_raise(sf.logsumexp, x, axis, where=where, keepdims=keepdims)
            assert_logsumexp_close(res, x, axis, where=where, keepdims=keepdims)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_where_fully_masked(isa, algorithm, dtype, rng):
    x = logits(rng, (4, 9), dtype)
    where = np.zeros((4, 9), bool)
    where[1, 3] = True
    y = call_all_raise(sf.softmax, x, where=where, algorithm=algorithm)
    assert np.array_equal(y, np.where(where, 1.0, 0.0).astype(dtype))
    y = call_all_raise(sf.log_softmax, x, where=where, algorithm=algorithm)
    assert np.array_equal(y, np.where(where, 0.0, -np.inf).astype(dtype))
    assert np.array_equal(call_all_raise(sf.logsumexp, x, -1, where=where),
                          np.where(where.any(-1), x[1, 3], -np.inf).astype(dtype))
    # everything masked
    nothing = np.zeros_like(where)
    assert np.array_equal(
        call_all_raise(sf.softmax, x, None, where=nothing, algorithm=algorithm), np.zeros_like(x))
    assert np.all(call_all_raise(sf.log_softmax, x, 0, where=nothing) == -np.inf)
    assert call_all_raise(sf.logsumexp, x, where=nothing) == -np.inf


def test_where_in_place_and_0d(rng):
    x = logits(rng, (3, 40))
    where = rng.random((3, 40)) < 0.5
    where[1] = False
    for log in (False, True):
        fn = sf.log_softmax if log else sf.softmax
        y = x.copy()
        assert call_all_raise(fn, y, where=where, scale=-1.5, out=y) is y
        assert_softmax_close(y, x, -1, where=where, scale=-1.5, log=log)
    assert call_all_raise(sf.softmax, 3.0, where=False) == 0.0
    assert call_all_raise(sf.log_softmax, 3.0, where=False) == -np.inf
    assert call_all_raise(sf.logsumexp, 3.0, where=False) == -np.inf
    assert call_all_raise(sf.softmax, 3.0, where=True) == 1.0


@pytest.mark.parametrize("where_shape", [(9,), (4, 1), (1, 9), ()])
def test_where_broadcasts(where_shape, rng):
    x = logits(rng, (4, 9))
    where = rng.random(where_shape) < 0.7
    full = np.broadcast_to(where, x.shape)
    for log in (False, True):
        fn = sf.log_softmax if log else sf.softmax
        assert np.array_equal(call_all_raise(fn, x, where=where),
                              call_all_raise(fn, x, where=full.copy()))
    assert np.array_equal(call_all_raise(sf.logsumexp, x, 1, where=where),
                          call_all_raise(sf.logsumexp, x, 1, where=full.copy()))


@pytest.mark.parametrize("dtype", DTYPES)
def test_masked_array(isa, dtype, rng):
    data = logits(rng, (5, 20), dtype)
    mask = rng.random((5, 20)) < 0.3
    mask[3] = True
    m = np.ma.masked_array(data, mask=mask)
    for fn in (sf.softmax, sf.log_softmax):
        got = call_all_raise(fn, m)
        assert np.array_equal(np.asarray(got), call_all_raise(fn, data, where=~mask))
        assert_softmax_close(np.asarray(got), data, -1, where=~mask, log=fn is sf.log_softmax)
    assert np.array_equal(call_all_raise(sf.logsumexp, m, axis=1),
                          call_all_raise(sf.logsumexp, data, 1, where=~mask))
    # the mask and where= combine
    extra = rng.random((5, 20)) < 0.8
    assert np.array_equal(call_all_raise(sf.softmax, m, where=extra),
                          call_all_raise(sf.softmax, data, where=extra & ~mask))
    # no mask at all: the plain result
    assert np.array_equal(call_all_raise(sf.softmax, np.ma.masked_array(data)),
                          call_all_raise(sf.softmax, data))


# ---- scale= ------------------------------------------------------------------------------------

@pytest.mark.parametrize("scale", [0.5, 2.0, -1.0, -0.37, 1e-3, 0.0])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_scale(isa, algorithm, dtype, scale, rng):
    for shape, axis in (((5, 37), -1), ((70001,), -1), ((300, 70), 0), ((6, 37), (0, 1))):
        x = logits(rng, shape, dtype)
        where = rng.random(shape) < 0.7
        for log in (False, True):
            fn = sf.log_softmax if log else sf.softmax
            y = call(fn, x, axis, scale=scale, algorithm=algorithm)
            assert_softmax_close(y, x, axis, scale=scale, log=log)
            y = call(fn, x, axis, scale=scale, where=where, algorithm=algorithm)
            assert_softmax_close(y, x, axis, scale=scale, where=where, log=log)
        if algorithm == "auto":
            assert_logsumexp_close(call(sf.logsumexp, x, axis, scale=scale), x, axis,
                                   scale=scale)
            assert_logsumexp_close(call(sf.logsumexp, x, axis, scale=scale, where=where), x,
                                   axis, scale=scale, where=where)


def test_scale_is_temperature(rng):
    """scale=1/T on x equals the function of x/T when x/T is exact (T a power of two)."""
    x = logits(rng, (8, 50))
    for fn in (sf.softmax, sf.log_softmax):
        assert np.array_equal(call(fn, x, scale=0.25), call(fn, x / 4))
    assert call(sf.logsumexp, x, scale=-2.0) == call(sf.logsumexp, -2 * x)


# ---- dtype= and input dtypes -------------------------------------------------------------------

@pytest.mark.parametrize("in_dtype", [np.int8, np.int32, np.int64, np.uint16, np.bool_])
def test_int_and_bool_compute_in_float64(in_dtype, rng):
    x = rng.integers(0, 2 if in_dtype is np.bool_ else 50, (4, 30)).astype(in_dtype)
    for fn, log in ((sf.softmax, False), (sf.log_softmax, True)):
        y = call(fn, x)
        assert y.dtype == np.float64
        assert np.array_equal(y, call(fn, x.astype(np.float64)))
        assert_softmax_close(y, x, -1, log=log)
    res = call(sf.logsumexp, x, 1)
    assert res.dtype == np.float64
    assert_logsumexp_close(res, x, 1)
    assert np.asarray(call(sf.logsumexp, x)).dtype == np.float64


@pytest.mark.parametrize("to", DTYPES)
@pytest.mark.parametrize("frm", [np.float32, np.float64, np.float16, np.int32])
def test_dtype_argument_casts_first(frm, to, rng):
    x = (rng.standard_normal((4, 40)) * 3).astype(frm)
    for fn in (sf.softmax, sf.log_softmax):
        y = call(fn, x, dtype=to)
        assert y.dtype == to
        assert np.array_equal(y, call(fn, x.astype(to)))
    res = call(sf.logsumexp, x, 1, dtype=to)
    assert res.dtype == to and np.array_equal(res, call(sf.logsumexp, x.astype(to), 1))


def test_dtype_float16(rng):
    """float16 in, float16 out (computed in float32), for all three functions."""
    x = logits(rng, (6, 50), np.float16, scale=2.0)
    for fn, log in ((sf.softmax, False), (sf.log_softmax, True)):
        y = call(fn, x)
        assert y.dtype == np.float16
        assert_softmax_close(y, x, -1, log=log, result_dtype=np.float16)
        # the float32 result rounded to float16 is within 0.5 ulp too; the 16-bit kernels'
        # lighter exp (2^-18.5) may round the other way at a near-tie: 1 ulp apart at most
        via32 = call(fn, x.astype(np.float32)).astype(np.float16)
        apart = np.abs(y.view(np.int16).astype(np.int32) - via32.view(np.int16).astype(np.int32))
        assert apart.max() <= 1
        out = np.empty(x.shape, np.float16)
        assert call(fn, x, out=out) is out and np.array_equal(out, y)
    res = call(sf.logsumexp, x, 1)
    assert res.dtype == np.float16
    assert_logsumexp_close(res, x, 1, result_dtype=np.float16)
    assert np.asarray(call(sf.logsumexp, x)).dtype == np.float16
    assert call(sf.softmax, x, dtype=np.float16).dtype == np.float16


def test_dtype_float16_extreme_log_softmax():
    """log_softmax of float16 logits whose result is below -65504: the exact result rounds to
    -inf in float16, and (DESIGN section 2) no call ever emits a RuntimeWarning."""
    x = np.array([-6e4, 6e4], np.float16)
    y = call(sf.log_softmax, x)
    assert y.dtype == np.float16 and y[1] == 0 and y[0] == -np.inf


def test_dtype_bfloat16(rng):
    """bfloat16 in, bfloat16 out: the float32 result rounded, where the rows go through the
    float32 kernels; the AVX-512 16-bit kernel's lighter exp is within 0.55 ulp of the exact
    result (test_half.py), so where the exact value lies near the middle of two bfloat16 values
    its rounding may be the other neighbour."""
    ml_dtypes = pytest.importorskip("ml_dtypes")
    x = logits(rng, (4, 33), np.float32).astype(ml_dtypes.bfloat16)
    y = call(sf.softmax, x)
    assert y.dtype == x.dtype
    f32 = call(sf.softmax, x.astype(np.float32)).astype(ml_dtypes.bfloat16)
    if sf.show_config()["isa"] == "avx512":
        assert np.abs(y.view(np.int16).astype(int) - f32.view(np.int16).astype(int)).max() <= 1
    else:
        assert np.array_equal(y, f32)


def test_non_native_byte_order(rng):
    x = logits(rng, (5, 30))
    swapped = x.astype(x.dtype.newbyteorder())
    for fn in (sf.softmax, sf.log_softmax):
        assert np.array_equal(call(fn, swapped), call(fn, x))
    assert call(sf.logsumexp, swapped) == call(sf.logsumexp, x)


def test_array_likes():
    assert np.array_equal(call(sf.softmax, [[1.0, 2.0], [3.0, 3.0]]),
                          call(sf.softmax, np.array([[1.0, 2.0], [3.0, 3.0]])))
    assert np.array_equal(call(sf.log_softmax, (0, 0)), [-np.log(2), -np.log(2)])
    assert call(sf.logsumexp, [0.0, 0.0]) == np.log(2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["C", "F", "strided", "mask row", "mask column", "mask scalar"])
@pytest.mark.parametrize("axes", [(1,), (0,), (0, 1)])
def test_where_masked_pass(dtype, layout, axes, rng):
    """The masked pass of where= (_api._masked: C when the arrays have (outer, n, inner) views,
    else NumPy): target = scale * x where the mask holds (rounded once in the dtype, inf * 0
    NaN), else the fill; and the output pass, fill where the mask does not hold."""
    from softmax_fast import _api
    x = (rng.standard_normal((7, 45)) * 50).astype(dtype)
    x[0, :3] = [np.inf, -np.inf, np.nan]
    mask = rng.random((7, 45)) < 0.6
    if layout == "F":
        x = np.asfortranarray(x)
    elif layout == "strided":
        x = np.repeat(x, 2, axis=1)[:, ::2]
    elif layout == "mask row":
        mask = np.broadcast_to(mask[:1], x.shape)
    elif layout == "mask column":
        mask = np.broadcast_to(mask[:, :1], x.shape)
    elif layout == "mask scalar":
        mask = np.broadcast_to(np.array(False), x.shape)
    for sc in (1.0, -0.37, 0.0):
        with np.errstate(all="ignore"):
            want = np.where(mask, x * dtype(sc), dtype(-np.inf))
        plan = _api._plan(x, axes) or _api._contiguous_plan(x.ndim, axes)
        target = _api._empty_for_plan(x, plan, np.dtype(dtype))
        _api._masked(target, x, mask, sc, -np.inf, plan, 2)
        assert target.tobytes() == want.astype(dtype).tobytes()   # bits: -0.0, NaN too
        _api._masked(target, None, mask, 1.0, 0.0, plan, 2)
        assert target.tobytes() == np.where(mask, want, dtype(0.0)).astype(dtype).tobytes()
