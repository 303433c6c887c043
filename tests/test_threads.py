"""Results are bitwise identical whatever the thread count (DESIGN section 2), on every parallel
plan: many rows, few long rows whose blocks the threads share, one very long row, a non-last
axis (column panels), gathered strided rows, and logsumexp."""
import functools
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import softmax_fast as sf
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
