"""The non-temporal output path (outputs of at least ``STREAM_MIN_BYTES_``, 64 MiB by default)
runs here on small arrays, with the threshold lowered to 0: every algorithm, both dtypes, every
ISA, contiguous and gathered rows, rows cut into blocks, and outputs whose start is not aligned
to the 64 bytes a non-temporal store needs (the kernels store a masked head first)."""
import contextlib

import numpy as np
import pytest

import softmax_fast as sf
from softmax_fast import _core
from helpers import ALGORITHMS, DTYPES, assert_softmax_close, logits


@contextlib.contextmanager
def streaming_everything():
    enabled, min_bytes = _core.set_streaming(True, 0)
    try:
        yield
    finally:
        _core.set_streaming(enabled, min_bytes)


def unaligned_empty(shape, dtype, offset_elements):
    """An output array whose first element sits `offset_elements` past a 64-byte boundary."""
    itemsize = np.dtype(dtype).itemsize
    raw = np.empty(int(np.prod(shape)) * itemsize + 128, dtype=np.uint8)
    start = (-raw.ctypes.data) % 64 + offset_elements * itemsize
    return raw[start:start + int(np.prod(shape)) * itemsize].view(dtype).reshape(shape)


# (id, shape, view of the input)
CASES = [
    ("rows-33x300", (33, 300), None),
    ("rows-5x17", (5, 17), None),
    ("rows-64x1000", (64, 1000), None),
    ("rows-5x8200", (5, 8200), None),   # long enough for the AVX-512 float32 fold
    ("long-rows-2x70001", (2, 70001), None),
    ("one-row-100003", (100003,), None),
    ("gathered-rows-9x301", (9, 602), lambda a: a[:, ::2]),
]


@pytest.mark.parametrize("offset", [0, 1, 3])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_streamed_output_is_correct(isa, algorithm, dtype, case, offset, rng):
    _, shape, view = case
    x = logits(rng, shape, dtype)
    if view is not None:
        x = view(x)
    for fn, log in ((sf.softmax, False), (sf.log_softmax, True)):
        out = unaligned_empty(x.shape, dtype, offset)
        with streaming_everything():
            got = fn(x, algorithm=algorithm, out=out)
        assert got is out
        assert_softmax_close(got, x, log=log)
        # the same bits whatever the thread count
        with streaming_everything():
            again = fn(x, algorithm=algorithm, num_threads=1)
        np.testing.assert_array_equal(again, got)
        # and streaming or not, for rows not cut into blocks (streamed three-pass softmax rows
        # are pipelined: a row's output streams during the next row's exp pass; streamed
        # blocked rows recompute their terms from x instead of rescaling stored ones)
        if x.shape[-1] < _core.SPLIT_MIN_:
            np.testing.assert_array_equal(fn(x, algorithm=algorithm, num_threads=2), got)


def test_streaming_switch_restores_state():
    before = _core.set_streaming(True)
    with streaming_everything():
        assert _core.set_streaming(True) == (True, 0)
    assert _core.set_streaming(*before) == before
