"""csoftmax on Dask arrays: softmax, log_softmax, logsumexp and cross_entropy
whose tasks run csoftmax's compiled kernels, chunk by chunk, on any Dask
scheduler (threads, processes, dask.distributed clusters).

Needs Dask (``pip install csoftmax[dask]``) and is imported on its own:
``import csoftmax`` does not import Dask, ``import csoftmax.dask`` does.

Every function takes a dask array (other array-likes become one-chunk dask
arrays), validates its arguments at once and returns a lazy dask array;
softmax and log_softmax keep the input's chunks, reduced losses are 0-d.

How the work is split
---------------------
* The reduced axes each lie in one chunk: one task per chunk calls the
  NumPy-level csoftmax function on it (the same results, bit for bit).
* A reduced axis is split across chunks: each chunk's task computes a
  per-slice partial with the compiled logsumexp (for cross_entropy also the
  target's logit and weighted sums); the partials (float64) are merged as a
  tree (``dask.array.reduction``, ``split_every`` as in Dask); then one task
  per chunk runs the compiled softmax / log_softmax on the chunk and rescales
  it by exp(chunk's lse - slice's lse). The graph grows linearly with the
  number of chunks and the axis is never gathered into one chunk. float64
  results agree with the one-chunk ones to a few ulp; float32 ones carry
  the rounding of each chunk's float32 logsumexp, an error relative to its
  magnitude (measured against float64, softmax of 4096 logits in 8 chunks:
  11 ulp at most where one chunk gives 8 for N(0, 1) logits, 107 vs 66 for
  N(0, 10**2)).

What is supported
-----------------
Both paths take what the NumPy functions take: axis as an int, a tuple or
None; where= (a boolean NumPy or dask array broadcastable to x, rechunked
to x's chunks), temperature=, dtype=; logsumexp's b=, return_sign= and
keepdims=; cross_entropy's class-index or class-probability targets,
weight=, ignore_index=, label_smoothing=, reduction=, axis= and
return_grad=. There is
no out= (results are lazy; store them with dask.array.store), and complex
input (or b) when a reduced axis is split (TypeError; rechunk that axis). Errors in the arguments are
raised at once; an out-of-range label, which needs the data, raises
IndexError when the result is computed.

Threads: ``num_threads`` defaults to 1 per task here, since Dask already
runs one task per core; pass ``num_threads=None`` for csoftmax's default.

Examples
--------
>>> import numpy as np
>>> import dask.array as da
>>> import csoftmax, csoftmax.dask
>>> x = da.from_array(np.arange(12.0).reshape(3, 4), chunks=(2, 2))  # last axis split in 2
>>> p = csoftmax.dask.softmax(x)
>>> p.chunks
((2, 1), (2, 2))
>>> np.allclose(p.compute(), csoftmax.softmax(x.compute()), rtol=1e-14, atol=0)
True
>>> round(float(csoftmax.dask.cross_entropy(x, np.array([3, 0, 1])).compute()), 6)
2.106856
"""
import functools

import numpy as np
import dask.array as da

from . import _api, _dask_blocks as blocks
from ._dtypes import compute_dtype, is_generic, is_half, result_dtype
from ._layout import as_1d_if_0d, reduction_axes
from ._validate import (
    check_reduction, check_smoothing, check_temperature, class_axis_index, class_weights,
    index_value,
)

__all__ = ["softmax", "log_softmax", "logsumexp", "cross_entropy"]


# ---------------------------------------------------------------- arguments

def _as_dask(x, what="x"):
    """x as a dask array of a numeric dtype."""
    if not isinstance(x, da.Array):
        x = da.asarray(np.asarray(x))
    if not (x.dtype.kind in "biufc" or is_half(x.dtype)):
        raise TypeError(f"{what} must be a numeric array, got dtype {x.dtype}")
    return x


def _axes(x, axis):
    """The reduced axes (sorted tuple) of x; () for 0-d x, whose axis is
    checked as csoftmax checks it. AxisError / ValueError for bad axes."""
    if x.ndim == 0:
        as_1d_if_0d(np.zeros(()), axis)
        return ()
    return reduction_axes(axis, x.ndim)


def _split(x, axes):
    """Whether any reduced axis spans several chunks."""
    if any(np.isnan(c) for a in axes for c in x.chunks[a]):
        raise ValueError("the chunk sizes along the reduced axes must be known "
                         "(call .compute_chunk_sizes() first)")
    return any(len(x.chunks[a]) > 1 for a in axes)


