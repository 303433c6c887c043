"""The fast path's gate (`_core.fast_plan`, `_core.fast_lse_plan`): the common call is judged
in C; anything else must reach the full path, which checks, explains and computes it. Each
refused case must also give what the full path gives on a plain copy (or raise as it does)."""
import numpy as np
import pytest

import softmax_fast as sf
from softmax_fast import _core


def _plain(dtype=np.float32, shape=(3, 8)):
    return np.linspace(-3, 3, int(np.prod(shape))).astype(dtype).reshape(shape)


def _refused_calls():
    x = _plain()
    base = np.zeros(x.size * 4 + 1, np.uint8)
    unaligned = base[1:1 + x.nbytes].view(np.float32).reshape(x.shape)
    unaligned[...] = x
    readonly = np.empty_like(x)
    readonly.flags.writeable = False
    buf = _plain(shape=(25,))
    return {
        "list": (x.tolist(), -1, None, "auto", None),
        "subclass": (np.ma.masked_array(x), -1, None, "auto", None),
        "0-d": (np.float32(1.0) * np.ones((), np.float32), -1, None, "auto", None),
        "empty": (np.empty((3, 0), np.float32), -1, None, "auto", None),
        "byte-swapped": (x.astype(">f4"), -1, None, "auto", None),
        "int": (x.astype(np.int32), -1, None, "auto", None),
        "strided": (_plain(shape=(3, 16))[:, ::2], -1, None, "auto", None),
        "unaligned": (unaligned, -1, None, "auto", None),
        "axis out of range": (x, 2, None, "auto", None),
        "axis negative out of range": (x, -3, None, "auto", None),
        "axis tuple": (x, (0,), None, "auto", None),
        "axis 0 float16": (x.astype(np.float16), 0, None, "auto", None),
        "axis bool": (x, True, None, "auto", None),
        "axis numpy int": (x, np.int64(-1), None, "auto", None),
        "axis huge": (x, 2 ** 70, None, "auto", None),
        "out read-only": (x, -1, readonly, "auto", None),
        "out overlapping": (buf[:-1].reshape(3, 8), -1, buf[1:].reshape(3, 8), "auto", None),
        "out float64": (x, -1, np.empty(x.shape), "auto", None),
        "out shape": (x, -1, np.empty((8, 3), np.float32), "auto", None),
        "out list": (x, -1, [0.0] * 24, "auto", None),
        "algorithm unknown": (x, -1, None, "fastest", None),
        "algorithm not str": (x, -1, None, 3, None),
        "threads 0": (x, -1, None, "auto", 0),
        "threads bool": (x, -1, None, "auto", True),
        "threads float": (x, -1, None, "auto", 2.0),
        "threads huge": (x, -1, None, "auto", 2 ** 70),
    }


# scales the gate leaves to the full path (it takes None and finite Python floats)
REFUSED_SCALES = {"scale inf": float("inf"), "scale nan": float("nan"), "scale int": 2,
                  "scale numpy": np.float32(0.5), "scale str": "2", "scale bool": True}


@pytest.mark.parametrize("case", sorted(_refused_calls()) + sorted(REFUSED_SCALES))
@pytest.mark.parametrize("log", [False, True])
def test_fast_plan_refuses_uncommon_calls(case, log):
    if case in REFUSED_SCALES:
        x, axis, out, algorithm, num_threads = _plain(), -1, None, "auto", None
        scale = REFUSED_SCALES[case]
    else:
        x, axis, out, algorithm, num_threads = _refused_calls()[case]
        scale = None
    assert _core.fast_plan(x, axis, out, algorithm, num_threads, scale, None, log) is None
    fn = sf.log_softmax if log else sf.softmax
    kw = dict(axis=axis, out=out, algorithm=algorithm, num_threads=num_threads, scale=scale)
    try:
        want = fn(np.array(x, copy=True), **{**kw, "out": None})
    except Exception as e:   # the full path's verdict on the arguments themselves
        with pytest.raises(type(e)):
            fn(x, **kw)
        return
    try:
        got = fn(x, **kw)
    except (TypeError, ValueError):   # a bad out= is refused by the full path: fine
        assert out is not None
        return
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_fast_plan_takes_common_calls(dtype):
    x = _plain(dtype)
    out = np.empty_like(x)
    cases = [(-1, None, None, None), (1, out, 1, 0.5), (-1, x, 2, -3.0)]
    if dtype != np.float16:   # another axis: float32 / float64 only
        cases += [(0, None, None, None), (-2, out, 1, 2.0)]
    for axis, o, nt, scale in cases:
        plan = _core.fast_plan(x, axis, o, "auto", nt, scale, None, False)
        assert plan is not None
        res, algo, half, sc, ax, threads = plan
        assert ax == axis % x.ndim
        assert res.shape == x.shape and res.dtype == x.dtype
        assert (res is o) if o is not None else not np.shares_memory(res, x)
        assert half == (1 if dtype == np.float16 else 0)
        assert sc == (1.0 if scale is None else scale)
        assert threads == (nt if nt is not None else _core.omp_max_threads())
    for name, code in (("three-pass", _core.THREE_PASS), ("two-pass", _core.TWO_PASS),
                       ("online", _core.ONLINE)):
        assert _core.fast_plan(x, -1, None, name, 1, None, None, True)[1] == code


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("scale", [0.7, -2.5, 1e-3])
def test_fast_path_scale_same_bits_as_full_path(dtype, log, scale):
    """A temperature on the fast path gives the bits of the full path (taken with dtype=), and
    for float32/float64 those of strided rows too. (16-bit rows with a scale may differ by one
    code between contiguous and strided rows: the whole-row kernel against the float32 buffer.)"""
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((5, 300)) * 4).astype(dtype)
    fn = sf.log_softmax if log else sf.softmax
    got = fn(x, scale=scale)
    assert got.tobytes() == fn(x, scale=scale, dtype=dtype).tobytes()
    if dtype != np.float16:
        strided = np.empty((5, 600), dtype)[:, ::2]
        strided[...] = x
        assert _core.fast_plan(strided, -1, None, "auto", None, scale, None, log) is None
        assert got.tobytes() == fn(strided, scale=scale).tobytes()


