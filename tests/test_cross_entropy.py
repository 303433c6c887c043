"""cross_entropy against the float64 reference (`_reference.cross_entropy`) and PyTorch.

Tolerance: the loss of a slice is (max - x[t]) + log(sum) computed in float64 from the core's
(max, sum) partial, so its error is that of logsumexp: u * TOL_CONST * max(1, |loss|) with u the
result dtype's unit roundoff; label smoothing adds mean(x) (summed in float64, compensated for
float64 logits): u * TOL_SLOPE * max|x| of the slice; the float64 oracle's own error adds
U64 * TOL_SLOPE * |logsumexp| (as in helpers.py). Reductions add the float64 sum's rounding.
"""
import numpy as np
import pytest

import softmax_fast as sf
from softmax_fast import _reference as ref
from helpers import DTYPES, LONG_LENGTHS, TAIL_LENGTHS, TOL_CONST, TOL_SLOPE, U64, call, \
    logits, unit_roundoff


def _tol(want, x, axis, dtype, eps):
    u = unit_roundoff(dtype)
    x64 = np.asarray(x, np.float64)
    with np.errstate(all="ignore"):
        xmax = np.max(np.where(np.isfinite(x64), np.abs(x64), 0.0), axis=axis) \
            if np.size(x) else 0.0
        # the oracle's own error: its log_softmax rounds x - lse in float64 (helpers.py)
        lse = np.abs(ref.logsumexp(x64, axis=axis)) if np.size(x) else 0.0
    ref_err = U64 * np.where(np.isfinite(lse), lse, 0.0)
    return (u * (TOL_CONST * np.maximum(1.0, np.abs(want)) + TOL_SLOPE * (eps > 0) * xmax)
            + TOL_SLOPE * ref_err)


def _check(got, x, target, axis=-1, reduction="none", **kw):
    dtype = np.asarray(got).dtype
    want = ref.cross_entropy(x, target, axis, reduction=reduction, **kw)
    got = np.asarray(got, dtype=np.float64)
    assert got.shape == np.shape(want)
    eps = kw.get("label_smoothing", 0.0)
    if reduction == "none":
        tol = _tol(want, x, axis, dtype, eps)
    else:
        per_row = ref.cross_entropy(x, target, axis, reduction="none", **kw)
        tol = np.sum(_tol(per_row, x, axis, dtype, eps))
        if reduction == "mean":
            tol = tol / max(1, np.size(per_row))
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    finite = np.isfinite(want)
    assert np.array_equal(got[~finite], want[~finite], equal_nan=True) if np.ndim(want) else \
        (finite or got == want or np.isnan(want))
    with np.errstate(invalid="ignore"):
        err = np.abs(np.where(finite, got - want, 0.0))
    tol = np.where(finite, tol, 0.0)
    assert np.all(err <= tol), (np.max(err - tol), got, want)


@pytest.mark.parametrize("n", TAIL_LENGTHS + LONG_LENGTHS[:3])
@pytest.mark.parametrize("dtype", DTYPES)
def test_class_indices(isa, dtype, n, rng):
    rows = 1 if n > 1000 else 5
    x = logits(rng, (rows, n), dtype)
    t = rng.integers(0, n, rows)
    for eps in (0.0, 0.1):
        for reduction in ("none", "sum", "mean"):
            got = call(sf.cross_entropy, x, t, reduction=reduction, label_smoothing=eps)
            assert np.asarray(got).dtype == dtype
            _check(got, x, t, reduction=reduction, label_smoothing=eps)


@pytest.mark.parametrize("n", [1, 7, 16, 33, 1000, 70000])
@pytest.mark.parametrize("dtype", DTYPES)
def test_class_probabilities(isa, dtype, n, rng):
    rows = 2 if n > 1000 else 6
    x = logits(rng, (rows, n), dtype)
    p = rng.random((rows, n))
    p = (p / p.sum(-1, keepdims=True)).astype(dtype)
    for eps in (0.0, 0.25):
        for reduction in ("none", "sum", "mean"):
            got = call(sf.cross_entropy, x, p, reduction=reduction, label_smoothing=eps)
            _check(got, x, p, reduction=reduction, label_smoothing=eps)


