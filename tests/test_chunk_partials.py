"""The chunk kernels behind softmax_fast.dask, on NumPy arrays (no dask needed): each chunk's
(max, sum, rest) partial (`_api.chunk_partials`), their merge (`_api.merge_chunk_partials`), and
the write pass from the merged partial (`_api.softmax_chunk_from_partials`), against the float64
reference with the tolerances of helpers.py. A slice is cut at arbitrary points, including
chunks of one element, chunks around every SIMD tail, and chunks long enough for the blocked
long-row path."""
import numpy as np
import pytest

from softmax_fast import _api
from helpers import (DTYPES, SENTINEL, TAIL_LENGTHS, assert_logsumexp_close, assert_softmax_close,
                     logits, strict, strided_buffer)

SOFTMAX_LIKE = [pytest.param(False, id="softmax"), pytest.param(True, id="log_softmax")]


def chunked(x, axis, cuts, *, scale=1.0, num_threads=1, merge_groups=None):
    """softmax and log_softmax (a dict), and logsumexp with kept dims, of `x` along the single
    `axis`, computed chunk by chunk: `x` cut before each index in `cuts`. `merge_groups`
    (a fan-in) merges the partials as a tree of that fan-in instead of all at once."""
    compute = np.dtype(np.float64) if x.dtype == np.float64 else np.dtype(np.float32)
    axes = (axis % x.ndim,)
    pieces = np.split(x, cuts, axis=axis)
    with strict():
        parts = [_api.chunk_partials(p, axes, compute, scale, num_threads) for p in pieces]
        level = parts
        if merge_groups:
            while len(level) > 1:
                level = [_api.merge_chunk_partials(np.concatenate(level[i:i + merge_groups],
                                                                  axis=axis), axes)
                         for i in range(0, len(level), merge_groups)]
            merged = level[0]
        else:
            merged = _api.merge_chunk_partials(np.concatenate(parts, axis=axis), axes)
        lse = _api.logsumexp_from_chunk_partials(np.concatenate(parts, axis=axis), axes, True,
                                                 compute, compute)
        out = {}
        for log in (False, True):
            ys = [_api.softmax_chunk_from_partials(p, merged, axes, compute, compute, scale,
                                                   num_threads, log) for p in pieces]
            out[log] = np.concatenate(ys, axis=axis)
    return out, lse


@pytest.mark.parametrize("n", TAIL_LENGTHS[:12])
@pytest.mark.parametrize("dtype", DTYPES)
def test_cut_everywhere(isa, dtype, n, rng):
    """Rows of 1 .. 33 elements cut before every position, one cut at a time, and into chunks
    of one element each."""
    x = logits(rng, (3, n), dtype)
    cut_sets = [[c] for c in range(1, n)] + [list(range(1, n))]
    for cuts in cut_sets:
        out, lse = chunked(x, -1, cuts)
        for log in (False, True):
            assert out[log].dtype == dtype
            assert_softmax_close(out[log], x, -1, log=log, what=f"cuts {cuts} log={log}")
        assert_logsumexp_close(lse, x, -1, keepdims=True, result_dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cuts", [[16384], [1, 65537], [70000, 140001], [100000]],
                         ids=["block", "one+blocked", "blocked-chunks", "tail"])
