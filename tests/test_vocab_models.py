"""csoftmax.vocab.HierarchicalSoftmax and AdaptiveSoftmax: normalisation,
gradients against finite differences, PyTorch parity, errors."""
import numpy as np
import pytest

import csoftmax
from csoftmax.vocab import AdaptiveSoftmax, HierarchicalSoftmax
from loss_checks import fd_grad


def zipf_counts(n_classes, rng):
    return rng.permutation(np.round(1e4 / np.arange(1, n_classes + 1)) + 1)


def numeric_gradient(f, array):
    """Central differences of the scalar f() w.r.t. every entry of array."""
    return fd_grad(lambda _: f(), array)


def reference_log_proba(model, h):
    """Leaf log-probabilities by walking the tree from the root in plain NumPy."""
    C = model.n_classes
    out = np.zeros((h.shape[0], C))
    if C == 1:
        return out
    z = h @ model.node_weight.T + model.node_bias
    stack = [(C + C - 2, np.zeros(h.shape[0]))]
    while stack:
        node, log_p = stack.pop()
        if node < C:
            out[:, node] = log_p
            continue
        zi = z[:, node - C]
        left, right = model.children[node - C]
        stack.append((left, log_p - np.logaddexp(0, zi)))    # log sigmoid(-z)
        stack.append((right, log_p - np.logaddexp(0, -zi)))  # log sigmoid(z)
    return out


# ---------------------------------------------------------------- Huffman tree

def test_frequent_classes_get_shorter_codes():
    rng = np.random.default_rng(0)
    counts = zipf_counts(500, rng)
    model = HierarchicalSoftmax(counts, 4, seed=0)
    # a strictly more frequent class never has a longer code (ties: any order)
    order = np.lexsort((model.code_lengths, -counts))
    assert np.all(np.diff(model.code_lengths[order]) >= 0)
    assert model.code_lengths.min() < model.code_lengths.max()
    # a full binary tree: Kraft's sum is exactly 1
    assert np.sum(2.0 ** -model.code_lengths) == 1.0
    # Huffman's expected length is within one bit of the entropy
    p = counts / counts.sum()
    entropy_bits = -np.sum(p * np.log2(p))
    assert entropy_bits <= np.sum(p * model.code_lengths) < entropy_bits + 1


def test_tree_is_deterministic_with_ties():
    counts = [5, 5, 5, 5, 5, 1, 1]
    a, b = HierarchicalSoftmax(counts, 2), HierarchicalSoftmax(counts, 2)
    np.testing.assert_array_equal(a.children, b.children)
    assert sorted(a.children.ravel().tolist()) == list(range(7 + 5))  # every id once but the root


def test_known_small_tree():
    model = HierarchicalSoftmax([50, 20, 20, 10], 2)
    np.testing.assert_array_equal(model.code_lengths, [1, 3, 2, 3])
    np.testing.assert_array_equal(model.children, [[3, 1], [2, 4], [0, 5]])


# ---------------------------------------------------------------- hierarchical softmax

@pytest.mark.parametrize("n_classes", [1, 2, 3, 17, 200])
def test_log_proba_normalised_and_matches_log_prob(n_classes):
    rng = np.random.default_rng(n_classes)
    model = HierarchicalSoftmax(zipf_counts(n_classes, rng), 6, seed=1)
    model.node_bias = rng.normal(size=n_classes - 1)
    h = rng.normal(size=(9, 6)) * 2
    target = rng.integers(0, n_classes, 9)
    log_proba = model.log_proba(h)
    np.testing.assert_allclose(np.exp(log_proba).sum(axis=1), 1.0, rtol=1e-13)
    np.testing.assert_allclose(log_proba, reference_log_proba(model, h), rtol=1e-13, atol=1e-13)
    log_prob = model.log_prob(h, target)
    np.testing.assert_allclose(log_prob, log_proba[np.arange(9), target], rtol=1e-13, atol=1e-14)
    assert model.loss(h, target) == pytest.approx(-log_prob.mean(), rel=1e-14, abs=1e-15)
    np.testing.assert_array_equal(model.predict(h), np.argmax(log_proba, axis=1))


