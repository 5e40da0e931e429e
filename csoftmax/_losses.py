"""Losses on logits and their gradients, with PyTorch's semantics.

Validation, dtype policy and reductions live here; the softmax-based losses
(cross-entropy, softmax focal loss, entropy) run in the compiled row kernels
of csoftmax._core (src/loss_impl.h), which compute a row's loss and its
gradient in one pass over the logits. The element-wise losses (KL, binary
cross-entropy, sigmoid focal), sigmoid/log_sigmoid, NLL and the softmax
backward functions have compiled kernels of their own (src/loss_impl.h);
no loss-only path allocates a temporary as large as the logits.

Conventions (API.md): reduced losses are NumPy scalars of the logits' dtype,
'none' keeps it; with return_grad=True the gradient of the reduced loss (of
loss.sum() for 'none') w.r.t. the logits comes back beside the loss, in the
logits' shape and dtype. float16 and bfloat16 are computed in float32.
Per-row losses are summed in a fixed order, so results are bitwise identical
for any thread count.
"""
import operator

import numpy as np

from . import _core
from ._dtypes import _is_half, as_numeric_array, compute_dtype, result_dtype
from ._layout import Reduction, check_out, same_memory_layout
from ._threads import threads_for_call
from ._validate import is_dask_array, lazy_through_dask, real_scalar

try:  # NumPy >= 2.0
    from numpy.lib.array_utils import normalize_axis_index
except ImportError:  # pragma: no cover - NumPy 1.x
    from numpy.core.multiarray import normalize_axis_index

__all__ = [
    "cross_entropy", "nll_loss", "kl_div", "entropy", "binary_cross_entropy_with_logits",
    "sigmoid", "log_sigmoid", "focal_loss", "sigmoid_focal_loss", "softmax_backward",
    "log_softmax_backward", "one_hot", "hardmax",
]

# Rows of a non-last class axis are gathered into contiguous buffers of about
# this many elements; element-wise losses run in blocks of about this size.
_BLOCK_ELEMENTS = 1 << 16


# ---------------------------------------------------------------- validation

def _float_input(x, what):
    """x as an array of its compute dtype (float32/float64), and the result dtype.
    Complex input raises TypeError (losses are real)."""
    x = as_numeric_array(x, what)
    if x.dtype.kind == "c":
        raise TypeError(f"{what} must be real, got complex dtype {x.dtype}")
    rdtype = result_dtype(x.dtype, what=what)
    if rdtype.kind == "f" and rdtype.itemsize > 8:  # longdouble: computed in float64
        rdtype = np.dtype(np.float64)
    cdtype = compute_dtype(rdtype)
    return x.astype(cdtype, copy=False), rdtype


def _check_reduction(reduction, allowed=("none", "mean", "sum")):
    if reduction not in allowed:
        raise ValueError(f"reduction must be one of {allowed}, got {reduction!r}")
    return reduction


def _class_axis(axis, ndim):
    try:
        axis = operator.index(axis)
    except TypeError:
        raise TypeError(f"axis must be an integer, got {type(axis).__name__}") from None
    if ndim == 0:
        raise ValueError("logits must have at least one dimension (the class axis)")
    return normalize_axis_index(axis, ndim)


def _index_value(value, what):
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{what} must be an integer, got {value!r}") from None


def _axis_hint(logits_shape, target_shape):
    """' (pass axis=k ...)' naming the class axes that would make a target of
    `target_shape` fit logits of `logits_shape`, or '' if none would."""
    fitting = [k for k in range(len(logits_shape))
               if logits_shape[:k] + logits_shape[k + 1:] == tuple(target_shape)]
    if not fitting:
        return ""
    hint = " or ".join(f"axis={k}" for k in fitting)
    if 1 in fitting and len(logits_shape) > 2:
        hint += ", as for PyTorch's (N, C, d1, ...) layout"
    return f"; pass {hint}"


def _class_labels(target, expected_shape, num_classes, ignore_index, logits_shape=None):
    """Integer class indices as a C-contiguous int64 array of `expected_shape`.
    IndexError for a label outside [0, num_classes) that is not ignore_index,
    naming the first such label and its position. `logits_shape`, where given,
    lets a shape error suggest the class axis that fits."""
    labels = np.asarray(target)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"class-index target must have an integer dtype, got {labels.dtype}")
    if labels.shape != tuple(expected_shape):
        hint = "" if logits_shape is None else _axis_hint(logits_shape, labels.shape)
        raise ValueError(f"target has shape {labels.shape}, expected {tuple(expected_shape)} "
                         f"(the logits' shape without the class axis){hint}")
    bad = labels >= num_classes
    if labels.dtype.kind == "i":
        bad |= labels < 0
    if labels.dtype.kind == "i" or ignore_index >= 0:
        bad &= labels != ignore_index
    if bad.any():
        position = tuple(int(i) for i in np.unravel_index(np.flatnonzero(bad)[0], labels.shape))
        label = labels[position]
        raise IndexError(f"target {label} at position {position} is out of range for "
                         f"{num_classes} classes (valid: 0 to {num_classes - 1}, or "
                         f"ignore_index={ignore_index})")
    return np.ascontiguousarray(labels, dtype=np.int64)


