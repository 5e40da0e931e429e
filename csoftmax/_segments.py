"""Segments (ragged softmax) and prefixes: segment_softmax, segment_log_softmax,
segment_logsumexp, segment_softmax_backward and logcumsumexp. Validation and
layout policy here; the arithmetic runs in csoftmax._core (_segments_core.pxi)."""
import operator

import numpy as np

from . import _core
from ._dtypes import compute_dtype, is_generic, result_dtype
from ._layout import (
    Reduction, as_1d_if_0d, check_out, deliver, reduction_axes, same_memory_layout,
)
from ._threads import threads_for_call
from ._validate import as_numeric_array

__all__ = ["segment_softmax", "segment_log_softmax", "segment_logsumexp",
           "segment_softmax_backward", "logcumsumexp"]


def _kernel_dtype(x_dtype, requested=None, what="x"):
    """(result dtype, compute dtype) for the segment functions: real floats only."""
    rdtype = result_dtype(x_dtype, requested, what)
    if is_generic(rdtype):
        raise TypeError(f"{what} must be a real array of at most 64-bit floats, got dtype {rdtype}")
    return rdtype, compute_dtype(rdtype)


def _segment_axis(axis, ndim):
    if ndim == 0:
        raise ValueError("x must have at least one dimension (the segment axis)")
    try:
        axis = operator.index(axis)
    except TypeError:
        raise TypeError(f"axis must be an integer, got {type(axis).__name__}") from None
    return reduction_axes(axis, ndim)[0]


class _Segments:
    """Validated segments of `length` positions: `offsets` (int64, CSR pointer)
    when the positions of each segment are contiguous, else `index` (int64 id
    per position) with `count` segments."""

    def __init__(self, offsets, index, num_segments, length):
        if (offsets is None) == (index is None):
            raise ValueError("give exactly one of offsets and index")
        if num_segments is not None:
            try:
                num_segments = operator.index(num_segments)
            except TypeError:
                raise TypeError("num_segments must be an integer, got "
                                f"{type(num_segments).__name__}") from None
            if num_segments < 0:
                raise ValueError(f"num_segments must be >= 0, got {num_segments}")
        self.index = None
        if offsets is not None:
            self.offsets = self._checked_offsets(offsets, num_segments, length)
            self.count = len(self.offsets) - 1
        else:
            self._from_index(index, num_segments, length)

    @staticmethod
    def _checked_offsets(offsets, num_segments, length):
        offsets = np.asarray(offsets)
        if offsets.ndim != 1 or offsets.dtype.kind not in "iu" or len(offsets) == 0:
            raise ValueError("offsets must be a non-empty 1-D integer array, got "
                             f"shape {offsets.shape} and dtype {offsets.dtype}")
        if offsets[0] != 0:
            raise ValueError(f"offsets[0] must be 0, got {offsets[0]}")
        if offsets[-1] != length:
            raise ValueError(f"offsets[-1] must be x.shape[axis] = {length}, got {offsets[-1]}")
        offsets = offsets.astype(np.int64)  # values are within [0, length] once non-decreasing
        drops = np.flatnonzero(offsets[1:] < offsets[:-1])
        if len(drops):
            raise ValueError(f"offsets must be non-decreasing: offsets[{drops[0] + 1}] = "
                             f"{offsets[drops[0] + 1]} < offsets[{drops[0]}] = {offsets[drops[0]]}")
        if num_segments is not None and num_segments != len(offsets) - 1:
            raise ValueError(f"num_segments = {num_segments} disagrees with len(offsets) - 1 = "
                             f"{len(offsets) - 1}")
        return offsets

    def _from_index(self, index, num_segments, length):
        index = np.asarray(index)
        if index.ndim != 1 or index.dtype.kind not in "iu":
            raise ValueError("index must be a 1-D integer array, got "
                             f"shape {index.shape} and dtype {index.dtype}")
        if len(index) != length:
            raise ValueError(f"index has length {len(index)}, expected x.shape[axis] = {length}")
        if index.dtype.kind == "u" and length and index.max() > np.iinfo(np.int64).max:
            position = int(np.argmax(index > np.iinfo(np.int64).max))
            raise IndexError(f"index[{position}] = {index[position]} is out of range")
        index = np.ascontiguousarray(index, dtype=np.int64)
        # A sorted index (the common case) becomes offsets in one pass: its last id is its max.
        count = num_segments if num_segments is not None else int(index[-1]) + 1 if length else 0
        if length == 0 or (index[0] >= 0 and index[-1] < count):
            offsets = np.empty(count + 1, np.int64)
            if _core.sorted_offsets(index, offsets):
                self.count, self.offsets = count, offsets
                return
        negative, top = _core.index_summary(index)
        if negative >= 0:
            raise IndexError(f"index[{negative}] = {index[negative]} is negative")
        count = top + 1 if num_segments is None else num_segments
        if top >= count:
            position = int(np.argmax(index >= count))
            raise IndexError(f"index[{position}] = {index[position]} is out of range for "
                             f"num_segments = {count}")
        self.count = count
        self.offsets = None
        self.index = index

    def ids(self):
        """The segment id of every position."""
        if self.index is not None:
            return self.index
        return np.repeat(np.arange(self.count, dtype=np.int64), np.diff(self.offsets))


