"""sparsemax, entmax15, entmax_bisect, their backward passes and losses:
against the `entmax` package (skipped where it is not installed) and the
NumPy float64 oracles of tests/reference_sparse.py; special values, every
layout bit for bit, thread counts, ISA levels and the errors."""

import numpy as np
import pytest

import csoftmax
import reference_sparse as ref

MAPS = ("sparsemax", "entmax15", "entmax_bisect")


def _rng(seed=0):
    return np.random.default_rng(seed)


def _logits(shape, scale=2.0, seed=0):
    return _rng(seed).standard_normal(shape) * scale


def _ours(kind, x, alpha=1.5, **kw):
    if kind == "entmax_bisect":
        return csoftmax.entmax_bisect(x, alpha, **kw)
    return getattr(csoftmax, kind)(x, **kw)


def _oracle(kind, x, alpha=1.5):
    x = np.asarray(x, np.float64)
    if kind == "sparsemax":
        return ref.sparsemax(x)
    if kind == "entmax15":
        return ref.entmax15(x)
    return ref.entmax_bisect(x, alpha)


def _backward(kind, g, y, alpha=1.5, **kw):
    if kind == "entmax_bisect":
        return csoftmax.entmax_bisect_backward(g, y, alpha, **kw)
    return getattr(csoftmax, f"{kind}_backward")(g, y, **kw)


def _loss(kind, x, t, alpha=1.5, **kw):
    if kind == "entmax_bisect":
        return csoftmax.entmax_bisect_loss(x, t, alpha, **kw)
    return getattr(csoftmax, f"{kind}_loss")(x, t, **kw)


# ---------------------------------------------------------------- the entmax package

@pytest.fixture(scope="module")
def package():
    torch = pytest.importorskip("torch")
    entmax = pytest.importorskip("entmax")
    return torch, entmax


def _package_map(package, kind, x, alpha=1.5):
    torch, entmax = package
    t = torch.from_numpy(x)
    if kind == "sparsemax":
        return entmax.sparsemax(t, dim=-1).numpy()
    if kind == "entmax15":
        return entmax.entmax15(t, dim=-1).numpy()
    return entmax.entmax_bisect(t, alpha=alpha, dim=-1).numpy()


CASES = [("sparsemax", None), ("entmax15", None), ("entmax_bisect", 1.5),
         ("entmax_bisect", 1.25), ("entmax_bisect", 2.0), ("entmax_bisect", 3.0)]


@pytest.mark.parametrize("kind,alpha", CASES)
@pytest.mark.parametrize("shape,scale", [((9, 13), 1.0), ((6, 1000), 3.0), ((40, 5), 0.3)])
def test_values_match_package_float64(package, kind, alpha, shape, scale):
    x = _logits(shape, scale)
    y = _ours(kind, x, alpha)
    np.testing.assert_allclose(y, _package_map(package, kind, x, alpha), rtol=0, atol=1e-12)
    np.testing.assert_allclose(y, _oracle(kind, x, alpha), rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind,alpha", CASES)
def test_values_match_package_float32(package, kind, alpha):
    x = _logits((16, 300), 2.0).astype(np.float32)
    y = _ours(kind, x, alpha)
    assert y.dtype == np.float32
    # the package computes in float32 (its bisection too): its own error is
    # about 1e-6; ours, against the float64 oracle, is float32 rounding
    np.testing.assert_allclose(y, _package_map(package, kind, x, alpha), rtol=0, atol=1e-5)
    np.testing.assert_allclose(y, _oracle(kind, x, alpha), rtol=0, atol=1e-7)


@pytest.mark.parametrize("kind,alpha", CASES)
@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-12), (np.float32, 2e-6)])
def test_gradients_match_package_autograd(package, kind, alpha, dtype, tol):
    torch, entmax = package
    x = _logits((8, 50), 1.5, seed=1).astype(dtype)
    g = _rng(2).standard_normal(x.shape).astype(dtype)
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    if kind == "entmax_bisect":
        at = torch.full((8, 1), alpha, dtype=xt.dtype).requires_grad_(True)
        yt = entmax.entmax_bisect(xt, alpha=at, dim=-1)
    else:
        yt = getattr(entmax, kind)(xt, dim=-1)
    (yt * torch.from_numpy(g)).sum().backward()
    y = _ours(kind, x, alpha)
    if kind == "entmax_bisect":
        dx, d_alpha = _backward(kind, g, y, np.full((8, 1), alpha), return_alpha_grad=True)
        assert d_alpha.shape == (8, 1)
        np.testing.assert_allclose(d_alpha, at.grad.numpy(), rtol=tol * 10, atol=tol * 10)
    else:
        dx = _backward(kind, g, y)
    assert dx.dtype == dtype
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=0, atol=tol)


