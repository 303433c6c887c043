"""Bad arguments raise the documented exception, name the argument in the message, and write
nothing: a pre-filled `out` (and `x`) keep their bytes."""
import numpy as np
import pytest
from numpy.exceptions import AxisError

import softmax_fast as sf

SHAPE = (4, 6)
FILL = 7.0


def _x():
    return np.arange(24, dtype=np.float64).reshape(SHAPE) / 10


def _out(fn_name, x, axis=-1):
    """A valid, pre-filled out for `fn_name` on `x`."""
    if fn_name == "logsumexp":
        shape = np.sum(x, axis=axis).shape
    else:
        shape = x.shape
    return np.full(shape, FILL, x.dtype if x.dtype.kind == "f" else np.float64)


# Each case: (id, exception, match, kwargs builder). A builder takes (fn_name, x) and returns
# the keyword arguments (including x itself under "x") of a call that must fail, or None when
# the case does not apply to that function.
def _with(**extra):
    def build(fn_name, x):
        return {"x": x, **extra}
    return build


def _softmax_only(**extra):
    def build(fn_name, x):
        return None if fn_name == "logsumexp" else {"x": x, **extra}
    return build


def _input(value):
    def build(fn_name, x):
        return {"x": value}
    return build


CASES = [
    ("complex", TypeError, r"\bx\b", _input(np.ones(SHAPE, complex))),
    ("object", TypeError, r"\bx\b", _input(np.array([[1.0, None]], dtype=object))),
    ("string", TypeError, r"\bx\b", _input(np.array([["a", "b"]]))),
    ("bytes", TypeError, r"\bx\b", _input(np.array([[b"a", b"b"]]))),
    ("axis-out-of-range", AxisError, "axis", _with(axis=2)),
    ("axis-negative-out-of-range", AxisError, "axis", _with(axis=-3)),
    ("axis-tuple-out-of-range", AxisError, "axis", _with(axis=(0, 5))),
    ("axis-duplicate", ValueError, "axis", _with(axis=(1, 1))),
    ("axis-duplicate-negative", ValueError, "axis", _with(axis=(0, -2))),
    ("axis-float", TypeError, "axis", _with(axis=1.5)),
    ("axis-float-integral", TypeError, "axis", _with(axis=1.0)),     # == the last axis
    ("axis-float-minus-one", TypeError, "axis", _with(axis=-1.0)),
    ("axis-bool", TypeError, "axis", _with(axis=True)),
    ("axis-string", TypeError, "axis", _with(axis="0")),
    ("axis-float-in-tuple", TypeError, "axis", _with(axis=(0, 1.0))),
    ("where-wrong-shape", ValueError, "where", _with(where=np.ones((3, 6), bool))),
    ("where-non-bool", TypeError, "where", _with(where=np.ones(SHAPE, int))),
    ("where-float", TypeError, "where", _with(where=np.ones(SHAPE))),
    ("scale-nan", ValueError, "scale", _with(scale=float("nan"))),
    ("scale-inf", ValueError, "scale", _with(scale=float("inf"))),
    ("scale-minus-inf", ValueError, "scale", _with(scale=-np.inf)),
    ("dtype-int", TypeError, "dtype", _with(dtype=np.int32)),
    ("dtype-complex", TypeError, "dtype", _with(dtype=np.complex128)),
    ("algorithm-unknown", ValueError, "algorithm", _softmax_only(algorithm="fast")),
    ("algorithm-case", ValueError, "algorithm", _softmax_only(algorithm="Online")),
    ("num-threads-zero", ValueError, "num_threads", _with(num_threads=0)),
    ("num-threads-negative", ValueError, "num_threads", _with(num_threads=-1)),
]

FUNCTIONS = ["softmax", "log_softmax", "logsumexp"]