def test_fast_lse_plan():
    x = _plain()
    res, ax, nt = _core.fast_lse_plan(x, None, False, 1)
    assert ax == -1 and res.shape == () and nt == 1
    res, ax, nt = _core.fast_lse_plan(x, None, True, 1)
    assert ax == -1 and res.shape == (1, 1)
    res, ax, nt = _core.fast_lse_plan(x, -1, False, None)
    assert ax == 1 and res.shape == (3,) and res.dtype == np.float32
    res, ax, nt = _core.fast_lse_plan(x, 0, True, None)
    assert ax == 0 and res.shape == (1, 8)
    for args in ((x, 2, False, None), (x, -3, False, None), (x, (0,), False, None),
                 (x.astype(">f4"), -1, False, None), (x[:, ::2], -1, False, None),
                 (x.astype(np.float16), -1, False, None), (x, -1, False, 0),
                 (x, True, False, None), (np.empty((0, 3), np.float32), -1, False, None),
                 (x.tolist(), -1, False, None)):
        assert _core.fast_lse_plan(*args) is None
    np.testing.assert_array_equal(sf.logsumexp(x, axis=-1), sf.logsumexp(x.copy(order="F"), axis=-1))
    assert sf.logsumexp(x) == sf.logsumexp(x.astype(">f4"))


def _same(a, b):
    """Bit for bit, except which NaN: the sign of an invalid operation's NaN (inf - inf) can
    depend on whether its element fell in a vector's masked head, that is on the array's
    alignment, which the two paths choose differently."""
    nan = np.isnan(a)
    return np.array_equal(nan, np.isnan(b)) and a[~nan].tobytes() == b[~nan].tobytes()


def _masks(rng, shape):
    full = rng.random(shape) < 0.7
    return {"full": full, "row": full[:1], "last only": full[0], "column": full[:, :1],
            "scalar": np.array(True), "strided": np.repeat(full, 2, axis=-1)[..., ::2],
            "fully masked row": np.concatenate([full[:1] & False, full[1:]])}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("shape", [(6, 37), (3, 70001), (1, 140000), (2, 3, 40)])
@pytest.mark.parametrize("scale", [None, -0.8])
def test_fast_path_where_same_bits_as_full_path(dtype, log, shape, scale):
    """where= on the fast path (row by row in cache) gives the bits of the full path (three
    passes over the array, taken here with dtype=): broadcast masks, fully masked rows, NaN and
    inf in and out of the mask, rows cut into blocks, one or two threads."""
    rng = np.random.default_rng(11)
    x = (rng.standard_normal(shape) * 20).astype(dtype)
    x.reshape(-1)[:4] = [np.nan, np.inf, -np.inf, np.inf]
    x[-1, ..., 5] = np.inf
    fn = sf.log_softmax if log else sf.softmax
    for name, mask in _masks(rng, shape).items():
        assert _core.fast_plan(x, -1, None, "auto", None, scale, mask, log) is not None, name
        for nt in (1, 2):
            got = fn(x, where=mask, scale=scale, num_threads=nt)
            want = fn(x, where=mask, scale=scale, num_threads=nt, dtype=dtype)
            assert _same(got, want), (name, nt)
        y = x.copy()
        assert fn(y, where=mask, scale=scale, out=y) is y
        assert _same(y, want), name


