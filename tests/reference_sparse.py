"""Plain-NumPy float64 oracles of the sparse normalisers, written from their
definitions (sort-based thresholds, the entmax package's bisection
recurrence, the Fenchel-Young losses), so that the tests do not depend on
the `entmax` package alone. Rows along the last axis; inputs finite except
for -inf entries (a row holds at least one finite value)."""

import numpy as np


def sparsemax(x):
    """max(z - tau, 0), z = x - max, tau from the sorted cumulative sums."""
    x = np.asarray(x, np.float64)
    z = x - x.max(axis=-1, keepdims=True)
    srt = -np.sort(-z, axis=-1)
    rho = np.arange(1, z.shape[-1] + 1)
    cumsum = np.cumsum(srt, axis=-1) - 1
    with np.errstate(invalid="ignore"):
        support = (rho * srt > cumsum).sum(axis=-1, keepdims=True)
    tau = np.take_along_axis(cumsum, support - 1, axis=-1) / support
    return np.maximum(z - tau, 0)


def entmax15(x):
    """max(z - tau, 0)**2, z = (x - max) / 2, tau the sort-based formula."""
    x = np.asarray(x, np.float64)
    z = (x - x.max(axis=-1, keepdims=True)) / 2
    srt = -np.sort(-z, axis=-1)
    rho = np.arange(1, z.shape[-1] + 1)
    with np.errstate(invalid="ignore"):
        mean = np.cumsum(srt, axis=-1) / rho
        mean_sq = np.cumsum(srt ** 2, axis=-1) / rho
        delta = (1 - rho * (mean_sq - mean ** 2)) / rho
        tau = mean - np.sqrt(np.maximum(delta, 0))
        support = (tau <= srt).sum(axis=-1, keepdims=True)
    tau_star = np.take_along_axis(tau, support - 1, axis=-1)
    return np.maximum(z - tau_star, 0) ** 2


def entmax_bisect(x, alpha, n_iter=50):
    """The package's bisection; alpha a scalar or per row (keepdims shape)."""
    x = np.asarray(x, np.float64)
    alpha = np.broadcast_to(np.asarray(alpha, np.float64), x.shape[:-1] + (1,))
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    softmax = e / e.sum(axis=-1, keepdims=True)
    if np.all(alpha == 1):
        return softmax
    d = x.shape[-1]
    softmax_rows = alpha == 1
    alpha = np.where(softmax_rows, 2.0, alpha)  # their bisection is replaced below
    X = x * (alpha - 1)
    max_val = x.max(axis=-1, keepdims=True) * (alpha - 1)
    tau_lo = max_val - 1
    tau_hi = max_val - (1 / d) ** (alpha - 1)
    dm = tau_hi - tau_lo
    for _ in range(n_iter):
        dm = dm / 2
        tau_m = tau_lo + dm
        p_m = np.maximum(X - tau_m, 0) ** (1 / (alpha - 1))
        f_m = p_m.sum(axis=-1, keepdims=True) - 1
        tau_lo = np.where(f_m >= 0, tau_m, tau_lo)
    # alpha = 1 is softmax (the limit)
    return np.where(softmax_rows, softmax, p_m / p_m.sum(axis=-1, keepdims=True))


def backward(g, y, alpha):
    """dx through y = alpha-entmax (alpha 2: sparsemax) and the per-row
    derivative in alpha of sum(g * y)."""
    g = np.asarray(g, np.float64)
    y = np.asarray(y, np.float64)
    alpha = np.broadcast_to(np.asarray(alpha, np.float64), y.shape[:-1] + (1,))
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(y > 0, y ** (2 - alpha), 0.0)
        dx = g * w - (g * w).sum(-1, keepdims=True) / w.sum(-1, keepdims=True) * w
        shannon = np.where(y > 0, y * np.log(np.where(y > 0, y, 1)), 0.0)
        ent = shannon.sum(-1, keepdims=True)
        skewed = w / w.sum(-1, keepdims=True)
        d_alpha = (g * (y - skewed) / (alpha - 1) ** 2
                   - g * (shannon - skewed * ent) / (alpha - 1)).sum(-1)
    return dx, d_alpha


def fy_loss(x, target, alpha, p):
    """Per-row Fenchel-Young loss of the Tsallis alpha-entropy at p (the map
    of x); x (rows, C), target (rows,)."""
    x = np.asarray(x, np.float64)
    alpha = np.broadcast_to(np.asarray(alpha, np.float64), x.shape[:-1])
    shannon = -np.where(p > 0, p * np.log(np.where(p > 0, p, 1)), 0).sum(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        tsallis = (1 - (p ** alpha[:, None]).sum(-1)) / (alpha * (alpha - 1))
    omega = np.where(alpha == 1, shannon, tsallis)  # alpha = 1: the limit, Shannon's entropy
    dot = np.where(p > 0, p * np.where(p > 0, x, 0), 0).sum(-1)
    return omega + dot - x[np.arange(len(target)), target]
