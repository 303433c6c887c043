"""pytest-benchmark suite of the fused operations (issue 5): one group per operation and shape.

In each group: the softmax_fast function, its PyTorch equivalent (skipped when PyTorch is not
installed) and, for the small shapes, the NumPy float64 reference (`softmax_fast._reference`).
Each softmax_fast benchmark checks its result once against the reference, so that a broken
kernel cannot look fast.

    pytest benchmarks/test_bench_fused.py                      # timings
    pytest benchmarks/test_bench_fused.py --benchmark-disable  # every case once (CI)
    python benchmarks/fused_ratios.py                          # the issue's two target ratios
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

import softmax_fast as sf
from softmax_fast import _bench
from softmax_fast import _reference as ref


@dataclass(frozen=True)
class FusedCase:
    name: str
    op: str
    shape: tuple[int, ...]
    dtype: str = "float32"
    k: int = 0
    numpy_peer: bool = False    # the float64 reference is fast enough to time here


CASES = (
    FusedCase("cross_entropy-f32-256x32000", "cross_entropy", (256, 32000)),
    FusedCase("cross_entropy-f32-32x1000", "cross_entropy", (32, 1000), numpy_peer=True),
    FusedCase("cross_entropy-probs-f32-64x1000", "cross_entropy_probs", (64, 1000),
              numpy_peer=True),
    FusedCase("softmax_topk-f32-1x128256-k50", "softmax_topk", (1, 128256), k=50,
              numpy_peer=True),
    FusedCase("softmax_topk-f32-16x128256-k50", "softmax_topk", (16, 128256), k=50),
    FusedCase("softmax_backward-f32-256x4096", "softmax_backward", (256, 4096), numpy_peer=True),
    FusedCase("log_softmax_backward-f32-256x4096", "log_softmax_backward", (256, 4096),
              numpy_peer=True),
    FusedCase("segment_softmax-f32-20000x~32", "segment_softmax", (20000, 32), numpy_peer=False),
)


def _ids(case):
    return case.name


class Data:
    """The inputs of one case, made once (fixed seed)."""

    def __init__(self, case: FusedCase):
        rng = np.random.default_rng(_bench.SEED)
        dt = np.dtype(case.dtype)
        self.case = case
        self.x = _bench.make_data(case.shape, dt)
        if case.op == "cross_entropy":
            self.target = rng.integers(0, case.shape[-1], case.shape[:-1])
        elif case.op == "cross_entropy_probs":
            p = rng.random(case.shape)
            self.target = (p / p.sum(-1, keepdims=True)).astype(dt)
        elif case.op in ("softmax_backward", "log_softmax_backward"):
            log = case.op == "log_softmax_backward"
            self.y = (sf.log_softmax if log else sf.softmax)(self.x)
            self.grad = rng.standard_normal(case.shape).astype(dt)
        elif case.op == "segment_softmax":
            # ragged rows of 0 .. 2 * mean elements (a sparse attention / CSR matrix)
            rows, mean = case.shape
            lengths = rng.integers(0, 2 * mean + 1, rows)
            self.offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
            self.x = _bench.make_data((int(self.offsets[-1]),), dt)

    def ours(self):
        c = self.case
        if c.op in ("cross_entropy", "cross_entropy_probs"):
            return lambda: sf.cross_entropy(self.x, self.target)
        if c.op == "softmax_topk":
            return lambda: sf.softmax_topk(self.x, c.k)
        if c.op in ("softmax_backward", "log_softmax_backward"):
            f = getattr(sf, c.op)
            out = np.empty_like(self.x)
            return lambda: f(self.grad, self.y, out=out)
        if c.op == "segment_softmax":
            out = np.empty_like(self.x)
            return lambda: sf.segment_softmax(self.x, self.offsets, out=out)
        raise AssertionError(c.op)

    def reference(self):
        c = self.case
        if c.op in ("cross_entropy", "cross_entropy_probs"):
            return lambda: ref.cross_entropy(self.x, self.target)
        if c.op == "softmax_topk":
            return lambda: ref.softmax_topk(self.x, c.k)
        if c.op == "softmax_backward":
            return lambda: ref.softmax_backward(self.grad, self.y)
        if c.op == "log_softmax_backward":
            return lambda: ref.log_softmax_backward(self.grad, self.y)
        if c.op == "segment_softmax":
            return lambda: ref.segment_softmax(self.x, self.offsets)
        raise AssertionError(c.op)

    def torch(self):
        """PyTorch's way of computing the same, or None."""
        try:
            import torch
        except ImportError:
            return None
        c = self.case
        F = torch.nn.functional
        x = torch.from_numpy(self.x)
        if c.op in ("cross_entropy", "cross_entropy_probs"):
            t = torch.from_numpy(self.target)
            return lambda: F.cross_entropy(x, t)
        if c.op == "softmax_topk":
            return lambda: torch.topk(torch.softmax(x, -1), c.k)
        if c.op in ("softmax_backward", "log_softmax_backward"):
            # the backward kernel itself, as autograd runs it (no forward pass timed)
            y, g = torch.from_numpy(self.y), torch.from_numpy(self.grad)
            if c.op == "softmax_backward":
                return lambda: torch._softmax_backward_data(g, y, -1, y.dtype)
            return lambda: torch._log_softmax_backward_data(g, y, -1, y.dtype)
        if c.op == "segment_softmax":
            rows = len(self.offsets) - 1
            lengths = np.diff(self.offsets)
            row = np.repeat(np.arange(rows), lengths)
            col = np.arange(len(self.x)) - np.repeat(self.offsets[:-1], lengths)
            s = torch.sparse_coo_tensor(np.vstack([row, col]), self.x,
                                        (rows, int(lengths.max())),
                                        check_invariants=True).coalesce()
            return lambda: torch.sparse.softmax(s, 1)
        raise AssertionError(c.op)

    def check(self, got):
        """One comparison with the float64 reference (tolerances far above the expected error,
        far below any broken result)."""
        c = self.case
        rtol = 1e-4
        if c.op == "softmax_topk":
            want_v, want_i = ref.softmax_topk(self.x, c.k)
            np.testing.assert_array_equal(got[1], want_i)
            np.testing.assert_allclose(got[0], want_v, rtol=rtol)
        else:
            np.testing.assert_allclose(got, self.reference()(), rtol=rtol, atol=1e-6)


