"""csoftmax._timing: the bench table's defence against a busy machine.

The sampler is replaced by a scripted one, so the logic is tested without
timing anything: preempted samples are left out, rounds are added while a
ratio is unsettled, and a ratio that never settles is marked busy.
"""
import io
import itertools

import numpy as np

from csoftmax import _bench, _timing


def scripted_sampler(script):
    """A sampler returning, for each library, the next (seconds, cpu_share)
    of its script (cycled)."""
    streams = {name: itertools.cycle(values) for name, values in script.items()}
    calls = {"n": 0}

    def sampler(function, number, threads):
        calls["n"] += 1
        seconds, share = next(streams[function.name])
        return _timing.Sample(seconds, share)

    sampler.calls = calls
    return sampler


def named(name):
    function = lambda: None  # noqa: E731
    function.name = name
    return function


FUNCTIONS = {name: named(name) for name in ("csoftmax", "torch")}


def test_preempted_samples_are_left_out():
    # every third torch sample was preempted and took 10x as long
    sampler = scripted_sampler({"csoftmax": [(1.0, 1.0)],
                                "torch": [(2.0, 1.0), (2.0, 0.99), (20.0, 0.3)]})
    timing = _timing.time_libraries(FUNCTIONS, 6, 1.0, sampler=sampler)
    assert timing.seconds == {"csoftmax": 1.0, "torch": 2.0}
    assert timing.busy == set()
    assert timing.ratio_spread["torch"] == 0.0
    assert np.isclose(timing.disturbed, 2 / 12)


def test_rounds_are_added_until_enough_clean_samples():
    # only one torch sample in three is clean: 5 rounds give 2, not enough
    sampler = scripted_sampler({"csoftmax": [(1.0, 1.0)],
                                "torch": [(20.0, 0.2), (20.0, 0.2), (2.0, 1.0)]})
    timing = _timing.time_libraries(FUNCTIONS, 5, 1.0, sampler=sampler)
    assert timing.rounds > 5
    assert timing.seconds["torch"] == 2.0 and timing.busy == set()


def test_a_machine_that_never_quiets_is_reported_busy():
    sampler = scripted_sampler({"csoftmax": [(1.0, 0.5)], "torch": [(2.0, 1.0)]})
    timing = _timing.time_libraries(FUNCTIONS, 5, 1.0, sampler=sampler)
    assert timing.rounds == _timing.MAX_ROUND_FACTOR * 5
    assert timing.busy == {"csoftmax", "torch"}  # no ratio to csoftmax can be trusted


def test_an_unsettled_ratio_is_reported_busy():
    # clean samples whose ratio swings between 1x and 3x
    sampler = scripted_sampler({"csoftmax": [(1.0, 1.0)],
                                "torch": [(1.0, 1.0), (3.0, 1.0)]})
    timing = _timing.time_libraries(FUNCTIONS, 5, 1.0, sampler=sampler)
    assert timing.ratio_spread["torch"] > _timing.SPREAD_LIMIT
    assert timing.busy == {"torch"}


def test_busy_cells_print_no_number():
    row = {"op": "softmax", "case": ((8, 10), -1, np.float32), "seconds": {"csoftmax": 1e-6},
           "ratios": {"numpy": 0.2, "torch": 2.0}, "spread": {"numpy": 0.5, "torch": 0.05},
           "busy": {"numpy"}, "load": 1.9, "failures": {}}
    cells = _bench._format_row(row, ["numpy", "torch"]).split()
    assert "busy" in cells and "0.20x" not in cells
    assert "2.00x" in cells and "±5%" in cells and cells[-1] == "1.9"


def test_the_table_says_when_rows_are_busy(monkeypatch):
    always_preempted = lambda function, number, threads: _timing.Sample(1e-6, 0.1)  # noqa
    monkeypatch.setattr(_timing, "take_sample", always_preempted)
    monkeypatch.setattr(_bench, "QUICK_CASES", _bench.QUICK_CASES[:1])
    out = io.StringIO()
    rows = _bench.run_bench(quick=True, file=out)
    assert all(row["busy"] for row in rows)
    assert "too busy" in out.getvalue()


def test_a_real_sample_measures_the_process_share():
    sample = _timing.take_sample(lambda: sum(range(2000)), 200)
    assert sample.seconds_per_call > 0 and 0 < sample.cpu_share <= 1
