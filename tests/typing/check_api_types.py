"""Static checks of the public stubs (`softmax_fast/__init__.pyi`), run by mypy in CI:
``mypy --strict softmax_fast tests/typing``. Never executed; a wrong overload fails the
mypy step. Not collected by pytest (the name does not start with test_)."""
from typing import Any

import numpy as np
import numpy.typing as npt
from typing_extensions import assert_type

import softmax_fast as sf

x32 = np.zeros((4, 10), dtype=np.float32)
x64 = np.zeros((4, 10), dtype=np.float64)
xi = np.zeros((4, 10), dtype=np.int64)
out32: npt.NDArray[np.float32] = np.empty((4, 10), dtype=np.float32)

# the dtype of a float ndarray carries through; out= comes back as itself
assert_type(sf.softmax(x32), npt.NDArray[np.float32])
assert_type(sf.softmax(x64, axis=0, algorithm="online"), npt.NDArray[np.float64])
assert_type(sf.log_softmax(x32, scale=2.0), npt.NDArray[np.float32])
assert_type(sf.softmax(x32, out=out32), npt.NDArray[np.float32])
assert_type(sf.log_softmax(x64, out=out32, dtype=np.float32), npt.NDArray[np.float32])
# integers (float64), lists, a dtype= cast: some floating dtype
assert_type(sf.softmax(xi), npt.NDArray[np.floating[Any]])
assert_type(sf.softmax([1.0, 2.0]), npt.NDArray[np.floating[Any]])
assert_type(sf.softmax(x32, dtype=np.float64), npt.NDArray[np.floating[Any]])

# logsumexp over everything: a scalar; along axes: array or scalar (the shape decides)
assert_type(sf.logsumexp(x32), np.float32)
assert_type(sf.logsumexp(x64, where=x64 > 0), np.float64)
assert_type(sf.logsumexp([0.0, 1.0]), np.floating[Any])
assert_type(sf.logsumexp(x32, axis=1), npt.NDArray[np.float32] | np.float32)
assert_type(sf.logsumexp(x32, keepdims=True), npt.NDArray[np.float32] | np.float32)
assert_type(sf.logsumexp(xi, axis=(0, 1)), npt.NDArray[np.floating[Any]] | np.floating[Any])
out_r: npt.NDArray[np.float64] = np.empty(4, dtype=np.float64)
assert_type(sf.logsumexp(x64, axis=1, out=out_r), npt.NDArray[np.float64])

f: float = float(sf.logsumexp(x64))
cfg: dict[str, Any] = sf.show_config()
