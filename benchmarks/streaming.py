"""The measurement behind the non-temporal output path (softmax_fast._core STREAM_MIN_BYTES_):
each case with plain stores and with the streamed row buffer, best of repeats, in one process.

    python benchmarks/streaming.py
"""
import numpy as np

import softmax_fast as sf
from softmax_fast import _bench, _core

CASES = [((4096, 4096), np.float32), ((16384, 512), np.float32), ((16, 128256), np.float32),
         ((4096, 4096), np.float64), ((2048, 2048), np.float32)]


def main():
    rng = np.random.default_rng(0)
    for shape, dtype in CASES:
        x = rng.standard_normal(shape).astype(dtype)
        out = np.empty_like(x)
        best = {}
        for enabled in (False, True, False, True):  # interleaved: drift hits both alike
            _core.set_streaming(enabled)
            for name in ("softmax", "log_softmax"):
                f = getattr(sf, name)
                t = _bench.best_time(lambda: f(x, out=out), 0.3)
                best[enabled, name] = min(best.get((enabled, name), float("inf")), t)
        _core.set_streaming(True)
        print(f"{str(shape):14} {np.dtype(dtype).name:8} " + "  ".join(
            f"{n}: plain {best[False, n] * 1e3:.2f} ms, streamed {best[True, n] * 1e3:.2f} ms"
            for n in ("softmax", "log_softmax")), flush=True)


if __name__ == "__main__":
    main()
