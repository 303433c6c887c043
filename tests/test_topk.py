"""softmax_topk against the float64 reference (`_reference.softmax_topk`) and PyTorch.

Indices must be exactly the reference's (the logits' order, ties lower index first). Values are
exp(v - max) / sum in float64 from the core's (max, sum): the tolerance is softmax's
(helpers.py) without the x - max term of float32 kernels, u * (TOL_CONST + TOL_SLOPE * |v - max|)
relative, plus the smallest normal for results that underflow, plus the float64 oracle's own
error (U64 * TOL_SLOPE * |logsumexp| relative, as in helpers.py). Scales in these tests are powers
of two, so scale * x is exact and the reference sees the same order as the kernels.
"""
import numpy as np
import pytest

import softmax_fast as sf
from softmax_fast import _reference as ref
from helpers import DTYPES, LONG_LENGTHS, TAIL_LENGTHS, TOL_CONST, TOL_SLOPE, U64, call, \
    logits, unit_roundoff


def _check(x, k, axis=-1, **kw):
    values, indices = call(sf.softmax_topk, x, k, axis, **kw)
    want_v, want_i = ref.softmax_topk(x, k, axis, **kw)
    assert values.shape == want_v.shape and indices.shape == want_i.shape
    assert indices.dtype == np.int64
    np.testing.assert_array_equal(indices, want_i)
    np.testing.assert_array_equal(np.isnan(values), np.isnan(want_v))
    dtype = values.dtype
    u = unit_roundoff(dtype)
    v = np.asarray(x, np.float64) * (kw.get("scale") or 1.0)
    if kw.get("where") is not None:
        v = np.where(kw["where"], v, -np.inf)
    with np.errstate(all="ignore"):
        gap = np.take_along_axis(np.max(v, axis=axis, keepdims=True) - v, indices, axis)
        gap = np.where(np.isfinite(gap), gap, 0.0)
        # the oracle's own error: exp(v - lse) with v - lse rounded in float64 (helpers.py)
        lse = np.abs(ref.logsumexp(v, axis=axis, keepdims=True))
        ref_err = U64 * np.where(np.isfinite(lse), lse, 0.0)
        tol = ((u * (TOL_CONST + TOL_SLOPE * gap) + TOL_SLOPE * ref_err) * np.abs(want_v)
               + np.finfo(dtype).smallest_normal)
        tol = np.where(np.isnan(want_v), 0.0, tol)
        err = np.abs(np.where(np.isnan(want_v), 0.0, values.astype(np.float64) - want_v))
    assert np.all(err <= tol), (np.max(err - tol), values, want_v)
    return values, indices


@pytest.mark.parametrize("n", TAIL_LENGTHS + LONG_LENGTHS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_lengths(isa, dtype, n, rng):
    rows = 1 if n > 1000 else 4
    x = logits(rng, (rows, n), dtype)
    for k in sorted({1, min(n, 2), min(n, 5), min(n, 17), n if n <= 1000 else 50}):
        _check(x, k)


@pytest.mark.parametrize("dtype", DTYPES)
def test_ties_axis_scale_where(isa, dtype, rng):
    # many equal logits: the lower index comes first
    x = rng.integers(-3, 4, (5, 100)).astype(dtype)
    for k in (1, 10, 60, 100):
        _check(x, k)
    # a non-last axis, negative and fractional scales (powers of two: exact products)
    x = logits(rng, (40, 3, 7), dtype)
    _check(x, 6, axis=0)
    _check(x, 3, axis=1, scale=-2.0)
    _check(x, 7, axis=-1, scale=0.25)
    # where: masked entries rank last, a fully masked slice gives 0
    x = logits(rng, (4, 33), dtype)
    w = rng.random((4, 33)) < 0.5
    w[2] = False
    values, _ = _check(x, 20, where=w)
    assert np.all(values[2] == 0)
    _check(x, 5, where=w[0], scale=0.5)   # broadcast


def test_special_values():
    x = np.array([[0.0, np.nan, 1.0, np.nan],
                  [0.0, np.inf, 1.0, 2.0],
                  [-np.inf, -np.inf, -np.inf, -np.inf],
                  [-np.inf, 0.0, -np.inf, 1.0]])
    values, indices = _check(x, 3)
    assert np.all(np.isnan(values[:3]))
    np.testing.assert_array_equal(indices[0], [1, 3, 2])    # NaN ranks first
    np.testing.assert_array_equal(indices[1], [1, 3, 2])
    np.testing.assert_array_equal(indices[2], [0, 1, 2])
    assert values[3, 2] == 0.0 and indices[3, 2] == 0


def test_threads_do_not_change_bits(rng):
    for shape in ((64, 3000), (1, 200000)):
        x = logits(rng, shape, np.float32)
        a = sf.softmax_topk(x, 50, num_threads=1)
        b = sf.softmax_topk(x, 50, num_threads=2)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])


