"""Sparse normalisers: sparsemax, entmax-1.5 and alpha-entmax, their backward
passes and their Fenchel-Young losses, with the `entmax` package's values.

Unlike softmax they give exact zeros: sparsemax is the Euclidean projection
of x onto the probability simplex, alpha-entmax the Tsallis-regularised map
between softmax (alpha = 1) and sparsemax (alpha = 2). Validation, dtypes and
reductions live here; the thresholds, the maps, their gradients and the
losses with fused gradients run in the compiled kernels of src/sparse_impl.h,
a row at a time over threads, on any layout without copying the input
(rows along another axis than the last are gathered a tile at a time).
"""
import math
import operator

import numpy as np

from . import _core
from ._layout import check_out, run_rows, same_memory_layout
from ._reductions import deliver_grad, finish, grad_scale
from ._threads import threads_for_call
from ._validate import (
    check_reduction, class_labels, float_input, index_value, logits_with_class_axis, same_shape,
)

try:  # NumPy >= 2.0
    from numpy.lib.array_utils import normalize_axis_index
except ImportError:  # pragma: no cover - NumPy 1.x
    from numpy.core.multiarray import normalize_axis_index

__all__ = [
    "sparsemax", "entmax15", "entmax_bisect", "sparsemax_backward", "entmax15_backward",
    "entmax_bisect_backward", "sparsemax_loss", "entmax15_loss", "entmax_bisect_loss",
]


# ---------------------------------------------------------------- validation

def _map_axis(axis, ndim):
    """The map's axis; a 0-d array is a row of one element."""
    try:
        axis = operator.index(axis)
    except TypeError:
        raise TypeError(f"axis must be an integer, got {type(axis).__name__}") from None
    return normalize_axis_index(axis, max(ndim, 1))


def _check_n_iter(n_iter):
    n_iter = index_value(n_iter, "n_iter")
    if n_iter < 1:
        raise ValueError(f"n_iter must be >= 1, got {n_iter}")
    if n_iter > 2**31 - 1:
        raise ValueError(f"n_iter must be below 2**31, got {n_iter}")
    return n_iter


def _check_alpha(alpha):
    """alpha as a float64 array (ValueError unless every value is finite and >= 1)."""
    a = np.asarray(alpha)
    if not (a.dtype.kind in "biuf" or a.dtype.char == "e"):
        raise TypeError(f"alpha must be a real number or array, got dtype {a.dtype}")
    a = a.astype(np.float64)
    if np.isnan(a).any():
        raise ValueError("alpha must be >= 1, got nan")
    if (a < 1).any():
        raise ValueError(f"alpha must be >= 1 (1 is softmax, 2 sparsemax), got {a.min()!r}")
    if np.isinf(a).any():
        raise ValueError("alpha must be finite, got inf")
    return a


def _alpha_rows(alpha, shape, axis):
    """alpha (checked) as float64 values, one per row in C order over the batch
    shape (x's shape without the axis), or a single value; and how alpha's
    shape relates to the rows: 'batch' or 'keepdims' (alpha broadcast to that
    shape)."""
    batch = shape[:axis] + shape[axis + 1:]
    keepdims = shape[:axis] + (1,) + shape[axis + 1:]
    for form, target in (("batch", batch), ("keepdims", keepdims)):
        try:
            rows = np.broadcast_to(alpha, target)
        except ValueError:
            continue
        if alpha.size == 1:
            return alpha.reshape(1), form
        return np.ascontiguousarray(rows).reshape(-1), form
    raise ValueError(f"alpha with shape {alpha.shape} broadcasts neither to the batch shape "
                     f"{batch} nor to the keepdims shape {keepdims} of x with shape {shape}")


def _rows_view(a, axis):
    """The (outer, n, inner) view of `a` around `axis` the kernels take (any
    element strides), or None where that needs a copy."""
    shape = a.shape if a.ndim else (1,)
    shape3 = (math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1:]))
    if not (a.dtype.isnative and a.flags.aligned
            and all(s % a.itemsize == 0 for s in a.strides)):
        return None
    try:
        return np.reshape(a, shape3, copy=False)
    except ValueError:
        return None


