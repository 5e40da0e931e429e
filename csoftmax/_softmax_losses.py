"""Losses on the softmax of each row: cross-entropy (class indices or class
probabilities, with label smoothing, z-loss and logit soft-capping), the
multi-class focal loss and the entropy.

They run in the compiled row kernels of csoftmax._core, which compute a row's
loss and its gradient in one pass over the logits; rows along a class axis
that is not the last are taken in place by the column kernels or gathered in
bounded blocks (csoftmax._layout.run_rows). No loss-only call allocates a
temporary as large as the logits.

Conventions: reduced losses are NumPy scalars of the logits' dtype, 'none'
keeps it; with return_grad=True the gradient of the reduced loss (of
loss.sum() for 'none') w.r.t. the logits comes back beside the loss, in the
logits' shape and dtype. float16 and bfloat16 are computed in float32.
Per-row losses are summed in a fixed order, so results are bitwise identical
for any thread count.
"""
import numpy as np

from . import _core
from ._dtypes import is_half
from ._layout import BLOCK_ELEMENTS, run_rows
from ._reductions import deliver_grad, finish, grad_scale
from ._threads import threads_for_call
from ._validate import (
    check_reduction, check_smoothing, check_softcap, check_z_loss, class_labels, class_weights,
    index_value, is_dask_array, lazy_through_dask, logits_with_class_axis, non_negative_scalar,
    real_scalar,
)

__all__ = ["cross_entropy", "entropy", "focal_loss"]