@pytest.mark.parametrize("dtype", DTYPES)
def test_ignore_index_and_axis(isa, dtype, rng):
    x = logits(rng, (4, 9, 5), dtype)        # classes on axis 1
    t = rng.integers(0, 9, (4, 5))
    t[0, :2] = -100
    t[3, 4] = -100
    for reduction in ("none", "sum", "mean"):
        for eps in (0.0, 0.3):
            got = call(sf.cross_entropy, x, t, axis=1, reduction=reduction, ignore_index=-100,
                       label_smoothing=eps)
            _check(got, x, t, 1, reduction, ignore_index=-100, label_smoothing=eps)
    none = sf.cross_entropy(x, t, axis=1, reduction="none", ignore_index=-100)
    assert none.shape == (4, 5) and none[0, 0] == 0 and none[3, 4] == 0
    # an ignore_index inside the class range
    t2 = rng.integers(0, 9, (4, 5))
    _check(sf.cross_entropy(x, t2, axis=-2, ignore_index=3), x, t2, 1, "mean", ignore_index=3)
    # axis 0 and a non-contiguous input
    xt = np.asfortranarray(x[:, :, ::2])
    tt = rng.integers(0, 4, (9, 3))
    _check(sf.cross_entropy(xt, tt, axis=0, reduction="none"), xt, tt, 0)


def test_large_offsets_no_cancellation():
    # lse - x[t] would cancel: lse ~ 1e4, loss ~ 5. The loss does not change when every logit
    # moves by the same amount, and x - 1e4 is exact here (Sterbenz): the oracle sees the
    # shifted logits, on which its own float64 x - lse does not lose 1e4 * 2^-53
    rng = np.random.default_rng(0)
    for dtype in DTYPES:
        x = (1e4 + rng.standard_normal((8, 100))).astype(dtype)
        t = rng.integers(0, 100, 8)
        got = sf.cross_entropy(x, t, reduction="none")
        assert got.dtype == dtype
        _check(got, x.astype(np.float64) - 1e4, t)


def test_special_values():
    x = np.array([[0.0, 1.0, 2.0],
                  [np.nan, 0.0, 1.0],
                  [0.0, np.inf, 1.0],      # +inf elsewhere than the target: NaN too
                  [-np.inf, -np.inf, -np.inf],
                  [-np.inf, 0.0, 1.0],     # target -inf: +inf loss
                  [-np.inf, 0.0, 1.0]])    # another class -inf: finite
    t = np.array([0, 1, 0, 2, 0, 2])
    got = call(sf.cross_entropy, x, t, reduction="none")
    want = ref.cross_entropy(x, t, reduction="none")
    assert np.isnan(got[1]) and np.isnan(got[2]) and np.isnan(got[3])
    assert got[4] == np.inf
    np.testing.assert_allclose(got[[0, 5]], want[[0, 5]], rtol=1e-14)
    # with label smoothing a -inf logit makes the loss +inf (mean(log_softmax) is -inf), in
    # both dtypes (the float64 compensated sum must not turn the infinity into NaN)
    for dtype in DTYPES:
        xs = np.array([[-np.inf, 0.0, 1.0], [0.0, 1.0, 2.0]], dtype)
        got = call(sf.cross_entropy, xs, np.array([2, 1]), reduction="none",
                   label_smoothing=0.1)
        assert got[0] == np.inf and np.isfinite(got[1])
        p = np.full(xs.shape, 1 / 3, dtype)
        got = call(sf.cross_entropy, xs, p, reduction="none", label_smoothing=0.1)
        assert got[0] == np.inf and np.isfinite(got[1])
    # every target ignored: mean is 0 / 0 = NaN (as PyTorch), without a warning
    assert np.isnan(call(sf.cross_entropy, x[:2], np.array([-1, -1]), ignore_index=-1))
    assert call(sf.cross_entropy, x[:2], np.array([-1, -1]), ignore_index=-1,
                reduction="sum") == 0.0


def test_threads_do_not_change_bits(rng):
    for shape in ((64, 3000), (1, 200000)):
        x = logits(rng, shape, np.float32)
        t = rng.integers(0, shape[1], shape[0])
        a = sf.cross_entropy(x, t, reduction="none", num_threads=1, label_smoothing=0.1)
        b = sf.cross_entropy(x, t, reduction="none", num_threads=2, label_smoothing=0.1)
        np.testing.assert_array_equal(a, b)


