"""softmax_fast.dask: lazy results with the input's chunks, whole-slice chunks straight to the
NumPy functions, slices chunked along the axis merged from per-chunk partials; on dask's
default (threaded) scheduler and on a dask.distributed LocalCluster of two worker processes.
Tolerances: helpers.py (the same as the NumPy functions)."""
import time

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

import softmax_fast as sf                      # noqa: E402
import softmax_fast.dask as sfd                # noqa: E402
from numpy.exceptions import AxisError         # noqa: E402
from helpers import (DTYPES, assert_logsumexp_close, assert_softmax_close, logits,  # noqa: E402
                     strict)

SOFTMAX_LIKE = [pytest.param(False, id="softmax"), pytest.param(True, id="log_softmax")]


def _fns(log):
    return (sfd.log_softmax, sf.log_softmax) if log else (sfd.softmax, sf.softmax)


def _compute(a, **kwargs):
    with strict():
        return a.compute(**kwargs)


def _layer_names(a):
    return list(a.__dask_graph__().layers)


# ---- laziness and chunks ------------------------------------------------------------------------

@pytest.mark.parametrize("log", SOFTMAX_LIKE)
def test_lazy_until_computed(log, rng):
    """Building the result computes nothing: the input's blocks are only produced by compute()."""
    produced = []

    def make(block_info=None):
        produced.append(block_info[None]["chunk-location"])
        loc = block_info[None]["array-location"]
        return np.arange(loc[0][0], loc[0][1], dtype=np.float32)[:, None] * np.linspace(
            -1, 1, loc[1][1] - loc[1][0], dtype=np.float32)

    x = da.map_blocks(make, dtype=np.float32, chunks=((3, 3), (4, 4, 2)))
    for chunked_axis in (1, 0):
        y = _fns(log)[0](x, axis=chunked_axis)
        assert isinstance(y, da.Array)
        assert y.chunks == x.chunks and y.dtype == np.float32
        assert produced == [], "built the graph by computing blocks"
        got = _compute(y)
        assert len(produced) == 6
        produced.clear()
        assert_softmax_close(got, x.compute(), chunked_axis, log=log)
        produced.clear()
    lse = sfd.logsumexp(x, axis=1)
    assert isinstance(lse, da.Array) and produced == []
    assert lse.chunks == ((3, 3),)


@pytest.mark.parametrize("log", SOFTMAX_LIKE)
@pytest.mark.parametrize("dtype", DTYPES)
def test_unchunked_axis_goes_straight_to_the_kernels(log, dtype, rng):
    """A slice in one chunk: one task per block calling the NumPy function, no reduction layer;
    the result is bitwise the NumPy function's."""
    x = logits(rng, (10, 300), dtype)
    dx = da.from_array(x, chunks=(3, 300))
    y = _fns(log)[0](dx)
    names = _layer_names(y)
    assert not any("partials" in n for n in names), names
    assert len(y.__dask_graph__().layers[y.name]) == dx.numblocks[0]
    np.testing.assert_array_equal(_compute(y), _fns(log)[1](x))
    lse = sfd.logsumexp(dx, axis=1)
    assert not any("partials" in n for n in _layer_names(lse))
    np.testing.assert_array_equal(_compute(lse), sf.logsumexp(x, axis=1))


# ---- chunked along the axis ---------------------------------------------------------------------

CHUNKED_CASES = [
    # shape, chunks, axis
    ((7, 1000), (3, 100), -1),
    ((7, 1000), (7, 333), 1),
    ((7, 40), (2, 1), -1),            # chunks of one element along the axis (many partials)
    ((1000, 7), (100, 3), 0),         # a non-last axis
    ((6, 40, 9), (4, 7, 5), 1),       # the middle axis
    ((6, 40, 9), (4, 7, 5), (1, 2)),  # two axes together, both chunked
    ((6, 40, 9), (4, 40, 2), (0, 2)),
    ((3, 200_003), (2, 70_000), -1),  # chunks on the kernels' blocked long-row path
]


