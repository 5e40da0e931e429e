"""The speed sweep: ``python -m csoftmax bench --sweep [--plot FILE.png]``.

csoftmax against PyTorch (CPU) and NumPy over row lengths from 2 to 2**20
(log-spaced, not powers of two, so vector tails are part of every case), on
one thread unless ``--threads`` says otherwise.

Design. A case is (op, layout, dtype, row length, mask, temperature). The
full product is far too large to time, so the sweep varies one dimension at
a time from a base, float32 C-contiguous plain softmax along the last axis,
over every row length:

- series "base": the base itself;
- one series per other layout: Fortran order, a transposed C array (``.T``),
  every other column (``[:, ::2]``), reversed columns (``[:, ::-1]``),
  axis 0 of a C array, the middle axis of a 3-D C array (inner size up to
  MIDDLE_INNER);
- one series per other dtype: float64, float16, bfloat16 (ml_dtypes; skipped
  where ml_dtypes is not installed);
- one series per other op: log_softmax, logsumexp, and cross_entropy loss and
  gradient (csoftmax's fused ``cross_entropy(..., return_grad=True)``,
  PyTorch's ``F.cross_entropy`` forward then ``backward()``, mean reduction,
  integer targets);
- a ``where=`` mask (a C-ordered boolean array of the input's shape, a quarter
  of it False, every row keeping at least one True; PyTorch:
  ``masked_fill(-inf)`` then softmax, with the fill mask made beforehand);
- a temperature of 2 (PyTorch and NumPy: ``x / 2`` then softmax).

Every case holds about ELEMENTS elements (rows = ELEMENTS // length), so each
is quick and the lengths compare at equal work. Peers: PyTorch gets a
zero-copy tensor made outside the timed call, except for a reversed view,
which a tensor cannot hold: its ``np.ascontiguousarray`` copy is part of its
time, as it is of a PyTorch user's. NumPy runs the stable formula of
csoftmax._bench (max, subtract, exp, sum) in the input's dtype; float16 and
bfloat16 go through float32 (NumPy has no fast half arithmetic) and back.

The memory floor of a case is a contiguous byte copy (``ndarray.copy()``:
allocate, read, write) moving the case's bytes: the input, the mask and the
targets read and the output written, split evenly between the copy's read and
its write. For the strided view it counts the elements used, not the skipped
ones. Column "floor" = floor time / csoftmax time (1: csoftmax runs at the
speed of a copy).

Timing is csoftmax._timing's (interleaved rounds, clean samples, lower
quartile, ratio spreads). Each library's result is checked against a float64
NumPy computation before it is timed; a wrong result is reported, never timed.

Acceptance: every case at least TARGET_RATIO times PyTorch's speed, or within
FLOOR_SLACK of its memory floor; the geometric mean of the ratios against
PyTorch at least TARGET_GEOMEAN.

benchmarks/test_bench_sweep.py times the same cases (``sweep_cases()``) with
pytest-benchmark; ``markdown_table`` renders results for the README.
"""

import argparse
import gc
import math
import sys
import time
from dataclasses import dataclass

import numpy as np

from . import _bench, _timing

ELEMENTS = 1 << 20
LENGTHS = tuple(int(n) for n in np.geomspace(2, 1 << 20, 12).round())
QUICK_LENGTHS = (7, 796, 28888)
LAYOUTS = ("contiguous", "fortran", "transposed", "strided", "reversed", "axis0", "middle")
DTYPES = ("float32", "float64", "float16", "bfloat16")
SWEEP_OPS = ("softmax", "log_softmax", "logsumexp", "cross_entropy")
MIDDLE_INNER = 64
TEMPERATURE = 2.0
MASK_FALSE_SHARE = 0.25
LIBRARIES = ("csoftmax", "torch", "numpy", "floor")

TARGET_RATIO = 1.5
FLOOR_SLACK = 1.25
TARGET_GEOMEAN = 2.2


