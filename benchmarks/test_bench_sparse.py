"""Sparse normalisers: csoftmax against the `entmax` package (PyTorch), float32.

One benchmark group per map, pass and shape; in it one benchmark per library,
with the library's name as its id: csoftmax (the map, then its backward
function for "fwd+bwd") and entmax (the package's function on
torch.from_numpy, then .backward(grad) through autograd). Every benchmark
checks its output (and gradient) against the package run in float64 before
timing. The module is skipped without torch and entmax.

    python -m pytest benchmarks/test_bench_sparse.py --import-mode=importlib
    python -m pytest benchmarks/test_bench_sparse.py --import-mode=importlib -k "entmax15 and 64x32000"

Threads: see conftest.py (--bench-threads N, default 1).
"""

import functools

import numpy as np
import pytest

torch = pytest.importorskip("torch")
entmax = pytest.importorskip("entmax")

LIBRARIES = ("csoftmax", "entmax")
MAPS = ("sparsemax", "entmax15", "entmax_bisect")
SHAPES = ((1024, 1000), (64, 32000), (4096, 37))
PASSES = ("fwd", "fwd+bwd")
ALPHA = 1.5  # entmax_bisect's default


@functools.lru_cache(maxsize=1)
def _inputs(shape):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(shape) * 3).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    return x, g


def _package(kind, x, g):
    """(y, dx) by the package, dx None without g."""
    xt = torch.from_numpy(x).requires_grad_(g is not None)
    if kind == "entmax_bisect":
        y = entmax.entmax_bisect(xt, alpha=ALPHA, dim=-1)
    else:
        y = getattr(entmax, kind)(xt, dim=-1)
    if g is None:
        return y.detach().numpy(), None
    y.backward(torch.from_numpy(g))
    return y.detach().numpy(), xt.grad.numpy()


def _csoftmax(kind, x, g, threads):
    import csoftmax

    if kind == "entmax_bisect":
        y = csoftmax.entmax_bisect(x, ALPHA, num_threads=threads)
        dx = None if g is None else csoftmax.entmax_bisect_backward(g, y, ALPHA,
                                                                    num_threads=threads)
    else:
        y = getattr(csoftmax, kind)(x, num_threads=threads)
        dx = None if g is None else getattr(csoftmax, f"{kind}_backward")(g, y,
                                                                          num_threads=threads)
    return y, dx


@functools.lru_cache(maxsize=2)
def _expected(kind, shape):
    x, g = _inputs(shape)
    return _package(kind, x.astype(np.float64), g.astype(np.float64))


def _check(result, expected, with_grad):
    y, dx = result
    np.testing.assert_allclose(y, expected[0], rtol=0, atol=5e-6)
    np.testing.assert_allclose(y.sum(-1), 1.0, rtol=0, atol=1e-4)
    if with_grad:
        np.testing.assert_allclose(dx, expected[1], rtol=0, atol=5e-5)


def _make_benchmark(kind, shape, passes):
    @pytest.mark.benchmark(group=f"{kind} {passes} {'x'.join(map(str, shape))} float32")
    @pytest.mark.parametrize("library", LIBRARIES)
    def bench(benchmark, library, bench_threads):
        x, g = _inputs(shape)
        g = g if passes == "fwd+bwd" else None
        if library == "csoftmax":
            run = functools.partial(_csoftmax, kind, x, g, bench_threads)
        else:
            run = functools.partial(_package, kind, x, g)
        _check(run(), _expected(kind, shape), g is not None)
        benchmark(run)

    bench.__name__ = f"test_{kind}_{passes.replace('+', '_')}_{'x'.join(map(str, shape))}"
    return bench


for _kind in MAPS:
    for _shape in SHAPES:
        for _passes in PASSES:
            _bench = _make_benchmark(_kind, _shape, _passes)
            globals()[_bench.__name__] = _bench
