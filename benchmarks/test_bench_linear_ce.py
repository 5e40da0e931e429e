"""Fused linear cross-entropy, loss and all gradients (float32): csoftmax's
linear_cross_entropy against the unfused csoftmax step (h @ W.T + b,
cross_entropy with return_grad, the three gradient products) and PyTorch's
F.linear + F.cross_entropy forward and backward.

One group per shape, one benchmark per way (ids csoftmax, csoftmax_unfused,
torch); each checks its loss and gradients against the unfused float64-checked
result before timing. BLAS is limited to the benchmark thread count too
(threadpoolctl). Peak memory: benchmarks/bench_linear_ce.py.

    python -m pytest benchmarks/test_bench_linear_ce.py --import-mode=importlib

Threads: see conftest.py (--bench-threads N, default 1).
"""

import functools

import numpy as np
import pytest

SHAPES = ((4096, 512, 32000), (1024, 256, 128256))
WAYS = ("csoftmax", "csoftmax_unfused", "torch")


@functools.lru_cache(maxsize=1)
def _inputs(N, D, V):
    rng = np.random.default_rng(0)
    hidden = rng.standard_normal((N, D), dtype=np.float32)
    weight = (rng.standard_normal((V, D), dtype=np.float32) / np.sqrt(D)).astype(np.float32)
    bias = (rng.standard_normal(V, dtype=np.float32) * 0.1).astype(np.float32)
    target = rng.integers(0, V, N)
    target[::17] = -100
    return hidden, weight, bias, target


def _unfused(csoftmax, hidden, weight, bias, target, threads):
    logits = np.matmul(hidden, weight.T)
    logits += bias
    loss, d_logits = csoftmax.cross_entropy(logits, target, return_grad=True,
                                            num_threads=threads)
    del logits
    return float(loss), (d_logits @ weight, d_logits.T @ hidden, d_logits.sum(0))


def _way(name, threads):
    """A function (hidden, weight, bias, target) -> (loss, grads)."""
    if name == "torch":
        torch = pytest.importorskip("torch")
        F = torch.nn.functional

        def step(hidden, weight, bias, target):
            h = torch.from_numpy(hidden).requires_grad_()
            w = torch.from_numpy(weight).requires_grad_()
            b = torch.from_numpy(bias).requires_grad_()
            loss = F.cross_entropy(F.linear(h, w, b), torch.from_numpy(target))
            loss.backward()
            return loss.item(), (h.grad.numpy(), w.grad.numpy(), b.grad.numpy())

        return step
    import csoftmax

    if name == "csoftmax_unfused":
        return lambda *a: _unfused(csoftmax, *a, threads)

    def fused(hidden, weight, bias, target):
        loss, grads = csoftmax.linear_cross_entropy(hidden, weight, target, bias,
                                                    return_grad=True, num_threads=threads)
        return float(loss), grads

    return fused


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_linear_cross_entropy(benchmark, bench_threads, way, shape):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    import csoftmax

    benchmark.group = f"linear_cross_entropy {'x'.join(map(str, shape))} float32"
    args = _inputs(*shape)
    with threadpoolctl.threadpool_limits(bench_threads, user_api="blas"):
        step = _way(way, bench_threads)
        loss, grads = step(*args)
        expected_loss, expected = _unfused(csoftmax, *args, bench_threads)
        assert abs(loss - expected_loss) <= 1e-5 * abs(expected_loss)
        for g, g0 in zip(grads, expected):
            assert np.max(np.abs(g - g0)) <= 1e-4 * np.max(np.abs(g0))
        benchmark.pedantic(step, args=args, rounds=3, iterations=1)
