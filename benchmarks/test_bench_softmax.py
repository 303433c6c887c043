"""pytest-benchmark suite: one group per standard case (softmax_fast._bench.CASES).

In each group: softmax_fast with each algorithm (and log_softmax with auto), the NumPy reference
(max, exp, sum, divide), scipy.special.softmax, and torch.softmax when PyTorch is installed.
Every benchmark checks its result once against the float64 reference on a few slices, so a
broken kernel cannot look fast.

    pytest benchmarks                       # timings
    pytest benchmarks --benchmark-disable   # every case once (CI)
"""
import numpy as np
import pytest

import softmax_fast as sf
from softmax_fast import _bench, _reference

CASES = {c.name: c for c in _bench.CASES}
SF_VARIANTS = ["auto", "three-pass", "two-pass", "online"]


def _check(case, x, y, log=False):
    """Compare a few slices along the case's axis with the float64 reference."""
    xs = np.moveaxis(x, case.axis, -1)[..., :].reshape(-1, x.shape[case.axis])
    ys = np.moveaxis(np.asarray(y), case.axis, -1).reshape(xs.shape)
    rows = sorted({0, xs.shape[0] // 2, xs.shape[0] - 1})
    ref = (_reference.log_softmax if log else _reference.softmax)(xs[rows], axis=-1)
    rtol = 1e-5 if x.dtype == np.float32 else 1e-12
    np.testing.assert_allclose(ys[rows], ref, rtol=rtol, atol=rtol if log else 0)


@pytest.mark.parametrize("algorithm", SF_VARIANTS)
@pytest.mark.parametrize("case_name", list(CASES))
def test_softmax_fast(benchmark, case_data, case_name, algorithm):
    case = CASES[case_name]
    x = case_data(case)
    out = np.empty_like(x)
    benchmark.group = case.name
    benchmark.name = f"softmax_fast[{algorithm}]"
    benchmark(sf.softmax, x, axis=case.axis, out=out, algorithm=algorithm)
    _check(case, x, out)


@pytest.mark.parametrize("case_name", [n for n, c in CASES.items() if c.dtype == "float32"])
def test_softmax_fast_log(benchmark, case_data, case_name):
    case = CASES[case_name]
    x = case_data(case)
    out = np.empty_like(x)
    benchmark.group = case.name
    benchmark.name = "softmax_fast.log_softmax[auto]"
    benchmark(sf.log_softmax, x, axis=case.axis, out=out)
    _check(case, x, out, log=True)


@pytest.mark.parametrize("peer", ["numpy", "scipy", "torch"])
@pytest.mark.parametrize("case_name", list(CASES))
def test_peer(benchmark, case_data, case_name, peer):
    if peer == "scipy":
        pytest.importorskip("scipy")
    if peer == "torch":
        pytest.importorskip("torch")
    case = CASES[case_name]
    x = case_data(case)
    f = _bench.peers()[peer]
    benchmark.group = case.name
    benchmark.name = peer
    y = benchmark(f, x, case.axis)
    _check(case, x, np.asarray(y))