def _kernel_view(view3):
    """An (outer, E, inner) view as the per-segment kernels take it, or None:
    a contiguous segment axis (rows, inner == 1) or a contiguous inner axis
    (columns). Where the outer axis is the contiguous one (a transposed
    array), it becomes the inner one: the loop order follows the strides, so
    every layout of the same values runs the same kernel and gives the same
    bits. Strided rows are not taken (they are copied into rows)."""
    if view3 is None:
        return None
    outer, length, inner = view3.shape
    if inner == 1 and outer > 1 and length > 1 and view3.strides[0] == view3.itemsize:
        return view3.transpose(2, 1, 0)
    if inner > 1 or length <= 1 or view3.strides[1] == view3.itemsize:
        return view3
    return None


def _writable_target(out, source, cdtype):
    """`out` if the kernels can write it directly, else None."""
    if out is None or out.dtype != cdtype:
        return None
    if np.may_share_memory(out, source) and not same_memory_layout(out, source):
        return None
    return out


def _per_segment_views(geometry, source, target):
    """(target, source3, target3) for the per-segment kernels: source3 and
    target3 in the same layout (both rows or both columns). target is `out`
    where it fits, else a new array in the input's memory order; where the
    input itself does not fit, it is first copied into the target and the
    kernels run in place there."""
    source3 = _kernel_view(geometry.view3(source))
    if target is not None:
        target3 = _kernel_view(geometry.view3(target))
        if target3 is not None and source3 is not None and target3.shape == source3.shape:
            return target, source3, target3
        if source3 is None and target3 is not None:
            np.copyto(target, source)
            return target, target3, target3
    if source3 is not None:
        fresh = np.empty_like(source, order="K")
        fresh3 = _kernel_view(geometry.view3(fresh))
        if fresh3 is not None and fresh3.shape == source3.shape:
            return fresh, source3, fresh3
    fresh, _ = geometry.new_output(source.dtype)
    fresh3 = _kernel_view(geometry.view3(fresh))
    np.copyto(fresh, source)
    return fresh, fresh3, fresh3


def _segment_normalize(x, offsets, index, num_segments, axis, out, num_threads, log_output):
    x = as_numeric_array(x)
    axis = _segment_axis(axis, x.ndim)
    rdtype, cdtype = _kernel_dtype(x.dtype)
    if out is not None:
        check_out(out, x.shape, rdtype)
    segments = _Segments(offsets, index, num_segments, x.shape[axis])
    threads = threads_for_call(num_threads, x.size)
    with np.errstate(over="ignore"):
        source = x if x.dtype == cdtype else x.astype(cdtype)
    if source.size == 0:
        return deliver(np.empty(x.shape, cdtype), out, rdtype)
    geometry = Reduction(source.shape, (axis,))
    target = _writable_target(out, source, cdtype)
    if segments.index is None:
        target, source3, target3 = _per_segment_views(geometry, source, target)
        _core.segment_normalize(source3, target3, segments.offsets, log_output, threads)
    else:
        target3 = None if target is None else geometry.view3(target)
        if target3 is None or not target3.flags.c_contiguous:
            target = np.empty(x.shape, cdtype)
            target3 = target.reshape(geometry.shape3)
        source3 = geometry.view3(source)
        if source3 is None:
            np.copyto(target, source)
            source3 = target3
        _core.scatter_normalize(source3, target3, segments.index, segments.count, log_output,
                                threads)
    return deliver(target, out, rdtype)


