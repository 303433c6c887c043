"""Command line of softmax_fast.

    python -m softmax_fast info                 the build and run-time configuration
    python -m softmax_fast bench [--quick] [--plot FILE.png] [--json FILE] [--threads N]
                                                softmax_fast against NumPy, SciPy and PyTorch

``bench`` times ``softmax_fast.softmax`` (algorithm "auto", ``out=`` preallocated) against the
NumPy reference (``softmax_naive``: max, exp, sum, divide), ``scipy.special.softmax`` and
``torch.softmax`` (each when importable) on the standard cases of ``softmax_fast._bench``, and
checks every result once against a float64 reference. Times are best-of-N per call, taken side
by side in one process; speed-up = the other's time / softmax_fast's time. A progress bar goes
to stderr; ``--json`` writes the raw figures, ``--plot`` a bar chart of the speed-ups (needs
matplotlib: the ``plot`` extra). Exit status: 0 on success, 1 when a result is wrong, 2 on bad
usage (including ``--plot`` without matplotlib, said before anything is timed).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from typing import Any, Callable, TextIO

import numpy as np

import softmax_fast as sf

from . import _bench, _core

#: (budget, min_samples, max_budget) per timing: full run, quick run, quick run of a large case.
FULL = dict(budget=0.5, min_samples=5, max_budget=1.5)
QUICK = dict(budget=0.03, min_samples=3, max_budget=0.1)
QUICK_LARGE = dict(budget=0.06, min_samples=3, max_budget=0.06)


# ---- info ------------------------------------------------------------------------------------

def _format_value(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value)) if value else "(none)"
    return str(value)


def _config_lines(cfg: dict[str, Any], indent: int = 0) -> list[str]:
    lines = []
    width = max((len(str(k)) for k in cfg), default=0) + 1
    for key, value in cfg.items():
        if isinstance(value, dict):
            lines.append(" " * indent + f"{key}:")
            lines.extend(_config_lines(value, indent + 2))
        else:
            lines.append(" " * indent + f"{str(key) + ':':<{width}} {_format_value(value)}")
    return lines


_OPENMP_VERSIONS = {200505: "2.5", 200805: "3.0", 201107: "3.1", 201307: "4.0", 201511: "4.5",
                    201811: "5.0", 202011: "5.1", 202111: "5.2", 202411: "6.0"}

#: Environment variables that change what softmax_fast does, shown by `info`.
_ENV_VARS = ("SOFTMAX_FAST_ISA", "OMP_NUM_THREADS", "OMP_DYNAMIC", "OMP_THREAD_LIMIT")


def cmd_info(args: argparse.Namespace) -> int:
    cfg = sf.show_config()
    build = dict(cfg.get("build", {}))
    spec = build.get("openmp_spec")
    if isinstance(spec, int):
        build["openmp_spec"] = (f"{spec} (OpenMP {_OPENMP_VERSIONS[spec]})"
                                if spec in _OPENMP_VERSIONS else str(spec or "none"))
    if "build" in cfg:
        cfg["build"] = build
    if cfg.get("openmp_runtime", "") is None:
        cfg["openmp_runtime"] = "(none)" if not cfg["openmp"] else "(not found)"
    cfg["environment"] = {name: os.environ.get(name, "(unset)") for name in _ENV_VARS}
    cfg["python"] = f"{platform.python_version()} ({sys.executable})"
    cfg["numpy"] = np.__version__
    cfg["platform"] = platform.platform()
    print("\n".join(_config_lines(cfg)))
    return 0


# ---- bench -----------------------------------------------------------------------------------

def _fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    if seconds < 1.0:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.3f} s"


def _fmt_ratio(num: float | None, den: float | None) -> str:
    if num is None or den is None:
        return "-"
    ratio = num / den
    return f"{ratio:.1f}x" if ratio >= 0.95 else f"{ratio:.2g}x"


def _select_cases(patterns: list[str] | None) -> list[_bench.Case]:
    if not patterns:
        return list(_bench.CASES)
    chosen = [c for c in _bench.CASES if any(p in c.name for p in patterns)]
    if not chosen:
        known = ", ".join(c.name for c in _bench.CASES)
        print(f"python -m softmax_fast bench: error: no case matches {patterns}; "
              f"known cases: {known}", file=sys.stderr)
        raise SystemExit(2)
    return chosen


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[k]) for r in [header] + rows) for k in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if k == 0 else c.rjust(w)
                         for k, (c, w) in enumerate(zip(cells, widths)))

    rule = "  ".join("-" * w for w in widths)
    return [line(header), rule] + [line(r) for r in rows]


def _cpu_busy(interval: float = 0.25) -> float | None:
    """Fraction of all CPUs busy over `interval` seconds while this process sleeps (Linux
    /proc/stat); None where that cannot be read."""
    def read() -> tuple[int, int]:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
        return sum(fields[:8]), fields[3] + fields[4]  # total, idle + iowait

    try:
        total0, idle0 = read()
        time.sleep(interval)
        total1, idle1 = read()
    except (OSError, ValueError, IndexError):
        return None
    if total1 <= total0:
        return None
    return 1.0 - (idle1 - idle0) / (total1 - total0)


class ProgressBar:
    """A progress bar on stderr, no dependency: redrawn in place on a terminal; on anything else
    (a pipe, a CI log) one line per step, so that a log keeps every step."""

    def __init__(self, total: int, stream: TextIO | None = None, width: int = 24):
        self.total = total
        self.stream = sys.stderr if stream is None else stream
        self.width = width
        self.done = 0
        self.start = time.perf_counter()
        isatty = getattr(self.stream, "isatty", None)
        self.in_place = bool(isatty and isatty())
        self._last_len = 0

    def _bar(self, label: str) -> str:
        filled = self.width * self.done // max(self.total, 1)
        elapsed = time.perf_counter() - self.start
        return (f"[{'#' * filled}{'.' * (self.width - filled)}] {self.done}/{self.total} "
                f"{elapsed:5.1f}s {label}")

    def show(self, label: str) -> None:
        """Show the bar (steps done so far) with `label`: what is running now."""
        text = self._bar(label)
        if self.in_place:
            pad = max(0, self._last_len - len(text))
            self.stream.write("\r" + text + " " * pad)
            self._last_len = len(text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def advance(self) -> None:
        self.done = min(self.total, self.done + 1)

    def close(self, label: str = "done") -> None:
        self.done = self.total
        self.show(label)
        if self.in_place:
            self.stream.write("\n")
            self.stream.flush()


def _usage_error(message: str) -> SystemExit:
    print(f"python -m softmax_fast bench: error: {message}", file=sys.stderr)
    return SystemExit(2)


def _check_output_path(path: str, option: str) -> None:
    """Fail before the benchmark runs, not after it, when `path` cannot be written."""
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise _usage_error(f"{option} {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise _usage_error(f"{option} {path}: directory {parent} is not writable")


def _require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise _usage_error(
            "--plot needs matplotlib, which is not installed here; install it with "
            "pip install \"softmax_fast[plot]\" (or pip install matplotlib)") from None


def cmd_bench(args: argparse.Namespace) -> int:
    cases = _select_cases(args.case)
    if args.plot is not None:
        _require_matplotlib()
        _check_output_path(args.plot, "--plot")
    if args.json is not None:
        _check_output_path(args.json, "--json")
    peers = _bench.peers()
    if args.threads is not None and "torch" in peers:
        import torch
        torch.set_num_threads(args.threads)
    cfg = sf.show_config()
    threads = args.threads if args.threads is not None else cfg["num_threads"]
    versions = _bench.peer_versions()
    missing = [n for n in _bench.PEER_NAMES if n not in peers]
    print(f"softmax_fast {cfg['version']}  isa={cfg['isa']}  threads={threads}  "
          f"openmp={_format_value(cfg['openmp'])}  |  "
          + ", ".join(f"{n} {v}" for n, v in versions.items())
          + (f"  |  not installed: {', '.join(missing)}" if missing else ""))
    busy = _cpu_busy()
    if busy is not None and busy >= 0.1:
        print(f"warning: other work keeps the CPUs {busy:.0%} busy: multi-threaded timings "
              "suffer most; compare ratios measured on an idle machine", file=sys.stderr)
    mode = "quick" if args.quick else "full"
    print(f"{mode} run; best-of-N wall time per call, side by side in one process; "
          f"speed-up = other / softmax_fast; softmax_fast: algorithm auto, out= preallocated; "
          f"copy = non-temporal copy of the same bytes, x to out, on {threads} thread(s): this "
          f"machine's memory limit for a pass that reads x and writes out")
    sys.stdout.flush()

    names = list(peers)
    header = (["case", "softmax_fast", "copy", "sf/copy"] + names + [f"{n}/sf" for n in names])
    rows, failures, records = [], [], []
    progress = ProgressBar(len(cases))
    for case in cases:
        progress.show(f"{case.name} {case.shape} {case.dtype} axis={case.axis}")
        x = case.make()
        out = np.empty_like(x)
        ref = _bench.Reference(x, case.axis)
        kwargs = {} if args.threads is None else {"num_threads": args.threads}
        calls: dict[str, Callable[[], object]] = {
            "softmax_fast": lambda: sf.softmax(x, axis=case.axis, out=out, **kwargs)}
        for n in names:
            calls[n] = peers[n](x, case.axis)
        # check each result once (this call also warms everything up)
        bad = set()
        for n, f in calls.items():
            y = None
            try:
                y = f()
                if n == "softmax_fast" and y is not out:
                    raise AssertionError("softmax(out=out) did not return out")
                ref.check(y, peer=(n != "softmax_fast"), what=f"{n} on {case.name}")
            except AssertionError as exc:
                bad.add(n)
                failures.append(f"{case.name}: {n}: {str(exc).strip()}")
            del y
        if args.budget is not None:
            settings = dict(budget=args.budget, min_samples=3, max_budget=3 * args.budget)
        elif args.quick:
            settings = QUICK_LARGE if case.large else QUICK
        else:
            settings = FULL
        x_bytes, out_bytes = x.reshape(-1).view(np.uint8), out.reshape(-1).view(np.uint8)
        calls["copy"] = lambda: _core.stream_copy(x_bytes, out_bytes, threads)
        timings = _bench.time_calls(calls, **settings)
        times = {n: t.best for n, t in timings.items()}
        t_sf = times["softmax_fast"]

        def cell(n: str) -> str:
            return _fmt_time(times[n]) + (" !" if n in bad else "")

        rows.append([case.name, cell("softmax_fast"), _fmt_time(times["copy"]),
                     _fmt_ratio(t_sf, times["copy"])] + [cell(n) for n in names]
                    + [_fmt_ratio(times[n], t_sf) for n in names])
        records.append({
            "name": case.name, "description": case.description, "shape": list(case.shape),
            "axis": case.axis, "dtype": case.dtype, "nbytes": case.nbytes,
            "times": {n: {"best": t.best, "median": t.median, "samples": t.samples,
                          "loops": t.loops} for n, t in timings.items()},
            "speedup": {n: times[n] / t_sf for n in names},
            "softmax_fast_over_copy": t_sf / times["copy"],
            "wrong": sorted(bad),
        })
        del x, out, calls, ref, x_bytes, out_bytes
        progress.advance()
    progress.close()

    print("\n".join(_table(header, rows)))
    if args.json is not None or args.plot is not None:
        run = {
            "softmax_fast": cfg["version"], "mode": mode, "threads": threads,
            "command": ["python", "-m", "softmax_fast"] + list(args.argv),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "machine": _bench.machine_info(), "cpu_busy_before": busy,
            "config": cfg, "peers": versions, "not_installed": missing,
            "unit": "seconds per call (best and median of the samples)",
            "cases": records,
        }
        if args.json is not None:
            with open(args.json, "w") as stream:
                json.dump(run, stream, indent=2)
                stream.write("\n")
            print(f"raw figures written to {args.json}")
        if args.plot is not None:
            from . import _plot
            _plot.speedup_chart(run, args.plot)
            print(f"speed-up chart written to {args.plot}")
    if failures:
        print("\nwrong results (marked ! above):", file=sys.stderr)
        for failure in failures:
            print("  " + failure.replace("\n", "\n    "), file=sys.stderr)
        return 1
    return 0


# ---- entry point -----------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m softmax_fast",
        description="softmax_fast: fast, accurate softmax for NumPy arrays on CPUs.")
    parser.add_argument("--version", action="version", version=f"softmax_fast {sf.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p_info = sub.add_parser("info", help="print the build and run-time configuration",
                            description="Print softmax_fast.show_config(), one key per line.")
    p_info.set_defaults(func=cmd_info)
    p_bench = sub.add_parser(
        "bench", help="time softmax_fast against NumPy, SciPy and PyTorch",
        description="Time softmax_fast.softmax (algorithm auto, out= preallocated) against the "
                    "NumPy reference, scipy.special.softmax and torch.softmax (when importable) "
                    "on the standard cases, checking every result once.")
    p_bench.add_argument("--quick", action="store_true",
                         help="short timings (large cases: 3 samples or 0.06 s; well under a minute)")
    p_bench.add_argument("--case", action="append", metavar="NAME",
                         help="only the cases whose name contains NAME (repeatable); names: "
                              + ", ".join(c.name for c in _bench.CASES))
    p_bench.add_argument("--threads", type=_positive_int, default=None, metavar="N",
                         help="num_threads for softmax_fast (and torch); default: the OpenMP "
                              "default (OMP_NUM_THREADS, else all cores)")
    p_bench.add_argument("--json", metavar="FILE", default=None,
                         help="write the raw figures (every timing, the configuration, the "
                              "machine) to FILE as JSON")
    p_bench.add_argument("--plot", metavar="FILE.png", default=None,
                         help="write a bar chart of the speed-up per case to FILE.png "
                              "(needs matplotlib: pip install \"softmax_fast[plot]\")")
    p_bench.add_argument("--budget", type=float, default=None, metavar="SECONDS",
                         help="seconds of samples per implementation and case "
                              f"(default {FULL['budget']}, quick {QUICK['budget']})")
    p_bench.set_defaults(func=cmd_bench)
    return parser


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if args.command is None:
        parser.print_help()
        return 0
    status: int = args.func(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
