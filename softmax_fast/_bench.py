"""The standard benchmark cases and the timing helper, shared by `python -m softmax_fast bench`
and the pytest-benchmark suite in benchmarks/.

Timings are best-of-N wall times taken in one process, side by side, so that a shared, noisy
machine shows up as little as possible; compare ratios, not absolute times.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import _reference


@dataclass(frozen=True)
class Case:
    """One standard input: softmax along `axis` of a fixed-seed standard-normal array."""

    name: str
    shape: tuple[int, ...]
    axis: int
    dtype: str
    quick: bool  # part of `bench --quick`

    def make(self) -> np.ndarray:
        rng = np.random.default_rng(1234)
        return rng.standard_normal(self.shape, dtype=np.dtype(self.dtype).type)


CASES = [
    Case("classifier-tiny 4x10", (4, 10), -1, "float32", True),
    Case("classifier 32x1000", (32, 1000), -1, "float32", True),
    Case("llm-decode 1x128256", (1, 128256), -1, "float32", True),
    Case("llm-batch 16x128256", (16, 128256), -1, "float32", True),
    Case("attention 16384x512", (16384, 512), -1, "float32", False),
    Case("square 4096x4096", (4096, 4096), -1, "float32", True),
    Case("square 4096x4096 f64", (4096, 4096), -1, "float64", False),
    Case("long-row 1x2^24", (1, 1 << 24), -1, "float32", False),
    Case("axis0 1000x1024", (1000, 1024), 0, "float32", True),
]


def best_time(f: Callable[[], object], budget: float = 0.3, max_repeats: int = 200,
              min_repeats: int = 3) -> float:
    """Best wall time of `f()` in seconds, repeating until `budget` seconds are spent (at least
    `min_repeats`, at most `max_repeats` runs) after one warm-up call."""
    f()
    best = float("inf")
    spent = 0.0
    runs = 0
    while runs < min_repeats or (spent < budget and runs < max_repeats):
        t0 = time.perf_counter()
        f()
        dt = time.perf_counter() - t0
        best = min(best, dt)
        spent += dt
        runs += 1
    return best


def peers() -> dict[str, Callable[[np.ndarray, int], object]]:
    """The other implementations available here: name -> f(x, axis)."""
    out: dict[str, Callable[[np.ndarray, int], object]] = {
        "numpy": lambda x, axis: _reference.softmax_naive(x, axis=axis),
    }
    try:
        import scipy.special

        out["scipy"] = lambda x, axis: scipy.special.softmax(x, axis=axis)
    except ImportError:
        pass
    try:
        import torch

        def torch_softmax(x, axis, _t={}):
            key = id(x)
            if key not in _t:  # convert once: time the softmax, not the conversion
                _t.clear()
                _t[key] = torch.from_numpy(x)
            return torch.softmax(_t[key], dim=axis)

        out["torch"] = torch_softmax
    except ImportError:
        pass
    return out
