"""The standard benchmark cases, the implementations they compare and the timing helper.

This module is the one definition shared by ``python -m softmax_fast bench`` and the
pytest-benchmark suite in ``benchmarks/``:

- `CASES`: the standard inputs (fixed-seed standard-normal data, see `Case`);
- `peers`: the other softmax implementations available here (NumPy reference, SciPy, PyTorch),
  each as ``prepare(x, axis) -> call``, where ``call()`` does only the work that is timed;
- `Reference`: a float64 reference of a few slices, to check each result once, so that a broken
  kernel can never look fast;
- `time_calls` / `best_time`: best-of-N wall times with an adaptive number of repeats.

The machine the benchmarks run on is shared and noisy. The timing helper therefore takes the
*best* of many samples, interleaves the implementations it compares (a noisy second hits all of
them alike), and keeps sampling while the best two samples disagree. Compare the ratios it gives
within one process; absolute times move from run to run.
"""
from __future__ import annotations

import gc
import math
import os
import platform
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np
import numpy.typing as npt

from . import _reference

#: Seed of every case's data.
SEED = 20_240_601


@dataclass(frozen=True)
class Case:
    """One standard input: softmax along `axis` of a standard-normal array of `shape`."""

    name: str  #: short, unique and usable with ``pytest -k`` and ``bench --case``
    shape: tuple[int, ...]
    axis: int
    dtype: str  #: "float32" or "float64"
    description: str = ""

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.size * np.dtype(self.dtype).itemsize

    @property
    def large(self) -> bool:
        """At least 32 MiB of input: `bench --quick` times these with fewer repeats."""
        return self.nbytes >= 32 << 20

    def make(self) -> np.ndarray:
        """The case's input: fixed-seed standard-normal values, C-contiguous."""
        return make_data(self.shape, self.dtype)


def make_data(shape: tuple[int, ...], dtype: npt.DTypeLike, seed: int = SEED) -> np.ndarray:
    """Standard-normal values of `shape` and `dtype` from a fixed seed (the same every call)."""
    rng = np.random.default_rng(seed)
    if np.dtype(dtype) == np.float32:
        return rng.standard_normal(shape, dtype=np.float32)
    if np.dtype(dtype) == np.float64:
        return rng.standard_normal(shape, dtype=np.float64)
    raise ValueError(f"make_data: float32 or float64, not {np.dtype(dtype)}")


CASES: tuple[Case, ...] = (
    Case("f32-4x10", (4, 10), -1, "float32", "tiny classifier head: call overhead"),
    Case("f32-32x1000", (32, 1000), -1, "float32", "classifier head (ImageNet logits)"),
    Case("f32-1x128256", (1, 128256), -1, "float32", "LLM decode step (Llama-3 vocabulary)"),
    Case("f32-16x128256", (16, 128256), -1, "float32", "batch of LLM rows"),
    Case("f32-16384x512", (16384, 512), -1, "float32", "attention rows"),
    Case("f32-4096x4096", (4096, 4096), -1, "float32", "square, larger than L2"),
    Case("f32-1x2^24", (1, 1 << 24), -1, "float32", "one very long row"),
    Case("f32-1000x1024-axis0", (1000, 1024), 0, "float32", "reduction along axis 0"),
    Case("f64-4096x4096", (4096, 4096), -1, "float64", "square, float64"),
)


def get_case(name: str) -> Case:
    for case in CASES:
        if case.name == name:
            return case
    raise KeyError(f"no benchmark case {name!r}; known: {', '.join(c.name for c in CASES)}")


# ---- implementations -------------------------------------------------------------------------

Prepare = Callable[[np.ndarray, int], Callable[[], object]]


def _numpy(x: np.ndarray, axis: int) -> Callable[[], object]:
    f = _reference.softmax_naive
    return lambda: f(x, axis=axis)


def _scipy_prepare() -> Prepare | None:
    try:
        from scipy.special import softmax
    except ImportError:
        return None

    def prepare(x: np.ndarray, axis: int) -> Callable[[], object]:
        return lambda: softmax(x, axis=axis)

    return prepare


def _torch_prepare() -> Prepare | None:
    try:
        import torch
    except ImportError:
        return None

    def prepare(x: np.ndarray, axis: int) -> Callable[[], object]:
        t = torch.from_numpy(x)  # shares x's memory: the conversion is not timed
        return lambda: torch.softmax(t, dim=axis)

    return prepare


_PEER_FACTORIES: dict[str, Callable[[], Prepare | None]] = {
    "numpy": lambda: _numpy, "scipy": _scipy_prepare, "torch": _torch_prepare}