def _aligned(a, x, what, dtype=None):
    """a (array-like or dask array) broadcast to x's shape with x's chunks.
    Only `a` is rechunked, never x."""
    a = a if isinstance(a, da.Array) else np.asarray(a)
    if dtype is not None and a.dtype != dtype:
        if dtype == bool and a.dtype.kind not in "biu":
            raise TypeError(f"{what} must be a boolean array, got dtype {a.dtype}")
        a = a.astype(dtype)
    if a.ndim > x.ndim or any(n not in (1, m) for n, m in zip(a.shape[::-1], x.shape[::-1])):
        raise ValueError(f"{what} with shape {a.shape} does not broadcast to the input's "
                         f"shape {x.shape}")
    a = a.reshape((1,) * (x.ndim - a.ndim) + a.shape)
    chunks = tuple((1,) if n == 1 else c for n, c in zip(a.shape, x.chunks))
    a = a.rechunk(chunks) if isinstance(a, da.Array) else da.from_array(a, chunks=chunks)
    return da.broadcast_to(a, x.shape, chunks=x.chunks)


def _meta(ndim, dtype):
    return np.empty((0,) * ndim, dtype)


def _partial_chunks(x, axes):
    """Chunks of a partial: one entry per chunk along the reduced axes."""
    return tuple((1,) * len(c) if i in axes else c for i, c in enumerate(x.chunks))


def _merge_tree(partials, axes, keepdims, split_every, aggregate=blocks.merge, dtype=None):
    """Merges partials along `axes` as a tree of tasks (dask.array.reduction)."""
    dtype = partials.dtype if dtype is None else np.dtype(dtype)
    ndim = partials.ndim if keepdims else partials.ndim - len(axes)
    return da.reduction(partials, blocks.keep, aggregate, combine=blocks.merge, axis=axes,
                        keepdims=keepdims, dtype=dtype, split_every=split_every,
                        concatenate=True, meta=_meta(ndim, dtype))


# ---------------------------------------------------------------- softmax, log_softmax

def _normalize(x, axis, log, temperature, where, dtype, num_threads, split_every):
    x = _as_dask(x)
    rdtype = result_dtype(x.dtype, dtype)
    temperature = check_temperature(temperature)
    axes = _axes(x, axis)
    mask = [] if where is None else [_aligned(where, x, "where", bool)]
    options = dict(temperature=temperature, num_threads=num_threads)
    if not _split(x, axes):
        return da.map_blocks(blocks.normalize, x, *mask, log=log, axis=axis if x.ndim == 0
                             else axes, options=dict(options, dtype=rdtype), dtype=rdtype,
                             meta=_meta(x.ndim, rdtype))
    if is_generic(rdtype):
        raise TypeError(f"{rdtype} input needs each reduced axis in one chunk (rechunk it); "
                        "the split-axis path runs float32 and float64 kernels")
    partials = da.map_blocks(blocks.lse_partial, x, *mask, axes=axes, temperature=temperature,
                             cdtype=compute_dtype(rdtype), num_threads=num_threads,
                             chunks=_partial_chunks(x, axes), dtype=np.float64,
                             meta=_meta(x.ndim, np.float64))
    total = _merge_tree(partials, axes, True, split_every)
    shift = da.map_blocks(blocks.shift, partials, total, masked=bool(mask), dtype=np.float64,
                          meta=_meta(x.ndim, np.float64))
    options["dtype"] = compute_dtype(rdtype)
    return da.map_blocks(blocks.rescale, x, shift, *mask, log=log, axes=axes, options=options,
                         rdtype=rdtype, chunks=x.chunks, dtype=rdtype, meta=_meta(x.ndim, rdtype))


def softmax(x, axis=-1, *, temperature=1.0, where=None, dtype=None, num_threads=1,
            split_every=None):
    """Lazy softmax of a dask array along `axis`, with the input's chunks.

    Arguments as csoftmax.softmax (axis: int, tuple or None; `where` a
    boolean array or dask array broadcastable to x); no `out` (the result is lazy).
    `num_threads` is per task (default 1); `split_every` is the fan-in of the
    tree that merges the partials of a split axis (Dask's default if None).

    Examples
    --------
    >>> import numpy as np
    >>> import dask.array as da
    >>> import csoftmax.dask
    >>> x = da.from_array(np.array([[1.0, 2.0, 3.0, 4.0]]), chunks=(1, 2))
    >>> csoftmax.dask.softmax(x).compute()
    array([[0.0320586 , 0.08714432, 0.23688282, 0.64391426]])
    >>> csoftmax.dask.softmax(x, where=np.array([True, True, False, True])).compute()
    array([[0.04201007, 0.1141952 , 0.        , 0.84379473]])
    """
    return _normalize(x, axis, False, temperature, where, dtype, num_threads, split_every)


