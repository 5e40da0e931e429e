"""Losses with their gradients: csoftmax against PyTorch (forward + backward)
and a plain NumPy formula.

One benchmark group per loss and shape; in it one benchmark per library, with
the library's name as its id: csoftmax (return_grad=True, the fused loss and
gradient), torch (the torch.nn.functional loss on torch.from_numpy, then
.backward()), numpy (the textbook formulas: log_softmax, gather, softmax
minus one-hot). Every benchmark checks its loss and gradient against a
float64 NumPy computation before timing; libraries that are not installed are
skipped.

    python -m pytest benchmarks/test_bench_losses.py --import-mode=importlib
    python -m pytest benchmarks --import-mode=importlib -k "cross_entropy and 64x32000"

Threads: see conftest.py (--bench-threads N, default 1).
"""

import functools

import numpy as np
import pytest

LIBRARIES = ("csoftmax", "torch", "numpy")
CASES = (
    ("cross_entropy", (1024, 1000)),
    ("cross_entropy", (64, 32000)),
    ("cross_entropy", (100000, 10)),
    ("cross_entropy", (8, 21, 128, 128)),  # segmentation: classes on axis 1, as PyTorch's
    ("nll_loss", (1024, 1000)),
    ("binary_cross_entropy_with_logits", (1024, 1000)),
    ("sigmoid_focal_loss", (1024, 1000)),
    ("softmax_backward", (1024, 1000)),
)
BINARY = ("binary_cross_entropy_with_logits", "sigmoid_focal_loss")


@functools.lru_cache(maxsize=1)
def _inputs(loss, shape):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(shape) * 3).astype(np.float32)
    if loss in BINARY:
        target = (rng.random(shape) < 0.3).astype(np.float32)
    elif loss == "softmax_backward":  # (grad_output, softmax output)
        y = np.exp(x - x.max(1, keepdims=True))
        return (rng.standard_normal(shape).astype(np.float32),
                (y / y.sum(1, keepdims=True)).astype(np.float32))
    else:
        target = rng.integers(0, shape[1], shape[:1] + shape[2:])  # classes on axis 1
    if loss == "nll_loss":
        x = x - np.log(np.exp(x.astype(np.float64)).sum(1, keepdims=True)).astype(np.float32)
    return x, target


def _numpy_loss(loss, x, target):
    """(mean loss, gradient) by the textbook formulas, in x's dtype."""
    rows = np.arange(x.shape[0])
    if loss == "cross_entropy":  # classes on axis 1
        shifted = x - x.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        s = e.sum(axis=1, keepdims=True)
        picked = np.expand_dims(target, 1)
        value = np.mean(np.log(s) - np.take_along_axis(shifted, picked, axis=1))
        grad = e / s
        np.put_along_axis(grad, picked, np.take_along_axis(grad, picked, axis=1) - 1, axis=1)
        return value, grad / target.size
    if loss == "nll_loss":
        grad = np.zeros_like(x)
        grad[rows, target] = -1 / x.shape[0]
        return -np.mean(x[rows, target]), grad
    if loss == "softmax_backward":  # x is grad_output, target the softmax output
        return None, target * (x - np.sum(x * target, axis=1, keepdims=True))
    softplus = np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))
    ce = softplus - target * x
    sigmoid = np.exp(x - softplus)
    if loss == "binary_cross_entropy_with_logits":
        return np.mean(ce), (sigmoid - target) / x.size
    # torchvision's sigmoid focal loss (gamma 2, alpha 0.25), averaged
    u = sigmoid * (1 - target) + (1 - sigmoid) * target
    alpha_t = 0.25 * target + 0.75 * (1 - target)
    du = sigmoid * (1 - sigmoid) * (1 - 2 * target)
    grad = alpha_t * ((sigmoid - target) * u ** 2 + ce * 2 * u * du)
    return np.mean(alpha_t * ce * u ** 2), grad / x.size


@functools.lru_cache(maxsize=1)
def _expected(loss, shape):
    x, target = _inputs(loss, shape)
    value, grad = _numpy_loss(loss, x.astype(np.float64), target)
    return value, grad


def _call(library, loss, x, target, threads):
    if library == "csoftmax":
        import csoftmax

        if loss == "softmax_backward":
            return None, csoftmax.softmax_backward(x, target, num_threads=threads)
        extra = {"reduction": "mean"} if loss == "sigmoid_focal_loss" else {}
        if loss == "cross_entropy":
            extra = {"axis": 1}
        return getattr(csoftmax, loss)(x, target, return_grad=True, num_threads=threads,
                                       **extra)
    if library == "torch":
        import torch
        import torch.nn.functional as F

        if loss == "softmax_backward":  # the kernel autograd runs for softmax's backward
            return None, torch._softmax_backward_data(
                torch.from_numpy(x), torch.from_numpy(target), 1, torch.float32).numpy()
        xt = torch.from_numpy(x).requires_grad_(True)
        tt = torch.from_numpy(target)
        if loss == "sigmoid_focal_loss":  # torchvision.ops.sigmoid_focal_loss's formula
            p = torch.sigmoid(xt)
            ce = F.binary_cross_entropy_with_logits(xt, tt, reduction="none")
            p_t = p * tt + (1 - p) * (1 - tt)
            value = ((0.25 * tt + 0.75 * (1 - tt)) * ce * (1 - p_t) ** 2).mean()
        else:
            value = getattr(F, loss)(xt, tt)
        value.backward()
        return value.detach().numpy(), xt.grad.numpy()
    return _numpy_loss(loss, x, target)


def _check(result, expected, x, loss):
    value, grad = result
    expected_value, expected_grad = expected
    spread = float(np.abs(x).max())
    if expected_value is not None:
        assert abs(float(value) - expected_value) <= 1e-5 * max(1.0, spread)
    # softmax_backward: y (g - sum(g y)) cancels, its error is relative to g (unit size)
    atol = 1e-6 if loss == "softmax_backward" else 1e-6 / (x.size // x.shape[1])
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-4, atol=atol)


def _make_benchmark(loss, shape):
    @pytest.mark.benchmark(group=f"{loss} loss+grad {'x'.join(map(str, shape))} float32")
    @pytest.mark.parametrize("library", LIBRARIES)
    def bench(benchmark, library, bench_threads):
        if library == "torch":
            pytest.importorskip("torch")
        x, target = _inputs(loss, shape)
        run = functools.partial(_call, library, loss, x, target, bench_threads)
        _check(run(), _expected(loss, shape), x, loss)
        benchmark(run)

    bench.__name__ = f"test_{loss}_{'x'.join(map(str, shape))}_float32"
    return bench


for _loss, _shape in CASES:
    _bench = _make_benchmark(_loss, _shape)
    globals()[_bench.__name__] = _bench
