"""Many Python threads calling every function at once.

Shared, read-only inputs and separate outputs must give results bitwise
equal to a serial call, also with OpenMP threads inside each call, and the
compiled loops must release the GIL (another Python thread keeps running
while a long kernel call is in flight).

Global state: the kernels keep none of their own. The only mutable globals
of the compiled layer are the ISA dispatch pointers of csoftmax/_core.pyx
(`kernels`, `active_level`, and `loss_kernels` in _loss_core.pxi), written
once at import and again only by `_core.set_isa` (`COLUMN_BLOCK` is a
module-level constant, never written) (a test/benchmark hook, not
meant to be called while other threads compute: a call running meanwhile
may take some kernels from either level, each correct). The C sources
(src/) have no file-scope mutable variables (dispatch.c's table of getters
is const); scratch buffers are per call (malloc'd in _loss_core.pxi, on the
stack in the kernels). The Python layer's only global, the default thread
count of `set_num_threads`, is read per call.
"""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import csoftmax

WORKERS = 12
REPEATS = 6


def _read_only(a):
    a = np.ascontiguousarray(a)
    a.flags.writeable = False
    return a


@pytest.fixture(scope="module")
def inputs():
    """Read-only inputs shared by every thread: large enough (> 65536
    elements) that calls may use several OpenMP threads too."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((256, 300)) * 4
    probs = rng.random((256, 300))
    probs /= probs.sum(axis=1, keepdims=True)
    labels = rng.integers(0, 300, 256)
    labels[::7] = -100
    return {
        "x": _read_only(x), "x32": _read_only(x.astype(np.float32)),
        "x_cols": _read_only(np.asfortranarray(x)), "probs": _read_only(probs),
        "labels": _read_only(labels), "binary": _read_only(rng.random((256, 300)) < 0.5),
        "y": _read_only(csoftmax.softmax(x)), "log_y": _read_only(csoftmax.log_softmax(x)),
        "g": _read_only(rng.standard_normal((256, 300))),
        "weight": _read_only(rng.random(300) + 0.5),
    }


def _calls(d, threads):
    """name -> function of a fresh output buffer (or None) returning the
    result; every public function, the normalisers with and without out=."""
    kw = {} if threads is None else {"num_threads": threads}
    x, x32, g, y, log_y = d["x"], d["x32"], d["g"], d["y"], d["log_y"]
    return {
        "softmax": (lambda out: csoftmax.softmax(x, out=out, **kw), x.shape, x.dtype),
        "softmax f32 axis 0": (lambda out: csoftmax.softmax(x32, 0, out=out, **kw), x32.shape,
                               x32.dtype),
        "softmax temperature where": (lambda out: csoftmax.softmax(
            d["x_cols"], temperature=2.5, where=d["binary"], out=out, **kw), x.shape, x.dtype),
        "log_softmax": (lambda out: csoftmax.log_softmax(x, out=out, **kw), x.shape, x.dtype),
        "log_softmax axis None": (lambda out: csoftmax.log_softmax(x, None, out=out, **kw),
                                  x.shape, x.dtype),
        "logsumexp": (lambda out: csoftmax.logsumexp(x, out=out, **kw), x.shape[:1], x.dtype),
        "logsumexp b sign axis 0": (lambda out: csoftmax.logsumexp(
            x, 0, b=g, return_sign=True, out=out, **kw)[0], x.shape[1:], x.dtype),
        "special.softmax": (lambda out: csoftmax.special.softmax(x), None, None),
        "special.logsumexp": (lambda out: csoftmax.special.logsumexp(x, axis=1), None, None),
        "cross_entropy": (lambda out: csoftmax.cross_entropy(
            x, d["labels"], weight=d["weight"], label_smoothing=0.1, return_grad=True, **kw),
            None, None),
        "cross_entropy probs axis 0": (lambda out: csoftmax.cross_entropy(
            x, d["probs"], axis=0, reduction="none", return_grad=True, **kw), None, None),
        "nll_loss": (lambda out: csoftmax.nll_loss(log_y, d["labels"], return_grad=True, **kw),
                     None, None),
        "focal_loss": (lambda out: csoftmax.focal_loss(x, d["labels"], return_grad=True, **kw),
                       None, None),
        "entropy": (lambda out: csoftmax.entropy(x, **kw), None, None),
        "kl_div": (lambda out: csoftmax.kl_div(log_y, d["probs"], return_grad=True, **kw),
                   None, None),
        "bce": (lambda out: csoftmax.binary_cross_entropy_with_logits(
            x, d["binary"], pos_weight=d["weight"], return_grad=True, **kw), None, None),
        "sigmoid_focal_loss": (lambda out: csoftmax.sigmoid_focal_loss(
            x, d["binary"], reduction="sum", return_grad=True, **kw), None, None),
        "sigmoid": (lambda out: csoftmax.sigmoid(x, out=out, **kw), x.shape, x.dtype),
        "log_sigmoid": (lambda out: csoftmax.log_sigmoid(x32, out=out, **kw), x32.shape,
                        x32.dtype),
        "softmax_backward": (lambda out: csoftmax.softmax_backward(g, y, out=out, **kw),
                             x.shape, x.dtype),
        "log_softmax_backward axis 0": (lambda out: csoftmax.log_softmax_backward(
            g, log_y, 0, out=out, **kw), x.shape, x.dtype),
        "one_hot": (lambda out: csoftmax.one_hot(np.abs(d["labels"]) % 300, 300), None, None),
        "hardmax": (lambda out: csoftmax.hardmax(x), None, None),
        "sample": (lambda out: csoftmax.sample(x, num_samples=3, temperature=0.7, top_k=20,
                                               top_p=0.9, seed=0, return_logprobs=True, **kw),
                   None, None),
        "sample min_p": (lambda out: csoftmax.sample(x32, min_p=0.1, seed=1, **kw), None, None),
        "top_logprobs": (lambda out: csoftmax.top_logprobs(x, 5, **kw), None, None),
        "gumbel_softmax": (lambda out: csoftmax.gumbel_softmax(x32, 0.5, seed=2, **kw), None,
                           None),
    }


def _bits(result):
    if isinstance(result, tuple):
        return tuple(_bits(r) for r in result)
    return np.asarray(result).tobytes()


def _run(entry):
    fn, shape, dtype = entry
    out = None if shape is None else np.full(shape, np.nan, dtype)
    return _bits(fn(out))


@pytest.mark.parametrize("threads", [None, 1, 2])
def test_threads_calling_everything_at_once_agree_with_serial_calls(inputs, threads):
    calls = _calls(inputs, threads)
    serial = {name: _run(entry) for name, entry in calls.items()}
    jobs = [name for name in calls for _ in range(REPEATS)]
    np.random.default_rng(0).shuffle(jobs)
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        results = list(pool.map(lambda name: (name, _run(calls[name])), jobs))
    for name, bits in results:
        assert bits == serial[name], f"{name}: a concurrent call differs from the serial one"
    # the inputs were never written (they are read-only: a write would raise)
    assert not any(a.flags.writeable for a in inputs.values())


def test_in_place_calls_on_separate_arrays_in_many_threads(inputs):
    """out= aliasing each thread's own copy of the input (in place)."""
    expected = csoftmax.softmax(inputs["x"], 0).tobytes()

    def in_place(_):
        x = inputs["x"].copy()
        assert csoftmax.softmax(x, 0, out=x) is x
        return x.tobytes()

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        assert all(bits == expected for bits in pool.map(in_place, range(4 * WORKERS)))


