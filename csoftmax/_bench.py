"""Speed of csoftmax against NumPy, SciPy and PyTorch: ``python -m csoftmax bench``.

The machines this runs on are shared and noisy: csoftmax._timing times every
library in interleaved rounds, keeps the samples during which no other process
took the CPU, adds rounds while a ratio is unsettled, and reports each ratio
with its spread, or "busy" where the machine never left it quiet enough for the
number to mean anything. Each library's result is checked against a float64
NumPy computation before it is timed; a wrong result is reported, never timed.

benchmarks/test_bench_normalizers.py measures the same cases with
pytest-benchmark, reusing the definitions below.
"""

import argparse
import gc
import importlib
import math
import sys

import numpy as np

from . import _timing

OPS = ("softmax", "log_softmax", "logsumexp")
PEERS = ("numpy", "scipy", "torch")
PEER_MODULES = {"numpy": "numpy", "scipy": "scipy.special", "torch": "torch"}
# Inputs beyond the per-core caches also time x.copy() (allocate, read once,
# write once: the floor for an out-of-cache softmax), in the column "copy".
COPY_BASELINE_BYTES = 8_000_000

# (shape, axis, dtype): rows that fit in a vector, in-cache rows, vocabulary
# sized rows, and shapes far larger than the cache (memory-bound).
FULL_CASES = (
    ((1, 10), -1, np.float32),
    ((32, 10), -1, np.float32),
    ((1024, 1000), -1, np.float32),
    ((64, 32000), -1, np.float32),
    ((8, 128256), -1, np.float32),
    ((1000000, 10), -1, np.float32),
    ((4096, 4096), -1, np.float32),
    ((32, 64, 56, 56), 1, np.float32),
    ((32, 10), -1, np.float64),
    ((1024, 1000), -1, np.float64),
)
QUICK_CASES = (
    ((1, 10), -1, np.float32),
    ((1024, 1000), -1, np.float32),
    ((8, 128256), -1, np.float32),
)


def numpy_softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    e /= e.sum(axis=axis, keepdims=True)
    return e


def numpy_log_softmax(x, axis):
    shifted = x - x.max(axis=axis, keepdims=True)
    shifted -= np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
    return shifted


def numpy_logsumexp(x, axis):
    m = x.max(axis=axis, keepdims=True)
    return (m + np.log(np.exp(x - m).sum(axis=axis, keepdims=True))).squeeze(axis)


NUMPY_FUNCTIONS = {
    "softmax": numpy_softmax,
    "log_softmax": numpy_log_softmax,
    "logsumexp": numpy_logsumexp,
}


def make_input(shape, dtype, seed=0):
    """Standard normal logits scaled by 3, so rows hold a realistic spread."""
    rng = np.random.default_rng(seed)
    return (3 * rng.standard_normal(shape)).astype(dtype)


def reference(op, x, axis):
    """The float64 result of `op`, the oracle every library is checked against."""
    return NUMPY_FUNCTIONS[op](x.astype(np.float64), axis)


def check(op, result, expected, dtype):
    """Raise AssertionError unless `result` matches the float64 `expected`.

    float32 gets rtol 1e-4 (~1000 ulp), well above the ~200 ulp of a float32
    running sum over 128k-long rows (PyTorch's worst case); this is a sanity
    check, the tests measure accuracy.  softmax gets no absolute slack:
    probabilities of long rows are themselves ~1e-5.
    """
    result = np.asarray(result)
    if result.shape != expected.shape or result.dtype != dtype:
        raise AssertionError(
            f"{op}: got {result.dtype} {result.shape}, "
            f"expected {np.dtype(dtype)} {expected.shape}"
        )
    if dtype == np.float32:
        rtol, atol = 1e-4, 1e-5
    else:
        rtol, atol = 1e-10, 1e-12
    if op == "softmax":
        atol = 0.0
    np.testing.assert_allclose(result, expected, rtol=rtol, atol=atol, err_msg=op)


def bind(library, op, x, axis, threads=1):
    """A zero-argument callable computing `op` of `x` along `axis` with `library`.

    `library` is "csoftmax", one of PEERS (ImportError if it is not installed)
    or "copy" (x.copy(), whatever `op`).
    PyTorch gets a zero-copy tensor made here, outside the timed call, and runs
    on its global thread count (torch.set_num_threads, set by the caller).
    """
    if library == "csoftmax":
        import csoftmax

        function = getattr(csoftmax, op)
        return lambda: function(x, axis, num_threads=threads)
    if library == "copy":
        return x.copy
    if library == "numpy":
        function = NUMPY_FUNCTIONS[op]
        return lambda: function(x, axis)
    if library == "scipy":
        import scipy.special

        function = getattr(scipy.special, op)
        return lambda: function(x, axis=axis)
    if library == "torch":
        import torch

        function = getattr(torch, op)
        tensor = torch.from_numpy(x)
        return lambda: function(tensor, axis)
    raise ValueError(f"unknown library {library!r}")