def test_shapes_and_dtypes(rng):
    # 1-D logits, scalar target; integer logits compute in float64; float16 in float32
    x = np.array([1, 2, 3])
    got = sf.cross_entropy(x, np.array(2), reduction="none")
    assert got.dtype == np.float64 and np.ndim(got) == 0
    assert abs(got - ref.cross_entropy(x, np.array(2), reduction="none")) < 1e-15
    xh = logits(rng, (3, 10), np.float16)
    t = rng.integers(0, 10, 3)
    gh = sf.cross_entropy(xh, t)
    assert gh.dtype == np.float16
    assert abs(float(gh) - ref.cross_entropy(xh, t)) <= 2 * unit_roundoff(np.float16) * abs(gh)
    # empty batch: mean of nothing is NaN, sum 0
    assert np.isnan(sf.cross_entropy(np.zeros((0, 4)), np.zeros(0, int)))
    assert sf.cross_entropy(np.zeros((0, 4)), np.zeros(0, int), reduction="sum") == 0


def test_bad_arguments():
    x = np.zeros((2, 3))
    with pytest.raises(ValueError, match="target: class index 3 out of range"):
        sf.cross_entropy(x, np.array([0, 3]))
    with pytest.raises(ValueError, match="target: class index -1"):
        sf.cross_entropy(x, np.array([0, -1]), ignore_index=-100)
    with pytest.raises(ValueError, match="target"):
        sf.cross_entropy(x, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="target"):
        sf.cross_entropy(x, np.zeros((2, 4)))
    with pytest.raises(TypeError, match="target"):
        sf.cross_entropy(x, np.array([True, False]))
    with pytest.raises(ValueError, match="reduction"):
        sf.cross_entropy(x, np.array([0, 1]), reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing"):
        sf.cross_entropy(x, np.array([0, 1]), label_smoothing=1.5)
    with pytest.raises(TypeError, match="ignore_index"):
        sf.cross_entropy(x, np.array([0, 1]), ignore_index=1.0)
    with pytest.raises(TypeError, match="axis"):
        sf.cross_entropy(x, np.array([0, 1]), axis=(0, 1))
    with pytest.raises(np.exceptions.AxisError):
        sf.cross_entropy(x, np.array([0, 1]), axis=2)
    with pytest.raises(ValueError, match="logits"):
        sf.cross_entropy(np.float64(1.0), np.array(0))
    with pytest.raises(TypeError, match="logits"):
        sf.cross_entropy(np.zeros((2, 3), complex), np.array([0, 1]))


# ---- PyTorch ---------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("eps", [0.0, 0.2])
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_matches_torch(isa, dtype, eps, reduction):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(7)
    rtol = {np.float32: 1e-5, np.float64: 1e-12}[dtype]
    # class indices with ignore_index, classes on axis 1 (PyTorch's layout (N, C, d))
    x = logits(rng, (6, 50, 3), dtype)
    t = rng.integers(0, 50, (6, 3))
    t[1, 0] = t[4, 2] = -100
    want = F.cross_entropy(torch.from_numpy(x), torch.from_numpy(t), reduction=reduction,
                           ignore_index=-100, label_smoothing=eps).numpy()
    got = sf.cross_entropy(x, t, axis=1, reduction=reduction, ignore_index=-100,
                           label_smoothing=eps)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol)
    # the same with the class axis last for us
    got_last = sf.cross_entropy(np.moveaxis(x, 1, -1), t, reduction=reduction,
                                ignore_index=-100, label_smoothing=eps)
    np.testing.assert_allclose(got_last, want, rtol=rtol, atol=rtol)
    # class probabilities
    p = rng.random(x.shape).astype(dtype)
    p /= p.sum(1, keepdims=True)
    want = F.cross_entropy(torch.from_numpy(x), torch.from_numpy(p), reduction=reduction,
                           label_smoothing=eps).numpy()
    got = sf.cross_entropy(x, p, axis=1, reduction=reduction, label_smoothing=eps)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol)
    # a long row (the blocked path) and the 256 x 32000 benchmark shape's kind of data
    x = logits(rng, (2, 70000), dtype)
    t = rng.integers(0, 70000, 2)
    want = F.cross_entropy(torch.from_numpy(x), torch.from_numpy(t), reduction=reduction,
                           label_smoothing=eps).numpy()
    np.testing.assert_allclose(sf.cross_entropy(x, t, reduction=reduction, label_smoothing=eps),
                               want, rtol=rtol, atol=rtol)


def _full_path(monkeypatch, fn, *args, **kw):
    """fn(*args, **kw) with cross_entropy's fast gate refusing every call."""
    from softmax_fast import _fused
    with monkeypatch.context() as m:
        m.setattr(_fused, "cross_entropy_fast", lambda *a: None)
        return fn(*args, **kw)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(7,), (5, 9), (2, 3, 40), (3, 70000)])
