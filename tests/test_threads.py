"""Results are bitwise identical whatever the thread count (DESIGN section 2), on every parallel
plan: many rows, few long rows whose blocks the threads share, one very long row, a non-last
axis (column panels), gathered strided rows, and logsumexp. And the default thread count obeys
threadpoolctl and OMP_NUM_THREADS (the end of this file)."""
import functools
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import softmax_fast as sf
from softmax_fast import _core
from helpers import ALGORITHMS, DTYPES, assert_softmax_close, logits

THREADS = (1, 2, 3)

# (id, shape, axis, view): view turns the generated array into the one passed
CASES = [
    ("rows-4096x300", (4096, 300), -1, None),
    ("long-rows-64x70000", (64, 70000), -1, None),
    ("two-long-rows-2x70001", (2, 70001), -1, None),
    ("one-row-3000001", (3000001,), -1, None),
    ("columns-2000x300-axis0", (2000, 300), 0, None),
    ("gathered-rows-512x300", (512, 600), -1, lambda a: a[:, ::2]),
    ("gathered-long-row", (2, 140002), -1, lambda a: a[0, ::2]),
]


@functools.lru_cache(maxsize=None)
def _data(shape, dtype):
    a = logits(np.random.default_rng(sum(shape)), shape, dtype)
    a.flags.writeable = False
    return a


def _bits(a):
    """The exact bytes of a result (NaN payloads and signed zeros included)."""
    return np.asarray(a).tobytes()


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_bitwise_identical_across_threads(isa, algorithm, dtype, case):
    _, shape, axis, view = case
    x = _data(shape, dtype)
    if view is not None:
        x = view(x)
    for fn in (sf.softmax, sf.log_softmax):
        results = [fn(x, axis, algorithm=algorithm, num_threads=k) for k in THREADS]
        results.append(fn(x, axis, algorithm=algorithm))   # the default thread count
        first = _bits(results[0])
        for k, r in zip(THREADS[1:] + ("default",), results[1:]):
            assert _bits(r) == first, f"{fn.__name__}: num_threads={k} differs from 1"


LSE_CASES = [
    ("rows-4096x300", (4096, 300), -1),
    ("one-row-3000001", (3000001,), None),
    ("columns-2000x300-axis0", (2000, 300), 0),
    ("all-of-64x70000", (64, 70000), None),
    ("long-rows-64x70000", (64, 70000), 1),
    ("two-long-rows-2x70001", (2, 70001), 1),
]


@pytest.mark.parametrize("case", LSE_CASES, ids=[c[0] for c in LSE_CASES])
@pytest.mark.parametrize("dtype", DTYPES)
def test_logsumexp_bitwise_identical_across_threads(isa, dtype, case):
    _, shape, axis = case
    x = _data(shape, dtype)
    results = [sf.logsumexp(x, axis, num_threads=k) for k in THREADS + (None,)]
    for k, r in zip(THREADS[1:] + (None,), results[1:]):
        assert _bits(r) == _bits(results[0]), f"num_threads={k}"


def test_threads_do_not_change_correctness():
    """The parallel results are also right (not just equal to each other)."""
    x = _data((3000001,), np.float32)
    assert_softmax_close(sf.softmax(x, num_threads=3), x, -1)


def test_concurrent_calls_from_python_threads():
    """Calls from several Python threads at once (the GIL is released in the kernels) give the
    same results as one after the other."""
    rng = np.random.default_rng(7)
    inputs = [logits(rng, (64, 2000 + 37 * k), np.float32) for k in range(8)]
    serial = [sf.softmax(a) for a in inputs]
    with ThreadPoolExecutor(4) as pool:
        parallel = list(pool.map(sf.softmax, inputs))
    for s, p in zip(serial, parallel):
        assert np.array_equal(s, p)


# ---- thread control from outside: threadpoolctl and OMP_NUM_THREADS ---------------------------
# num_threads=None means omp_get_max_threads() of the calling thread, read at each call: so
# whatever sets the OpenMP runtime's thread count (threadpoolctl calls omp_set_num_threads;
# OMP_NUM_THREADS sets it at start-up) applies to the next call.

PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(sf.__file__)))
_CORE_CALLS = ("softmax_rows", "softmax_3d", "logsumexp_rows", "logsumexp_3d")


@pytest.fixture
def threads_passed_to_core(monkeypatch):
    """The num_threads each call hands to the compiled core (its last argument), recorded."""
    seen = []
    for name in _CORE_CALLS:
        original = getattr(_core, name)

        def spy(*args, _original=original):
            seen.append(args[-1])
            return _original(*args)
        monkeypatch.setattr(_core, name, spy)
    return seen