@pytest.mark.parametrize("num_threads", [1, 2])
def test_long_chunks(isa, dtype, cuts, num_threads, rng):
    """Chunks long enough for the blocked row path (>= 65536), one row and two rows."""
    for rows in (1, 2):
        x = logits(rng, (rows, 200003), dtype, scale=30.0)
        out, lse = chunked(x, -1, cuts, num_threads=num_threads)
        for log in (False, True):
            assert_softmax_close(out[log], x, -1, log=log, what=f"{rows} rows log={log}")
        assert_logsumexp_close(lse, x, -1, keepdims=True, result_dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_tree_merge_equals_flat_merge(dtype, rng):
    """A tree of merges (as dask's reduction does) stays within the tolerances, and agrees with
    the flat merge to within a few units of the last place of the compute dtype."""
    x = logits(rng, (4, 5000), dtype, scale=30.0)
    cuts = list(range(137, 5000, 311))
    flat, _ = chunked(x, -1, cuts)
    for fan_in in (2, 3, 4):
        tree, _ = chunked(x, -1, cuts, merge_groups=fan_in)
        for log in (False, True):
            assert_softmax_close(tree[log], x, -1, log=log, what=f"fan-in {fan_in}")
            np.testing.assert_allclose(tree[log], flat[log], rtol=8 * np.finfo(dtype).eps,
                                       atol=0 if not log else 8 * np.finfo(dtype).eps)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", [0, 1])
def test_non_last_axis_and_layouts(isa, dtype, axis, rng):
    """A chunk whose reduced axis is not the innermost (copied into rows), and a strided
    chunk (every other element)."""
    x = logits(rng, (300, 41), dtype)
    for source in (x, np.asfortranarray(x), x[:, ::-1]):
        out, lse = chunked(source, axis, [7, 150] if axis == 0 else [5, 20])
        for log in (False, True):
            assert_softmax_close(out[log], source, axis, log=log, what=f"axis {axis}")
        assert_logsumexp_close(lse, source, axis, keepdims=True, result_dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_scale(isa, dtype, rng):
    x = logits(rng, (3, 1000), dtype)
    for scale in (0.25, -3.0):
        out, lse = chunked(x, -1, [100, 999], scale=scale)
        for log in (False, True):
            assert_softmax_close(out[log], x, -1, log=log, scale=scale)
        assert_logsumexp_close(lse, x, -1, keepdims=True, scale=scale, result_dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [5, 40, 70000])
def test_special_values_in_other_chunks(isa, dtype, n, rng):
    """NaN, +inf and -inf in one chunk decide the whole slice (DESIGN section 3), wherever the
    chunk lies: rows with NaN in one chunk, +inf in one chunk, +inf in one chunk and NaN in
    another, only -inf, -inf in a whole chunk, and the max alone in a chunk of its own."""
    x = logits(rng, (8, 3 * n), dtype)
    x[0, n + 1] = np.nan
    x[1, 2 * n + 2] = np.inf
    x[2, 1], x[2, 2 * n] = np.inf, np.nan
    x[3, :] = -np.inf
    x[4, n:2 * n] = -np.inf
    x[5, 3] = 1e4
    x[6, 0], x[6, 2 * n + 1] = np.nan, np.inf
    x[7, : 2 * n] = -np.inf
    x[7, -1] = 5.0
    out, lse = chunked(x, -1, [n, 2 * n])
    special, normal = [0, 1, 2, 3, 6], [4, 5, 7]
    for log in (False, True):
        assert np.isnan(out[log][special]).all(), f"log={log}: want all NaN"
        assert_softmax_close(out[log][normal], x[normal], -1, log=log)
    assert_logsumexp_close(lse[normal], x[normal], -1, keepdims=True, result_dtype=dtype)
    assert np.isnan(lse[[0, 2, 6], 0]).all() and lse[1, 0] == np.inf and lse[3, 0] == -np.inf


def test_empty_chunks(rng):
    """Zero-length chunks take no part; a slice made only of empty chunks has logsumexp -inf."""
    x = logits(rng, (3, 10), np.float32)
    out, lse = chunked(x, -1, [0, 4, 4, 10])
    for log in (False, True):
        assert_softmax_close(out[log], x, -1, log=log)
    assert_logsumexp_close(lse, x, -1, keepdims=True)
    empty = np.empty((3, 0), np.float32)
    _, lse0 = chunked(empty, -1, [0])
    assert lse0.shape == (3, 1) and (lse0 == -np.inf).all()


def test_merge_of_partials_is_exact_at_the_max():
    """The merged partial's rest counts the terms at the max apart: two chunks holding one value
    at the max and terms far below give rest = their sum, not 1 + sum - 1 rounded."""
    x = np.array([[0.0, -40.0, -41.0, -45.0]], np.float64)
    out, lse = chunked(x, -1, [1, 3])
    want = np.log1p(np.exp(-40.0) + np.exp(-41.0) + np.exp(-45.0))
    assert lse[0, 0] == pytest.approx(want, rel=4e-16)
    assert out[True][0, 0] == pytest.approx(-want, rel=4e-16)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [33, 70001])
def test_core_kernels_on_strided_views(isa, dtype, n, rng):
    """The compiled kernels directly, on (outer, n, inner) views with inner > 1 and strided
    rows (gathered), written into a strided output (scattered): nothing written outside it."""
    from softmax_fast import _core
    x = logits(rng, (2, n, 3), dtype)
    parts = np.empty((2, 3, 3))
    _core.partials_3d(x, parts, 1.0, 2)
    merged = np.ascontiguousarray(parts)   # one chunk per slice: its partial is the merged one
    out, base = strided_buffer(x.shape, dtype, SENTINEL)
    for log in (False, True):
        _core.softmax_from_partials_3d(x, merged, out, log, 1.0, 2)
        assert_softmax_close(out, x, 1, log=log)
    assert np.count_nonzero(base == SENTINEL) == base.size - out.size, "wrote outside out"
    lse = np.empty(6, dtype)
    _core.logsumexp_from_partials(merged.reshape(6, 3), lse)
    assert_logsumexp_close(lse.reshape(2, 1, 3), x, 1, keepdims=True)
    # one strided row shared by two threads (the gathered long-row branch)
    x1 = logits(rng, (2 * n,), dtype)[::2].reshape(1, n, 1)
    p1 = np.empty((1, 1, 3))
    _core.partials_3d(x1, p1, 1.0, 2)
    y1 = np.empty((1, n, 1), dtype)
    _core.softmax_from_partials_3d(x1, p1, y1, False, 1.0, 2)
    assert_softmax_close(y1, x1, 1)


def test_partials_at_a_misaligned_address_reach_the_kernels_aligned():
    """dask.distributed may hand a worker a partials array at an odd address (UBSan in CI: a
    misaligned double load); the float64 views given to the C functions are aligned copies."""
    from softmax_fast import _api
    buf = np.zeros(24 * 6 + 2, np.uint8)
    parts = buf[2:].view(_api.PARTIAL_DTYPE).reshape(2, 1, 3)
    assert not parts.view(np.float64).flags.aligned
    assert _api._partials_rows(parts, ((0,), (1,), (2,))).flags.aligned
    assert _api._aligned_f64(parts.reshape(-1)).flags.aligned
