"""Losses and gradients: the NumPy oracle (tests/reference_losses.py), finite
differences, PyTorch parity (when torch is installed), thread-count
invariance, every ISA level, error cases and memory use."""

import tracemalloc

import numpy as np
import pytest

import csoftmax

import reference_losses as ref

DTYPES = (np.float64, np.float32)
REDUCTIONS = ("mean", "sum", "none")


def _tol(dtype):
    """(rtol, atol) for results of unit scale: 1e-13 for float64; a few ulp
    of float32 for float32, whose inputs are rounded copies of the oracle's."""
    return (1e-13, 1e-15) if dtype == np.float64 else (2e-6, 1e-7)


def _check(actual, expected, dtype, spread=1.0):
    """actual (in dtype) against the float64 oracle; float32 losses are accurate
    relative to the spread of the logits, not the size of the loss."""
    rtol, atol = _tol(dtype)
    assert np.asarray(actual).dtype == dtype
    np.testing.assert_allclose(np.asarray(actual, np.float64), expected, rtol=rtol,
                               atol=atol * max(spread, 1.0))


def _logits(rng, shape, dtype, scale=3.0):
    return (rng.standard_normal(shape) * scale).astype(dtype)


def _labels(rng, shape, C, ignored=0.2):
    labels = rng.integers(0, C, shape)
    labels[rng.random(shape) < ignored] = -100
    return labels


def _fd_grad(f, x, h=1e-6):
    """Central finite differences of the scalar f at float64 x."""
    grad = np.empty_like(x)
    flat, g = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        up = f(x)
        flat[i] = old - h
        down = f(x)
        flat[i] = old
        g[i] = (up - down) / (2 * h)
    return grad


def _total(loss):
    return float(np.sum(np.asarray(loss, np.float64)))


# ---------------------------------------------------------------- cross-entropy vs the oracle

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
    x = _logits(rng, shape, dtype)
    C = shape[axis]
    row_shape = tuple(np.delete(shape, axis % len(shape)))
    y = _labels(rng, row_shape, C)
    kw = dict(options)
    if "weight" in kw:
        kw["weight"] = rng.random(C) + 0.1
    loss, grad = csoftmax.cross_entropy(x, y, axis=axis, reduction=reduction, return_grad=True,
                                        **kw)
    expected_loss, expected_grad = ref.cross_entropy(x, y, axis=axis, reduction=reduction, **kw)
    if reduction != "none":
        assert isinstance(loss, np.generic)
    _check(loss, expected_loss, dtype, spread=6 * 3.0)
    _check(grad, expected_grad, dtype)
    loss_only = csoftmax.cross_entropy(x, y, axis=axis, reduction=reduction, **kw)
    np.testing.assert_array_equal(loss_only, loss)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("options", CE_OPTIONS, ids=lambda o: "-".join(o) or "plain")
@pytest.mark.parametrize("shape,axis", [((9, 7), -1), ((4, 5, 3, 2), 1), ((3, 300), -1),
                                         ((2, 40, 3, 11), 1)])
