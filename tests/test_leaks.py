"""Memory stays flat over many calls of every function, error paths included.

Each case calls one function (or one of its error paths) on tiny inputs
after a warm-up and bounds the growth of the process's resident memory over
LEAK_CALLS calls (psutil: leaks in C, Cython and NumPy buffers) and of the
memory traced by tracemalloc over TRACED_CALLS calls (Python objects and
NumPy arrays: reference leaks, e.g. a result or an exception kept alive;
tracemalloc slows calls several times, so fewer of them).

LEAK_CALLS is 20,000 by default (about a minute for all cases on 2 cores);
CSOFTMAX_LEAK_CALLS=100000 runs the full 100,000 calls per case. Smallest
leak caught by default: about 50 bytes per call in RSS, 7 bytes per call
traced; with 100,000 calls, 10 bytes per call in RSS.
"""

import gc
import os
import tracemalloc

import numpy as np
import pytest

import csoftmax
import csoftmax.special

psutil = pytest.importorskip("psutil")

LEAK_CALLS = int(os.environ.get("CSOFTMAX_LEAK_CALLS", "20000"))
TRACED_CALLS = min(LEAK_CALLS, 5000)
WARM_UP = 1000
MAX_RSS_GROWTH = 1 << 20  # bytes
MAX_TRACED_GROWTH = 32 << 10  # bytes

_rng = np.random.default_rng(3)
X = _rng.standard_normal((4, 8))
X32 = X.astype(np.float32)
XT = np.asfortranarray(X)
LABELS = np.array([0, 7, -100, 3])
BAD_LABELS = np.array([0, 8, 1, 2])
PROBS = csoftmax.softmax(_rng.standard_normal((4, 8)))
TARGET = (_rng.random((4, 8)) < 0.5).astype(np.float64)
OUT = np.empty((4, 8))
OUT_ROWS = np.empty(4)
READ_ONLY_OUT = np.empty((4, 8))
READ_ONLY_OUT.flags.writeable = False
Y = csoftmax.softmax(X)
LOG_Y = csoftmax.log_softmax(X)


def _raises(exc, fn, *args, **kw):
    """A call that must raise `exc` (an error path)."""
    def call():
        try:
            fn(*args, **kw)
        except exc:
            return
        raise AssertionError(f"{fn.__name__} did not raise {exc.__name__}")
    return call


