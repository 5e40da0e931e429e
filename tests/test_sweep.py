"""``python -m csoftmax bench --sweep``: its cases, checks, verdicts and outputs.

Timings are not asserted (the machine is shared); what is checked is that
every case is built as described, checked and reported, that a wrong library
is reported instead of timed, and that the acceptance verdicts follow the
rule of the module docstring.
"""

import contextlib
import io
import math

import numpy as np
import pytest

from csoftmax import _sweep
from csoftmax.__main__ import main

TINY = 2048  # elements per case in the end-to-end runs


def test_every_dimension_is_varied_once_from_the_base():
    cases = _sweep.sweep_cases(lengths=(10,), dtypes=_sweep.DTYPES)
    base = _sweep.Case("base", 10)
    assert cases[0] == base
    for case in cases[1:]:
        changed = [name for name in ("op", "layout", "dtype", "masked", "temperature")
                   if getattr(case, name) != getattr(base, name)]
        assert len(changed) == 1, case
    assert {c.layout for c in cases} == set(_sweep.LAYOUTS)
    assert {c.dtype for c in cases} == set(_sweep.DTYPES)
    assert {c.op for c in cases} == set(_sweep.SWEEP_OPS)
    assert any(c.masked for c in cases) and any(c.temperature != 1 for c in cases)
    assert len({c.series for c in cases}) == len(cases)


def test_lengths_are_log_spaced_from_2_to_a_million():
    lengths = np.array(_sweep.LENGTHS)
    assert lengths[0] == 2 and lengths[-1] == 1 << 20
    steps = lengths[1:] / lengths[:-1]
    assert np.all(steps > 3) and np.all(steps < 4)


@pytest.mark.parametrize("layout", _sweep.LAYOUTS)
def test_layouts_are_the_views_they_name(layout):
    n = 7
    inputs = _sweep.make_inputs(_sweep.Case("x", n, layout=layout), elements=700)
    x, axis = inputs.x, inputs.axis
    assert x.shape[axis] == n
    assert 350 <= x.size <= 1050  # about 700, whole rows
    unit = x.itemsize
    along = x.strides[axis]
    expected_stride = {"contiguous": unit, "fortran": x.shape[0] * unit,
                       "transposed": x.shape[0] * unit, "strided": 2 * unit,
                       "reversed": -unit, "axis0": x.shape[1] * unit,
                       "middle": x.shape[-1] * unit}[layout]
    assert along == expected_stride
    if layout in ("fortran", "transposed"):
        assert x.flags.f_contiguous and not x.flags.c_contiguous
    if layout == "middle":
        assert x.ndim == 3 and axis == 1


def test_mask_keeps_a_true_in_every_row_and_targets_index_classes():
    masked = _sweep.make_inputs(_sweep.Case("m", 2, masked=True), elements=4000)
    assert masked.mask.shape == masked.x.shape and masked.mask.dtype == bool
    assert masked.mask.any(axis=-1).all() and not masked.mask.all()
    ce = _sweep.make_inputs(_sweep.Case("c", 50, op="cross_entropy", layout="middle"),
                            elements=4000)
    assert ce.target.shape == ce.x.shape[:1] + ce.x.shape[2:]
    assert 0 <= ce.target.min() and ce.target.max() < 50


def test_floor_moves_the_case_bytes():
    case = _sweep.Case("m", 8, masked=True)
    inputs = _sweep.make_inputs(case, elements=800)
    assert _sweep.moved_bytes(case, inputs) == 800 * 4 + 800 + 800 * 4
    lse = _sweep.Case("l", 8, op="logsumexp")
    assert _sweep.moved_bytes(lse, _sweep.make_inputs(lse, elements=800)) == 800 * 4 + 100 * 4
    assert _sweep.floor_source(case, inputs).nbytes == (800 * 8 + 800) // 2


@pytest.mark.parametrize("case", _sweep.sweep_cases(lengths=(5,)),
                         ids=lambda case: case.test_id)
def test_every_library_passes_its_check(case):
    result = _sweep.run_case(case, elements=500, repeats=1, target=1e-4)
    assert result["failures"] == {}
    assert set(result["seconds"]) == set(_sweep.installed_libraries())


