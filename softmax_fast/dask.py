"""softmax, log_softmax and logsumexp over dask arrays (the optional extra ``softmax_fast[dask]``).

The functions are lazy: they return dask arrays (for softmax and log_softmax with the input's
chunks) and compute nothing until asked. A slice that lies in one chunk goes straight to the
NumPy functions of softmax_fast. A slice cut into several chunks along the softmax axes is not
rechunked: a first pass computes each chunk's (max, sum) partial with the kernels, the partials
are merged in a tree reduction by the associative rule of the online softmax, and a second pass
writes each chunk from the merged partial of its slice (its logsumexp in factored form,
``max + log(sum)``). Arguments are checked by the same code as the NumPy functions.
"""
from __future__ import annotations

import functools
import math

import dask.array as da
import numpy as np

import softmax_fast as _sf   # the package's NumPy functions (initialised before this module)

from . import _api

__all__ = ["softmax", "log_softmax", "logsumexp"]


def _as_dask(x):
    if not isinstance(x, da.Array):
        x = da.asarray(x)
    _api.check_input_dtype(x.dtype)
    return x


def _check_not_masked(x):
    # the NumPy functions take a mask as `where`; the chunk kernels have no `where` yet
    if isinstance(getattr(x, "_meta", None), np.ma.MaskedArray):
        raise TypeError("x: a masked dask array is supported only when the softmax axes are "
                        "not chunked (each slice in one chunk)")


def _threads(num_threads) -> int:
    # dask runs chunks in parallel: one kernel thread per task unless asked
    return 1 if num_threads is None else _api._threads(num_threads)


def _meta(ndim, dtype):
    return np.empty((0,) * ndim, dtype=dtype)


def _block_call(block, name, **kwargs):
    """A whole-slice chunk: straight to the NumPy function (an array even when 0-d)."""
    return np.asarray(getattr(_sf, name)(block, **kwargs))


def _chunk(x_chunk, axis, keepdims, compute, scale, num_threads, meta_dtype,
           computing_meta=False):
    if computing_meta:   # dask infers the layer's metadata: the reduction's dtype, no data
        return _meta(np.ndim(x_chunk), meta_dtype)
    return _api.chunk_partials(x_chunk, axis, compute, scale, num_threads)


def _combine(parts, axis, keepdims):
    return _api.merge_chunk_partials(parts, axis)


def _aggregate_lse(parts, axis, keepdims, compute, result_dtype):
    return _api.logsumexp_from_chunk_partials(parts, axis, keepdims, compute, result_dtype)


def _write(block, parts, axes, compute, result_dtype, scale, num_threads, log):
    return _api.softmax_chunk_from_partials(block, parts, axes, compute, result_dtype, scale,
                                            num_threads, log)


def _rest_parts(block, parts, axes, compute, scale, n_total):
    return _api.chunk_rest_parts(block, parts, axes, compute, scale, n_total)


def _refine(parts, pieces, axes, compute):
    return _api.refine_merged_partials(parts, pieces, axes, compute)


def _refined_partials(x, parts, axes, compute, sc):
    """log_softmax's merged partials with the rests taken again where a NumPy row's would be
    (see README, Accuracy): each chunk's pieces of them (one more pass over the chunks; zeros
    for the slices that need none), added up per slice."""
    n_total = math.prod(x.shape[d] for d in axes)
    kept = tuple((1,) * x.numblocks[d] if d in axes else x.chunks[d] for d in range(x.ndim))
    pieces = da.map_blocks(functools.partial(_rest_parts, axes=axes, compute=compute, scale=sc,
                                             n_total=n_total),
                           x, parts, dtype=_api.PARTIAL_DTYPE, chunks=kept,
                           meta=_meta(x.ndim, _api.PARTIAL_DTYPE), token="softmax_fast-rest")
    pieces = pieces.rechunk({d: -1 for d in axes})
    return da.map_blocks(functools.partial(_refine, axes=axes, compute=compute), parts, pieces,
                         dtype=_api.PARTIAL_DTYPE, chunks=parts.chunks,
                         meta=_meta(x.ndim, _api.PARTIAL_DTYPE), token="softmax_fast-refine")