def test_cross_entropy_probabilities_match_oracle(dtype, reduction, options, shape, axis, isa):
    rng = np.random.default_rng(2)
    x = _logits(rng, shape, dtype)
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
    _check(loss, expected_loss, dtype, spread=6 * 3.0)
    _check(grad, expected_grad, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_exact_for_offset_and_wide_rows(dtype, isa):
    """Rows offset by 1e4 lose nothing (the loss is formed from x - max), and
    rows whose exps underflow take the exact exp."""
    rng = np.random.default_rng(3)
    x = _logits(rng, (6, 50), dtype) + dtype(1e4)
    x[1, 3] -= 2000  # exp underflows to 0 in this row
    x[2, :] = np.linspace(-90, 0, 50).astype(dtype)  # subnormal exps in float32
    y = rng.integers(0, 50, 6)
    loss, grad = csoftmax.cross_entropy(x, y, reduction="none", return_grad=True)
    expected_loss, expected_grad = ref.cross_entropy(x, y, reduction="none")
    _check(loss, expected_loss, dtype, spread=6 * 3.0)
    _check(grad, expected_grad, dtype)


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
    x = _logits(rng, (10, 5), np.float64)
    y = rng.integers(0, 5, 10)
    loss, grad = csoftmax.cross_entropy(x, y, ignore_index=2, return_grad=True)
    expected_loss, expected_grad = ref.cross_entropy(x, y, ignore_index=2)
    _check(loss, expected_loss, np.float64)
    _check(grad, expected_grad, np.float64)


@pytest.mark.parametrize("dtype", [np.float16, np.int64, np.bool_])
def test_cross_entropy_other_dtypes(dtype):
    """float16 is computed in float32 and returned in float16; integers become float64."""
    rng = np.random.default_rng(5)
    x = _logits(rng, (8, 6), np.float64).astype(dtype)
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
    x = _logits(rng, (8, 6), np.float64)
    y = rng.integers(0, 6, 8)
    expected = csoftmax.cross_entropy(x, y)
    for dtype in (np.int8, np.uint8, np.int32, np.uint64):
        assert csoftmax.cross_entropy(x, y.astype(dtype)) == expected


# ---------------------------------------------------------------- other losses vs the oracle

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("alpha", [None, 0.25, "per-class"])
@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
@pytest.mark.parametrize("C,inner", [(5, 3), (37, 21)])
def test_focal_loss_matches_oracle(dtype, reduction, alpha, gamma, C, inner, isa):
    rng = np.random.default_rng(7)
    x = _logits(rng, (4, C, inner), dtype)
    y = _labels(rng, (4, inner), C)
    a = rng.random(C) if alpha == "per-class" else alpha
    loss, grad = csoftmax.focal_loss(x, y, gamma=gamma, alpha=a, axis=1, reduction=reduction,
                                     return_grad=True)
    expected_loss, expected_grad = ref.focal_loss(x, y, gamma=gamma, alpha=a, axis=1,
                                                  reduction=reduction)
    _check(loss, expected_loss, dtype, spread=6 * 3.0)
    _check(grad, expected_grad, dtype)


def test_focal_loss_gamma_zero_is_cross_entropy():
    rng = np.random.default_rng(8)
    x = _logits(rng, (10, 4), np.float64)
    y = _labels(rng, 10, 4)
    focal, focal_grad = csoftmax.focal_loss(x, y, gamma=0.0, return_grad=True)
    ce, ce_grad = csoftmax.cross_entropy(x, y, return_grad=True)
    np.testing.assert_allclose(focal, ce, rtol=1e-15)
    np.testing.assert_allclose(focal_grad, ce_grad, rtol=1e-15, atol=1e-17)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_nll_loss_matches_oracle(dtype, reduction, weighted, isa):
    rng = np.random.default_rng(9)
    x = ref.log_softmax(_logits(rng, (6, 4, 3), np.float64), axis=1).astype(dtype)
    y = _labels(rng, (6, 3), 4)
    w = rng.random(4) if weighted else None
    loss, grad = csoftmax.nll_loss(x, y, axis=1, weight=w, reduction=reduction, return_grad=True)
    expected_loss, expected_grad = ref.nll_loss(x, y, axis=1, weight=w, reduction=reduction)
    _check(loss, expected_loss, dtype)
    _check(grad, expected_grad, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS + ("batchmean",))
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_matches_oracle(dtype, reduction, log_target, isa):
    rng = np.random.default_rng(10)
    x = ref.log_softmax(_logits(rng, (5, 6), np.float64)).astype(dtype)
    t = np.exp(ref.log_softmax(_logits(rng, (5, 6), np.float64)))
    if not log_target:
        t[0, 0] = 0  # 0 log 0 = 0
    t = (np.log(t) if log_target else t).astype(dtype)
    loss, grad = csoftmax.kl_div(x, t, reduction=reduction, log_target=log_target,
                                     return_grad=True)
    expected_loss, expected_grad = ref.kl_div(x, t, reduction=reduction, log_target=log_target)
    _check(loss, expected_loss, dtype, spread=10)
    _check(grad, expected_grad, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weights", ["none", "weight", "pos_weight", "both"])
def test_bce_with_logits_matches_oracle(dtype, reduction, weights, isa):
    rng = np.random.default_rng(11)
    x = _logits(rng, (7, 5), dtype, scale=6.0)
    t = rng.random((7, 5)).astype(dtype)
    t[0] = np.round(t[0])
    w = rng.random((7, 1)) + 0.5 if weights in ("weight", "both") else None
    pw = rng.random(5) * 3 if weights in ("pos_weight", "both") else None
    loss, grad = csoftmax.binary_cross_entropy_with_logits(
        x, t, weight=w, pos_weight=pw, reduction=reduction, return_grad=True)
    expected_loss, expected_grad = ref.binary_cross_entropy_with_logits(
        x, t, weight=None if w is None else w.astype(dtype),
        pos_weight=None if pw is None else pw.astype(dtype), reduction=reduction)
    _check(loss, expected_loss, dtype)
    _check(grad, expected_grad, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_with_logits_exact_at_large_logits(dtype, isa):
    x = np.array([1e4, -1e4, 1e4, -1e4, 40.0, -40.0], dtype)
    t = np.array([1.0, 0.0, 0.0, 1.0, 1.0, 0.0], dtype)
    loss, grad = csoftmax.binary_cross_entropy_with_logits(x, t, reduction="none",
                                                           return_grad=True)
    expected_loss, expected_grad = ref.binary_cross_entropy_with_logits(x, t, reduction="none")
    assert np.all(np.isfinite(loss)) and np.all(np.isfinite(grad))
    _check(loss, expected_loss, dtype)
    _check(grad, expected_grad, dtype)
    assert loss[0] == 0 and loss[2] == 1e4


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("gamma,alpha", [(2.0, 0.25), (0.0, -1.0), (0.5, 0.7)])
def test_sigmoid_focal_loss_matches_oracle(dtype, reduction, gamma, alpha, isa):
    rng = np.random.default_rng(12)
    x = _logits(rng, (6, 4), dtype)
    t = (rng.random((6, 4)) < 0.3).astype(dtype)
    loss, grad = csoftmax.sigmoid_focal_loss(x, t, gamma=gamma, alpha=alpha, reduction=reduction,
                                             return_grad=True)
    expected_loss, expected_grad = ref.sigmoid_focal_loss(x, t, gamma=gamma, alpha=alpha,
                                                          reduction=reduction)
    _check(loss, expected_loss, dtype)
    _check(grad, expected_grad, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,axis", [((7, 9), -1), ((3, 4, 5), 1), ((2, 300), -1)])
def test_entropy_matches_oracle(dtype, shape, axis, isa):
    rng = np.random.default_rng(13)
    x = _logits(rng, shape, dtype)
    x.reshape(-1)[0] = -np.inf  # p = 0 contributes 0
    result = csoftmax.entropy(x, axis=axis)
    _check(result, ref.entropy(x, axis), dtype, spread=6 * 3.0)
    _check(csoftmax.entropy(x, axis=axis, reduction="mean"), ref.entropy(x, axis).mean(), dtype,
           spread=6 * 3.0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_and_log_sigmoid_match_oracle(dtype, isa):
    # results stay normal numbers (float32 subnormals carry few digits)
    limit = 80 if dtype == np.float32 else 700
    x = np.concatenate([np.linspace(-limit, limit, 41), [-1e4, 1e4, 0.0]]).astype(dtype)
    x = x[np.abs(x) <= limit] if dtype == np.float32 else x
    rtol, atol = _tol(dtype)
    np.testing.assert_allclose(csoftmax.sigmoid(x), ref.sigmoid(x), rtol=rtol * 2, atol=0)
    np.testing.assert_allclose(csoftmax.log_sigmoid(x), ref.log_sigmoid(x), rtol=rtol * 2, atol=0)
    out = np.empty_like(x)
    assert csoftmax.sigmoid(x, out=out) is out
    with pytest.raises(ValueError):
        csoftmax.log_sigmoid(x, out=np.empty(3, dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_backward_functions_match_oracle(dtype, isa):
    rng = np.random.default_rng(14)
    x = _logits(rng, (4, 6), np.float64)
    g = rng.standard_normal((4, 6)).astype(dtype)
    y = csoftmax.softmax(x, axis=0).astype(dtype)
    # g - sum(...) cancels: the error is relative to the size of g
    size = float(np.abs(g).sum(axis=0).max())
    _check(csoftmax.softmax_backward(g, y, axis=0), ref.softmax_backward(g, y, axis=0), dtype,
           spread=size)
    ly = csoftmax.log_softmax(x).astype(dtype)
    out = np.empty((4, 6), dtype)
    assert csoftmax.log_softmax_backward(g, ly, out=out) is out
    _check(out, ref.log_softmax_backward(g, ly), dtype, spread=float(np.abs(g).sum(1).max()))


def test_one_hot_and_hardmax():
    np.testing.assert_array_equal(csoftmax.one_hot(np.array([[2, 0]]), 3),
                                  np.array([[[0, 0, 1], [1, 0, 0]]], np.float32))
    assert csoftmax.one_hot([1, 3]).shape == (2, 4)
    assert csoftmax.one_hot([1], 2, dtype=np.float64).dtype == np.float64
    with pytest.raises(IndexError, match="3"):
        csoftmax.one_hot([0, 3], 3)
    with pytest.raises(IndexError):
        csoftmax.one_hot([-1], 3)
    x = np.array([[1, 5, 5], [7, 7, 0]], np.float32)
    h = csoftmax.hardmax(x)
    assert h.dtype == np.float32
    np.testing.assert_array_equal(h, [[0, 1, 0], [1, 0, 0]])
    np.testing.assert_array_equal(csoftmax.hardmax(x, axis=0), [[0, 0, 1], [1, 1, 0]])
    assert csoftmax.hardmax(np.array([1, 2])).dtype == np.float64


# ---------------------------------------------------------------- finite differences

def _fd_cases(rng):
    x = rng.standard_normal((3, 4, 2))
    y = np.array([[0, 3], [2, -100], [1, 1]])
    w = rng.random(4) + 0.2
    t = rng.random((3, 4, 2))
    t /= t.sum(axis=1, keepdims=True)
    lp = ref.log_softmax(x, 1).astype(np.float64)
    b = rng.random((3, 4, 2))
    return [
        ("ce", lambda v, r, g: csoftmax.cross_entropy(v, y, axis=1, weight=w, label_smoothing=0.1,
                                                      reduction=r, return_grad=g), x),
        ("ce-probs", lambda v, r, g: csoftmax.cross_entropy(v, t, axis=1, weight=w,
                                                            label_smoothing=0.2, reduction=r,
                                                            return_grad=g), x),
        ("focal", lambda v, r, g: csoftmax.focal_loss(v, y, gamma=1.5, alpha=w, axis=1,
                                                      reduction=r, return_grad=g), x),
        ("nll", lambda v, r, g: csoftmax.nll_loss(v, y, axis=1, weight=w, reduction=r,
                                                  return_grad=g), lp),
        ("kl", lambda v, r, g: csoftmax.kl_div(v, t, reduction=r, return_grad=g), lp),
        ("kl-log", lambda v, r, g: csoftmax.kl_div(v, np.log(t), reduction=r, log_target=True,
                                                   return_grad=g), lp),
        ("bce", lambda v, r, g: csoftmax.binary_cross_entropy_with_logits(
            v, b, weight=w[None, :, None], pos_weight=np.array([2.0, 0.5]), reduction=r,
            return_grad=g), x * 3),
        ("sigmoid-focal", lambda v, r, g: csoftmax.sigmoid_focal_loss(
            v, np.round(b), reduction=r, return_grad=g), x * 3),
    ]


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gradients_match_finite_differences(reduction):
    rng = np.random.default_rng(15)
    for name, f, x in _fd_cases(rng):
        _, grad = f(x, reduction, True)
        expected = _fd_grad(lambda v: _total(f(v, reduction, False)), x.copy())
        np.testing.assert_allclose(grad, expected, rtol=1e-6, atol=1e-8, err_msg=name)


# ---------------------------------------------------------------- PyTorch parity

def _torch_cases(torch, F, rng, dtype):
    """(name, csoftmax call, torch loss of a tensor, input, reduction-taking)."""
    x = _logits(rng, (6, 5, 3), dtype)
    y = _labels(rng, (6, 3), 5)
    w = (rng.random(5) + 0.1).astype(dtype)
    t = rng.random((6, 5, 3)).astype(dtype)
    t /= t.sum(axis=1, keepdims=True)
    pw = (rng.random(3) * 3).astype(dtype)
    yt, wt, tt, pwt = (torch.from_numpy(a) for a in (y, w, t, pw))
    lp = ref.log_softmax(x.astype(np.float64), 1).astype(dtype)
    bt = torch.from_numpy(np.round(t))

    def torch_focal(v, red, alpha):
        logp = F.log_softmax(v, 1)
        keep = yt != -100
        safe = torch.where(keep, yt, 0)
        logp_t = logp.gather(1, safe[:, None])[:, 0]
        a = torch.ones(()) if alpha is None else alpha[safe]
        values = -a * (1 - logp_t.exp()) ** 2 * logp_t * keep
        return {"none": values, "sum": values.sum(), "mean": values.sum() / keep.sum()}[red]

    def torchvision_sigmoid_focal(v, red, gamma=2.0, alpha=0.25):
        p = torch.sigmoid(v)
        ce = F.binary_cross_entropy_with_logits(v, bt, reduction="none")
        p_t = p * bt + (1 - p) * (1 - bt)
        loss = ce * ((1 - p_t) ** gamma)
        alpha_t = alpha * bt + (1 - alpha) * (1 - bt)
        loss = alpha_t * loss
        return {"none": loss, "sum": loss.sum(), "mean": loss.mean()}[red]

    return [
        ("ce", lambda v, r: csoftmax.cross_entropy(v, y, axis=1, reduction=r, return_grad=True),
         lambda v, r: F.cross_entropy(v, yt, reduction=r), x),
        ("ce-weight-smooth",
         lambda v, r: csoftmax.cross_entropy(v, y, axis=1, weight=w, label_smoothing=0.3,
                                             reduction=r, return_grad=True),
         lambda v, r: F.cross_entropy(v, yt, weight=wt, label_smoothing=0.3, reduction=r), x),
        ("ce-probs", lambda v, r: csoftmax.cross_entropy(v, t, axis=1, weight=w,
                                                         label_smoothing=0.1, reduction=r,
                                                         return_grad=True),
         lambda v, r: F.cross_entropy(v, tt, weight=wt, label_smoothing=0.1, reduction=r), x),
        ("nll", lambda v, r: csoftmax.nll_loss(v, y, axis=1, weight=w, reduction=r,
                                               return_grad=True),
         lambda v, r: F.nll_loss(v, yt, weight=wt, reduction=r), lp),
        ("kl", lambda v, r: csoftmax.kl_div(v, t, reduction=r, return_grad=True),
         lambda v, r: F.kl_div(v, tt, reduction=r), lp),
        ("kl-batchmean", lambda v, r: csoftmax.kl_div(v, np.log(t), reduction="batchmean"
                                                      if r == "mean" else r, log_target=True,
                                                      return_grad=True),
         lambda v, r: F.kl_div(v, tt.log(), reduction="batchmean" if r == "mean" else r,
                               log_target=True), lp),
        ("bce", lambda v, r: csoftmax.binary_cross_entropy_with_logits(
            v, t, weight=w[None, :, None], pos_weight=pw, reduction=r, return_grad=True),
         lambda v, r: F.binary_cross_entropy_with_logits(
             v, tt, weight=wt[None, :, None], pos_weight=pwt, reduction=r), x * 3),
        ("focal", lambda v, r: csoftmax.focal_loss(v, y, axis=1, alpha=w, reduction=r,
                                                   return_grad=True),
         lambda v, r: torch_focal(v, r, wt), x),
        ("sigmoid-focal", lambda v, r: csoftmax.sigmoid_focal_loss(v, np.round(t), reduction=r,
                                                                   return_grad=True),
         torchvision_sigmoid_focal, x * 3),
    ]


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides:UserWarning")  # torch's kl_div
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_losses_match_torch_autograd(dtype, reduction):
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F

    rng = np.random.default_rng(16)
    rtol, atol = (1e-12, 1e-14) if dtype == np.float64 else (1e-5, 1e-6)
    for name, ours, theirs, x in _torch_cases(torch, F, rng, dtype):
        loss, grad = ours(x, reduction)
        xt = torch.from_numpy(x.copy()).requires_grad_(True)
        expected = theirs(xt, reduction)
        expected.sum().backward()
        np.testing.assert_allclose(np.asarray(loss, np.float64),
                                   expected.detach().numpy().astype(np.float64), rtol=rtol,
                                   atol=atol * 10, err_msg=name)
        np.testing.assert_allclose(grad, xt.grad.numpy(), rtol=rtol, atol=atol, err_msg=name)


def test_entropy_sigmoid_backward_match_torch():
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F

    rng = np.random.default_rng(17)
    x = _logits(rng, (5, 7), np.float64)
    xt = torch.from_numpy(x)
    expected = -(F.softmax(xt, -1) * F.log_softmax(xt, -1)).sum(-1)
    np.testing.assert_allclose(csoftmax.entropy(x), expected.numpy(), rtol=1e-13)
    np.testing.assert_allclose(csoftmax.sigmoid(x * 10), torch.sigmoid(xt * 10).numpy(),
                               rtol=1e-15)
    np.testing.assert_allclose(csoftmax.log_sigmoid(x * 10), F.logsigmoid(xt * 10).numpy(),
                               rtol=1e-14)
    g = rng.standard_normal((5, 7))
    for forward, backward in ((F.softmax, csoftmax.softmax_backward),
                              (F.log_softmax, csoftmax.log_softmax_backward)):
        v = xt.clone().requires_grad_(True)
        out = forward(v, dim=0)
        out.backward(torch.from_numpy(g))
        np.testing.assert_allclose(backward(g, out.detach().numpy(), axis=0), v.grad.numpy(),
                                   rtol=1e-12, atol=1e-15)


# ---------------------------------------------------------------- threads and memory

@pytest.mark.parametrize("dtype", DTYPES)
def test_bitwise_identical_for_any_thread_count(dtype, isa):
    rng = np.random.default_rng(18)
    x = _logits(rng, (67, 1500), dtype)
    y = _labels(rng, 67, 1500)
    t = rng.random((67, 1500)).astype(dtype)
    x4 = _logits(rng, (5, 40, 9, 7), dtype)
    y4 = _labels(rng, (5, 9, 7), 40)
    calls = [
        lambda n: csoftmax.cross_entropy(x, y, label_smoothing=0.1, return_grad=True,
                                         num_threads=n),
        lambda n: csoftmax.cross_entropy(x, t, return_grad=True, num_threads=n),
        lambda n: csoftmax.cross_entropy(x4, y4, axis=1, reduction="sum", return_grad=True,
                                         num_threads=n),
        lambda n: csoftmax.focal_loss(x, y, return_grad=True, num_threads=n),
        lambda n: (csoftmax.entropy(x, num_threads=n),),
    ]
    for call in calls:
        one, two, three = call(1), call(2), call(3)
        for a, b, c in zip(one, two, three):
            np.testing.assert_array_equal(a, b)
            np.testing.assert_array_equal(a, c)


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
    x = _logits(rng, (37, n), dtype)
    x[4, 0] = 300.0
    x[6, n - 1] = np.nan
    x[9, 0] = np.inf
    y = _labels(rng, 37, n)
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
    x = _logits(rng, (3, C, 4, 13), dtype)
    y = _labels(rng, (3, 4, 13), C)
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


# chunk_size in kernels_impl.h for rows of (1 << 16) + 1001 classes
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
    x = _logits(rng, (8, C), dtype)
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
    _check(loss[:3], expected_loss[:, 0].astype(np.float64), dtype, spread=6 * 3.0)
    _check(grad[:3], expected_grad.astype(np.float64), dtype)
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
    x = _logits(rng, (6, C), dtype)
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
    _check(loss[:2], expected_loss.astype(np.float64), dtype, spread=6 * 3.0)
    _check(grad[:2], expected_grad.astype(np.float64), dtype)
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
    x = _logits(rng, shape, np.float32)
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


# ---------------------------------------------------------------- errors

def test_label_out_of_range_raises_index_error_naming_it():
    x = np.zeros((3, 4))
    with pytest.raises(IndexError, match=r"target 7 at position \(1,\)"):
        csoftmax.cross_entropy(x, np.array([0, 7, 1]))
    with pytest.raises(IndexError, match=r"target -1 at position \(0, 1\)"):
        csoftmax.cross_entropy(np.zeros((2, 4, 2)), np.array([[0, -1], [1, 1]]), axis=1)
    with pytest.raises(IndexError, match="target 4"):
        csoftmax.nll_loss(x, np.array([4, 0, 0]))
    with pytest.raises(IndexError):
        csoftmax.focal_loss(x, np.array([0, 0, 9]))


@pytest.mark.parametrize("call,error,match", [
    (lambda: csoftmax.cross_entropy(np.zeros((3, 4)), np.zeros(2, int)), ValueError, "shape"),
    (lambda: csoftmax.cross_entropy(np.zeros((3, 4)), np.zeros((3, 5))), ValueError, "shape"),
    (lambda: csoftmax.cross_entropy(np.zeros((3, 4)), np.zeros(3, int), weight=np.ones(3)),
     ValueError, "weight"),
    (lambda: csoftmax.cross_entropy(np.zeros((3, 4)), np.zeros(3, int),
                                    weight=np.array([1, -1, 1, 1])), ValueError, "non-negative"),
    (lambda: csoftmax.cross_entropy(np.zeros((3, 4)), np.zeros(3, int), label_smoothing=1.5),
     ValueError, "label_smoothing"),
    (lambda: csoftmax.cross_entropy(np.zeros((3, 4)), np.zeros(3, int), label_smoothing=-0.1),
     ValueError, "label_smoothing"),
    (lambda: csoftmax.cross_entropy(np.zeros((3, 4)), np.zeros(3, int),
                                    reduction="avg"),  # type: ignore[call-overload]
     ValueError, "reduction"),
    (lambda: csoftmax.cross_entropy(np.zeros((3, 4), complex), np.zeros(3, int)),
     TypeError, "complex"),
    (lambda: csoftmax.cross_entropy(np.zeros((3, 4)), np.zeros(3, int), axis=2),
     np.exceptions.AxisError, "axis"),
    (lambda: csoftmax.focal_loss(np.zeros((3, 4)), np.zeros(3, int), gamma=-1),
     ValueError, "gamma"),
    (lambda: csoftmax.focal_loss(np.zeros((3, 4)), np.zeros(3, int), alpha=np.ones(2)),
     ValueError, "alpha"),
    (lambda: csoftmax.sigmoid_focal_loss(np.zeros(3), np.zeros(3), gamma=-0.5),
     ValueError, "gamma"),
    (lambda: csoftmax.nll_loss(np.zeros((3, 4)), np.zeros((3, 1), int)), ValueError, "shape"),
    (lambda: csoftmax.kl_div(np.zeros((3, 4)), np.zeros((3, 2))), ValueError, "shape"),
    (lambda: csoftmax.kl_div(np.zeros(3), np.zeros(3),
                             reduction="batch"),  # type: ignore[call-overload]
     ValueError, "reduction"),
    (lambda: csoftmax.binary_cross_entropy_with_logits(np.zeros(3), np.zeros(4)), ValueError,
     "shape"),
    (lambda: csoftmax.binary_cross_entropy_with_logits(np.zeros(3, complex), np.zeros(3)),
     TypeError, "complex"),
    (lambda: csoftmax.binary_cross_entropy_with_logits(np.zeros((2, 3)), np.zeros((2, 3)),
                                                       pos_weight=np.ones(2)), ValueError,
     "pos_weight"),
    (lambda: csoftmax.softmax_backward(np.zeros(3), np.zeros(4)), ValueError, "shape"),
    (lambda: csoftmax.entropy(np.zeros(3, complex)), TypeError, "complex"),
])
def test_bad_input_raises_clear_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()



# ---------------------------------------------------------------- compiled element-wise kernels

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
    x = _logits(rng, shape, dtype, scale=8.0)
    t = rng.random(shape).astype(dtype)
    for name, w, q in _bce_operands(rng, shape, dtype):
        wd = None if w is None else np.asarray(w).astype(dtype)
        qd = None if q is None else np.asarray(q).astype(dtype)
        for reduction in REDUCTIONS:
            loss, grad = csoftmax.binary_cross_entropy_with_logits(
                x, t, weight=w, pos_weight=q, reduction=reduction, return_grad=True)
            expected_loss, expected_grad = ref.binary_cross_entropy_with_logits(
                x, t, weight=wd, pos_weight=qd, reduction=reduction)
            _check(loss, expected_loss, dtype)
            _check(grad, expected_grad, dtype)
            only = csoftmax.binary_cross_entropy_with_logits(x, t, weight=w, pos_weight=q,
                                                             reduction=reduction)
            np.testing.assert_array_equal(only, loss, err_msg=name)


@pytest.mark.parametrize("dtype", DTYPES)
def test_elementwise_losses_accept_any_layout(dtype, isa):
    rng = np.random.default_rng(21)
    base = _logits(rng, (40, 30), dtype, scale=5.0)
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
            _check(loss, expected_loss, dtype, spread=10)
            _check(grad, expected_grad, dtype)
    np.testing.assert_allclose(csoftmax.sigmoid(x), ref.sigmoid(x), rtol=_tol(dtype)[0] * 2)
    out = np.empty((10, 40), dtype).T[::2]
    assert csoftmax.log_sigmoid(x, out=out) is out
    np.testing.assert_allclose(out, ref.log_sigmoid(x), rtol=_tol(dtype)[0] * 2)


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
        _check(loss, expected_loss, dtype)
        _check(grad, expected_grad, dtype)
    loss, grad = csoftmax.sigmoid_focal_loss(x, np.round(tt), gamma=0.5, reduction="none",
                                             return_grad=True)
    assert np.all(np.isfinite(loss)) and np.all(np.isfinite(grad))
    expected_loss, expected_grad = ref.sigmoid_focal_loss(x, np.round(tt), gamma=0.5,
                                                          reduction="none")
    _check(loss, expected_loss, dtype)
    _check(grad, expected_grad, dtype)
    # log_sigmoid is x at -1e4 and -exp(-x) for large x; sigmoid never overflows
    special = np.array([-1e4, 1e4, 40.0, -np.inf, np.inf, np.nan], dtype)
    ls = csoftmax.log_sigmoid(special)
    assert ls[0] == dtype(-1e4) and ls[1] == 0 and ls[3] == -np.inf and ls[4] == 0
    assert np.isnan(ls[5])
    np.testing.assert_allclose(ls[2], -np.exp(-40.0), rtol=_tol(dtype)[0])
    s = csoftmax.sigmoid(special)
    np.testing.assert_array_equal(s[[0, 1, 3, 4]], [0, 1, 0, 1])
    assert np.isnan(s[5])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_backward_kernels_rows_and_columns(dtype, axis, isa):
    rng = np.random.default_rng(22)
    x = _logits(rng, (9, 300, 7), np.float64)
    g = rng.standard_normal(x.shape).astype(dtype)
    for forward, backward, oracle in (
            (csoftmax.softmax, csoftmax.softmax_backward, ref.softmax_backward),
            (csoftmax.log_softmax, csoftmax.log_softmax_backward, ref.log_softmax_backward)):
        y = forward(x, axis=axis).astype(dtype)
        size = float(np.abs(g).sum(axis=axis).max())
        result = backward(g, y, axis=axis)
        _check(result, oracle(g, y, axis=axis), dtype, spread=size)
        # in place over grad_output, and into a strided out
        inplace = g.copy()
        assert backward(inplace, y, axis=axis, out=inplace) is inplace
        np.testing.assert_array_equal(inplace, result)
        out = np.empty((7, 300, 9), dtype).transpose(2, 1, 0)
        assert backward(g, y, axis=axis, out=out) is out
        np.testing.assert_array_equal(out, result)


@pytest.mark.parametrize("dtype", DTYPES)
def test_elementwise_kernels_bitwise_identical_for_any_thread_count(dtype, isa):
    rng = np.random.default_rng(23)
    x = _logits(rng, (67, 1500), dtype, scale=6.0)
    t = rng.random((67, 1500)).astype(dtype)
    hard = np.round(t)
    lp = csoftmax.log_softmax(x)
    y = _labels(rng, 67, 1500)
    g = rng.standard_normal((67, 1500)).astype(dtype)
    sm = csoftmax.softmax(x)
    x3 = _logits(rng, (6, 300, 70), dtype)
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
    for call in calls:
        one, two, three = call(1), call(2), call(3)
        for a, b, c in zip(one, two, three):
            np.testing.assert_array_equal(a, b)
            np.testing.assert_array_equal(a, c)


def test_loss_only_elementwise_paths_allocate_no_logits_sized_temporary():
    rng = np.random.default_rng(24)
    x = _logits(rng, (1000, 1000), np.float32)
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


def test_new_kernels_match_torch_autograd():
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F

    rng = np.random.default_rng(25)
    for dtype, rtol, atol in ((np.float64, 1e-12, 1e-14), (np.float32, 1e-5, 1e-6)):
        x = _logits(rng, (4, 50, 3), dtype, scale=6.0)
        t = rng.random(x.shape).astype(dtype)
        w = (rng.random((4, 1, 1)) + 0.5).astype(dtype)
        q = (rng.random(3) * 3).astype(dtype)
        xt = torch.from_numpy(x.copy()).requires_grad_(True)
        expected = F.binary_cross_entropy_with_logits(xt, torch.from_numpy(t),
                                                      weight=torch.from_numpy(w),
                                                      pos_weight=torch.from_numpy(q))
        expected.backward()
        loss, grad = csoftmax.binary_cross_entropy_with_logits(x, t, weight=w, pos_weight=q,
                                                               return_grad=True)
        np.testing.assert_allclose(loss, expected.item(), rtol=rtol)
        np.testing.assert_allclose(grad, xt.grad.numpy(), rtol=rtol, atol=atol)
        # torchvision's sigmoid focal loss with a non-integer gamma and soft targets
        xt = torch.from_numpy(x.copy()).requires_grad_(True)
        tt = torch.from_numpy(t)
        p = torch.sigmoid(xt)
        ce = F.binary_cross_entropy_with_logits(xt, tt, reduction="none")
        p_t = p * tt + (1 - p) * (1 - tt)
        focal = ((0.3 * tt + 0.7 * (1 - tt)) * ce * (1 - p_t) ** 1.5).mean()
        focal.backward()
        loss, grad = csoftmax.sigmoid_focal_loss(x, t, gamma=1.5, alpha=0.3, reduction="mean",
                                                 return_grad=True)
        np.testing.assert_allclose(loss, focal.item(), rtol=rtol * 10)
        np.testing.assert_allclose(grad, xt.grad.numpy(), rtol=rtol * 10, atol=atol)
        # backward functions along the middle axis (column kernel) and the last (rows)
        g = rng.standard_normal(x.shape).astype(dtype)
        for dim in (1, 2):
            for forward, backward in ((F.softmax, csoftmax.softmax_backward),
                                      (F.log_softmax, csoftmax.log_softmax_backward)):
                v = torch.from_numpy(x.copy()).requires_grad_(True)
                out = forward(v, dim=dim)
                out.backward(torch.from_numpy(g))
                np.testing.assert_allclose(backward(g, out.detach().numpy(), axis=dim),
                                           v.grad.numpy(), rtol=rtol * 10, atol=atol * 10)


def test_new_kernels_match_finite_differences():
    rng = np.random.default_rng(26)
    x = rng.standard_normal((3, 4, 5)) * 3
    t = rng.random((3, 4, 5))
    cases = [
        lambda v, g: csoftmax.sigmoid_focal_loss(v, t, gamma=0.7, alpha=0.4, reduction="sum",
                                                 return_grad=g),
        lambda v, g: csoftmax.binary_cross_entropy_with_logits(
            v, t, weight=rng_w, pos_weight=rng_q, reduction="mean", return_grad=g),
    ]
    rng_w, rng_q = rng.random((1, 4, 1)) + 0.5, rng.random(5) * 2
    for f in cases:
        _, grad = f(x, True)
        expected = _fd_grad(lambda v: _total(f(v, False)), x.copy())
        np.testing.assert_allclose(grad, expected, rtol=1e-6, atol=1e-8)
    # the backward functions are the vector-Jacobian products of softmax / log_softmax
    g = rng.standard_normal((3, 4, 5))
    for forward, backward in ((csoftmax.softmax, csoftmax.softmax_backward),
                              (csoftmax.log_softmax, csoftmax.log_softmax_backward)):
        for axis in (1, -1):
            expected = _fd_grad(lambda v: float(np.sum(g * forward(v, axis=axis))), x.copy())
            np.testing.assert_allclose(backward(g, forward(x, axis=axis), axis=axis), expected,
                                       rtol=1e-6, atol=1e-8)