def _calls_on_every_path():
    """softmax / log_softmax / logsumexp through the fast path, the general path (a non-last
    axis, where=) and both logsumexp paths, on inputs large enough to go parallel."""
    x = _data((4096, 300), np.float32)
    sf.softmax(x)
    sf.log_softmax(x, axis=0)
    sf.softmax(x, where=x > 0)
    sf.logsumexp(x, axis=-1)
    sf.logsumexp(x, axis=0)


def test_threadpoolctl_limits_show_config_and_calls(threads_passed_to_core):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    if not sf.show_config()["openmp"]:
        pytest.skip("built without OpenMP")
    default = sf.show_config()["num_threads"]
    with threadpoolctl.threadpool_limits(1, user_api="openmp"):
        assert sf.show_config()["num_threads"] == 1
        _calls_on_every_path()
        limited = list(threads_passed_to_core)
    threads_passed_to_core.clear()
    assert sf.show_config()["num_threads"] == default      # restored on exit
    _calls_on_every_path()
    assert len(limited) >= 5 and set(limited) == {1}
    assert set(threads_passed_to_core) == {default}
    with threadpoolctl.threadpool_limits(2, user_api="openmp"):
        assert sf.show_config()["num_threads"] == 2


def test_threadpoolctl_sees_the_openmp_runtime():
    """threadpoolctl lists the runtime the core is linked with (so it can limit it)."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    cfg = sf.show_config()
    if not cfg["openmp"] or not cfg["openmp_runtime"]:
        pytest.skip("built without OpenMP, or the runtime's file is not known here")
    paths = {os.path.realpath(info["filepath"])
             for info in threadpoolctl.threadpool_info() if info["user_api"] == "openmp"}
    assert os.path.realpath(cfg["openmp_runtime"]) in paths


# Run in a fresh interpreter: counts the process's OS threads (Linux /proc/self/task) before and
# after large calls. An OpenMP runtime starts its worker threads at the first parallel region
# with more than one thread, so "no new thread" means the calls ran on the calling thread.
_THREAD_COUNT_SCRIPT = r"""
import json, os, sys
import numpy as np
import softmax_fast as sf

def tasks():
    return len(os.listdir("/proc/self/task"))

x = np.random.default_rng(0).standard_normal((4096, 1024), dtype=np.float32)
result = {"num_threads": sf.show_config()["num_threads"], "before": tasks()}
if sys.argv[1] == "threadpoolctl":
    from threadpoolctl import threadpool_limits
    with threadpool_limits(1, user_api="openmp"):
        result["limited_num_threads"] = sf.show_config()["num_threads"]
        sf.softmax(x); sf.log_softmax(x, axis=0); sf.logsumexp(x, axis=1)
        result["after_limited"] = tasks()
sf.softmax(x); sf.log_softmax(x, axis=0); sf.logsumexp(x, axis=1)
result["after"] = tasks()
print(json.dumps(result))
"""


def _count_threads(mode, omp_num_threads=None):
    env = dict(os.environ)
    env.pop("OMP_NUM_THREADS", None)
    if omp_num_threads is not None:
        env["OMP_NUM_THREADS"] = str(omp_num_threads)
    env["PYTHONPATH"] = PACKAGE_PARENT + os.pathsep + env.get("PYTHONPATH", "")
    res = subprocess.run([sys.executable, "-c", _THREAD_COUNT_SCRIPT, mode], env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def _needs_linux_openmp_and_two_cpus():
    if not sys.platform.startswith("linux"):
        pytest.skip("counts threads through /proc/self/task")
    if not sf.show_config()["openmp"]:
        pytest.skip("built without OpenMP")
    if (os.cpu_count() or 1) < 2:
        pytest.skip("one CPU: the default is one thread anyway")


def test_threadpoolctl_limit_keeps_calls_on_the_calling_thread():
    pytest.importorskip("threadpoolctl")
    _needs_linux_openmp_and_two_cpus()
    r = _count_threads("threadpoolctl", omp_num_threads=2)
    assert r["limited_num_threads"] == 1
    assert r["after_limited"] == r["before"], r     # no OpenMP worker was started
    assert r["after"] > r["after_limited"], r       # ... until the limit was lifted


def test_omp_num_threads_1_keeps_calls_on_the_calling_thread():
    _needs_linux_openmp_and_two_cpus()
    one = _count_threads("plain", omp_num_threads=1)
    assert one["num_threads"] == 1
    assert one["after"] == one["before"], one
    two = _count_threads("plain", omp_num_threads=2)   # the control: the same calls do go wide
    assert two["num_threads"] == 2
    assert two["after"] > two["before"], two
