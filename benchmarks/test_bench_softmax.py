"""pytest-benchmark suite: one benchmark group per standard case (`softmax_fast._bench.CASES`).

In each group: softmax_fast.softmax with each algorithm ("auto", "three-pass", "two-pass",
"online"; ``out=`` preallocated), softmax_fast.log_softmax (float32 cases), the NumPy reference
(`softmax_fast._reference.softmax_naive`), scipy.special.softmax and torch.softmax (skipped when
not installed). A second group per case, "<case> per ISA", times softmax_fast.softmax["auto"]
(and for float32 cases softmax_fast.log_softmax) under each kernel set this CPU has (scalar,
avx2, avx512), side by side. Every benchmark checks
its result once against the float64 reference on a few slices, so a broken kernel cannot look
fast.

    pytest benchmarks                                  # timings
    pytest benchmarks --benchmark-disable              # every case once (CI)
    pytest benchmarks -k "f32-32x1000"                 # one case
    pytest benchmarks --benchmark-autosave / --benchmark-compare
"""
from __future__ import annotations

import pytest

import softmax_fast as sf
from softmax_fast import _bench, _core

CASES = list(_bench.CASES)
F32_CASES = [c for c in CASES if c.dtype == "float32"]
ALGORITHMS = ["auto", "three-pass", "two-pass", "online"]


def _ids(case: _bench.Case) -> str:
    return case.name


def _label(benchmark, case: _bench.Case, implementation: str) -> None:
    benchmark.group = case.name
    benchmark.extra_info.update(
        case=case.name, shape=list(case.shape), axis=case.axis, dtype=case.dtype,
        implementation=implementation, isa=sf.show_config()["isa"])


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_softmax_fast(benchmark, bench_input, out_like, case, algorithm):
    data = bench_input(case)
    out = out_like(data.x)
    _label(benchmark, case, f"softmax_fast.softmax[{algorithm}]")
    y = benchmark(sf.softmax, data.x, axis=case.axis, out=out, algorithm=algorithm)
    assert y is out
    data.reference.check(out, what=f"softmax_fast.softmax[{algorithm}]")


# (case, function): softmax for every case, log_softmax for the float32 ones
PER_ISA = [pytest.param(c, "softmax", id=f"{c.name}-softmax") for c in CASES] + [
    pytest.param(c, "log_softmax", id=f"{c.name}-log_softmax") for c in F32_CASES]


@pytest.mark.parametrize("isa", _core.available_isas())
@pytest.mark.parametrize("case,fn", PER_ISA)
def test_softmax_fast_per_isa(benchmark, bench_input, out_like, case, fn, isa):
    data = bench_input(case)
    out = out_like(data.x)
    what = f"softmax_fast.{fn}[isa={isa}]"
    previous = _core.current_isa()
    _core.select_isa(isa)
    try:
        _label(benchmark, case, what)
        benchmark.group = f"{case.name} per ISA"
        y = benchmark(getattr(sf, fn), data.x, axis=case.axis, out=out)
    finally:
        _core.select_isa(previous)
    assert y is out
    data.reference.check(out, log=fn == "log_softmax", what=what)


@pytest.mark.parametrize("case", F32_CASES, ids=_ids)
def test_softmax_fast_log(benchmark, bench_input, out_like, case):
    data = bench_input(case)
    out = out_like(data.x)
    _label(benchmark, case, "softmax_fast.log_softmax[auto]")
    y = benchmark(sf.log_softmax, data.x, axis=case.axis, out=out)
    assert y is out
    data.reference.check(out, log=True, what="softmax_fast.log_softmax[auto]")


@pytest.mark.parametrize("peer", _bench.PEER_NAMES)
@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_peer(benchmark, bench_input, case, peer):
    prepare = _bench.peer(peer)
    if prepare is None:
        pytest.skip(f"{peer} is not installed (import failed)")
    data = bench_input(case)
    call = prepare(data.x, case.axis)
    _label(benchmark, case, peer)
    y = benchmark(call)
    data.reference.check(y, peer=True, what=peer)