def test_alpha_gradient_scalar_and_per_row(package):
    torch, entmax = package
    x = _logits((6, 20), 2.0, seed=3)
    g = _rng(4).standard_normal(x.shape)
    alphas = np.linspace(1.1, 2.5, 6)
    at = torch.tensor(alphas).requires_grad_(True)
    yt = entmax.entmax_bisect(torch.from_numpy(x), alpha=at.unsqueeze(1), dim=-1)
    (yt * torch.from_numpy(g)).sum().backward()
    y = csoftmax.entmax_bisect(x, alphas)
    dx, d_alpha = csoftmax.entmax_bisect_backward(g, y, alphas, return_alpha_grad=True)
    assert d_alpha.shape == (6,)
    np.testing.assert_allclose(d_alpha, at.grad.numpy(), rtol=1e-10, atol=1e-12)
    _, d_scalar = csoftmax.entmax_bisect_backward(g, csoftmax.entmax_bisect(x, 1.7), 1.7,
                                                  return_alpha_grad=True)
    per_row = ref.backward(g, ref.entmax_bisect(x, 1.7), 1.7)[1]
    assert np.ndim(d_scalar) == 0
    np.testing.assert_allclose(d_scalar, per_row.sum(), rtol=1e-10)


def test_alpha_gradient_shaped_like_alpha():
    x = _logits((4, 3, 6), 2.0, seed=26)
    g = _rng(27).standard_normal(x.shape)
    alphas = np.array([[1.2], [1.5], [2.0], [2.5]])  # one per i, broadcast over j
    y = csoftmax.entmax_bisect(x, alphas)
    per_row = ref.backward(g.reshape(12, 6), y.reshape(12, 6),
                           np.repeat(alphas, 3, axis=1).reshape(12, 1))[1].reshape(4, 3)
    _, d_alpha = csoftmax.entmax_bisect_backward(g, y, alphas, return_alpha_grad=True)
    assert d_alpha.shape == (4, 1)
    np.testing.assert_allclose(d_alpha, per_row.sum(1, keepdims=True), rtol=1e-10, atol=1e-12)
    y = csoftmax.entmax_bisect(x, 1.5)
    for alpha in (np.full((1, 1), 1.5), np.full((1, 1, 1), 1.5)):
        _, d_alpha = csoftmax.entmax_bisect_backward(g, y, alpha, return_alpha_grad=True)
        assert d_alpha.shape == alpha.shape
        _, d_scalar = csoftmax.entmax_bisect_backward(g, y, 1.5, return_alpha_grad=True)
        np.testing.assert_allclose(d_alpha.ravel()[0], d_scalar, rtol=1e-12)


LOSSES = [("sparsemax", "SparsemaxLoss", None), ("entmax15", "Entmax15Loss", None),
          ("entmax_bisect", "EntmaxBisectLoss", 1.5), ("entmax_bisect", "EntmaxBisectLoss", 1.3)]


