"""Sampling one token per row from LLM-sized logits: csoftmax.sample against
the PyTorch pipeline a text generator runs each step.

The PyTorch side is Hugging Face transformers' TemperatureLogitsWarper ->
TopKLogitsWarper -> TopPLogitsWarper -> MinPLogitsWarper, softmax and
torch.multinomial: the warpers themselves where transformers is installed,
else the same steps written out as their source does them (divide; topk +
masked_fill; ascending sort + softmax + cumsum + scatter; softmax + amax +
argsort + gather + scatter). Every benchmark checks before timing that its
draws lie in the kept set, computed by those steps in float64.

    python -m pytest benchmarks/test_bench_sampling.py --import-mode=importlib

Threads: see conftest.py (--bench-threads N, default 1).
"""

import functools

import numpy as np
import pytest

LIBRARIES = ("csoftmax", "torch")
SHAPES = ((1, 128256), (64, 128256), (64, 32000))
FILTERS = {
    "t0.7_k50_p0.9": {"temperature": 0.7, "top_k": 50, "top_p": 0.9},
    "p0.9": {"top_p": 0.9},
    "minp0.05": {"min_p": 0.05},
}


@functools.lru_cache(maxsize=1)
def _logits(shape):
    rng = np.random.default_rng(0)
    return (rng.standard_normal(shape) * 3).astype(np.float32)


def _warpers(temperature=1.0, top_k=None, top_p=None, min_p=None):
    """transformers' warpers for these settings, or None without transformers."""
    try:
        from transformers.generation.logits_process import (
            MinPLogitsWarper, TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper,
        )
    except ImportError:
        return None
    warpers = []
    if temperature != 1.0:
        warpers.append(TemperatureLogitsWarper(temperature))
    if top_k is not None:
        warpers.append(TopKLogitsWarper(top_k))
    if top_p is not None:
        warpers.append(TopPLogitsWarper(top_p))
    if min_p is not None:
        warpers.append(MinPLogitsWarper(min_p))
    return warpers


def _process(scores, temperature=1.0, top_k=None, top_p=None, min_p=None):
    """The warpers' steps written out in torch (any float dtype)."""
    import torch

    if temperature != 1.0:
        scores = scores / temperature
    if top_k is not None:
        k = min(top_k, scores.size(-1))
        scores = scores.masked_fill(scores < torch.topk(scores, k)[0][..., -1, None],
                                    -float("inf"))
    if top_p is not None:
        sorted_logits, sorted_indices = torch.sort(scores, descending=False)
        cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
        remove = cumulative <= (1 - top_p)
        remove[..., -1:] = 0
        scores = scores.masked_fill(remove.scatter(1, sorted_indices, remove), -float("inf"))
    if min_p is not None:
        probs = torch.softmax(scores, dim=-1)
        remove = probs < min_p * probs.amax(dim=-1, keepdim=True)
        sorted_indices = torch.argsort(scores, descending=True, dim=-1)
        sorted_remove = torch.gather(remove, dim=-1, index=sorted_indices)
        sorted_remove[..., :1] = False
        scores = scores.masked_fill(sorted_remove.scatter(1, sorted_indices, sorted_remove),
                                    -float("inf"))
    return scores


def _torch_step(x, filters, warpers):
    import torch

    scores = torch.from_numpy(x)
    if warpers is None:
        scores = _process(scores, **filters)
    else:
        for warper in warpers:
            scores = warper(None, scores)
    return torch.multinomial(torch.softmax(scores, dim=-1), 1).numpy()


@functools.lru_cache(maxsize=4)
def _kept(shape, name):
    """The tokens each row keeps, by the warpers' steps in float64."""
    import torch

    scores = _process(torch.from_numpy(_logits(shape).astype(np.float64)), **FILTERS[name])
    return torch.isfinite(scores).numpy()


def _make_benchmark(shape, name):
    @pytest.mark.benchmark(group=f"sample {'x'.join(map(str, shape))} float32 {name}")
    @pytest.mark.parametrize("library", LIBRARIES)
    def bench(benchmark, library, bench_threads):
        pytest.importorskip("torch")
        x = _logits(shape)
        filters = FILTERS[name]
        if library == "csoftmax":
            import csoftmax

            run = functools.partial(csoftmax.sample, x, seed=0, num_threads=bench_threads,
                                    **filters)
        else:
            import torch

            torch.manual_seed(0)
            run = functools.partial(_torch_step, x, filters, _warpers(**filters))
        draws = run()
        assert draws.shape == (shape[0], 1)
        assert np.take_along_axis(_kept(shape, name), draws, axis=-1).all()
        benchmark(run)

    bench.__name__ = f"test_sample_{'x'.join(map(str, shape))}_{name}"
    return bench


for _shape in SHAPES:
    for _name in FILTERS:
        _bench = _make_benchmark(_shape, _name)
        globals()[_bench.__name__] = _bench
