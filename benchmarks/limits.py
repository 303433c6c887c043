"""This machine's floors under the speed targets that benchmarks/ratios.py reports as missed.

    python benchmarks/limits.py [--budget SECONDS]

Each line sets a softmax_fast time beside the data movement (or the call and thread costs)
that any implementation of the same call must pay here, from one process:

- (16, 128256) float32: a 2-thread copy of x into the output (non-temporal stores) against
  half of the best peer's softmax: any softmax reads x and writes the output.
- (1, 128256) float32, one thread: np.copyto of the row (a read and a write in L2, as the
  exp pass that stores the terms) and an in-place multiply (a read and a write, as the
  rescale), against 0.6 x np.exp.
- (32, 1000) float32: one thread's time, split in two as if fork and join cost nothing,
  against half of the best peer.
"""
from __future__ import annotations

import argparse

import numpy as np
import ratios

import softmax_fast as sf
from softmax_fast import _bench, _core


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=float, default=0.5, help="seconds of repeats per timing")
    b = ap.parse_args().budget
    rng = np.random.default_rng(1234)
    us = 1e6

    x = rng.standard_normal((16, 128256)).astype(np.float32)
    out = np.empty_like(x)
    copy = _bench.best_time(lambda: _core.stream_copy(x.reshape(-1).view(np.uint8),
                                                      out.reshape(-1).view(np.uint8), 2), b)
    ours = _bench.best_time(lambda: sf.softmax(x, axis=-1, out=out), b)
    peer, name = ratios.best_peer(x, -1, False, b)
    print(f"(16, 128256) softmax {ours * us:.0f} us; 2-thread copy of the bytes {copy * us:.0f} us;"
          f" half of {name} {peer * us / 2:.0f} us")

    x = rng.standard_normal((1, 128256)).astype(np.float32)
    out = np.empty_like(x)
    ours = _bench.best_time(lambda: sf.softmax(x, axis=-1, out=out, num_threads=1), b)
    exp = _bench.best_time(lambda: np.exp(x, out=out), b)
    copy = _bench.best_time(lambda: np.copyto(out, x), b)
    scale = _bench.best_time(lambda: np.multiply(out, np.float32(1), out=out), b)
    print(f"(1, 128256) one thread: softmax {ours * us:.1f} us; copy {copy * us:.1f} + in-place"
          f" multiply {scale * us:.1f} = {(copy + scale) * us:.1f} us of L2 traffic;"
          f" 0.6 x np.exp {0.6 * exp * us:.1f} us")

    x = rng.standard_normal((32, 1000)).astype(np.float32)
    out = np.empty_like(x)
    small = np.ascontiguousarray(x[:1, :16])
    call = _bench.best_time(lambda: sf.softmax(small, axis=-1, num_threads=1), b)
    for log in (False, True):
        f = sf.log_softmax if log else sf.softmax
        one = _bench.best_time(lambda: f(x, axis=-1, out=out, num_threads=1), b)
        two = _bench.best_time(lambda: f(x, axis=-1, out=out, num_threads=2), b)
        peer, name = ratios.best_peer(x, -1, log, b)
        print(f"(32, 1000) {f.__name__}: 1 thread {one * us:.2f} us, 2 threads {two * us:.2f} us;"
              f" split free of fork and join {(call + (one - call) / 2) * us:.2f} us;"
              f" half of {name} {peer * us / 2:.2f} us")


if __name__ == "__main__":
    main()