# ------------------------------------------------------------------ the GIL is released

def _zero_pages(shape, dtype):
    """A large array of zeros whose pages are only read: the kernel's loop is
    long while the memory the process touches stays small (Linux maps unread
    calloc'd pages to the shared zero page)."""
    return np.zeros(shape, dtype)


LONG_CALLS = ("logsumexp huge row", "logsumexp columns", "softmax rows", "cross_entropy",
              "entropy", "bce", "sigmoid")


def _long_call(name):
    """One compiled call of the kernel family `name`, long enough on one thread
    for another Python thread to be seen running during it, with a small
    output where possible."""
    if name == "logsumexp huge row":
        row = _zero_pages(1 << 26, np.float32)
        return lambda: csoftmax.logsumexp(row, num_threads=1)
    if name in ("softmax rows", "sigmoid"):
        big = np.random.default_rng(0).standard_normal(1 << 23)
        if name == "sigmoid":
            return lambda: csoftmax.sigmoid(big, num_threads=1)
        return lambda: csoftmax.softmax(big.reshape(-1, 4096), num_threads=1)
    grid = _zero_pages((1 << 15, 2048), np.float32)
    if name == "logsumexp columns":
        return lambda: csoftmax.logsumexp(grid, 0, num_threads=1)
    if name == "cross_entropy":
        labels = np.zeros(grid.shape[0], np.int64)
        return lambda: csoftmax.cross_entropy(grid, labels, reduction="sum", num_threads=1)
    if name == "entropy":
        return lambda: csoftmax.entropy(grid, reduction="sum", num_threads=1)
    flat = grid.reshape(-1)
    return lambda: csoftmax.binary_cross_entropy_with_logits(flat, flat, reduction="sum",
                                                             num_threads=1)


def _longest_stall(call):
    """The longest time a pure-Python loop in this thread made no progress
    while another thread ran `call`, as a fraction of the call's duration.
    The clock starts in the other thread just before the call, so waiting
    for the GIL counts. A call holding the GIL stalls the loop for all of
    it (about 1); a releasing one only for the operating system's time
    slices, even on a loaded machine (a small fraction of a long call)."""
    started, done = threading.Event(), threading.Event()
    times = []

    def worker():
        times.append(time.perf_counter())
        started.set()
        call()
        times.append(time.perf_counter())
        done.set()

    thread = threading.Thread(target=worker)
    thread.start()
    started.wait()
    stall, last = 0.0, times[0]
    while not done.is_set():
        now = time.perf_counter()
        stall, last = max(stall, now - last), now
    thread.join()
    stall = max(stall, times[1] - last)
    return stall / (times[1] - times[0])


@pytest.mark.parametrize("name", LONG_CALLS)
def test_kernels_release_the_gil(name):
    """A Python thread keeps running while another is inside a long
    compiled call. Best of 3 against scheduling noise."""
    call = _long_call(name)
    call()  # warm-up: page tables of the zero-page inputs, allocations
    stalls = []
    for _ in range(3):
        stalls.append(_longest_stall(call))
        if stalls[-1] < 0.5:
            break
    assert min(stalls) < 0.5, f"{name}: the other thread stalled for {stalls} of the call"


def test_the_gil_probe_sees_a_held_gil():
    """The measure above can fail: a C call that keeps the GIL (ctypes.PyDLL
    does not release it) stops the counter."""
    ctypes = pytest.importorskip("ctypes")
    try:
        usleep = ctypes.PyDLL(None).usleep
    except (OSError, AttributeError):
        pytest.skip("no usleep in this process's C library")
    assert _longest_stall(lambda: usleep(200_000)) > 0.7
