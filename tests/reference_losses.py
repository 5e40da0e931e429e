"""Slow, plain-NumPy oracles of csoftmax's losses (PyTorch's semantics).

Everything is evaluated in numpy.longdouble (80-bit extended on x86-64) from
the textbook formulas and returned as float64 (loss, gradient), so that the
tolerances of the tests measure csoftmax alone. Gradients here are the
textbook ones, written as "predicted distribution minus target distribution"
(softmax losses) or from the pointwise derivative; the tests also check
csoftmax's gradients against finite differences and torch autograd, which
do not depend on these formulas.
"""

import numpy as np

LD = np.longdouble


def _reduce(values, grad_rows, reduction, denominator):
    """(reduced loss, gradient of it) from per-element losses and their gradients."""
    if reduction == "none":
        return values.astype(np.float64), grad_rows.astype(np.float64)
    total = values.sum()
    if reduction == "sum":
        return np.float64(total), grad_rows.astype(np.float64)
    if denominator == 0:
        return np.float64(np.nan), np.zeros(grad_rows.shape)
    return np.float64(total / LD(denominator)), (grad_rows / LD(denominator)).astype(np.float64)


def log_softmax(x, axis=-1):
    x = np.asarray(x, LD)
    m = np.max(x, axis=axis, keepdims=True)
    return (x - m) - np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))


def cross_entropy(x, target, axis=-1, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0):
    """Loss and gradient w.r.t. x. Each row's loss is -sum_c q_c log p_c for a
    target distribution q (weighted, smoothed); its gradient is sum(q) p - q."""
    x = np.moveaxis(np.asarray(x, LD), axis, -1)
    C = x.shape[-1]
    logp = log_softmax(x)
    w = np.ones(C, LD) if weight is None else np.asarray(weight, LD)
    eps = LD(label_smoothing)
    target = np.asarray(target)
    if target.dtype.kind == "f":
        q = (np.moveaxis(np.asarray(target, LD), axis, -1) * (1 - eps) + eps / C) * w
        denominator = x[..., 0].size
    else:
        kept = target != ignore_index
        safe = np.where(kept, target, 0)
        q = (1 - eps) * np.eye(C, dtype=LD)[safe] * w[safe][..., None] + eps / C * w
        q = q * kept[..., None]
        denominator = np.sum(w[safe] * kept)
    values = -np.sum(np.where(q == 0, 0, q * logp), axis=-1)
    grad = np.sum(q, axis=-1, keepdims=True) * np.exp(logp) - q
    loss, grad = _reduce(values, grad, reduction, denominator)
    return loss, np.moveaxis(grad, -1, axis)


def nll_loss(log_probs, target, axis=-1, weight=None, ignore_index=-100, reduction="mean"):
    x = np.moveaxis(np.asarray(log_probs, LD), axis, -1)
    C = x.shape[-1]
    w = np.ones(C, LD) if weight is None else np.asarray(weight, LD)
    kept = target != ignore_index
    safe = np.where(kept, target, 0)
    w_t = w[safe] * kept
    values = -w_t * np.take_along_axis(x, safe[..., None], -1)[..., 0]
    grad = -np.eye(C, dtype=LD)[safe] * w_t[..., None]
    loss, grad = _reduce(values, grad, reduction, np.sum(w_t))
    return loss, np.moveaxis(grad, -1, axis)


def focal_loss(x, target, gamma=2.0, alpha=None, axis=-1, ignore_index=-100, reduction="mean"):
    """-alpha_t (1 - p_t)^gamma log p_t; gradient by the chain rule through p_t."""
    x = np.moveaxis(np.asarray(x, LD), axis, -1)
    C = x.shape[-1]
    logp = log_softmax(x)
    kept = target != ignore_index
    safe = np.where(kept, target, 0)
    a = np.ones(C, LD) * (1 if alpha is None else np.asarray(alpha, LD))
    alpha_t = a[safe] * kept
    logp_t = np.take_along_axis(logp, safe[..., None], -1)[..., 0]
    p_t = np.exp(logp_t)
    q = -np.expm1(logp_t)
    g = LD(gamma)
    values = -alpha_t * q ** g * logp_t
    # d loss / d log p_t, then d log p_t / d x_j = [j == t] - p_j
    with np.errstate(divide="ignore", invalid="ignore"):
        dq = np.where(q > 0, g * q ** (g - 1), 0) if gamma != 0 else np.zeros_like(q)
    d_logp = alpha_t * (dq * p_t * logp_t - q ** g)
    grad = d_logp[..., None] * (np.eye(C, dtype=LD)[safe] - np.exp(logp))
    loss, grad = _reduce(values, grad, reduction, np.count_nonzero(kept))
    return loss, np.moveaxis(grad, -1, axis)