CASES = {
    "softmax": lambda: csoftmax.softmax(X),
    # out= reused: regression for a leak through NumPy 2.4's __array_interface__,
    # which grew a long-lived array's memory on each access (40 bytes a call)
    "softmax out= axis 0": lambda: csoftmax.softmax(X, 0, out=OUT),
    "softmax where temperature": lambda: csoftmax.softmax(XT, temperature=2.0,
                                                          where=TARGET > 0),
    "softmax bad temperature": _raises(ValueError, csoftmax.softmax, X, temperature=-1.0),
    "softmax out wrong shape": _raises(ValueError, csoftmax.softmax, X, out=OUT_ROWS),
    "log_softmax f32": lambda: csoftmax.log_softmax(X32, axis=(0, 1)),
    "log_softmax axis out of range": _raises(np.exceptions.AxisError, csoftmax.log_softmax, X, 5),
    "logsumexp": lambda: csoftmax.logsumexp(X),
    "logsumexp b sign out=": lambda: csoftmax.logsumexp(X, b=TARGET - 0.5, return_sign=True,
                                                        out=OUT_ROWS),
    "logsumexp b not broadcastable": _raises(ValueError, csoftmax.logsumexp, X, b=np.ones(3)),
    "logsumexp complex": lambda: csoftmax.logsumexp(X + 1j),
    "special.softmax": lambda: csoftmax.special.softmax(X),
    "special.log_softmax strings": _raises(TypeError, csoftmax.special.log_softmax, ["a"]),
    "special.logsumexp": lambda: csoftmax.special.logsumexp(X, axis=1, b=TARGET),
    "cross_entropy grad": lambda: csoftmax.cross_entropy(X, LABELS, weight=np.ones(8),
                                                         label_smoothing=0.1, return_grad=True),
    "cross_entropy probs axis 0": lambda: csoftmax.cross_entropy(X, PROBS, axis=0,
                                                                 return_grad=True),
    "cross_entropy bad label": _raises(IndexError, csoftmax.cross_entropy, X, BAD_LABELS),
    "nll_loss grad": lambda: csoftmax.nll_loss(LOG_Y, LABELS, return_grad=True),
    "nll_loss bad weight": _raises(ValueError, csoftmax.nll_loss, LOG_Y, LABELS,
                                   weight=np.ones(3)),
    "focal_loss grad": lambda: csoftmax.focal_loss(X, LABELS, alpha=0.5, return_grad=True),
    "focal_loss bad gamma": _raises(ValueError, csoftmax.focal_loss, X, LABELS, gamma=-1.0),
    "entropy": lambda: csoftmax.entropy(X, reduction="mean"),
    "entropy complex": _raises(TypeError, csoftmax.entropy, X + 1j),
    "kl_div grad": lambda: csoftmax.kl_div(LOG_Y, PROBS, return_grad=True),
    "kl_div shape mismatch": _raises(ValueError, csoftmax.kl_div, LOG_Y, PROBS[:2]),
    "bce grad": lambda: csoftmax.binary_cross_entropy_with_logits(
        XT, TARGET, weight=np.ones(8), pos_weight=np.full(8, 2.0), return_grad=True),
    "bce bad pos_weight": _raises(ValueError, csoftmax.binary_cross_entropy_with_logits, X,
                                  TARGET, pos_weight=np.ones(3)),
    "sigmoid_focal_loss grad": lambda: csoftmax.sigmoid_focal_loss(X, TARGET, return_grad=True),
    "sigmoid_focal_loss bad reduction": _raises(ValueError, csoftmax.sigmoid_focal_loss, X,
                                                TARGET, reduction="avg"),
    "sigmoid out=": lambda: csoftmax.sigmoid(X, out=OUT),
    "sigmoid read-only out": _raises(ValueError, csoftmax.sigmoid, X, out=READ_ONLY_OUT),
    "log_sigmoid": lambda: csoftmax.log_sigmoid(X32),
    "softmax_backward": lambda: csoftmax.softmax_backward(X, Y),
    "softmax_backward shape mismatch": _raises(ValueError, csoftmax.softmax_backward, X, Y[:2]),
    "log_softmax_backward axis 0": lambda: csoftmax.log_softmax_backward(X, LOG_Y, 0),
    "one_hot": lambda: csoftmax.one_hot(np.abs(LABELS) % 8, 8),
    "one_hot bad label": _raises(IndexError, csoftmax.one_hot, BAD_LABELS, 8),
    "hardmax": lambda: csoftmax.hardmax(X32),
    "hardmax strings": _raises(TypeError, csoftmax.hardmax, np.array(["a", "b"])),
    "sample": lambda: csoftmax.sample(X32, num_samples=2, top_k=3, top_p=0.9, seed=0,
                                      return_logprobs=True),
    "sample without replacement": lambda: csoftmax.sample(X, num_samples=2, replacement=False,
                                                          seed=0),
    "sample bad top_p": _raises(ValueError, csoftmax.sample, X, top_p=2.0),
    "top_logprobs": lambda: csoftmax.top_logprobs(X32, 3),
    "gumbel_softmax": lambda: csoftmax.gumbel_softmax(X, hard=True, seed=0),
}


def _rss():
    return psutil.Process().memory_info().rss


def _loop(call, n):
    for _ in range(n):
        call()


@pytest.mark.parametrize("name", list(CASES))
def test_memory_is_flat_over_many_calls(name):
    call = CASES[name]
    _loop(call, WARM_UP)
    gc.collect()
    rss_before = _rss()
    _loop(call, LEAK_CALLS)
    gc.collect()
    rss_growth = _rss() - rss_before

    tracemalloc.start()  # (slows calls down several times: fewer of them)
    try:
        _loop(call, WARM_UP)  # tracemalloc's own tables settle
        gc.collect()
        traced_before = tracemalloc.get_traced_memory()[0]
        _loop(call, TRACED_CALLS)
        gc.collect()
        traced_growth = tracemalloc.get_traced_memory()[0] - traced_before
    finally:
        tracemalloc.stop()
    print(f"{name}: RSS {rss_growth / 1024:+.0f} KiB over {LEAK_CALLS} calls, "
          f"traced {traced_growth / 1024:+.2f} KiB over {TRACED_CALLS} calls")
    assert rss_growth < MAX_RSS_GROWTH, f"RSS grew by {rss_growth} bytes"
    assert traced_growth < MAX_TRACED_GROWTH, f"traced memory grew by {traced_growth} bytes"

