from typing import Any, Literal

import numpy as np
import numpy.typing as npt

__version__: str

_Axis = int | tuple[int, ...] | None
_Algorithm = Literal["auto", "three-pass", "two-pass", "online"]

def softmax(
    x: npt.ArrayLike,
    axis: _Axis = -1,
    *,
    out: np.ndarray[Any, np.dtype[Any]] | None = None,
    dtype: npt.DTypeLike | None = None,
    where: npt.ArrayLike | None = None,
    scale: float | None = None,
    algorithm: _Algorithm = "auto",
    num_threads: int | None = None,
) -> np.ndarray[Any, np.dtype[np.floating[Any]]]: ...
def log_softmax(
    x: npt.ArrayLike,
    axis: _Axis = -1,
    *,
    out: np.ndarray[Any, np.dtype[Any]] | None = None,
    dtype: npt.DTypeLike | None = None,
    where: npt.ArrayLike | None = None,
    scale: float | None = None,
    algorithm: _Algorithm = "auto",
    num_threads: int | None = None,
) -> np.ndarray[Any, np.dtype[np.floating[Any]]]: ...
def logsumexp(
    x: npt.ArrayLike,
    axis: _Axis = None,
    *,
    keepdims: bool = False,
    out: np.ndarray[Any, np.dtype[Any]] | None = None,
    dtype: npt.DTypeLike | None = None,
    where: npt.ArrayLike | None = None,
    scale: float | None = None,
    num_threads: int | None = None,
) -> np.ndarray[Any, np.dtype[np.floating[Any]]] | np.floating[Any]: ...
def sigmoid(
    x: npt.ArrayLike,
    *,
    out: np.ndarray[Any, np.dtype[Any]] | None = None,
    dtype: npt.DTypeLike | None = None,
    num_threads: int | None = None,
) -> np.ndarray[Any, np.dtype[np.floating[Any]]] | np.floating[Any]: ...
def log_sigmoid(
    x: npt.ArrayLike,
    *,
    out: np.ndarray[Any, np.dtype[Any]] | None = None,
    dtype: npt.DTypeLike | None = None,
    num_threads: int | None = None,
) -> np.ndarray[Any, np.dtype[np.floating[Any]]] | np.floating[Any]: ...
def show_config() -> dict[str, Any]: ...