def copy_baseline(op, nbytes):
    """Whether `op` of an input of `nbytes` bytes is timed against x.copy() too
    (outputs as large as x, beyond the caches)."""
    return op != "logsumexp" and nbytes >= COPY_BASELINE_BYTES


def installed_peers():
    """The peers in PEERS that can be imported here."""
    found = []
    for peer in PEERS:
        try:
            importlib.import_module(PEER_MODULES[peer])
        except ImportError:
            continue
        found.append(peer)
    return found


def _format_time(seconds):
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def case_label(shape, axis, dtype):
    return f"{shape} axis={axis} {np.dtype(dtype).name}"


def set_torch_threads(threads):
    """Set PyTorch's thread count if it is installed; return the previous one."""
    try:
        import torch
    except ImportError:
        return None
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    return previous


def _plot(rows, columns, threads, path):
    from matplotlib.figure import Figure

    labels = [f"{row['op']}\n{case_label(*row['case'])}" for row in rows]
    figure = Figure(figsize=(max(8.0, 0.6 * len(rows)), 6.0), layout="constrained")
    axes = figure.add_subplot()
    width = 0.8 / len(columns)
    for i, column in enumerate(columns):
        positions = [j + (i - (len(columns) - 1) / 2) * width for j in range(len(rows))]
        ratios = [row["ratios"].get(column, np.nan) for row in rows]
        axes.bar(positions, ratios, width, label=column)
    axes.axhline(1.0, color="black", linewidth=0.8)
    axes.set_yscale("log")
    axes.set_xticks(range(len(rows)), labels, rotation=90, fontsize=7)
    axes.set_ylabel("peer time / csoftmax time (> 1: csoftmax faster)")
    axes.set_title(f"csoftmax speed-up, threads={threads}")
    axes.legend()
    figure.savefig(path, dpi=120)


def run_bench(threads=1, plot=None, quick=False, file=None):
    """Time csoftmax against the installed peers and print a table of ratios.

    ratio = peer time / csoftmax time, so > 1 means csoftmax is faster.
    threads: threads for csoftmax and PyTorch (NumPy and SciPy use one).
    plot: path of a PNG drawing the ratios (needs matplotlib).
    quick: a few small and medium shapes, done in a few seconds.
    file: where the table goes (default sys.stdout).

    Returns one dict per (case, op): case, op, seconds (seconds per
    call of each library that passed its check), ratios, and failures
    (library -> message of the check or error that kept it from being timed).
    """
    if plot is not None:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise ImportError(
                "--plot needs matplotlib: pip install matplotlib"
            ) from None
    import csoftmax

    file = sys.stdout if file is None else file
    peers = installed_peers()
    repeats, target = (5, 0.002) if quick else (7, 0.01)
    versions = ", ".join(f"{peer} {sys.modules[peer].__version__}" for peer in peers)
    print(
        f"csoftmax {csoftmax.__version__} vs {versions}; threads={threads}; "
        f"at least {repeats} interleaved rounds, counting only samples during which no other "
        "process took the CPU, and of those the quieter rounds (lower quartile)\n"
        "ratio = peer time / csoftmax time (> 1: csoftmax is faster), then its spread "
        "(interquartile range over the rounds); copy: x.copy() for outputs beyond the "
        "caches (0.5x: csoftmax takes twice a copy's time); busy: other processes took "
        "the CPU too often for the ratio to mean anything (rerun on a quieter machine); "
        "load: CPU cores other processes used while the case ran\n",
        file=file,
    )
    header = f"{'shape':<18} {'axis':>4} {'dtype':<8} {'op':<12} {'csoftmax':>9}"
    columns = [*peers, "copy"]
    header += "".join(f" {column:>12}" for column in columns) + f" {'load':>5}"
    print(header, file=file)
    print("-" * len(header), file=file, flush=True)

    rows = []
    previous_torch_threads = set_torch_threads(threads)
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for shape, axis, dtype in QUICK_CASES if quick else FULL_CASES:
            x = make_input(shape, dtype)
            for op in OPS:
                libraries = ["csoftmax", *peers]
                if copy_baseline(op, x.nbytes):
                    libraries.append("copy")
                row = _bench_one(op, x, axis, libraries, threads, repeats, target)
                row["case"] = (shape, axis, dtype)
                rows.append(row)
                print(_format_row(row, columns), file=file, flush=True)
    finally:
        if gc_was_enabled:
            gc.enable()
        if previous_torch_threads is not None:
            set_torch_threads(previous_torch_threads)

    failures = [
        f"{library} {row['op']} {case_label(*row['case'])}: {message}"
        for row in rows
        for library, message in row["failures"].items()
    ]
    busy = [row for row in rows if row["busy"]]
    if busy:
        print(f"\n{len(busy)} of {len(rows)} rows have ratios marked busy: the machine was "
              "too busy while they ran for those numbers to mean anything", file=file)
    if failures:
        print("\nnot timed (wrong result or error):", file=file)
        for failure in failures:
            print("  " + failure.replace("\n", "\n    "), file=file)
    if plot is not None:
        _plot(rows, columns, threads, plot)
        print(f"\nplot written to {plot}", file=file)
    return rows