def log_softmax(x, axis=-1, *, temperature=1.0, where=None, dtype=None, num_threads=1,
                split_every=None):
    """Lazy log_softmax of a dask array along `axis`, with the input's chunks.

    Arguments as `softmax`.

    Examples
    --------
    >>> import numpy as np
    >>> import dask.array as da
    >>> import csoftmax.dask
    >>> x = da.from_array(np.array([1000.0, 1.0, 2.0, 3.0]), chunks=2)
    >>> csoftmax.dask.log_softmax(x).compute()
    array([   0., -999., -998., -997.])
    """
    return _normalize(x, axis, True, temperature, where, dtype, num_threads, split_every)


# ---------------------------------------------------------------- logsumexp

def logsumexp(x, axis=-1, *, b=None, keepdims=False, return_sign=False, where=None, dtype=None,
              num_threads=1, split_every=None):
    """Lazy logsumexp of a dask array along `axis`.

    Arguments as csoftmax.logsumexp; `b` and `where` may be NumPy or dask
    arrays broadcastable to x (x itself is not broadcast against b). With
    return_sign=True returns the lazy pair (log|sum|, sign). Complex input
    needs the reduced axes in one chunk each.

    Examples
    --------
    >>> import numpy as np
    >>> import dask.array as da
    >>> import csoftmax.dask
    >>> x = da.from_array(np.array([[0.0, -40.0, 1.0, 2.0]]), chunks=(1, 1))
    >>> csoftmax.dask.logsumexp(x).compute()
    array([2.40760596])
    >>> r, s = csoftmax.dask.logsumexp(x, b=np.array([1.0, 0.0, -1.0, 0.0]), return_sign=True)
    >>> float(r.compute()[0]), float(s.compute()[0])
    (0.5413248546129181, -1.0)
    """
    x = _as_dask(x)
    axes = _axes(x, axis)
    b = None if b is None else _aligned(_as_dask(b, "b"), x, "b")
    mask = None if where is None else _aligned(where, x, "where", bool)
    extras = [a for a in (b, mask) if a is not None]
    probe = _api.logsumexp(np.zeros(1, x.dtype), b=None if b is None else np.ones(1, b.dtype),
                           dtype=dtype, return_sign=True)
    vdtype, sdtype = probe[0].dtype, probe[1].dtype
    ndim_out = x.ndim if keepdims else x.ndim - len(axes)
    kw = dict(has_b=b is not None, options=dict(dtype=dtype, num_threads=num_threads))

    if not _split(x, axes):  # one task per chunk
        rtype = blocks.SIGNED_LSE if return_sign else vdtype
        result = da.map_blocks(blocks.logsumexp, x, *extras, axes=axis if x.ndim == 0 else axes,
                               keepdims=keepdims, signed=return_sign,
                               chunks=_partial_chunks(x, axes) if keepdims else None,
                               drop_axis=None if keepdims else axes, dtype=rtype,
                               meta=_meta(ndim_out, rtype), **kw)
        if not return_sign:
            return result
    elif is_generic(vdtype) or is_generic(sdtype):
        raise TypeError(f"{vdtype} logsumexp needs each reduced axis in one chunk "
                        "(rechunk it); the split-axis path runs float32 and float64 kernels")
    elif b is None and not return_sign:  # float64 partials merged into the result dtype
        partials = da.map_blocks(blocks.lse_partial, x, *extras, axes=axes, temperature=1.0,
                                 cdtype=compute_dtype(vdtype), num_threads=num_threads,
                                 chunks=_partial_chunks(x, axes), dtype=np.float64,
                                 meta=_meta(x.ndim, np.float64))
        return _merge_tree(partials, axes, keepdims, split_every,
                           functools.partial(blocks.merge_as, rdtype=vdtype), vdtype)
    else:  # b may make a chunk's sum negative: signed partials
        kw["options"]["dtype"] = compute_dtype(vdtype)
        partials = da.map_blocks(blocks.logsumexp, x, *extras, axes=axes, keepdims=True,
                                 signed=True, chunks=_partial_chunks(x, axes),
                                 dtype=blocks.SIGNED_LSE, meta=_meta(x.ndim, blocks.SIGNED_LSE),
                                 **kw)
        result = _merge_tree(partials, axes, keepdims, split_every)
    value = result.map_blocks(blocks.signed_value, return_sign=return_sign, rdtype=vdtype,
                              dtype=vdtype, meta=_meta(ndim_out, vdtype))
    if not return_sign:
        return value
    return value, result.map_blocks(blocks.sign_of, rdtype=sdtype, dtype=sdtype,
                                    meta=_meta(ndim_out, sdtype))


