"""segment_softmax: every segment checked as a row of softmax / log_softmax (helpers.py's
tolerance model against the float64 reference), SciPy CSR input, PyTorch's sparse softmax."""
import numpy as np
import pytest

import softmax_fast as sf
from softmax_fast import _reference as ref
from helpers import DTYPES, TAIL_LENGTHS, assert_softmax_close, call, logits


def _check(got, values, offsets, log=False, scale=None):
    assert got.shape == np.shape(values)
    for s, (lo, hi) in enumerate(zip(offsets[:-1], offsets[1:])):
        if hi > lo:
            assert_softmax_close(got[lo:hi], values[lo:hi], log=log, scale=scale,
                                 what=f"segment {s} [{lo}:{hi}] log={log}")


def _random_offsets(rng, lengths):
    return np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)


@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_segment_lengths(isa, dtype, log, rng):
    # every tail length, empty segments between them, and a segment long enough for the
    # core's blocked row plan
    lengths = [0] + [n for n in TAIL_LENGTHS for _ in range(2)] + [0, 0, 1000, 70000, 0]
    rng.shuffle(lengths)
    off = _random_offsets(rng, lengths)
    x = logits(rng, off[-1], dtype)
    for scale in (None, 0.7):
        got = call(sf.segment_softmax, x, off, log=log, scale=scale)
        assert got.dtype == dtype
        _check(got, x, off, log, scale)


def test_many_small_segments_threads(rng):
    lengths = rng.integers(0, 40, 5000)
    off = _random_offsets(rng, lengths)
    x = logits(rng, off[-1], np.float32)
    a = sf.segment_softmax(x, off, num_threads=1)
    b = sf.segment_softmax(x, off, num_threads=2)
    np.testing.assert_array_equal(a, b)
    _check(b, x, off)
    np.testing.assert_allclose(b, ref.segment_softmax(x, off), rtol=1e-5, atol=1e-30)


def test_special_values_empty_and_out():
    x = np.array([1.0, np.nan, 2.0, -np.inf, 0.0, -np.inf, -np.inf, np.inf, 3.0])
    off = np.array([0, 2, 2, 5, 7, 9])
    got = call(sf.segment_softmax, x, off)
    assert np.all(np.isnan(got[0:2]))                  # NaN: all NaN
    assert got[3] == 0 and abs(got[2] + got[4] - 1) < 1e-15
    assert np.all(np.isnan(got[5:7]))                  # only -inf: NaN (DESIGN section 3)
    assert np.all(np.isnan(got[7:9]))                  # +inf: all NaN
    lg = sf.segment_softmax(x, off, log=True)
    assert lg[3] == -np.inf and np.all(np.isnan(lg[:2]))
    # no segment at all, no values
    assert sf.segment_softmax(np.zeros(0), np.array([0])).shape == (0,)
    assert sf.segment_softmax(np.zeros(0), np.array([0, 0, 0])).shape == (0,)
    # out: in place, a strided view, another dtype refused
    v = np.array([1.0, 2.0, 3.0, 4.0])
    want = sf.segment_softmax(v, [0, 1, 4])
    assert sf.segment_softmax(v, [0, 1, 4], out=v) is v
    np.testing.assert_array_equal(v, want)
    wide = np.zeros(8)
    sf.segment_softmax(np.array([1.0, 2.0, 3.0, 4.0]), [0, 1, 4], out=wide[::2])
    np.testing.assert_array_equal(wide[::2], want)
    with pytest.raises(TypeError, match="out"):
        sf.segment_softmax(v, [0, 4], out=np.zeros(4, np.float32))
    # integer values compute in float64; float16 in float32 and come back as float16
    assert sf.segment_softmax(np.array([1, 2]), [0, 2]).dtype == np.float64
    h = sf.segment_softmax(np.array([1, 2], np.float16), [0, 2])
    assert h.dtype == np.float16


def test_bad_offsets():
    x = np.zeros(5)
    with pytest.raises(ValueError, match=r"offsets: must be non-decreasing; offsets\[1\] = 3"):
        sf.segment_softmax(x, [0, 3, 2, 5])
    for off in ([1, 5], [0, 4], [0, 6], [-1, 5]):
        with pytest.raises(ValueError, match="offsets"):
            sf.segment_softmax(x, off)
    with pytest.raises(ValueError, match="offsets"):
        sf.segment_softmax(x, [])
    with pytest.raises(ValueError, match="offsets"):
        sf.segment_softmax(x, [[0, 5]])
    with pytest.raises(TypeError, match="offsets"):
        sf.segment_softmax(x, [0.0, 5.0])
    with pytest.raises(ValueError, match="values"):
        sf.segment_softmax(np.zeros((2, 2)), [0, 4])
    with pytest.raises(ValueError, match="scale"):
        sf.segment_softmax(x, [0, 5], scale=np.nan)


@pytest.mark.parametrize("dtype", DTYPES)
def test_scipy_csr(isa, dtype):
    scipy_sparse = pytest.importorskip("scipy.sparse")
    rng = np.random.default_rng(2)
    m = scipy_sparse.random(300, 200, density=0.05, format="csr", random_state=3, dtype=dtype)
    m.data = logits(rng, m.data.shape, dtype)
    got = sf.segment_softmax(m.data, m.indptr)
    _check(got, m.data, m.indptr)
    # rows of the matrix with only its stored entries: the softmax of each row's data
    dense = m.toarray()
    for r in (0, 17, 299):
        lo, hi = m.indptr[r], m.indptr[r + 1]
        if hi > lo:
            cols = m.indices[lo:hi]
            want = ref.softmax(dense[r, cols])
            np.testing.assert_allclose(got[lo:hi], want, rtol=1e-5 if dtype == np.float32
                                       else 1e-13)


@pytest.mark.parametrize("dtype", DTYPES)
def test_matches_torch_sparse_softmax(isa, dtype):
    torch = pytest.importorskip("torch")
    scipy_sparse = pytest.importorskip("scipy.sparse")
    rng = np.random.default_rng(4)
    m = scipy_sparse.random(50, 400, density=0.1, format="csr", random_state=5, dtype=dtype)
    m.data = logits(rng, m.data.shape, dtype)
    coo = m.tocoo()
    t = torch.sparse_coo_tensor(np.vstack([coo.row, coo.col]), coo.data, m.shape,
                                check_invariants=True).coalesce()
    want = torch.sparse.softmax(t, dim=1).coalesce().values().numpy()   # row-major order
    got = sf.segment_softmax(m.data, m.indptr)                           # CSR: row-major too
    np.testing.assert_allclose(got, want, rtol=1e-5 if dtype == np.float32 else 1e-12)


def test_follows_the_isa_choice(rng):
    """_fused has no kernel table of its own (it calls _core's, see _core.pxd): under every
    kernel set, a single segment comes out bitwise equal to softmax of it (the same per-row
    code). Kernel sets round differently, so this fails if _fused kept another set."""
    from softmax_fast import _core
    from helpers import using_isa
    x = logits(rng, 1000, np.float32)
    seen = {}
    for name in _core.available_isas():
        with using_isa(name):
            want = sf.softmax(x)
            np.testing.assert_array_equal(sf.segment_softmax(x, [0, 1000]), want)
            np.testing.assert_array_equal(sf.segment_softmax(x, [0, 1000], log=True),
                                          sf.log_softmax(x))
            seen[name] = want
    if len(seen) > 1:   # the check has teeth only where the sets' bits differ (here they do)
        assert len({v.tobytes() for v in seen.values()}) > 1