def segment_softmax(x, *, offsets=None, index=None, num_segments=None, axis=0, out=None,
                    num_threads=None):
    """Softmax over each segment of `axis`: the entries of a segment sum to 1.

    Parameters
    ----------
    x : array_like
        Input, e.g. attention scores of shape (edges,) or (edges, heads).
        float32 and float64 are computed natively; float16 in float32 and
        returned as float16; integers become float64.
    offsets : array_like of int, optional
        CSR pointer: segment s is positions offsets[s] to offsets[s + 1] - 1
        along `axis`; non-decreasing, offsets[0] = 0 and offsets[-1] =
        x.shape[axis]. Give exactly one of offsets and index.
    index : array_like of int, optional
        The segment id of each position along `axis`, in any order (a
        non-decreasing index runs as offsets).
    num_segments : int, optional
        Number of segments of an index (default index.max() + 1).
    axis : int, default 0
        The segmented axis; every other axis (heads) is independent.
    out : ndarray, optional
        Where to write the result (x's shape, the result dtype); returned.
    num_threads : int, optional
        Threads to use; results are bitwise identical for any count.

    Returns
    -------
    ndarray
        x's shape. A segment holding nan or +inf, or all -inf, gives nan
        (as softmax).

    Examples
    --------
    >>> import numpy as np
    >>> from csoftmax import segment_softmax
    >>> scores = np.array([0.0, 0.0, 1.0, 2.0, 3.0])
    >>> segment_softmax(scores, offsets=[0, 2, 5]).round(4)
    array([0.5   , 0.5   , 0.09  , 0.2447, 0.6652])
    >>> segment_softmax(scores, index=[1, 0, 1, 0, 0]).round(4)
    array([0.2689, 0.0351, 0.7311, 0.2595, 0.7054])
    """
    return _segment_normalize(x, offsets, index, num_segments, axis, out, num_threads, False)


def segment_log_softmax(x, *, offsets=None, index=None, num_segments=None, axis=0, out=None,
                        num_threads=None):
    """log of segment_softmax, computed as (x - max) - log(sum of exps) per segment.

    Arguments as segment_softmax.

    Examples
    --------
    >>> import numpy as np
    >>> from csoftmax import segment_log_softmax
    >>> segment_log_softmax(np.array([0.0, 0.0, 1.0]), offsets=[0, 2, 3]).round(4)
    array([-0.6931, -0.6931,  0.    ])
    """
    return _segment_normalize(x, offsets, index, num_segments, axis, out, num_threads, True)


def segment_logsumexp(x, *, offsets=None, index=None, num_segments=None, axis=0,
                      num_threads=None):
    """log(sum(exp(x))) over each segment of `axis`.

    Arguments as segment_softmax (no out=).

    Returns
    -------
    ndarray
        x's shape with `axis` replaced by the number of segments
        (len(offsets) - 1, or num_segments). An empty segment gives -inf.

    Examples
    --------
    >>> import numpy as np
    >>> from csoftmax import segment_logsumexp
    >>> segment_logsumexp(np.log([1.0, 3.0, 2.0]), offsets=[0, 2, 2, 3])
    array([1.38629436,       -inf, 0.69314718])
    >>> segment_logsumexp(np.zeros((3, 2)), index=[0, 1, 0])
    array([[0.69314718, 0.69314718],
           [0.        , 0.        ]])
    """
    x = as_numeric_array(x)
    axis = _segment_axis(axis, x.ndim)
    rdtype, cdtype = _kernel_dtype(x.dtype)
    segments = _Segments(offsets, index, num_segments, x.shape[axis])
    threads = threads_for_call(num_threads, x.size)
    with np.errstate(over="ignore"):
        source = x if x.dtype == cdtype else x.astype(cdtype)
    shape = x.shape[:axis] + (segments.count,) + x.shape[axis + 1:]
    geometry = Reduction(source.shape, (axis,))
    outer, _, inner = geometry.shape3
    if segments.index is not None:
        source3 = geometry.view3(source)
        if source3 is None:
            source3 = np.ascontiguousarray(source).reshape(geometry.shape3)
        result = np.empty(shape, cdtype)
        _core.scatter_logsumexp(source3, result.reshape(outer, segments.count, inner),
                                segments.index)
        return deliver(result, None, rdtype)
    source3 = _kernel_view(geometry.view3(source))
    if source3 is None:
        source3 = _kernel_view(np.ascontiguousarray(source).reshape(geometry.shape3))
    result3 = np.empty((source3.shape[0], segments.count, source3.shape[2]), cdtype)
    _core.segment_logsumexp(source3, result3, segments.offsets, threads)
    if source3.shape[2] != inner:  # the outer axis ran as the inner one
        result = result3[0].T.reshape(shape)
    else:
        result = result3.reshape(shape)
    return deliver(result, None, rdtype)


