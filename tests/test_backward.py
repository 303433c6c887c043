"""softmax_backward and log_softmax_backward against the float64 reference and PyTorch autograd.

Tolerances (u: the result dtype's unit roundoff; per element, S the slice's sum):
- softmax_backward = y * (g - S), S = sum(g * y): float32 products are exact in float64 and
  summed there, float64 ones are summed with compensation, so S is off by about
  u * sum|g * y|; g - S and the product round once each:
  |err| <= u * TOL_CONST * |y| * (|g| + |S| + sum|g * y|) + tiny.
- log_softmax_backward = g - exp(y) * S, S = sum(g) (same sums), exp(y) by the exp kernels
  (<= 2 ulp, plus |y - max y| u from the kernel's difference):
  |err| <= u * ((TOL_CONST + TOL_SLOPE * |y - max y|) * |exp(y) S|
                + TOL_CONST * (|g| + exp(y) sum|g|)) + tiny.
The sum|.| terms are the float64 oracle's own error as much as ours: NumPy's pairwise sum is off
by up to ~log2(n) u sum|terms|, which is far more than u |S| when the terms cancel.
"""
import numpy as np
import pytest

import softmax_fast as sf
from softmax_fast import _reference as ref
from helpers import DTYPES, TAIL_LENGTHS, TOL_CONST, TOL_SLOPE, call, logits, normalize_axes, \
    unit_roundoff


def _check(got, grad, y, axis=-1, log=False):
    g64, y64 = np.asarray(grad, np.float64), np.asarray(y, np.float64)
    axes = normalize_axes(axis, g64.ndim) if g64.ndim else None
    want = (ref.log_softmax_backward if log else ref.softmax_backward)(g64, y64, axes)
    u = unit_roundoff(got.dtype)
    tiny = np.finfo(got.dtype).smallest_normal
    with np.errstate(all="ignore"):
        if log:
            s = np.sum(g64, axis=axes, keepdims=True)
            gap = np.max(y64, axis=axes, keepdims=True) - y64
            gap = np.where(np.isfinite(gap), gap, 0.0)    # exp(y) is 0 or NaN there
            sa = np.sum(np.abs(g64), axis=axes, keepdims=True)
            tol = u * ((TOL_CONST + TOL_SLOPE * gap) * np.abs(np.exp(y64) * s)
                       + TOL_CONST * (np.abs(g64) + np.exp(y64) * sa)) + tiny
        else:
            s = np.sum(g64 * y64, axis=axes, keepdims=True)
            sa = np.sum(np.abs(g64 * y64), axis=axes, keepdims=True)
            tol = u * TOL_CONST * np.abs(y64) * (np.abs(g64) + np.abs(s) + sa) + tiny
    assert got.shape == want.shape
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    finite = np.isfinite(want)
    np.testing.assert_array_equal(got[~finite], want[~finite])
    with np.errstate(invalid="ignore"):
        err = np.abs(np.where(finite, got.astype(np.float64) - want, 0.0))
    tol = np.where(finite, tol, 0.0)
    assert np.all(err <= tol), (np.max(err / tol), got, want)


def _forward(x, axis, log):
    return (sf.log_softmax if log else sf.softmax)(x, axis)


BACKWARDS = [pytest.param(False, id="softmax_backward"),
             pytest.param(True, id="log_softmax_backward")]


def _fn(log):
    return sf.log_softmax_backward if log else sf.softmax_backward


@pytest.mark.parametrize("log", BACKWARDS)
@pytest.mark.parametrize("n", TAIL_LENGTHS + (513, 1000, 70000))
@pytest.mark.parametrize("dtype", DTYPES)
def test_lengths(isa, dtype, n, log, rng):
    rows = 1 if n > 1000 else 3
    x = logits(rng, (rows, n), dtype)
    g = logits(rng, (rows, n), dtype, scale=1.0)
    y = _forward(x, -1, log)
    got = call(_fn(log), g, y)
    assert got.dtype == dtype
    _check(got, g, y, -1, log)


