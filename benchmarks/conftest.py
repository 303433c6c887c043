"""Shared data for the benchmark suite: each standard case's input is made once per session."""
import numpy as np
import pytest

from softmax_fast import _bench


@pytest.fixture(scope="session")
def case_data():
    cache = {}

    def get(case: _bench.Case) -> np.ndarray:
        if case.name not in cache:
            cache.clear()  # the largest inputs are 128 MiB: keep one at a time
            cache[case.name] = case.make()
        return cache[case.name]

    return get
