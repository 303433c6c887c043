"""Issue 3's speed targets as ratios measured side by side in one process.

    python benchmarks/ratios.py [--repeats-budget SECONDS]

"best peer" is the faster of torch.softmax and a one-node ONNX Runtime model
(intra_op_num_threads=2), each skipped when not installed. "stream copy" is a 2-thread copy of
the same bytes with non-temporal stores (softmax_fast._core.stream_copy): this machine's
memory-bandwidth limit for a pass that reads x and writes out.
"""
from __future__ import annotations

import argparse

import numpy as np

import softmax_fast as sf
from softmax_fast import _bench, _core


def stream_copy_time(x, out, budget):
    src = x.reshape(-1).view(np.uint8)
    dst = out.reshape(-1).view(np.uint8)
    return _bench.best_time(lambda: _core.stream_copy(src, dst, 2), budget)


def torch_fn(log):
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(2)
    f = torch.log_softmax if log else torch.softmax
    return lambda x, axis: f(torch.from_numpy(x), dim=axis)


def ort_fn(log, x, axis):
    try:
        import onnx
        import onnxruntime as ort
        from onnx import TensorProto, helper
    except ImportError:
        return None
    elem = TensorProto.FLOAT if x.dtype == np.float32 else TensorProto.DOUBLE
    op = "LogSoftmax" if log else "Softmax"
    graph = helper.make_graph(
        [helper.make_node(op, ["x"], ["y"], axis=axis)], "g",
        [helper.make_tensor_value_info("x", elem, list(x.shape))],
        [helper.make_tensor_value_info("y", elem, list(x.shape))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    sess = ort.InferenceSession(model.SerializeToString(), opts,
                                providers=["CPUExecutionProvider"])
    return lambda x, axis: sess.run(None, {"x": x})


def best_peer(x, axis, log, budget):
    times = {}
    f = torch_fn(log)
    if f is not None:
        times["torch"] = _bench.best_time(lambda: f(x, axis), budget)
    g = ort_fn(log, x, axis)
    if g is not None:
        times["onnxruntime"] = _bench.best_time(lambda: g(x, axis), budget)
    if not times:
        return None, None
    name = min(times, key=times.get)
    return times[name], name


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=float, default=0.5, help="seconds of repeats per timing")
    args = ap.parse_args()
    b = args.budget
    rng = np.random.default_rng(1234)
    cfg = sf.show_config()
    print(f"softmax_fast {cfg['version']}  isa={cfg['isa']}  threads=2")
    rows = []

    def row(case, measure, ratio, goal, note=""):
        status = "-" if ratio is None else ("ok" if ratio <= goal else "MISSED")
        rows.append((case, measure, "n/a" if ratio is None else f"{ratio:.2f}", f"<= {goal}",
                     status, note))

    def data(shape, dtype=np.float32):
        return rng.standard_normal(shape).astype(dtype)

    # against the best peer
    for shape, fns in (((4, 10), ("softmax",)), ((32, 1000), ("softmax", "log_softmax")),
                       ((1, 128256), ("softmax", "log_softmax")),
                       ((16, 128256), ("softmax", "log_softmax"))):
        x = data(shape)
        out = np.empty_like(x)
        goal = 0.6 if shape == (4, 10) else 0.5
        for fn in fns:
            f = getattr(sf, fn)
            t = _bench.best_time(lambda: f(x, out=out, num_threads=2), b)
            tp, name = best_peer(x, -1, fn == "log_softmax", b)
            row(f"{shape} f32", f"{fn} / best peer", None if tp is None else t / tp, goal,
                name or "no peer installed (torch, onnxruntime)")
    # against the stream copy
    for shape, dtype, fns, goal in (((4096, 4096), np.float32, ("softmax", "log_softmax"), 1.25),
                                    ((4096, 4096), np.float64, ("softmax",), 1.5),
                                    ((1, 1 << 24), np.float32, ("softmax", "log_softmax"), 1.8)):
        x = data(shape, dtype)
        out = np.empty_like(x)
        tc = stream_copy_time(x, out, b)
        for fn in fns:
            f = getattr(sf, fn)
            t = _bench.best_time(lambda: f(x, out=out, num_threads=2), b)
            row(f"{shape} {np.dtype(dtype).name}", f"{fn} / stream copy", t / tc, goal,
                f"copy {tc * 1e3:.2f} ms")
    x = data((1000, 1024))
    out = np.empty_like(x)
    t = _bench.best_time(lambda: sf.softmax(x, axis=0, out=out, num_threads=2), b)
    tc = _bench.best_time(lambda: np.copyto(out, x), b)
    row("(1000, 1024) f32 axis 0", "softmax / np.copyto", t / tc, 2.5)
    try:
        import scipy.special
        for shape in ((32, 1000), (2048, 2048)):
            x = data(shape)
            out = np.empty_like(x)
            t = _bench.best_time(lambda: sf.softmax(x, out=out, num_threads=2), b)
            ts = _bench.best_time(lambda: scipy.special.softmax(x, axis=-1), b)
            row(f"{shape} f32", "softmax / scipy", t / ts, 0.125)
    except ImportError:
        row("(32, 1000) f32", "softmax / scipy", None, 0.125, "scipy not installed")
    x = data((1, 128256))
    out = np.empty_like(x)
    t = _bench.best_time(lambda: sf.softmax(x, out=out, num_threads=1), b)
    te = _bench.best_time(lambda: np.exp(x, out=out), b)
    row("(1, 128256) f32, 1 thread", "softmax / np.exp alone", t / te, 0.6)
    x = data((256, 4096))
    out = np.empty_like(x)
    t2 = _bench.best_time(lambda: sf.softmax(x, out=out, num_threads=2), b)
    t1 = _bench.best_time(lambda: sf.softmax(x, out=out, num_threads=1), b)
    row("(256, 4096) f32", "2 threads / 1 thread", t2 / t1, 0.56)

    header = ("case", "measure", "ratio", "goal", "", "note")
    widths = [max(len(r[k]) for r in rows + [header]) for k in range(len(header))]
    for r in [header] + rows:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip())


if __name__ == "__main__":
    main()