@dataclass(frozen=True)
class Case:
    """One timed configuration; `series` names the dimension varied from the base."""
    series: str
    n: int
    op: str = "softmax"
    layout: str = "contiguous"
    dtype: str = "float32"
    masked: bool = False
    temperature: float = 1.0

    @property
    def label(self):
        return f"{self.series} n={self.n}"

    @property
    def test_id(self):
        return f"{self.series.replace('=', '_')}_n{self.n}"


def sweep_cases(lengths=LENGTHS, dtypes=None):
    """The sweep's cases, series by series (see the module docstring).

    dtypes: the dtypes to include (default: those available here; bfloat16
    needs ml_dtypes)."""
    dtypes = available_dtypes() if dtypes is None else dtypes
    series = [("base", {})]
    series += [(f"layout={layout}", {"layout": layout}) for layout in LAYOUTS[1:]]
    series += [(f"dtype={dtype}", {"dtype": dtype}) for dtype in DTYPES[1:] if dtype in dtypes]
    series += [(f"op={op}", {"op": op}) for op in SWEEP_OPS[1:]]
    series += [("where=mask", {"masked": True}), (f"temperature={TEMPERATURE:g}",
                                                  {"temperature": TEMPERATURE})]
    return [Case(name, n, **changes) for name, changes in series for n in lengths]


def available_dtypes():
    """DTYPES less bfloat16 where ml_dtypes is not installed."""
    try:
        import ml_dtypes  # noqa: F401
    except ImportError:
        return DTYPES[:3]
    return DTYPES


def numpy_dtype(name):
    if name == "bfloat16":
        import ml_dtypes

        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(name)


def _is_half(dtype):
    return dtype.itemsize == 2


@dataclass
class Inputs:
    """A case's arrays: `x` (the view under test), its reduction `axis`, the
    `mask` (where=) or None, the class `target` (cross_entropy) or None."""
    x: np.ndarray
    axis: int
    mask: np.ndarray | None = None
    target: np.ndarray | None = None


