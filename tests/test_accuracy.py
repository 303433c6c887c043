"""Accuracy in ULP against a long-double reference (issue 4's targets).

softmax <= 4 ULP and log_softmax <= 2 ULP of the result dtype, for every ISA level this CPU has,
every algorithm, float32 and float64, rows of N(0, 1) * 30 logits (a wide range: x - max spans
hundreds, where rounding x - max in the result dtype alone costs float32 ~50 ULP); and
|sum(softmax) - 1| <= 1e-6 in float32. ULP here: |got - ref| / spacing(ref rounded to the
result dtype), so an error of 0.5 is a correctly rounded result. The reference takes x - max in
long double (exact for these inputs) and log(sum) as log1p(sum - 1) with the terms at the max
counted apart, as the kernels do, so its own error is far below one ULP of float64.
"""
import numpy as np
import pytest

import softmax_fast as sf

ALGORITHMS = ("auto", "three-pass", "two-pass", "online")
SOFTMAX_MAX_ULP = 4.0
LOG_SOFTMAX_MAX_ULP = 2.0
SUM_TOL_F32 = 1e-6

LENGTHS = (1, 17, 1000, 128256)
DTYPE_PARAMS = (np.float32, np.float64)
ROWS = {1: 64, 17: 64, 1000: 16, 128256: 2, 2**24: 1}

if np.finfo(np.longdouble).nmant < 63:   # long double is double here (e.g. MSVC, aarch64 is
    pytestmark = pytest.mark.skip(reason="long double is not wider than double")  # fine)


def _logits(n, dtype):
    rng = np.random.default_rng(1000 + n)
    return (30 * rng.standard_normal((ROWS[n], n))).astype(dtype)


_REFS = {}


def _reference(x):
    """(softmax, log_softmax) of the rows of x in long double, cached per input."""
    key = (x.shape, x.dtype.str)
    if key not in _REFS:
        xl = x.astype(np.longdouble)
        d = xl - xl.max(axis=-1, keepdims=True)
        e = np.exp(d)
        at_max = d == 0
        rest = np.where(at_max, 0, e).sum(axis=-1, keepdims=True) \
            + (at_max.sum(axis=-1, keepdims=True) - 1)
        _REFS[key] = (e / (1 + rest), d - np.log1p(rest))
        if len(_REFS) > 4:   # the 2^24 references are large: keep a few
            _REFS.pop(next(iter(_REFS)))
    return _REFS[key]


def max_ulp(got, ref, dtype):
    """Largest |got - ref| in units of the spacing of ref rounded to `dtype`."""
    spacing = np.spacing(np.abs(ref.astype(dtype))).astype(np.longdouble)
    return float(np.max(np.abs(got.astype(np.longdouble) - ref) / spacing))


def _check(isa, algorithm, dtype, n):
    x = _logits(n, dtype)
    ref_sm, ref_log = _reference(x)
    y = sf.softmax(x, algorithm=algorithm)
    err = max_ulp(y, ref_sm, dtype)
    assert err <= SOFTMAX_MAX_ULP, f"softmax {isa} {algorithm} n={n}: {err:.2f} ULP"
    if dtype == np.float32:
        dev = np.max(np.abs(y.sum(axis=-1, dtype=np.float64) - 1))
        assert dev <= SUM_TOL_F32, f"|sum - 1| = {dev:.2e}"
    lg = sf.log_softmax(x, algorithm=algorithm)
    err = max_ulp(lg, ref_log, dtype)
    assert err <= LOG_SOFTMAX_MAX_ULP, f"log_softmax {isa} {algorithm} n={n}: {err:.2f} ULP"


@pytest.mark.parametrize("n", LENGTHS)
@pytest.mark.parametrize("dtype", DTYPE_PARAMS)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_ulp(isa, algorithm, dtype, n):
    _check(isa, algorithm, dtype, n)


