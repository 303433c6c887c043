"""The issue 5 ratios for 16-bit inputs: softmax_fast time / PyTorch time on (16, 128256), for
float16 and bfloat16 (PyTorch on the same dtype; issue 5's target: softmax <= 0.5), for softmax,
log_softmax and logsumexp; and, for information, sigmoid / log_sigmoid against torch.sigmoid /
logsigmoid on 4Mi elements of each dtype.

Each figure is the ratio of the best of `--repeats` calls, the two sides interleaved in one
process (the machine's noise hits both). Outputs preallocated on both sides (``out=``) where
both take one. Needs torch (and ml_dtypes for bfloat16).

    python benchmarks/half_ratios.py [--repeats 200] [--threads N]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import softmax_fast as sf


def best_pair(f, g, repeats):
    tf, tg = [], []
    f(), g()
    for _ in range(repeats):
        t0 = time.perf_counter()
        f()
        t1 = time.perf_counter()
        g()
        t2 = time.perf_counter()
        tf.append(t1 - t0)
        tg.append(t2 - t1)
    return min(tf), min(tg)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=200)
    ap.add_argument("--threads", type=int, default=None,
                    help="threads for both sides (default: softmax_fast's default)")
    args = ap.parse_args(argv)
    import torch
    import ml_dtypes
    nt = args.threads or sf.show_config()["num_threads"]
    torch.set_num_threads(nt)
    print(f"isa={sf.show_config()['isa']} threads={nt} torch={torch.__version__} "
          f"repeats={args.repeats} (ratio = softmax_fast / torch; best of the repeats)")
    rng = np.random.default_rng(0)
    x32 = (rng.standard_normal((16, 128256)) * 3).astype(np.float32)
    dts = {"float16": (np.float16, torch.float16), "bfloat16": (ml_dtypes.bfloat16, torch.bfloat16)}
    for name, (ndt, tdt) in dts.items():
        x = x32.astype(ndt)
        t = torch.from_numpy(x32).to(tdt)
        out, tout = np.empty_like(x), torch.empty_like(t)
        for fn, tfn in (("softmax", torch.softmax), ("log_softmax", torch.log_softmax)):
            a, b = best_pair(lambda: getattr(sf, fn)(x, out=out, num_threads=nt),
                             lambda: tfn(t, -1, out=tout), args.repeats)
            # the target is softmax's (<= 0.5x torch.softmax); log_softmax's is shown
            note = "(target <= 0.5)" if fn == "softmax" else "(information)"
            print(f"{fn:12s} {name:9s} (16, 128256): {a * 1e3:7.3f} ms vs {b * 1e3:7.3f} ms "
                  f"ratio {a / b:.2f}  {note}")
        a, b = best_pair(lambda: sf.logsumexp(x, axis=-1, num_threads=nt),
                         lambda: torch.logsumexp(t, -1), args.repeats)
        print(f"{'logsumexp':12s} {name:9s} (16, 128256): {a * 1e3:7.3f} ms vs {b * 1e3:7.3f} ms "
              f"ratio {a / b:.2f}")
    s = rng.standard_normal(1 << 22) * 8
    sdts = {"float32": (np.float32, torch.float32), "float64": (np.float64, torch.float64),
            **dts}
    for name, (ndt, tdt) in sdts.items():
        x = s.astype(ndt)
        t = torch.from_numpy(s.astype(np.float32)).to(tdt)
        out, tout = np.empty_like(x), torch.empty_like(t)
        for fn, tfn in (("sigmoid", lambda: torch.sigmoid(t, out=tout)),
                        ("log_sigmoid", lambda: torch.nn.functional.logsigmoid(t))):
            a, b = best_pair(lambda: getattr(sf, fn)(x, out=out, num_threads=nt), tfn,
                             max(20, args.repeats // 4))
            print(f"{fn:12s} {name:9s} (4Mi):        {a * 1e3:7.3f} ms vs {b * 1e3:7.3f} ms "
                  f"ratio {a / b:.2f}  (information)")


if __name__ == "__main__":
    main()