def _capped_rows(kernel, z_loss, cap, scale, ignore_index, threads):
    """`kernel` (as run_rows takes it) with the logits soft-capped at `cap`
    (0: not capped) and the z-loss added. Rows go in blocks of about
    BLOCK_ELEMENTS elements: a block is capped into a buffer (the logits are
    never written), its log-sum-exps taken where z_loss is on, the kernel run
    on it, then _core.zloss_softcap_rows adds the z-loss and the cap's chain
    rule. ignore_index None: extras[0] holds probabilities, every row counts."""

    def capped_kernel(x2, extras, loss, grad):
        rows, n = x2.shape
        step = max(1, BLOCK_ELEMENTS // max(n, 1))
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
    x, rdtype, class_axis, row_shape = logits_with_class_axis(logits, axis)
    C = x.shape[class_axis]
    reduction = check_reduction(reduction)
    eps = check_smoothing(label_smoothing)
    z_loss = check_z_loss(z_loss)
    cap = check_softcap(softcap)
    ignore_index = index_value(ignore_index, "ignore_index")
    threads = threads_for_call(num_threads, x.size)
    w = None if weight is None else class_weights(weight, C, x.dtype)
    target_array = np.asarray(target)

    if target_array.dtype.kind == "f" or is_half(target_array.dtype):
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
        scale = grad_scale(reduction, rows)

        def kernel(x2, extras, loss, grad):
            _core.cross_entropy_prob_rows(x2, extras[0], w, loss, grad, eps, scale, threads)

        def cols_kernel(x3, extras, loss, grad):
            _core.cross_entropy_prob_cols(x3, extras[0], w, loss, grad, eps, scale, threads)

        if z_loss or cap:
            kernel = _capped_rows(kernel, z_loss, cap, scale, None, threads)
            cols_kernel = None
        row_losses, grad = run_rows(kernel, x, class_axis, [probs], return_grad, cols_kernel)
        loss = finish(row_losses, reduction, rows, rdtype, row_shape)
    else:
        labels = class_labels(target_array, row_shape, C, ignore_index, x.shape)
        kept = labels != ignore_index
        if reduction == "mean":
            denominator = (np.sum(w[labels[kept]], dtype=np.float64) if w is not None
                           else float(np.count_nonzero(kept)))
        else:
            denominator = 1.0
        scale = grad_scale(reduction, denominator)
        weight_sum = float(np.sum(w, dtype=np.float64)) if w is not None else float(C)

        params = (ignore_index, eps, weight_sum, scale, False, 0.0, 1.0, threads)

        def kernel(x2, extras, loss, grad):
            _core.cross_entropy_rows(x2, extras[0], w, loss, grad, *params)

        def cols_kernel(x3, extras, loss, grad):
            _core.cross_entropy_cols(x3, extras[0], w, loss, grad, *params)

        if z_loss or cap:
            kernel = _capped_rows(kernel, z_loss, cap, scale, ignore_index, threads)
            cols_kernel = None
        row_losses, grad = run_rows(kernel, x, class_axis, [labels], return_grad, cols_kernel)
        loss = finish(row_losses, reduction, denominator, rdtype, row_shape)
    if return_grad:
        return loss, deliver_grad(grad, rdtype)
    return loss


def focal_loss(logits, target, *, gamma=2.0, alpha=None, axis=-1, ignore_index=-100,
               reduction="mean", return_grad=False, num_threads=None):
    """Multi-class softmax focal loss: -alpha_t (1 - p_t)**gamma log p_t, with
    p = softmax(logits) along `axis` and t the target class.

    gamma=0 and alpha=None give the cross-entropy. `alpha` is None (1), a
    scalar multiplying every class, or a per-class array of length C. Targets
    equal to `ignore_index` add nothing; 'mean' divides by the number of
    non-ignored targets (all ignored: nan, gradient 0).

    1 - p_t is formed without cancellation, as the other classes' share of
    the row's sum of exps, (sum - e_t) / sum; log p_t is log1p(-(1 - p_t))
    where 1 - p_t < 1/2, else x_t - max - log(sum exp(x - max)). The
    gradient is alpha_t (gamma (1 - p_t)**gamma p_t log(p_t) / (1 - p_t)
    - (1 - p_t)**gamma) ([j == t] - p_j), whose ratio log(p_t) / (1 - p_t)
    tends to -1 as p_t tends to 1.

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
    x, rdtype, class_axis, row_shape = logits_with_class_axis(logits, axis)
    C = x.shape[class_axis]
    reduction = check_reduction(reduction)
    gamma = non_negative_scalar(gamma, "gamma")
    ignore_index = index_value(ignore_index, "ignore_index")
    alpha_array, alpha_scalar = None, 1.0
    if alpha is not None:
        if np.ndim(alpha) == 0:
            alpha_scalar = real_scalar(alpha, "alpha")
            if not alpha_scalar >= 0:
                raise ValueError(f"alpha must be non-negative, got {alpha!r}")
        else:
            alpha_array = class_weights(alpha, C, x.dtype, "alpha")
    threads = threads_for_call(num_threads, x.size)
    labels = class_labels(target, row_shape, C, ignore_index, x.shape)
    denominator = float(np.count_nonzero(labels != ignore_index)) if reduction == "mean" else 1.0
    scale = grad_scale(reduction, denominator)

    params = (ignore_index, 0.0, 0.0, scale, True, gamma, alpha_scalar, threads)

    def kernel(x2, extras, loss, grad):
        _core.cross_entropy_rows(x2, extras[0], alpha_array, loss, grad, *params)

    def cols_kernel(x3, extras, loss, grad):
        _core.cross_entropy_cols(x3, extras[0], alpha_array, loss, grad, *params)

    row_losses, grad = run_rows(kernel, x, class_axis, [labels], return_grad, cols_kernel)
    loss = finish(row_losses, reduction, denominator, rdtype, row_shape)
    if return_grad:
        return loss, deliver_grad(grad, rdtype)
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
    x, rdtype, class_axis, row_shape = logits_with_class_axis(logits, axis)
    reduction = check_reduction(reduction)
    threads = threads_for_call(num_threads, x.size)

    def kernel(x2, extras, result, grad):
        _core.entropy_rows(x2, result, threads)

    row_values, _ = run_rows(kernel, x, class_axis, [], False)
    if x.shape[class_axis] == 0:
        row_values.fill(np.nan)  # softmax of an empty slice is undefined
    return finish(row_values, reduction, row_values.size, rdtype, row_shape)
