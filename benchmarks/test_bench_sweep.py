"""The cases of ``python -m csoftmax bench --sweep`` under pytest-benchmark.

One benchmark group per case of csoftmax._sweep.sweep_cases() (the same list,
so the two cannot drift): in it one benchmark per library, with the library's
name as its id: csoftmax, torch, numpy and floor (a contiguous copy moving
the case's bytes, its memory floor). Each benchmark checks its result against
float64 NumPy before timing; PyTorch is skipped when not installed.

    python -m pytest benchmarks/test_bench_sweep.py --import-mode=importlib -k "layout_fortran"

Threads: see conftest.py (--bench-threads N, default 1).
"""

import functools

import pytest

from csoftmax import _sweep

CASES = _sweep.sweep_cases(dtypes=_sweep.DTYPES)


# Tests of one case run one after another: keep only that case's arrays alive.
@functools.lru_cache(maxsize=1)
def _inputs(case):
    return _sweep.make_inputs(case)


@functools.lru_cache(maxsize=1)
def _expected(case):
    return _sweep.reference(case, _inputs(case))


@pytest.mark.parametrize("library", _sweep.LIBRARIES)
@pytest.mark.parametrize("case", CASES, ids=[case.test_id for case in CASES])
def test_sweep(benchmark, bench_threads, case, library):
    if case.dtype == "bfloat16":
        pytest.importorskip("ml_dtypes")
    if library == "torch":
        pytest.importorskip("torch")
    benchmark.group = f"sweep {case.label}"
    inputs = _inputs(case)
    function = _sweep.bind(library, case, inputs, bench_threads)
    if library == "floor":
        _sweep.check_floor(function, case, inputs)
    else:
        _sweep.check(case, function(), _expected(case))
    benchmark(function)
