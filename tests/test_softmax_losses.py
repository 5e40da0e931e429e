"""Softmax losses (cross_entropy, focal_loss, entropy) against the NumPy
oracle (tests/reference_losses.py) at every ISA level: class indices and
probabilities, class axes in every position, huge rows split over threads,
and no temporary as large as the logits."""

import tracemalloc

import numpy as np
import pytest

import csoftmax

import reference_losses as ref
from loss_checks import DTYPES, REDUCTIONS, check, random_labels, random_logits


CE_OPTIONS = [
    {},
    {"weight": "w"},
    {"label_smoothing": 0.1},
    {"weight": "w", "label_smoothing": 0.25},
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("options", CE_OPTIONS, ids=lambda o: "-".join(o) or "plain")
@pytest.mark.parametrize("shape,axis", [((9, 7), -1), ((3, 37), 1), ((4, 5, 3, 2), 1),
                                         ((5, 3, 6), 0), ((20,), 0), ((2, 70), -1),
                                         ((2, 40, 3, 11), 1)])
def test_cross_entropy_labels_match_oracle(dtype, reduction, options, shape, axis, isa):
    rng = np.random.default_rng(1)
    x = random_logits(rng, shape, dtype)
    C = shape[axis]
    row_shape = tuple(np.delete(shape, axis % len(shape)))
    y = random_labels(rng, row_shape, C)
    kw = dict(options)
    if "weight" in kw:
        kw["weight"] = rng.random(C) + 0.1
    loss, grad = csoftmax.cross_entropy(x, y, axis=axis, reduction=reduction, return_grad=True,
                                        **kw)
    expected_loss, expected_grad = ref.cross_entropy(x, y, axis=axis, reduction=reduction, **kw)
    if reduction != "none":
        assert isinstance(loss, np.generic)
    check(loss, expected_loss, dtype, spread=6 * 3.0)
    check(grad, expected_grad, dtype)
    loss_only = csoftmax.cross_entropy(x, y, axis=axis, reduction=reduction, **kw)
    np.testing.assert_array_equal(loss_only, loss)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("options", CE_OPTIONS, ids=lambda o: "-".join(o) or "plain")
@pytest.mark.parametrize("shape,axis", [((9, 7), -1), ((4, 5, 3, 2), 1), ((3, 300), -1),
                                         ((2, 40, 3, 11), 1)])
def test_cross_entropy_probabilities_match_oracle(dtype, reduction, options, shape, axis, isa):
    rng = np.random.default_rng(2)
    x = random_logits(rng, shape, dtype)
    C = shape[axis]
    t = rng.random(shape)
    t /= t.sum(axis=axis, keepdims=True)
    t[0] *= 1.5  # rows that do not sum to 1 follow PyTorch too
    t = t.astype(dtype)
    kw = dict(options)
    if "weight" in kw:
        kw["weight"] = rng.random(C) + 0.1
    loss, grad = csoftmax.cross_entropy(x, t, axis=axis, reduction=reduction, return_grad=True,
                                        **kw)
    expected_loss, expected_grad = ref.cross_entropy(x, t, axis=axis, reduction=reduction, **kw)
    check(loss, expected_loss, dtype, spread=6 * 3.0)
    check(grad, expected_grad, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_exact_for_offset_and_wide_rows(dtype, isa):
    """Rows offset by 1e4 lose nothing (the loss is formed from x - max), and
    rows whose exps underflow take the exact exp."""
    rng = np.random.default_rng(3)
    x = random_logits(rng, (6, 50), dtype) + dtype(1e4)
    x[1, 3] -= 2000  # exp underflows to 0 in this row
    x[2, :] = np.linspace(-90, 0, 50).astype(dtype)  # subnormal exps in float32
    y = rng.integers(0, 50, 6)
    loss, grad = csoftmax.cross_entropy(x, y, reduction="none", return_grad=True)
    expected_loss, expected_grad = ref.cross_entropy(x, y, reduction="none")
    check(loss, expected_loss, dtype, spread=6 * 3.0)
    check(grad, expected_grad, dtype)


def test_cross_entropy_all_ignored_mean_is_nan_with_zero_grad():
    x = np.arange(12.0).reshape(3, 4)
    y = np.full(3, -100)
    loss, grad = csoftmax.cross_entropy(x, y, return_grad=True)
    assert np.isnan(loss)
    np.testing.assert_array_equal(grad, 0)
    for fn in (csoftmax.focal_loss, csoftmax.nll_loss):
        loss, grad = fn(x, y, return_grad=True)
        assert np.isnan(loss)
        np.testing.assert_array_equal(grad, 0)
    loss, grad = csoftmax.cross_entropy(x, np.full(3, 7), ignore_index=7, reduction="sum",
                                        return_grad=True)
    assert loss == 0
    np.testing.assert_array_equal(grad, 0)


def test_cross_entropy_ignore_index_in_range():
    """An ignore_index that is a valid class ignores that class's targets."""
    rng = np.random.default_rng(4)
    x = random_logits(rng, (10, 5), np.float64)
    y = rng.integers(0, 5, 10)
    loss, grad = csoftmax.cross_entropy(x, y, ignore_index=2, return_grad=True)
    expected_loss, expected_grad = ref.cross_entropy(x, y, ignore_index=2)
    check(loss, expected_loss, np.float64)
    check(grad, expected_grad, np.float64)


@pytest.mark.parametrize("dtype", [np.float16, np.int64, np.bool_])
def test_cross_entropy_other_dtypes(dtype):
    """float16 is computed in float32 and returned in float16; integers become float64."""
    rng = np.random.default_rng(5)
    x = random_logits(rng, (8, 6), np.float64).astype(dtype)
    y = rng.integers(0, 6, 8)
    loss, grad = csoftmax.cross_entropy(x, y, return_grad=True)
    expected_dtype = np.float16 if dtype == np.float16 else np.float64
    assert loss.dtype == expected_dtype and grad.dtype == expected_dtype
    expected_loss, expected_grad = ref.cross_entropy(x.astype(np.float64), y)
    tol = 2e-3 if dtype == np.float16 else 1e-13
    np.testing.assert_allclose(float(loss), expected_loss, rtol=tol)
    np.testing.assert_allclose(grad.astype(np.float64), expected_grad, rtol=tol, atol=tol * 0.1)


def test_cross_entropy_accepts_any_integer_target_dtype():
    rng = np.random.default_rng(6)
    x = random_logits(rng, (8, 6), np.float64)
    y = rng.integers(0, 6, 8)
    expected = csoftmax.cross_entropy(x, y)
    for dtype in (np.int8, np.uint8, np.int32, np.uint64):
        assert csoftmax.cross_entropy(x, y.astype(dtype)) == expected


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("alpha", [None, 0.25, "per-class"])
@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
@pytest.mark.parametrize("C,inner", [(5, 3), (37, 21)])
def test_focal_loss_matches_oracle(dtype, reduction, alpha, gamma, C, inner, isa):
    rng = np.random.default_rng(7)
    x = random_logits(rng, (4, C, inner), dtype)
    y = random_labels(rng, (4, inner), C)
    a = rng.random(C) if alpha == "per-class" else alpha
    loss, grad = csoftmax.focal_loss(x, y, gamma=gamma, alpha=a, axis=1, reduction=reduction,
                                     return_grad=True)
    expected_loss, expected_grad = ref.focal_loss(x, y, gamma=gamma, alpha=a, axis=1,
                                                  reduction=reduction)
    check(loss, expected_loss, dtype, spread=6 * 3.0)
    check(grad, expected_grad, dtype)


def test_focal_loss_gamma_zero_is_cross_entropy():
    rng = np.random.default_rng(8)
    x = random_logits(rng, (10, 4), np.float64)
    y = random_labels(rng, 10, 4)
    focal, focal_grad = csoftmax.focal_loss(x, y, gamma=0.0, return_grad=True)
    ce, ce_grad = csoftmax.cross_entropy(x, y, return_grad=True)
    np.testing.assert_allclose(focal, ce, rtol=1e-15)
    np.testing.assert_allclose(focal_grad, ce_grad, rtol=1e-15, atol=1e-17)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,axis", [((7, 9), -1), ((3, 4, 5), 1), ((2, 300), -1)])
def test_entropy_matches_oracle(dtype, shape, axis, isa):
    rng = np.random.default_rng(13)
    x = random_logits(rng, shape, dtype)
    x.reshape(-1)[0] = -np.inf  # p = 0 contributes 0
    result = csoftmax.entropy(x, axis=axis)
    check(result, ref.entropy(x, axis), dtype, spread=6 * 3.0)
    check(csoftmax.entropy(x, axis=axis, reduction="mean"), ref.entropy(x, axis).mean(), dtype,
           spread=6 * 3.0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 3, 10, 15])
@pytest.mark.parametrize("options", [{}, {"label_smoothing": 0.1, "weight": "w"},
                                     {"focal": True}, {"probabilities": True, "weight": "w"}],
                         ids=["plain", "smooth-weight", "focal", "probabilities"])
def test_short_rows_bits_do_not_depend_on_neighbours(dtype, n, options, isa):
    """Rows shorter than two vectors are done several at a time (one per lane),
    class indices or probabilities: a row's loss and gradient must have the same
    bits alone, in a strided view, over any thread split, beside ignored rows and
    rows of large or non-finite logits (those go one at a time), and loss-only as
    with the gradient."""
    rng = np.random.default_rng(20)
    x = random_logits(rng, (37, n), dtype)
    x[4, 0] = 300.0
    x[6, n - 1] = np.nan
    x[9, 0] = np.inf
    y = random_labels(rng, 37, n)
    kw = dict(options)
    if kw.pop("probabilities", False):
        y = rng.random((37, n)).astype(dtype)
    if kw.pop("focal", False):
        def f(a, b, **more):
            return csoftmax.focal_loss(a, b, reduction="none", **more)
    else:
        if "weight" in kw:
            kw["weight"] = (rng.random(n) + 0.5).astype(dtype)

        def f(a, b, **more):
            return csoftmax.cross_entropy(a, b, reduction="none", **kw, **more)
    loss, grad = f(x, y, return_grad=True, num_threads=1)
    alone = [f(x[r:r + 1], y[r:r + 1], return_grad=True) for r in range(len(x))]
    np.testing.assert_array_equal(loss, np.concatenate([a[0] for a in alone]))
    np.testing.assert_array_equal(grad, np.concatenate([a[1] for a in alone]))
    wide = np.zeros((37, n + 3), dtype)
    wide[:, :n] = x
    strided = f(wide[:, :n], y, return_grad=True)
    np.testing.assert_array_equal(loss, strided[0])
    np.testing.assert_array_equal(grad, strided[1])
    for lo in (1, 3, 5):  # starts of a thread's range that shift the groups
        part = f(x[lo:], y[lo:], return_grad=True)
        np.testing.assert_array_equal(loss[lo:], part[0])
        np.testing.assert_array_equal(grad[lo:], part[1])
    np.testing.assert_array_equal(loss, f(x, y, num_threads=2))
    assert not np.signbit(loss[loss == 0]).any()  # a certain class costs +0, as PyTorch's


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("C", [3, 10, 21, 150])
@pytest.mark.parametrize("kind", ["labels", "focal", "probabilities"])
def test_class_axis_columns_match_the_row_layout(dtype, C, kind, isa):
    """A non-last class axis (class indices, focal loss, probabilities) is
    computed in place, a vector of columns at a time: the same losses and gradients as the rows of moveaxis(x, 1, -1)
    (to a few ulp: the sums run in another order), nan where a column's max is
    not finite, zeros where its target is ignored; a column's bits do not
    depend on its neighbours (views shifted by a few columns), on the thread
    count, or on whether the gradient is wanted."""
    rng = np.random.default_rng(21)
    x = random_logits(rng, (3, C, 4, 13), dtype)
    y = random_labels(rng, (3, 4, 13), C)
    x[0, 0, 1, 2] = np.nan
    x[1, :, 2, 5] = -np.inf
    x[2, C - 1, 0, 7] = np.inf
    x[2, 0, 3, 12] = 80.0
    y[0, 1, 2] = y[1, 2, 5] = y[2, 0, 7] = 0
    y[0, 0, 0] = -100
    x[0, :, 0, 0] = np.nan  # ignored: still 0
    y_rows = y
    if kind == "probabilities":  # no ignored targets: a column with nan logits gives nan
        y = rng.random(x.shape).astype(dtype)
        y[0, :, 0, 0] = 0
        y_rows = np.moveaxis(y, 1, -1)
        x[0, :, 0, 0] = 1.0
    if kind == "focal":
        def f(a, b, **more):
            return csoftmax.focal_loss(a, b, gamma=1.5, reduction="none", **more)
    else:
        w = (rng.random(C) + 0.5).astype(dtype)

        def f(a, b, **more):
            return csoftmax.cross_entropy(a, b, weight=w, label_smoothing=0.1, reduction="none",
                                          **more)
    loss, grad = f(x, y, axis=1, return_grad=True, num_threads=1)
    row_loss, row_grad = f(np.moveaxis(x, 1, -1), y_rows, return_grad=True)
    rtol = 8 * np.finfo(dtype).eps
    np.testing.assert_allclose(loss, row_loss, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(grad, np.moveaxis(row_grad, -1, 1), rtol=rtol, atol=rtol)
    assert np.isnan(loss[[0, 1, 2], [1, 2, 0], [2, 5, 7]]).all()
    assert np.isnan(grad[[0, 1, 2], :, [1, 2, 0], [2, 5, 7]]).all()
    if kind != "probabilities":
        assert loss[0, 0, 0] == 0 and not grad[0, :, 0, 0].any()
    for lo in (1, 3, 6):
        part = f(x[..., lo:], y[..., lo:], axis=1, return_grad=True)
        np.testing.assert_array_equal(loss[..., lo:], part[0])
        np.testing.assert_array_equal(grad[..., lo:], part[1])
    for threads in (2, 3):
        other = f(x, y, axis=1, return_grad=True, num_threads=threads)
        np.testing.assert_array_equal(loss, other[0])
        np.testing.assert_array_equal(grad, other[1])
    np.testing.assert_array_equal(loss, f(x, y, axis=1))


_HUGE_CHUNK = 1 << 14


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("options", [{}, {"label_smoothing": 0.2, "weight": "w"},
                                     {"focal": True}], ids=["plain", "smooth-weight", "focal"])
def test_huge_rows_are_split_over_threads_with_the_same_bits(dtype, options, isa):
    """Rows of 2**16 classes or more go whole over the threads, or when there are
    fewer rows than threads one at a time, each split over them: results match
    the oracle and do not depend on the thread count."""
    rng = np.random.default_rng(22)
    C = (1 << 16) + 1001
    x = random_logits(rng, (8, C), dtype)
    y = np.array([3, C - 1, -100, 7, 12, 30000, 5, 0, 9])
    x[3, 100] = np.nan
    x[4, C // 2] = np.inf
    x[5, :20000] = -np.inf  # a whole chunk (their size is set by C) without a finite entry
    x[6, :20000] = np.nan
    x[7, _HUGE_CHUNK:2 * _HUGE_CHUNK] = np.nan  # exactly one chunk, not the first, all nan
    x = x[[0, 1, 5, 2, 3, 4, 6, 7]]  # the rows the oracle takes first
    y = y[[0, 1, 5, 2, 3, 4, 6, 8]]
    kw = dict(options)
    # the oracle row by row in long double (the reference module's one-hot
    # matrices would take C**2 memory)
    z = x[:3].astype(np.longdouble)
    m = z.max(axis=1, keepdims=True)
    log_p = z - m - np.log(np.exp(z - m).sum(axis=1, keepdims=True))
    p = np.exp(log_p)
    hot = np.zeros_like(z)
    hot[[0, 1, 2], y[:3]] = 1
    log_p_y = log_p[[0, 1, 2], y[:3]][:, None]
    if kw.pop("focal", False):
        def f(**more):
            return csoftmax.focal_loss(x, y, gamma=2.0, reduction="none", return_grad=True,
                                       **more)
        q = -np.expm1(log_p_y)
        expected_loss = -(q ** 2) * log_p_y
        expected_grad = (2 * q * log_p_y * (1 - q) - q ** 2) * (hot - p)
    else:
        w = np.ones(C)
        if "weight" in kw:
            kw["weight"] = w = rng.random(C) + 0.5

        def f(**more):
            return csoftmax.cross_entropy(x, y, reduction="none", return_grad=True, **kw, **more)
        eps = kw.get("label_smoothing", 0.0)
        w_y = w[y[:3]][:, None]
        spread = -(w * log_p).sum(1, keepdims=True)  # inf with -inf logits
        expected_loss = -(1 - eps) * w_y * log_p_y + (eps / C * spread if eps else 0)
        expected_grad = ((1 - eps) * w_y + eps * w.sum() / C) * p - eps / C * w - (
            (1 - eps) * w_y * hot)
    loss, grad = f(num_threads=1)
    check(loss[:3], expected_loss[:, 0].astype(np.float64), dtype, spread=6 * 3.0)
    check(grad[:3], expected_grad.astype(np.float64), dtype)
    assert loss[3] == 0 and not grad[3].any()
    assert np.isnan(loss[4:]).all() and np.isnan(grad[4:]).all()
    for threads in (2, 3, len(x) + 1):  # whole rows per thread; fewer rows than threads
        other = f(num_threads=threads)
        np.testing.assert_array_equal(loss, other[0])
        np.testing.assert_array_equal(grad, other[1])
    only = (csoftmax.focal_loss(x, y, gamma=2.0, reduction="none", num_threads=2)
            if "focal" in options else
            csoftmax.cross_entropy(x, y, reduction="none", num_threads=2, **kw))
    np.testing.assert_array_equal(loss, only)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("options", [{}, {"label_smoothing": 0.2, "weight": True}],
                         ids=["plain", "smooth-weight"])
def test_huge_rows_with_probability_targets_are_split_over_threads(dtype, options, isa):
    """Probability targets on rows of 2**16 classes or more: each row over the
    threads, matching the oracle with the same bits at every thread count."""
    rng = np.random.default_rng(23)
    C = (1 << 16) + 1001
    x = random_logits(rng, (6, C), dtype)
    t = rng.random((6, C))
    t[:, : C // 2] = 0  # half the classes without mass
    t = (t / t.sum(axis=1, keepdims=True)).astype(dtype)
    x[1, :20000] = -np.inf  # a whole chunk without a finite entry, all without mass
    x[2, 100] = np.nan
    x[3, C // 2] = np.inf
    x[4, :20000] = np.nan
    x[5, _HUGE_CHUNK:2 * _HUGE_CHUNK] = np.nan
    eps = options.get("label_smoothing", 0.0)
    w = (rng.random(C) + 0.5).astype(dtype) if options.get("weight") else None

    def f(**more):
        return csoftmax.cross_entropy(x, t, weight=w, label_smoothing=eps, reduction="none",
                                      return_grad=True, **more)
    z = x[:2].astype(np.longdouble)
    m = z.max(axis=1, keepdims=True)
    log_p = z - m - np.log(np.exp(z - m).sum(axis=1, keepdims=True))
    tw = ((1 - eps) * t[:2] + eps / C) * (1 if w is None else w)
    with np.errstate(invalid="ignore"):  # 0 log p with p = 0: nan, as in PyTorch
        expected_loss = -(tw * log_p).sum(axis=1)
    expected_grad = tw.sum(axis=1, keepdims=True) * np.exp(log_p) - tw
    loss, grad = f(num_threads=1)
    check(loss[:2], expected_loss.astype(np.float64), dtype, spread=6 * 3.0)
    check(grad[:2], expected_grad.astype(np.float64), dtype)
    assert np.isnan(loss[1]) == (eps == 0)
    assert np.isnan(loss[2:]).all() and np.isnan(grad[2:]).all()
    for threads in (2, 3, len(x) + 1):  # whole rows per thread; fewer rows than threads
        other = f(num_threads=threads)
        np.testing.assert_array_equal(loss, other[0])
        np.testing.assert_array_equal(grad, other[1])
    only = csoftmax.cross_entropy(x, t, weight=w, label_smoothing=eps, reduction="none",
                                  num_threads=2)
    np.testing.assert_array_equal(loss, only)


@pytest.mark.parametrize("axis", [-1, 1])
def test_loss_only_path_allocates_no_logits_sized_temporary(axis):
    rng = np.random.default_rng(19)
    shape = (2000, 1000) if axis == -1 else (8, 100, 50, 50)
    x = random_logits(rng, shape, np.float32)
    row_shape = tuple(np.delete(shape, axis % len(shape)))
    y = rng.integers(0, shape[axis], row_shape)
    csoftmax.cross_entropy(x, y, axis=axis)  # warm up
    tracemalloc.start()
    try:
        csoftmax.cross_entropy(x, y, axis=axis, label_smoothing=0.1)
        csoftmax.cross_entropy(x, y, axis=axis, reduction="none")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < x.nbytes / 4, (peak, x.nbytes)
