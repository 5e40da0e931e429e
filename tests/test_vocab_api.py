"""The vocabulary models' shared API: loss(..., reduction=) with per-example
losses, log_prob(hidden, target=None) and log_proba with one meaning on both
models, and AdaptiveSoftmax.from_torch."""
import numpy as np
import pytest

from csoftmax.vocab import AdaptiveSoftmax, HierarchicalSoftmax
from test_vocab_models import to_torch, zipf_counts


def hierarchical(seed, dtype=np.float64):
    rng = np.random.default_rng(seed)
    model = HierarchicalSoftmax(zipf_counts(40, rng), 8, seed=seed, dtype=dtype)
    model.node_bias = rng.normal(size=39).astype(dtype)
    return model


def adaptive(seed, dtype=np.float64):
    return AdaptiveSoftmax(8, 40, [6, 15, 30], div_value=2.0, head_bias=True, seed=seed,
                           dtype=dtype)


MODELS = [pytest.param(hierarchical, id="hierarchical"), pytest.param(adaptive, id="adaptive")]


def batch(seed, size=11, dtype=np.float64):
    rng = np.random.default_rng(seed)
    target = rng.integers(0, 40, size)
    target[:3] = [0, 39, 6]  # the shortlist, the last tail cluster, a cluster's first class
    return (rng.normal(size=(size, 8)) * 2).astype(dtype), target


def flat_grads(grads):
    """The grads dict's arrays in a fixed order ('tail' pairs unpacked)."""
    arrays = []
    for name in sorted(grads):
        if name == "tail":
            arrays += [array for pair in grads[name] for array in pair]
        else:
            arrays.append(grads[name])
    return arrays


@pytest.mark.parametrize("make", MODELS)
def test_log_prob_has_one_meaning(make):
    model = make(0)
    h, target = batch(1)
    full = model.log_prob(h)
    assert full.shape == (11, 40)
    np.testing.assert_allclose(np.exp(full).sum(axis=1), 1.0, rtol=1e-13)
    picked = model.log_prob(h, target)
    assert picked.shape == (11,)
    np.testing.assert_allclose(picked, full[np.arange(11), target], rtol=1e-13, atol=1e-14)
    np.testing.assert_array_equal(model.log_proba(h), full)
    # one vector: (C,) without a target, 0-d with one
    assert model.log_prob(h[2]).shape == (40,) and model.log_proba(h[2]).shape == (40,)
    one = model.log_prob(h[2], target[2])
    assert one.shape == () and one == pytest.approx(picked[2], rel=1e-14)