def entropy(x, axis=-1):
    logp = log_softmax(x, axis)
    p = np.exp(logp)
    with np.errstate(invalid="ignore"):  # 0 * -inf, replaced by 0
        return (-np.sum(np.where(p == 0, 0, p * logp), axis=axis)).astype(np.float64)


def kl_div(x, target, reduction="mean", log_target=False):
    x = np.asarray(x, LD)
    t = np.asarray(target, LD)
    if log_target:
        values = np.exp(t) * (t - x)
        grad = -np.exp(t)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            values = np.where(t == 0, 0, t * np.log(t)) - t * x
        grad = -t
    denominator = (x.shape[0] if x.ndim else 1) if reduction == "batchmean" else x.size
    return _reduce(values, grad, "mean" if reduction == "batchmean" else reduction, denominator)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _softplus(x):
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def sigmoid(x):
    return _sigmoid(np.asarray(x, LD)).astype(np.float64)


def log_sigmoid(x):
    return (-_softplus(-np.asarray(x, LD))).astype(np.float64)


def binary_cross_entropy_with_logits(x, target, weight=None, pos_weight=None, reduction="mean"):
    """-w [pw t log s(x) + (1 - t) log(1 - s(x))]."""
    x = np.asarray(x, LD)
    t = np.asarray(target, LD)
    w = LD(1) if weight is None else np.asarray(weight, LD)
    pw = LD(1) if pos_weight is None else np.asarray(pos_weight, LD)
    values = w * (pw * t * _softplus(-x) + (1 - t) * _softplus(x))
    grad = w * ((1 - t) * _sigmoid(x) - pw * t * _sigmoid(-x)) + np.zeros_like(x)
    return _reduce(values + np.zeros_like(x), grad, reduction, x.size)


def sigmoid_focal_loss(x, target, gamma=2.0, alpha=0.25, reduction="none"):
    """torchvision.ops.sigmoid_focal_loss; gradient by the product rule."""
    x = np.asarray(x, LD)
    t = np.asarray(target, LD)
    # sigmoid(-x) rather than 1 - sigmoid(x): no cancellation at large |x|
    s, s_neg = _sigmoid(x), _sigmoid(-x)
    ce = t * _softplus(-x) + (1 - t) * _softplus(x)
    u = s * (1 - t) + s_neg * t  # 1 - p_t
    g = LD(gamma)
    du = s * s_neg * (1 - 2 * t)
    with np.errstate(divide="ignore", invalid="ignore"):
        dpow = np.where(u > 0, g * u ** (g - 1), 0) if gamma != 0 else np.zeros_like(u)
    values = ce * u ** g
    grad = ((1 - t) * s - t * s_neg) * u ** g + ce * dpow * du
    if alpha >= 0:
        alpha_t = alpha * t + (1 - alpha) * (1 - t)
        values = alpha_t * values
        grad = alpha_t * grad
    return _reduce(values, grad, reduction, x.size)


def softmax_backward(g, y, axis=-1):
    g, y = np.asarray(g, LD), np.asarray(y, LD)
    return (y * (g - np.sum(g * y, axis=axis, keepdims=True))).astype(np.float64)


def log_softmax_backward(g, y, axis=-1):
    g, y = np.asarray(g, LD), np.asarray(y, LD)
    return (g - np.exp(y) * np.sum(g, axis=axis, keepdims=True)).astype(np.float64)