def _bench_one(op, x, axis, libraries, threads, repeats, target):
    expected = reference(op, x, axis)
    functions, failures = {}, {}
    for library in libraries:
        function = bind(library, op, x, axis, threads)
        try:
            if library == "copy":
                np.testing.assert_array_equal(function(), x)
            else:
                check(op, function(), expected, x.dtype)
        except Exception as error:  # a wrong or failing library is reported, not timed
            failures[library] = f"{type(error).__name__}: {error}".strip()
        else:
            functions[library] = function
    row = {"op": op, "seconds": {}, "ratios": {}, "spread": {}, "busy": set(),
           "load": math.nan, "failures": failures}
    if not functions:
        return row
    timing = _timing.time_libraries(
        functions, repeats, target,
        threads={name: threads for name in functions if name in ("csoftmax", "torch")})
    row.update(seconds=timing.seconds, spread=timing.ratio_spread, busy=timing.busy,
               load=timing.others_cores)
    if "csoftmax" in timing.seconds:
        row["ratios"] = {library: timing.seconds[library] / timing.seconds["csoftmax"]
                         for library in timing.seconds if library != "csoftmax"}
    return row


def _format_row(row, columns):
    shape, axis, dtype = row["case"]
    if "csoftmax" in row["seconds"]:
        own = _format_time(row["seconds"]["csoftmax"])
    else:
        own = "wrong"
    line = f"{str(shape):<18} {axis:>4} {np.dtype(dtype).name:<8} {row['op']:<12} {own:>9}"
    for column in columns:
        if column in row["busy"]:
            cell = "busy"
        elif column in row["ratios"]:
            cell = f"{row['ratios'][column]:.2f}x ±{min(row['spread'][column], 9.99):.0%}"
        elif column in row["failures"]:
            cell = "wrong"
        else:
            cell = "-"
        line += f" {cell:>12}"
    load = "?" if math.isnan(row["load"]) else f"{row['load']:.1f}"
    return line + f" {load:>5}"


def main(argv=None):
    """``python -m csoftmax bench [--plot FILE.png] [--threads N] [--quick]
    [--sweep [--elements N] [--markdown FILE.md]]``."""
    parser = argparse.ArgumentParser(
        prog="python -m csoftmax bench",
        description="Time csoftmax against NumPy, SciPy and PyTorch (those "
        "installed) and print peer time / csoftmax time.",
    )
    parser.add_argument("--plot", metavar="FILE.png", help="also draw the ratios (needs matplotlib)")
    parser.add_argument(
        "--threads", type=int, default=1, metavar="N",
        help="threads for csoftmax and PyTorch (default 1)",
    )
    parser.add_argument("--quick", action="store_true",
                        help="a few small shapes only (--sweep: a few row lengths)")
    from . import _sweep

    _sweep.add_arguments(parser)
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error("--threads must be at least 1")
    if args.elements < 1:
        parser.error("--elements must be at least 1")
    if not args.sweep and (args.markdown is not None or args.elements != _sweep.ELEMENTS):
        parser.error("--markdown and --elements apply to --sweep only")
    try:
        if args.sweep:
            results = _sweep.run_sweep(threads=args.threads, plot_path=args.plot,
                                       markdown_path=args.markdown, quick=args.quick,
                                       elements=args.elements)
            return 1 if any(result["failures"] for result in results) else 0
        rows = run_bench(threads=args.threads, plot=args.plot, quick=args.quick)
    except ImportError as error:
        parser.exit(1, f"error: {error}\n")
    return 1 if any(row["failures"] for row in rows) else 0
