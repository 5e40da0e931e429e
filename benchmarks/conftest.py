"""Settings shared by the pytest-benchmark suites in benchmarks/.

Threads: csoftmax and PyTorch run on one thread unless `--bench-threads N`
or the environment variable CSOFTMAX_BENCH_THREADS says otherwise, so the
default is a fair single-thread comparison (NumPy and SciPy use one thread
for these operations whatever the setting).
"""

import os

import pytest


def pytest_addoption(parser):
    parser.addoption(
        "--bench-threads",
        type=int,
        default=None,
        metavar="N",
        help="threads for csoftmax and PyTorch in benchmarks/ "
        "(default: env CSOFTMAX_BENCH_THREADS, else 1)",
    )


def _bench_threads(config):
    threads = config.getoption("--bench-threads")
    if threads is None:
        threads = int(os.environ.get("CSOFTMAX_BENCH_THREADS", "1"))
    if threads < 1:
        raise pytest.UsageError(f"benchmark thread count must be at least 1, got {threads}")
    return threads


def pytest_report_header(config):
    return f"benchmarks: threads={_bench_threads(config)} for csoftmax and torch"


@pytest.hookimpl(optionalhook=True)
def pytest_benchmark_update_machine_info(config, machine_info):
    machine_info["bench_threads"] = _bench_threads(config)


@pytest.fixture(scope="session")
def bench_threads(pytestconfig):
    """The thread count for csoftmax's num_threads=; PyTorch is set to it too."""
    from csoftmax._bench import set_torch_threads

    threads = _bench_threads(pytestconfig)
    previous = set_torch_threads(threads)
    yield threads
    if previous is not None:
        set_torch_threads(previous)