@pytest.mark.parametrize("fn_name", FUNCTIONS)
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_argument_writes_nothing(fn_name, case):
    _, exc, match, build = case
    kwargs = build(fn_name, _x())
    if kwargs is None:   # logsumexp has no algorithm argument at all
        with pytest.raises(TypeError, match="algorithm"):
            sf.logsumexp(_x(), algorithm="online")
        return
    x = kwargs.pop("x")
    xa = np.asarray(x)
    axis = kwargs.get("axis", None if fn_name == "logsumexp" else -1)
    # a valid out of the shape the call would have had (if the axis is valid)
    try:
        out = _out(fn_name, np.ones(xa.shape), axis)
    except (ValueError, TypeError):
        out = _out(fn_name, np.ones(xa.shape), -1)
    out_before = out.tobytes()
    x_before = xa.tobytes()
    with pytest.raises(exc, match=match):
        getattr(sf, fn_name)(x, out=out, **kwargs)
    assert out.tobytes() == out_before, "out was written before the error"
    assert xa.tobytes() == x_before, "x was written"


@pytest.mark.parametrize("fn_name", FUNCTIONS)
def test_bad_out(fn_name):
    x = _x()
    fn = getattr(sf, fn_name)
    good = _out(fn_name, x, -1)
    kw = {"axis": -1}
    cases = [
        (ValueError, np.full(good.shape + (1,), FILL)),                 # wrong shape
        (ValueError, np.full(good.shape[:-1] + (good.shape[-1] + 1,), FILL)),
        (TypeError, np.full(good.shape, FILL, np.float32)),             # wrong dtype
        (TypeError, np.full(good.shape, 7, np.int64)),
    ]
    readonly = np.full(good.shape, FILL)
    readonly.flags.writeable = False
    cases.append((ValueError, readonly))
    for exc, out in cases:
        before = out.tobytes()
        x_before = x.tobytes()
        with pytest.raises(exc, match="out"):
            fn(x, out=out, **kw)
        assert out.tobytes() == before and x.tobytes() == x_before
    with pytest.raises(TypeError, match="out"):
        fn(x, out=good.tolist(), **kw)                                   # a list
    # bad out on a 0-d input too
    with pytest.raises(ValueError, match="out"):
        fn(np.float64(1.0), out=np.full((1,), FILL))


@pytest.mark.parametrize("fn_name", ["softmax", "log_softmax"])
def test_out_overlapping_x(fn_name):
    fn = getattr(sf, fn_name)
    buf = np.linspace(-2, 2, 10)
    before = buf.tobytes()
    with pytest.raises(ValueError, match="out"):
        fn(buf[:-1], out=buf[1:])
    assert buf.tobytes() == before
    # the same memory in another order is not `x` itself
    buf2 = np.linspace(-2, 2, 16).reshape(4, 4)
    before = buf2.tobytes()
    for out in (buf2[::-1], buf2.T):
        with pytest.raises(ValueError, match="out"):
            fn(buf2, out=out)
        assert buf2.tobytes() == before
    # a strided x and an out interleaved with it do not overlap: allowed
    buf3 = np.linspace(-2, 2, 20)
    y = fn(buf3[::2], out=buf3[1::2])
    np.testing.assert_array_equal(y, fn(np.linspace(-2, 2, 20)[::2]))


def test_logsumexp_out_overlapping_x():
    """DESIGN section 2: any memory overlap of out with x other than out=x -> ValueError."""
    buf = np.linspace(-2, 2, 15).reshape(3, 5)
    before = buf.tobytes()
    with pytest.raises(ValueError, match="out"):
        sf.logsumexp(buf[:, 1:], axis=1, out=buf[:, 1])
    assert buf.tobytes() == before


@pytest.mark.parametrize("fn_name", FUNCTIONS)
def test_valid_inputs_are_accepted(fn_name):
    """The accepted spellings next to the rejected ones (so the tests above cannot pass by
    rejecting everything)."""
    fn = getattr(sf, fn_name)
    x = _x()
    for kw in ({"axis": np.int64(1)}, {"axis": (0, 1)}, {"axis": -2},
               {"scale": np.float32(0.5)}, {"scale": 2}, {"num_threads": 1},
               {"num_threads": np.int32(3)}, {"num_threads": 1000},
               {"where": np.ones(SHAPE, bool)}, {"dtype": "float32"}):
        res = fn(x, **kw)
        assert np.all(np.isfinite(res)), kw
