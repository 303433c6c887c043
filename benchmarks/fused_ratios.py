"""Issue 5's speed targets of cross_entropy and softmax_topk, as ratios measured side by side in
one process (`softmax_fast._bench.time_calls`: interleaved, best of many samples).

    python benchmarks/fused_ratios.py [--budget SECONDS]

Both libraries run on the same number of threads (--threads, default 2: torch.set_num_threads
and num_threads=). Needs PyTorch.
"""
from __future__ import annotations

import argparse

import numpy as np

import softmax_fast as sf
from softmax_fast import _bench


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=float, default=1.0, help="seconds of repeats per timing")
    ap.add_argument("--threads", type=int, default=2, help="threads of both libraries")
    args = ap.parse_args()
    try:
        import torch
    except ImportError:
        print("PyTorch is not installed: no ratio to measure")
        return
    nt = args.threads
    torch.set_num_threads(nt)
    F = torch.nn.functional
    rng = np.random.default_rng(_bench.SEED)
    print(f"softmax_fast {sf.__version__}  isa={sf.show_config()['isa']}  torch {torch.__version__}"
          f"  threads={nt}")
    rows = []

    x = rng.standard_normal((256, 32000), dtype=np.float32)
    t = rng.integers(0, 32000, 256)
    xt, tt = torch.from_numpy(x), torch.from_numpy(t)
    assert abs(float(sf.cross_entropy(x, t)) - float(F.cross_entropy(xt, tt))) < 1e-4
    r = _bench.time_calls({"ours": lambda: sf.cross_entropy(x, t, num_threads=nt),
                           "torch": lambda: F.cross_entropy(xt, tt)}, budget=args.budget)
    rows.append(("cross_entropy (256, 32000) f32, int targets",
                 "F.cross_entropy", r["ours"].best, r["torch"].best, 0.5))

    x = rng.standard_normal((1, 128256), dtype=np.float32)
    xt = torch.from_numpy(x)
    v, i = sf.softmax_topk(x, 50)
    tv, ti = torch.topk(torch.softmax(xt, -1), 50)
    assert np.array_equal(i, ti.numpy()) and np.allclose(v, tv.numpy(), rtol=1e-5)
    r = _bench.time_calls({"ours": lambda: sf.softmax_topk(x, 50, num_threads=nt),
                           "torch": lambda: torch.topk(torch.softmax(xt, -1), 50)},
                          budget=args.budget)
    rows.append(("softmax_topk (1, 128256) f32, k=50", "topk(softmax)", r["ours"].best,
                 r["torch"].best, 0.33))

    print(f"{'case':44s} {'peer':16s} {'ours us':>9s} {'peer us':>9s} {'ratio':>6s}  goal")
    for case, peer, ours, theirs, goal in rows:
        ratio = ours / theirs
        print(f"{case:44s} {peer:16s} {ours * 1e6:9.1f} {theirs * 1e6:9.1f} {ratio:6.2f}  "
              f"<= {goal} {'ok' if ratio <= goal else 'MISSED'}")


if __name__ == "__main__":
    main()
