import dask.array as da
import numpy.typing as npt

_Axis = int | tuple[int, ...] | None
_SplitEvery = int | dict[int, int] | None

def softmax(
    x: da.Array | npt.ArrayLike,
    axis: _Axis = -1,
    *,
    dtype: npt.DTypeLike | None = None,
    scale: float | None = None,
    num_threads: int | None = None,
    split_every: _SplitEvery = None,
) -> da.Array: ...
def log_softmax(
    x: da.Array | npt.ArrayLike,
    axis: _Axis = -1,
    *,
    dtype: npt.DTypeLike | None = None,
    scale: float | None = None,
    num_threads: int | None = None,
    split_every: _SplitEvery = None,
) -> da.Array: ...
def logsumexp(
    x: da.Array | npt.ArrayLike,
    axis: _Axis = None,
    *,
    keepdims: bool = False,
    dtype: npt.DTypeLike | None = None,
    scale: float | None = None,
    num_threads: int | None = None,
    split_every: _SplitEvery = None,
) -> da.Array: ...

__all__ = ["softmax", "log_softmax", "logsumexp"]