def _input_rows(a, axis):
    """The rows view of an input, from an aligned native C-order copy where needed."""
    view = _rows_view(a, axis)
    if view is None:
        view = _rows_view(np.array(a, dtype=a.dtype.newbyteorder("="), order="C"), axis)
    return view


def _new_rows(like, axis):
    """A new array of like's shape and dtype (like's memory order where its
    rows view exists), and that view."""
    result = np.empty_like(like)
    view = _rows_view(result, axis)
    if view is None:
        result = np.empty(like.shape, like.dtype)
        view = _rows_view(result, axis)
    return result, view


def _target_rows(out, source, axis):
    """out's rows view where the kernels can write it directly: the compute
    dtype, a view without a copy, and no overlap with the source other than
    element for element (in place)."""
    if out is None or out.dtype != source.dtype:
        return None
    view = _rows_view(out, axis)
    if view is not None and np.may_share_memory(out, source) and not same_memory_layout(
            out, source):
        return None
    return view


# ---------------------------------------------------------------- maps

def _forward(kind, x, axis, alpha, n_iter, out, num_threads):
    x, rdtype = float_input(x, "x")
    axis = _map_axis(axis, x.ndim)
    shape = x.shape if x.ndim else (1,)
    alpha_rows = None if alpha is None else _alpha_rows(_check_alpha(alpha), shape, axis)[0]
    if out is not None:
        check_out(out, x.shape, rdtype)
    threads = threads_for_call(num_threads, x.size)
    target = _target_rows(out, x, axis)
    if target is not None:
        result = out
    else:
        result, target = _new_rows(x, axis)
    _core.sparse_forward(_input_rows(x, axis), target, kind, alpha_rows, n_iter, threads)
    if result is out:
        return out
    with np.errstate(over="ignore"):  # float16 results may round to +-inf
        if out is not None:
            np.copyto(out, result, casting="unsafe")
            return out
        result = result.astype(rdtype, copy=False)
    return result[()] if result.ndim == 0 else result


def sparsemax(x, axis=-1, *, out=None, num_threads=None):
    """Sparsemax of `x` along `axis`: the Euclidean projection onto the
    probability simplex, max(x - tau, 0) with tau such that the result sums
    to 1 (Martins & Astudillo, 2016), as entmax.sparsemax.

    The threshold is found without sorting the row (candidates within 1 of
    the max, then Michelot's fixed point). Rows holding nan or +inf, or only
    -inf, give nan; -inf entries elsewhere get exactly 0.

    Parameters
    ----------
    x : array_like
        Scores. float32 and float64 are computed natively (in float64
        arithmetic), float16 in float32; bool and integers become float64.
    axis : int, default -1
        The axis normalised over.
    out : ndarray, optional
        Where to write the result (x's shape and result dtype; may be x).
    num_threads : int, optional
        Threads; None is the library default. Results do not depend on it.

    Examples
    --------
    >>> import numpy as np
    >>> import csoftmax
    >>> csoftmax.sparsemax(np.array([[1.0, 0.5, -1.0], [0.0, 0.0, 0.0]]))
    array([[0.75      , 0.25      , 0.        ],
           [0.33333333, 0.33333333, 0.33333333]])
    """
    return _forward("sparsemax", x, axis, None, 1, out, num_threads)


def entmax15(x, axis=-1, *, out=None, num_threads=None):
    """1.5-entmax of `x` along `axis`: max(x / 2 - tau, 0) ** 2 with tau such
    that the result sums to 1 (Peters, Niculae & Martins, 2019), as
    entmax.entmax15: sparse like sparsemax, smoother.

    The threshold is exact: the package's sort-based formula applied to the
    few candidates that can be in the support (found without a full sort).
    Parameters and special values as `sparsemax`.

    Examples
    --------
    >>> import numpy as np
    >>> import csoftmax
    >>> csoftmax.entmax15(np.array([1.0, 0.5, -1.0]))
    array([0.67399264, 0.32600736, 0.        ])
    """
    return _forward("entmax15", x, axis, None, 1, out, num_threads)


