"""How per-row losses become the returned loss: the fixed-order reduction,
the gradient's scale for a reduction, and the gradient in the result dtype."""
import numpy as np

__all__ = ["deliver_grad", "finish", "grad_scale"]


def finish(row_losses, reduction, denominator, rdtype, shape):
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


def grad_scale(reduction, denominator):
    """d reduced loss / d per-row loss; 0 where a mean has nothing to average."""
    if reduction == "mean" or reduction == "batchmean":
        return 1.0 / denominator if denominator != 0 else 0.0
    return 1.0


def deliver_grad(grad, rdtype):
    """The gradient in the result dtype (a copy only where the dtypes differ)."""
    with np.errstate(over="ignore"):  # float16 gradients may round to +-inf
        return grad if grad.dtype == rdtype else grad.astype(rdtype)
