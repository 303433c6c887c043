"""ISA selection (forced at import by SOFTMAX_FAST_ISA, or at run time by the `isa` fixture),
show_config(), and the caller's floating-point state."""
import os
import subprocess
import sys

import numpy as np
import pytest

import softmax_fast as sf
from softmax_fast import _core
from helpers import ALGORITHMS, logits

PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(sf.__file__)))


def _run_python(code, isa):
    env = dict(os.environ, SOFTMAX_FAST_ISA=isa)
    env["PYTHONPATH"] = PACKAGE_PARENT + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("name", _core.available_isas())
def test_env_forces_isa(name):
    code = "import softmax_fast; print(softmax_fast.show_config()['isa'])"
    res = _run_python(code, name)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == name


def test_env_bogus_isa_fails_import_naming_choices():
    res = _run_python("import softmax_fast", "bogus")
    assert res.returncode != 0
    assert "ImportError" in res.stderr
    assert "bogus" in res.stderr
    for name in _core.isa_names():
        assert name in res.stderr, f"the valid choice {name!r} is not named"


def test_default_isa_is_the_best_available():
    code = "import softmax_fast; print(softmax_fast.show_config()['isa'])"
    res = _run_python(code, "")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == _core.available_isas()[-1]


def test_isa_fixture_selects_and_show_config_reports_it(isa):
    assert _core.current_isa() == isa
    assert sf.show_config()["isa"] == isa


def test_select_isa_rejects_unknown_names():
    before = _core.current_isa()
    with pytest.raises(ValueError, match="scalar"):
        _core.select_isa("sse9")
    assert _core.current_isa() == before


def test_every_isa_gives_close_results(rng):
    """The kernel sets agree with each other to float32 accuracy (each one is also checked
    against the reference by the isa-parametrized tests)."""
    x = logits(rng, (16, 1000), np.float32)
    before = _core.current_isa()
    try:
        results = {}
        for name in _core.available_isas():
            _core.select_isa(name)
            results[name] = {a: sf.softmax(x, algorithm=a) for a in ALGORITHMS}
    finally:
        _core.select_isa(before)
    base = results["scalar"]
    for name, res in results.items():
        for a in ALGORITHMS:
            np.testing.assert_allclose(res[a], base[a], rtol=1e-5, err_msg=f"{name} {a}")


def test_show_config():
    cfg = sf.show_config()
    for key in ("version", "isa", "available_isas", "openmp", "num_threads"):
        assert key in cfg, key
    assert cfg["version"] == sf.__version__
    assert isinstance(cfg["version"], str) and cfg["version"]
    assert cfg["isa"] == _core.current_isa()
    assert cfg["isa"] in cfg["available_isas"]
    assert cfg["available_isas"][0] == "scalar"
    assert set(cfg["available_isas"]) <= set(_core.isa_names())
    if "cpu_isas" in cfg:
        assert set(cfg["available_isas"]) <= set(cfg["cpu_isas"])
    assert isinstance(cfg["openmp"], bool)
    assert isinstance(cfg["num_threads"], int) and cfg["num_threads"] >= 1
    if not cfg["openmp"]:
        assert cfg["num_threads"] == 1


def test_show_config_num_threads_follows_omp_num_threads():
    res = subprocess.run(
        [sys.executable, "-c", "import softmax_fast; print(softmax_fast.show_config()"
         "['num_threads'], softmax_fast.show_config()['openmp'])"],
        env=dict(os.environ, OMP_NUM_THREADS="3",
                 PYTHONPATH=PACKAGE_PARENT + os.pathsep + os.environ.get("PYTHONPATH", "")),
        capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    threads, openmp = res.stdout.split()
    assert threads == ("3" if openmp == "True" else "1")


def test_floating_point_state_is_left_alone(isa, rng):
    """No call leaves FTZ/DAZ or another rounding mode behind (DESIGN section 2): subnormal
    arithmetic and round-to-nearest still work after calls on every path."""
    x = logits(rng, (3, 70001), np.float32)
    for algorithm in ALGORITHMS:
        sf.softmax(x, algorithm=algorithm)
        sf.log_softmax(x, 0, algorithm=algorithm)
        sf.softmax(x.astype(np.float64)[:, ::2], algorithm=algorithm)
    sf.logsumexp(x, 1)
    tiny32 = np.float32(1e-38)
    assert tiny32 * np.float32(1e-3) > 0                      # no flush-to-zero
    assert np.float32(1e-42) * np.float32(2) > 0              # no denormals-are-zero
    assert np.float64(5e-324) * np.float64(3) > 0
    one = np.float64(1.0)
    eps_half = np.float64(2.0**-53)
    assert one + eps_half == one and -one - eps_half == -one   # round to nearest even
    assert one + 3 * eps_half == one + 4 * eps_half