@pytest.mark.parametrize("kind,cls,alpha", LOSSES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_losses_match_package(package, kind, cls, alpha, reduction, dtype, tol):
    torch, entmax = package
    x = _logits((12, 30), 2.0, seed=5).astype(dtype)
    target = _rng(6).integers(0, 30, 12)
    target[[2, 7]] = 4  # ignored
    kw = {} if alpha is None else {"alpha": alpha}
    module = getattr(entmax, cls)(ignore_index=4,
                                  reduction="elementwise_mean" if reduction == "mean" else reduction,
                                  **kw)
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    expected = module(xt, torch.from_numpy(target))
    expected.sum().backward()
    loss, grad = _loss(kind, x, target, alpha, ignore_index=4, reduction=reduction,
                       return_grad=True)
    assert np.asarray(loss).dtype == dtype and grad.dtype == dtype
    np.testing.assert_allclose(loss, expected.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(grad, xt.grad.numpy(), rtol=0, atol=tol)
    assert np.all(grad[[2, 7]] == 0)


# ---------------------------------------------------------------- NumPy oracles

def test_loss_against_oracle_per_row_alpha():
    x = _logits((10, 17), 2.0, seed=7)
    target = _rng(8).integers(0, 17, 10)
    alphas = np.linspace(1.0, 3.0, 10)
    p = ref.entmax_bisect(x, alphas[:, None])
    expected = ref.fy_loss(x, target, alphas, p)
    loss, grad = csoftmax.entmax_bisect_loss(x, target, alphas, reduction="none",
                                             return_grad=True)
    np.testing.assert_allclose(loss, expected, rtol=1e-12, atol=1e-12)
    onehot = np.eye(17)[target]
    np.testing.assert_allclose(grad, p - onehot, rtol=0, atol=1e-12)
    # alpha = 1 is the cross-entropy
    np.testing.assert_allclose(loss[0], csoftmax.cross_entropy(x[:1], target[:1]), rtol=1e-12)


def test_sparse_losses_against_oracle_mean():
    x = _logits((20, 9), 1.0, seed=9)
    target = _rng(10).integers(0, 9, 20)
    target[3] = -100
    kept = target != -100
    for kind, alpha in (("sparsemax", 2.0), ("entmax15", 1.5)):
        p = ref.sparsemax(x) if kind == "sparsemax" else ref.entmax15(x)
        rows = ref.fy_loss(x[kept], target[kept], alpha, p[kept])
        loss, grad = _loss(kind, x, target, return_grad=True)
        np.testing.assert_allclose(loss, rows.sum() / kept.sum(), rtol=1e-12)
        expected = (p - np.eye(9)[np.where(kept, target, 0)]) / kept.sum()
        expected[~kept] = 0
        np.testing.assert_allclose(grad, expected, rtol=0, atol=1e-12)


def test_all_ignored_mean_is_nan_with_zero_gradient():
    x = _logits((3, 4))
    loss, grad = csoftmax.sparsemax_loss(x, np.full(3, -100), return_grad=True)
    assert np.isnan(loss) and np.all(grad == 0)
    assert csoftmax.entmax15_loss(x, np.full(3, -100), reduction="sum") == 0


# ---------------------------------------------------------------- properties and special values

@pytest.mark.parametrize("kind", MAPS)
def test_exact_zeros_and_sum_one(kind, isa):
    x = _logits((50, 200), 3.0, seed=11)
    y = _ours(kind, x)
    np.testing.assert_allclose(y.sum(-1), 1.0, rtol=0, atol=1e-12)
    assert np.all(y >= 0)
    assert np.all((y == 0).sum(-1) > 0)  # sparse
    np.testing.assert_allclose(y, _oracle(kind, x), rtol=0, atol=1e-12)
    y32 = _ours(kind, x.astype(np.float32))
    np.testing.assert_array_equal(y32 == 0, y == 0)


@pytest.mark.parametrize("kind", MAPS)
def test_ties_constant_rows_and_minus_inf(kind):
    x = np.array([[1.0, 1.0, 1.0, 1.0],
                  [2.0, 2.0, 0.0, 0.0],
                  [0.0, -np.inf, 0.5, -np.inf],
                  [5.0, -np.inf, -np.inf, -np.inf],
                  [3.0, 3.0, 3.0, -7.0]])
    y = _ours(kind, x)
    np.testing.assert_allclose(y[0], 0.25, rtol=0, atol=1e-12)
    np.testing.assert_allclose(y[1], [0.5, 0.5, 0, 0], rtol=0, atol=1e-12)
    assert y[2, 1] == 0 and y[2, 3] == 0
    np.testing.assert_allclose(y[2].sum(), 1, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(y[3], [1, 0, 0, 0])
    np.testing.assert_allclose(y[4], [1 / 3, 1 / 3, 1 / 3, 0], rtol=0, atol=1e-12)
    finite = np.nan_to_num(x[2:3], neginf=-1e6)
    np.testing.assert_allclose(y[2:3], _oracle(kind, finite), rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind", MAPS)
def test_losses_with_minus_inf_logits(kind):
    """-inf logits off the support add nothing (the package's 0 * -inf is nan)."""
    x = np.array([[0.0, -np.inf, 1.0, 0.5], [2.0, 0.0, -np.inf, -np.inf]])
    target = np.array([2, 0])
    finite = np.where(np.isinf(x), -1e6, x)
    loss, grad = _loss(kind, x, target, reduction="none", return_grad=True)
    expected, expected_grad = _loss(kind, finite, target, reduction="none", return_grad=True)
    np.testing.assert_allclose(loss, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(grad, expected_grad)
    assert np.isnan(_loss(kind, np.array([[np.nan, 0.0]]), np.array([1])))


@pytest.mark.parametrize("kind", MAPS)
def test_nonfinite_rows_are_nan(kind):
    x = np.array([[np.nan, 0.0], [np.inf, 0.0], [-np.inf, -np.inf], [0.0, 1.0]])
    y = _ours(kind, x)
    assert np.isnan(y[:3]).all() and np.isfinite(y[3]).all()


def test_alpha_special_cases():
    x = _logits((30, 40), 2.0, seed=12)
    np.testing.assert_allclose(csoftmax.entmax_bisect(x, 2.0), csoftmax.sparsemax(x),
                               rtol=0, atol=1e-12)
    np.testing.assert_allclose(csoftmax.entmax_bisect(x, 1.5), csoftmax.entmax15(x),
                               rtol=0, atol=1e-12)
    np.testing.assert_allclose(csoftmax.entmax_bisect(x, 1.0), csoftmax.softmax(x),
                               rtol=1e-13, atol=1e-15)
    near = csoftmax.entmax_bisect(x, 1.0001)
    np.testing.assert_allclose(near, csoftmax.softmax(x), rtol=0, atol=1e-3)
    further = csoftmax.entmax_bisect(x, 1.01)
    assert np.abs(near - csoftmax.softmax(x)).max() < np.abs(further - csoftmax.softmax(x)).max()


def test_alpha_forms_agree():
    x = _logits((4, 3, 6), 2.0, seed=13)
    alphas = np.array([[1.2, 1.5, 2.0], [1.1, 3.0, 1.7], [1.4, 1.4, 1.4], [2.5, 1.0, 1.9]])
    batch = csoftmax.entmax_bisect(x, alphas)
    keepdims = csoftmax.entmax_bisect(x, alphas[..., None])
    np.testing.assert_array_equal(batch, keepdims)
    for i in range(4):
        for j in range(3):
            np.testing.assert_array_equal(batch[i, j], csoftmax.entmax_bisect(x[i, j], alphas[i, j]))
    # along the middle axis: one alpha per (i, j) of the other two
    per_column = np.linspace(1.1, 2.9, 24).reshape(4, 6)
    y = csoftmax.entmax_bisect(x, per_column, axis=1)
    np.testing.assert_array_equal(y, csoftmax.entmax_bisect(x, per_column[:, None, :], axis=1))
    for i in range(4):
        for j in range(6):
            np.testing.assert_array_equal(y[i, :, j],
                                          csoftmax.entmax_bisect(x[i, :, j], per_column[i, j]))


def test_n_iter_matches_oracle():
    x = _logits((5, 11), 2.0, seed=14)
    for n_iter in (1, 3, 10):
        np.testing.assert_allclose(csoftmax.entmax_bisect(x, 1.3, n_iter=n_iter),
                                   ref.entmax_bisect(x, 1.3, n_iter), rtol=0, atol=1e-12)


# ---------------------------------------------------------------- layouts, threads, dtypes

def _views(base):
    """(name, view) pairs of the same (8, 37) values in other layouts."""
    return [
        ("transposed", np.ascontiguousarray(base.T).T),
        ("fortran", np.asfortranarray(base)),
        ("strided", np.repeat(base, 2, axis=1)[:, ::2]),
        ("reversed", np.ascontiguousarray(base[::-1, ::-1])[::-1, ::-1]),
        ("rows_strided", np.repeat(base, 3, axis=0)[::3]),
    ]


@pytest.mark.parametrize("kind", MAPS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_views_bitwise(kind, dtype):
    base = _logits((8, 37), 2.0, seed=15).astype(dtype)
    g = _rng(16).standard_normal(base.shape).astype(dtype)
    target = _rng(17).integers(0, 37, 8)
    y = _ours(kind, base)
    dx = _backward(kind, g, y)
    loss, grad = _loss(kind, base, target, reduction="none", return_grad=True)
    for name, view in _views(base):
        np.testing.assert_array_equal(_ours(kind, view), y, err_msg=name)
        np.testing.assert_array_equal(_backward(kind, g, _views(y)[0][1]), dx, err_msg=name)
        view_loss, view_grad = _loss(kind, view, target, reduction="none", return_grad=True)
        np.testing.assert_array_equal(view_loss, loss, err_msg=name)
        np.testing.assert_array_equal(view_grad, grad, err_msg=name)
    # the class axis first
    np.testing.assert_array_equal(_ours(kind, base.T, axis=0), y.T)
    np.testing.assert_array_equal(_ours(kind, np.ascontiguousarray(base.T), axis=0), y.T)
    np.testing.assert_array_equal(_backward(kind, g.T, y.T, axis=0), dx.T)
    loss0, grad0 = _loss(kind, np.ascontiguousarray(base.T), target, axis=0, reduction="none",
                         return_grad=True)
    np.testing.assert_array_equal(loss0, loss)
    np.testing.assert_array_equal(grad0, grad.T)


@pytest.mark.parametrize("kind", MAPS)
def test_unaligned_byteswapped_readonly(kind):
    x = _logits((5, 7), 2.0, seed=24)
    y = _ours(kind, x)
    g = _rng(25).standard_normal(x.shape)
    dx = _backward(kind, g, y)

    def unaligned(a):
        copy = np.zeros(a.nbytes + 1, np.uint8)[1:].view(np.float64).reshape(a.shape)
        copy[...] = a
        return copy

    def readonly(a):
        copy = a.copy()
        copy.flags.writeable = False
        return copy

    for variant in (unaligned, lambda a: a.astype(">f8"), readonly):
        np.testing.assert_array_equal(_ours(kind, variant(x)), y)
        np.testing.assert_array_equal(_backward(kind, variant(g), variant(y)), dx)
    target = np.arange(5)
    np.testing.assert_array_equal(_loss(kind, unaligned(x), target, reduction="none"),
                                  _loss(kind, x, target.astype(">i4"), reduction="none"))


@pytest.mark.parametrize("kind", MAPS)
def test_long_strided_rows(kind):
    """Rows too long for the per-thread tiles are read in place: same bits."""
    x = _logits((3, 20000), 3.0, seed=22)
    g = _rng(23).standard_normal(x.shape)
    y = _ours(kind, x)
    np.testing.assert_array_equal(_ours(kind, np.ascontiguousarray(x.T), axis=0), y.T)
    np.testing.assert_array_equal(
        _backward(kind, np.ascontiguousarray(g.T), np.ascontiguousarray(y.T), axis=0),
        _backward(kind, g, y).T)


@pytest.mark.parametrize("kind", MAPS)
def test_middle_axis_and_out(kind):
    x = _logits((3, 7, 5), 2.0, seed=18)
    expected = np.moveaxis(_ours(kind, np.ascontiguousarray(np.moveaxis(x, 1, -1))), -1, 1)
    np.testing.assert_array_equal(_ours(kind, x, axis=1), expected)
    out = np.empty_like(x)
    assert _ours(kind, x, axis=1, out=out) is out
    np.testing.assert_array_equal(out, expected)
    inplace = x.copy()
    _ours(kind, inplace, axis=1, out=inplace)
    np.testing.assert_array_equal(inplace, expected)


@pytest.mark.parametrize("kind", MAPS)
def test_threads_bitwise(kind):
    x = _logits((300, 129), 2.0, seed=19)
    g = _rng(20).standard_normal(x.shape)
    target = _rng(21).integers(0, 129, 300)
    one = _ours(kind, x, num_threads=1)
    np.testing.assert_array_equal(_ours(kind, x, num_threads=2), one)
    np.testing.assert_array_equal(_ours(kind, x.T, axis=0, num_threads=2), one.T)
    np.testing.assert_array_equal(_backward(kind, g, one, num_threads=1),
                                  _backward(kind, g, one, num_threads=2))
    a = _loss(kind, x, target, return_grad=True, num_threads=1)
    b = _loss(kind, x, target, return_grad=True, num_threads=2)
    assert a[0] == b[0]
    np.testing.assert_array_equal(a[1], b[1])


def test_dtypes_and_shapes():
    x = np.array([[3, 1, 0], [1, 1, 1]])
    assert csoftmax.sparsemax(x).dtype == np.float64
    h = csoftmax.entmax15(x.astype(np.float16))
    assert h.dtype == np.float16
    np.testing.assert_allclose(h, csoftmax.entmax15(x), atol=1e-3)
    assert csoftmax.sparsemax(np.float64(2.0)) == 1.0
    assert csoftmax.sparsemax(np.empty((0, 4))).shape == (0, 4)
    assert csoftmax.entmax_bisect(np.empty((3, 0))).shape == (3, 0)
    assert csoftmax.sparsemax_backward(np.empty((0, 4)), np.empty((0, 4))).shape == (0, 4)
    assert csoftmax.sparsemax_loss(np.empty((0, 4)), np.empty(0, int), reduction="sum") == 0


# ---------------------------------------------------------------- errors

@pytest.mark.parametrize("bad", [0.5, np.nan, [1.5, 0.9], np.inf])
def test_bad_alpha(bad):
    out = np.zeros((2, 3))
    with pytest.raises(ValueError, match="alpha"):
        csoftmax.entmax_bisect(np.ones((2, 3)), bad, out=out)
    assert np.all(out == 0)
    with pytest.raises(ValueError, match="alpha"):
        csoftmax.entmax_bisect_loss(np.ones((2, 3)), np.zeros(2, int), bad)
    with pytest.raises(ValueError, match="alpha"):
        csoftmax.entmax_bisect_backward(np.ones((2, 3)), np.ones((2, 3)) / 3, bad)


def test_bad_arguments():
    x = np.ones((2, 3))
    with pytest.raises(ValueError, match="n_iter"):
        csoftmax.entmax_bisect(x, n_iter=0)
    with pytest.raises(ValueError, match="n_iter"):
        csoftmax.entmax_bisect_loss(x, np.zeros(2, int), n_iter=0)
    with pytest.raises(TypeError, match="n_iter"):
        csoftmax.entmax_bisect(x, n_iter=2.5)
    with pytest.raises(ValueError, match="alpha with shape"):
        csoftmax.entmax_bisect(x, np.full(3, 1.5))
    with pytest.raises(IndexError, match=r"target 3 at position \(1,\)"):
        csoftmax.sparsemax_loss(x, np.array([0, 3]))
    with pytest.raises(IndexError, match=r"position \(0,\)"):
        csoftmax.entmax15_loss(x, np.array([-1, 0]))
    with pytest.raises(ValueError, match="reduction"):
        csoftmax.entmax15_loss(x, np.array([0, 0]), reduction="batchmean")
    with pytest.raises(ValueError, match="shape"):
        csoftmax.sparsemax_backward(x, np.ones((3, 2)))
    with pytest.raises(ValueError, match="shape"):
        csoftmax.sparsemax(x, out=np.empty((3, 2)))
    with pytest.raises(TypeError):
        csoftmax.sparsemax(x.astype(complex))
    with pytest.raises(np.exceptions.AxisError):
        csoftmax.entmax15(x, axis=2)