def make_inputs(case, elements=ELEMENTS, seed=0):
    """The arrays of `case`, about `elements` elements (at least one row)."""
    dtype = numpy_dtype(case.dtype)
    n, rows = case.n, max(1, elements // case.n)

    def logits(shape):
        return _bench.make_input(shape, np.float32, seed).astype(dtype)

    if case.layout == "contiguous":
        x, axis = logits((rows, n)), -1
    elif case.layout == "fortran":
        x, axis = np.asfortranarray(logits((rows, n))), -1
    elif case.layout == "transposed":
        x, axis = logits((n, rows)).T, -1
    elif case.layout == "strided":
        x, axis = logits((rows, 2 * n))[:, ::2], -1
    elif case.layout == "reversed":
        x, axis = logits((rows, n))[:, ::-1], -1
    elif case.layout == "axis0":
        x, axis = logits((n, rows)), 0
    elif case.layout == "middle":
        inner = max(1, min(MIDDLE_INNER, elements // n))
        x, axis = logits((max(1, round(elements / (n * inner))), n, inner)), 1
    else:
        raise ValueError(f"unknown layout {case.layout!r}")
    inputs = Inputs(x, axis)
    rng = np.random.default_rng(seed + 1)
    if case.masked:
        mask = rng.random(x.shape) >= MASK_FALSE_SHARE
        np.moveaxis(mask, axis, -1)[..., 0] = True  # no row fully masked
        inputs.mask = mask
    if case.op == "cross_entropy":
        kept = x.shape[:axis % x.ndim] + x.shape[axis % x.ndim + 1:]
        inputs.target = rng.integers(0, n, size=kept, dtype=np.int64)
    return inputs


def moved_bytes(case, inputs):
    """Bytes the case must read and write at least: the floor copy's traffic."""
    x = inputs.x
    read = x.size * x.itemsize
    if inputs.mask is not None:
        read += inputs.mask.size
    if inputs.target is not None:
        read += inputs.target.nbytes
    if case.op == "logsumexp":
        written = x.size // case.n * x.itemsize
    else:
        written = x.size * x.itemsize
    return read + written


# --- NumPy: the peer and, in float64, the reference --------------------------

def numpy_op(case, inputs, x):
    """`case`'s op on `x` (inputs.x or a float64 copy of it) with plain NumPy."""
    axis = inputs.axis
    if inputs.mask is not None:
        x = np.where(inputs.mask, x, -np.inf).astype(x.dtype, copy=False)
    if case.temperature != 1.0:
        x = x / x.dtype.type(case.temperature)
    if case.op == "cross_entropy":
        return _numpy_cross_entropy(x, inputs.target, axis)
    return _bench.NUMPY_FUNCTIONS[case.op](x, axis)


def _numpy_cross_entropy(x, target, axis):
    log_p = _bench.numpy_log_softmax(x, axis)
    index = np.expand_dims(target, axis)
    loss = -np.take_along_axis(log_p, index, axis).mean(dtype=x.dtype)
    grad = np.exp(log_p)
    np.put_along_axis(grad, index, np.take_along_axis(grad, index, axis) - 1, axis)
    grad /= x.dtype.type(target.size)
    return loss, grad


def reference(case, inputs):
    """The float64 result every library is checked against."""
    return numpy_op(case, inputs, inputs.x.astype(np.float64))


def _numpy_peer(case, inputs):
    x = inputs.x
    if _is_half(x.dtype):
        dtype = x.dtype
        return lambda: _cast(numpy_op(case, inputs, x.astype(np.float32)), dtype)
    return lambda: numpy_op(case, inputs, x)


def _cast(result, dtype):
    if isinstance(result, tuple):
        return tuple(np.asarray(r).astype(dtype) for r in result)
    return result.astype(dtype)


# --- PyTorch ------------------------------------------------------------------

def _tensor(x):
    import torch

    if x.dtype.kind == "V":  # ml_dtypes.bfloat16: reinterpret its bits
        return torch.from_numpy(x.view(np.uint16)).view(torch.bfloat16)
    return torch.from_numpy(x)


def _torch_peer(case, inputs):
    import torch
    import torch.nn.functional as F

    x, axis = inputs.x, inputs.axis
    if any(stride < 0 for stride in x.strides):
        def tensor():  # a tensor has no negative strides: the copy is part of the call
            return _tensor(np.ascontiguousarray(x))
    else:
        fixed = _tensor(x)

        def tensor():
            return fixed
    if case.op == "cross_entropy":
        target = torch.from_numpy(inputs.target)
        leaf = tensor().requires_grad_()

        def cross_entropy():
            leaf.grad = None
            loss = F.cross_entropy(torch.movedim(leaf, axis, 1), target)
            loss.backward()
            return loss, leaf.grad
        return cross_entropy
    function = getattr(torch, case.op)
    if inputs.mask is not None:
        fill = torch.from_numpy(~inputs.mask)
        return lambda: function(tensor().masked_fill(fill, -math.inf), axis)
    if case.temperature != 1.0:
        temperature = case.temperature
        return lambda: function(tensor() / temperature, axis)
    return lambda: function(tensor(), axis)


# --- csoftmax and the floor ------------------------------------------------------

def _csoftmax_call(case, inputs, threads):
    import csoftmax

    x, axis = inputs.x, inputs.axis
    if case.op == "cross_entropy":
        target = inputs.target
        return lambda: csoftmax.cross_entropy(x, target, axis=axis, return_grad=True,
                                              num_threads=threads)
    function = getattr(csoftmax, case.op)
    keywords = {"num_threads": threads}
    if inputs.mask is not None:
        keywords["where"] = inputs.mask
    if case.temperature != 1.0:
        keywords["temperature"] = case.temperature
    return lambda: function(x, axis, **keywords)


def floor_source(case, inputs):
    """The contiguous bytes whose copy() is the case's memory floor."""
    return np.ones(max(1, moved_bytes(case, inputs) // 2), np.uint8)


def bind(library, case, inputs, threads=1):
    """A zero-argument callable running `case` with `library` (one of
    LIBRARIES; ImportError when a peer is not installed)."""
    if library == "csoftmax":
        return _csoftmax_call(case, inputs, threads)
    if library == "torch":
        return _torch_peer(case, inputs)
    if library == "numpy":
        return _numpy_peer(case, inputs)
    if library == "floor":
        return floor_source(case, inputs).copy
    raise ValueError(f"unknown library {library!r}")


# --- checking ---------------------------------------------------------------------

def _as_float64(value):
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().double().numpy()
    return np.asarray(value).astype(np.float64)


def _dtype_name(value):
    if hasattr(value, "detach"):
        return str(value.dtype).removeprefix("torch.")
    return np.asarray(value).dtype.name


def check(case, result, expected):
    """Raise AssertionError unless `result` (NumPy or torch) matches the
    float64 `expected` in shape, dtype and value.

    Tolerances are sanity bounds, not accuracy claims (the tests measure
    accuracy): float32 rtol 1e-4 as in csoftmax._bench; the half types two of
    their epsilons, with an absolute slack of float16's smallest subnormal for
    softmax's tiny probabilities; float64 1e-10."""
    if case.op == "cross_entropy":
        pairs = [("loss", result[0], expected[0]), ("grad", result[1], expected[1])]
    else:
        pairs = [(case.op, result, expected)]
    dtype = numpy_dtype(case.dtype)
    if case.dtype == "float64":
        rtol, atol = 1e-10, 1e-12
    elif case.dtype == "float32":
        rtol, atol = 1e-4, 1e-5
    else:
        rtol = 2 * float(np.finfo(dtype).eps)
        atol = float(np.finfo(np.float16).smallest_subnormal)
    for what, value, wanted in pairs:
        wanted = np.asarray(wanted)
        if _dtype_name(value) != dtype.name:
            raise AssertionError(f"{what}: dtype {_dtype_name(value)}, expected {dtype.name}")
        value = _as_float64(value)
        if value.shape != wanted.shape:
            raise AssertionError(f"{what}: shape {value.shape}, expected {wanted.shape}")
        scale = 1.0
        if what == "grad":  # mean reduction: gradients scale with 1 / rows
            scale = float(np.max(np.abs(wanted))) or 1.0
        slack = atol if case.dtype not in ("float32", "float64") or what != "softmax" else 0.0
        np.testing.assert_allclose(value, wanted, rtol=rtol, atol=slack * scale,
                                   err_msg=f"{case.label} {what}")


def check_floor(function, case, inputs):
    copied = function()
    if copied.nbytes != floor_source(case, inputs).nbytes or not copied.all():
        raise AssertionError("the floor copy did not copy its bytes")


# --- running ----------------------------------------------------------------------

def installed_libraries():
    """LIBRARIES less PyTorch where it is not installed."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return tuple(library for library in LIBRARIES if library != "torch")
    return LIBRARIES


def run_case(case, threads=1, elements=ELEMENTS, repeats=5, target=0.005,
             libraries=None):
    """Check then time one case; returns its result dict: case, shape, seconds
    (library -> seconds per call), ratios (library -> its time / csoftmax's),
    spread, busy, failures (library -> why it was not timed)."""
    inputs = make_inputs(case, elements)
    expected = reference(case, inputs)
    functions, failures = {}, {}
    for library in libraries or installed_libraries():
        try:
            function = bind(library, case, inputs, threads)
            if library == "floor":
                check_floor(function, case, inputs)
            else:
                check(case, function(), expected)
        except Exception as error:  # a wrong or failing library is reported, not timed
            failures[library] = f"{type(error).__name__}: {error}".strip()
        else:
            functions[library] = function
    result = {"case": case, "shape": inputs.x.shape, "seconds": {}, "ratios": {},
              "spread": {}, "busy": set(), "failures": failures}
    if "csoftmax" not in functions:
        return result
    timing = _timing.time_libraries(
        functions, repeats, target,
        threads={name: threads for name in functions if name in ("csoftmax", "torch")})
    own = timing.seconds["csoftmax"]
    result.update(seconds=timing.seconds, spread=timing.ratio_spread, busy=timing.busy,
                  ratios={name: seconds / own for name, seconds in timing.seconds.items()
                          if name != "csoftmax"})
    return result


def verdict(result):
    """'met' (>= TARGET_RATIO x PyTorch), 'met: memory floor' (within
    FLOOR_SLACK of the floor), 'BELOW', 'not timed' (PyTorch failed or gave a
    wrong result) or 'no PyTorch' (it is not installed)."""
    ratios = result["ratios"]
    if "torch" not in ratios:
        return "not timed" if "torch" in result["failures"] else "no PyTorch"
    if ratios["torch"] >= TARGET_RATIO:
        return "met"
    if "floor" in ratios and ratios["floor"] * FLOOR_SLACK >= 1.0:
        return "met: memory floor"
    return "BELOW"


def geometric_mean(values):
    values = [v for v in values if v > 0 and math.isfinite(v)]
    return math.exp(sum(map(math.log, values)) / len(values)) if values else math.nan


def summary(results):
    """The acceptance lines: cases below the bar and the geometric mean."""
    verdicts = [verdict(r) for r in results]
    torch_ratios = [r["ratios"]["torch"] for r in results if "torch" in r["ratios"]]
    mean = geometric_mean(torch_ratios)
    below = [r for r, v in zip(results, verdicts) if v == "BELOW"]
    lines = [
        f"cases: {len(results)}; >= {TARGET_RATIO}x PyTorch: {verdicts.count('met')}; "
        f"met by the memory floor: {verdicts.count('met: memory floor')}; "
        f"below: {len(below)}; not timed: {verdicts.count('not timed')}; "
        f"busy ratios: {sum('torch' in r['busy'] for r in results)}",
        f"geometric mean vs PyTorch: {mean:.2f}x (target >= {TARGET_GEOMEAN}x): "
        + ("met" if mean >= TARGET_GEOMEAN else "NOT met"),
        f"no case below {TARGET_RATIO}x PyTorch unless within {FLOOR_SLACK}x of its memory "
        "floor: " + ("met" if not below and torch_ratios else f"NOT met ({len(below)} cases)"),
    ]
    return lines


def _cell(result, library):
    if library in result["ratios"]:
        mark = "*" if library in result["busy"] else ""
        return f"{result['ratios'][library]:.2f}x{mark}"
    return "wrong" if library in result["failures"] else "-"


def format_result(result):
    case = result["case"]
    own = result["seconds"].get("csoftmax")
    own = _bench._format_time(own) if own is not None else "wrong"
    shape = "x".join(map(str, result["shape"]))
    cells = "".join(f" {_cell(result, library):>9}" for library in ("torch", "numpy", "floor"))
    return (f"{case.series:<22} {case.n:>8} {shape:<16} {own:>9}{cells}  {verdict(result)}")


HEADER = (f"{'case':<22} {'n':>8} {'shape':<16} {'csoftmax':>9} {'vs torch':>9} "
          f"{'vs numpy':>9} {'floor':>9}  verdict")


def markdown_table(results):
    """The ratios against PyTorch as a Markdown table: one row per series,
    one column per row length, and the series' geometric mean."""
    lengths = sorted({r["case"].n for r in results})
    series = list(dict.fromkeys(r["case"].series for r in results))
    by_key = {(r["case"].series, r["case"].n): r for r in results}
    lines = ["| case | " + " | ".join(f"n={n:,}" for n in lengths) + " | geo. mean |",
             "|---|" + "---:|" * (len(lengths) + 1)]
    for name in series:
        ratios, cells = [], []
        for n in lengths:
            result = by_key.get((name, n))
            if result is None or "torch" not in result["ratios"]:
                cells.append("-")
                continue
            ratios.append(result["ratios"]["torch"])
            floor = " (floor)" if verdict(result) == "met: memory floor" else ""
            cells.append(f"{result['ratios']['torch']:.2f}x{floor}")
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {geometric_mean(ratios):.2f}x |")
    return "\n".join(lines)


def plot(results, path, threads=1, elements=ELEMENTS):
    """Ratio against PyTorch versus row length, one line per series (layout,
    dtype, op, mask, temperature), to `path` (needs matplotlib)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10.0, 6.5), layout="constrained")
    axes = figure.add_subplot()
    for name in dict.fromkeys(r["case"].series for r in results):
        points = sorted((r["case"].n, r["ratios"]["torch"]) for r in results
                        if r["case"].series == name and "torch" in r["ratios"])
        if points:
            style = "-" if name == "base" or name.startswith(("layout", "dtype")) else "--"
            axes.plot(*zip(*points), style, marker="o", markersize=3, label=name)
    axes.axhline(1.0, color="black", linewidth=0.8)
    axes.axhline(TARGET_RATIO, color="gray", linewidth=0.8, linestyle=":")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("row length (elements along the reduced axis)")
    axes.set_ylabel("PyTorch time / csoftmax time (> 1: csoftmax faster)")
    axes.set_title(f"csoftmax vs PyTorch, about {elements:,} elements per case, "
                   f"threads={threads}")
    axes.legend(fontsize=7, ncol=2)
    figure.savefig(path, dpi=120)


def run_sweep(threads=1, plot_path=None, markdown_path=None, quick=False,
              elements=ELEMENTS, file=None):
    """Run every case of sweep_cases() (QUICK_LENGTHS with `quick`), print the
    table and the acceptance lines to `file` (default sys.stdout), and return
    the results (one dict per case, see run_case)."""
    if plot_path is not None:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise ImportError("--plot needs matplotlib: pip install matplotlib") from None
    import csoftmax

    file = sys.stdout if file is None else file
    cases = sweep_cases(QUICK_LENGTHS if quick else LENGTHS)
    repeats, target = (3, 0.001) if quick else (5, 0.005)
    libraries = installed_libraries()
    print(f"csoftmax {csoftmax.__version__} sweep: {len(cases)} cases of about {elements:,} "
          f"elements; threads={threads}; ratio = peer time / csoftmax time (> 1: csoftmax "
          "faster); floor = time of a contiguous copy moving the case's bytes / csoftmax "
          "time; *: busy (other processes took the CPU too often for the ratio to settle)\n",
          file=file)
    print(HEADER, file=file)
    print("-" * len(HEADER), file=file, flush=True)
    results = []
    start = time.perf_counter()
    previous_threads = _bench.set_torch_threads(threads)
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for case in cases:
            result = run_case(case, threads, elements, repeats, target, libraries)
            results.append(result)
            print(format_result(result), file=file, flush=True)
            gc.collect()  # between cases only, never while timing
    finally:
        if gc_was_enabled:
            gc.enable()
        if previous_threads is not None:
            _bench.set_torch_threads(previous_threads)
    print(f"\n{len(cases)} cases in {time.perf_counter() - start:.0f} s", file=file)
    for line in summary(results):
        print(line, file=file)
    failures = [f"  {r['case'].label} {library}: {message}"
                for r in results for library, message in r["failures"].items()]
    if failures:
        print("\nnot timed (wrong result or error):", file=file)
        print("\n".join(failures), file=file)
    if markdown_path is not None:
        with open(markdown_path, "w") as f:
            f.write(markdown_table(results) + "\n")
        print(f"\nMarkdown table written to {markdown_path}", file=file)
    if plot_path is not None:
        plot(results, plot_path, threads, elements)
        print(f"\nplot written to {plot_path}", file=file)
    return results


def add_arguments(parser: argparse.ArgumentParser):
    """The sweep's options of ``python -m csoftmax bench``."""
    parser.add_argument("--sweep", action="store_true",
                        help="the sweep over row lengths, layouts, dtypes, ops, masks and "
                        "temperatures (csoftmax/_sweep.py)")
    parser.add_argument("--elements", type=int, default=ELEMENTS, metavar="N",
                        help=f"--sweep: elements per case (default {ELEMENTS})")
    parser.add_argument("--markdown", metavar="FILE.md",
                        help="--sweep: also write the ratios as a Markdown table")