def test_fast_plan_refuses_uncommon_masks():
    x = _plain()
    for where in (x > 0).tolist(), (x > 0).astype(np.uint8), np.ones((3, 1, 8), bool), \
            np.ones(7, bool), np.ones((2, 8), bool), np.ma.masked_array(x > 0):
        assert _core.fast_plan(x, -1, None, "auto", None, None, where, False) is None
        try:
            want = sf.softmax(x, where=where, dtype=x.dtype)
        except (TypeError, ValueError) as e:
            with pytest.raises(type(e)):
                sf.softmax(x, where=where)
        else:
            assert sf.softmax(x, where=where).tobytes() == want.tobytes()
    half = x.astype(np.float16)
    assert _core.fast_plan(half, -1, None, "auto", None, None, half > 0, False) is None
    # more dims than the fast path keeps mask strides for (NumPy allows 64): the full path
    deep = np.zeros((1,) * 40 + (4,), np.float32)
    assert _core.fast_plan(deep, -1, None, "auto", None, None, np.ones(4, bool), False) is None
    assert _core.fast_plan(deep[0], -1, None, "auto", None, None, None, False) is not None


# shapes for another axis: dims of length 1 around and as the reduced one, wide and narrow
# inner blocks (column panels), long columns
AXIS_SHAPES = [(7, 5), (1, 9), (9, 1), (3, 1, 4), (2, 3, 4, 5), (300, 70), (5, 2, 130),
               (4097, 3), (2, 40000, 2)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", AXIS_SHAPES)
def test_fast_path_any_axis_same_bits_as_full_path(dtype, shape):
    """softmax / log_softmax / logsumexp along any axis of a C-contiguous array take the fast
    path and give the bits of the full path (taken with dtype=), with scale=, out= (in place
    too), keepdims, special values, one and two threads."""
    rng = np.random.default_rng(len(shape) * 100 + shape[0])
    x = (rng.standard_normal(shape) * 8).astype(dtype)
    flat = x.reshape(-1)
    flat[rng.integers(0, x.size, 3)] = [np.inf, -np.inf, np.nan][: min(3, x.size)]
    for axis in range(-x.ndim, x.ndim):
        for log in (False, True):
            fn = sf.log_softmax if log else sf.softmax
            assert _core.fast_plan(x, axis, None, "auto", None, None, None, log) is not None
            for nt, scale in ((1, None), (2, -1.5)):
                want = fn(x, axis=axis, num_threads=nt, scale=scale, dtype=dtype)
                assert _same(fn(x, axis=axis, num_threads=nt, scale=scale), want), (axis, log)
                y = x.copy()
                assert fn(y, axis=axis, num_threads=nt, scale=scale, out=y) is y
                assert _same(y, want), (axis, log, "in place")
        for keepdims in (False, True):
            assert _core.fast_lse_plan(x, axis, keepdims, None) is not None
            for nt in (1, 2):
                got = sf.logsumexp(x, axis=axis, keepdims=keepdims, num_threads=nt)
                want = sf.logsumexp(x, axis=axis, keepdims=keepdims, num_threads=nt, dtype=dtype)
                assert got.shape == want.shape and got.dtype == want.dtype
                assert _same(got, want), (axis, keepdims)
    got = sf.logsumexp(x, keepdims=True)
    assert got.shape == (1,) * x.ndim and _same(got, sf.logsumexp(x, keepdims=True, dtype=dtype))


@pytest.mark.parametrize("src", [np.float16, np.float32, np.float64, np.int32, np.bool_])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, "float64", np.dtype("<f4")])
def test_fast_path_dtype_widening_same_as_full_path(src, dtype, monkeypatch):
    """dtype= that widens x (or names its own dtype) takes the fast path on x cast first, as
    the full path does; narrowing, non-native and non-float dtypes are left to the full path.
    Either way the result is the full path's (forced here by refusing every fast plan)."""
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((4, 33)) * 5).astype(src)
    calls = []
    for log in (False, True):
        fn = sf.log_softmax if log else sf.softmax
        for axis in (-1, 0):
            got = fn(x, axis=axis, dtype=dtype)
            with monkeypatch.context() as m:
                m.setattr(_core, "fast_plan", lambda *a: calls.append(a) and None)
                want = fn(x, axis=axis, dtype=dtype)
            assert got.dtype == want.dtype == np.dtype(dtype)
            assert _same(got, want), (log, axis)
    from softmax_fast import _api
    wide = np.dtype(dtype).itemsize >= np.dtype(src).itemsize or np.dtype(src).kind != "f"
    assert (_api._fast_widening(x, dtype) is not None) == wide
    assert bool(calls) == wide   # the gate was asked (and refused) when the cast was fast


