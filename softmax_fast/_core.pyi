from collections.abc import Callable
from typing import Any

import numpy as np

# the C-level functions _core.pxd exports to softmax_fast._fused (Cython's capsules)
__pyx_capi__: dict[str, Any]

SPLIT_MIN_: int
BLOCK_: int
PARALLEL_MIN_: int
COLUMN_PANEL_: int
STREAM_MIN_BYTES_: int
THREE_PASS: int
TWO_PASS: int
ONLINE: int

def isa_names() -> list[str]: ...
def available_isas() -> list[str]: ...
def cpu_isas() -> list[str]: ...
def select_isa(name: str | None = None) -> str: ...
def current_isa() -> str: ...
def omp_max_threads() -> int: ...
def have_openmp() -> bool: ...
def build_info() -> dict[str, str | int]: ...
def softmax_3d(
    x: np.ndarray[Any, Any],
    y: np.ndarray[Any, Any],
    log_out: bool,
    algorithm: int,
    scale: float,
    num_threads: int,
) -> None: ...
def strided_view(
    a: np.ndarray[Any, Any], shape: tuple[int, ...], strides: tuple[int, ...], writeable: bool
) -> np.ndarray[Any, Any]: ...
def masked_3d(
    x: np.ndarray[Any, Any],
    m: np.ndarray[Any, Any],
    y: np.ndarray[Any, Any],
    scale: float,
    fill: float,
    scale_x: bool,
    num_threads: int,
) -> None: ...
def configure_fast_path(
    auto: dict[tuple[bool, bool], int],
    names: dict[str, int],
    half_kind: Callable[[np.dtype[Any]], int],
    max_threads: int,
) -> None: ...
def fast_plan(
    x: Any,
    axis: Any,
    out: Any,
    algorithm: Any,
    num_threads: Any,
    scale: Any,
    where: Any,
    log_out: bool,
) -> tuple[np.ndarray[Any, Any], int, int, float, int, int] | None: ...
def softmax_rows(
    x: np.ndarray[Any, Any],
    y: np.ndarray[Any, Any],
    log_out: bool,
    algorithm: int,
    half_kind: int,
    scale: float,
    where: np.ndarray[Any, Any] | None,
    axis: int,
    num_threads: int,
) -> None: ...
def logsumexp_3d(
    x: np.ndarray[Any, Any], out: np.ndarray[Any, Any], scale: float, num_threads: int
) -> None: ...
def fast_lse_plan(
    x: Any, axis: Any, keepdims: bool, num_threads: Any
) -> tuple[np.ndarray[Any, Any], int, int] | None: ...
def logsumexp_rows(
    x: np.ndarray[Any, Any], out: np.ndarray[Any, Any], axis: int, num_threads: int
) -> None: ...
def partials_3d(
    x: np.ndarray[Any, Any], parts: np.ndarray[Any, Any], scale: float, num_threads: int
) -> None: ...
def merge_partials(parts: np.ndarray[Any, Any], out: np.ndarray[Any, Any]) -> None: ...
def logsumexp_from_partials(parts: np.ndarray[Any, Any], out: np.ndarray[Any, Any]) -> None: ...
def rest_parts_3d(
    x: np.ndarray[Any, Any],
    parts: np.ndarray[Any, Any],
    n_total: int,
    scale: float,
    out: np.ndarray[Any, Any],
) -> None: ...
def refine_rests(parts: np.ndarray[Any, Any], pieces: np.ndarray[Any, Any], f64: bool) -> None: ...
def softmax_from_partials_3d(
    x: np.ndarray[Any, Any],
    parts: np.ndarray[Any, Any],
    y: np.ndarray[Any, Any],
    log_out: bool,
    scale: float,
    num_threads: int,
) -> None: ...
def set_streaming(enabled: bool, min_bytes: int | None = None) -> tuple[bool, int]: ...
def stream_copy(src: np.ndarray[Any, Any], dst: np.ndarray[Any, Any], num_threads: int) -> None: ...
SIGMOID: int
LOG_SIGMOID: int
def fast_elementwise(x: Any, out: Any, op: int, num_threads: Any) -> Any: ...
def elementwise(
    x: np.ndarray[Any, Any], y: np.ndarray[Any, Any], op: int, half_kind: int, num_threads: int
) -> None: ...
def softmax_half_3d(
    x: np.ndarray[Any, Any],
    y: np.ndarray[Any, Any],
    bf16: bool,
    log_out: bool,
    algorithm: int,
    scale: float,
    num_threads: int,
) -> None: ...
def logsumexp_half_3d(
    x: np.ndarray[Any, Any], out: np.ndarray[Any, Any], bf16: bool, scale: float, num_threads: int
) -> None: ...
def half_to_float32(x: np.ndarray[Any, Any], y: np.ndarray[Any, Any], bf16: bool) -> None: ...
def float32_to_half(x: np.ndarray[Any, Any], y: np.ndarray[Any, Any], bf16: bool) -> None: ...