def test_dtypes(rng):
    v, i = sf.softmax_topk(np.array([3, 1, 2]), 2)
    assert v.dtype == np.float64
    np.testing.assert_array_equal(i, [0, 2])
    xh = logits(rng, (2, 40), np.float16)
    v, i = sf.softmax_topk(xh, 4)
    assert v.dtype == np.float16
    want_v, want_i = ref.softmax_topk(xh, 4)
    np.testing.assert_array_equal(i, want_i)
    np.testing.assert_allclose(v, want_v, rtol=2 * unit_roundoff(np.float16))
    v, i = sf.softmax_topk(np.zeros((0, 5)), 2)
    assert v.shape == (0, 2) and i.shape == (0, 2)


def test_bad_arguments():
    x = np.zeros((2, 5))
    for k in (0, 6, -1):
        with pytest.raises(ValueError, match="k: must be in 1..5"):
            sf.softmax_topk(x, k)
    with pytest.raises(TypeError, match="k"):
        sf.softmax_topk(x, 2.0)
    with pytest.raises(TypeError, match="axis"):
        sf.softmax_topk(x, 2, axis=None)
    with pytest.raises(np.exceptions.AxisError):
        sf.softmax_topk(x, 2, axis=3)
    with pytest.raises(ValueError, match="scale"):
        sf.softmax_topk(x, 2, scale=np.inf)
    with pytest.raises(ValueError, match="where"):
        sf.softmax_topk(x, 2, where=np.ones(3, bool))
    with pytest.raises(ValueError, match="x"):
        sf.softmax_topk(np.float64(1.0), 1)


@pytest.mark.parametrize("dtype", DTYPES)
def test_matches_torch(isa, dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    rtol = {np.float32: 1e-5, np.float64: 1e-12}[dtype]
    for shape, k, axis in (((1, 128256), 50, -1), ((8, 1000), 10, -1), ((300, 5), 3, 0)):
        x = logits(rng, shape, dtype)
        want_v, want_i = torch.topk(torch.softmax(torch.from_numpy(x), axis), k, dim=axis)
        values, indices = sf.softmax_topk(x, k, axis)
        np.testing.assert_allclose(values, want_v.numpy(), rtol=rtol)
        np.testing.assert_array_equal(indices, want_i.numpy())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(9,), (5, 40), (2, 3, 300), (3, 70000), (5000, 3)])
def test_fast_path_same_as_full_path(dtype, shape, monkeypatch):
    """The common call (C-contiguous float32/float64, the last axis, k and scale plain Python
    numbers, no where=) is computed straight from _fused.topk_fast, with the full path's values
    and indices; what it refuses takes the full path."""
    from softmax_fast import _fused
    rng = np.random.default_rng(shape[-1])
    x = (rng.standard_normal(shape) * 5).astype(dtype)
    x.reshape(-1, shape[-1])[0, :3] = [np.nan, np.inf, 2.0]
    x.reshape(-1, shape[-1])[-1, :] = 1.0   # ties: lower index first
    n = shape[-1]
    for k in sorted({1, min(3, n), n}):
        for scale in (None, -0.7):
            for nt in (1, 2):
                assert _fused.topk_fast(x, k, -1, scale, None, nt) is not None
                got = sf.softmax_topk(x, k, scale=scale, num_threads=nt)
                with monkeypatch.context() as m:
                    m.setattr(_fused, "topk_fast", lambda *a: None)
                    want = sf.softmax_topk(x, k, scale=scale, num_threads=nt)
                for g, w in zip(got, want):
                    assert g.dtype == w.dtype and g.shape == w.shape
                    assert np.array_equal(g, w, equal_nan=True), (k, scale, nt)


def test_fast_path_refusals():
    from softmax_fast import _fused
    x = np.linspace(-2, 2, 24).reshape(4, 6).astype(np.float32)
    refused = [(x, 2, 0, None, None, None), (x, 2, np.int64(-1), None, None, None),
               (x, np.int64(2), -1, None, None, None), (x, 0, -1, None, None, None),
               (x, 7, -1, None, None, None), (x, True, -1, None, None, None),
               (x, 2, -1, 2, None, None), (x, 2, -1, float("inf"), None, None),
               (x, 2, -1, None, x > 0, None), (x, 2, -1, None, None, 0),
               (x[:, ::2], 2, -1, None, None, None), (x.astype(np.float16), 2, -1, None, None, None),
               (x.tolist(), 2, -1, None, None, None), (np.float32(1.0), 1, -1, None, None, None)]
    for args in refused:
        assert _fused.topk_fast(*args) is None, args
    v, i = sf.softmax_topk(x, 2, axis=0)
    assert v.shape == (2, 6) and np.array_equal(i, np.broadcast_to([[3], [2]], (2, 6)))