@pytest.mark.parametrize("s", (1, 3, 10))
@pytest.mark.parametrize("n", (17, 100, 1000))
@pytest.mark.parametrize("dtype", DTYPE_PARAMS)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_ulp_spread(isa, algorithm, dtype, n, s):
    """Rows of N(0, 1) x s for the spreads below 30 (the logits above): wider rows whose max
    dominates less, where the float32 three-pass sums' max term (4.35 ULP, N(0, 3)) and the
    log_softmax of the max (2.15 float32, 2.7 float64, N(0, 10)) were found off."""
    rng = np.random.default_rng(100 * n + s)
    rows = (s * rng.standard_normal((max(1, 300000 // n), n))).astype(dtype)
    _check_slices(rows, -1, algorithm, SOFTMAX_MAX_ULP, f"{isa} {algorithm} n={n} s={s}")


@pytest.mark.parametrize("scale", (None, 0.9))
@pytest.mark.parametrize("n", (17, 1000))
@pytest.mark.parametrize("dtype", DTYPE_PARAMS)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_ulp_axis0(isa, algorithm, dtype, n, scale):
    """The same logits down axis 0 (the column kernels). A column's log_softmax took log(sum),
    which rounds a rest far below the max's 1 away: the max's own output came out 0 instead of
    -rest (1.7e7 ULP of it in float32); now log1p(rest), the terms at the max counted apart.
    With a scale (0.9: scale*x inexact), float32 columns took scale*x in double against a max
    rounded to float32: the max's output came out positive (found by a review)."""
    x = _logits(n, dtype)
    xs = x if scale is None else (x * dtype(scale))     # what the kernels see, rounded
    ref_sm, ref_log = _reference(xs) if scale is None else _reference_uncached(xs)
    xt = np.ascontiguousarray(x.T)
    y = sf.softmax(xt, axis=0, algorithm=algorithm, scale=scale).T
    err = max_ulp(y, ref_sm, dtype)
    assert err <= SOFTMAX_MAX_ULP, f"softmax {isa} {algorithm} n={n}: {err:.2f} ULP"
    lg = sf.log_softmax(xt, axis=0, algorithm=algorithm, scale=scale).T
    err = max_ulp(lg, ref_log, dtype)
    assert err <= LOG_SOFTMAX_MAX_ULP, f"log_softmax {isa} {algorithm} n={n}: {err:.2f} ULP"


def _reference_uncached(x):
    """_reference of data that another test's input of the same shape and dtype may share a
    cache entry with: computed afresh, and not kept."""
    _REFS.clear()
    ref = _reference(x)
    _REFS.clear()
    return ref


# Per dtype: values v whose term exp(v) against the max's 1 (at 0) is about 0.49, 0.75 and 1.5
# of the max's ulp, so that adding them one by one to a running sum that holds the max rounds
# every time, most of them the same way; and the tolerance of this test (below)
_MAX_LANE_VALUES = {np.float32: ((-16.655, -16.23, -16.5, -17.3), 1.5),
                    np.float64: ((-36.8, -36.4, -37.5, -35.9), SOFTMAX_MAX_ULP)}


@pytest.mark.parametrize("axis", (-1, 0))
@pytest.mark.parametrize("n", (100, 256, 1000, 20000))
@pytest.mark.parametrize("dtype", DTYPE_PARAMS)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_ulp_max_lane_rounding(isa, algorithm, dtype, n, axis):
    """Slices of one max (0) and one small value repeated: the sum is the max's 1 plus equal
    terms that each round against it. The float32 three-pass sums added the max's term in a
    float32 lane like any other, and every later addition to that lane rounded at its magnitude:
    up to 3.9 ULP here on every ISA (4.35 on rows of N(0, 3) x); they count the terms at the max
    apart now, as log_softmax's sums do (AVX-512: where they dominate an accumulator's lane; two
    maxima in one lane, as at 0 and n // 2 for n = 256, stay in it: 2.4 ULP). Then the outputs'
    error is the small terms' exp and the roundings of a float32 sum that no longer holds the
    max: float32 within 1.5 ULP here (measured 0.9). float64, whose lanes keep their rounding
    errors, within the contract (its online columns summed 8 terms a block uncompensated:
    7.4 ULP)."""
    values, tol = _MAX_LANE_VALUES[dtype]
    for v in values:
        rows = np.full((2, n), dtype(v))
        rows[:, 0] = 0
        rows[1, n // 2 + 1] = 0                  # two maxima in the second slice
        _check_slices(rows, axis, algorithm, tol, f"{isa} {algorithm} v={v}")


def _rows_rest_above_binade(dtype, n, per_k, rng):
    """Rows whose rest (the sum of the terms other than the max's 1) lies just above a power of
    two 2^k, k = -1 .. -13, where log1p(rest) lies just below it: the max's own log_softmax
    output, -log1p(rest), then has half the spacing of rest, and shows the rest's error twice
    over. The rest is one large term (99%) and n - 2 small ones around a max in [-5, 5]."""
    rows = []
    for k in range(-1, -14, -1):
        rest = rng.uniform(2.0 ** k, 2.0 ** k + 2.0 ** (2 * k - 1), per_k)
        small = rng.uniform(0.5, 1.5, (per_k, n - 2))
        small *= (0.01 * rest / small.sum(axis=1))[:, None]
        m = rng.uniform(-5, 5, per_k)
        x = np.empty((per_k, n))
        x[:, 0] = m
        x[:, 1] = m + np.log(0.99 * rest)
        x[:, 2:] = m[:, None] + np.log(small)
        rows.append(rng.permuted(x, axis=1).astype(dtype))
    return np.concatenate(rows)


@pytest.mark.parametrize("where", ("rows", "columns", "streamed", "scaled"))
@pytest.mark.parametrize("n", (3, 17, 1000))
@pytest.mark.parametrize("dtype", DTYPE_PARAMS)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_ulp_log_softmax_rest_above_binade(isa, algorithm, dtype, n, where):
    """log_softmax where its error shows most: before the rest was taken again from x in these
    rows (the reduction's rest is within ~1.6 of its ulps, its terms being the dtype's exps),
    up to 4.9 ULP float32 (n = 1000, AVX2), 3.0 float64; 1.5 now. Also down the columns of a
    non-last axis, through the streamed rows (pipelined), and with a scale (the rest taken
    again from scale * x rounded to the dtype, as the reduction took it)."""
    from softmax_fast import _core
    rows = _rows_rest_above_binade(dtype, n, 20 if n == 1000 else 60, np.random.default_rng(n))
    scale = 0.75 if where == "scaled" else None
    ref_rows = rows if scale is None else rows * dtype(scale)   # rounded to the dtype
    ref_log = _reference_uncached(ref_rows)[1]
    if where == "columns":
        lg = sf.log_softmax(np.ascontiguousarray(rows.T), axis=0, algorithm=algorithm).T
    elif where == "streamed":
        enabled, min_bytes = _core.set_streaming(True, 0)
        try:
            lg = sf.log_softmax(rows, algorithm=algorithm)
        finally:
            _core.set_streaming(enabled, min_bytes)
    else:
        lg = sf.log_softmax(rows, algorithm=algorithm, scale=scale)
    err = max_ulp(lg, ref_log, dtype)
    assert err <= LOG_SOFTMAX_MAX_ULP, f"log_softmax {isa} {algorithm} n={n} {where}: {err:.2f} ULP"


@pytest.mark.parametrize("dtype", DTYPE_PARAMS)
def test_ulp_log_softmax_rest_above_binade_long_row(isa, dtype):
    """The same for rows long enough to be cut into blocks (two threads share a row), whose rest
    is taken again once for the whole row: a check of that path (its 52 rows are too few to
    have met the previous error, which needs one of the terms' exps off by most of an ulp)."""
    n = 70000
    base = _rows_rest_above_binade(dtype, 40, 4, np.random.default_rng(3))   # 52 rows
    rows = np.full((len(base), n), dtype(-1000))
    rows[:, ::1750] = base                    # the 40 values spread over the row
    ref_log = _reference_uncached(rows)[1]
    for nt in (1, 2):
        lg = sf.log_softmax(rows, num_threads=nt)
        err = max_ulp(lg, ref_log, dtype)
        assert err <= LOG_SOFTMAX_MAX_ULP, f"log_softmax {isa} n={n} threads={nt}: {err:.2f} ULP"
        inplace = rows.copy()             # every write after the rest's last read of x
        sf.log_softmax(inplace, out=inplace, num_threads=nt)
        np.testing.assert_array_equal(inplace, lg)


@pytest.mark.parametrize("n", (17, 1000))
@pytest.mark.parametrize("dtype", DTYPE_PARAMS)
def test_ulp_cross_entropy_at_the_max(isa, dtype, n):
    """The cross entropy of a row whose target is its max is -log_softmax there, -log1p(rest):
    within the log_softmax bound on the rows that show its error most (before the rest was
    taken again: 4.0 ULP float32, 2.6 float64)."""
    rows = _rows_rest_above_binade(dtype, n, 20, np.random.default_rng(n + 1))
    ref_log = _reference_uncached(rows)[1]
    target = np.argmax(rows, axis=1)
    want = -ref_log[np.arange(len(rows)), target]
    for probabilities in (False, True):
        t = np.eye(n, dtype=dtype)[target] if probabilities else target
        loss = sf.cross_entropy(rows, t, reduction="none")
        err = max_ulp(loss, want, dtype)
        assert err <= LOG_SOFTMAX_MAX_ULP, f"cross_entropy {isa} n={n} {probabilities}: {err:.2f}"


@pytest.mark.slow
@pytest.mark.parametrize("dtype", DTYPE_PARAMS)
@pytest.mark.parametrize("algorithm", ALGORITHMS[1:])
def test_ulp_2_24(isa, algorithm, dtype):
    """One row of 2^24: the blocked, multi-threaded path, and sums that must not drift."""
    _check(isa, algorithm, dtype, 2**24)


@pytest.mark.parametrize("axis", (-1, 0))
@pytest.mark.parametrize("dtype", DTYPE_PARAMS)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("value", (-0.7, -2.2, -3.0, "constant"))
def test_ulp_repeated_value(isa, algorithm, dtype, value, axis):
    """Slices of one value repeated (below a single max of 0, the first element, where two-pass
    takes its shift; or everywhere): the terms are all equal, so lane sums that add many of
    them round the same way every time. Summing 32 terms a float32 lane before going to double
    was up to 5.3 ULP off on these (AVX2 and AVX-512 rows and AVX-512 columns, every ISA's
    two-pass; float64 columns 4.8); the sums then lost up to ~6 u."""
    n = 20000
    rows = np.full((3, n), dtype(-0.5 if value == "constant" else value))
    if value != "constant":
        rows[:, 0] = 0
    _check_slices(rows, axis, algorithm, SOFTMAX_MAX_ULP, f"{isa} {algorithm} {value}")


def _check_slices(rows, axis, algorithm, softmax_tol, what):
    """softmax within softmax_tol and log_softmax within the bound, of `rows` taken along
    `axis` (0: the rows as columns), against an uncached reference."""
    ref_sm, ref_log = _reference_uncached(rows)
    x = rows if axis == -1 else np.ascontiguousarray(rows.T)
    y = sf.softmax(x, axis=axis, algorithm=algorithm)
    lg = sf.log_softmax(x, axis=axis, algorithm=algorithm)
    if axis == 0:
        y, lg = y.T, lg.T
    err = max_ulp(y, ref_sm, rows.dtype.type)
    assert err <= softmax_tol, f"softmax {what}: {err:.2f} ULP"
    err = max_ulp(lg, ref_log, rows.dtype.type)
    assert err <= LOG_SOFTMAX_MAX_ULP, f"log_softmax {what}: {err:.2f} ULP"


def test_max_ulp_measures_ulp():
    """The measure itself: one spacing off is 1 ULP, a correctly rounded value at most 0.5."""
    ref = np.array([1 / 3, 2 / 3], np.longdouble)
    exact = ref.astype(np.float32)
    assert max_ulp(exact, ref, np.float32) <= 0.5
    off = np.nextafter(exact, np.float32(1))
    assert 0.5 < max_ulp(off, ref, np.float32) <= 1.5


def _form_rows(form, n, dtype, rng, high):
    """Rows aimed at each way the kernels take x - max exactly (kernels_avx512.c, SF_DIFF_*):
    the row's max and least value decide the form. Every row has many elements whose x - max
    is inexact in `dtype` (random low bits, far below the max), so a form that lost the
    rounding error would be several ULP off. The AVX-512 float32 exp pass skips x - max for a
    max within its fold's bounds (SF_F32_FOLD_MIN..MAX, -40..120): `high` rows put the max
    beyond them (just above 128, or at -50 for a max <= 0), with elements down to 80 below it,
    where x - max is still inexact and the outputs normal."""
    if high:
        top = np.nextafter(dtype(128), dtype(256))    # the binade [128, 256)
        if form == "fast2sum_x":
            top = dtype(-50)
            x = rng.uniform(-130, -50, n)
        else:
            x = rng.uniform(48, 128, n)
            x[n // 3] = {"fast2sum_shift": -np.nextafter(dtype(256), dtype(0)),
                         "twosum": -256.0, "clamped": -1e30, "-inf": -np.inf}[form]
        x = x.astype(dtype)
        x[n // 2] = top
        return x.reshape(1, n)
    top = np.nextafter(dtype(4), dtype(5))            # a max just inside the binade [4, 8)
    if form == "fast2sum_shift":                      # |x| < 8: Fast2Sum around the max
        x = rng.uniform(-7.999, 4, n)
        x[n // 3] = -np.nextafter(dtype(8), dtype(0))  # the binade's edge, still inside
    elif form == "fast2sum_x":                        # max <= 0: Fast2Sum around x
        x = rng.uniform(-20, -0.37, n)
        top = dtype(-0.37)
    elif form == "twosum":                            # |x| beyond the max's binade: TwoSum
        x = rng.uniform(-12, 4, n)
        x[n // 3] = -8.0
    else:                                             # a far outlier: TwoSum, clamped
        x = rng.uniform(-12, 4, n)
        x[n // 3] = -1e30 if form == "clamped" else -np.inf
    x = x.astype(dtype)
    x[n // 2] = top
    return x.reshape(1, n)


@pytest.mark.parametrize("n", (1000, 128256))
@pytest.mark.parametrize("dtype", DTYPE_PARAMS)
@pytest.mark.parametrize("form", ("fast2sum_shift", "fast2sum_x", "twosum", "clamped", "-inf"))
@pytest.mark.parametrize("scale", (None, 0.5))
@pytest.mark.parametrize("high", (False, True), ids=("max4", "max128"))
def test_ulp_each_exact_difference(isa, form, dtype, n, scale, high, rng):
    xs = _form_rows(form, n, dtype, rng, high)        # the row the kernels see: scale * x
    x = xs if scale is None else xs / dtype(scale)    # exact: a power of two
    ref_sm, ref_log = _reference(xs)
    _REFS.clear()
    y = sf.softmax(x, scale=scale)
    err = max_ulp(y, ref_sm, dtype)
    assert err <= SOFTMAX_MAX_ULP, f"softmax {isa} {form} n={n}: {err:.2f} ULP"
    finite = np.isfinite(ref_log)
    lg = sf.log_softmax(x, scale=scale)
    assert np.array_equal(np.isfinite(lg), finite)
    err = max_ulp(lg[finite], ref_log[finite], dtype)
    assert err <= LOG_SOFTMAX_MAX_ULP, f"log_softmax {isa} {form} n={n}: {err:.2f} ULP"
