"""`python -m csoftmax bench`: the ratio table, its checks and its plot.

Timings are not asserted (the machine is shared); what is checked is that
every case is run, checked and reported, and that a wrong library is reported
instead of timed.
"""

import io

import numpy as np
import pytest

from csoftmax import _bench


def test_quick_table_has_every_case_and_op():
    out = io.StringIO()
    rows = _bench.run_bench(quick=True, file=out)
    assert len(rows) == len(_bench.QUICK_CASES) * len(_bench.OPS)
    for row in rows:
        assert row["failures"] == {}, row
        assert row["seconds"]["csoftmax"] > 0
        assert set(row["ratios"]) == set(_bench.installed_peers())
    text = out.getvalue()
    header = next(line for line in text.splitlines() if line.startswith("shape"))
    assert header.split()[-2:] == ["copy", "load"]
    assert text.count("softmax") >= len(_bench.QUICK_CASES) * 2


def test_copy_baseline_only_for_outputs_beyond_the_caches():
    big = np.zeros(_bench.COPY_BASELINE_BYTES // 4, np.float32).nbytes
    small = np.zeros(1000, np.float32).nbytes
    assert _bench.copy_baseline("softmax", big)
    assert _bench.copy_baseline("log_softmax", big)
    assert not _bench.copy_baseline("logsumexp", big)  # its output is small
    assert not _bench.copy_baseline("softmax", small)


def test_copy_column_is_timed_against_csoftmax():
    x = _bench.make_input((1000, 10), np.float32)
    row = _bench._bench_one("softmax", x, -1, ["csoftmax", "copy"], 1, 3, 0.001)
    assert row["failures"] == {}
    assert row["ratios"]["copy"] > 0


def test_wrong_result_is_reported_not_timed(monkeypatch):
    x = _bench.make_input((64, 10), np.float32)
    monkeypatch.setitem(_bench.NUMPY_FUNCTIONS, "softmax", lambda x, axis: x)
    # reference() uses NUMPY_FUNCTIONS too: give the oracle the true softmax
    monkeypatch.setattr(_bench, "reference", lambda op, x, axis: _bench.numpy_softmax(
        x.astype(np.float64), axis))
    row = _bench._bench_one("softmax", x, -1, ["csoftmax", "numpy"], 1, 3, 0.001)
    assert "numpy" in row["failures"] and "numpy" not in row["seconds"]
    assert "csoftmax" in row["seconds"]
    cells = _bench._format_row({**row, "case": ((64, 10), -1, np.float32)}, ["numpy"])
    assert cells.split()[-2] == "wrong"  # the last column is the load


def test_plot_is_written(tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "ratios.png"
    rows = _bench.run_bench(quick=True, plot=str(path), file=io.StringIO())
    assert rows and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