def _merged_partials(x, axes, compute, sc, nt, split_every):
    """One merged (max, sum, rest) partial per slice, the reduced axes kept with length 1."""
    chunk = functools.partial(_chunk, compute=compute, scale=sc, num_threads=nt,
                              meta_dtype=_api.PARTIAL_DTYPE)
    return da.reduction(x, chunk, _combine, combine=_combine, axis=axes, keepdims=True,
                        dtype=_api.PARTIAL_DTYPE, split_every=split_every, concatenate=True,
                        name="softmax_fast-partials", meta=_meta(x.ndim, _api.PARTIAL_DTYPE))


def _softmax_like(x, axis, dtype, scale, num_threads, split_every, log):
    name = "log_softmax" if log else "softmax"
    x = _as_dask(x)
    result_dtype, compute = _api._dtypes(x.dtype, dtype)
    sc = _api._scale(scale)
    nt = _threads(num_threads)
    if x.ndim == 0:
        _api._check_scalar_axis(axis)
        axes = ()
    else:
        axes = _api._normalize_axes(axis, x.ndim)
    if all(x.numblocks[d] == 1 for d in axes):
        fn = functools.partial(_block_call, name=name, axis=axis if x.ndim == 0 else axes,
                               dtype=dtype, scale=scale, num_threads=nt)
        return x.map_blocks(fn, dtype=result_dtype, meta=_meta(x.ndim, result_dtype),
                            token=f"softmax_fast-{name}")
    _check_not_masked(x)
    parts = _merged_partials(x, axes, compute, sc, nt, split_every)
    if log:
        parts = _refined_partials(x, parts, axes, compute, sc)
    write = functools.partial(_write, axes=axes, compute=compute, result_dtype=result_dtype,
                              scale=sc, num_threads=nt, log=log)
    return da.map_blocks(write, x, parts, dtype=result_dtype, chunks=x.chunks,
                         meta=_meta(x.ndim, result_dtype), token=f"softmax_fast-{name}")


def softmax(x, axis=-1, *, dtype=None, scale=None, num_threads=None, split_every=None):
    """Softmax of a dask array along an axis, lazily, without rechunking.

    Parameters
    ----------
    x : dask.array.Array
        Input values (bool, integer or floating). Anything else is converted with
        ``dask.array.asarray``.
    axis : int, tuple of int or None, default -1
        The axis (or axes, taken together) along which the result sums to 1; may be chunked.
    dtype : dtype, optional
        Compute and result dtype, as for `softmax_fast.softmax`.
    scale : float, optional
        Finite factor applied to `x` first (temperature ``T`` is ``scale=1/T``).
    num_threads : int, optional
        Kernel threads per dask task. The default is 1: dask runs the tasks in parallel.
    split_every : int or dict, optional
        Fan-in of the tree reduction that merges the chunks' partials (as in dask's own
        reductions; default: dask's).

    Returns
    -------
    dask.array.Array
        The probabilities, lazily: `x`'s shape and chunks, the result dtype of
        `softmax_fast.softmax`.

    Raises
    ------
    TypeError
        Complex, object or string input; a bad `dtype`, `scale` or `num_threads` type; a
        masked dask array chunked along the softmax axes (a mask acts as ``where`` only when
        each slice lies in one chunk).
    ValueError
        Non-finite `scale`, ``num_threads < 1``, repeated axes.
    numpy.exceptions.AxisError
        `axis` out of range.

    Examples
    --------
    >>> import dask.array as da, softmax_fast.dask as sfd
    >>> x = da.arange(6.0, chunks=2)
    >>> p = sfd.softmax(x)               # chunked along the axis: nothing computed yet
    >>> p.chunks
    ((2, 2, 2),)
    >>> p.compute().round(4)
    array([0.0043, 0.0116, 0.0315, 0.0858, 0.2331, 0.6337])
    """
    return _softmax_like(x, axis, dtype, scale, num_threads, split_every, False)