def test_hierarchical_gradients_match_finite_differences():
    rng = np.random.default_rng(2)
    model = HierarchicalSoftmax(zipf_counts(7, rng), 4, seed=3)
    model.node_bias = rng.normal(size=6)
    h = rng.normal(size=(5, 4))
    target = np.array([0, 3, 6, 3, 1])
    _, grads = model.loss(h, target, return_grad=True)

    def f():
        return float(model.loss(h, target))

    np.testing.assert_allclose(grads["hidden"], numeric_gradient(f, h), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(grads["node_weight"], numeric_gradient(f, model.node_weight),
                               rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(grads["node_bias"], numeric_gradient(f, model.node_bias),
                               rtol=1e-6, atol=1e-9)


def test_hierarchical_float32_stays_float32_and_agrees():
    rng = np.random.default_rng(4)
    model = HierarchicalSoftmax(zipf_counts(300, rng), 16, seed=5, dtype=np.float32)
    assert model.node_weight.dtype == np.float32
    h = rng.normal(size=(40, 16)).astype(np.float32)
    target = rng.integers(0, 300, 40)
    loss, grads = model.loss(h, target, return_grad=True)
    assert loss.dtype == np.float32 and model.log_proba(h).dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads.values())
    loss64, grads64 = model.loss(h.astype(np.float64), target, return_grad=True)
    assert loss64.dtype == np.float64  # a float64 operand makes the call float64
    np.testing.assert_allclose(loss, loss64, rtol=1e-6)
    for name in grads:
        np.testing.assert_allclose(grads[name], grads64[name], rtol=1e-4, atol=1e-6)


def test_hierarchical_gradients_identical_for_any_thread_count():
    rng = np.random.default_rng(6)
    model = HierarchicalSoftmax(zipf_counts(2000, rng), 64, seed=7, dtype=np.float32)
    h = rng.normal(size=(1500, 64)).astype(np.float32)
    target = rng.integers(0, 2000, 1500)
    old = csoftmax.get_num_threads()
    try:
        results = []
        for threads in (1, 3):
            csoftmax.set_num_threads(threads)
            results.append(model.loss(h, target, return_grad=True))
    finally:
        csoftmax.set_num_threads(old)
    (loss1, grads1), (loss3, grads3) = results
    assert loss1 == loss3
    for name in grads1:
        np.testing.assert_array_equal(grads1[name], grads3[name])


def test_hierarchical_single_vector_and_edge_cases():
    model = HierarchicalSoftmax([4, 2, 1], 3, seed=0)
    h = np.array([0.5, -1.0, 2.0])
    assert model.log_prob(h, 1).shape == ()
    assert model.log_proba(h).shape == (3,)
    assert model.predict(h).shape == ()
    loss, grads = model.loss(h, 2, return_grad=True)
    assert grads["hidden"].shape == (3,)
    # an empty batch: nan loss (a mean of nothing), zero gradients
    loss, grads = model.loss(np.zeros((0, 3)), np.zeros(0, np.int64), return_grad=True)
    assert np.isnan(loss) and not grads["node_weight"].any()
    # nan propagates
    assert np.isnan(model.loss(np.full((1, 3), np.nan), np.array([0])))
    # strided, Fortran-ordered, read-only and integer inputs
    rng = np.random.default_rng(3)
    base = np.asfortranarray(rng.normal(size=(6, 6)))[::2, ::2]
    base.flags.writeable = False
    np.testing.assert_allclose(model.log_proba(base), model.log_proba(base.copy()), rtol=0, atol=0)
    assert model.log_proba(np.ones((1, 3), np.int32)).dtype == np.float64
    # one class: probability 1 and nothing to learn
    single = HierarchicalSoftmax([3], 2)
    assert single.node_weight.shape == (0, 2)
    assert single.loss(np.ones((2, 2)), np.array([0, 0])) == 0.0
    np.testing.assert_array_equal(single.log_proba(np.ones((2, 2))), [[0.0], [0.0]])


def test_hierarchical_errors():
    model = HierarchicalSoftmax([4, 2, 1], 3)
    h = np.zeros((2, 3))
    with pytest.raises(IndexError, match=r"target 3 at position 1"):
        model.loss(h, np.array([0, 3]))
    with pytest.raises(IndexError, match=r"target -1 at position 0"):
        model.log_prob(h, np.array([-1, 0]))
    with pytest.raises(ValueError, match="shape"):
        model.loss(np.zeros((2, 4)), np.array([0, 1]))
    with pytest.raises(ValueError, match="target has shape"):
        model.loss(h, np.array([0, 1, 2]))
    with pytest.raises(TypeError, match="integer"):
        model.loss(h, np.array([0.0, 1.0]))
    model.node_bias = np.zeros(5)
    with pytest.raises(ValueError, match="node_bias"):
        model.loss(h, np.array([0, 1]))
    for counts in ([], [1, -1], [1, np.nan], [[1, 2]]):
        with pytest.raises(ValueError, match="counts"):
            HierarchicalSoftmax(counts, 3)
    with pytest.raises(ValueError, match="dim"):
        HierarchicalSoftmax([1, 2], 0)


# ---------------------------------------------------------------- adaptive softmax

ADAPTIVE_CASES = [  # in_features, n_classes, cutoffs, div_value, head_bias
    (16, 20, [5, 12], 2.0, False),
    (16, 20, [5, 12], 4.0, True),
    (8, 30, [3, 10, 29], 2.0, True),
    (6, 5, [1], 4.0, False),
]


def random_adaptive(case, seed, dtype=np.float64):
    in_features, n_classes, cutoffs, div_value, head_bias = case
    return AdaptiveSoftmax(in_features, n_classes, cutoffs, div_value=div_value,
                           head_bias=head_bias, seed=seed, dtype=dtype)


def to_torch(model, torch):
    module = torch.nn.AdaptiveLogSoftmaxWithLoss(
        model.in_features, model.n_classes, model.cutoffs[:-1], div_value=model.div_value,
        head_bias=model.head_bias).double()
    with torch.no_grad():
        module.head.weight.copy_(torch.from_numpy(model.head_weight))
        if model.head_bias:
            module.head.bias.copy_(torch.from_numpy(model.head_bias_))
        for (proj, out), seq in zip(model.tail, module.tail):
            seq[0].weight.copy_(torch.from_numpy(proj))
            seq[1].weight.copy_(torch.from_numpy(out))
    return module


@pytest.mark.parametrize("case", ADAPTIVE_CASES)
def test_adaptive_matches_pytorch(case):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(8)
    model = random_adaptive(case, seed=9)
    module = to_torch(model, torch)
    for (proj, out), seq in zip(model.tail, module.tail):
        assert seq[0].weight.shape == proj.shape and seq[1].weight.shape == out.shape
    batch = 23
    h = rng.normal(size=(batch, model.in_features)) * 2
    target = rng.integers(0, model.n_classes, batch)
    target[:3] = [0, model.n_classes - 1, model.cutoffs[0]]

    h_torch = torch.tensor(h, requires_grad=True)
    result = module(h_torch, torch.from_numpy(target))
    result.loss.backward()
    loss, grads = model.loss(h, target, return_grad=True)
    assert loss == pytest.approx(result.loss.item(), rel=1e-13)
    np.testing.assert_allclose(grads["hidden"], h_torch.grad.numpy(), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(grads["head_weight"], module.head.weight.grad.numpy(),
                               rtol=1e-10, atol=1e-14)
    if model.head_bias:
        np.testing.assert_allclose(grads["head_bias_"], module.head.bias.grad.numpy(),
                                   rtol=1e-10, atol=1e-14)
    else:
        assert "head_bias_" not in grads
    for (d_proj, d_out), seq in zip(grads["tail"], module.tail):
        for ours, param in ((d_proj, seq[0].weight), (d_out, seq[1].weight)):
            expected = np.zeros(ours.shape) if param.grad is None else param.grad.numpy()
            np.testing.assert_allclose(ours, expected, rtol=1e-10, atol=1e-14)

    with torch.no_grad():
        expected_log_prob = module.log_prob(torch.from_numpy(h)).numpy()
        expected_predict = module.predict(torch.from_numpy(h)).numpy()
    log_prob = model.log_prob(h)
    np.testing.assert_allclose(log_prob, expected_log_prob, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(log_prob[np.arange(batch), target], result.output.detach().numpy(),
                               rtol=1e-12, atol=1e-13)
    np.testing.assert_array_equal(model.predict(h), expected_predict)
    np.testing.assert_array_equal(model.predict(h), np.argmax(log_prob, axis=1))


def test_adaptive_float32_matches_pytorch_float32():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(10)
    model = random_adaptive(ADAPTIVE_CASES[1], seed=11, dtype=np.float32)
    module = to_torch(model, torch).float()
    h = rng.normal(size=(17, model.in_features)).astype(np.float32)
    target = rng.integers(0, model.n_classes, 17)
    loss, grads = model.loss(h, target, return_grad=True)
    assert loss.dtype == np.float32 and grads["hidden"].dtype == np.float32
    h_torch = torch.tensor(h, requires_grad=True)
    result = module(h_torch, torch.from_numpy(target))
    result.loss.backward()
    assert loss == pytest.approx(result.loss.item(), rel=1e-5)
    np.testing.assert_allclose(grads["hidden"], h_torch.grad.numpy(), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(model.log_prob(h), module.log_prob(torch.from_numpy(h)).detach(),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("case", ADAPTIVE_CASES[1:3])
def test_adaptive_gradients_match_finite_differences(case):
    rng = np.random.default_rng(12)
    model = random_adaptive(case, seed=13)
    h = rng.normal(size=(7, model.in_features))
    target = rng.integers(0, model.n_classes, 7)
    target[:2] = [model.n_classes - 1, model.cutoffs[0]]
    _, grads = model.loss(h, target, return_grad=True)

    def f():
        return float(model.loss(h, target))

    pairs = [(grads["hidden"], h), (grads["head_weight"], model.head_weight)]
    if model.head_bias:
        pairs.append((grads["head_bias_"], model.head_bias_))
    for (d_proj, d_out), (proj, out) in zip(grads["tail"], model.tail):
        pairs += [(d_proj, proj), (d_out, out)]
    for analytic, array in pairs:
        np.testing.assert_allclose(analytic, numeric_gradient(f, array), rtol=1e-6, atol=1e-9)


def test_adaptive_shapes_edge_cases_and_single_vector():
    model = AdaptiveSoftmax(8, 10, [4, 7], seed=0)
    assert model.cutoffs == [4, 7, 10] and model.head_size == 6 and not hasattr(model, "head_bias_")
    assert [(p.shape, o.shape) for p, o in model.tail] == [((2, 8), (3, 2)), ((0, 8), (3, 0))]
    h = np.linspace(-1, 1, 8)
    assert model.log_prob(h).shape == (10,) and model.predict(h).shape == ()
    loss, grads = model.loss(h, 9, return_grad=True)
    assert grads["hidden"].shape == (8,) and np.isfinite(loss)
    loss, grads = model.loss(np.zeros((0, 8)), np.zeros(0, np.int64), return_grad=True)
    assert np.isnan(loss) and not grads["head_weight"].any()
    # a float32 model stays float32
    model32 = AdaptiveSoftmax(8, 10, [4, 7], seed=0, dtype=np.float32)
    assert model32.log_prob(h.astype(np.float32)).dtype == np.float32


def test_adaptive_errors():
    for cutoffs in ([], [0, 3], [3, 2], [3, 3], [2, 10], [2.5]):
        with pytest.raises(ValueError, match="cutoffs"):
            AdaptiveSoftmax(4, 10, cutoffs)
    with pytest.raises(ValueError, match="div_value"):
        AdaptiveSoftmax(4, 10, [3], div_value=0.0)
    model = AdaptiveSoftmax(4, 10, [3, 6], head_bias=True)
    h = np.zeros((3, 4))
    with pytest.raises(IndexError, match=r"target 10 at position 2"):
        model.loss(h, np.array([0, 9, 10]))
    with pytest.raises(ValueError, match="shape"):
        model.loss(np.zeros((3, 5)), np.array([0, 1, 2]))
    with pytest.raises(TypeError, match="complex"):
        model.log_prob(h + 0j)
    model.head_bias_ = np.zeros(4)
    with pytest.raises(ValueError, match="head_bias_"):
        model.log_prob(h)