@pytest.mark.parametrize("shape,chunks,axis", CHUNKED_CASES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_chunked_axis(isa, shape, chunks, axis, dtype, rng):
    x = logits(rng, shape, dtype, scale=30.0)
    dx = da.from_array(x, chunks=chunks)
    for log in (False, True):
        y = _fns(log)[0](dx, axis=axis)
        assert any("partials" in n for n in _layer_names(y))
        assert y.chunks == dx.chunks and y.dtype == dtype
        got = _compute(y)
        assert_softmax_close(got, x, axis, log=log, what=f"log={log}")
        # and the NumPy function's result, within the same accuracy
        np.testing.assert_allclose(got, _fns(log)[1](x, axis=axis),
                                   rtol=64 * np.finfo(dtype).eps, atol=1e-30 if not log else
                                   64 * np.finfo(dtype).eps * float(np.max(np.abs(got))))
    for keepdims in (False, True):
        lse = sfd.logsumexp(dx, axis=axis, keepdims=keepdims)
        assert_logsumexp_close(_compute(lse), x, axis, keepdims=keepdims, result_dtype=dtype)
    assert_logsumexp_close(_compute(sfd.logsumexp(dx)), x, None, result_dtype=dtype)


@pytest.mark.parametrize("axis", [-1, 0])
@pytest.mark.parametrize("dtype", DTYPES)
def test_log_softmax_rest_taken_again_across_chunks(isa, dtype, axis):
    """log_softmax along a chunked axis takes a slice's rest again where a NumPy row's would be
    (its pieces from every chunk, added up): the same accuracy on the rows that show it most,
    the NumPy result's bits or within an ulp of them (3.3 ULP before, NumPy 1.5)."""
    from test_accuracy import _reference_uncached, _rows_rest_above_binade, max_ulp
    rows = _rows_rest_above_binade(dtype, 1000, 20, np.random.default_rng(11))
    ref = _reference_uncached(rows)[1]
    x = rows if axis == -1 else np.ascontiguousarray(rows.T)
    chunks = (100, 333) if axis == -1 else (333, 100)
    y = _compute(sfd.log_softmax(da.from_array(x, chunks=chunks), axis=axis))
    if axis == 0:
        y = y.T
    assert max_ulp(y, ref, dtype) <= 2.0
    np.testing.assert_allclose(y, sf.log_softmax(rows), rtol=2 * np.finfo(dtype).eps, atol=0)


@pytest.mark.parametrize("split_every", [2, 3, 100])
def test_tree_reduction_depths(split_every, rng):
    """Deep trees (fan-in 2: several combine levels) and one flat aggregate give the same
    accuracy."""
    x = logits(rng, (5, 4000), np.float64, scale=30.0)
    dx = da.from_array(x, chunks=(5, 150))           # 27 chunks along the axis
    y = sfd.softmax(dx, split_every=split_every)
    assert_softmax_close(_compute(y), x)
    lse = sfd.logsumexp(dx, axis=-1, split_every=split_every)
    assert_logsumexp_close(_compute(lse), x, -1)


@pytest.mark.parametrize("dtype", DTYPES)
def test_special_values_across_chunks(dtype, rng):
    """A NaN, +inf, or only -inf in one chunk decides its whole slice (DESIGN section 3)."""
    x = logits(rng, (6, 90), dtype)
    x[0, 35] = np.nan
    x[1, 70] = np.inf
    x[2, 5], x[2, 80] = np.inf, np.nan
    x[3] = -np.inf
    x[4, 30:60] = -np.inf
    dx = da.from_array(x, chunks=(4, 30))
    for log in (False, True):
        got = _compute(_fns(log)[0](dx))
        assert np.isnan(got[:4]).all()
        assert_softmax_close(got[4:], x[4:], log=log)
    lse = _compute(sfd.logsumexp(dx, axis=1))
    assert np.isnan(lse[[0, 2]]).all() and lse[1] == np.inf and lse[3] == -np.inf
    assert_logsumexp_close(lse[4:], x[4:], 1)


def test_empty_chunks_and_arrays():
    x = np.arange(12, dtype=np.float32).reshape(2, 6)
    dx = da.from_array(x, chunks=((2,), (3, 0, 3)))
    assert dx.chunks[1] == (3, 0, 3)
    assert_softmax_close(_compute(sfd.softmax(dx)), x)
    assert_logsumexp_close(_compute(sfd.logsumexp(dx, axis=1)), x, 1)
    empty = da.zeros((2, 0), np.float32, chunks=(1, 1))
    assert _compute(sfd.softmax(empty)).shape == (2, 0)
    np.testing.assert_array_equal(_compute(sfd.logsumexp(empty, axis=1)), [-np.inf, -np.inf])


def test_dtypes_scale_and_conversion(rng):
    x = logits(rng, (4, 500), np.float64)
    dx = da.from_array(x, chunks=(4, 120))
    # float16 in: computed in float32, returned as float16
    y = sfd.softmax(dx.astype(np.float16))
    assert y.dtype == np.float16
    assert_softmax_close(_compute(y), x.astype(np.float16), result_dtype=np.float16)
    # integers compute in float64; dtype= casts first
    xi = (x * 3).astype(np.int32)
    yi = sfd.log_softmax(da.from_array(xi, chunks=(2, 90)))
    assert yi.dtype == np.float64
    assert_softmax_close(_compute(yi), xi, log=True)
    y32 = sfd.softmax(dx, dtype=np.float32)
    assert y32.dtype == np.float32
    assert_softmax_close(_compute(y32), x.astype(np.float32))
    # scale, chunked and not
    for chunks in ((4, 120), (2, 500)):
        d = da.from_array(x, chunks=chunks)
        assert_softmax_close(_compute(sfd.softmax(d, scale=-0.5)), x, scale=-0.5)
        assert_logsumexp_close(_compute(sfd.logsumexp(d, axis=1, scale=2.0)), x, 1, scale=2.0)
    # a NumPy input is converted (one chunk); 0-d input
    assert_softmax_close(_compute(sfd.softmax(x)), x)
    assert _compute(sfd.softmax(da.from_array(np.float32(3.0)))) == 1.0
    assert _compute(sfd.logsumexp(da.from_array(np.float64(3.0)))) == 3.0


def test_num_threads(rng):
    x = logits(rng, (3, 300_000), np.float32)
    dx = da.from_array(x, chunks=(3, 140_000))
    one = _compute(sfd.softmax(dx))
    two = _compute(sfd.softmax(dx, num_threads=2))
    np.testing.assert_array_equal(one, two)   # bits never depend on the thread count


def test_bad_arguments():
    dx = da.zeros((3, 4), chunks=2)
    with pytest.raises(AxisError):
        sfd.softmax(dx, axis=2)
    with pytest.raises(AxisError):
        sfd.logsumexp(dx, axis=-3)
    with pytest.raises(ValueError, match="repeated"):
        sfd.log_softmax(dx, axis=(0, 0))
    with pytest.raises(TypeError, match="unsupported dtype"):
        sfd.softmax(dx.astype(np.complex64))
    with pytest.raises(TypeError, match="dtype"):
        sfd.softmax(dx, dtype=np.int32)
    with pytest.raises(ValueError, match="scale"):
        sfd.softmax(dx, scale=np.nan)
    with pytest.raises(ValueError, match="num_threads"):
        sfd.logsumexp(dx, num_threads=0)
    with pytest.raises(TypeError, match="num_threads"):
        sfd.softmax(dx, num_threads=1.5)


def test_masked_arrays(rng):
    """A mask acts as `where` when each slice lies in one chunk (the NumPy functions); chunked
    along the axis, a masked array is refused rather than its mask ignored."""
    x = logits(rng, (4, 30), np.float64)
    mask = rng.random(x.shape) < 0.3
    dm = da.ma.masked_array(da.from_array(x, chunks=(2, 30)), mask=mask)
    got = _compute(sfd.softmax(dm))
    np.testing.assert_array_equal(np.asarray(got), sf.softmax(np.ma.masked_array(x, mask)))
    chunked = da.ma.masked_array(da.from_array(x, chunks=(2, 10)), mask=mask)
    for fn in (sfd.softmax, sfd.log_softmax, sfd.logsumexp):
        with pytest.raises(TypeError, match="masked"):
            fn(chunked, axis=1)


# ---- dask.distributed: a local cluster of two worker processes ----------------------------------

@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as c:
        yield c


@pytest.mark.parametrize("dtype", DTYPES)
def test_local_cluster(client, dtype, rng):
    x = logits(rng, (6, 50_000), dtype, scale=30.0)
    dx = da.from_array(x, chunks=(3, 12_000))
    for log in (False, True):
        y = _fns(log)[0](dx)
        got = client.compute(y).result()
        assert_softmax_close(got, x, log=log)
        # the same bits in worker processes as on local threads and on one thread
        np.testing.assert_array_equal(got, y.compute(scheduler="threads"))
        np.testing.assert_array_equal(got, y.compute(scheduler="sync"))
    lse = client.compute(sfd.logsumexp(dx, axis=1, split_every=2)).result()
    assert_logsumexp_close(lse, x, 1)
    # the work ran in both worker processes
    assert len(client.scheduler_info()["workers"]) == 2


@pytest.mark.slow
def test_local_cluster_over_100_million_elements(client):
    """(4, 25_000_001) float32 (100,000,004 elements, 400 MB) generated on the workers, chunked
    (2, 4_000_000) along the softmax axis; every row checked against the float64 reference.
    Measured: ~11 s on the cluster (with the transfer of x and the result to the client) and
    ~25 s of checks, on a shared 2-core machine: hence `slow`."""
    shape = (4, 25_000_001)
    assert shape[0] * shape[1] > 100_000_000
    rng = da.random.default_rng(20260)
    x = rng.standard_normal(shape, dtype=np.float32, chunks=(2, 4_000_000)) * np.float32(8.0)
    assert x.numblocks == (2, 7)
    y = sfd.softmax(x)
    lse = sfd.logsumexp(x, axis=1)
    assert y.chunks == x.chunks
    t0 = time.perf_counter()
    x_np, y_np, lse_np = client.compute([x, y, lse], sync=True)
    elapsed = time.perf_counter() - t0
    assert y_np.dtype == np.float32 and y_np.shape == shape
    for r in range(shape[0]):
        assert_softmax_close(y_np[r], x_np[r], what=f"row {r}")
        assert_logsumexp_close(lse_np[r], x_np[r], what=f"row {r}")
    print(f"computed on the cluster in {elapsed:.1f} s")