def log_softmax(x, axis=-1, *, dtype=None, scale=None, num_threads=None, split_every=None):
    """Logarithm of the softmax of a dask array along an axis, lazily, without rechunking.

    Parameters
    ----------
    x : dask.array.Array
        Input values (bool, integer or floating).
    axis : int, tuple of int or None, default -1
        The axis (or axes, taken together) to normalise over; may be chunked.
    dtype : dtype, optional
        Compute and result dtype.
    scale : float, optional
        Finite factor applied to `x` first.
    num_threads : int, optional
        Kernel threads per dask task (default 1).
    split_every : int or dict, optional
        Fan-in of the tree reduction of the partials.

    Returns
    -------
    dask.array.Array
        The log-probabilities, lazily, with `x`'s shape and chunks.

    Raises
    ------
    TypeError, ValueError, numpy.exceptions.AxisError
        As for `softmax`.

    Examples
    --------
    >>> import dask.array as da, softmax_fast.dask as sfd
    >>> sfd.log_softmax(da.zeros(4, chunks=2)).compute().round(4)
    array([-1.3863, -1.3863, -1.3863, -1.3863])
    """
    return _softmax_like(x, axis, dtype, scale, num_threads, split_every, True)


def logsumexp(x, axis=None, *, keepdims=False, dtype=None, scale=None, num_threads=None,
              split_every=None):
    """``log(sum(exp(x)))`` of a dask array along axes, lazily: a tree reduction of the chunks'
    (max, sum) partials.

    Parameters
    ----------
    x : dask.array.Array
        Input values (bool, integer or floating).
    axis : int, tuple of int or None, default None
        Axes to reduce; the default reduces all axes, as ``scipy.special.logsumexp`` does.
    keepdims : bool, default False
        Keep the reduced axes with length 1.
    dtype : dtype, optional
        Compute and result dtype.
    scale : float, optional
        Finite factor applied to `x` first.
    num_threads : int, optional
        Kernel threads per dask task (default 1).
    split_every : int or dict, optional
        Fan-in of the tree reduction.

    Returns
    -------
    dask.array.Array
        The reduced array, lazily (0-d when all axes are reduced without `keepdims`).

    Raises
    ------
    TypeError, ValueError, numpy.exceptions.AxisError
        As for `softmax`.

    Examples
    --------
    >>> import dask.array as da, softmax_fast.dask as sfd
    >>> float(sfd.logsumexp(da.zeros(4, chunks=2)).compute())
    1.3862943611198906
    """
    x = _as_dask(x)
    result_dtype, compute = _api._dtypes(x.dtype, dtype)
    sc = _api._scale(scale)
    nt = _threads(num_threads)
    keepdims = bool(keepdims)
    if x.ndim == 0:
        _api._check_scalar_axis(axis)
        fn = functools.partial(_block_call, name="logsumexp", axis=axis, keepdims=keepdims,
                               dtype=dtype, scale=scale, num_threads=nt)
        return x.map_blocks(fn, dtype=result_dtype, meta=_meta(0, result_dtype))
    axes = _api._normalize_axes(axis, x.ndim)
    if all(x.numblocks[d] == 1 for d in axes):
        fn = functools.partial(_block_call, name="logsumexp", axis=axes, keepdims=keepdims,
                               dtype=dtype, scale=scale, num_threads=nt)
        if keepdims:
            chunks = tuple((1,) if d in axes else c for d, c in enumerate(x.chunks))
            return x.map_blocks(fn, dtype=result_dtype, chunks=chunks,
                                meta=_meta(x.ndim, result_dtype), token="softmax_fast-logsumexp")
        return x.map_blocks(fn, dtype=result_dtype, drop_axis=axes,
                            meta=_meta(x.ndim - len(axes), result_dtype),
                            token="softmax_fast-logsumexp")
    _check_not_masked(x)
    chunk = functools.partial(_chunk, compute=compute, scale=sc, num_threads=nt,
                              meta_dtype=result_dtype)
    aggregate = functools.partial(_aggregate_lse, compute=compute, result_dtype=result_dtype)
    out_ndim = x.ndim if keepdims else x.ndim - len(axes)
    return da.reduction(x, chunk, aggregate, combine=_combine, axis=axes, keepdims=keepdims,
                        dtype=result_dtype, split_every=split_every, concatenate=True,
                        name="softmax_fast-logsumexp", meta=_meta(out_ndim, result_dtype))
