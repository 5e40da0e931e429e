"""The negative log-likelihood of class-index targets and the backward
functions of softmax and log_softmax, each one compiled call over the
(outer, n, inner) view of the class axis (the arrays are read in place where
their strides allow it)."""
import numpy as np

from . import _core
from ._dtypes import compute_dtype
from ._layout import Reduction, check_out, same_memory_layout, strided_view
from ._reductions import deliver_grad, finish, grad_scale
from ._threads import threads_for_call
from ._validate import (
    check_reduction, class_axis_index, class_labels, class_weights, float_input, index_value,
    logits_with_class_axis, same_shape,
)

__all__ = ["log_softmax_backward", "nll_loss", "softmax_backward"]


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
    x, rdtype, class_axis, row_shape = logits_with_class_axis(log_probs, axis, "log_probs")
    C = x.shape[class_axis]
    reduction = check_reduction(reduction)
    ignore_index = index_value(ignore_index, "ignore_index")
    labels = class_labels(target, row_shape, C, ignore_index, x.shape).reshape(-1)
    w = None if weight is None else class_weights(weight, C, np.float64)
    threads = threads_for_call(num_threads, labels.size)
    geometry = Reduction(x.shape, (class_axis,))
    x3 = strided_view(x, geometry.shape3)  # one entry per row is read: any strides do
    if x3 is None:
        x3 = np.ascontiguousarray(x).reshape(geometry.shape3)
    row_losses = np.empty(labels.size, np.float64)
    weight_sum = _core.nll_rows(x3, labels, w, ignore_index, row_losses, None, 0.0, threads)
    denominator = weight_sum if reduction == "mean" else 1.0
    loss = finish(row_losses, reduction, denominator, rdtype, row_shape)
    if not return_grad:
        return loss
    grad = np.zeros(x.shape, x.dtype)
    _core.nll_rows(x3, labels, w, ignore_index, None, grad.reshape(geometry.shape3),
                   grad_scale(reduction, denominator), threads)
    return loss, deliver_grad(grad, rdtype)


def _backward_operands(grad_output, output, axis):
    g, rdtype = float_input(grad_output, "grad_output")
    y, ydtype = float_input(output, "output")
    same_shape(y, g, "output", "grad_output")
    rdtype = np.promote_types(rdtype, ydtype)
    cdtype = compute_dtype(rdtype)
    return g.astype(cdtype, copy=False), y.astype(cdtype, copy=False), rdtype, \
        class_axis_index(axis, max(y.ndim, 1))


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
