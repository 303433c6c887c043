"""Fuzzing of the fused operations (hypothesis, derandomized in conftest.py): random rows of
1..70 values (now and then ~70000: the blocked path) with NaN, +-inf and huge values sprinkled
in, both float dtypes, every ISA; softmax_topk with k, scale (powers of two) and where masks;
cross_entropy with class indices or probabilities and label smoothing; segment_softmax with
random offsets. Checked against the float64 references with the tolerance models of
test_topk.py / test_cross_entropy.py / helpers.py, and against DESIGN section 3 for slices
holding NaN or +inf or only -inf (all NaN)."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import softmax_fast as sf
from softmax_fast import _core
from helpers import assert_softmax_close, call, using_isa
import test_cross_entropy as ce_tests
import test_topk as topk_tests

ISAS = _core.available_isas()
FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@st.composite
def rows(draw):
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    n = draw(st.sampled_from([1, 2, 7, 16, 17, 33, 70]) | st.integers(1, 70))
    if draw(st.integers(0, 20)) == 0:
        n = 70001
    r = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    base = draw(st.sampled_from(["normal", "wide", "ties", "offset"]))
    x = {"normal": lambda: 3 * rng.standard_normal((r, n)),
         "wide": lambda: 100 * rng.standard_normal((r, n)),
         "ties": lambda: rng.integers(-2, 3, (r, n)).astype(float),
         "offset": lambda: 1e4 + rng.standard_normal((r, n))}[base]()
    for special in draw(st.lists(st.sampled_from([np.nan, np.inf, -np.inf, 1e30]), max_size=3)):
        x[rng.integers(0, r), rng.integers(0, n)] = special
    if draw(st.booleans()) and n < 100:
        x[rng.integers(0, r)] = -np.inf
    return x.astype(dtype), rng


def _special_rows(v):
    """Rows that DESIGN section 3 makes all NaN: NaN, +inf, or only -inf."""
    return np.isnan(v).any(-1) | np.isposinf(v).any(-1) | np.isneginf(v).all(-1)


@pytest.mark.parametrize("isa", ISAS)
@FUZZ
@given(data=rows(), k_frac=st.floats(0, 1), scale=st.sampled_from([None, 2.0, -0.5, 0.25]),
       masked=st.booleans())
def test_softmax_topk(isa, data, k_frac, scale, masked):
    x, rng = data
    n = x.shape[-1]
    k = min(n, 1 + int(k_frac * min(n, 200)))
    where = rng.random(x.shape) < 0.7 if masked else None
    with using_isa(isa):
        topk_tests._check(x, k, scale=scale, where=where)


@pytest.mark.parametrize("isa", ISAS)
@FUZZ
@given(data=rows(), eps=st.sampled_from([0.0, 0.1, 1.0]), probs=st.booleans())
def test_cross_entropy(isa, data, eps, probs):
    x, rng = data
    if probs:
        t = rng.random(x.shape)
        t = (t / t.sum(-1, keepdims=True)).astype(x.dtype)
    else:
        t = rng.integers(0, x.shape[-1], x.shape[:-1])
    with using_isa(isa):
        got = call(sf.cross_entropy, x, t, reduction="none", label_smoothing=eps)
    ce_tests._check(got, x, t, reduction="none", label_smoothing=eps)


@pytest.mark.parametrize("isa", ISAS)
@FUZZ
@given(data=rows(), cuts=st.integers(0, 6), log=st.booleans(),
       scale=st.sampled_from([None, 0.5, -3.0]))
def test_segment_softmax(isa, data, cuts, log, scale):
    x, rng = data
    v = x.reshape(-1)
    offsets = np.concatenate([[0], np.sort(rng.integers(0, v.size + 1, cuts)), [v.size]])
    with using_isa(isa):
        got = call(sf.segment_softmax, v, offsets, log=log, scale=scale)
    for lo, hi in zip(offsets[:-1], offsets[1:]):
        if hi == lo:
            continue
        seg = v[lo:hi].astype(np.float64) * (1.0 if scale is None else scale)
        if _special_rows(seg[None])[0]:
            assert np.all(np.isnan(got[lo:hi])), (seg, got[lo:hi])
        else:
            assert_softmax_close(got[lo:hi], v[lo:hi], log=log, scale=scale)
