"""Segment softmax and logcumsumexp: csoftmax against PyTorch Geometric,
PyTorch and a NumPy formulation, one thread.

Segment softmax: 10^7 float32 entries (positions x heads) in 10^5 segments
with power-law lengths (most of 1 to 10, a few of thousands), 1 and 8 heads,
segments given as offsets, as a sorted index and as a shuffled index. Peers:
torch_geometric.utils.softmax (ptr= for offsets, index= otherwise) and NumPy
with np.maximum.reduceat / np.add.reduceat, from the same input as the
others (an index: segments start where the id changes, after a stable argsort
if shuffled; all part of the timing). logcumsumexp: (4096, 4096)
float32 along each axis against torch.logcumsumexp. Every benchmark checks
its result against a float64 reference before timing.

    python -m pytest benchmarks/test_bench_segments.py --import-mode=importlib

Threads: see conftest.py (--bench-threads N, default 1).
"""

import functools

import numpy as np
import pytest

ENTRIES = 10 ** 7
SEGMENTS = 10 ** 5
FORMS = ("offsets", "sorted_index", "shuffled_index")


@functools.lru_cache(maxsize=1)
def _graph(heads, form):
    """(x, offsets, index, order): scores of shape (positions, heads); offsets
    of the segments in sorted order; index the segment id of each position of
    x (shuffled: x and index permuted by `order`)."""
    rng = np.random.default_rng(0)
    positions = ENTRIES // heads
    weights = rng.pareto(1.2, SEGMENTS) + 0.05
    lengths = np.floor(weights / weights.sum() * (positions - SEGMENTS)).astype(np.int64) + 1
    lengths[: positions - lengths.sum()] += 1  # exact total; every segment non-empty
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    index = np.repeat(np.arange(SEGMENTS), lengths)
    x = (rng.standard_normal((positions, heads)) * 3).astype(np.float32)
    order = None
    if form == "shuffled_index":
        order = rng.permutation(positions)
        x, index = np.ascontiguousarray(x[order]), index[order]
    if heads == 1:
        x = x[:, 0].copy()
    return x, offsets, index, order


def _numpy_sorted(x, offsets):
    lengths = np.diff(offsets)
    starts = offsets[:-1]
    peak = np.repeat(np.maximum.reduceat(x, starts, axis=0), lengths, axis=0)
    e = np.exp(x - peak)
    return e / np.repeat(np.add.reduceat(e, starts, axis=0), lengths, axis=0)


def _numpy_softmax(x, offsets, index, form):
    """The NumPy formulation from the same input as the others: offsets, or
    an index (sorted: segments start where the id changes; shuffled: a stable
    argsort first, the result scattered back)."""
    if form == "offsets":
        return _numpy_sorted(x, offsets)
    order = None if form == "sorted_index" else np.argsort(index, kind="stable")
    ids = index if order is None else index[order]
    starts = np.flatnonzero(np.concatenate([[True], ids[1:] != ids[:-1]]))
    found = np.concatenate([starts, [len(ids)]])
    if order is None:
        return _numpy_sorted(x, found)
    y = np.empty_like(x)
    y[order] = _numpy_sorted(x[order], found)
    return y


@functools.lru_cache(maxsize=1)
def _expected(heads, form):
    x, offsets, index, _ = _graph(heads, form)
    return _numpy_softmax(x.astype(np.float64), offsets, index, form)


def _call(library, x, offsets, index, form, threads, out=None):
    if library == "csoftmax":
        import csoftmax

        segments = dict(offsets=offsets) if form == "offsets" else dict(index=index)
        return csoftmax.segment_softmax(x, out=out, num_threads=threads, **segments)
    if library == "torch_geometric":
        import torch
        from torch_geometric.utils import softmax

        if form == "offsets":
            return softmax(torch.from_numpy(x), ptr=torch.from_numpy(offsets)).numpy()
        return softmax(torch.from_numpy(x), torch.from_numpy(index), num_nodes=SEGMENTS).numpy()
    return _numpy_softmax(x, offsets, index, form)


def _make_segment_benchmark(heads, form):
    @pytest.mark.benchmark(group=f"segment_softmax {ENTRIES} entries {SEGMENTS} segments "
                                 f"{heads} heads {form} float32")
    @pytest.mark.parametrize("library", ("csoftmax", "torch_geometric", "numpy"))
    def bench(benchmark, library, bench_threads):
        if library == "torch_geometric":
            pytest.importorskip("torch_geometric")
        x, offsets, index, _ = _graph(heads, form)
        # csoftmax writes into a reused output (a fresh 40 MB array costs page faults
        # on every call); the others allocate, as they must
        out = np.empty_like(x) if library == "csoftmax" else None
        run = functools.partial(_call, library, x, offsets, index, form, bench_threads, out)
        # PyTorch Geometric sums a segment's exps in float32: 6e-4 relative error on
        # the 4 * 10^5-long segments of this input, where csoftmax and NumPy keep 2e-5
        rtol = 2e-3 if library == "torch_geometric" else 2e-5
        np.testing.assert_allclose(run(), _expected(heads, form), rtol=rtol, atol=1e-7)
        benchmark(run)

    bench.__name__ = f"test_segment_softmax_{heads}_heads_{form}"
    return bench


for _heads in (1, 8):
    for _form in FORMS:
        _bench = _make_segment_benchmark(_heads, _form)
        globals()[_bench.__name__] = _bench


@functools.lru_cache(maxsize=1)
def _scan_input():
    rng = np.random.default_rng(1)
    return (rng.standard_normal((4096, 4096)) * 3).astype(np.float32)


@functools.lru_cache(maxsize=2)
def _scan_expected(axis):
    return np.logaddexp.accumulate(_scan_input().astype(np.float64), axis=axis)


@pytest.mark.parametrize("axis", (0, 1))
@pytest.mark.parametrize("library", ("csoftmax", "torch"))
def test_logcumsumexp_4096x4096(benchmark, library, axis, bench_threads):
    benchmark.group = f"logcumsumexp 4096x4096 axis {axis} float32"
    x = _scan_input()
    if library == "torch":
        torch = pytest.importorskip("torch")
        xt = torch.from_numpy(x)

        def run():
            return torch.logcumsumexp(xt, dim=axis).numpy()
    else:
        import csoftmax

        out = np.empty_like(x)

        def run():
            return csoftmax.logcumsumexp(x, axis=axis, out=out, num_threads=bench_threads)
    np.testing.assert_allclose(run(), _scan_expected(axis), rtol=1e-5, atol=1e-5)
    benchmark(run)
