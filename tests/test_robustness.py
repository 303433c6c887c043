"""Robustness (issue 4): the caller's floating-point state, subnormal inputs and outputs, calls
from many Python threads at once and the GIL, memory use, and hostile inputs (32 and 64
dimensions, zero-size and broadcast dims, byte-swapped dtypes, masked arrays, memoryviews and
lists, absurd thread counts, non-integer axes, a slice of more than 2^31 elements).

Memory is measured with `tracemalloc`, which sees NumPy's buffers (NumPy reports them to it) but
not the C core's own row buffers; the slice of more than 2^31 elements also runs under an
address-space limit, which does see those.
"""
import array
import contextlib
import ctypes
import functools
import math
import mmap
import platform
import sys
import threading
import tracemalloc
from fractions import Fraction

import numpy as np
import pytest
from numpy.exceptions import AxisError

import softmax_fast as sf
from softmax_fast import _core
from helpers import (ALGORITHMS, DTYPES, TOL_CONST, assert_logsumexp_close, assert_softmax_close,
                     logits, unit_roundoff, using_isa)

FUNCTIONS = (sf.softmax, sf.log_softmax, sf.logsumexp)
MiB = 1 << 20


def _check(fn, got, x, axis, **kw):
    """`got` = fn(x, axis, **kw) against the float64 reference (the helpers' tolerance model)."""
    if fn is sf.logsumexp:
        assert_logsumexp_close(got, x, axis, **kw, what=fn.__name__)
    else:
        assert_softmax_close(got, x, axis, log=fn is sf.log_softmax, **kw, what=fn.__name__)


def _bits(a):
    return np.asarray(a).tobytes()


# ---- 1. the caller's floating-point state ------------------------------------------------------
#
# Observed through arithmetic done by this thread after the calls: FTZ (flush-to-zero) turns a
# subnormal result into 0, DAZ (denormals-are-zero) reads a subnormal operand as 0, and the
# rounding mode shows in additions of half and three quarters of an ulp. The probe values and
# the expected answers are built from integer bit patterns, so that no floating-point
# operation in the state under test is needed to know the right answer.

def _from_bits(bits, dtype):
    utype = np.uint32 if np.dtype(dtype).itemsize == 4 else np.uint64
    return np.array(bits, dtype=utype).view(dtype)[()]


def _to_bits(value):
    a = np.asarray(value)
    return int(a.view(np.uint32 if a.itemsize == 4 else np.uint64))


def _subnormal_bits(exact, dtype):
    """Bits of the subnormal of `dtype` nearest the rational `exact` (ties to even)."""
    fi = np.finfo(dtype)
    assert 0 < exact < Fraction(float(fi.smallest_normal))
    return round(exact * 2 ** (fi.nmant - fi.minexp))     # in units of the smallest subnormal


_A64, _B64 = 1e-300, 1e-10                                  # product 1e-310: subnormal
_PROD64 = _subnormal_bits(Fraction(_A64) * Fraction(_B64), np.float64)
_A32, _B32 = np.float32(1e-30), np.float32(1e-10)           # product 1e-40: subnormal
_PROD32 = _subnormal_bits(Fraction(float(_A32)) * Fraction(float(_B32)), np.float32)
_SUB32 = _subnormal_bits(Fraction(1, 10**40), np.float32)   # ~1e-40
_SUB64 = _subnormal_bits(Fraction(1, 10**319), np.float64)  # ~1e-319
# subnormal * 2^60 (float32) / 2^100 (float64): normal, exact results
_SUB32_UP = _to_bits(np.float32(float(Fraction(_SUB32, 2**(149 - 60)))))
_SUB64_UP = _to_bits(np.float64(float(Fraction(_SUB64, 2**(1074 - 100)))))


