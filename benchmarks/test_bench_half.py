"""pytest-benchmark groups for issue 5's float16 / bfloat16 inputs and the sigmoids.

Groups: "half-<dtype>-16x128256 softmax" (softmax_fast.softmax and log_softmax on the 16-bit
array, ``out=`` preallocated, against torch.softmax on the same dtype, and softmax_fast on a
float32 copy for scale), "half-<dtype>-16x128256 logsumexp", and "sigmoid-<dtype>-4Mi"
(sigmoid and log_sigmoid against torch.sigmoid / logsigmoid). Each result is checked once
against the reference, so a broken kernel cannot look fast. bfloat16 cases need ml_dtypes and
torch cases need torch: they skip cleanly without them.

    pytest benchmarks/test_bench_half.py                       # timings
    pytest benchmarks/test_bench_half.py --benchmark-disable   # every case once (CI)
    python benchmarks/half_ratios.py                           # the issue's ratios
"""
from __future__ import annotations

import numpy as np
import pytest

import softmax_fast as sf
from softmax_fast import _reference as ref

SHAPE = (16, 128256)
SIGMOID_N = 1 << 22
HALF_DTYPES = ["float16", "bfloat16"]


def half_dtype(name):
    if name == "bfloat16":
        ml_dtypes = pytest.importorskip("ml_dtypes")
        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(np.float16)


def torch_dtype(torch, name):
    return {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32,
            "float64": torch.float64}[name]


def logits(dt, shape=SHAPE):
    return (np.random.default_rng(0).standard_normal(shape) * 3).astype(dt)


def check_rows(y, x, log=False):
    """Two rows against the float64 reference, to the 16-bit output's precision."""
    xd = x[:2].astype(np.float64)
    want = ref.log_softmax(xd) if log else ref.softmax(xd)
    rtol = 2.0 ** -7 if x.dtype.name == "bfloat16" else 2.0 ** -10
    np.testing.assert_allclose(y[:2].astype(np.float64), want, rtol=rtol,
                               atol=0 if log else 1e-4)


@pytest.mark.parametrize("name", HALF_DTYPES)
@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_half_softmax_fast(benchmark, name, fn):
    dt = half_dtype(name)
    x = logits(dt)
    out = np.zeros_like(x)
    benchmark.group = f"half-{name}-16x128256 softmax"
    y = benchmark(getattr(sf, fn), x, out=out)
    assert y is out and y.dtype == dt
    check_rows(y, x, log=fn == "log_softmax")


@pytest.mark.parametrize("name", HALF_DTYPES)
def test_half_softmax_fast_float32_copy(benchmark, name):
    """For scale: the float32 softmax of the same values."""
    x32 = logits(half_dtype(name)).astype(np.float32)
    out = np.zeros_like(x32)
    benchmark.group = f"half-{name}-16x128256 softmax"
    benchmark(sf.softmax, x32, out=out)
    check_rows(out, x32)


@pytest.mark.parametrize("name", HALF_DTYPES)
@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_half_softmax_torch(benchmark, name, fn):
    torch = pytest.importorskip("torch")
    x = logits(half_dtype(name))
    t = torch.from_numpy(x.astype(np.float32)).to(torch_dtype(torch, name))
    benchmark.group = f"half-{name}-16x128256 softmax"
    y = benchmark(getattr(torch, fn), t, -1)
    check_rows(y.float().numpy(), x, log=fn == "log_softmax")


@pytest.mark.parametrize("name", HALF_DTYPES)
def test_half_logsumexp(benchmark, name):
    x = logits(half_dtype(name))
    benchmark.group = f"half-{name}-16x128256 logsumexp"
    y = benchmark(sf.logsumexp, x, axis=-1)
    np.testing.assert_allclose(y.astype(np.float64), ref.logsumexp(x.astype(np.float64), axis=-1),
                               rtol=2.0 ** -7)


@pytest.mark.parametrize("name", HALF_DTYPES)
def test_half_logsumexp_torch(benchmark, name):
    torch = pytest.importorskip("torch")
    x = logits(half_dtype(name))
    t = torch.from_numpy(x.astype(np.float32)).to(torch_dtype(torch, name))
    benchmark.group = f"half-{name}-16x128256 logsumexp"
    benchmark(torch.logsumexp, t, -1)


SIGMOID_DTYPES = ["float32", "float64", "float16", "bfloat16"]


def sigmoid_input(name):
    dt = half_dtype(name) if name in HALF_DTYPES else np.dtype(name)
    return (np.random.default_rng(1).standard_normal(SIGMOID_N) * 8).astype(dt)


@pytest.mark.parametrize("name", SIGMOID_DTYPES)
@pytest.mark.parametrize("fn", ["sigmoid", "log_sigmoid"])
def test_sigmoid_fast(benchmark, name, fn):
    x = sigmoid_input(name)
    out = np.zeros_like(x)
    benchmark.group = f"sigmoid-{name}-4Mi"
    y = benchmark(getattr(sf, fn), x, out=out)
    assert y is out
    want = getattr(ref, fn)(x[:1000].astype(np.float64)).astype(np.float64)
    # results below the smallest normal of a 16-bit dtype are subnormal (or flushed)
    atol = 2.0 ** -14 if name == "float16" else 0.0
    np.testing.assert_allclose(y[:1000].astype(np.float64), want, rtol=2.0 ** -7, atol=atol)


@pytest.mark.parametrize("name", SIGMOID_DTYPES)
@pytest.mark.parametrize("fn", ["sigmoid", "log_sigmoid"])
def test_sigmoid_torch(benchmark, name, fn):
    torch = pytest.importorskip("torch")
    x = sigmoid_input(name)
    t = torch.from_numpy(x.astype(np.float32) if name in HALF_DTYPES else x)
    t = t.to(torch_dtype(torch, name))
    f = torch.sigmoid if fn == "sigmoid" else torch.nn.functional.logsigmoid
    benchmark.group = f"sigmoid-{name}-4Mi"
    benchmark(f, t)