def _class_weights(weight, num_classes, dtype, what="weight"):
    """A per-class array of length num_classes in `dtype`, validated."""
    w = as_numeric_array(weight, what)
    if w.dtype.kind == "c":
        raise TypeError(f"{what} must be real, got complex dtype {w.dtype}")
    if w.dtype.kind != "f":  # floats are checked as given: no float64 copy of a long vector
        w = w.astype(np.float64)
    if w.shape != (num_classes,):
        raise ValueError(f"{what} must have shape ({num_classes},) (one entry per class), "
                         f"got shape {w.shape}")
    if not np.all(w >= 0):
        raise ValueError(f"{what} must be non-negative (and not nan)")
    return np.ascontiguousarray(w, dtype=dtype)


def _check_smoothing(label_smoothing):
    eps = real_scalar(label_smoothing, "label_smoothing")
    if not 0.0 <= eps <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing!r}")
    return eps


def _same_shape(a, b, what_a, what_b):
    if a.shape != b.shape:
        raise ValueError(f"{what_b} has shape {b.shape}, expected {what_a}'s shape {a.shape}")


# ---------------------------------------------------------------- reductions

def _finish(row_losses, reduction, denominator, rdtype, shape):
    """Reduces float64 per-row losses in a fixed order and casts to rdtype."""
    if reduction == "none":
        with np.errstate(over="ignore"):  # float16 losses may round to +-inf
            return row_losses.reshape(shape).astype(rdtype)
    with np.errstate(over="ignore"):  # losses beyond float64's range sum to inf
        total = np.sum(row_losses, dtype=np.float64)
    if reduction != "sum":
        with np.errstate(invalid="ignore", divide="ignore"):
            total = total / denominator
    with np.errstate(over="ignore"):
        return rdtype.type(total)


def _grad_scale(reduction, denominator):
    """d reduced loss / d per-row loss; 0 where a mean has nothing to average."""
    if reduction == "mean" or reduction == "batchmean":
        return 1.0 / denominator if denominator != 0 else 0.0
    return 1.0


def _deliver_grad(grad, rdtype):
    with np.errstate(over="ignore"):  # float16 gradients may round to +-inf
        return grad if grad.dtype == rdtype else grad.astype(rdtype)


# ---------------------------------------------------------------- row driver