# ---------------------------------------------------------------- cross_entropy

def cross_entropy(logits, target, *, axis=-1, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0, return_grad=False, num_threads=1, split_every=None):
    """Lazy cross-entropy of dask logits, as csoftmax.cross_entropy (PyTorch's
    semantics): a 0-d dask array for 'mean' and 'sum', the row losses
    (chunked like the logits without the class axis) for 'none'.

    `target` (NumPy or dask) holds integer class indices, of the logits' shape
    without the class axis, or class probabilities (float), of the logits'
    shape; it is rechunked to match the logits (the logits never are). A
    class axis split across chunks is reduced from per-chunk partials: the
    chunk's logsumexp, the target's logit (or, for probabilities, the sums of
    w q' and w q' x), merged as a tree. A label out of range raises
    IndexError, naming its position, when the result is computed.
    return_grad=True returns (loss, grad): grad the lazy gradient of the
    reduced loss (of its sum for 'none') w.r.t. the logits, with their chunks
    (by the fused kernel where the class axis lies in one chunk).

    Examples
    --------
    >>> import numpy as np
    >>> import dask.array as da
    >>> import csoftmax, csoftmax.dask
    >>> logits = da.from_array(np.array([[2.0, 0.0, 0.0], [0.0, 0.0, 3.0]]), chunks=(1, 2))
    >>> loss = csoftmax.dask.cross_entropy(logits, np.array([0, 2]))
    >>> loss.shape, round(float(loss.compute()), 10)
    ((), 0.1672338613)
    >>> csoftmax.dask.cross_entropy(logits, np.array([0, 2]), reduction="none").compute()
    array([0.23954477, 0.09492296])
    """
    x = _as_dask(logits, "logits")
    if x.dtype.kind == "c":
        raise TypeError(f"logits must be real, got complex dtype {x.dtype}")
    rdtype = result_dtype(x.dtype, what="logits")
    if rdtype.kind == "f" and rdtype.itemsize > 8:  # longdouble: computed in float64
        rdtype = np.dtype(np.float64)
    if x.dtype != compute_dtype(rdtype):  # integers, float16: the kernels' dtype
        x = x.astype(compute_dtype(rdtype))
    class_axis = class_axis_index(axis, x.ndim)
    split = _split(x, (class_axis,))
    num_classes = x.shape[class_axis]
    common = dict(axis=class_axis, num_threads=num_threads,
                  label_smoothing=check_smoothing(label_smoothing),
                  weight=None if weight is None else class_weights(
                      weight, num_classes, np.float64))
    reduction = check_reduction(reduction)
    ignore_index = index_value(ignore_index, "ignore_index")
    t, probs = _ce_target(target, x, class_axis)

    if not split:  # one task per chunk, by csoftmax.cross_entropy
        common.update(probs=probs, ignore_index=ignore_index)
        if reduction == "none":
            loss = total = da.map_blocks(blocks.ce_rows, x, t, reduction="none",
                                         drop_axis=class_axis, dtype=x.dtype,
                                         meta=_meta(x.ndim - 1, x.dtype), **common).astype(rdtype)
        else:
            sums = da.map_blocks(blocks.ce_rows, x, t, reduction=reduction,
                                 chunks=_one_per_chunk(x.chunks), dtype=blocks.LOSS_SUM,
                                 meta=_meta(x.ndim, blocks.LOSS_SUM), **common)
            total, loss = _reduced_loss(sums, reduction, rdtype, split_every)
        if not return_grad:
            return loss
        grad = da.map_blocks(blocks.ce_grad, x, t, *_if_mean(total, reduction),
                             reduction=reduction, chunks=x.chunks, dtype=x.dtype,
                             meta=_meta(x.ndim, x.dtype), **common)
        return loss, grad.astype(rdtype)

    if probs:
        partial_dtype, partials_fn, rows_fn, grad_fn, rows_kw = (
            blocks.PROB_CE, blocks.prob_ce_partial, blocks.prob_ce_rows, blocks.prob_ce_grad,
            {})
    else:
        partial_dtype, partials_fn, rows_fn, grad_fn = (
            blocks.INDEX_CE, blocks.index_ce_partial, blocks.index_ce_rows,
            blocks.index_ce_grad)
        common["ignore_index"] = ignore_index
        w = common["weight"]
        rows_kw = dict(num_classes=num_classes, label_smoothing=common["label_smoothing"],
                       weight_sum=float(num_classes) if w is None else float(np.sum(w)))
    partials = da.map_blocks(partials_fn, x, t, num_classes=num_classes,
                             chunks=_partial_chunks(x, (class_axis,)), dtype=partial_dtype,
                             meta=_meta(x.ndim, partial_dtype), **common)
    merged = _merge_tree(partials, (class_axis,), False, split_every)
    if reduction == "none":
        loss = total = merged.map_blocks(rows_fn, reduction="none", rdtype=rdtype, dtype=rdtype,
                                         meta=_meta(merged.ndim, rdtype), **rows_kw)
    else:
        sums = merged.map_blocks(rows_fn, reduction=reduction, rdtype=rdtype,
                                 chunks=_one_per_chunk(merged.chunks), dtype=blocks.LOSS_SUM,
                                 meta=_meta(merged.ndim, blocks.LOSS_SUM), **rows_kw)
        total, loss = _reduced_loss(sums, reduction, rdtype, split_every)
    if not return_grad:
        return loss
    rows_kw.pop("label_smoothing", None)
    grad = da.map_blocks(grad_fn, x, t, partials, da.expand_dims(merged, class_axis),
                         *_if_mean(total, reduction), num_classes=num_classes,
                         reduction=reduction, chunks=x.chunks, dtype=x.dtype,
                         meta=_meta(x.ndim, x.dtype), **common, **{
                             k: v for k, v in rows_kw.items() if k != "num_classes"})
    return loss, grad.astype(rdtype)


