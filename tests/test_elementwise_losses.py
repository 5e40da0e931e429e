"""Element-wise losses (kl_div, binary_cross_entropy_with_logits,
sigmoid_focal_loss) and sigmoid/log_sigmoid against the NumPy oracle at every
ISA level: broadcast operands in any layout, extreme logits, thread-count
invariance and no temporary as large as the logits."""

import tracemalloc

import numpy as np
import pytest

import csoftmax

import reference_losses as ref
from loss_checks import (
    DTYPES, REDUCTIONS, assert_same_for_thread_counts, check,
    random_labels, random_logits, tolerance,
)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS + ("batchmean",))
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_matches_oracle(dtype, reduction, log_target, isa):
    rng = np.random.default_rng(10)
    x = ref.log_softmax(random_logits(rng, (5, 6), np.float64)).astype(dtype)
    t = np.exp(ref.log_softmax(random_logits(rng, (5, 6), np.float64)))
    if not log_target:
        t[0, 0] = 0  # 0 log 0 = 0
    t = (np.log(t) if log_target else t).astype(dtype)
    loss, grad = csoftmax.kl_div(x, t, reduction=reduction, log_target=log_target,
                                     return_grad=True)
    expected_loss, expected_grad = ref.kl_div(x, t, reduction=reduction, log_target=log_target)
    check(loss, expected_loss, dtype, spread=10)
    check(grad, expected_grad, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weights", ["none", "weight", "pos_weight", "both"])
def test_bce_with_logits_matches_oracle(dtype, reduction, weights, isa):
    rng = np.random.default_rng(11)
    x = random_logits(rng, (7, 5), dtype, scale=6.0)
    t = rng.random((7, 5)).astype(dtype)
    t[0] = np.round(t[0])
    w = rng.random((7, 1)) + 0.5 if weights in ("weight", "both") else None
    pw = rng.random(5) * 3 if weights in ("pos_weight", "both") else None
    loss, grad = csoftmax.binary_cross_entropy_with_logits(
        x, t, weight=w, pos_weight=pw, reduction=reduction, return_grad=True)
    expected_loss, expected_grad = ref.binary_cross_entropy_with_logits(
        x, t, weight=None if w is None else w.astype(dtype),
        pos_weight=None if pw is None else pw.astype(dtype), reduction=reduction)
    check(loss, expected_loss, dtype)
    check(grad, expected_grad, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_with_logits_exact_at_large_logits(dtype, isa):
    x = np.array([1e4, -1e4, 1e4, -1e4, 40.0, -40.0], dtype)
    t = np.array([1.0, 0.0, 0.0, 1.0, 1.0, 0.0], dtype)
    loss, grad = csoftmax.binary_cross_entropy_with_logits(x, t, reduction="none",
                                                           return_grad=True)
    expected_loss, expected_grad = ref.binary_cross_entropy_with_logits(x, t, reduction="none")
    assert np.all(np.isfinite(loss)) and np.all(np.isfinite(grad))
    check(loss, expected_loss, dtype)
    check(grad, expected_grad, dtype)
    assert loss[0] == 0 and loss[2] == 1e4


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("gamma,alpha", [(2.0, 0.25), (0.0, -1.0), (0.5, 0.7)])
def test_sigmoid_focal_loss_matches_oracle(dtype, reduction, gamma, alpha, isa):
    rng = np.random.default_rng(12)
    x = random_logits(rng, (6, 4), dtype)
    t = (rng.random((6, 4)) < 0.3).astype(dtype)
    loss, grad = csoftmax.sigmoid_focal_loss(x, t, gamma=gamma, alpha=alpha, reduction=reduction,
                                             return_grad=True)
    expected_loss, expected_grad = ref.sigmoid_focal_loss(x, t, gamma=gamma, alpha=alpha,
                                                          reduction=reduction)
    check(loss, expected_loss, dtype)
    check(grad, expected_grad, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_and_log_sigmoid_match_oracle(dtype, isa):
    # results stay normal numbers (float32 subnormals carry few digits)
    limit = 80 if dtype == np.float32 else 700
    x = np.concatenate([np.linspace(-limit, limit, 41), [-1e4, 1e4, 0.0]]).astype(dtype)
    x = x[np.abs(x) <= limit] if dtype == np.float32 else x
    rtol, atol = tolerance(dtype)
    np.testing.assert_allclose(csoftmax.sigmoid(x), ref.sigmoid(x), rtol=rtol * 2, atol=0)
    np.testing.assert_allclose(csoftmax.log_sigmoid(x), ref.log_sigmoid(x), rtol=rtol * 2, atol=0)
    out = np.empty_like(x)
    assert csoftmax.sigmoid(x, out=out) is out
    with pytest.raises(ValueError):
        csoftmax.log_sigmoid(x, out=np.empty(3, dtype))


def _bce_operands(rng, shape, dtype):
    """(name, weight, pos_weight) covering every operand layout the kernel
    takes directly (absent, scalar, per row, per class, full) and broadcasts
    that take the blocked path."""
    C = shape[-1]
    cases = [
        ("none", None, None),
        ("scalar", np.float64(0.7), 2.5),
        ("per-row", rng.random(shape[:-1] + (1,)) + 0.5, None),
        ("per-class", rng.random(C) + 0.5, rng.random(C) * 3),
        ("full", rng.random(shape) + 0.5, rng.random(shape) * 2),
    ]
    if len(shape) == 3:
        cases.append(("middle-axis", rng.random((1, shape[1], 1)) + 0.5,
                      rng.random(C) * 3))
    return [(name, None if w is None else np.asarray(w), q) for name, w, q in cases]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(37, 211), (5, 13, 41), (3001,)])
def test_bce_operand_layouts_match_oracle(dtype, shape, isa):
    rng = np.random.default_rng(20)
    x = random_logits(rng, shape, dtype, scale=8.0)
    t = rng.random(shape).astype(dtype)
    for name, w, q in _bce_operands(rng, shape, dtype):
        wd = None if w is None else np.asarray(w).astype(dtype)
        qd = None if q is None else np.asarray(q).astype(dtype)
        for reduction in REDUCTIONS:
            loss, grad = csoftmax.binary_cross_entropy_with_logits(
                x, t, weight=w, pos_weight=q, reduction=reduction, return_grad=True)
            expected_loss, expected_grad = ref.binary_cross_entropy_with_logits(
                x, t, weight=wd, pos_weight=qd, reduction=reduction)
            check(loss, expected_loss, dtype)
            check(grad, expected_grad, dtype)
            only = csoftmax.binary_cross_entropy_with_logits(x, t, weight=w, pos_weight=q,
                                                             reduction=reduction)
            np.testing.assert_array_equal(only, loss, err_msg=name)


@pytest.mark.parametrize("dtype", DTYPES)
def test_elementwise_losses_accept_any_layout(dtype, isa):
    rng = np.random.default_rng(21)
    base = random_logits(rng, (40, 30), dtype, scale=5.0)
    x = base[::-2, ::3]  # negative and non-unit strides
    t = rng.random((30, 20)).astype(dtype).T[:, :10]
    for reduction in REDUCTIONS:
        for ours, theirs in [
            (lambda a, b: csoftmax.binary_cross_entropy_with_logits(
                a, b, weight=np.arange(1.0, 11.0), reduction=reduction, return_grad=True),
             lambda a, b: ref.binary_cross_entropy_with_logits(
                 a, b, weight=np.arange(1.0, 11.0).astype(dtype), reduction=reduction)),
            (lambda a, b: csoftmax.sigmoid_focal_loss(a, b, gamma=1.5, reduction=reduction,
                                                      return_grad=True),
             lambda a, b: ref.sigmoid_focal_loss(a, b, gamma=1.5, reduction=reduction)),
            (lambda a, b: csoftmax.kl_div(a, b, reduction=reduction, return_grad=True),
             lambda a, b: ref.kl_div(a, b, reduction=reduction)),
        ]:
            loss, grad = ours(x, t)
            expected_loss, expected_grad = theirs(x, t)
            check(loss, expected_loss, dtype, spread=10)
            check(grad, expected_grad, dtype)
    np.testing.assert_allclose(csoftmax.sigmoid(x), ref.sigmoid(x), rtol=tolerance(dtype)[0] * 2)
    out = np.empty((10, 40), dtype).T[::2]
    assert csoftmax.log_sigmoid(x, out=out) is out
    np.testing.assert_allclose(out, ref.log_sigmoid(x), rtol=tolerance(dtype)[0] * 2)


@pytest.mark.parametrize("dtype", DTYPES)
def test_extreme_logits_stay_exact(dtype, isa):
    big = np.array([1e4, -1e4, 1e4, -1e4, 88.0, -88.0, 30.0, -30.0, 0.0, -0.0], dtype)
    t = np.array([1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.25, 0.75, 1.0, 0.0], dtype)
    x = np.tile(big, 7)  # full vectors and a tail
    tt = np.tile(t, 7)
    for w, q in [(None, None), (np.full(70, 0.5), 3.0)]:
        loss, grad = csoftmax.binary_cross_entropy_with_logits(
            x, tt, weight=w, pos_weight=q, reduction="none", return_grad=True)
        expected_loss, expected_grad = ref.binary_cross_entropy_with_logits(
            x, tt, weight=None if w is None else w.astype(dtype),
            pos_weight=None if q is None else np.asarray(q, dtype), reduction="none")
        assert np.all(np.isfinite(loss)) and np.all(np.isfinite(grad))
        check(loss, expected_loss, dtype)
        check(grad, expected_grad, dtype)
    loss, grad = csoftmax.sigmoid_focal_loss(x, np.round(tt), gamma=0.5, reduction="none",
                                             return_grad=True)
    assert np.all(np.isfinite(loss)) and np.all(np.isfinite(grad))
    expected_loss, expected_grad = ref.sigmoid_focal_loss(x, np.round(tt), gamma=0.5,
                                                          reduction="none")
    check(loss, expected_loss, dtype)
    check(grad, expected_grad, dtype)
    # log_sigmoid is x at -1e4 and -exp(-x) for large x; sigmoid never overflows
    special = np.array([-1e4, 1e4, 40.0, -np.inf, np.inf, np.nan], dtype)
    ls = csoftmax.log_sigmoid(special)
    assert ls[0] == dtype(-1e4) and ls[1] == 0 and ls[3] == -np.inf and ls[4] == 0
    assert np.isnan(ls[5])
    np.testing.assert_allclose(ls[2], -np.exp(-40.0), rtol=tolerance(dtype)[0])
    s = csoftmax.sigmoid(special)
    np.testing.assert_array_equal(s[[0, 1, 3, 4]], [0, 1, 0, 1])
    assert np.isnan(s[5])


@pytest.mark.parametrize("dtype", DTYPES)
def test_elementwise_kernels_bitwise_identical_for_any_thread_count(dtype, isa):
    rng = np.random.default_rng(23)
    x = random_logits(rng, (67, 1500), dtype, scale=6.0)
    t = rng.random((67, 1500)).astype(dtype)
    hard = np.round(t)
    lp = csoftmax.log_softmax(x)
    y = random_labels(rng, 67, 1500)
    g = rng.standard_normal((67, 1500)).astype(dtype)
    sm = csoftmax.softmax(x)
    x3 = random_logits(rng, (6, 300, 70), dtype)
    g3 = rng.standard_normal(x3.shape).astype(dtype)
    sm3 = csoftmax.softmax(x3, axis=1)
    calls = [
        lambda n: csoftmax.binary_cross_entropy_with_logits(
            x, t, weight=rng_w, pos_weight=rng_q, return_grad=True, num_threads=n),
        lambda n: csoftmax.binary_cross_entropy_with_logits(
            x, t, reduction="sum", return_grad=True, num_threads=n),
        lambda n: csoftmax.binary_cross_entropy_with_logits(
            x.reshape(67, 30, 50), t.reshape(67, 30, 50), weight=np.ones((30, 1)),
            reduction="sum", return_grad=True, num_threads=n),  # blocked path
        lambda n: csoftmax.sigmoid_focal_loss(x, hard, reduction="mean", return_grad=True,
                                              num_threads=n),
        lambda n: csoftmax.sigmoid_focal_loss(x, t, gamma=0.5, reduction="sum",
                                              return_grad=True, num_threads=n),
        lambda n: csoftmax.kl_div(lp, t, return_grad=True, num_threads=n),
        lambda n: csoftmax.kl_div(lp, lp, log_target=True, reduction="batchmean",
                                  return_grad=True, num_threads=n),
        lambda n: csoftmax.nll_loss(lp, y, weight=np.arange(1500.0), return_grad=True,
                                    num_threads=n),
        lambda n: (csoftmax.sigmoid(x, num_threads=n), csoftmax.log_sigmoid(x, num_threads=n)),
        lambda n: (csoftmax.softmax_backward(g, sm, num_threads=n),
                   csoftmax.log_softmax_backward(g, lp, num_threads=n),
                   csoftmax.softmax_backward(g3, sm3, axis=1, num_threads=n)),
    ]
    rng_w, rng_q = rng.random(1500) + 0.5, rng.random((67, 1)) + 0.5
    assert_same_for_thread_counts(calls)


def test_loss_only_elementwise_paths_allocate_no_logits_sized_temporary():
    rng = np.random.default_rng(24)
    x = random_logits(rng, (1000, 1000), np.float32)
    t = (rng.random((1000, 1000)) < 0.3).astype(np.float32)
    lp = csoftmax.log_softmax(x)
    y = rng.integers(0, 1000, 1000)
    w = rng.random(1000).astype(np.float32)
    calls = [
        lambda: csoftmax.binary_cross_entropy_with_logits(x, t),
        lambda: csoftmax.binary_cross_entropy_with_logits(x, t, weight=w, pos_weight=w[:, None]),
        lambda: csoftmax.binary_cross_entropy_with_logits(
            x.reshape(10, 100, 1000), t.reshape(10, 100, 1000), weight=np.ones((100, 1))),
        lambda: csoftmax.sigmoid_focal_loss(x, t, gamma=0.5, reduction="sum"),
        lambda: csoftmax.kl_div(lp, t),
        lambda: csoftmax.nll_loss(lp, y),
        lambda: csoftmax.nll_loss(lp.T, y, axis=0),
    ]
    for call in calls:
        call()  # warm up
        tracemalloc.start()
        try:
            call()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < x.nbytes / 4, (peak, x.nbytes)