#: The peers, in table order.
PEER_NAMES = tuple(_PEER_FACTORIES)


def peer(name: str) -> Prepare | None:
    """One peer's ``prepare(x, axis) -> call``, or None when it is not importable here
    (only that peer's package is imported)."""
    return _PEER_FACTORIES[name]()


def peers() -> dict[str, Prepare]:
    """The softmax implementations to compare with, those importable here:
    ``{"numpy": ..., "scipy": ..., "torch": ...}``, each ``prepare(x, axis) -> call``."""
    out = {name: peer(name) for name in PEER_NAMES}
    return {name: prepare for name, prepare in out.items() if prepare is not None}


def peer_versions() -> dict[str, str]:
    """Versions of the importable peers (torch with its intra-op thread count)."""
    out = {"numpy": np.__version__}
    try:
        import scipy
        out["scipy"] = scipy.__version__
    except ImportError:
        pass
    try:
        import torch
        out["torch"] = f"{torch.__version__} ({torch.get_num_threads()} threads)"
    except ImportError:
        pass
    return out


def cpu_name() -> str:
    """The CPU's model name (Linux: /proc/cpuinfo; elsewhere what `platform` knows)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict[str, object]:
    """Where a benchmark ran: CPU model, logical CPUs (and those this process may use), OS."""
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count() or 0
    return {"cpu": cpu_name(), "logical_cpus": os.cpu_count(), "usable_cpus": usable,
            "platform": platform.platform(), "python": platform.python_version()}


def to_numpy(y: Any) -> np.ndarray:
    """A peer's result as an ndarray (a torch tensor is viewed, not copied)."""
    if isinstance(y, np.ndarray):
        return y
    if hasattr(y, "numpy"):
        return np.asarray(y.numpy())  # no copy: already an ndarray
    return np.asarray(y)


# ---- checking results ------------------------------------------------------------------------

#: rtol of a result against the float64 reference: softmax_fast is held to its accuracy claims;
#: the peers only to "not broken" (PyTorch's float32 sum is ~2e-5 off on the 2^24 row).
RTOL = {("softmax_fast", "float32"): 1e-5, ("softmax_fast", "float64"): 1e-12,
        ("peer", "float32"): 1e-3, ("peer", "float64"): 1e-9}


class Reference:
    """The float64 reference (`softmax_fast._reference`) of a few slices of `x` along `axis`:
    the first, the middle and the last one. `check` compares a result with it on those slices
    and, for softmax, checks that every slice sums to 1."""

    def __init__(self, x: np.ndarray, axis: int, slices: int = 3):
        self.axis = axis
        self.dtype = x.dtype
        self.shape = x.shape
        rows = self._rows(x)
        self.index = np.unique(np.linspace(0, rows.shape[0] - 1, slices).round().astype(np.intp))
        self._x = rows[self.index]  # a copy, in x's dtype; the reference works in float64
        self._cache: dict[bool, np.ndarray] = {}

    def _rows(self, a: np.ndarray) -> np.ndarray:
        """`a` as (slices, n), slices along `axis` (a view when `axis` is the last one)."""
        moved = np.moveaxis(a, self.axis, -1)
        return moved.reshape(-1, moved.shape[-1])

    def expected(self, log: bool = False) -> np.ndarray:
        if log not in self._cache:
            f = _reference.log_softmax if log else _reference.softmax
            self._cache[log] = f(self._x, axis=-1)
        return self._cache[log]

    def check(self, y: Any, *, log: bool = False, peer: bool = False, rtol: float | None = None,
              what: str = "result") -> None:
        """Raise AssertionError unless `y` (the full result) matches the reference on its
        slices (relative tolerance `rtol`, default from `RTOL`) and, unless `log`, every slice
        of `y` sums to 1 within `rtol`."""
        y = to_numpy(y)
        if y.shape != self.shape:
            raise AssertionError(f"{what}: shape {y.shape}, expected {self.shape}")
        if rtol is None:
            rtol = RTOL["peer" if peer else "softmax_fast", self.dtype.name]
        got = self._rows(y)[self.index]
        want = self.expected(log)
        atol = rtol if log else 0.0  # log-probabilities near 0 get an absolute tolerance too
        with np.errstate(invalid="ignore"):
            ok = np.abs(got - want) <= atol + rtol * np.abs(want)  # False at any NaN
        if not ok.all():  # only now the slow, detailed message
            np.testing.assert_allclose(got, want, rtol=rtol, atol=atol,
                                       err_msg=f"{what} differs from the float64 reference")
            raise AssertionError(f"{what} differs from the float64 reference")
        if not log:  # every slice, cheaply: the probabilities sum to 1
            sums = y.sum(axis=self.axis, dtype=np.float64)
            with np.errstate(invalid="ignore"):
                bad = ~(np.abs(sums - 1.0) <= rtol)
            if bad.any():
                first = tuple(int(i) for i in np.unravel_index(np.argmax(bad), sums.shape))
                raise AssertionError(f"{what}: {int(bad.sum())} slice(s) do not sum to 1 within "
                                     f"{rtol:g}, e.g. slice {first}: {float(sums[first])!r}")