def entmax_bisect(x, alpha=1.5, axis=-1, *, n_iter=50, out=None, num_threads=None):
    """alpha-entmax of `x` along `axis` by bisection on the threshold, as
    entmax.entmax_bisect (ensure_sum_one=True): p = max((alpha - 1) x - tau,
    0) ** (1 / (alpha - 1)), normalised to sum to 1.

    alpha = 2 is sparsemax, 1.5 entmax15, and alpha = 1 softmax (computed as
    such; the package itself returns a uniform row there).

    Parameters
    ----------
    x : array_like
        Scores (dtypes as `sparsemax`); the bisection runs in float64.
    alpha : float or array_like, default 1.5
        >= 1 and finite; a scalar or one value per row: an array
        broadcastable to x's shape without `axis` or to x's shape with
        `axis` of length 1 (the package's and PyTorch's form).
    axis : int, default -1
    n_iter : int, default 50
        Bisection steps, as the package's n_iter (>= 1).
    out, num_threads
        As `sparsemax`.

    Examples
    --------
    >>> import numpy as np
    >>> import csoftmax
    >>> x = np.array([1.0, 0.5, -1.0])
    >>> csoftmax.entmax_bisect(x, alpha=2.0).round(6)
    array([0.75, 0.25, 0.  ])
    >>> csoftmax.entmax_bisect(x, alpha=1.0)  # softmax
    array([0.57409699, 0.34820743, 0.07769558])
    """
    alpha = _check_alpha(alpha)
    return _forward("entmax_bisect", x, axis, alpha, _check_n_iter(n_iter), out, num_threads)


# ---------------------------------------------------------------- backward

def _sum_to_shape(values, shape):
    """Sums `values` over the axes broadcasting added to reach it from `shape`."""
    if len(shape) > values.ndim:
        values = values.reshape((1,) * (len(shape) - values.ndim) + values.shape)
    lead = values.ndim - len(shape)
    values = values.sum(axis=tuple(range(lead))) if lead else values
    axes = tuple(i for i, s in enumerate(shape) if s == 1 and values.shape[i] != 1)
    return values.sum(axis=axes, keepdims=True) if axes else values


def _backward(kind, grad_output, output, axis, alpha, return_alpha_grad, num_threads):
    g, rdtype = float_input(grad_output, "grad_output")
    y, ydtype = float_input(output, "output")
    same_shape(y, g, "output", "grad_output")
    rdtype = np.promote_types(rdtype, ydtype)
    cdtype = np.promote_types(g.dtype, y.dtype)
    g, y = g.astype(cdtype, copy=False), y.astype(cdtype, copy=False)
    axis = _map_axis(axis, y.ndim)
    shape = y.shape if y.ndim else (1,)
    alpha_rows, form = (None, None) if alpha is None else _alpha_rows(alpha, shape, axis)
    threads = threads_for_call(num_threads, y.size)
    result, target = _new_rows(y, axis)
    batch = shape[:axis] + shape[axis + 1:]
    alpha_grad = np.zeros(math.prod(batch), np.float64) if return_alpha_grad else None
    _core.sparse_backward(_input_rows(g, axis), _input_rows(y, axis), target, kind, alpha_rows,
                          alpha_grad, threads)
    dx = deliver_grad(result, rdtype)
    if not return_alpha_grad:
        return dx
    per_row = alpha_grad.reshape(batch)
    if form == "keepdims":
        per_row = per_row.reshape(shape[:axis] + (1,) + shape[axis + 1:])
    if alpha.ndim == 0:
        return dx, rdtype.type(per_row.sum())
    return dx, _sum_to_shape(per_row, alpha.shape).reshape(alpha.shape).astype(rdtype)


