"""pytest-benchmark group: what taking a log_softmax row's rest again costs (README, Accuracy).

Rows of N(0, 1) x have large rests and never take it again; rows of N(0, 1) x 30 logits (the max
dominates) always do. Each group times both spreads side by side, one thread, so their ratio is
the cost of the second pass over the rows whose max dominates.

    pytest benchmarks/test_bench_log_rest.py
"""
from __future__ import annotations

import numpy as np
import pytest

import softmax_fast as sf
from softmax_fast import _reference

SHAPES = [(1000, 64), (32, 1000), (1, 128256)]


@pytest.mark.parametrize("spread", [1, 30])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_log_softmax_rest(benchmark, shape, dtype, spread):
    x = (spread * np.random.default_rng(7).standard_normal(shape)).astype(dtype)
    out = np.empty_like(x)
    benchmark.group = f"log_softmax rest {dtype} {shape[0]}x{shape[1]}"
    benchmark.extra_info.update(shape=list(shape), dtype=dtype, spread=spread)
    benchmark(sf.log_softmax, x, out=out, num_threads=1)
    want = _reference.log_softmax_exact(x[:4])
    np.testing.assert_allclose(out[:4], want, rtol=4 * np.finfo(dtype).eps, atol=0)