_DATA: dict[str, Data] = {}


def _data(case):
    if case.name not in _DATA:
        _DATA.clear()
        _DATA[case.name] = Data(case)
    return _DATA[case.name]


def _label(benchmark, case, implementation):
    benchmark.group = case.name
    benchmark.extra_info.update(case=case.name, shape=list(case.shape), dtype=case.dtype,
                                implementation=implementation, isa=sf.show_config()["isa"])


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_fused(benchmark, case):
    data = _data(case)
    _label(benchmark, case, f"softmax_fast.{case.op.replace('_probs', '')}")
    got = benchmark(data.ours())
    data.check(got)


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_fused_torch(benchmark, case):
    data = _data(case)
    call = data.torch()
    if call is None:
        pytest.skip("torch is not installed (import failed)")
    _label(benchmark, case, "torch")
    got = benchmark(call)
    # the peer computes the same thing (checked once, as ours is)
    if case.op == "softmax_topk":
        got = (got[0].numpy(), got[1].numpy())
    elif case.op == "segment_softmax":
        got = got.coalesce().values().numpy()
    else:
        got = got.numpy()
    data.check(got)


@pytest.mark.parametrize("case", [c for c in CASES if c.numpy_peer], ids=_ids)
def test_fused_numpy_reference(benchmark, case):
    data = _data(case)
    _label(benchmark, case, "numpy (float64 reference)")
    benchmark(data.reference())