def test_check_rejects_a_wrong_result():
    case = _sweep.Case("c", 5)
    inputs = _sweep.make_inputs(case, elements=50)
    expected = _sweep.reference(case, inputs)
    with pytest.raises(AssertionError):
        _sweep.check(case, inputs.x, expected)
    with pytest.raises(AssertionError, match="dtype"):
        _sweep.check(case, expected, expected)


def test_wrong_library_is_reported_not_timed(monkeypatch):
    case = _sweep.Case("c", 5)
    monkeypatch.setattr(_sweep, "_numpy_peer", lambda case, inputs: lambda: inputs.x)
    result = _sweep.run_case(case, elements=500, repeats=3, target=0.001,
                             libraries=("csoftmax", "numpy"))
    assert "numpy" in result["failures"] and "numpy" not in result["seconds"]
    assert result["seconds"]["csoftmax"] > 0
    assert _sweep._cell(result, "numpy") == "wrong"


def _result(torch, floor, n=10, series="base"):
    return {"case": _sweep.Case(series, n), "shape": (1, n), "seconds": {"csoftmax": 1.0},
            "ratios": {"torch": torch, "floor": floor}, "spread": {}, "busy": set(),
            "failures": {}}


def test_verdicts_follow_the_acceptance_rule():
    assert _sweep.verdict(_result(1.5, 0.1)) == "met"
    assert _sweep.verdict(_result(1.4, 0.8)) == "met: memory floor"
    assert _sweep.verdict(_result(1.4, 0.79)) == "BELOW"
    absent = _result(1.0, 0.5)
    del absent["ratios"]["torch"]
    assert _sweep.verdict(absent) == "no PyTorch"
    absent["failures"]["torch"] = "AssertionError: wrong result"
    assert _sweep.verdict(absent) == "not timed"
    lines = _sweep.summary([_result(4.0, 0.1), _result(1.0, 0.9, n=20)])
    assert "geometric mean vs PyTorch: 2.00x" in lines[1] and "NOT met" in lines[1]
    assert lines[2].endswith(": met")
    assert "NOT met (1 cases)" in _sweep.summary([_result(1.0, 0.5)])[2]
    assert math.isclose(_sweep.geometric_mean([1.0, 4.0]), 2.0)


def test_markdown_table_has_a_row_per_series_and_a_column_per_length():
    results = [_result(2.0, 0.1, n=2), _result(3.0, 0.1, n=8),
               _result(1.0, 0.9, n=2, series="dtype=float16")]
    lines = _sweep.markdown_table(results).splitlines()
    assert lines[0] == "| case | n=2 | n=8 | geo. mean |"
    assert lines[2] == "| base | 2.00x | 3.00x | 2.45x |"
    assert lines[3] == "| dtype=float16 | 1.00x (floor) | - | 1.00x |"


def _has_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """One end-to-end run of the --quick sweep through the command line (with
    --plot where matplotlib is installed): its exit code, output and files."""
    folder = tmp_path_factory.mktemp("sweep")
    markdown, png = folder / "sweep.md", folder / "sweep.png"
    argv = ["bench", "--sweep", "--quick", "--elements", str(TINY), "--markdown", str(markdown)]
    if _has_matplotlib():
        argv += ["--plot", str(png)]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(argv)
    return code, out.getvalue(), markdown, png


def test_quick_sweep_end_to_end(quick_run):
    code, out, markdown, _ = quick_run
    assert code == 0, out
    cases = _sweep.sweep_cases(_sweep.QUICK_LENGTHS)
    rows = [line for line in out.splitlines()
            if line.split() and line.split()[0] in {c.series for c in cases}]
    assert len(rows) == len(cases)
    assert not any("wrong" in row or "not timed" in row for row in rows)
    assert "geometric mean vs PyTorch" in out
    table = markdown.read_text().splitlines()
    assert len(table) == 2 + len({c.series for c in cases})


def test_quick_sweep_plot(quick_run):
    if not _has_matplotlib():
        pytest.skip("--plot needs matplotlib")
    png = quick_run[3]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_sweep_only_options_need_sweep(capsys):
    with pytest.raises(SystemExit):
        main(["bench", "--markdown", "x.md"])
    assert "--sweep only" in capsys.readouterr().err
