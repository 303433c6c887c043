"""Property-based tests (hypothesis, derandomized in conftest.py): normalisation, shift
invariance, log_softmax == log(softmax), no overflow for large logits, and random
shapes/axes/dtypes/algorithms against the reference. Each runs once per available ISA."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import softmax_fast as sf
from softmax_fast import _core
from helpers import (ALGORITHMS, TOL_CONST, TOL_SLOPE, assert_logsumexp_close,
                     assert_softmax_close, call, normalize_axes, unit_roundoff, using_isa)

ISAS = _core.available_isas()
EXAMPLES = 40

dtypes = st.sampled_from([np.float32, np.float64])
algorithms = st.sampled_from(ALGORITHMS)
shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=40)


def _finite(dtype, lo, hi):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False,
                     width=32 if dtype == np.float32 else 64)


@st.composite
def arrays_and_axis(draw, lo=-30.0, hi=30.0):
    dtype = draw(dtypes)
    shape = draw(shapes)
    x = draw(hnp.arrays(dtype, shape, elements=_finite(dtype, lo, hi)))
    axis = draw(st.one_of(
        st.none(),
        st.integers(-len(shape), len(shape) - 1),
        st.lists(st.integers(0, len(shape) - 1), min_size=1, max_size=len(shape),
                 unique=True).map(tuple)))
    return x, axis


def _exact_sums(y, axes):
    """The sum of each slice of y over `axes`, correctly rounded (math.fsum), kept dims: np.sum
    along axes that are not innermost adds naively, and its own rounding (2.4e-13 for 14000
    float64 outputs of 1/14000, whose exact sum is 1 to 0.0) is no error of y's."""
    kept = [d for d in range(y.ndim) if d not in axes]
    moved = np.moveaxis(y.astype(np.float64), axes, range(y.ndim - len(axes), y.ndim))
    rows = moved.reshape(math.prod(y.shape[d] for d in kept), -1)
    sums = np.array([math.fsum(r) for r in rows]).reshape([y.shape[d] for d in kept])
    return np.expand_dims(sums, tuple(axes))


def _spread(x, axes):
    """Per-slice |first - max| + max|x - max| (error-model terms, see helpers.py)."""
    x = x.astype(np.float64)
    m = np.max(x, axis=axes, keepdims=True)
    first = x[tuple(slice(0, 1) if k in axes else slice(None) for k in range(x.ndim))]
    return np.abs(first - m) + np.max(np.abs(x - m), axis=axes, keepdims=True)


@pytest.mark.parametrize("isa_name", ISAS)
@settings(max_examples=EXAMPLES)
@given(data=arrays_and_axis(), algorithm=algorithms)
def test_sums_to_one(isa_name, data, algorithm):
    x, axis = data
    with using_isa(isa_name):
        y = call(sf.softmax, x, axis, algorithm=algorithm)
    axes = normalize_axes(axis, x.ndim)
    total = _exact_sums(y, axes)
    u = unit_roundoff(x.dtype)
    # each element is within u * (C + S * (its |x - max| + E)) of the truth, whose sum is 1
    tol = u * (TOL_CONST + 3 * TOL_SLOPE * _spread(x, axes))
    assert np.all(np.abs(total - 1) <= tol), (np.abs(total - 1).max(), tol.min())
    assert np.all(y >= 0) and np.all(y <= 1)


@st.composite
def shift_case(draw):
    """Logits k / 64 for integers |k| <= 64 * 100 and an integer shift |c| <= 1000: x and
    x + c are exact in float32 and float64, so softmax must not see the shift."""
    dtype = draw(dtypes)
    shape = draw(shapes)
    k = draw(hnp.arrays(np.int64, shape, elements=st.integers(-6400, 6400)))
    c = draw(st.integers(-1000, 1000))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    return (k / 64).astype(dtype), c, axis


