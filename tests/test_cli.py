"""The command line: ``python -m softmax_fast info`` and ``bench`` (its options, its JSON and
PNG outputs, its usage errors, its progress bar)."""
import io
import json
import os
import subprocess
import sys

import pytest

import softmax_fast as sf
from softmax_fast import __main__ as cli

PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(sf.__file__)))
TINY = "f32-4x10"  # the cheapest standard case: call overhead only


def _run_module(*args, env=None):
    env = dict(os.environ if env is None else env)
    env["PYTHONPATH"] = PACKAGE_PARENT + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "softmax_fast", *args], env=env,
                          capture_output=True, text=True, timeout=300)


def test_info_prints_the_configuration():
    res = _run_module("info", env=dict(os.environ, OMP_NUM_THREADS="3"))
    assert res.returncode == 0, res.stderr
    lines = {line.split(":", 1)[0].strip(): line.split(":", 1)[1].strip()
             for line in res.stdout.splitlines() if ":" in line}
    cfg = sf.show_config()
    assert lines["version"] == sf.__version__
    assert lines["isa"] == cfg["isa"]
    assert lines["available_isas"] == ", ".join(cfg["available_isas"])
    assert lines["num_threads"] == ("3" if cfg["openmp"] else "1")
    assert lines["OMP_NUM_THREADS"] == "3"
    assert lines["compiler"] and lines["compiler"] != "unknown"
    assert lines["flags"]            # the build's own flags
    for key in ("float32 softmax", "split_rows_from", "block", "openmp_runtime", "openmp_spec"):
        assert key in lines, key


def test_show_config_build_and_runtime():
    cfg = sf.show_config()
    build = cfg["build"]
    assert set(build) == {"compiler", "flags", "openmp_spec"}
    if cfg["openmp"]:
        assert build["openmp_spec"] >= 200505   # an _OPENMP date
        if sys.platform.startswith("linux"):
            runtime = cfg["openmp_runtime"]
            assert runtime and os.path.exists(runtime)
            assert any(name in os.path.basename(runtime) for name in ("gomp", "omp", "iomp"))
    else:
        assert build["openmp_spec"] == 0 and cfg["openmp_runtime"] is None


def test_no_command_prints_help(capsys):
    assert cli.main([]) == 0
    assert "bench" in capsys.readouterr().out


def test_bench_json(tmp_path, capsys):
    path = tmp_path / "bench.json"
    rc = cli.main(["bench", "--quick", "--case", TINY, "--budget", "0.002", "--threads", "1",
                   "--json", str(path)])
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert TINY in out.out and "softmax_fast" in out.out   # the table
    run = json.loads(path.read_text())
    assert run["mode"] == "quick" and run["threads"] == 1
    assert run["config"]["version"] == sf.__version__
    assert [c["name"] for c in run["cases"]] == [TINY]
    case = run["cases"][0]
    assert case["shape"] == [4, 10] and case["dtype"] == "float32" and case["wrong"] == []
    assert {"softmax_fast", "copy", "numpy"} <= set(case["times"])
    for name, t in case["times"].items():
        assert 0 < t["best"] <= t["median"], name
        assert t["samples"] >= 3 and t["loops"] >= 1
    for peer, ratio in case["speedup"].items():
        assert ratio == pytest.approx(case["times"][peer]["best"]
                                      / case["times"]["softmax_fast"]["best"])
    assert "numpy" in case["speedup"]


def test_bench_plot_writes_a_png(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    path = tmp_path / "speedup.png"
    rc = cli.main(["bench", "--quick", "--case", TINY, "--budget", "0.002",
                   "--plot", str(path)])
    assert rc == 0, capsys.readouterr().err
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


def test_bench_plot_without_matplotlib_is_a_clear_usage_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)   # import matplotlib -> ImportError
    with pytest.raises(SystemExit) as exc:
        cli.main(["bench", "--quick", "--case", TINY, "--plot", str(tmp_path / "p.png")])
    assert exc.value.code == 2
    err = capsys.readouterr()
    assert "matplotlib" in err.err and "softmax_fast[plot]" in err.err
    assert TINY not in err.out   # said before anything was timed


@pytest.mark.parametrize("option", ["--json", "--plot"])
def test_bench_output_into_a_missing_directory_fails_first(tmp_path, capsys, option):
    if option == "--plot":
        pytest.importorskip("matplotlib")
    with pytest.raises(SystemExit) as exc:
        cli.main(["bench", "--case", TINY, option, str(tmp_path / "nowhere" / "f")])
    assert exc.value.code == 2
    err = capsys.readouterr()
    assert "does not exist" in err.err and "case" not in err.out


def test_bench_unknown_case_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["bench", "--case", "no-such-case"])
    assert exc.value.code == 2
    assert "no case matches" in capsys.readouterr().err


def test_bench_threads_must_be_positive(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["bench", "--threads", "0"])
    assert exc.value.code == 2


def test_bench_runs_as_a_module():
    """The README's command, in a subprocess: exit 0, the table on stdout, progress on stderr."""
    res = _run_module("bench", "--quick", "--case", TINY, "--budget", "0.002")
    assert res.returncode == 0, res.stderr
    assert TINY in res.stdout and "numpy/sf" in res.stdout
    assert "1/1" in res.stderr and "[" in res.stderr


class _Stream(io.StringIO):
    def __init__(self, tty):
        super().__init__()
        self._tty = tty

    def isatty(self):
        return self._tty


def test_progress_bar_one_line_per_step_when_not_a_terminal():
    stream = _Stream(tty=False)
    bar = cli.ProgressBar(4, stream=stream, width=8)
    for k in range(4):
        bar.show(f"case {k}")
        bar.advance()
    bar.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 5 and "\r" not in stream.getvalue()
    assert lines[0].startswith("[........] 0/4") and lines[0].endswith("case 0")
    assert lines[2].startswith("[####....] 2/4")
    assert lines[-1].startswith("[########] 4/4") and lines[-1].endswith("done")


def test_progress_bar_redraws_in_place_on_a_terminal():
    stream = _Stream(tty=True)
    bar = cli.ProgressBar(2, stream=stream, width=4)
    bar.show("a rather long label")
    bar.advance()
    bar.show("b")
    bar.close()
    text = stream.getvalue()
    assert text.count("\n") == 1 and text.endswith("\n")
    frames = text.rstrip("\n").split("\r")[1:]
    assert len(frames) == 3
    assert len(frames[1]) == len(frames[0])   # a shorter label blanks out the longer one's tail
    assert frames[-1].startswith("[####] 2/2")
