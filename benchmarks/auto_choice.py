"""The measurement behind `softmax_fast._api.AUTO_ALGORITHM`: each algorithm's time per row
length and dtype, softmax and log_softmax, best of several repeats, in one process.

    python benchmarks/auto_choice.py [--repeats N]

Prints one line per (dtype, shape) with the times and the fastest algorithm per function.
"""
import argparse
import time

import numpy as np

import softmax_fast as sf

SHAPES = [(2000, 256), (500, 1000), (128, 4096), (32, 16384), (8, 65536), (4, 128256),
          (2, 1 << 20), (1, 1 << 22)]
ALGORITHMS = ("three-pass", "two-pass", "online")


def best_ms(f, repeats):
    f()
    t = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        f()
        t = min(t, time.perf_counter() - t0)
    return t * 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15)
    args = ap.parse_args()
    cfg = sf.show_config()
    print(f"softmax_fast {cfg['version']}  isa={cfg['isa']}  threads={cfg['num_threads']}  "
          f"auto={cfg['auto']}")
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        for shape in SHAPES:
            x = rng.standard_normal(shape).astype(dtype)
            out = np.empty_like(x)
            cells = []
            for fname, f in (("softmax", sf.softmax), ("log_softmax", sf.log_softmax)):
                times = {a: best_ms(lambda: f(x, out=out, algorithm=a), args.repeats)
                         for a in ALGORITHMS}
                fastest = min(times, key=times.get)
                cells.append(f"{fname}: " + " ".join(f"{a}={t:.3f}" for a, t in times.items())
                             + f" -> {fastest}")
            print(f"{np.dtype(dtype).name:8} {str(shape):14} " + " | ".join(cells), flush=True)


if __name__ == "__main__":
    main()
