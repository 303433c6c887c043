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
def show_config() -> dict[str, Any]: ...
def cross_entropy(
    logits: npt.ArrayLike,
    target: npt.ArrayLike,
    axis: int = -1,
    *,
    reduction: Literal["mean", "sum", "none"] = "mean",
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
    num_threads: int | None = None,
) -> np.ndarray[Any, np.dtype[np.floating[Any]]] | np.floating[Any]: ...
def softmax_topk(
    x: npt.ArrayLike,
    k: int,
    axis: int = -1,
    *,
    scale: float | None = None,
    where: npt.ArrayLike | None = None,
    num_threads: int | None = None,
) -> tuple[np.ndarray[Any, np.dtype[np.floating[Any]]], np.ndarray[Any, np.dtype[np.int64]]]: ...
def softmax_backward(
    grad: npt.ArrayLike,
    y: npt.ArrayLike,
    axis: _Axis = -1,
    *,
    out: np.ndarray[Any, np.dtype[Any]] | None = None,
    num_threads: int | None = None,
) -> np.ndarray[Any, np.dtype[np.floating[Any]]]: ...
def log_softmax_backward(
    grad: npt.ArrayLike,
    y: npt.ArrayLike,
    axis: _Axis = -1,
    *,
    out: np.ndarray[Any, np.dtype[Any]] | None = None,
    num_threads: int | None = None,
) -> np.ndarray[Any, np.dtype[np.floating[Any]]]: ...
def segment_softmax(
    values: npt.ArrayLike,
    offsets: npt.ArrayLike,
    *,
    log: bool = False,
    scale: float | None = None,
    out: np.ndarray[Any, np.dtype[Any]] | None = None,
    num_threads: int | None = None,
) -> np.ndarray[Any, np.dtype[np.floating[Any]]]: ...