def segment_softmax_backward(grad_output, output, *, offsets=None, index=None,
                             num_segments=None, axis=0):
    """Gradient of segment_softmax: output * (grad_output - sum over the
    segment of grad_output * output).

    Parameters
    ----------
    grad_output : array_like
        Gradient with respect to segment_softmax's result.
    output : array_like
        segment_softmax's result (same shape).
    offsets, index, num_segments, axis
        The segments, as segment_softmax.

    Examples
    --------
    >>> import numpy as np
    >>> from csoftmax import segment_softmax, segment_softmax_backward
    >>> y = segment_softmax(np.array([0.0, 0.0, 5.0]), offsets=[0, 2, 3])
    >>> segment_softmax_backward(np.array([1.0, 0.0, 1.0]), y, offsets=[0, 2, 3])
    array([ 0.25, -0.25,  0.  ])
    """
    g = as_numeric_array(grad_output, "grad_output")
    y = as_numeric_array(output, "output")
    if g.shape != y.shape:
        raise ValueError(f"grad_output has shape {g.shape} but output has shape {y.shape}")
    axis = _segment_axis(axis, y.ndim)
    rdtype, cdtype = _kernel_dtype(np.result_type(g.dtype, y.dtype), what="output")
    segments = _Segments(offsets, index, num_segments, y.shape[axis])
    threads = threads_for_call(None, y.size)
    with np.errstate(over="ignore"):
        g = g if g.dtype == cdtype else g.astype(cdtype)
        y = y if y.dtype == cdtype else y.astype(cdtype)
    geometry = Reduction(y.shape, (axis,))
    result = np.empty(y.shape, cdtype)
    g3, y3 = geometry.view3(g), geometry.view3(y)
    g3 = np.ascontiguousarray(g).reshape(geometry.shape3) if g3 is None else g3
    y3 = np.ascontiguousarray(y).reshape(geometry.shape3) if y3 is None else y3
    _core.scatter_softmax_backward(g3, y3, result.reshape(geometry.shape3), segments.ids(),
                                   segments.count, threads)
    return deliver(result, None, rdtype)


def _scan_view(array, axis):
    """`array` as (outer, lanes, n) with the scanned axis last, without copying,
    or None: the kernel scans n along axis 2 for each lane."""
    moved = np.moveaxis(array, axis, -1)
    outer = int(np.prod(moved.shape[:axis], dtype=np.int64))
    lanes = int(np.prod(moved.shape[axis:-1], dtype=np.int64))
    try:
        view = np.reshape(moved, (outer, lanes, moved.shape[-1]), copy=False)
    except ValueError:
        return None
    if lanes == 1:  # rows of a last-axis scan: the lanes are the outer slices
        view = view.swapaxes(0, 1)
    if not view.flags.aligned or any(s % view.itemsize for s in view.strides):
        return None
    return view


def logcumsumexp(x, axis=-1, *, reverse=False, exclusive=False, dtype=None, out=None,
                 num_threads=None):
    """Cumulative log-sum-exp along `axis`: y[i] = log(sum over j <= i of exp(x[j])).

    Parameters
    ----------
    x : array_like
        Input; float32 and float64 native (float32 accumulated in float64),
        float16 computed in float32, integers become float64.
    axis : int, default -1
        The axis scanned.
    reverse : bool, default False
        Scan from the end: y[i] sums j >= i.
    exclusive : bool, default False
        Leave x[i] itself out (j < i, or j > i with reverse); the first
        result is -inf (tf.math.cumulative_logsumexp's `exclusive`).
    dtype : dtype, optional
        The compute and result dtype.
    out : ndarray, optional
        Where to write the result (x's shape, the result dtype); returned.
    num_threads : int, optional
        Threads to use; results are bitwise identical for any count.

    Returns
    -------
    ndarray
        x's shape. As torch.logcumsumexp: a prefix of only -inf gives -inf
        (not nan), +inf stays +inf, nan propagates.

    Examples
    --------
    >>> import numpy as np
    >>> from csoftmax import logcumsumexp
    >>> logcumsumexp(np.log([1.0, 2.0, 3.0]))
    array([0.        , 1.09861229, 1.79175947])
    >>> logcumsumexp(np.log([1.0, 2.0, 3.0]), reverse=True, exclusive=True)
    array([1.60943791, 1.09861229,       -inf])
    """
    x = as_numeric_array(x)
    rdtype, cdtype = _kernel_dtype(x.dtype, dtype)
    if out is not None:
        check_out(out, x.shape, rdtype)
    threads = threads_for_call(num_threads, x.size)
    shape = x.shape
    x, axis = as_1d_if_0d(x, axis)
    try:
        axis = operator.index(axis)
    except TypeError:
        raise TypeError(f"axis must be an integer, got {type(axis).__name__}") from None
    axis = reduction_axes(axis, x.ndim)[0]
    with np.errstate(over="ignore"):
        source = x if x.dtype == cdtype else x.astype(cdtype)
    source3 = _scan_view(source, axis)
    if source3 is None:
        source3 = _scan_view(np.ascontiguousarray(source), axis)
    target = _writable_target(None if out is None else out.reshape(x.shape), source, cdtype)
    target3 = None if target is None else _scan_view(target, axis)
    if target3 is None:
        target = np.empty_like(source, order="K")
        target3 = _scan_view(target, axis)
        if target3 is None:
            target = np.empty(source.shape, cdtype)
            target3 = _scan_view(target, axis)
    if source.size:
        _core.logcumsumexp(source3, target3, bool(reverse), bool(exclusive), threads)
    if out is not None and target.base is out or target is out:
        return out
    return deliver(target.reshape(shape), out, rdtype)