def _run_rows(kernel, x, axis, per_row_arrays, want_grad, cols_kernel=None):
    """Runs `kernel(x2, extras2, loss1, grad2)` over the rows of x along its
    class `axis`: x2 (rows, C) C-contiguous, extras2 the matching rows of each
    array in per_row_arrays (arrays of x's shape, gathered like x, or of the
    shape without the class axis, flattened). Returns the float64 per-row
    losses (shape without the class axis, C order) and the gradient (x's
    shape, C-contiguous) or None.

    The class axis last is a single call. Otherwise, where `cols_kernel` is
    given and the (outer, C, inner) view of x has inner contiguous, one call
    `cols_kernel(x3, extras3, loss2, grad3)` takes the columns in place
    (extras as (outer, C, inner) or (outer, inner), inner contiguous); else rows
    are gathered into bounded contiguous buffers (blocks of inner), so no
    temporary is as large as x unless the gradient is wanted."""
    shape = x.shape
    C = shape[axis]
    outer = int(np.prod(shape[:axis], dtype=np.int64))
    inner = int(np.prod(shape[axis + 1:], dtype=np.int64))
    loss = np.empty(outer * inner, np.float64)
    grad = np.empty(shape, x.dtype) if want_grad else None
    if loss.size == 0 or C == 0:
        loss.fill(0.0)  # a sum over no classes
        return loss.reshape(shape[:axis] + shape[axis + 1:]), grad
    if inner == 1:
        # aligned too: the kernels' scalar loads need whole-element alignment
        x2 = np.require(x.reshape(outer, C), requirements="CA")
        extras = [np.require(a.reshape(outer, -1), requirements="CA") if a.ndim == x.ndim
                  else a.reshape(outer) for a in per_row_arrays]
        kernel(x2, extras, loss, None if grad is None else grad.reshape(outer, C))
        return loss.reshape(shape[:axis] + shape[axis + 1:]), grad
    x3 = x.reshape(outer, C, inner)
    extras3 = [a.reshape(outer, C, inner) if a.ndim == x.ndim else a.reshape(outer, inner)
               for a in per_row_arrays]
    loss2 = loss.reshape(outer, inner)
    grad3 = None if grad is None else grad.reshape(outer, C, inner)
    if cols_kernel is not None and all(a.strides[-1] == a.itemsize and a.flags.aligned
                                       for a in [x3] + extras3):
        cols_kernel(x3, extras3, loss2, grad3)
        return loss.reshape(shape[:axis] + shape[axis + 1:]), grad
    rows_per_block = max(1, _BLOCK_ELEMENTS // max(C, 1))
    if inner >= rows_per_block:
        blocks = [(slice(o, o + 1), slice(i, min(i + rows_per_block, inner)))
                  for o in range(outer) for i in range(0, inner, rows_per_block)]
    else:
        step = max(1, rows_per_block // inner)
        blocks = [(slice(o, min(o + step, outer)), slice(0, inner)) for o in range(0, outer, step)]

    def gather(a3, os, is_):
        return np.ascontiguousarray(a3[os, :, is_].transpose(0, 2, 1)).reshape(-1, C)

    for os, is_ in blocks:
        x2 = gather(x3, os, is_)
        extras = [gather(a, os, is_) if a.ndim == 3 else np.ascontiguousarray(a[os, is_]).reshape(-1)
                  for a in extras3]
        block_loss = np.empty(x2.shape[0], np.float64)
        block_grad = None if grad is None else np.empty_like(x2)
        kernel(x2, extras, block_loss, block_grad)
        block_shape = loss2[os, is_].shape
        loss2[os, is_] = block_loss.reshape(block_shape)
        if grad3 is not None:
            grad3[os, :, is_] = block_grad.reshape(block_shape + (C,)).transpose(0, 2, 1)
    return loss.reshape(shape[:axis] + shape[axis + 1:]), grad


# ---------------------------------------------------------------- cross-entropy

def check_z_loss(z_loss):
    """z_loss as a float >= 0 (ValueError for a negative or nan one)."""
    value = real_scalar(z_loss, "z_loss")
    if not value >= 0:
        raise ValueError(f"z_loss must be >= 0, got {z_loss!r}")
    return value


def check_softcap(softcap):
    """softcap as a float > 0 and finite, or 0.0 for None (no capping)."""
    if softcap is None:
        return 0.0
    value = real_scalar(softcap, "softcap")
    if not 0 < value < np.inf:
        raise ValueError(f"softcap must be a finite number > 0 or None, got {softcap!r}")
    return value


def _capped_rows(kernel, z_loss, cap, scale, ignore_index, threads):
    """`kernel` (as _run_rows takes it) with the logits soft-capped at `cap`
    (0: not capped) and the z-loss added. Rows go in blocks of about
    _BLOCK_ELEMENTS elements: a block is capped into a buffer (the logits are
    never written), its log-sum-exps taken where z_loss is on, the kernel run
    on it, then _core.zloss_softcap_rows adds the z-loss and the cap's chain
    rule. ignore_index None: extras[0] holds probabilities, every row counts."""

    def capped_kernel(x2, extras, loss, grad):
        rows, n = x2.shape
        step = max(1, _BLOCK_ELEMENTS // max(n, 1))
        buffer = np.empty((min(step, rows), n), x2.dtype) if cap else None
        lse = np.empty(min(step, rows), x2.dtype) if z_loss else None
        for lo in range(0, rows, step):
            hi = min(lo + step, rows)
            xb = x2[lo:hi]
            if cap:
                xb = buffer[:hi - lo]
                np.copyto(xb, x2[lo:hi])
                _core.softcap_rows(xb, cap, threads)
            if z_loss:
                _core.logsumexp_last_axis(xb, lse[:hi - lo], threads)
            gb = None if grad is None else grad[lo:hi]
            extras_b = [e[lo:hi] for e in extras]
            kernel(xb, extras_b, loss[lo:hi], gb)
            _core.zloss_softcap_rows(xb, gb, None if ignore_index is None else extras_b[0],
                                     0 if ignore_index is None else ignore_index,
                                     None if lse is None else lse[:hi - lo], loss[lo:hi], z_loss,
                                     cap, scale, threads)

    return capped_kernel


def cross_entropy(logits, target, *, axis=-1, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0, z_loss=0.0, softcap=None, return_grad=False,
                  num_threads=None):
    """Cross-entropy between softmax(logits) along `axis` and the target, as
    torch.nn.functional.cross_entropy.

    Parameters
    ----------
    logits : array_like
        Unnormalised scores; `axis` is the class axis (C classes). For
        PyTorch's (N, C, d1, ...) layout pass axis=1.
    target : array_like
        Either integer class indices, of the logits' shape without the class
        axis, or class probabilities of the logits' shape (float).
    weight : array_like, optional
        Non-negative per-class weights, shape (C,).
    ignore_index : int, default -100
        Class-index targets equal to it add nothing (loss 0, gradient 0) and
        are left out of the 'mean' denominator.
    reduction : {'mean', 'sum', 'none'}
        'mean' with class indices divides by the sum of the weights of the
        non-ignored targets (their count without weights); all ignored gives
        nan (gradient 0). With probabilities it divides by the number of
        rows (the elements of the target without the class axis).
    label_smoothing : float in [0, 1]
        Mixes the target with the uniform distribution, as PyTorch.
    z_loss : float >= 0, default 0
        PaLM's z-loss: z_loss * lse**2 is added to the loss of every counted
        row (lse = log-sum-exp of the row's logits, after softcap), before
        the reduction (so 'mean' divides it by the same denominator).
    softcap : float > 0, optional
        Gemma 2's logit soft-capping: the loss is taken of
        softcap * tanh(logits / softcap); the gradient is w.r.t. the
        uncapped logits. Rows are capped in bounded blocks, never a copy of
        the whole input.
    return_grad : bool
        Also return the gradient of the reduced loss w.r.t. the logits,
        computed in the same pass over the logits.
    num_threads : int, optional
        Threads; None is the library default. Results do not depend on it.

    Returns
    -------
    loss : NumPy scalar of the logits' dtype, or array ('none')
    grad : ndarray, only with return_grad=True

    Examples
    --------
    >>> import numpy as np
    >>> import csoftmax
    >>> logits = np.array([[2.0, 0.0, 0.0], [0.0, 0.0, 3.0]])
    >>> round(float(csoftmax.cross_entropy(logits, np.array([0, 2]))), 10)
    0.1672338613
    >>> loss, grad = csoftmax.cross_entropy(logits, np.array([0, 2]), reduction="sum",
    ...                                     return_grad=True)
    >>> grad.round(4)
    array([[-0.213 ,  0.1065,  0.1065],
           [ 0.0453,  0.0453, -0.0906]])
    >>> round(float(csoftmax.cross_entropy(logits, np.array([0, 2]), z_loss=1e-4,
    ...                                    softcap=2.0)), 10)
    0.3228784013
    """
    if is_dask_array(logits):
        extra = {} if z_loss == 0.0 and softcap is None else dict(z_loss=z_loss, softcap=softcap)
        return lazy_through_dask(
            "cross_entropy", logits, (target,),
            dict(axis=axis, weight=weight, ignore_index=ignore_index, reduction=reduction,
                 label_smoothing=label_smoothing, return_grad=return_grad, **extra),
            num_threads=num_threads)
    x, rdtype = _float_input(logits, "logits")
    class_axis = _class_axis(axis, x.ndim)
    C = x.shape[class_axis]
    reduction = _check_reduction(reduction)
    eps = _check_smoothing(label_smoothing)
    z_loss = check_z_loss(z_loss)
    cap = check_softcap(softcap)
    ignore_index = _index_value(ignore_index, "ignore_index")
    threads = threads_for_call(num_threads, x.size)
    w = None if weight is None else _class_weights(weight, C, x.dtype)
    target_array = np.asarray(target)
    row_shape = x.shape[:class_axis] + x.shape[class_axis + 1:]

    if target_array.dtype.kind == "f" or _is_half(target_array.dtype):
        if target_array.shape != x.shape:
            indices = ""
            if target_array.shape == row_shape:
                indices = (f"; a target of shape {row_shape} holds class indices, which must "
                           f"have an integer dtype (got {target_array.dtype}): pass "
                           "target.astype(int)")
            raise ValueError(f"class-probability target has shape {target_array.shape}, "
                             f"expected the logits' shape {x.shape}{indices}")
        probs = target_array.astype(x.dtype, copy=False)
        rows = int(np.prod(row_shape, dtype=np.int64))
        scale = _grad_scale(reduction, rows)

        def kernel(x2, extras, loss, grad):
            _core.cross_entropy_prob_rows(x2, extras[0], w, loss, grad, eps, scale, threads)

        def cols_kernel(x3, extras, loss, grad):
            _core.cross_entropy_prob_cols(x3, extras[0], w, loss, grad, eps, scale, threads)

        if z_loss or cap:
            kernel = _capped_rows(kernel, z_loss, cap, scale, None, threads)
            cols_kernel = None
        row_losses, grad = _run_rows(kernel, x, class_axis, [probs], return_grad, cols_kernel)
        loss = _finish(row_losses, reduction, rows, rdtype, row_shape)
    else:
        labels = _class_labels(target_array, row_shape, C, ignore_index, x.shape)
        kept = labels != ignore_index
        if reduction == "mean":
            denominator = (np.sum(w[labels[kept]], dtype=np.float64) if w is not None
                           else float(np.count_nonzero(kept)))
        else:
            denominator = 1.0
        scale = _grad_scale(reduction, denominator)
        weight_sum = float(np.sum(w, dtype=np.float64)) if w is not None else float(C)

        params = (ignore_index, eps, weight_sum, scale, False, 0.0, 1.0, threads)

        def kernel(x2, extras, loss, grad):
            _core.cross_entropy_rows(x2, extras[0], w, loss, grad, *params)

        def cols_kernel(x3, extras, loss, grad):
            _core.cross_entropy_cols(x3, extras[0], w, loss, grad, *params)

        if z_loss or cap:
            kernel = _capped_rows(kernel, z_loss, cap, scale, ignore_index, threads)
            cols_kernel = None
        row_losses, grad = _run_rows(kernel, x, class_axis, [labels], return_grad, cols_kernel)
        loss = _finish(row_losses, reduction, denominator, rdtype, row_shape)
    if return_grad:
        return loss, _deliver_grad(grad, rdtype)
    return loss


def focal_loss(logits, target, *, gamma=2.0, alpha=None, axis=-1, ignore_index=-100,
               reduction="mean", return_grad=False, num_threads=None):
    """Multi-class softmax focal loss: -alpha_t (1 - p_t)**gamma log p_t, with
    p = softmax(logits) along `axis` and t the target class.

    gamma=0 and alpha=None give the cross-entropy. `alpha` is None (1), a
    scalar multiplying every class, or a per-class array of length C. Targets
    equal to `ignore_index` add nothing; 'mean' divides by the number of
    non-ignored targets (all ignored: nan, gradient 0). log p_t and 1 - p_t
    are formed without cancellation (1 - p_t = -expm1(log p_t)).

    Examples
    --------
    >>> import numpy as np
    >>> import csoftmax
    >>> logits = np.array([[2.0, 0.0, 0.0], [0.0, 0.0, 3.0]])
    >>> round(float(csoftmax.focal_loss(logits, np.array([0, 2]), gamma=0.0)), 10)
    0.1672338613
    >>> round(float(csoftmax.focal_loss(logits, np.array([0, 2]), gamma=2.0)), 10)
    0.0058238766
    """
    x, rdtype = _float_input(logits, "logits")
    class_axis = _class_axis(axis, x.ndim)
    C = x.shape[class_axis]
    reduction = _check_reduction(reduction)
    gamma = real_scalar(gamma, "gamma")
    if not gamma >= 0:
        raise ValueError(f"gamma must be >= 0, got {gamma!r}")
    ignore_index = _index_value(ignore_index, "ignore_index")
    alpha_array, alpha_scalar = None, 1.0
    if alpha is not None:
        if np.ndim(alpha) == 0:
            alpha_scalar = real_scalar(alpha, "alpha")
            if not alpha_scalar >= 0:
                raise ValueError(f"alpha must be non-negative, got {alpha!r}")
        else:
            alpha_array = _class_weights(alpha, C, x.dtype, "alpha")
    threads = threads_for_call(num_threads, x.size)
    row_shape = x.shape[:class_axis] + x.shape[class_axis + 1:]
    labels = _class_labels(target, row_shape, C, ignore_index, x.shape)
    denominator = float(np.count_nonzero(labels != ignore_index)) if reduction == "mean" else 1.0
    scale = _grad_scale(reduction, denominator)

    params = (ignore_index, 0.0, 0.0, scale, True, gamma, alpha_scalar, threads)

    def kernel(x2, extras, loss, grad):
        _core.cross_entropy_rows(x2, extras[0], alpha_array, loss, grad, *params)

    def cols_kernel(x3, extras, loss, grad):
        _core.cross_entropy_cols(x3, extras[0], alpha_array, loss, grad, *params)

    row_losses, grad = _run_rows(kernel, x, class_axis, [labels], return_grad, cols_kernel)
    loss = _finish(row_losses, reduction, denominator, rdtype, row_shape)
    if return_grad:
        return loss, _deliver_grad(grad, rdtype)
    return loss


def entropy(logits, axis=-1, *, reduction="none", num_threads=None):
    """Entropy of softmax(logits) along `axis`, in nats: -sum p log p.

    Computed stably as log(sum e) + sum(e (max - x)) / sum(e) with
    e = exp(x - max), from non-negative terms. 'mean' averages over the rows.

    Examples
    --------
    >>> import numpy as np
    >>> import csoftmax
    >>> csoftmax.entropy(np.array([[0.0, 0.0], [0.0, -1000.0]]))
    array([0.69314718, 0.        ])
    """
    x, rdtype = _float_input(logits, "logits")
    class_axis = _class_axis(axis, x.ndim)
    reduction = _check_reduction(reduction)
    threads = threads_for_call(num_threads, x.size)
    row_shape = x.shape[:class_axis] + x.shape[class_axis + 1:]

    def kernel(x2, extras, result, grad):
        _core.entropy_rows(x2, result, threads)

    row_values, _ = _run_rows(kernel, x, class_axis, [], False)
    if x.shape[class_axis] == 0:
        row_values.fill(np.nan)  # softmax of an empty slice is undefined
    return _finish(row_values, reduction, row_values.size, rdtype, row_shape)


# ---------------------------------------------------------------- NLL and KL

def nll_loss(log_probs, target, *, axis=-1, weight=None, ignore_index=-100, reduction="mean",
             return_grad=False, num_threads=None):
    """Negative log-likelihood of class-index targets, as
    torch.nn.functional.nll_loss: -weight[t] * log_probs[..., t, ...].

    `axis` is the class axis (axis=1 for PyTorch's (N, C, d1, ...) layout);
    targets of any integer dtype are accepted and validated as in
    `cross_entropy`; 'mean' divides by the sum of the weights of the
    non-ignored targets (all ignored: nan, gradient 0). The log-probabilities
    are read in place (one entry per row), not copied.

    Examples
    --------
    >>> import numpy as np
    >>> import csoftmax
    >>> log_probs = np.log(np.array([[0.5, 0.25, 0.25], [0.1, 0.1, 0.8]]))
    >>> round(float(csoftmax.nll_loss(log_probs, np.array([0, 2]))), 10)
    0.4581453659
    """
    x, rdtype = _float_input(log_probs, "log_probs")
    class_axis = _class_axis(axis, x.ndim)
    C = x.shape[class_axis]
    reduction = _check_reduction(reduction)
    ignore_index = _index_value(ignore_index, "ignore_index")
    row_shape = x.shape[:class_axis] + x.shape[class_axis + 1:]
    labels = _class_labels(target, row_shape, C, ignore_index, x.shape).reshape(-1)
    w = None if weight is None else _class_weights(weight, C, np.float64)
    threads = threads_for_call(num_threads, labels.size)
    geometry = Reduction(x.shape, (class_axis,))
    x3 = _strided_view(x, geometry.shape3)  # one entry per row is read: any strides do
    if x3 is None:
        x3 = np.ascontiguousarray(x).reshape(geometry.shape3)
    row_losses = np.empty(labels.size, np.float64)
    weight_sum = _core.nll_rows(x3, labels, w, ignore_index, row_losses, None, 0.0, threads)
    denominator = weight_sum if reduction == "mean" else 1.0
    loss = _finish(row_losses, reduction, denominator, rdtype, row_shape)
    if not return_grad:
        return loss
    grad = np.zeros(x.shape, x.dtype)
    _core.nll_rows(x3, labels, w, ignore_index, None, grad.reshape(geometry.shape3),
                   _grad_scale(reduction, denominator), threads)
    return loss, _deliver_grad(grad, rdtype)


# ---------------------------------------------------------------- element-wise driver

def _flat(a):
    """a as a flat C-order array if that is a view, else None."""
    if a.flags.c_contiguous and a.flags.aligned and a.dtype.isnative:
        return a.reshape(-1)
    return None


def _flat_block(a, lo, hi, dtype):
    """Elements [lo, hi) of a in C order, as a contiguous array of `dtype`
    (a copy of that block only)."""
    flat = _flat(a)
    block = flat[lo:hi] if flat is not None else a.flat[lo:hi]
    return np.ascontiguousarray(block, dtype=dtype)


def _strided_view(a, shape):
    """a reshaped to `shape` without a copy, if its strides allow that and are
    whole, aligned elements; else None."""
    if not (a.flags.aligned and a.dtype.isnative):
        return None
    try:
        view = np.reshape(a, shape, copy=False)
    except TypeError:  # pragma: no cover - NumPy < 2.1 has no copy=
        view = a.view()
        try:
            view.shape = shape
        except AttributeError:
            return None
    except ValueError:
        return None
    return view if all(s % a.itemsize == 0 for s in view.strides) else None


def _grid_operand(b, rows, n):
    """(array, row_step, col_step) addressing the broadcast operand b (of the
    logits' shape) on the (rows, n) grid without a copy, or None if its strides
    do not allow that."""
    view = _strided_view(b, (rows, n))
    if view is None:
        return None
    item = b.itemsize
    row_stride, col_stride = view.strides
    if n > 1 and col_stride not in (0, item):
        return None
    return view, row_stride // item, (col_stride // item if n > 1 else 0)


def _run_elementwise(kind, x, t, reduction, denominator, rdtype, return_grad, threads,
                     weight=None, pos_weight=None, gamma=0.0, alpha=0.0):
    """An element-wise loss in the compiled kernel (_core.elementwise_loss):
    returns the reduced loss or the losses ('none'), and the gradient if
    return_grad. weight/pos_weight: None or broadcast views of x's shape.

    Contiguous x and t with operands that are absent, one value per row or
    column, or full arrays run in one call; anything else runs in blocks of
    _BLOCK_ELEMENTS elements (each operand's block copied, never a whole one)."""
    shape, dtype = x.shape, x.dtype
    size = x.size
    n = shape[-1] if x.ndim and shape[-1] else 1
    rows = size // n if n else 0
    scale = _grad_scale(reduction, denominator)
    losses = np.empty(shape, dtype) if reduction == "none" else None
    grad = np.empty(shape, dtype) if return_grad else None
    flat_losses = None if losses is None else losses.reshape(-1)
    flat_grad = None if grad is None else grad.reshape(-1)
    xf, tf = _flat(x), _flat(t)
    operands = [None if b is None else _grid_operand(b, rows, n) for b in (weight, pos_weight)]
    direct = (xf is not None and tf is not None
              and all(o is not None or b is None for o, b in zip(operands, (weight, pos_weight))))
    if direct:
        (w, w_rs, w_cs), (q, q_rs, q_cs) = (o if o is not None else (None, 0, 0)
                                            for o in operands)
        total = _core.elementwise_loss(kind, xf, tf, n, w, w_rs, w_cs, q, q_rs, q_cs, gamma,
                                       alpha, scale, flat_losses, flat_grad, threads)
    else:
        total = 0.0
        for lo in range(0, size, _BLOCK_ELEMENTS):
            hi = min(lo + _BLOCK_ELEMENTS, size)
            blocks = [None if b is None else _flat_block(b, lo, hi, dtype)
                      for b in (weight, pos_weight)]
            w, q = blocks
            total += _core.elementwise_loss(
                kind, _flat_block(x, lo, hi, dtype), _flat_block(t, lo, hi, dtype), hi - lo,
                w, 0, 1, q, 0, 1, gamma, alpha, scale,
                None if flat_losses is None else flat_losses[lo:hi],
                None if flat_grad is None else flat_grad[lo:hi], threads)
    if losses is not None:
        with np.errstate(over="ignore"):  # float16 losses may round to +-inf
            loss = losses.astype(rdtype, copy=False)
    else:
        total = np.float64(total)
        if reduction != "sum":
            with np.errstate(invalid="ignore", divide="ignore"):
                total = total / denominator
        with np.errstate(over="ignore"):
            loss = rdtype.type(total)
    if not return_grad:
        return loss
    return loss, _deliver_grad(grad, rdtype)


def _real_target(target, dtype):
    t = as_numeric_array(target, "target")
    if t.dtype.kind == "c":
        raise TypeError(f"target must be real, got complex dtype {t.dtype}")
    with np.errstate(over="ignore"):  # beyond float32's range: inf, without a warning
        return t.astype(dtype, copy=False)


def kl_div(input, target, *, reduction="mean", log_target=False, return_grad=False,
           num_threads=None):
    """Kullback-Leibler divergence as torch.nn.functional.kl_div: `input` holds
    log-probabilities, `target` probabilities (log-probabilities with
    log_target=True); pointwise target * (log target - input), 0 where the
    target is 0.

    reduction: 'mean' (over all elements, PyTorch's default), 'batchmean'
    (sum / input.shape[0], the true KL divergence per sample), 'sum', 'none'.
    The gradient is w.r.t. `input`.

    Examples
    --------
    >>> import numpy as np
    >>> import csoftmax
    >>> p = np.array([[0.5, 0.5]])
    >>> round(float(csoftmax.kl_div(np.log(np.array([[0.25, 0.75]])), p, reduction="batchmean")), 10)
    0.1438410362
    """
    x, rdtype = _float_input(input, "input")
    t = _real_target(target, x.dtype)
    _same_shape(x, t, "input", "target")
    reduction = _check_reduction(reduction, ("none", "mean", "sum", "batchmean"))
    if reduction == "batchmean":
        denominator = x.shape[0] if x.ndim else 1
    else:
        denominator = x.size
    threads = threads_for_call(num_threads, x.size)
    kind = _core.ELEM_KL_LOG if log_target else _core.ELEM_KL
    return _run_elementwise(kind, x, t, reduction, denominator, rdtype, return_grad, threads)


# ---------------------------------------------------------------- sigmoid family

def _logistic(x, out, log, num_threads):
    a, rdtype = _float_input(x, "x")
    if out is not None:
        check_out(out, a.shape, rdtype)
    threads = threads_for_call(num_threads, a.size)
    target = None
    if out is not None and out.dtype == a.dtype and _flat(out) is not None:
        if not np.may_share_memory(out, a) or same_memory_layout(out, a):
            target = out
    result = target if target is not None else np.empty(a.shape, a.dtype)
    af = _flat(a)
    if af is not None:
        _core.logistic(af, result.reshape(-1), log, threads)
    else:  # any layout: contiguous blocks
        flat_result = result.reshape(-1)
        for lo in range(0, a.size, _BLOCK_ELEMENTS):
            hi = min(lo + _BLOCK_ELEMENTS, a.size)
            _core.logistic(_flat_block(a, lo, hi, a.dtype), flat_result[lo:hi], log, threads)
    if out is not None:
        if result is not out:
            with np.errstate(over="ignore"):  # float16 results may round to +-inf
                np.copyto(out, result, casting="unsafe")
        return out
    with np.errstate(over="ignore"):  # float16 results may round to +-inf
        result = result.astype(rdtype, copy=False)
    return result[()] if result.ndim == 0 else result


def sigmoid(x, *, out=None, num_threads=None):
    """The logistic function 1 / (1 + exp(-x)), without overflow: exp is only
    taken of -|x|.

    Examples
    --------
    >>> import numpy as np
    >>> import csoftmax
    >>> csoftmax.sigmoid(np.array([-1000.0, 0.0, 2.0]))
    array([0.        , 0.5       , 0.88079708])
    """
    return _logistic(x, out, False, num_threads)


def log_sigmoid(x, *, out=None, num_threads=None):
    """log(sigmoid(x)) = -log(1 + exp(-x)), exact for large |x| (x for very
    negative x, -exp(-x) for large x).

    Examples
    --------
    >>> import numpy as np
    >>> import csoftmax
    >>> csoftmax.log_sigmoid(np.array([-1000.0, 0.0, 40.0]))
    array([-1.00000000e+03, -6.93147181e-01, -4.24835426e-18])
    """
    return _logistic(x, out, True, num_threads)


def _broadcast_operand(value, shape, dtype, what):
    array = as_numeric_array(value, what)
    if array.dtype.kind == "c":
        raise TypeError(f"{what} must be real, got complex dtype {array.dtype}")
    try:
        with np.errstate(over="ignore"):  # beyond float32's range: inf, without a warning
            return np.broadcast_to(array.astype(dtype, copy=False), shape)
    except ValueError:
        raise ValueError(f"{what} with shape {array.shape} does not broadcast to the logits' "
                         f"shape {shape}") from None


def binary_cross_entropy_with_logits(logits, target, *, weight=None, pos_weight=None,
                                     reduction="mean", return_grad=False, num_threads=None):
    """Binary cross-entropy on logits, as
    torch.nn.functional.binary_cross_entropy_with_logits:
    weight * (pos_weight * t * softplus(-x) + (1 - t) * softplus(x)).

    Both terms are non-negative and softplus is taken in its exact form, so
    the loss is finite and exact for logits of any size (1e4 included).
    `weight` broadcasts to the logits, `pos_weight` along the last axis.
    'mean' averages over all elements.

    Examples
    --------
    >>> import numpy as np
    >>> import csoftmax
    >>> x = np.array([1e4, -1e4, 0.0])
    >>> t = np.array([1.0, 1.0, 0.5])
    >>> csoftmax.binary_cross_entropy_with_logits(x, t, reduction="none")
    array([0.00000000e+00, 1.00000000e+04, 6.93147181e-01])
    """
    x, rdtype = _float_input(logits, "logits")
    t = _real_target(target, x.dtype)
    _same_shape(x, t, "logits", "target")
    reduction = _check_reduction(reduction)
    w = None if weight is None else _broadcast_operand(weight, x.shape, x.dtype, "weight")
    pw = None if pos_weight is None else _broadcast_operand(pos_weight, x.shape, x.dtype,
                                                            "pos_weight")
    threads = threads_for_call(num_threads, x.size)
    return _run_elementwise(_core.ELEM_BCE, x, t, reduction, x.size, rdtype, return_grad,
                            threads, weight=w, pos_weight=pw)


def sigmoid_focal_loss(logits, target, *, gamma=2.0, alpha=0.25, reduction="none",
                       return_grad=False, num_threads=None):
    """Sigmoid focal loss of torchvision.ops.sigmoid_focal_loss:
    alpha_t * BCE(x, t) * (1 - p_t)**gamma, with p = sigmoid(x),
    p_t = p t + (1 - p)(1 - t), alpha_t = alpha t + (1 - alpha)(1 - t);
    alpha < 0 turns the alpha weighting off. 1 - p_t is formed as
    t sigmoid(-x) + (1 - t) sigmoid(x) (no cancellation).

    Examples
    --------
    >>> import numpy as np
    >>> import csoftmax
    >>> csoftmax.sigmoid_focal_loss(np.array([0.0, 3.0]), np.array([1.0, 0.0]))
    array([0.0433217 , 2.07471033])
    """
    x, rdtype = _float_input(logits, "logits")
    t = _real_target(target, x.dtype)
    _same_shape(x, t, "logits", "target")
    reduction = _check_reduction(reduction)
    gamma = real_scalar(gamma, "gamma")
    if not gamma >= 0:
        raise ValueError(f"gamma must be >= 0, got {gamma!r}")
    alpha = real_scalar(alpha, "alpha")
    threads = threads_for_call(num_threads, x.size)
    return _run_elementwise(_core.ELEM_SIGMOID_FOCAL, x, t, reduction, x.size, rdtype,
                            return_grad, threads, gamma=gamma, alpha=alpha)


# ---------------------------------------------------------------- backward functions

def _backward_operands(grad_output, output, axis):
    g, rdtype = _float_input(grad_output, "grad_output")
    y, ydtype = _float_input(output, "output")
    _same_shape(y, g, "output", "grad_output")
    rdtype = np.promote_types(rdtype, ydtype)
    cdtype = compute_dtype(rdtype)
    return g.astype(cdtype, copy=False), y.astype(cdtype, copy=False), rdtype, \
        _class_axis(axis, max(y.ndim, 1))


def _backward(grad_output, output, axis, out, log, num_threads):
    """dx of softmax (log=False) or log_softmax (log=True) in the compiled row
    or column kernel over the (outer, n, inner) view of the class axis."""
    g, y, rdtype, axis = _backward_operands(grad_output, output, axis)
    if out is not None:
        check_out(out, y.shape, rdtype)
    shape = y.shape if y.ndim else (1,)
    geometry = Reduction(shape, (axis,))
    g3 = geometry.input3(g.reshape(shape))
    y3 = geometry.input3(y.reshape(shape))
    out3 = None
    if out is not None and out.dtype == y.dtype:
        out3 = geometry.view3(out.reshape(shape)) if out.ndim else None
        if out3 is not None and any(np.may_share_memory(out3, a) and not same_memory_layout(out3, a)
                                    for a in (g3, y3)):
            out3 = None
    if out3 is not None:
        result = out
    else:
        result, out3 = geometry.new_output(y.dtype)
    threads = threads_for_call(num_threads, y.size)
    _core.softmax_backward(g3, y3, out3, log, threads)
    if result is out:
        return out
    result = result.reshape(y.shape)
    with np.errstate(over="ignore"):  # float16 results may round to +-inf
        if out is not None:
            np.copyto(out, result, casting="unsafe")
            return out
        return result.astype(rdtype, copy=False)


def softmax_backward(grad_output, output, axis=-1, *, out=None, num_threads=None):
    """Gradient through y = softmax(x) along `axis`: dx = y * (g - sum(g * y)).

    `output` is the softmax's result y, `grad_output` the gradient g w.r.t. y.
    `out` may be grad_output or output itself (in place).

    Examples
    --------
    >>> import numpy as np
    >>> import csoftmax
    >>> y = csoftmax.softmax(np.array([1.0, 2.0, 3.0]))
    >>> csoftmax.softmax_backward(np.array([1.0, 0.0, 0.0]), y)
    array([ 0.08192507, -0.02203304, -0.05989202])
    """
    return _backward(grad_output, output, axis, out, False, num_threads)


def log_softmax_backward(grad_output, output, axis=-1, *, out=None, num_threads=None):
    """Gradient through y = log_softmax(x) along `axis`: dx = g - exp(y) * sum(g).

    Examples
    --------
    >>> import numpy as np
    >>> import csoftmax
    >>> y = csoftmax.log_softmax(np.array([1.0, 2.0, 3.0]))
    >>> csoftmax.log_softmax_backward(np.array([1.0, 0.0, 0.0]), y)
    array([ 0.90996943, -0.24472847, -0.66524096])
    """
    return _backward(grad_output, output, axis, out, True, num_threads)


# ---------------------------------------------------------------- one-hot, hardmax

def one_hot(labels, num_classes=None, *, dtype=np.float32):
    """One-hot encoding: an array of labels.shape + (num_classes,) with 1 at
    each label. num_classes=None uses max(labels) + 1. A label outside
    [0, num_classes) raises IndexError.

    Examples
    --------
    >>> import csoftmax
    >>> csoftmax.one_hot([0, 2], 3)
    array([[1., 0., 0.],
           [0., 0., 1.]], dtype=float32)
    """
    labels = np.asarray(labels)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"labels must have an integer dtype, got {labels.dtype}")
    if num_classes is None:  # (negative labels are reported as such below)
        num_classes = max(int(labels.max()) + 1, 0) if labels.size else 0
    num_classes = _index_value(num_classes, "num_classes")
    if num_classes < 0:
        raise ValueError(f"num_classes must be >= 0, got {num_classes}")
    bad = labels >= num_classes
    if labels.dtype.kind == "i":
        bad |= labels < 0
    if bad.any():
        position = tuple(int(i) for i in np.unravel_index(np.flatnonzero(bad)[0], labels.shape))
        raise IndexError(f"label {labels[position]} at position {position} is out of range "
                         f"for {num_classes} classes")
    result = np.zeros(labels.shape + (num_classes,), dtype)
    if labels.size:
        np.put_along_axis(result, labels[..., None].astype(np.intp), 1, axis=-1)
    return result


def hardmax(x, axis=-1):
    """One-hot of the argmax along `axis` (the first maximum wins ties), in
    the input's float dtype (integers and bool give float64).

    Examples
    --------
    >>> import numpy as np
    >>> import csoftmax
    >>> csoftmax.hardmax(np.array([[1.0, 3.0, 3.0], [2.0, 0.0, 1.0]], dtype=np.float32))
    array([[0., 1., 0.],
           [1., 0., 0.]], dtype=float32)
    """
    a = as_numeric_array(x)
    if a.dtype.kind == "c":
        raise TypeError(f"x must be real, got complex dtype {a.dtype}")
    rdtype = result_dtype(a.dtype)
    if a.ndim == 0:
        return rdtype.type(1)
    axis = _class_axis(axis, a.ndim)
    result = np.zeros(a.shape, rdtype)
    if a.size:
        index = np.argmax(a, axis=axis, keepdims=True)
        np.put_along_axis(result, index, 1, axis=axis)
    return result