def test_fast_path_same_bits_as_full_path(dtype, shape, monkeypatch):
    """The common call (int64 class indices, class axis last) is judged and computed in C
    (`_fused.cross_entropy_fast`) and gives the full path's results bit for bit: every
    reduction, ignore_index (some rows, every row), label smoothing, special values, threads."""
    from softmax_fast import _fused
    rng = np.random.default_rng(sum(shape))
    x = (rng.standard_normal(shape) * 6).astype(dtype)
    n = shape[-1]
    t = rng.integers(0, n, shape[:-1]).astype(np.int64)
    x.reshape(-1, n)[0, 1] = np.nan
    if x.ndim > 1 and x.shape[0] > 2:
        x.reshape(-1, n)[1, 2] = np.inf
        x.reshape(-1, n)[2, :] = -np.inf
    everything_ignored = np.full_like(t, 3)
    for target, ignore in ((t, None), (t, int(t.reshape(-1)[0])), (everything_ignored, 3)):
        for reduction in ("none", "sum", "mean"):
            for eps in (0.0, 0.25, 1):
                for nt in (1, 2):
                    kw = dict(reduction=reduction, ignore_index=ignore, label_smoothing=eps,
                              num_threads=nt)
                    assert _fused.cross_entropy_fast(x, target, -1, reduction, ignore, eps,
                                                     nt) is not None
                    got = sf.cross_entropy(x, target, **kw)
                    want = _full_path(monkeypatch, sf.cross_entropy, x, target, **kw)
                    assert type(got) is type(want)
                    got, want = np.asarray(got), np.asarray(want)
                    assert got.dtype == want.dtype and got.shape == want.shape
                    assert np.array_equal(got, want, equal_nan=True), (reduction, ignore, eps)


def test_fast_path_refusals_reach_the_full_path():
    """What the gate does not take goes to the full path, which computes or explains it."""
    from softmax_fast import _fused
    x = np.linspace(-2, 2, 24).reshape(4, 6).astype(np.float32)
    t = np.array([0, 5, 2, 1])
    refused = {
        "target int32": (x, t.astype(np.int32), -1, "mean", None, 0.0, None),
        "target list": (x, t.tolist(), -1, "mean", None, 0.0, None),
        "target out of range": (x, np.array([0, 6, 2, 1]), -1, "mean", None, 0.0, None),
        "target negative": (x, np.array([0, -1, 2, 1]), -1, "mean", None, 0.0, None),
        "target shape": (x, t[:3], -1, "mean", None, 0.0, None),
        "axis 0": (x, np.array([0, 1, 2, 3, 0, 1]), 0, "mean", None, 0.0, None),
        "axis numpy int": (x, t, np.int64(-1), "mean", None, 0.0, None),
        "logits strided": (x[:, ::2], np.array([0, 1, 2, 0]), -1, "mean", None, 0.0, None),
        "logits int": (x.astype(np.int64), t, -1, "mean", None, 0.0, None),
        "logits float16": (x.astype(np.float16), t, -1, "mean", None, 0.0, None),
        "probabilities": (x, np.full_like(x, 1 / 6), -1, "mean", None, 0.0, None),
        "reduction unknown": (x, t, -1, "avg", None, 0.0, None),
        "reduction not str": (x, t, -1, None, None, 0.0, None),
        "ignore numpy int": (x, t, -1, "mean", np.int64(0), 0.0, None),
        "ignore huge": (x, t, -1, "mean", 2 ** 70, 0.0, None),
        "smoothing bool": (x, t, -1, "mean", None, True, None),
        "smoothing numpy": (x, t, -1, "mean", None, np.float64(0.1), None),
        "smoothing above 1": (x, t, -1, "mean", None, 1.5, None),
        "smoothing nan": (x, t, -1, "mean", None, float("nan"), None),
        "threads 0": (x, t, -1, "mean", None, 0.0, 0),
    }
    for name, args in refused.items():
        assert _fused.cross_entropy_fast(*args) is None, name
        logits, target, axis, reduction, ignore, eps, nt = args
        kw = dict(axis=axis, reduction=reduction, ignore_index=ignore, label_smoothing=eps,
                  num_threads=nt)
        try:
            want = sf.cross_entropy(np.array(logits), np.array(target), **kw)
        except Exception as e:   # the full path's verdict on the arguments
            with pytest.raises(type(e)):
                sf.cross_entropy(logits, target, **kw)
            continue
        np.testing.assert_array_equal(sf.cross_entropy(logits, target, **kw), want)
