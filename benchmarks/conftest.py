"""Fixtures of the benchmark suite.

Each standard case's input (up to 128 MiB) and its float64 reference slices are made once: the
tests are ordered case by case (`pytest_collection_modifyitems`) and `bench_input` keeps only the
current case in memory.
"""
from __future__ import annotations

import numpy as np
import pytest

from softmax_fast import _bench

_CASE_ORDER = {case.name: i for i, case in enumerate(_bench.CASES)}


def _case_of(item) -> _bench.Case | None:
    callspec = getattr(item, "callspec", None)
    case = callspec.params.get("case") if callspec is not None else None
    return case if isinstance(case, _bench.Case) else None


def pytest_collection_modifyitems(session, config, items):
    """Run the benchmark tests grouped by case (in `_bench.CASES` order), so that each case's
    data is made once; other tests keep their places."""
    slots = [i for i, item in enumerate(items) if _case_of(item) is not None]
    ordered = sorted((items[i] for i in slots), key=lambda it: _CASE_ORDER[_case_of(it).name])
    for i, item in zip(slots, ordered):
        items[i] = item


class CaseInput:
    """A case's input `x` and the float64 `reference` of a few of its slices."""

    def __init__(self, case: _bench.Case):
        self.case = case
        self.x = case.make()
        self.reference = _bench.Reference(self.x, case.axis)


@pytest.fixture(scope="session")
def bench_input():
    """``bench_input(case) -> CaseInput``, made once per case; one case in memory at a time."""
    current: dict[str, CaseInput] = {}

    def get(case: _bench.Case) -> CaseInput:
        if case.name not in current:
            current.clear()
            current[case.name] = CaseInput(case)
        return current[case.name]

    yield get
    current.clear()


@pytest.fixture
def out_like():
    """``out_like(x)``: a preallocated output, written once first so its pages are mapped."""

    def make(x: np.ndarray) -> np.ndarray:
        out = np.empty_like(x)
        out.fill(0)
        return out

    return make
