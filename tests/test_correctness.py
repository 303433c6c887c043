"""softmax, log_softmax and logsumexp against the float64 reference: every algorithm, dtype,
axis and memory layout, row lengths around every SIMD tail and the blocked long-row path, the
column-panel path of a non-last axis and the gather path of strided views. Tolerances: see
helpers.py (TOL_CONST, TOL_SLOPE)."""
import numpy as np
import pytest

import softmax_fast as sf
from helpers import (ALGORITHMS, DTYPES, INPUT_LAYOUTS, LONG_LENGTHS, SENTINEL, TAIL_LENGTHS,
                     assert_logsumexp_close, assert_softmax_close, call, layout, logits,
                     strided_buffer)

SOFTMAX_LIKE = [pytest.param(False, id="softmax"), pytest.param(True, id="log_softmax")]


def _fn(log):
    return sf.log_softmax if log else sf.softmax


# ---- row lengths -----------------------------------------------------------------------------

@pytest.mark.parametrize("n", TAIL_LENGTHS + LONG_LENGTHS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_row_lengths(isa, algorithm, dtype, n, rng):
    # one row (a long one is shared by the threads block by block) and several rows
    for shape in ((n,), (3, n)):
        x = logits(rng, shape, dtype)
        for log in (False, True):
            y = call(_fn(log), x, algorithm=algorithm)
            assert_softmax_close(y, x, -1, log=log, what=f"{shape} log={log}")
        assert_logsumexp_close(call(sf.logsumexp, x, axis=-1), x, -1, result_dtype=dtype)
    # logsumexp's default axis is None: the whole array
    assert_logsumexp_close(call(sf.logsumexp, x), x, None, result_dtype=dtype)


@pytest.mark.parametrize("n", [65536, 100003])
@pytest.mark.parametrize("kind", ["step", "reversed"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_long_strided_rows(isa, algorithm, dtype, kind, n, rng):
    """Long rows that must be gathered, written to a strided out."""
    x0 = logits(rng, (n,), dtype)
    x = layout(x0, kind)
    for log in (False, True):
        out, base = strided_buffer(x.shape, dtype, SENTINEL)
        y = call(_fn(log), x, algorithm=algorithm, out=out)
        assert y is out
        assert_softmax_close(y, x0, -1, log=log)
        assert np.count_nonzero(base == SENTINEL) == base.size - out.size, "wrote outside out"
    assert_logsumexp_close(call(sf.logsumexp, x), x0, None, result_dtype=dtype)


# ---- axes x layouts x out ----------------------------------------------------------------------

AXIS_CASES = [
    ((37,), 0), ((37,), -1), ((37,), None), ((37,), (0,)),
    ((13, 37), 0), ((13, 37), 1), ((13, 37), -1), ((13, 37), -2), ((13, 37), (0, 1)),
    ((13, 37), (-1, 0)), ((13, 37), None),
    ((4, 5, 33), 0), ((4, 5, 33), 1), ((4, 5, 33), 2), ((4, 5, 33), -1), ((4, 5, 33), -3),
    ((4, 5, 33), (0, 1)), ((4, 5, 33), (0, 2)), ((4, 5, 33), (1, 2)), ((4, 5, 33), (-1, 0, 1)),
    ((4, 5, 33), None),
    # a non-last axis over contiguous columns: the column-panel path
    ((1000, 70), 0), ((3, 200, 130), 1),
]
OUT_KINDS = ("new", "C", "F", "step", "inplace")


def _case_id(case):
    shape, axis = case
    return f"{'x'.join(map(str, shape))}-axis{axis}".replace(" ", "")


def _make_out(kind, x, dtype):
    """(out argument, buffer whose gaps must keep SENTINEL or None)."""
    if kind == "new":
        return None, None
    if kind == "C":
        return np.full(x.shape, SENTINEL, dtype), None
    if kind == "F":
        return np.asfortranarray(np.full(x.shape, SENTINEL, dtype)), None
    if kind == "step":
        return strided_buffer(x.shape, dtype, SENTINEL)
    raise ValueError(kind)


@pytest.mark.parametrize("in_layout", INPUT_LAYOUTS)
@pytest.mark.parametrize("case", AXIS_CASES, ids=_case_id)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_axes_layouts(isa, algorithm, dtype, case, in_layout, rng):
    shape, axis = case
    x0 = logits(rng, shape, dtype)
    for log in (False, True):
        for out_kind in OUT_KINDS:
            what = f"log={log} out={out_kind}"
            x = layout(x0, in_layout)
            if out_kind == "inplace":
                y = call(_fn(log), x, axis, algorithm=algorithm, out=x)
                assert y is x, what
            else:
                out, base = _make_out(out_kind, x, dtype)
                y = call(_fn(log), x, axis, algorithm=algorithm, out=out)
                if out is not None:
                    assert y is out, what
                if base is not None:
                    assert np.count_nonzero(base == SENTINEL) == base.size - out.size, \
                        f"{what}: wrote outside out"
                assert np.array_equal(x, x0), f"{what}: x was modified"
            assert_softmax_close(y, x0, axis, log=log, result_dtype=dtype, what=what)


@pytest.mark.parametrize("in_layout", INPUT_LAYOUTS)
@pytest.mark.parametrize("case", AXIS_CASES, ids=_case_id)
@pytest.mark.parametrize("dtype", DTYPES)
def test_logsumexp_axes_layouts(isa, dtype, case, in_layout, rng):
    shape, axis = case
    x0 = logits(rng, shape, dtype)
    x = layout(x0, in_layout)
    for keepdims in (False, True):
        res = call(sf.logsumexp, x, axis, keepdims=keepdims)
        assert_logsumexp_close(res, x0, axis, keepdims=keepdims, result_dtype=dtype)
        rshape = np.shape(res)
        for out_kind in ("C", "step"):
            out, base = (np.full(rshape, SENTINEL, dtype), None) if out_kind == "C" else \
                strided_buffer(rshape, dtype, SENTINEL)
            y = call(sf.logsumexp, x, axis, keepdims=keepdims, out=out)
            assert y is out
            assert_logsumexp_close(y, x0, axis, keepdims=keepdims, result_dtype=dtype)
            if base is not None:
                assert np.count_nonzero(base == SENTINEL) == base.size - out.size
    assert np.array_equal(x, x0), "x was modified"


# ---- the column-panel path: panel and tile boundaries, long columns -----------------------------

# (300, 128): rows 512 bytes apart (float32), the AVX-512 panel kernel packs the panel; (16385,
# 128): the same stride with a panel beyond the per-thread scratch, left unpacked
@pytest.mark.parametrize("shape", [(1, 5), (2, 63), (7, 64), (9, 65), (100, 129), (33, 200),
                                   (300, 128), (16385, 128), (65537, 3)],
                         ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_columns(isa, algorithm, dtype, shape, rng):
    x = logits(rng, shape, dtype)
    for log in (False, True):
        assert_softmax_close(call(_fn(log), x, 0, algorithm=algorithm), x, 0, log=log)
    x3 = logits(rng, (2,) + shape, dtype)   # with an outer axis too
    for log in (False, True):
        assert_softmax_close(call(_fn(log), x3, 1, algorithm=algorithm), x3, 1, log=log)
    if algorithm == "auto":
        assert_logsumexp_close(call(sf.logsumexp, x, 0), x, 0, result_dtype=dtype)
        assert_logsumexp_close(call(sf.logsumexp, x3, 1), x3, 1, result_dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_columns_same_bits_at_any_alignment(isa, dtype, rng):
    """The panels of a non-last axis start at the array's first 64-byte boundary (whole cache
    lines a row): where the cut falls must change no bit of any column."""
    vals = logits(rng, (300, 128), dtype)
    store = np.empty(vals.size + 16, dtype)
    want = None
    for off in range(16):
        x = store[off:off + vals.size].reshape(vals.shape)
        x[...] = vals
        got = [call(sf.softmax, x, 0), call(sf.log_softmax, x, 0), call(sf.logsumexp, x, 0)]
        if want is None:
            want = got
            assert_softmax_close(got[0], vals, 0)
        for g, w in zip(got, want):
            assert np.array_equal(g, w, equal_nan=True), f"offset {off} elements"


def test_empty_axis_tuple(rng):
    """axis=() reduces nothing: every element is its own slice."""
    x = logits(rng, (3, 4))
    assert_softmax_close(call(sf.softmax, x, ()), x, ())
    assert_softmax_close(call(sf.log_softmax, x, ()), x, (), log=True)
    assert_logsumexp_close(call(sf.logsumexp, x, ()), x, ())


@pytest.mark.parametrize("dtype", DTYPES)
def test_default_axes(dtype, rng):
    """softmax/log_softmax default to the last axis, logsumexp to all axes."""
    x = logits(rng, (4, 6, 5), dtype)
    assert np.array_equal(sf.softmax(x), sf.softmax(x, axis=-1))
    assert np.array_equal(sf.log_softmax(x), sf.log_softmax(x, axis=2))
    assert np.array_equal(sf.logsumexp(x), sf.logsumexp(x, axis=None))
    assert np.shape(sf.logsumexp(x)) == ()
    assert_softmax_close(sf.softmax(x), x, -1)
    assert_logsumexp_close(sf.logsumexp(x), x, None)


def test_auto_is_a_listed_choice(rng):
    """"auto" gives the bits of one of the named algorithms, for short and long rows."""
    for n in (100, 300000):
        x = logits(rng, (n,), np.float32)
        auto = sf.softmax(x)
        named = [sf.softmax(x, algorithm=a) for a in ALGORITHMS[1:]]
        assert any(np.array_equal(auto, y) for y in named), n


@pytest.mark.parametrize("path", ["row", "column"])
@pytest.mark.parametrize("n", [1000, 65535, 300007])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_sum_error_does_not_grow_with_length(isa, algorithm, dtype, n, path):
    """DESIGN section 6: the rounding error of the sums does not grow with the row length.
    Equal inexact terms are the worst case of a sequential sum (every rounding goes the same
    way): all logits -1 but the first, 0 (the max, and the two-pass shift)."""
    x = np.full(n, -1.0, dtype)
    x[0] = 0.0
    axis = -1
    if path == "column":
        x, axis = np.stack([x, x], axis=1), 0
    for log in (False, True):
        assert_softmax_close(call(_fn(log), x, axis, algorithm=algorithm), x, axis, log=log)
    if algorithm == "auto":
        assert_logsumexp_close(call(sf.logsumexp, x, axis), x, axis)