def fp_state_problems():
    """What is wrong with this thread's floating-point state (empty: no FTZ, no DAZ, round to
    nearest even)."""
    problems = []
    # FTZ: a subnormal result is kept, correctly rounded
    got = np.float64(_A64) * np.float64(_B64)
    if _to_bits(got) != _PROD64:
        problems.append(f"FTZ? float64 1e-300 * 1e-10 = {got!r}")
    got = _A64 * _B64    # Python floats
    if _to_bits(np.float64(got)) != _PROD64:
        problems.append(f"FTZ? Python 1e-300 * 1e-10 = {got!r}")
    got = _A32 * _B32
    if _to_bits(got) != _PROD32:
        problems.append(f"FTZ? float32 1e-30 * 1e-10 = {got!r}")
    # DAZ: a subnormal operand is not read as zero (the second product is normal: not FTZ)
    s32, s64 = _from_bits(_SUB32, np.float32), _from_bits(_SUB64, np.float64)
    if _to_bits(s32 * np.float32(4)) != 4 * _SUB32:
        problems.append(f"DAZ/FTZ? float32 1e-40 * 4 = {s32 * np.float32(4)!r}")
    if _to_bits(s32 * np.float32(2.0**60)) != _SUB32_UP:
        problems.append(f"DAZ? float32 1e-40 * 2^60 = {s32 * np.float32(2.0**60)!r}")
    if _to_bits(s64 * np.float64(4)) != 4 * _SUB64:
        problems.append(f"DAZ/FTZ? float64 1e-319 * 4 = {s64 * np.float64(4)!r}")
    if _to_bits(s64 * np.float64(2.0**100)) != _SUB64_UP:
        problems.append(f"DAZ? float64 1e-319 * 2^100 = {s64 * np.float64(2.0**100)!r}")
    # rounding: to nearest, ties to even
    one, h, q = np.float64(1.0), np.float64(2.0**-53), np.float64(3 * 2.0**-54)
    if one + h != one:
        problems.append("rounding: float64 1 + 2^-53 != 1 (rounds up?)")
    if one + q != np.float64(1 + 2.0**-52):
        problems.append("rounding: float64 1 + 3*2^-54 != 1 + 2^-52 (rounds down or to zero?)")
    if -one - q != np.float64(-1 - 2.0**-52):
        problems.append("rounding: float64 -1 - 3*2^-54 != -1 - 2^-52 (rounds up or to zero?)")
    one32, h32, q32 = np.float32(1), np.float32(2.0**-24), np.float32(3 * 2.0**-25)
    if one32 + h32 != one32 or one32 + q32 != np.float32(1 + 2.0**-23):
        problems.append("rounding: float32 additions not rounded to nearest even")
    return problems


