from typing import Any

import numpy as np

SPLIT_MIN_: int
BLOCK_: int
PARALLEL_MIN_: int
COLUMN_PANEL_: int
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
def softmax_3d(
    x: np.ndarray[Any, Any],
    y: np.ndarray[Any, Any],
    log_out: bool,
    algorithm: int,
    scale: float,
    num_threads: int,
) -> None: ...
def logsumexp_3d(
    x: np.ndarray[Any, Any], out: np.ndarray[Any, Any], scale: float, num_threads: int
) -> None: ...
