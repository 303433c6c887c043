"""Smoke test of an installed softmax_fast: run from outside the source tree.

Usage: python smoke.py [--expect-openmp yes|no] [--expect-isa NAME]
"""
import argparse
import sys

import numpy as np

import softmax_fast as sf

parser = argparse.ArgumentParser()
parser.add_argument("--expect-openmp", choices=["yes", "no"])
parser.add_argument("--expect-isa")
args = parser.parse_args()

cfg = sf.show_config()
print("softmax_fast", sf.__version__, "from", sf.__file__)
print("config:", cfg)
assert "site-packages" in sf.__file__, "imported the source tree, not the installed package"
if args.expect_openmp:
    assert cfg["openmp"] == (args.expect_openmp == "yes"), cfg["openmp"]
if args.expect_isa:
    assert cfg["isa"] == args.expect_isa, cfg["isa"]

rng = np.random.default_rng(0)
for dtype, rtol in ((np.float32, 1e-5), (np.float64, 1e-12)):
    for shape, axis in (((4, 10), -1), ((3, 70001), -1), ((300, 17), 0)):
        x = rng.standard_normal(shape).astype(dtype) * 3
        x64 = x.astype(np.float64)
        ref = np.exp(x64 - x64.max(axis=axis, keepdims=True))
        ref /= ref.sum(axis=axis, keepdims=True)
        for algorithm in ("auto", "three-pass", "two-pass", "online"):
            y = sf.softmax(x, axis=axis, algorithm=algorithm)
            assert y.dtype == dtype
            np.testing.assert_allclose(y, ref, rtol=rtol, atol=0)
            np.testing.assert_allclose(sf.log_softmax(x, axis=axis, algorithm=algorithm),
                                       np.log(ref), rtol=rtol, atol=rtol)
        lse = x64.max(axis=axis) + np.log(np.exp(x64 - x64.max(axis=axis, keepdims=True))
                                          .sum(axis=axis))
        np.testing.assert_allclose(sf.logsumexp(x, axis=axis), lse, rtol=rtol)
assert np.isnan(sf.softmax(np.array([1.0, np.nan]))).all()

# the fused operations (a second extension module calling the kernels through _core)
for dtype, rtol in ((np.float32, 1e-5), (np.float64, 1e-12)):
    x = rng.standard_normal((5, 70001)).astype(dtype)
    x64 = x.astype(np.float64)
    lsm = x64 - (x64.max(-1, keepdims=True) + np.log(np.exp(x64 - x64.max(-1, keepdims=True))
                                                     .sum(-1, keepdims=True)))
    t = rng.integers(0, x.shape[1], x.shape[0])
    np.testing.assert_allclose(sf.cross_entropy(x, t, reduction="none"),
                               -lsm[np.arange(5), t], rtol=rtol)
    values, indices = sf.softmax_topk(x, 7)
    np.testing.assert_array_equal(indices, np.argsort(-x64, axis=-1, kind="stable")[:, :7])
    np.testing.assert_allclose(values, np.exp(np.take_along_axis(lsm, indices, -1)), rtol=rtol)
    g = rng.standard_normal(x.shape).astype(dtype)
    y = np.exp(lsm)
    np.testing.assert_allclose(sf.softmax_backward(g, y.astype(dtype)),
                               y * (g - (g * y).sum(-1, keepdims=True)), rtol=1e-3, atol=rtol)
    np.testing.assert_allclose(sf.log_softmax_backward(g, lsm.astype(dtype)),
                               g - y * g.sum(-1, keepdims=True), rtol=1e-3, atol=100 * rtol)
    off = np.array([0, 3, 3, 70001, x.size])
    seg = sf.segment_softmax(x.reshape(-1), off)
    np.testing.assert_allclose(seg[3:70001], np.exp(lsm[0, 3:] - np.log(np.exp(lsm[0, 3:]).sum())),
                               rtol=rtol)
print("smoke test passed")
sys.exit(0)
