"""The bar chart of ``python -m softmax_fast bench --plot FILE.png`` (needs matplotlib)."""
from __future__ import annotations

import math
from typing import Any, Mapping

#: Bar colour per peer (the same peer keeps its colour whichever peers are installed).
_COLOURS = {"numpy": "#4c72b0", "scipy": "#55a868", "torch": "#c44e52"}

_LABELS = {"numpy": "NumPy reference", "scipy": "scipy.special.softmax", "torch": "torch.softmax"}


def speedup_chart(run: Mapping[str, Any], path: str) -> None:
    """Write a PNG to `path`: per case, one bar per peer of ``peer time / softmax_fast time``
    (log scale; above the line at 1, softmax_fast is faster). `run` is the record that
    ``bench --json`` writes."""
    import matplotlib
    matplotlib.use("Agg")  # a file, no window: works without a display
    import matplotlib.pyplot as plt

    cases = run["cases"]
    peers = [p for p in ("numpy", "scipy", "torch") if any(p in c["speedup"] for c in cases)]
    n_cases, n_peers = len(cases), max(len(peers), 1)
    width = 0.8 / n_peers
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * n_cases + 2.0), 4.8), dpi=120)
    for k, peer in enumerate(peers):
        xs = [i + (k - (n_peers - 1) / 2) * width for i in range(n_cases)]
        ys = [c["speedup"].get(peer, math.nan) for c in cases]
        bars = ax.bar(xs, ys, width, label=_LABELS.get(peer, peer),
                      color=_COLOURS.get(peer), zorder=2)
        for bar, y in zip(bars, ys):
            if math.isfinite(y):
                ax.annotate(f"{y:.1f}" if y >= 1 else f"{y:.2g}", (bar.get_x() + bar.get_width() / 2, y),
                            xytext=(0, 2), textcoords="offset points", ha="center",
                            va="bottom", fontsize=7)
    ax.axhline(1.0, color="black", linewidth=0.8, zorder=3)
    ax.set_yscale("log")
    finite = [v for c in cases for v in c["speedup"].values() if math.isfinite(v) and v > 0]
    if finite:  # room above the bars for their labels and the legend
        ax.set_ylim(min(min(finite), 1.0) / 1.5, max(max(finite), 1.0) * 6.0)
    ax.set_xticks(range(n_cases))
    ax.set_xticklabels([c["name"] + ("\n(wrong: " + ", ".join(c["wrong"]) + ")"
                                     if c.get("wrong") else "") for c in cases],
                       rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("speed-up of softmax_fast (other time / softmax_fast time)")
    cfg = run.get("config", {})
    machine = run.get("machine", {})
    ax.set_title(f"softmax_fast {run.get('softmax_fast', '')} ({cfg.get('isa', '?')}, "
                 f"{run.get('threads', '?')} thread(s), {run.get('mode', '')} run)\n"
                 f"{machine.get('cpu', '')}", fontsize=9)
    ax.grid(axis="y", which="both", alpha=0.3, zorder=0)
    ax.legend(fontsize=8, loc="upper center", ncol=n_peers)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