# ---- timing ----------------------------------------------------------------------------------

@dataclass
class Timing:
    """Per-call wall times of one implementation, in seconds."""

    best: float
    median: float
    samples: int  #: timed samples
    loops: int  #: calls per sample

    @property
    def spread(self) -> float:
        """median / best - 1: how noisy the samples were."""
        return self.median / self.best - 1.0


def calibrate(f: Callable[[], object], sample_time: float = 2e-4, max_loops: int = 1 << 16) -> int:
    """Calls per sample so that one sample lasts at least `sample_time` seconds (the timer's
    resolution and the loop's own cost then do not matter). Also warms `f` up."""
    loops = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(loops):
            f()
        dt = time.perf_counter() - t0
        if dt >= sample_time or loops >= max_loops:
            return loops
        # aim a little past the target, at least doubling
        loops = min(max_loops, max(2 * loops, math.ceil(1.2 * loops * sample_time / max(dt, 1e-9))))


def time_calls(calls: Mapping[str, Callable[[], object]], *, budget: float = 0.5,
               min_samples: int = 5, max_samples: int = 10_000, rel_tol: float = 0.02,
               max_budget: float | None = None, sample_time: float = 2e-4,
               warmup: bool = True) -> dict[str, Timing]:
    """Best-of-N per-call wall times (``time.perf_counter``) of several zero-argument callables.

    The callables are sampled in turn, round after round, so that a noisy moment on a shared
    machine affects all of them alike; each sample is ``loops`` back-to-back calls (see
    `calibrate`), with the garbage collector off, after one untimed call: a library's OpenMP
    workers keep spinning for a while after its call, and would otherwise take the cores from
    the next callable's first call (measured: (16, 128256) float32 softmax right after
    torch.softmax, 2 threads: 687 us timed directly, 499 us after an untimed call, 401 us
    timed alone). One callable stops being sampled once it has
    at least `min_samples` samples and `budget` seconds spent on them, and its best two samples
    agree within `rel_tol` -- or once it has spent `max_budget` (default ``3 * budget``) seconds
    or taken `max_samples` samples.

    Returns ``{name: Timing}``; compare the ``best`` times as ratios.
    """
    if max_budget is None:
        max_budget = 3.0 * budget
    names = list(calls)
    if warmup:
        loops = {n: calibrate(calls[n], sample_time) for n in names}
    else:
        loops = {n: 1 for n in names}
    samples: dict[str, list[float]] = {n: [] for n in names}
    spent = dict.fromkeys(names, 0.0)
    active = list(names)
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        while active:
            for n in active:
                f, k = calls[n], loops[n]
                if len(names) > 1:
                    f()
                if k == 1:
                    t0 = time.perf_counter()
                    f()
                    dt = time.perf_counter() - t0
                else:
                    t0 = time.perf_counter()
                    for _ in range(k):
                        f()
                    dt = time.perf_counter() - t0
                samples[n].append(dt / k)
                spent[n] += dt
            active = [n for n in active if not _settled(samples[n], spent[n], budget, max_budget,
                                                        min_samples, max_samples, rel_tol)]
    finally:
        if gc_was_enabled:
            gc.enable()
    out = {}
    for n in names:
        s = sorted(samples[n])
        out[n] = Timing(best=s[0], median=s[len(s) // 2], samples=len(s), loops=loops[n])
    return out


def _settled(s: list[float], spent: float, budget: float, max_budget: float, min_samples: int,
             max_samples: int, rel_tol: float) -> bool:
    if len(s) >= max_samples or (spent >= max_budget and len(s) >= min_samples):
        return True
    if len(s) < min_samples or spent < budget:
        return False
    a, b = sorted(s)[:2]
    return b - a <= rel_tol * a


def best_time(f: Callable[[], object], budget: float = 0.3, **kwargs: Any) -> float:
    """Best per-call wall time of ``f()`` in seconds: `time_calls` of one callable, spending
    about `budget` seconds (keyword arguments as for `time_calls`)."""
    return time_calls({"f": f}, budget=budget, **kwargs)["f"].best
