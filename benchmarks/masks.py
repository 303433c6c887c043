"""Masked rows, temperatures, short rows and tiny calls: each case against the plain softmax of the same
array (or np.exp for tiny calls), best of repeats, side by side in one process.

    python benchmarks/masks.py

- where=: a boolean mask (a tenth of the entries masked out), full or broadcast;
- rows holding -inf (a mask applied by hand), or entries far below the row's max, whose terms
  or outputs fall in the denormal range (each denormal result of a floating-point operation
  costs a microcode assist on x86 cores: ~150 cycles);
- scale= (a temperature) on the fast path;
- many short rows (the kernels' row loop; rows of up to 64 in registers on AVX-512), longer rows
  (software-pipelined on AVX-512 float32) and single long rows cut into blocks, against
  torch.softmax when PyTorch is installed;
- call overhead: a (2, 4) input through each public entry (and through PyTorch's, when it is
  installed).
"""
import numpy as np

import softmax_fast as sf
from softmax_fast import _bench


def table(title, shape, calls, budget=0.4):
    r = _bench.time_calls(calls, budget=budget)
    base = r["plain"].best
    print(f"{title} {shape}: " + "  ".join(
        f"{k} {v.best * 1e6:.1f} us ({v.best / base:.2f}x)" for k, v in r.items()), flush=True)


def main():
    rng = np.random.default_rng(0)
    for shape in ((32, 1000), (64, 2048), (2048, 2048)):
        x = rng.standard_normal(shape).astype(np.float32)
        out = np.empty_like(x)
        mask = rng.random(shape) > 0.1
        row_mask = np.broadcast_to(mask[:1], shape)
        table("where=", shape, {
            "plain": lambda: sf.softmax(x, out=out),
            "where": lambda: sf.softmax(x, where=mask, out=out),
            "where (broadcast row)": lambda: sf.softmax(x, where=row_mask, out=out),
            "log_softmax where": lambda: sf.log_softmax(x, where=mask, out=out)})
    shape = (64, 2048)
    x = rng.standard_normal(shape).astype(np.float32)
    out = np.empty_like(x)
    off = rng.random(shape) < 0.1
    calls = {"plain": lambda: sf.softmax(x, out=out, num_threads=1)}
    for v in (-np.inf, -1e4, -140.0, -90.0, -60.0):
        xv = x.copy()
        xv[off] = v
        calls[f"{v:g}"] = lambda xv=xv: sf.softmax(xv, out=out, num_threads=1)
        calls[f"log {v:g}"] = lambda xv=xv: sf.log_softmax(xv, out=out, num_threads=1)
    table("a tenth of the entries set to (1 thread)", shape, calls)
    x = rng.standard_normal((1, 128256)).astype(np.float32)
    out = np.empty_like(x)
    table("temperature", x.shape, {"plain": lambda: sf.softmax(x, out=out),
                                   "scale=1/0.7": lambda: sf.softmax(x, scale=1 / 0.7, out=out)})
    try:
        import torch
        torch.set_num_threads(2)
    except ImportError:
        torch = None
    # short rows (the register kernel), longer ones (the pipelined row loop), and single long
    # rows whose blocks split unevenly between 2 threads (the runs of blocks)
    for shape in ((4096, 8), (4096, 16), (4096, 64), (16384, 32), (1024, 256), (32, 1000),
                  (262, 1000), (1, 81820), (1, 100277)):
        x = rng.standard_normal(shape).astype(np.float32)
        out = np.empty_like(x)
        calls = {"plain": lambda: np.exp(x, out=out),
                 "softmax": lambda: sf.softmax(x, out=out),
                 "softmax 1 thread": lambda: sf.softmax(x, out=out, num_threads=1),
                 "log_softmax": lambda: sf.log_softmax(x, out=out)}
        if torch is not None:
            xt = torch.from_numpy(x)
            calls["torch.softmax"] = lambda: torch.softmax(xt, -1)
        table("rows", shape, calls)
    x = np.ones((2, 4), np.float32)
    t = np.array([1, 2])
    y = sf.softmax(x)
    table("call overhead", x.shape, {
        "plain": lambda: np.exp(x),
        "softmax": lambda: sf.softmax(x), "log_softmax": lambda: sf.log_softmax(x),
        "logsumexp": lambda: sf.logsumexp(x, axis=-1), "scale": lambda: sf.softmax(x, scale=2.0),
        "axis=0": lambda: sf.softmax(x, axis=0), "dtype=float64": lambda: sf.softmax(
            x, dtype=np.float64), "where": lambda: sf.softmax(x, where=x > 0),
        "sigmoid": lambda: sf.sigmoid(x), "cross_entropy": lambda: sf.cross_entropy(x, t),
        "softmax_topk": lambda: sf.softmax_topk(x, 2),
        "softmax_backward": lambda: sf.softmax_backward(x, y),
        "general path (Fortran x)": lambda: sf.softmax(np.asfortranarray(x))})
    if torch is None:
        return
    xt, tt = torch.from_numpy(x), torch.from_numpy(t)
    table("the same calls in PyTorch", x.shape, {
        "plain": lambda: np.exp(x), "softmax": lambda: torch.softmax(xt, -1),
        "log_softmax": lambda: torch.log_softmax(xt, -1),
        "logsumexp": lambda: torch.logsumexp(xt, -1), "axis=0": lambda: torch.softmax(xt, 0),
        "dtype=float64": lambda: torch.softmax(xt, -1, dtype=torch.float64),
        "sigmoid": lambda: torch.sigmoid(xt),
        "cross_entropy": lambda: torch.nn.functional.cross_entropy(xt, tt),
        "softmax_topk": lambda: torch.topk(torch.softmax(xt, -1), 2)})


if __name__ == "__main__":
    main()
