"""Element-wise losses and the logistic function: KL divergence, binary
cross-entropy on logits, the sigmoid focal loss, sigmoid and log_sigmoid.

Each runs in one compiled kernel (csoftmax._core.elementwise_loss or
_core.logistic) over flat, contiguous operands; other layouts go in blocks
of csoftmax._layout.BLOCK_ELEMENTS elements, each block copied, never a
whole operand. Sums are taken in fixed chunks, in order, so results are
bitwise identical for any thread count.
"""
import numpy as np

from . import _core
from ._layout import (
    BLOCK_ELEMENTS, check_out, flat_block, flat_view, grid_operand, same_memory_layout,
)
from ._reductions import deliver_grad, grad_scale
from ._threads import threads_for_call
from ._validate import (
    as_numeric_array, check_reduction, float_input, non_negative_scalar, real_scalar,
    real_target, same_shape,
)

__all__ = ["binary_cross_entropy_with_logits", "kl_div", "log_sigmoid", "sigmoid",
           "sigmoid_focal_loss"]


def _run_elementwise(kind, x, t, reduction, denominator, rdtype, return_grad, threads,
                     weight=None, pos_weight=None, gamma=0.0, alpha=0.0):
    """An element-wise loss in the compiled kernel (_core.elementwise_loss):
    returns the reduced loss or the losses ('none'), and the gradient if
    return_grad. weight/pos_weight: None or broadcast views of x's shape.

    Contiguous x and t with operands that are absent, one value per row or
    column, or full arrays run in one call; anything else runs in blocks of
    BLOCK_ELEMENTS elements (each operand's block copied, never a whole one)."""
    shape, dtype = x.shape, x.dtype
    size = x.size
    n = shape[-1] if x.ndim and shape[-1] else 1
    rows = size // n if n else 0
    scale = grad_scale(reduction, denominator)
    losses = np.empty(shape, dtype) if reduction == "none" else None
    grad = np.empty(shape, dtype) if return_grad else None
    flat_losses = None if losses is None else losses.reshape(-1)
    flat_grad = None if grad is None else grad.reshape(-1)
    xf, tf = flat_view(x), flat_view(t)
    operands = [None if b is None else grid_operand(b, rows, n) for b in (weight, pos_weight)]
    direct = (xf is not None and tf is not None
              and all(o is not None or b is None for o, b in zip(operands, (weight, pos_weight))))
    if direct:
        (w, w_rs, w_cs), (q, q_rs, q_cs) = (o if o is not None else (None, 0, 0)
                                            for o in operands)
        total = _core.elementwise_loss(kind, xf, tf, n, w, w_rs, w_cs, q, q_rs, q_cs, gamma,
                                       alpha, scale, flat_losses, flat_grad, threads)
    else:
        total = 0.0
        for lo in range(0, size, BLOCK_ELEMENTS):
            hi = min(lo + BLOCK_ELEMENTS, size)
            blocks = [None if b is None else flat_block(b, lo, hi, dtype)
                      for b in (weight, pos_weight)]
            w, q = blocks
            total += _core.elementwise_loss(
                kind, flat_block(x, lo, hi, dtype), flat_block(t, lo, hi, dtype), hi - lo,
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
    return loss, deliver_grad(grad, rdtype)


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
    x, rdtype = float_input(input, "input")
    t = real_target(target, x.dtype)
    same_shape(x, t, "input", "target")
    reduction = check_reduction(reduction, ("none", "mean", "sum", "batchmean"))
    if reduction == "batchmean":
        denominator = x.shape[0] if x.ndim else 1
    else:
        denominator = x.size
    threads = threads_for_call(num_threads, x.size)
    kind = _core.ELEM_KL_LOG if log_target else _core.ELEM_KL
    return _run_elementwise(kind, x, t, reduction, denominator, rdtype, return_grad, threads)


def _logistic(x, out, log, num_threads):
    a, rdtype = float_input(x, "x")
    if out is not None:
        check_out(out, a.shape, rdtype)
    threads = threads_for_call(num_threads, a.size)
    target = None
    if out is not None and out.dtype == a.dtype and flat_view(out) is not None:
        if not np.may_share_memory(out, a) or same_memory_layout(out, a):
            target = out
    result = target if target is not None else np.empty(a.shape, a.dtype)
    af = flat_view(a)
    if af is not None:
        _core.logistic(af, result.reshape(-1), log, threads)
    else:  # any layout: contiguous blocks
        flat_result = result.reshape(-1)
        for lo in range(0, a.size, BLOCK_ELEMENTS):
            hi = min(lo + BLOCK_ELEMENTS, a.size)
            _core.logistic(flat_block(a, lo, hi, a.dtype), flat_result[lo:hi], log, threads)
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
    x, rdtype = float_input(logits, "logits")
    t = real_target(target, x.dtype)
    same_shape(x, t, "logits", "target")
    reduction = check_reduction(reduction)
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
    x, rdtype = float_input(logits, "logits")
    t = real_target(target, x.dtype)
    same_shape(x, t, "logits", "target")
    reduction = check_reduction(reduction)
    gamma = non_negative_scalar(gamma, "gamma")
    alpha = real_scalar(alpha, "alpha")
    threads = threads_for_call(num_threads, x.size)
    return _run_elementwise(_core.ELEM_SIGMOID_FOCAL, x, t, reduction, x.size, rdtype,
                            return_grad, threads, gamma=gamma, alpha=alpha)
