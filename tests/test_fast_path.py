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
        "axis 0": (x, 0, None, "auto", None),
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
    for axis, o, nt, scale in ((-1, None, None, None), (1, out, 1, 0.5), (-1, x, 2, -3.0)):
        plan = _core.fast_plan(x, axis, o, "auto", nt, scale, None, False)
        assert plan is not None
        res, algo, half, sc, threads = plan
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
    res, whole, nt = _core.fast_lse_plan(x, None, 1)
    assert whole and res.shape == () and nt == 1
    res, whole, nt = _core.fast_lse_plan(x, -1, None)
    assert not whole and res.shape == (3,) and res.dtype == np.float32
    for args in ((x, 0, None), (x.astype(">f4"), -1, None), (x[:, ::2], -1, None),
                 (x.astype(np.float16), -1, None), (x, -1, 0), (x, True, None),
                 (np.empty((0, 3), np.float32), -1, None), (x.tolist(), -1, None)):
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