@functools.lru_cache(maxsize=None)
def _mxcsr_access():
    """(get, set) of this thread's MXCSR register, each four bytes of x86-64 machine code
    (stmxcsr / ldmxcsr [rdi]; ret) called through ctypes: nothing compiled. None where that
    cannot run (another CPU or calling convention, or no writable+executable memory)."""
    if (platform.machine().lower() not in ("x86_64", "amd64") or sys.platform == "win32"
            or not hasattr(mmap, "PROT_EXEC")):
        return None
    try:
        page = mmap.mmap(-1, mmap.PAGESIZE,
                         prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    except (OSError, ValueError):
        return None
    page.write(bytes([0x0F, 0xAE, 0x1F, 0xC3]) + bytes(12) + bytes([0x0F, 0xAE, 0x17, 0xC3]))
    base = ctypes.addressof(ctypes.c_char.from_buffer(page))
    proto = ctypes.CFUNCTYPE(None, ctypes.POINTER(ctypes.c_uint32))
    stmxcsr, ldmxcsr = proto(base), proto(base + 16)

    def get():
        value = ctypes.c_uint32()
        stmxcsr(ctypes.byref(value))
        return value.value

    def set_(value):
        ldmxcsr(ctypes.byref(ctypes.c_uint32(value)))

    get.page = page     # keeps the code mapped
    return get, set_


MXCSR_CONTROL = 0xFFC0        # DAZ, exception masks, rounding control, FTZ (not the status flags)
MXCSR_DAZ, MXCSR_FTZ = 1 << 6, 1 << 15
MXCSR_ROUNDING = {"down": 1 << 13, "up": 2 << 13, "toward zero": 3 << 13}


def _calls_on(x, axis):
    """Every function and algorithm on x (plus scale and where), results discarded."""
    for fn in (sf.softmax, sf.log_softmax):
        for algorithm in ALGORITHMS:
            fn(x, axis, algorithm=algorithm)
        fn(x, axis, scale=0.5, where=x > x.flat[0])
    sf.logsumexp(x, axis)
    sf.logsumexp(x, axis, scale=2.0, where=x > x.flat[0])


def _fp_cases(rng, dtype):
    long_row = logits(rng, (200000,), dtype)        # blocks shared by the threads
    long_row[::1000] = np.finfo(dtype).smallest_subnormal
    return [("rows", logits(rng, (64, 300), dtype), -1),
            ("axis-0", logits(rng, (300, 64), dtype), 0),
            ("long-row", long_row, -1),
            ("specials", np.array([[0.0, -np.inf, 1.0], [np.nan, 2.0, 1.0], [np.inf, 0.0, 0.0]],
                                  dtype), -1)]


def test_fp_probe_sees_changed_state():
    """fp_state_problems() reports FTZ, DAZ and each directed rounding mode when they are set."""
    # (so that the tests below, which expect it to report nothing, can fail)
    access = _mxcsr_access()
    if access is None:
        pytest.skip("cannot set MXCSR here without compiling code")
    get, set_ = access
    saved = get()
    assert not fp_state_problems(), fp_state_problems()
    changes = {"FTZ": MXCSR_FTZ, "DAZ": MXCSR_DAZ,
               **{f"rounding {k}": v for k, v in MXCSR_ROUNDING.items()}}
    seen = {}
    for name, bits in changes.items():
        try:
            set_((saved & ~(3 << 13)) | bits)
            seen[name] = fp_state_problems()
        finally:
            set_(saved)
    assert all(seen.values()), f"changed state not detected: {seen}"
    assert any("FTZ" in p for p in seen["FTZ"]) and any("DAZ?" in p for p in seen["DAZ"])


@pytest.mark.parametrize("dtype", DTYPES)
def test_fp_state_unchanged(isa, dtype, rng):
    """After calls of all three functions, this thread has no FTZ, no DAZ, and rounds to nearest."""
    # cases: rows, axis 0, a multi-threaded long row holding subnormals, special values
    assert not fp_state_problems(), f"before any call: {fp_state_problems()}"
    for name, x, axis in _fp_cases(rng, dtype):
        _calls_on(x, axis)
        problems = fp_state_problems()
        assert not problems, f"after the {name} calls: {problems}"


@pytest.mark.parametrize("dtype", DTYPES)
def test_mxcsr_control_bits_unchanged(isa, dtype, rng):
    """This thread's MXCSR control bits (FTZ, DAZ, rounding, exception masks) survive the calls."""
    access = _mxcsr_access()
    if access is None:
        pytest.skip("cannot read MXCSR here without compiling code")
    get, _ = access
    before = get() & MXCSR_CONTROL
    for name, x, axis in _fp_cases(rng, dtype):
        _calls_on(x, axis)
        after = get() & MXCSR_CONTROL
        assert after == before, f"after the {name} calls: MXCSR {after:#06x}, was {before:#06x}"


# subnormal inputs: [s, 0, -s, 3s, -2s] with s subnormal, scaled to [-0.03, 0.03] by a finite
# scale. With DAZ in a kernel, scale * s would be 0 and every slice uniform.
SUBNORMAL_INPUT = {np.float32: (1e-40, 1e38), np.float64: (1e-310, 1e308)}


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_subnormal_inputs(isa, algorithm, dtype, rng):
    """Subnormal inputs take part with their values (not read as 0), against the reference."""
    # short rows, a long multi-threaded row and axis 0, scaled into the normal range
    s, scale = SUBNORMAL_INPUT[dtype]
    short = np.array([s, 0, -s, 3 * s, -2 * s], dtype)
    assert np.all(np.abs(short) < np.finfo(dtype).smallest_normal)
    long_row = (s * rng.uniform(-3, 3, 200000)).astype(dtype)
    columns = (s * rng.uniform(-3, 3, (300, 70))).astype(dtype)
    for x, axis in ((short, -1), (long_row, -1), (columns, 0)):
        for fn in (sf.softmax, sf.log_softmax):
            _check(fn, fn(x, axis, scale=scale, algorithm=algorithm), x, axis, scale=scale)
        _check(sf.logsumexp, sf.logsumexp(x, axis, scale=scale), x, axis, scale=scale)
        assert np.ptp(sf.softmax(x, axis, scale=scale, algorithm=algorithm)) > 0
    # unscaled, a row of subnormals is (to the precision of the result) uniform
    x = np.array([s, 0, -s], dtype)
    for fn in FUNCTIONS:
        _check(fn, fn(x, -1), x, -1)


# rows whose softmax has subnormal outputs (down to the smallest subnormal)
SUBNORMAL_OUTPUT_ROW = {np.float64: [0.0, -720.0, -730.0, -744.0, -745.1],
                        np.float32: [0.0, -90.0, -100.0, -103.0, -103.9]}


def _assert_subnormal_outputs(got, x, axis):
    """Outputs below the smallest normal number are within one subnormal spacing of the
    reference (and not flushed to 0); the others within the usual tolerance."""
    fi = np.finfo(got.dtype)
    want = sf._reference.softmax(x.astype(np.float64), axis)
    small = want < float(fi.smallest_normal)
    assert small.sum() >= 4, "the case must have subnormal outputs"
    err = np.abs(got.astype(np.float64) - want)
    spacing = float(fi.smallest_subnormal)
    assert np.all(err[small] <= spacing), (got[small], want[small])
    assert np.all(got[small & (want >= 2 * spacing)] > 0), "subnormal outputs flushed to zero"
    assert_softmax_close(got, x, axis)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_subnormal_outputs(isa, algorithm, dtype):
    """Subnormal outputs are within one subnormal spacing of the reference, and not flushed."""
    # a short row, a long multi-threaded row (spread over its blocks) and down axis 0
    row = np.array(SUBNORMAL_OUTPUT_ROW[dtype], dtype)
    long_row = np.full(200000, -2000.0 if dtype == np.float64 else -200.0, dtype)
    long_row[[3, 70000, 120001, 150000, 199999]] = row
    columns = np.tile(row[:, None], (1, 70))
    for x, axis in ((row, -1), (long_row, -1), (columns, 0)):
        _assert_subnormal_outputs(sf.softmax(x, axis, algorithm=algorithm), x, axis)
        _check(sf.log_softmax, sf.log_softmax(x, axis, algorithm=algorithm), x, axis)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [7, 40, 100, 1000])
