from typing import Any, Literal, TypeVar, overload

import numpy as np
import numpy.typing as npt

__all__ = ["softmax", "log_softmax", "logsumexp", "sigmoid", "log_sigmoid", "show_config",
           "__version__", "cross_entropy", "softmax_topk", "softmax_backward",
           "log_softmax_backward", "segment_softmax"]

__version__: str

_Axis = int | tuple[int, ...] | None
_Algorithm = Literal["auto", "three-pass", "two-pass", "online"]
# What the result types say: an `out=` array comes back as itself; a float16/32/64 ndarray
# without dtype= gives its own dtype (integers, bool and long double give float64, bfloat16
# its own: those fall to the general signatures); logsumexp over all axes (axis=None, no
# keepdims, no out) gives a NumPy scalar. Other reductions give an array or, when every axis
# is reduced, a scalar: only the run-time shape tells which.
_Out = TypeVar("_Out", bound=np.ndarray[Any, Any])
_Float = TypeVar("_Float", np.float16, np.float32, np.float64)

@overload
def softmax(
    x: npt.ArrayLike,
    axis: _Axis = -1,
    *,
    out: _Out,
    dtype: npt.DTypeLike | None = None,
    where: npt.ArrayLike | None = None,
    scale: float | None = None,
    algorithm: _Algorithm = "auto",
    num_threads: int | None = None,
) -> _Out: ...
@overload
def softmax(
    x: npt.NDArray[_Float],
    axis: _Axis = -1,
    *,
    out: None = None,
    dtype: None = None,
    where: npt.ArrayLike | None = None,
    scale: float | None = None,
    algorithm: _Algorithm = "auto",
    num_threads: int | None = None,
) -> npt.NDArray[_Float]: ...
@overload
def softmax(
    x: npt.ArrayLike,
    axis: _Axis = -1,
    *,
    out: None = None,
    dtype: npt.DTypeLike | None = None,
    where: npt.ArrayLike | None = None,
    scale: float | None = None,
    algorithm: _Algorithm = "auto",
    num_threads: int | None = None,
) -> npt.NDArray[np.floating[Any]]: ...
@overload
def log_softmax(
    x: npt.ArrayLike,
    axis: _Axis = -1,
    *,
    out: _Out,
    dtype: npt.DTypeLike | None = None,
    where: npt.ArrayLike | None = None,
    scale: float | None = None,
    algorithm: _Algorithm = "auto",
    num_threads: int | None = None,
) -> _Out: ...
@overload
def log_softmax(
    x: npt.NDArray[_Float],
    axis: _Axis = -1,
    *,
    out: None = None,
    dtype: None = None,
    where: npt.ArrayLike | None = None,
    scale: float | None = None,
    algorithm: _Algorithm = "auto",
    num_threads: int | None = None,
) -> npt.NDArray[_Float]: ...
@overload
def log_softmax(
    x: npt.ArrayLike,
    axis: _Axis = -1,
    *,
    out: None = None,
    dtype: npt.DTypeLike | None = None,
    where: npt.ArrayLike | None = None,
    scale: float | None = None,
    algorithm: _Algorithm = "auto",
    num_threads: int | None = None,
) -> npt.NDArray[np.floating[Any]]: ...
@overload
def logsumexp(
    x: npt.ArrayLike,
    axis: _Axis = None,
    *,
    keepdims: bool = False,
    out: _Out,
    dtype: npt.DTypeLike | None = None,
    where: npt.ArrayLike | None = None,
    scale: float | None = None,
    num_threads: int | None = None,
) -> _Out: ...
# mypy reports an overlap of this signature with the fourth, through an x of dtype Never that
# would fit both with _Float taking two different types: no real array does.
@overload
def logsumexp(  # type: ignore[overload-overlap]
    x: npt.NDArray[_Float],
    axis: None = None,
    *,
    keepdims: Literal[False] = False,
    out: None = None,
    dtype: None = None,
    where: npt.ArrayLike | None = None,
    scale: float | None = None,
    num_threads: int | None = None,
) -> _Float: ...
@overload
def logsumexp(
    x: npt.ArrayLike,
    axis: None = None,
    *,
    keepdims: Literal[False] = False,
    out: None = None,
    dtype: npt.DTypeLike | None = None,
    where: npt.ArrayLike | None = None,
    scale: float | None = None,
    num_threads: int | None = None,
) -> np.floating[Any]: ...
@overload
def logsumexp(
    x: npt.NDArray[_Float],
    axis: _Axis = None,
    *,
    keepdims: bool = False,
    out: None = None,
    dtype: None = None,
    where: npt.ArrayLike | None = None,
    scale: float | None = None,
    num_threads: int | None = None,
) -> npt.NDArray[_Float] | _Float: ...
@overload
def logsumexp(
    x: npt.ArrayLike,
    axis: _Axis = None,
    *,
    keepdims: bool = False,
    out: None = None,
    dtype: npt.DTypeLike | None = None,
    where: npt.ArrayLike | None = None,
    scale: float | None = None,
    num_threads: int | None = None,
) -> npt.NDArray[np.floating[Any]] | np.floating[Any]: ...
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
