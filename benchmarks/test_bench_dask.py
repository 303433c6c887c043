"""pytest-benchmark group for softmax_fast.dask: softmax and log_softmax of a dask array chunked
along the softmax axis (the partials path), next to the plain dask expression, on dask's
default threaded scheduler. The array is small so that `--benchmark-disable` runs each case
fast; `python benchmarks/dask_ratio.py` measures issue 7's large case. Skipped without dask.
"""
from __future__ import annotations

import numpy as np
import pytest

da = pytest.importorskip("dask.array")

import softmax_fast.dask as sfd            # noqa: E402
from softmax_fast import _bench            # noqa: E402

SHAPE, CHUNKS = (16, 200_000), (8, 50_000)
GROUP = f"dask {SHAPE[0]}x{SHAPE[1]} float32 chunks {CHUNKS[0]}x{CHUNKS[1]}"


@pytest.fixture(scope="module")
def data():
    x = np.random.default_rng(7).standard_normal(SHAPE, dtype=np.float32) * np.float32(4)
    return x, da.from_array(x, chunks=CHUNKS), _bench.Reference(x, 1)


def _plain(dx, log):
    m = dx.max(axis=1, keepdims=True)
    if log:
        return (dx - m) - da.log(da.exp(dx - m).sum(axis=1, keepdims=True))
    e = da.exp(dx - m)
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("log", [False, True], ids=["softmax", "log_softmax"])
@pytest.mark.parametrize("implementation", ["softmax_fast.dask", "plain dask"])
def test_dask_chunked_axis(benchmark, data, implementation, log):
    x, dx, reference = data
    if implementation == "softmax_fast.dask":
        y = (sfd.log_softmax if log else sfd.softmax)(dx)
    else:
        y = _plain(dx, log)
    name = ("log_softmax" if log else "softmax")
    benchmark.group = f"{GROUP} {name}"
    benchmark.extra_info.update(shape=list(SHAPE), chunks=list(CHUNKS), dtype="float32",
                                implementation=implementation, function=name)
    got = benchmark(y.compute)
    reference.check(got, log=log, peer=implementation != "softmax_fast.dask",
                    what=f"{implementation} {name}")