def test_subnormal_outputs_mixed_with_zeros(isa, dtype, n, rng):
    """Rows mixing every kind of output in each vector: exact zeros (-inf entries), subnormal
    outputs, outputs that round to 0, and normal ones, at random positions. The write passes
    that handle subnormal outputs apart (the pre-scaled factor of the AVX2 and AVX-512 float32
    rescale) must keep each lane's own: a zero that came out as the smallest normal number was
    one such slip."""
    low = {np.float64: (-745.0, -700.0), np.float32: (-104.0, -86.0)}[dtype]
    x = rng.uniform(-3, 0, (6, n)).astype(dtype)
    pick = rng.integers(0, 4, x.shape)
    x[pick == 0] = -np.inf
    x[pick == 1] = rng.uniform(*low, int((pick == 1).sum())).astype(dtype)
    x[pick == 2] = dtype(low[0] - 20)
    x[:, 0] = 0.0   # each row's max
    x[0, 1:4] = [-np.inf, low[0] + 1, low[1]] if n > 3 else x[0, 1:4]
    got = sf.softmax(x, axis=-1)
    fi = np.finfo(dtype)
    xl = x.astype(np.longdouble)   # float64 outputs need a reference beyond float64
    e = np.exp(xl - xl.max(axis=-1, keepdims=True))
    want = e / e.sum(axis=-1, keepdims=True)
    err = np.abs(got.astype(np.longdouble) - want)
    small = want < fi.smallest_normal
    assert small.sum() >= 4, "the case must have subnormal outputs"
    assert np.all(err[small] <= fi.smallest_subnormal), (got[small], want[small])
    assert np.all(got[np.isneginf(x)] == 0)
    assert_softmax_close(got, x, -1)


# ---- 2. concurrency -----------------------------------------------------------------------------

N_PY_THREADS = 8
CONCURRENT_CASES = [((64, 3000), -1), ((1, 200000), -1), ((3000, 64), 0), ((2000, 300), None)]


