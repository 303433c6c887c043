"""Command line: ``python -m softmax_fast info`` and ``python -m softmax_fast bench [--quick]``."""
from __future__ import annotations

import argparse
import sys

import numpy as np

import softmax_fast as sf

from . import _bench


def _print_config(cfg: dict, indent: int = 0) -> None:
    for key, value in cfg.items():
        if isinstance(value, dict):
            print(" " * indent + f"{key}:")
            _print_config(value, indent + 2)
        else:
            if isinstance(value, list):
                value = ", ".join(map(str, value))
            print(" " * indent + f"{key}: {value}")


def _fmt(seconds: float) -> str:
    if seconds != seconds:
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    return f"{seconds * 1e3:.2f} ms"


def cmd_info(args: argparse.Namespace) -> int:
    _print_config(sf.show_config())
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    cases = [c for c in _bench.CASES if c.quick or not args.quick]
    budget = 0.05 if args.quick else 0.4
    peers = _bench.peers()
    cfg = sf.show_config()
    threads = args.threads or cfg["num_threads"]
    print(f"softmax_fast {cfg['version']}  isa={cfg['isa']}  threads={threads}  "
          f"(best of repeated runs; speed-up = other time / softmax_fast time)")
    names = list(peers)
    header = ["case", "softmax_fast"] + names + [f"vs {n}" for n in names]
    rows = []
    for i, case in enumerate(cases):
        print(f"[{i + 1}/{len(cases)}] {case.name}", file=sys.stderr, flush=True)
        x = case.make()
        out = np.empty_like(x)
        t_sf = _bench.best_time(
            lambda: sf.softmax(x, axis=case.axis, out=out, num_threads=threads), budget)
        times = {n: _bench.best_time(lambda: f(x, case.axis), budget) for n, f in peers.items()}
        rows.append([case.name, _fmt(t_sf)] + [_fmt(times[n]) for n in names]
                    + [f"{times[n] / t_sf:.1f}x" for n in names])
    widths = [max(len(str(r[k])) for r in rows + [header]) for k in range(len(header))]
    line = "  ".join(h.ljust(w) if k == 0 else h.rjust(w) for k, (h, w) in
                     enumerate(zip(header, widths)))
    print(line)
    print("-" * len(line))
    for r in rows:
        print("  ".join(str(v).ljust(w) if k == 0 else str(v).rjust(w) for k, (v, w) in
                        enumerate(zip(r, widths))))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m softmax_fast",
                                     description="softmax_fast: configuration and benchmarks")
    sub = parser.add_subparsers(dest="command")
    p_info = sub.add_parser("info", help="print the build and run-time configuration")
    p_info.set_defaults(func=cmd_info)
    p_bench = sub.add_parser("bench", help="time softmax against NumPy, SciPy and PyTorch")
    p_bench.add_argument("--quick", action="store_true", help="fewer cases, shorter timings")
    p_bench.add_argument("--threads", type=int, default=None, help="num_threads for softmax_fast")
    p_bench.set_defaults(func=cmd_bench)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
