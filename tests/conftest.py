"""Fixtures shared by the whole suite.

`isa` runs a test once per kernel set (ISA level) that this CPU and this build have, so SIMD
kernels added later are tested without touching the tests.
"""
import os
import tempfile

import numpy as np
import pytest
from hypothesis import configuration, settings

from softmax_fast import _core

import helpers

# Deterministic hypothesis runs (fixed seed per test), no example database; hypothesis' other
# files (constants cache, failure patches) go to a temporary directory, not the work tree.
configuration.set_hypothesis_home_dir(
    os.path.join(tempfile.gettempdir(), "softmax_fast-hypothesis"))
settings.register_profile("softmax_fast", derandomize=True, database=None, deadline=None,
                          print_blob=True)
settings.load_profile("softmax_fast")


@pytest.fixture(params=_core.available_isas())
def isa(request):
    """Select one kernel set for the test; restore the previous one after."""
    with helpers.using_isa(request.param):
        yield request.param


@pytest.fixture
def rng(request):
    """A generator seeded from the test's id: fixed across runs, different between tests."""
    seed = sum(ord(c) * (i + 1) for i, c in enumerate(request.node.nodeid)) % (2**32)
    return np.random.default_rng(seed)