@pytest.mark.parametrize("dtype", DTYPES)
def test_concurrent_python_threads_bitwise(dtype, rng):
    """8 Python threads started together on shared inputs get bitwise the serial results."""
    # all three functions; rows, a long row, axis 0, all axes; thread counts None, 1, 2; each
    # thread also checks its own floating-point state afterwards
    inputs = []
    for shape, axis in CONCURRENT_CASES:
        x = logits(rng, shape, dtype)
        x.flags.writeable = False
        inputs.append((x, axis))
    serial = {(i, fn): _bits(fn(x, axis)) for i, (x, axis) in enumerate(inputs)
              for fn in FUNCTIONS}
    barrier = threading.Barrier(N_PY_THREADS)
    results = [None] * N_PY_THREADS
    errors = []

    def work(k):
        try:
            barrier.wait(timeout=60)
            got = {}
            order = list(range(len(inputs)))
            order = order[k % len(order):] + order[:k % len(order)]  # different calls at once
            for _ in range(2):
                for i in order:
                    x, axis = inputs[i]
                    for fn in FUNCTIONS:
                        nt = (None, 1, 2)[k % 3]
                        got.setdefault((i, fn), []).append(_bits(fn(x, axis, num_threads=nt)))
            results[k] = (got, fp_state_problems())
        except BaseException as exc:   # noqa: BLE001 - reported below
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=work, args=(k,)) for k in range(N_PY_THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for k, (got, problems) in enumerate(results):
        assert not problems, f"thread {k}: {problems}"
        for key, all_bits in got.items():
            for b in all_bits:
                i, fn = key
                assert b == serial[key], (f"thread {k}: {fn.__name__} of case "
                                          f"{CONCURRENT_CASES[i]} differs from the serial call")


# A num_threads=1 log_softmax of 2048 x 4096 float32 takes ~40 ms with the scalar kernels.
GIL_SHAPE = (2048, 4096)
GIL_ATTEMPTS = 10


def _half_written(out):
    """The first and the last row of `out` (filled with NaN before the call) disagree on having
    been written: the call is in progress."""
    return bool(np.isnan(out[0, 0]) != np.isnan(out[-1, -1]))


def test_gil_released_during_kernel():
    """The main thread runs Python while another thread's call is half-way through its output."""
    # impossible if the kernel held the GIL: no thresholds on counts or times
    x = logits(np.random.default_rng(1), GIL_SHAPE, np.float32)
    out = np.empty_like(x)
    polls_while_half_written = 0
    with using_isa("scalar"):
        for _ in range(GIL_ATTEMPTS):
            out.fill(np.nan)
            done = threading.Event()

            def work():
                try:
                    sf.log_softmax(x, out=out, num_threads=1)
                finally:
                    done.set()

            t = threading.Thread(target=work)
            t.start()
            while not done.is_set():
                if _half_written(out):
                    polls_while_half_written += 1
            t.join()
            assert not np.isnan(out).any()
            if polls_while_half_written >= 100:
                break
    assert polls_while_half_written >= 100, (
        f"the main thread ran only {polls_while_half_written} polls while a call was in "
        f"progress, in {GIL_ATTEMPTS} attempts: is the GIL held during the kernel?")


def test_two_single_threaded_calls_overlap():
    """Two Python threads' num_threads=1 calls are both half-way through their outputs at once."""
    x = logits(np.random.default_rng(2), GIL_SHAPE, np.float32)
    outs = [np.empty_like(x), np.empty_like(x)]
    both_half_written = 0
    with using_isa("scalar"):
        for _ in range(GIL_ATTEMPTS):
            for o in outs:
                o.fill(np.nan)
            barrier = threading.Barrier(2)
            finished = []

            def work(o):
                try:
                    barrier.wait(timeout=60)
                    sf.log_softmax(x, out=o, num_threads=1)
                finally:
                    finished.append(o)

            threads = [threading.Thread(target=work, args=(o,)) for o in outs]
            for t in threads:
                t.start()
            while len(finished) < 2:
                if _half_written(outs[0]) and _half_written(outs[1]):
                    both_half_written += 1
            for t in threads:
                t.join()
            assert _bits(outs[0]) == _bits(outs[1])
            if both_half_written:
                break
    assert both_half_written, f"the two calls never ran at the same time in {GIL_ATTEMPTS} tries"


# ---- 3. memory ----------------------------------------------------------------------------------

@contextlib.contextmanager
def _traced():
    """Yields a function returning the peak traced allocation (bytes) since the block began."""
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    try:
        yield lambda: tracemalloc.get_traced_memory()[1] - base
    finally:
        if started:
            tracemalloc.stop()


def _peak(call):
    """(result, peak bytes traced during `call()`)."""
    with _traced() as peak:
        result = call()
        return result, peak()


def _warm_up():
    """First calls import and cache things (numpy.ma, ...) that are no part of a call's cost."""
    x = np.ones((3, 4))
    for fn in FUNCTIONS:
        fn(x)
        fn(np.ma.masked_array(x), 0)


AXES = (0, 1, -1, None)


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("shape", [(512, 1024), (1024, 512)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_peak_memory(dtype, shape, order, rng):
    """Peak traced allocation is <= output + 1 MiB, and <= 1 MiB with out=, for every axis."""
    # C and Fortran order, all three functions
    x = np.asarray(logits(rng, shape, dtype), order=order)
    _warm_up()
    for axis in AXES:
        for fn in FUNCTIONS:
            res, peak = _peak(lambda: fn(x, axis))
            out_bytes = np.asarray(res).nbytes
            assert peak <= out_bytes + MiB, (fn.__name__, axis, peak, out_bytes)
            out = np.empty_like(np.asarray(res))
            _, peak = _peak(lambda: fn(x, axis, out=out))
            assert peak <= MiB, (fn.__name__, axis, "out=", peak)
            assert _bits(out) == _bits(res)


@pytest.mark.parametrize("num_threads", [1, None])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_peak_memory_strided(dtype, order, num_threads, rng):
    """A strided input (x[:, ::2]) copies at most one slice per thread, and is computed right."""
    # peak traced allocation <= output + slice bytes * threads + 1 MiB, every axis
    base = np.asarray(logits(rng, (512, 1024), dtype), order=order)
    x = base[:, ::2]
    threads = num_threads or max(1, _core.omp_max_threads())
    _warm_up()
    for axis in AXES:
        axes = range(x.ndim) if axis is None else [axis]
        slice_bytes = math.prod(x.shape[a] for a in axes) * x.itemsize
        for fn in FUNCTIONS:
            res, peak = _peak(lambda: fn(x, axis, num_threads=num_threads))
            bound = np.asarray(res).nbytes + slice_bytes * threads + MiB
            assert peak <= bound, (fn.__name__, axis, peak, bound)
            _check(fn, res, x, axis)


# ---- 4. hostile inputs --------------------------------------------------------------------------

MANY_DIMS = [(1,) * 31 + (5,), (2,) * 5 + (1,) * 26 + (3,), (1,) * 63 + (4,),
             (2,) * 6 + (1,) * 58]


@pytest.mark.parametrize("shape", MANY_DIMS, ids=lambda s: f"{len(s)}d-size{math.prod(s)}")
@pytest.mark.parametrize("fn", FUNCTIONS, ids=lambda f: f.__name__)
def test_many_dimensions(fn, shape, rng):
    """32- and 64-dimensional inputs compute correctly along -1, 0, None and tuples of axes."""
    x = logits(rng, shape, np.float64)
    nd = len(shape)
    for axis in (-1, 0, None, (0, nd - 1), (1, 3, nd - 2), tuple(range(0, nd, 2))):
        _check(fn, fn(x, axis), x, axis)
    xt = x.T                         # the same on a Fortran-ordered view
    _check(fn, fn(xt, 0), xt, 0)


@pytest.mark.parametrize("shape", [(0, 3, 5), (3, 0, 5), (3, 5, 0), (2, 0, 0), (0, 1, 4, 1)])
@pytest.mark.parametrize("fn", FUNCTIONS, ids=lambda f: f.__name__)
def test_zero_size_dimensions(fn, shape):
    """Zero-size dims anywhere give empty results of the right shape and dtype (logsumexp: -inf)."""
    # 3-D and 4-D, C and Fortran, with out=, where= and scale, int input, broadcast input
    nd = len(shape)
    for order in "CF":
        for axis in (-1, 0, 1, None, (0, nd - 1)):
            x = np.zeros(shape, np.float32, order=order)
            res = fn(x, axis)
            want = sf._reference.logsumexp(x, axis) if fn is sf.logsumexp else x
            assert np.shape(res) == np.shape(want) and np.asarray(res).dtype == np.float32
            assert np.array_equal(res, want)
            out = np.full(np.shape(want), 7.0, np.float32)
            assert fn(x, axis, out=out) is out and np.array_equal(out, want)
            w = np.zeros(shape, bool)
            assert np.array_equal(fn(x, axis, where=w, scale=2.0), want)
            assert np.asarray(fn(x.astype(np.int16), axis)).dtype == np.float64
            xb = np.broadcast_to(np.float64(1.0), shape)
            assert np.shape(fn(xb, axis)) == np.shape(want)


BROADCAST_CASES = {   # name: (base shape, broadcast shape)
    "rows-repeated": ((1000,), (1000, 1000)),         # stride 0 across axis -1
    "cols-repeated": ((1000, 1), (1000, 1000)),       # stride 0 along axis -1
    "scalar": ((), (1000, 1000)),
    "3d-middle": ((10, 1, 100), (10, 1000, 100)),
    "1d-constant": ((), (300000,)),
}
BROADCAST_AXES = (0, 1, -1, None, (0, 1))
SWAPPED_F32 = np.dtype(np.float32).newbyteorder()


@pytest.mark.parametrize("case", list(BROADCAST_CASES))
@pytest.mark.parametrize("dtype", DTYPES + (SWAPPED_F32,),
                         ids=["float32", "float64", "float32-swapped"])
def test_broadcast_inputs(dtype, case, rng):
    """Zero-stride (broadcast) inputs compute correctly and are not copied (<= output + 1 MiB)."""
    # repeated along the axis, across it, or both; with out=, at most 1 MiB
    base_shape, shape = BROADCAST_CASES[case]
    x = np.broadcast_to(logits(rng, base_shape, dtype), shape)
    assert 0 in x.strides
    _warm_up()
    for axis in BROADCAST_AXES:
        if x.ndim == 1 and axis not in (0, -1, None):
            continue
        for fn in FUNCTIONS:
            res, peak = _peak(lambda: fn(x, axis))
            out_bytes = np.asarray(res).nbytes
            assert peak <= out_bytes + MiB, (fn.__name__, axis, peak, out_bytes)
            _check(fn, res, x, axis)
            out = np.empty_like(np.asarray(res))
            _, peak = _peak(lambda: fn(x, axis, out=out, num_threads=1))
            assert peak <= MiB, (fn.__name__, axis, "out=", peak)
            assert _bits(out) == _bits(res)


@pytest.mark.parametrize("dtype", DTYPES)
def test_broadcast_constant_slices(dtype):
    """A slice repeating one value n times (zero stride) gives 1/n, -log n and v + log n."""
    n = 300000
    x = np.broadcast_to(dtype(-3.0), (n,))
    u = unit_roundoff(dtype)
    assert abs(float(sf.softmax(x)[-1]) * n - 1) <= 4 * u
    assert abs(float(sf.log_softmax(x)[0]) / -math.log(n) - 1) <= 4 * u
    assert abs(float(sf.logsumexp(x)) - (-3.0 + math.log(n))) <= 4 * u * (-3.0 + math.log(n))
    x2 = np.broadcast_to(dtype(-3.0), (600, 500))
    assert abs(float(sf.softmax(x2, None)[7, 9]) * x2.size - 1) <= 4 * u
    assert abs(float(sf.logsumexp(x2)) - (-3.0 + math.log(x2.size))) <= \
        4 * u * (-3.0 + math.log(x2.size))


def test_slice_longer_than_2_31():
    """logsumexp of a zero-stride slice of 2^31 + 16 elements is right, without an 8 GiB copy."""
    # also 2-D broadcasts of more than 2^31 elements; traced peak < 64 MiB, under an
    # address-space limit of 1 GiB above the current size (which the core's buffers count in)
    n = 2**31 + 16
    rng = np.random.default_rng(5)
    row = logits(rng, (1000,), np.float64)
    with _address_space_limit(1 << 30):
        for dtype in DTYPES:
            u = unit_roundoff(dtype)
            want = math.log(n)
            x = np.broadcast_to(dtype(0), (n,))
            for call in (lambda: sf.logsumexp(x), lambda: sf.logsumexp(x, 0),
                         lambda: sf.logsumexp(x, keepdims=True)[0],
                         lambda: sf.logsumexp(x, num_threads=3)):
                got, peak = _peak(call)
                assert peak < 64 * MiB, peak
                assert np.asarray(got).dtype == dtype
                assert abs(float(got) - want) <= u * TOL_CONST * want, (got, want)
            got = sf.logsumexp(np.broadcast_to(dtype(7.5), (n,)), scale=-2.0)
            assert abs(float(got) - (-15 + want)) <= u * TOL_CONST * (15 + want)
            # 2-D: a 1000-row repeated 2^21 + 1 times (2^31 + 1000 elements), reduced whole
            k = 2**21 + 1
            r = row.astype(dtype)
            x2 = np.broadcast_to(r, (k, r.size))
            got, peak = _peak(lambda: sf.logsumexp(x2))
            assert peak < 64 * MiB, peak
            r64 = r.astype(np.float64)
            m = r64.max()
            p = np.exp(r64 - m) / np.exp(r64 - m).sum()
            spread = abs(r64[0] - m) + np.sum(p * np.abs(r64 - m))   # E of the tolerance model
            want2 = sf._reference.logsumexp(r64) + math.log(k)
            assert abs(float(got) - want2) <= u * (TOL_CONST * max(1, abs(want2)) + 2 * spread)
            got_rows = sf.logsumexp(x2[:3], axis=0)          # and a broadcast down axis 0
            assert_logsumexp_close(got_rows, x2[:3], 0)


@contextlib.contextmanager
def _address_space_limit(extra):
    """Limit this process's address space to its current size + `extra` bytes (Linux), so that
    an allocation of gigabytes fails with MemoryError instead of taking the machine's memory."""
    try:
        import resource
        with open("/proc/self/status") as f:
            size = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
    except (ImportError, OSError, StopIteration):
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = size + extra
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    if soft != resource.RLIM_INFINITY and soft <= limit:
        yield
        return
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


BYTE_SWAP_VIEWS = {
    "C": lambda a: a,
    "F": np.asfortranarray,
    "strided": lambda a: a[::2, 1::3],
    "broadcast": lambda a: np.broadcast_to(a[:1], a.shape),
}


@pytest.mark.parametrize("fn", FUNCTIONS, ids=lambda f: f.__name__)
def test_byte_swapped_inputs(fn, rng):
    """Byte-swapped float32/float64 inputs compute correctly (bitwise as native for C and F)."""
    # '>f4' and '>f8' on little-endian machines; C, Fortran, strided, broadcast; every axis;
    # with scale and where
    for dtype in DTYPES:
        x = logits(rng, (40, 70), dtype)
        w = x > -1
        for name, view in BYTE_SWAP_VIEWS.items():
            native = view(x)
            swapped = view(x.astype(x.dtype.newbyteorder()))
            assert not swapped.dtype.isnative
            for axis in (-1, 0, None):
                for kw in ({}, {"scale": 0.7}, {"where": view(w)}):
                    got = fn(swapped, axis, **kw)
                    assert np.asarray(got).dtype == np.dtype(dtype)
                    _check(fn, got, native, axis, **kw)
                    if name in ("C", "F"):   # else the native cast may take another plan
                        assert _bits(got) == _bits(fn(native, axis, **kw)), (name, axis, kw)


@pytest.mark.parametrize("fn", FUNCTIONS, ids=lambda f: f.__name__)
def test_byte_swapped_out_rejected(fn, rng):
    """A byte-swapped out (not the result's dtype) raises TypeError naming out, writing nothing."""
    # DESIGN section 2: out has the result's dtype, which is native; out=x in place included
    for dtype in DTYPES:
        x = logits(rng, (6, 9), dtype)
        swapped = np.dtype(dtype).newbyteorder()
        shape = np.shape(fn(x, -1))
        out = np.full(shape, 7.0, swapped)
        before = _bits(out)
        with pytest.raises(TypeError, match=r"\bout\b"):
            fn(x, -1, out=out)
        assert _bits(out) == before
        if fn is not sf.logsumexp:
            xs = x.astype(swapped)
            before = _bits(xs)
            with pytest.raises(TypeError, match=r"\bout\b"):
                fn(xs, -1, out=xs)
            assert _bits(xs) == before


@pytest.mark.parametrize("dtype", DTYPES)
def test_masked_arrays(dtype, rng):
    """A masked array's mask acts as where= (bitwise), NaN and inf under it take no part."""
    # alone and together with where=; a fully masked slice gives 0 / -inf; int data
    x = logits(rng, (6, 40), dtype)
    mask = rng.random(x.shape) < 0.3
    mask[2] = True                      # a fully masked row
    mask[:, 5] = True                   # a fully masked column
    data = x.copy()
    data[mask & (rng.random(x.shape) < 0.5)] = np.nan
    data[0, mask[0]] = np.inf
    m = np.ma.masked_array(data, mask=mask)
    extra = x > -2
    for fn in FUNCTIONS:
        for axis in (-1, 0, None):
            got = fn(m, axis)
            assert _bits(got) == _bits(fn(x, axis, where=~mask)), (fn.__name__, axis)
            _check(fn, np.asarray(got), x, axis, where=~mask)
            both = fn(m, axis, where=extra)
            assert _bits(both) == _bits(fn(x, axis, where=~mask & extra)), (fn.__name__, axis)
        # masking exactly the NaN and inf entries leaves finite slices
        hidden = np.ma.masked_array(data, mask=~np.isfinite(data))
        assert _bits(fn(hidden, 1)) == _bits(fn(x, 1, where=np.isfinite(data)))
    assert np.all(sf.softmax(m)[2] == 0) and np.all(sf.log_softmax(m)[2] == -np.inf)
    assert sf.logsumexp(m, 1)[2] == -np.inf
    unmasked = np.ma.masked_array(x)             # nomask
    for fn in FUNCTIONS:
        assert _bits(fn(unmasked, 0)) == _bits(fn(x, 0))
    ints = np.ma.masked_array(np.arange(12).reshape(3, 4), mask=np.eye(3, 4, dtype=bool))
    got = sf.softmax(ints)
    assert got.dtype == np.float64
    assert _bits(got) == _bits(sf.softmax(np.arange(12.0).reshape(3, 4), where=~np.eye(3, 4,
                                                                                     dtype=bool)))


@pytest.mark.parametrize("fn", FUNCTIONS, ids=lambda f: f.__name__)
def test_memoryviews_and_sequences(fn, rng):
    """memoryviews, lists, tuples and nested lists give bitwise what the equal ndarray gives."""
    # memoryviews: contiguous, strided, Fortran, array.array, bytes
    x32 = logits(rng, (5, 12), np.float32)
    x64 = x32.astype(np.float64)
    cases = [
        (memoryview(x32), x32),
        (memoryview(x64[:, ::3]), x64[:, ::3]),
        (memoryview(np.asfortranarray(x64)), np.asfortranarray(x64)),
        (memoryview(x32.tobytes()).cast("f", x32.shape), x32),
        (memoryview(array.array("d", x64[0])), x64[0]),
        (memoryview(bytes(range(0, 250, 10))), np.arange(0, 250, 10, dtype=np.uint8)),
        (x64.tolist(), x64),
        (tuple(map(tuple, x64.tolist())), x64),
        ([list(r) for r in x32], x32),                     # rows of np.float32 scalars
        ([[1, 2.5, -3], [True, 0, 7]], np.array([[1, 2.5, -3], [1, 0, 7]], np.float64)),
        ([[1, 2, 3], [4, 5, 6]], np.array([[1, 2, 3], [4, 5, 6]], np.float64)),
        (range(7), np.arange(7.0)),
    ]
    for value, arr in cases:
        for axis in (-1, 0, None):
            got = fn(value, axis)
            want = fn(arr, axis)
            assert np.asarray(got).dtype == np.asarray(want).dtype, type(value)
            assert _bits(got) == _bits(want), (type(value), axis)


@pytest.mark.parametrize("fn", FUNCTIONS, ids=lambda f: f.__name__)
def test_unconvertible_inputs_name_x(fn):
    """Ragged or over-deep lists raise ValueError, sets/dicts/None TypeError, naming x."""
    deep = 1.0
    for _ in range(65):
        deep = [deep]
    for value in ([[1.0, 2.0], [3.0]], [[1.0], 2.0], deep):
        with pytest.raises(ValueError, match=r"^x: "):
            fn(value)
    for value in ({1.0, 2.0}, {"a": 1.0}, None, [1.0, None], (v for v in (1.0, 2.0))):
        with pytest.raises(TypeError, match=r"^x: "):
            fn(value)


ABSURD_THREADS = [2**31, 2**31 - 1, 2**32 + 1, 2**63, 10**100, np.iinfo(np.int64).max,
                  np.uint64(2**64 - 1), np.int32(2**31 - 1)]


@pytest.mark.parametrize("num_threads", ABSURD_THREADS, ids=str)
def test_absurd_num_threads(num_threads, rng):
    """Absurd thread counts are clamped and give bitwise the one-thread results."""
    # short rows, a long row whose blocks the threads share, axis 0
    for x, axis in ((logits(rng, (4, 30), np.float32), -1),
                    (logits(rng, (200000,), np.float32), -1),
                    (logits(rng, (300, 200), np.float64), 0)):
        for fn in FUNCTIONS:
            assert _bits(fn(x, axis, num_threads=num_threads)) == \
                _bits(fn(x, axis, num_threads=1)), fn.__name__


NON_INTEGER_AXES = [np.float64(1), np.float32(0), np.float16(-1), np.array(1.0), np.bool_(True),
                    Fraction(1), 1 + 0j, (np.float64(0), 1), (0, None), ((0,),),
                    np.array([0, 1])]


@pytest.mark.parametrize("axis", NON_INTEGER_AXES, ids=repr)
@pytest.mark.parametrize("fn", FUNCTIONS, ids=lambda f: f.__name__)
def test_non_integer_axes(fn, axis):
    """Non-integer axes (NumPy floats, bools, Fractions, arrays, nested tuples) raise TypeError."""
    for x in (np.ones((3, 4)), np.float64(2.0)):
        with pytest.raises(TypeError, match="axis"):
            fn(x, axis)


@pytest.mark.parametrize("axis", [2**63, -2**63, 10**100, np.uint64(2**64 - 1)], ids=str)
def test_huge_axes(axis):
    """Axis values far out of range (beyond 64-bit) raise AxisError, not OverflowError."""
    for fn in FUNCTIONS:
        with pytest.raises(AxisError, match="axis"):
            fn(np.ones((3, 4)), axis)