@pytest.mark.parametrize("make", MODELS)
def test_reductions_and_per_example_losses(make):
    model = make(2)
    h, target = batch(3)
    losses = model.loss(h, target, reduction="none")
    assert isinstance(losses, np.ndarray) and losses.shape == (11,)
    np.testing.assert_allclose(losses, -model.log_prob(h, target), rtol=1e-14)
    total = model.loss(h, target, reduction="sum")
    mean = model.loss(h, target)
    assert isinstance(total, np.float64) and isinstance(mean, np.float64)
    assert total == pytest.approx(losses.sum(), rel=1e-14)
    assert mean == model.loss(h, target, reduction="mean")
    assert mean == pytest.approx(losses.mean(), rel=1e-14)

    # gradients: of the reduced loss; of losses.sum() for 'none'
    mean_value, mean_grads = model.loss(h, target, return_grad=True)
    sum_value, sum_grads = model.loss(h, target, reduction="sum", return_grad=True)
    none_value, none_grads = model.loss(h, target, reduction="none", return_grad=True)
    assert mean_value == mean and sum_value == total
    np.testing.assert_array_equal(none_value, losses)
    assert sorted(none_grads) == sorted(mean_grads)
    for g_mean, g_sum, g_none in zip(flat_grads(mean_grads), flat_grads(sum_grads),
                                     flat_grads(none_grads)):
        np.testing.assert_array_equal(g_none, g_sum)
        np.testing.assert_allclose(g_sum, g_mean * 11, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("make", MODELS)
def test_reductions_single_vector_empty_batch_and_float32(make):
    model = make(4)
    h, target = batch(5)
    loss = model.loss(h[0], target[0], reduction="none")
    assert loss.shape == () and loss == pytest.approx(model.loss(h[:1], target[:1]), rel=1e-14)
    _, grads = model.loss(h[0], target[0], reduction="sum", return_grad=True)
    assert grads["hidden"].shape == (8,)

    empty_h, empty_t = np.zeros((0, 8)), np.zeros(0, np.int64)
    assert model.loss(empty_h, empty_t, reduction="none").shape == (0,)
    assert model.loss(empty_h, empty_t, reduction="sum") == 0.0
    assert np.isnan(model.loss(empty_h, empty_t))
    value, grads = model.loss(empty_h, empty_t, reduction="none", return_grad=True)
    assert value.shape == (0,) and not any(g.any() for g in flat_grads(grads))

    model32 = make(4, np.float32)
    h32, target = batch(5, dtype=np.float32)
    losses32, grads32 = model32.loss(h32, target, reduction="none", return_grad=True)
    assert losses32.dtype == np.float32 and grads32["hidden"].dtype == np.float32
    assert model32.loss(h32, target, reduction="sum").dtype == np.float32
    assert model32.log_prob(h32, target).dtype == np.float32
    np.testing.assert_allclose(losses32, model.loss(h32.astype(np.float64), target,
                                                    reduction="none"), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("make", MODELS)
def test_reduction_and_keyword_errors(make):
    model = make(6)
    h, target = batch(7)
    for bad in ("avg", "batchmean", None, "MEAN"):
        with pytest.raises(ValueError, match=r"reduction must be one of .*'none'.*'mean'.*'sum'"):
            model.loss(h, target, reduction=bad)
    with pytest.raises(ValueError, match="reduction must be one of"):
        model.loss(np.zeros((2, 3)), target, reduction="avg")  # checked before the inputs
    with pytest.raises(TypeError, match="positional"):
        model.loss(h, target, True)  # reduction and return_grad are keyword-only
    with pytest.raises(IndexError, match=r"target 40 at position 0"):
        model.log_prob(h[:2], np.array([40, 0]))
    with pytest.raises(ValueError, match="target has shape"):
        model.log_prob(h, target[:3])


# ---------------------------------------------------------------- PyTorch

def test_adaptive_per_example_losses_and_their_gradients_match_pytorch():
    torch = pytest.importorskip("torch")
    model = adaptive(8)
    module = to_torch(model, torch)
    h, target = batch(9, size=23)
    h_torch = torch.tensor(h, requires_grad=True)
    result = module(h_torch, torch.from_numpy(target))
    (-result.output).sum().backward()
    losses, grads = model.loss(h, target, reduction="none", return_grad=True)
    np.testing.assert_allclose(losses, -result.output.detach().numpy(), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(model.log_prob(h, target), result.output.detach().numpy(),
                               rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(grads["hidden"], h_torch.grad.numpy(), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(grads["head_weight"], module.head.weight.grad.numpy(),
                               rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(grads["head_bias_"], module.head.bias.grad.numpy(),
                               rtol=1e-10, atol=1e-14)
    for (d_proj, d_out), seq in zip(grads["tail"], module.tail):
        np.testing.assert_allclose(d_proj, seq[0].weight.grad.numpy(), rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(d_out, seq[1].weight.grad.numpy(), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("torch_dtype, head_bias, rtol", [
    ("float64", True, 1e-12), ("float64", False, 1e-12), ("float32", True, 2e-5)])
def test_from_torch_equals_the_module(torch_dtype, head_bias, rtol):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    module = torch.nn.AdaptiveLogSoftmaxWithLoss(
        12, 50, [5, 20, 35], div_value=2.0, head_bias=head_bias).to(getattr(torch, torch_dtype))
    model = AdaptiveSoftmax.from_torch(module)
    assert isinstance(model, AdaptiveSoftmax)
    assert (model.in_features, model.n_classes, model.cutoffs, model.div_value,
            model.head_bias) == (12, 50, [5, 20, 35, 50], 2.0, head_bias)
    assert hasattr(model, "head_bias_") == head_bias
    dtype = np.dtype(torch_dtype)
    assert model.head_weight.dtype == dtype
    assert all(p.dtype == o.dtype == dtype for p, o in model.tail)
    np.testing.assert_array_equal(model.head_weight, module.head.weight.detach().numpy())
    for (proj, out), seq in zip(model.tail, module.tail):
        np.testing.assert_array_equal(proj, seq[0].weight.detach().numpy())
        np.testing.assert_array_equal(out, seq[1].weight.detach().numpy())

    rng = np.random.default_rng(1)
    h = rng.normal(size=(19, 12)).astype(dtype)
    target = rng.integers(0, 50, 19)
    target[:3] = [0, 49, 20]
    with torch.no_grad():
        result = module(torch.from_numpy(h), torch.from_numpy(target))
        expected_log_prob = module.log_prob(torch.from_numpy(h)).numpy()
        expected_predict = module.predict(torch.from_numpy(h)).numpy()
    np.testing.assert_allclose(model.log_prob(h), expected_log_prob, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(model.log_prob(h, target), result.output.numpy(), rtol=rtol,
                               atol=rtol)
    np.testing.assert_allclose(model.loss(h, target, reduction="none"), -result.output.numpy(),
                               rtol=rtol, atol=rtol)
    assert model.loss(h, target) == pytest.approx(result.loss.item(), rel=rtol)
    np.testing.assert_array_equal(model.predict(h), expected_predict)

    # the weights are copied: training the module leaves the model as it was
    before = model.head_weight.copy()
    with torch.no_grad():
        module.head.weight.add_(1.0)
    np.testing.assert_array_equal(model.head_weight, before)


def test_from_torch_errors():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match=r"AdaptiveLogSoftmaxWithLoss, got torch\.nn\..*Linear"):
        AdaptiveSoftmax.from_torch(torch.nn.Linear(3, 4))
    with pytest.raises(TypeError, match="AdaptiveLogSoftmaxWithLoss, got builtins.dict"):
        AdaptiveSoftmax.from_torch({})
    half = torch.nn.AdaptiveLogSoftmaxWithLoss(8, 10, [4]).to(torch.bfloat16)
    with pytest.raises(TypeError, match=r"float32 or float64, got torch\.bfloat16"):
        AdaptiveSoftmax.from_torch(half)
