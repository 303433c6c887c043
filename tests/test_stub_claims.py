"""The result types that the public stubs (softmax_fast/__init__.pyi) promise hold at run time:
a float16/32/64 array gives its own dtype, out= comes back as itself, logsumexp over all axes
gives a NumPy scalar of the input's float type, integers give float64."""
import numpy as np
import pytest

import softmax_fast as sf

FLOATS = (np.float16, np.float32, np.float64)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("fn", [sf.softmax, sf.log_softmax])
def test_softmax_keeps_the_float_dtype(fn, dtype):
    x = np.linspace(-3, 3, 40).reshape(4, 10).astype(dtype)
    assert fn(x).dtype == dtype
    assert fn(x, axis=0, where=x > -2).dtype == dtype
    out = np.empty_like(x)
    assert fn(x, out=out) is out


@pytest.mark.parametrize("dtype", FLOATS)
def test_logsumexp_over_everything_is_a_scalar_of_the_dtype(dtype):
    x = np.linspace(-3, 3, 40).reshape(4, 10).astype(dtype)
    for res in (sf.logsumexp(x), sf.logsumexp(x, where=x > 0), sf.logsumexp(x, scale=0.5),
                sf.logsumexp(x[0]), sf.logsumexp(x.T)):
        assert type(res) is dtype, type(res)
    assert isinstance(sf.logsumexp(x, axis=1), np.ndarray)
    assert sf.logsumexp(x, axis=1).dtype == dtype
    out = np.empty(4, dtype=dtype)
    assert sf.logsumexp(x, axis=1, out=out) is out


def test_integers_give_float64():
    xi = np.arange(12).reshape(3, 4)
    assert sf.softmax(xi).dtype == np.float64
    assert type(sf.logsumexp(xi)) is np.float64
