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
print("smoke test passed")
sys.exit(0)
