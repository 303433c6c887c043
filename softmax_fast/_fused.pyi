from typing import Any

import numpy as np

def cross_entropy_index(
    x: np.ndarray[Any, Any],
    target: np.ndarray[Any, Any],
    loss: np.ndarray[Any, Any],
    has_ignore: bool,
    ignore_index: int,
    eps: float,
    num_threads: int,
) -> None: ...
def backward_fast(
    grad: Any, y: Any, axis: Any, out: Any, log_out: bool, num_threads: Any
) -> Any: ...
def topk_fast(
    x: Any, k: Any, axis: Any, scale: Any, where: Any, num_threads: Any
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]] | None: ...
def loss_total(loss: np.ndarray[Any, Any]) -> float: ...
def cross_entropy_fast(
    logits: Any,
    target: Any,
    axis: Any,
    reduction: Any,
    ignore_index: Any,
    label_smoothing: Any,
    num_threads: Any,
) -> Any: ...
def cross_entropy_probs(
    x: np.ndarray[Any, Any],
    target: np.ndarray[Any, Any],
    loss: np.ndarray[Any, Any],
    eps: float,
    num_threads: int,
) -> None: ...
def topk_rows(
    x: np.ndarray[Any, Any],
    values: np.ndarray[Any, Any],
    indices: np.ndarray[Any, Any],
    scale: float,
    num_threads: int,
) -> None: ...
def backward_rows(
    grad: np.ndarray[Any, Any],
    y: np.ndarray[Any, Any],
    out: np.ndarray[Any, Any],
    log_out: bool,
    num_threads: int,
) -> None: ...
def segment_rows(
    x: np.ndarray[Any, Any],
    y: np.ndarray[Any, Any],
    offsets: np.ndarray[Any, Any],
    log_out: bool,
    algorithm: int,
    scale: float,
    num_threads: int,
) -> None: ...
