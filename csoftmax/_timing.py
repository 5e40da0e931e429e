"""Timing on a shared, noisy machine, for ``python -m csoftmax bench``.

Every library of a case is timed in interleaved rounds (round-robin, rotating
who goes first). Each sample also records how much of the machine other
processes took while it ran:

- the share of the sample's wall time this process was on a CPU
  (``time.process_time``): below CLEAN_CPU_SHARE it was preempted, and its
  time says more about the other processes than about the code;
- on Linux, over the whole case, the CPU time of every other process
  (``/proc/stat``'s busy time less this process's own), in cores.

Only clean samples count, and of those the quieter rounds (a library's time
is the QUIET_PERCENTILE-th percentile of its clean samples). Rounds are added (up to MAX_ROUND_FACTOR times the
requested number) until every library has MIN_CLEAN_SAMPLES clean samples and
the spread of each ratio over the clean rounds is below SPREAD_LIMIT. A ratio
that never gets there is marked as measured on a busy machine rather than
printed as if it meant something.
"""
import os
import time
from dataclasses import dataclass, field

import numpy as np

CLEAN_CPU_SHARE = 0.9
# a library's time: this percentile of its clean samples (the quieter rounds:
# slow rounds that preemption does not explain remain, e.g. page reclaim)
QUIET_PERCENTILE = 25
MIN_CLEAN_SAMPLES = 3
MAX_ROUND_FACTOR = 4
# (75th - 25th percentile) / median of a ratio's clean rounds
SPREAD_LIMIT = 0.25


def _machine_busy_seconds():
    """CPU seconds all processes have spent busy since boot, or None where
    /proc/stat is not readable."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
    except OSError:
        return None
    # cpu user nice system idle iowait irq softirq steal ...: all but idle and iowait
    ticks = [int(v) for v in fields[1:9]]
    busy = sum(ticks) - ticks[3] - ticks[4]
    return busy / os.sysconf("SC_CLK_TCK")


@dataclass
class Sample:
    seconds_per_call: float
    cpu_share: float  # this process's CPU time / wall time, per thread it used

    @property
    def clean(self):
        return self.cpu_share >= CLEAN_CPU_SHARE


def take_sample(function, number, threads=1):
    """Calls `function` `number` times: its time per call and this process's
    share of the CPU meanwhile."""
    cpu_before = time.process_time()
    start = time.perf_counter()
    for _ in range(number):
        function()
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu_before
    # a call that uses fewer threads than allowed (small inputs stay on one)
    # still gets its share measured against one thread
    share = cpu / wall / max(1, min(threads, round(cpu / wall))) if wall > 0 else 1.0
    return Sample(wall / number, min(share, 1.0))


def calls_per_sample(function, target):
    """How many calls make one timing sample last about `target` seconds."""
    number = 1
    while True:
        start = time.perf_counter()
        for _ in range(number):
            function()
        total = time.perf_counter() - start
        if total >= target / 10 or number >= 10**6:
            return max(1, round(number * target / max(total, 1e-9)))
        number *= 10


@dataclass
class Timing:
    """The outcome of timing several libraries on one case."""
    seconds: dict  # library -> seconds per call over its clean samples (QUIET_PERCENTILE)
    ratio_spread: dict = field(default_factory=dict)  # library -> spread of its ratio
    busy: set = field(default_factory=set)  # libraries whose numbers are not to be trusted
    others_cores: float = float("nan")  # mean CPU used by other processes, in cores
    disturbed: float = 0.0  # share of all samples that were not clean
    rounds: int = 0


def _spread(values):
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return float("inf")
    q25, q50, q75 = np.percentile(values, [25, 50, 75])
    return float((q75 - q25) / q50)


def time_libraries(functions, repeats, target, reference="csoftmax", threads=None,
                   sampler=None):
    """Times each of `functions` (name -> zero-argument callable) in
    interleaved rounds; see the module docstring. `threads`: name -> threads
    the library may use (default 1). `sampler(function, number, threads)` is
    take_sample, replaceable for tests."""
    sampler = sampler or take_sample
    names = list(functions)
    threads = threads or {}
    numbers = {name: calls_per_sample(functions[name], target) for name in names}
    rounds = []  # one dict name -> Sample per round
    busy_before, cpu_before = _machine_busy_seconds(), time.process_time()
    start = time.perf_counter()

    def settled():
        for name in names:
            if sum(r[name].clean for r in rounds) < MIN_CLEAN_SAMPLES:
                return False
        return all(_spread(_ratios(rounds, name, reference)) <= SPREAD_LIMIT
                   for name in names if name != reference and reference in names)

    while len(rounds) < repeats or (not settled() and len(rounds) < MAX_ROUND_FACTOR * repeats):
        shift = len(rounds) % len(names)
        samples = {}
        for name in names[shift:] + names[:shift]:
            samples[name] = sampler(functions[name], numbers[name], threads.get(name, 1))
        rounds.append(samples)

    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_before
    busy_after = _machine_busy_seconds()
    timing = Timing(seconds={}, rounds=len(rounds))
    if busy_before is not None and busy_after is not None and wall > 0:
        timing.others_cores = max(0.0, (busy_after - busy_before - cpu) / wall)
    all_samples = [s for r in rounds for s in r.values()]
    timing.disturbed = sum(not s.clean for s in all_samples) / len(all_samples)
    for name in names:
        clean = [r[name].seconds_per_call for r in rounds if r[name].clean]
        if len(clean) < MIN_CLEAN_SAMPLES:
            timing.busy.add(name)
            clean = [r[name].seconds_per_call for r in rounds]
        timing.seconds[name] = float(np.percentile(clean, QUIET_PERCENTILE))
    if reference in names:
        for name in names:
            if name == reference:
                continue
            timing.ratio_spread[name] = _spread(_ratios(rounds, name, reference))
            if timing.ratio_spread[name] > SPREAD_LIMIT or reference in timing.busy:
                timing.busy.add(name)
    return timing


def _ratios(rounds, name, reference):
    """name's time / reference's time in each round where both were clean."""
    return [r[name].seconds_per_call / r[reference].seconds_per_call
            for r in rounds if r[name].clean and r[reference].clean]