def test_fast_path_dtype_refusals():
    from softmax_fast import _api
    x = _plain()
    for dtype in (np.float16, ">f8", np.int32, "complex64", [("a", "f4")], object):
        assert _api._fast_widening(x, dtype) is None
    assert _api._fast_widening(x.tolist(), np.float64) is None
    assert _api._fast_widening(x.astype(np.float64), np.float32) is None   # narrowing
    # an out= overlapping x with another dtype: the full path's error, not a computed result
    buf = np.zeros(x.size * 2, np.float32)
    xs = buf[: x.size].reshape(x.shape)
    xs[...] = x
    with pytest.raises(ValueError, match="overlaps"):
        sf.softmax(xs, dtype=np.float64, out=buf.view(np.float64).reshape(x.shape))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("log", [False, True])
def test_row_loop_same_bits_as_one_row(isa, dtype, log):
    """Regular rows of a three-pass (log_)softmax go through the kernels' own row loop
    (`softmax_rows`; on AVX-512 float32 rows of up to 64 held in registers); strided rows
    still go one by one through the core's one_row. Both give the same bits for every length
    around the register kernel's (1..65, 100, 1000), with a scale, logits far apart (the exp
    pass's forms), and rows that leave the register kernel: NaN, +-inf, entries far below the
    max, |max| >= 2^31, all -inf; past 64, the pipelined loop's lengths."""
    fn = sf.log_softmax if log else sf.softmax
    rng = np.random.default_rng(17)
    # past 64 on AVX-512 float32 the loop is pipelined (each exp pass carries the next row's
    # max pass and the previous row's write): lengths around its 64-element steps and 16-lane
    # tails, rows whose starts fall at every offset in a cache line, and the folded exp (sums
    # from 768, stored terms from 8192)
    lengths = list(range(1, 66)) + [79, 80, 100, 127, 128, 129, 255, 257, 1000, 1009, 8200]
    for n in lengths:
        R = 300 if n <= 1009 else 24
        x = (rng.standard_normal((R, n)) * rng.choice([1.0, 30.0], (R, 1))).astype(dtype)
        x[1] += 1e3
        x[2] -= 1e3
        x[3, 0] = np.nan
        x[4, -1] = np.inf
        x[5, n // 2] = -np.inf
        x[6, 0] = -140.0 + x[6].max() if n > 1 else x[6, 0]
        x[7] *= 3e9
        x[8] = -np.inf
        x[9] = np.round(x[9] / 4)   # ties at the max (log_softmax counts those terms apart)
        x[10] = 2.5                 # one value throughout
        strided = np.empty((R, 2 * n), dtype)[:, ::2]
        strided[...] = x
        for scale in (None, 0.37):
            got = fn(x, scale=scale)
            want = fn(strided, scale=scale)
            assert _same(got, want), (n, scale)
            y = x.copy()
            fn(y, scale=scale, out=y)
            assert _same(y, want), (n, scale, "in place")
            assert _same(fn(x, scale=scale, num_threads=2), want)
    # rows long enough to be cut into blocks stay blocked on one thread too
    x = (rng.standard_normal((2, 70001)) * 10).astype(dtype)
    strided = np.empty((2, 140002), dtype)[:, ::2]
    strided[...] = x
    for nt in (1, 2, 3):
        assert _same(fn(x, num_threads=nt), fn(strided, num_threads=nt)), nt


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("where_max", ["first", "last", "near_end"])
def test_blocked_row_same_bits_for_any_run_of_blocks(isa, dtype, where_max):
    """A long row's blocks are reduced by the kernels' own loop over a run of blocks
    (`partials_blocks`; on AVX-512 float32 each exp pass carries the next block's max pass), one
    run per thread: so a block's max comes from the rider under one thread count and from a max
    pass of its own under another. Each block's max placed at its first element, its last, or
    20 before its end; the row starting at several offsets in a cache line (the rider's masked
    head and tail), the last block shorter: softmax, log_softmax and logsumexp give the same
    bits for 1, 2, 3 and 5 threads."""
    block = _core.BLOCK_
    n = 4 * block + 1000 + 7
    rng = np.random.default_rng(5)
    buf = np.empty(n + 16, dtype)
    for offset in (0, 3, 15):
        x = buf[offset:offset + n].reshape(1, n)
        x[...] = rng.standard_normal((1, n))
        for b in range(5):
            lo, hi = b * block, min(n, (b + 1) * block)
            at = {"first": lo, "last": hi - 1, "near_end": hi - 21}[where_max]
            x[0, at] = 8.0 + b   # a different max in each block: the row's is in the last one
        for fn in (sf.softmax, sf.log_softmax, sf.logsumexp):
            want = fn(x, num_threads=1)
            for nt in (2, 3, 5):
                assert _same(fn(x, num_threads=nt), want), (fn.__name__, offset, nt)