def sparsemax_backward(grad_output, output, axis=-1, *, num_threads=None):
    """Gradient through y = sparsemax(x): dx = g - mean of g over the
    support, on the support (y > 0), and 0 off it.

    Examples
    --------
    >>> import numpy as np
    >>> import csoftmax
    >>> y = csoftmax.sparsemax(np.array([1.0, 0.5, -1.0]))
    >>> csoftmax.sparsemax_backward(np.array([1.0, 0.0, 5.0]), y)
    array([ 0.5, -0.5,  0. ])
    """
    return _backward("sparsemax", grad_output, output, axis, None, False, num_threads)


def entmax15_backward(grad_output, output, axis=-1, *, num_threads=None):
    """Gradient through y = entmax15(x): with s = sqrt(y),
    dx = s * (g - sum(g * s) / sum(s)).

    Examples
    --------
    >>> import numpy as np
    >>> import csoftmax
    >>> y = csoftmax.entmax15(np.array([1.0, 0.5, -1.0]))
    >>> csoftmax.entmax15_backward(np.array([1.0, 0.0, 5.0]), y)
    array([ 0.33675994, -0.33675994,  0.        ])
    """
    return _backward("entmax15", grad_output, output, axis, None, False, num_threads)


def entmax_bisect_backward(grad_output, output, alpha=1.5, axis=-1, *, return_alpha_grad=False,
                           num_threads=None):
    """Gradient through y = entmax_bisect(x, alpha): with s = y ** (2 - alpha)
    on the support, dx = s * (g - sum(g * s) / sum(s)).

    With return_alpha_grad=True returns (dx, d_alpha): the derivative in
    alpha of sum(g * y), as the package's EntmaxBisectFunction computes it,
    shaped like alpha (summed over the rows a scalar or broadcast alpha
    covers). It is undefined (inf or nan) at alpha = 1.

    Examples
    --------
    >>> import numpy as np
    >>> import csoftmax
    >>> y = csoftmax.entmax_bisect(np.array([1.0, 0.5, -1.0]), alpha=1.5)
    >>> dx, d_alpha = csoftmax.entmax_bisect_backward(np.array([1.0, 0.0, 5.0]), y, 1.5,
    ...                                               return_alpha_grad=True)
    >>> dx.round(6), round(float(d_alpha), 6)
    (array([ 0.33676, -0.33676,  0.     ]), 0.123886)
    """
    alpha = _check_alpha(alpha)
    return _backward("entmax_bisect", grad_output, output, axis, alpha, bool(return_alpha_grad),
                     num_threads)


# ---------------------------------------------------------------- losses

def _loss(kind, logits, target, alpha, axis, n_iter, ignore_index, reduction, return_grad,
          num_threads):
    x, rdtype, class_axis, row_shape = logits_with_class_axis(logits, axis)
    C = x.shape[class_axis]
    reduction = check_reduction(reduction)
    ignore_index = index_value(ignore_index, "ignore_index")
    labels = class_labels(target, row_shape, C, ignore_index)
    alpha_rows = None if alpha is None else _alpha_rows(alpha, x.shape, class_axis)[0]
    threads = threads_for_call(num_threads, x.size)
    denominator = float(np.count_nonzero(labels != ignore_index)) if reduction == "mean" else 1.0
    scale = grad_scale(reduction, denominator)
    per_row = [labels]
    if alpha_rows is not None and alpha_rows.size > 1:
        per_row.append(alpha_rows.reshape(row_shape))

    def kernel(x2, extras, loss, grad):
        alpha2 = extras[1] if len(extras) > 1 else alpha_rows
        _core.sparse_loss_rows(x2, extras[0], alpha2, loss, grad, kind, n_iter, ignore_index,
                               scale, threads)

    row_losses, grad = run_rows(kernel, x, class_axis, per_row, return_grad)
    loss = finish(row_losses, reduction, denominator, rdtype, row_shape)
    if return_grad:
        return loss, deliver_grad(grad, rdtype)
    return loss


