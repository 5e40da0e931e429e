"""Properties every loss shares, across the families: gradients against finite
differences, PyTorch parity (when torch is installed), bitwise identical
results for any thread count, and clear errors for bad input. Each family's
own tests are in test_softmax_losses.py, test_elementwise_losses.py and
test_nll_backward.py."""

import numpy as np
import pytest

import csoftmax

import reference_losses as ref
from loss_checks import (
    DTYPES, REDUCTIONS, assert_same_for_thread_counts, fd_grad,
    random_labels, random_logits, total,
)


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
        expected = fd_grad(lambda v: total(f(v, reduction, False)), x.copy())
        np.testing.assert_allclose(grad, expected, rtol=1e-6, atol=1e-8, err_msg=name)


def _torch_cases(torch, F, rng, dtype):
    """(name, csoftmax call, torch loss of a tensor, input, reduction-taking)."""
    x = random_logits(rng, (6, 5, 3), dtype)
    y = random_labels(rng, (6, 3), 5)
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
    x = random_logits(rng, (5, 7), np.float64)
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


@pytest.mark.parametrize("dtype", DTYPES)
def test_bitwise_identical_for_any_thread_count(dtype, isa):
    rng = np.random.default_rng(18)
    x = random_logits(rng, (67, 1500), dtype)
    y = random_labels(rng, 67, 1500)
    t = rng.random((67, 1500)).astype(dtype)
    x4 = random_logits(rng, (5, 40, 9, 7), dtype)
    y4 = random_labels(rng, (5, 9, 7), 40)
    calls = [
        lambda n: csoftmax.cross_entropy(x, y, label_smoothing=0.1, return_grad=True,
                                         num_threads=n),
        lambda n: csoftmax.cross_entropy(x, t, return_grad=True, num_threads=n),
        lambda n: csoftmax.cross_entropy(x4, y4, axis=1, reduction="sum", return_grad=True,
                                         num_threads=n),
        lambda n: csoftmax.focal_loss(x, y, return_grad=True, num_threads=n),
        lambda n: (csoftmax.entropy(x, num_threads=n),),
    ]
    assert_same_for_thread_counts(calls)


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


def test_new_kernels_match_torch_autograd():
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F

    rng = np.random.default_rng(25)
    for dtype, rtol, atol in ((np.float64, 1e-12, 1e-14), (np.float32, 1e-5, 1e-6)):
        x = random_logits(rng, (4, 50, 3), dtype, scale=6.0)
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
        expected = fd_grad(lambda v: total(f(v, False)), x.copy())
        np.testing.assert_allclose(grad, expected, rtol=1e-6, atol=1e-8)
    # the backward functions are the vector-Jacobian products of softmax / log_softmax
    g = rng.standard_normal((3, 4, 5))
    for forward, backward in ((csoftmax.softmax, csoftmax.softmax_backward),
                              (csoftmax.log_softmax, csoftmax.log_softmax_backward)):
        for axis in (1, -1):
            expected = fd_grad(lambda v: float(np.sum(g * forward(v, axis=axis))), x.copy())
            np.testing.assert_allclose(backward(g, forward(x, axis=axis), axis=axis), expected,
                                       rtol=1e-6, atol=1e-8)
