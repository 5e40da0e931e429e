"""softmax, log_softmax and logsumexp: csoftmax against NumPy, SciPy and PyTorch.

One benchmark group per op, shape and dtype (the cases of
`python -m csoftmax bench`); in it one benchmark per library, with the
library's name as its id: csoftmax, numpy (a plain stable NumPy formula),
scipy (scipy.special), torch (on torch.from_numpy) and, for inputs larger than
the caches, copy (x.copy(): allocate, read once, write once, the floor for an
out-of-cache softmax). Every library allocates its result, as a user's call
does. Each benchmark checks its result against float64 NumPy before timing;
libraries that are not installed are skipped.

    python -m pytest benchmarks --import-mode=importlib --benchmark-min-rounds=3
    python -m pytest benchmarks --import-mode=importlib -k "softmax_1024x1000_float32"

Threads: see conftest.py (--bench-threads N, default 1).
"""

import functools

import numpy as np
import pytest

from csoftmax._bench import (
    FULL_CASES,
    OPS,
    PEER_MODULES,
    PEERS,
    bind,
    case_label,
    check,
    copy_baseline,
    make_input,
    reference,
)

LIBRARIES = ("csoftmax", *PEERS)


# Tests of one case run one after another: keep only that case's arrays alive.
@functools.lru_cache(maxsize=1)
def _input(shape, dtype):
    return make_input(shape, dtype)


@functools.lru_cache(maxsize=1)
def _expected(op, shape, axis, dtype):
    return reference(op, _input(shape, dtype), axis)


def _test_name(op, shape, axis, dtype):
    axis_part = "" if axis == -1 else f"_axis{axis}"
    return f"test_{op}_{'x'.join(map(str, shape))}{axis_part}_{np.dtype(dtype).name}"


def _make_benchmark(op, shape, axis, dtype):
    libraries = LIBRARIES
    if copy_baseline(op, int(np.prod(shape)) * np.dtype(dtype).itemsize):
        libraries += ("copy",)

    @pytest.mark.benchmark(group=f"{op} {case_label(shape, axis, dtype)}")
    @pytest.mark.parametrize("library", libraries)
    def benchmark_case(benchmark, bench_threads, library):
        x = _input(shape, dtype)
        if library == "copy":
            np.testing.assert_array_equal(x.copy(), x)
            benchmark(x.copy)
            return
        if library != "csoftmax":
            pytest.importorskip(PEER_MODULES[library])
        function = bind(library, op, x, axis, bench_threads)
        check(op, function(), _expected(op, shape, axis, dtype), x.dtype)
        benchmark(function)

    benchmark_case.__name__ = benchmark_case.__qualname__ = _test_name(op, shape, axis, dtype)
    return benchmark_case


for _case in FULL_CASES:
    for _op in OPS:
        _benchmark = _make_benchmark(_op, *_case)
        globals()[_benchmark.__name__] = _benchmark
del _case, _op, _benchmark