_LOSS_DOC = """

    Parameters
    ----------
    logits : array_like
        Scores; `axis` is the class axis (C classes).
    target : array_like of int
        Class indices, the logits' shape without the class axis. A label
        outside [0, C) that is not ignore_index raises IndexError naming it
        and its position, before any work.
    ignore_index : int, default -100
        Targets equal to it add nothing (loss 0, gradient 0) and are left
        out of the 'mean' (all ignored: nan, gradient 0).
    reduction : {'mean', 'sum', 'none'}
    return_grad : bool
        Also return the gradient of the reduced loss (of loss.sum() for
        'none') w.r.t. the logits, scale * (p - onehot(target)), computed in
        the same pass.
    num_threads : int, optional
        Threads; None is the library default. Results do not depend on it.
"""


def sparsemax_loss(logits, target, *, axis=-1, ignore_index=-100, reduction="mean",
                   return_grad=False, num_threads=None):
    return _loss("sparsemax", logits, target, None, axis, 1, ignore_index, reduction, return_grad,
                 num_threads)


def entmax15_loss(logits, target, *, axis=-1, ignore_index=-100, reduction="mean",
                  return_grad=False, num_threads=None):
    return _loss("entmax15", logits, target, None, axis, 1, ignore_index, reduction, return_grad,
                 num_threads)


def entmax_bisect_loss(logits, target, alpha=1.5, *, axis=-1, n_iter=50, ignore_index=-100,
                       reduction="mean", return_grad=False, num_threads=None):
    alpha = _check_alpha(alpha)
    return _loss("entmax_bisect", logits, target, alpha, axis, _check_n_iter(n_iter), ignore_index,
                 reduction, return_grad, num_threads)


sparsemax_loss.__doc__ = """Sparsemax loss (Fenchel-Young), as entmax.SparsemaxLoss:
    (1 - sum p**2) / 2 + sum(p * x) - x[target] with p = sparsemax(x): zero
    once the target's score leads the others by a margin of 1.
""" + _LOSS_DOC + """
    Examples
    --------
    >>> import numpy as np
    >>> import csoftmax
    >>> logits = np.array([[2.0, 0.0, 0.0], [0.0, 0.0, 0.5]])
    >>> csoftmax.sparsemax_loss(logits, np.array([0, 2]), reduction="none")
    array([0.        , 0.08333333])
    """

entmax15_loss.__doc__ = """1.5-entmax loss (Fenchel-Young), as entmax.Entmax15Loss:
    (1 - sum p**1.5) / 0.75 + sum(p * x) - x[target] with p = entmax15(x).
""" + _LOSS_DOC + """
    Examples
    --------
    >>> import numpy as np
    >>> import csoftmax
    >>> logits = np.array([[2.0, 0.0, 0.0], [0.0, 0.0, 0.5]])
    >>> csoftmax.entmax15_loss(logits, np.array([0, 2]), reduction="none")
    array([0.        , 0.28012227])
    """

entmax_bisect_loss.__doc__ = """alpha-entmax loss (Fenchel-Young), as entmax.EntmaxBisectLoss:
    (1 - sum p**alpha) / (alpha (alpha - 1)) + sum(p * x) - x[target] with
    p = entmax_bisect(x, alpha, n_iter=n_iter); alpha = 1 is the
    cross-entropy. alpha and n_iter as `entmax_bisect`.
""" + _LOSS_DOC + """
    Examples
    --------
    >>> import numpy as np
    >>> import csoftmax
    >>> logits = np.array([[2.0, 0.0, 0.0], [0.0, 0.0, 0.5]])
    >>> loss, grad = csoftmax.entmax_bisect_loss(logits, np.array([0, 2]), alpha=2.0,
    ...                                          reduction="sum", return_grad=True)
    >>> round(float(loss), 6)
    0.083333
    >>> grad.round(6)
    array([[ 0.      ,  0.      ,  0.      ],
           [ 0.166667,  0.166667, -0.333333]])
    """