@pytest.mark.parametrize("log", BACKWARDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_axes_layouts_and_out(isa, dtype, log, rng):
    x = logits(rng, (6, 5, 40), dtype)
    g = logits(rng, x.shape, dtype, scale=1.0)
    for axis in (0, 1, -1, (0, 2), None):
        y = _forward(x, axis, log)
        _check(call(_fn(log), g, y, axis), g, y, axis, log)
    # non-contiguous inputs
    y = _forward(x, 1, log)
    gt, yt = np.asfortranarray(g), y[:, :, :]
    _check(_fn(log)(gt[:, :, ::2], yt[:, :, ::2], 1), g[:, :, ::2], y[:, :, ::2], 1, log)
    # out: a fresh array, grad itself, y itself, a non-contiguous view
    want = _fn(log)(g, y, 1)
    out = np.empty_like(g)
    assert _fn(log)(g, y, 1, out=out) is out
    np.testing.assert_array_equal(out, want)
    for which in ("grad", "y"):
        g2, y2 = g.copy(), y.copy()
        target = g2 if which == "grad" else y2
        assert _fn(log)(g2, y2, 1, out=target) is target
        np.testing.assert_array_equal(target, want)
    wide = np.zeros((6, 5, 80), dtype)
    res = _fn(log)(g, y, 1, out=wide[:, :, ::2])
    np.testing.assert_array_equal(res, want)
    assert np.all(wide[:, :, 1::2] == 0)


def test_special_values_and_scalars():
    g = np.array([[1.0, 2.0, 3.0], [1.0, np.nan, 0.0], [1.0, 2.0, 3.0]])
    y = np.array([[0.2, 0.3, 0.5], [0.2, 0.3, 0.5], [0.0, 0.0, 1.0]])
    _check(sf.softmax_backward(g, y), g, y)
    ly = np.array([[-1.0, -np.inf, -0.5], [-1.0, -2.0, -0.5], [-np.inf] * 3])
    _check(sf.log_softmax_backward(g, ly), g, ly, log=True)
    # an infinite gradient: infinite sums, not NaN from the compensation (float64)
    gi = np.array([[np.inf, 1.0, 2.0]])
    _check(sf.softmax_backward(gi, y[:1]), gi, y[:1])
    _check(sf.log_softmax_backward(gi, ly[1:2]), gi, ly[1:2], log=True)
    ly2 = np.array([[np.nan, -1.0, -1.0]])
    _check(sf.log_softmax_backward(g[:1], ly2), g[:1], ly2, log=True)
    # 0-d: a softmax over one element has gradient 0
    assert sf.softmax_backward(np.float64(2.0), np.float64(1.0)) == 0.0
    assert sf.log_softmax_backward(2.0, 0.0) == 0.0
    # integer inputs compute in float64; float16 in float32
    assert sf.softmax_backward([1, 2], [0, 1]).dtype == np.float64
    assert sf.softmax_backward(np.ones(3, np.float16), np.ones(3, np.float16)).dtype == np.float16


def test_threads_do_not_change_bits(rng):
    x = logits(rng, (64, 3000), np.float32)
    g = logits(rng, x.shape, np.float32)
    for log in (False, True):
        y = _forward(x, -1, log)
        np.testing.assert_array_equal(_fn(log)(g, y, num_threads=1),
                                      _fn(log)(g, y, num_threads=2))


def test_bad_arguments():
    g = np.zeros((2, 3))
    with pytest.raises(ValueError, match="shapes differ"):
        sf.softmax_backward(g, np.zeros((3, 2)))
    with pytest.raises(ValueError, match="out"):
        sf.softmax_backward(g, g, out=np.zeros((3, 2)))
    with pytest.raises(TypeError, match="out"):
        sf.log_softmax_backward(g, g, out=np.zeros((2, 3), np.float32))
    big = np.zeros((2, 4))
    with pytest.raises(ValueError, match="overlaps"):
        sf.softmax_backward(big[:, :3], g, out=big[:, 1:])
    with pytest.raises(np.exceptions.AxisError):
        sf.softmax_backward(g, g, axis=2)
    with pytest.raises(TypeError, match="grad"):
        sf.softmax_backward(np.zeros(2, complex), np.zeros(2))


@pytest.mark.parametrize("log", BACKWARDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_matches_torch_autograd(isa, dtype, log):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    for shape, axis in (((32, 1000), -1), ((4, 70, 9), 1), ((2, 70000), -1)):
        x = torch.from_numpy(logits(rng, shape, dtype)).requires_grad_(True)
        g = logits(rng, shape, dtype, scale=1.0)
        y = (torch.log_softmax if log else torch.softmax)(x, axis)
        y.backward(torch.from_numpy(g))
        want = x.grad.numpy()
        got = _fn(log)(g, y.detach().numpy(), axis)
        # PyTorch sums in the input dtype: its float32 gradients are off by ~1e-6 of the
        # largest term of the slice
        scale = np.max(np.abs(want), axis=axis, keepdims=True)
        atol = {np.float32: 2e-6, np.float64: 1e-13}[dtype] * scale
        assert np.all(np.abs(got - want) <= atol + 1e-5 * np.abs(want)), np.max(np.abs(got - want) / atol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("log", [False, True])
def test_fast_path_same_bits_as_full_path(dtype, log, monkeypatch):
    """The common call (grad and y C-contiguous of one float dtype, the last axis, out= None,
    grad, y or a separate array) is computed straight from _fused.backward_fast with the full
    path's bits; what it refuses takes the full path."""
    from softmax_fast import _fused
    fn = sf.log_softmax_backward if log else sf.softmax_backward
    rng = np.random.default_rng(8)
    x = (rng.standard_normal((6, 700)) * 4).astype(dtype)
    y = (sf.log_softmax if log else sf.softmax)(x)
    g = rng.standard_normal(x.shape).astype(dtype)
    g[0, 3] = np.nan
    with monkeypatch.context() as m:
        m.setattr(_fused, "backward_fast", lambda *a: None)
        want = fn(g, y)
    for nt in (None, 1, 2):
        assert _fused.backward_fast(g, y, -1, None, log, nt) is not None
        assert fn(g, y, num_threads=nt).tobytes() == want.tobytes()
    for target in ("grad", "y", "new"):
        gg, yy = g.copy(), y.copy()
        out = {"grad": gg, "y": yy, "new": np.empty_like(g)}[target]
        assert fn(gg, yy, out=out) is out and out.tobytes() == want.tobytes(), target
    unaligned = np.zeros(g.nbytes + 1, np.uint8)[1:].view(dtype).reshape(g.shape)
    refused = [(g, y, 0, None), (g, y, np.int64(-1), None), (g[:, ::2], y[:, ::2], -1, None),
               (g.astype(np.float16), y, -1, None), (g, y.astype(np.float64 if dtype == np.float32
                                                               else np.float32), -1, None),
               (g.tolist(), y, -1, None), (g[:2], y[:2, :5], -1, None),
               (g, y, -1, unaligned), (g, y, -1, g[::-1]), (g, y, -1, np.empty((700, 6), dtype))]
    for gg, yy, axis, out in refused:
        assert _fused.backward_fast(gg, yy, axis, out, log, None) is None
    np.testing.assert_array_equal(fn(g[:, ::2].copy(), y[:, ::2].copy()),
                                  fn(np.asfortranarray(g)[:, ::2], y[:, ::2]))
    assert _fused.backward_fast(g, y, -1, None, log, 0) is None