@pytest.mark.parametrize("isa_name", ISAS)
@settings(max_examples=EXAMPLES)
@given(case=shift_case(), algorithm=algorithms)
def test_shift_invariance(isa_name, case, algorithm):
    x, c, axis = case
    xc = x + x.dtype.type(c)
    assert np.array_equal(xc - x.dtype.type(c), x)   # the shift is exact
    with using_isa(isa_name):
        a = call(sf.softmax, x, axis, algorithm=algorithm)
        b = call(sf.softmax, xc, axis, algorithm=algorithm)
        la = call(sf.log_softmax, x, axis, algorithm=algorithm)
        lb = call(sf.log_softmax, xc, axis, algorithm=algorithm)
    axes = normalize_axes(axis, x.ndim)
    u = unit_roundoff(x.dtype)
    x64 = x.astype(np.float64)
    d = np.abs(x64 - np.max(x64, axis=axes, keepdims=True))
    # both are within the error model of the same exact result
    tol = 2 * u * (TOL_CONST + TOL_SLOPE * (d + _spread(x, axes)))
    assert np.all(np.abs(a.astype(np.float64) - b) <= tol * a + 2 * np.finfo(x.dtype).tiny)
    ltol = 2 * u * (TOL_CONST * np.maximum(1, np.abs(la)) + TOL_SLOPE * _spread(x, axes))
    assert np.all(np.abs(la.astype(np.float64) - lb) <= ltol)


@pytest.mark.parametrize("isa_name", ISAS)
@settings(max_examples=EXAMPLES)
@given(data=arrays_and_axis(), algorithm=algorithms)
def test_log_softmax_is_log_of_softmax(isa_name, data, algorithm):
    x, axis = data
    with using_isa(isa_name):
        y = call(sf.softmax, x, axis, algorithm=algorithm)
        ly = call(sf.log_softmax, x, axis, algorithm=algorithm)
    axes = normalize_axes(axis, x.ndim)
    u = unit_roundoff(x.dtype)
    ok = y > np.finfo(x.dtype).smallest_normal        # log(softmax) is finite and accurate
    with np.errstate(divide="ignore"):
        log_y = np.log(y.astype(np.float64))
    x64 = x.astype(np.float64)
    d = np.abs(x64 - np.max(x64, axis=axes, keepdims=True))
    tol = u * (2 * TOL_CONST * np.maximum(1, np.abs(log_y))
               + TOL_SLOPE * (d + 2 * _spread(x, axes)))
    err = np.abs(ly - log_y)
    assert np.all(err[ok] <= np.broadcast_to(tol, err.shape)[ok])


@pytest.mark.parametrize("isa_name", ISAS)
@pytest.mark.parametrize("lo,hi", [(90.0, 100.0), (1e4 - 5, 1e4 + 5), (-1e4 - 5, -1e4 + 5)])
@settings(max_examples=EXAMPLES // 2)
@given(dtype=dtypes, shape=shapes, algorithm=algorithms, data=st.data())
def test_large_logits_do_not_overflow(isa_name, lo, hi, dtype, shape, algorithm, data):
    x = data.draw(hnp.arrays(dtype, shape, elements=_finite(dtype, lo, hi)))
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    with using_isa(isa_name):
        y = call(sf.softmax, x, axis, algorithm=algorithm)
        ly = call(sf.log_softmax, x, axis, algorithm=algorithm)
        lse = call(sf.logsumexp, x, axis)
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(ly)) and np.all(np.isfinite(lse))
    assert_softmax_close(y, x, axis)
    assert_softmax_close(ly, x, axis, log=True)
    assert_logsumexp_close(lse, x, axis)


@pytest.mark.parametrize("isa_name", ISAS)
@settings(max_examples=EXAMPLES)
@given(data=arrays_and_axis(-50.0, 50.0), algorithm=algorithms,
       scale=st.one_of(st.none(), st.floats(-4, 4)),
       use_where=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_matches_reference(isa_name, data, algorithm, scale, use_where, seed):
    x, axis = data
    where = np.random.default_rng(seed).random(x.shape) < 0.7 if use_where else None
    with using_isa(isa_name):
        y = call(sf.softmax, x, axis, algorithm=algorithm, scale=scale, where=where)
        ly = call(sf.log_softmax, x, axis, algorithm=algorithm, scale=scale, where=where)
        lse = call(sf.logsumexp, x, axis, scale=scale, where=where)
    assert_softmax_close(y, x, axis, scale=scale, where=where)
    assert_softmax_close(ly, x, axis, scale=scale, where=where, log=True)
    assert_logsumexp_close(lse, x, axis, scale=scale, where=where, result_dtype=x.dtype)