def _if_mean(total, reduction):
    """The merged LOSS_SUM record as an extra argument where 'mean' needs its
    denominator."""
    return [total] if reduction == "mean" else []


def _reduced_loss(sums, reduction, rdtype, split_every):
    """The merged LOSS_SUM record and the 0-d loss, from one record per chunk."""
    total = _merge_tree(sums, tuple(range(sums.ndim)), False, split_every)
    return total, total.map_blocks(blocks.finish_loss, reduction=reduction, rdtype=rdtype,
                                   dtype=rdtype, meta=_meta(0, rdtype))


def _ce_target(target, x, class_axis):
    """The target as a dask array chunked like the logits (class indices get a
    length-1 class axis), and whether it holds probabilities."""
    t = target if isinstance(target, da.Array) else np.asarray(target)
    if not (t.dtype.kind in "biuf" or is_half(t.dtype)):
        raise TypeError(f"target must be a numeric array, got dtype {t.dtype}")
    probs = t.dtype.kind == "f" or is_half(t.dtype)
    row_shape = x.shape[:class_axis] + x.shape[class_axis + 1:]
    if probs and t.shape != x.shape:
        raise ValueError(f"class-probability target has shape {t.shape}, expected the "
                         f"logits' shape {x.shape}")
    if not probs:
        if t.dtype.kind not in "iu":
            raise TypeError(f"class-index target must have an integer dtype, got {t.dtype}")
        if t.shape != row_shape:
            raise ValueError(f"target has shape {t.shape}, expected {row_shape} "
                             "(the logits' shape without the class axis)")
        t = da.expand_dims(t, class_axis) if isinstance(t, da.Array) else np.expand_dims(
            t, class_axis)
    chunks = x.chunks if probs else x.chunks[:class_axis] + ((1,),) + x.chunks[class_axis + 1:]
    return (t.rechunk(chunks) if isinstance(t, da.Array) else da.from_array(t, chunks)), probs


def _one_per_chunk(chunks):
    """Chunks of an array holding one record per chunk of an array with `chunks`."""
    return tuple((1,) * len(c) for c in chunks)
