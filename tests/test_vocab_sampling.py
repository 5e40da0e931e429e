"""Tests of csoftmax.vocab's sampled softmax and negative-sampling losses.

Oracles: a float64 NumPy transcription of TensorFlow's _compute_sampled_logits
+ softmax cross-entropy (fed the candidates the sampler draws for the same
seed), a NumPy word2vec objective, central finite differences for every
gradient, and statistical identities that must hold in expectation over
the sampler's draws (each checked over fixed seeds, so the test is
deterministic, with a bound of several standard errors).
"""
import numpy as np
import pytest

special = pytest.importorskip("scipy.special")  # scipy is in the test extra
stats = pytest.importorskip("scipy.stats")

from csoftmax.vocab import negative_sampling_loss, sampled_softmax_loss  # noqa: E402
from csoftmax.vocab._samplers import class_probability, sample_candidates  # noqa: E402

SAMPLERS = ("log_uniform", "uniform")


def _layer(batch=3, dim=4, num_classes=7, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(batch, dim)).astype(dtype),
            rng.normal(size=(num_classes, dim)).astype(dtype),
            rng.normal(size=num_classes).astype(dtype),
            rng.integers(0, num_classes, size=batch))


def _tf_expected_count(p, num_sampled, num_tries):
    """range_sampler.cc's ExpectedCountHelper, written out independently."""
    if num_tries == num_sampled:
        return num_sampled * p
    return 1.0 - (1.0 - p) ** num_tries


def _reference_sampled(h, W, b, target, num_sampled, sampler, unique, remove_hits, seed):
    """Per-row float64 losses of tf.nn.sampled_softmax_loss (num_true=1) for
    the candidates drawn with `seed`."""
    C = W.shape[0]
    ids, _, tries = sample_candidates(sampler, num_sampled, C, np.random.default_rng(seed),
                                      unique)
    logit = h @ W.T + b  # every class's logit; the sampled loss picks columns
    rows = []
    for i, t in enumerate(target):
        true = logit[i, t] - np.log(_tf_expected_count(class_probability(sampler, [t], C)[0],
                                                       num_sampled, tries))
        sampled = logit[i, ids] - np.log(_tf_expected_count(
            class_probability(sampler, ids, C), num_sampled, tries))
        if remove_hits:
            sampled = sampled[ids != t]
        rows.append(special.logsumexp(np.concatenate([[true], sampled])) - true)
    return np.array(rows), ids


def _dense(sparse, num_classes, trailing=()):
    indices, rows = sparse
    dense = np.zeros((num_classes,) + trailing)
    dense[indices] = rows
    return dense


def _finite_difference(f, x, step=1e-6):
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        saved = x[i]
        x[i] = saved + step
        up = f()
        x[i] = saved - step
        down = f()
        x[i] = saved
        grad[i] = (up - down) / (2 * step)
    return grad


# ---------------------------------------------------------------- sampled softmax: values

@pytest.mark.parametrize("sampler", SAMPLERS)
@pytest.mark.parametrize("unique", [True, False])
@pytest.mark.parametrize("remove_hits", [True, False])
def test_sampled_matches_tensorflow_formula(sampler, unique, remove_hits):
    h, W, b, target = _layer(batch=6, num_classes=9)
    target[:3] = [0, 1, 0]  # frequent log-uniform ids: accidental hits are likely
    for seed in range(5):
        got = sampled_softmax_loss(h, W, b, target, 6, sampler=sampler, unique=unique,
                                   remove_accidental_hits=remove_hits, seed=seed,
                                   reduction="none")
        want, _ = _reference_sampled(h, W, b, target, 6, sampler, unique, remove_hits, seed)
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-14)


def test_unique_uniform_sample_of_every_class_is_the_full_softmax():
    # all classes drawn, all expected counts equal: the log-Q shifts cancel and
    # the accidental hit of each target removes its duplicate column
    h, W, b, target = _layer(batch=5, num_classes=6)
    full = special.logsumexp(h @ W.T + b, axis=1) - (h @ W.T + b)[np.arange(5), target]
    loss, (dh, dW, db) = sampled_softmax_loss(h, W, b, target, 6, sampler="uniform", seed=3,
                                              reduction="none", return_grad=True)
    np.testing.assert_allclose(loss, full, rtol=1e-13)
    probs = special.softmax(h @ W.T + b, axis=1)
    probs[np.arange(5), target] -= 1.0  # d full CE / d logits
    np.testing.assert_allclose(dh, probs @ W, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(_dense(dW, 6, (4,)), probs.T @ h, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(_dense(db, 6), probs.sum(axis=0), rtol=1e-12, atol=1e-14)


def test_accidental_hit_gets_zero_probability_without_nan():
    h, W, b, target = _layer(batch=4, num_classes=5, dtype=np.float32)
    h *= 30.0  # large logits: float32 must still give exact zeros, no nan
    kept = sampled_softmax_loss(h, W, b, target, 5, sampler="uniform", seed=0,
                                reduction="none", return_grad=True)
    dropped = sampled_softmax_loss(h, W, b, target, 5, sampler="uniform", seed=0,
                                   remove_accidental_hits=False, reduction="none")
    assert np.all(np.isfinite(kept[0])) and np.all(np.isfinite(kept[1][0]))
    logits = (h.astype(np.float64) @ W.T + b)
    t_logit = logits[np.arange(4), target]
    # without removal the target appears twice: log(Z + exp(o_t)) - o_t
    np.testing.assert_allclose(
        dropped, np.logaddexp(special.logsumexp(logits, axis=1), t_logit) - t_logit,
        rtol=2e-5, atol=1e-5)
    np.testing.assert_allclose(kept[0], special.logsumexp(logits, axis=1) - t_logit,
                               rtol=2e-5, atol=1e-5)


def test_accidental_hit_column_has_zero_gradient():
    # one class, one sample: the only sampled column is the target's hit, so
    # the loss is 0 and nothing flows to the weight through that column
    h = np.array([[1.0, -2.0]])
    W = np.array([[0.5, 0.25]])
    loss, (dh, (rows, dW), (_, db)) = sampled_softmax_loss(
        h, W, np.zeros(1), np.array([0]), 1, sampler="uniform", seed=0, return_grad=True)
    assert loss == 0.0
    assert rows.tolist() == [0]
    assert np.all(dh == 0) and np.all(dW == 0) and np.all(db == 0)


# ---------------------------------------------------------------- sampled softmax: gradients

@pytest.mark.parametrize("sampler", SAMPLERS)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_sampled_gradients_match_finite_differences(sampler, reduction):
    h, W, b, target = _layer()
    target[0] = 0  # likely an accidental hit under the log-uniform sampler

    def loss():
        value = sampled_softmax_loss(h, W, b, target, 4, sampler=sampler, seed=11,
                                     reduction=reduction)
        return float(np.sum(value))

    _, (dh, dW, db) = sampled_softmax_loss(h, W, b, target, 4, sampler=sampler, seed=11,
                                           reduction=reduction, return_grad=True)
    np.testing.assert_allclose(dh, _finite_difference(loss, h), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(_dense(dW, 7, (4,)), _finite_difference(loss, W), rtol=1e-6,
                               atol=1e-8)
    np.testing.assert_allclose(_dense(db, 7), _finite_difference(loss, b), rtol=1e-6,
                               atol=1e-8)


def test_sparse_gradient_covers_exactly_the_touched_classes():
    h, W, b, target = _layer(batch=8, num_classes=50)
    _, (_, (rows, dW), (bias_rows, db)) = sampled_softmax_loss(h, W, b, target, 10, seed=4,
                                                               return_grad=True)
    _, ids = _reference_sampled(h, W, b, target, 10, "log_uniform", True, True, 4)
    assert rows.tolist() == sorted(set(target.tolist()) | set(ids.tolist()))
    assert bias_rows.tolist() == rows.tolist() and bias_rows is not rows
    assert dW.shape == (rows.size, 4) and db.shape == (rows.size,)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sparse_rows_sum_every_use_of_an_id_in_float64(dtype):
    from csoftmax.vocab._sampled import _sparse_rows

    rng = np.random.default_rng(6)
    source = rng.normal(size=(5, 3)).astype(dtype)
    ids = np.array([4, 1, 4, 9, 1, 4, 0])
    # id 4 sums 1e8 * s0 + s4 - 1e8 * s0: a float32 running sum would lose s4
    coef = np.array([1e8, 1.0, 1.0, 2.0, 0.5, -1e8, -3.0], dtype)
    source_row = np.array([0, 1, 4, 2, 3, 0, 1])
    indices, rows, slot = _sparse_rows(ids, coef, source_row, source)
    want = np.zeros((10, 3))
    np.add.at(want, ids, coef[:, None].astype(np.float64) * source[source_row])
    assert indices.tolist() == [0, 1, 4, 9] and rows.dtype == dtype
    np.testing.assert_array_equal(indices[slot], ids)
    np.testing.assert_allclose(rows, want[indices], rtol=1e-6 if dtype == np.float32 else 1e-15)


# ---------------------------------------------------------------- samplers

@pytest.mark.parametrize("sampler", SAMPLERS)
def test_sampler_frequencies_follow_their_distribution(sampler):
    C, draws = 40, 200_000
    ids, counts, tries = sample_candidates(sampler, draws, C, np.random.default_rng(5),
                                           unique=False)
    observed = np.bincount(ids, minlength=C)
    expected = draws * class_probability(sampler, np.arange(C), C)
    assert tries == draws
    np.testing.assert_allclose(expected.sum(), draws)
    np.testing.assert_allclose(counts, draws * class_probability(sampler, ids, C))
    # Pearson's chi-square with C - 1 degrees of freedom; p < 1e-4 would be a real misfit
    chi2 = np.sum((observed - expected) ** 2 / expected)
    assert stats.chi2.sf(chi2, C - 1) > 1e-4


def test_log_uniform_probability_is_zipfian():
    mpmath = pytest.importorskip("mpmath")
    C = 50_000
    classes = np.array([0, 1, 7, 999, 12_345, C - 1])
    with mpmath.workdps(40):  # the difference of logs cancels: carry extra digits
        exact = [float((mpmath.log(k + 2) - mpmath.log(k + 1)) / mpmath.log(C + 1))
                 for k in classes.tolist()]
    np.testing.assert_allclose(class_probability("log_uniform", classes, C), exact, rtol=1e-14)
    total = class_probability("log_uniform", np.arange(C), C).sum()
    np.testing.assert_allclose(total, 1.0, rtol=1e-12)


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_unique_sampling_draws_distinct_ids_with_tensorflow_counts(sampler):
    C, S = 30, 12
    for seed in range(20):
        ids, counts, tries = sample_candidates(sampler, S, C, np.random.default_rng(seed))
        assert len(set(ids.tolist())) == S and tries >= S
        p = class_probability(sampler, ids, C)
        np.testing.assert_allclose(counts, _tf_expected_count(p, S, tries), rtol=1e-12)


def test_seed_makes_the_loss_deterministic():
    h, W, b, target = _layer(batch=6, num_classes=100)
    first = sampled_softmax_loss(h, W, b, target, 20, seed=9, return_grad=True)
    second = sampled_softmax_loss(h, W, b, target, 20, seed=9, return_grad=True)
    assert first[0] == second[0]
    for a, c in zip(first[1][1], second[1][1]):
        np.testing.assert_array_equal(a, c)
    other = sampled_softmax_loss(h, W, b, target, 20, seed=10)
    assert other != first[0]
    rng = np.random.default_rng(9)  # a Generator is used (and advanced) as is
    assert sampled_softmax_loss(h, W, b, target, 20, seed=rng) == first[0]


# ---------------------------------------------------------------- convergence in expectation

@pytest.mark.parametrize("sampler", SAMPLERS)
@pytest.mark.parametrize("remove_hits", [True, False])
def test_with_replacement_sampled_partition_is_unbiased(sampler, remove_hits):
    """With independent draws the log-Q corrected sampled logits estimate the
    partition function without bias: E[sum_j exp(o_sj) / (S q_sj)] = Z (minus
    the target's term when hits are removed). Since
    exp(loss) = 1 + sum_j exp(L_j - L_0) with L_0 = o_t - log(S q_t), this gives
    E[exp(loss)] = 1 + S q_t exp(-o_t) (Z - [remove] exp(o_t)), i.e.
    1 + S q_t (exp(CE) - 1) or 1 + S q_t exp(CE), CE the full softmax loss."""
    h, W, b, target = _layer(batch=4, dim=3, num_classes=12, seed=1)
    h *= 0.5  # moderate logits keep exp(loss) light-tailed
    S, n = 5, 3000
    samples = np.array([np.exp(sampled_softmax_loss(
        h, W, b, target, S, sampler=sampler, unique=False, remove_accidental_hits=remove_hits,
        seed=seed, reduction="none")) for seed in range(n)])
    logits = h @ W.T + b
    ce = special.logsumexp(logits, axis=1) - logits[np.arange(4), target]
    q_t = class_probability(sampler, target, 12)
    want = 1 + S * q_t * (np.expm1(ce) if remove_hits else np.exp(ce))
    standard_error = samples.std(axis=0) / np.sqrt(n)
    assert np.all(np.abs(samples.mean(axis=0) - want) < 4.5 * standard_error)


def test_unique_uniform_all_but_one_class_has_exact_expected_loss():
    """unique uniform sampling of C - 1 classes leaves out one class m,
    uniformly at random; equal expected counts cancel, so the loss is
    log(Z - exp(o_m)) - o_t for m != t and the full CE for m == t. Its
    expectation, the mean of those C cases, must match the Monte-Carlo mean."""
    h, W, b, target = _layer(batch=3, dim=3, num_classes=8, seed=2)
    n = 2000
    losses = np.array([sampled_softmax_loss(h, W, b, target, 7, sampler="uniform", seed=s,
                                            reduction="none") for s in range(n)])
    logits = h @ W.T + b
    z = np.exp(logits).sum(axis=1)
    t_logit = logits[np.arange(3), target]
    cases = np.log(z[:, None] - np.exp(logits)) - t_logit[:, None]
    cases[np.arange(3), target] = np.log(z) - t_logit
    standard_error = losses.std(axis=0) / np.sqrt(n)
    assert np.all(np.abs(losses.mean(axis=0) - cases.mean(axis=1)) < 4.5 * standard_error)


def test_default_sampled_gradient_approaches_full_gradient():
    """TensorFlow's default (log-uniform, unique) gives a biased gradient that
    is consistent: its mean over draws moves towards the full softmax
    gradient as num_sampled grows, and is close once most classes are drawn."""
    h, W, b, target = _layer(batch=4, dim=3, num_classes=60, seed=3)
    logits = h @ W.T + b
    probs = special.softmax(logits, axis=1)
    probs[np.arange(4), target] -= 1.0
    full = probs @ W / 4  # d mean CE / d hidden
    errors = []
    for S in (3, 15, 55):
        mean_grad = np.mean([sampled_softmax_loss(h, W, b, target, S, seed=s,
                                                  return_grad=True)[1][0]
                             for s in range(300)], axis=0)
        errors.append(np.linalg.norm(mean_grad - full) / np.linalg.norm(full))
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 0.05


# ---------------------------------------------------------------- negative sampling

def _reference_negative(h, W, target, negatives):
    positive = np.einsum("bd,bd->b", h, W[target])
    negative = np.einsum("bd,bkd->bk", h, W[negatives])
    return np.logaddexp(0, -positive) + np.logaddexp(0, negative).sum(axis=1)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_negative_sampling_matches_numpy_and_finite_differences(reduction):
    h, W, _, target = _layer(batch=5, num_classes=9)
    negatives = np.random.default_rng(1).integers(0, 9, size=(5, 3))
    negatives[0, 0] = target[0]  # repeated ids must accumulate
    rows = _reference_negative(h, W, target, negatives)
    want = {"mean": rows.mean(), "sum": rows.sum(), "none": rows}[reduction]
    loss, (dh, dW) = negative_sampling_loss(h, W, target, negatives, reduction=reduction,
                                            return_grad=True)
    np.testing.assert_allclose(loss, want, rtol=1e-13)

    def total():
        return float(np.sum(negative_sampling_loss(h, W, target, negatives,
                                                   reduction=reduction)))

    np.testing.assert_allclose(dh, _finite_difference(total, h), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(_dense(dW, 9, (4,)), _finite_difference(total, W), rtol=1e-6,
                               atol=1e-8)
    assert dW[0].tolist() == sorted(set(target.tolist()) | set(negatives.ravel().tolist()))


def test_negative_sampling_is_exact_for_huge_logits():
    h = np.array([[1e3, 0.0]])
    W = np.array([[1.0, 0.0], [-1.0, 0.0]])
    # s(1000) rounds to 1 and s(-1000) to 0, yet the loss is the exact 1e-3-scale sum
    loss = negative_sampling_loss(h, W, np.array([1]), np.array([[0]]), reduction="sum")
    assert loss == 2000.0
    assert negative_sampling_loss(h, W, np.array([0]), np.array([[1]])) == 2 * np.exp(-1000.0)


# ---------------------------------------------------------------- dtypes, reductions, edges

@pytest.mark.parametrize("loss_name", ["sampled", "negative"])
def test_float32_is_kept_and_accurate(loss_name):
    h, W, b, target = _layer(batch=6, num_classes=20)
    negatives = np.random.default_rng(2).integers(0, 20, size=(6, 4))

    def run(dtype):
        if loss_name == "sampled":
            return sampled_softmax_loss(h.astype(dtype), W.astype(dtype), b.astype(dtype),
                                        target, 8, seed=1, return_grad=True)
        return negative_sampling_loss(h.astype(dtype), W.astype(dtype), target, negatives,
                                      return_grad=True)

    loss32, grads32 = run(np.float32)
    loss64, grads64 = run(np.float64)
    assert loss32.dtype == np.float32 and grads32[0].dtype == np.float32
    assert grads32[1][1].dtype == np.float32
    np.testing.assert_allclose(loss32, loss64, rtol=1e-5)
    np.testing.assert_allclose(grads32[0], grads64[0], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(grads32[1][1], grads64[1][1], rtol=1e-4, atol=1e-6)


def test_integer_inputs_become_float64_and_mixed_dtypes_widen():
    h, W, b, target = _layer()
    loss = sampled_softmax_loss(np.round(h * 3).astype(int), W.astype(np.float32), b, target,
                                3, seed=0)
    assert loss.dtype == np.float64
    loss = negative_sampling_loss(h.astype(np.float32), W.astype(np.float32), target,
                                  target[:, None])
    assert loss.dtype == np.float32


def test_float16_is_computed_in_float32_and_returned_as_float16():
    h, W, b, target = _layer(batch=4, num_classes=10)
    loss, (dh, (_, dW), (_, db)) = sampled_softmax_loss(
        h.astype(np.float16), W.astype(np.float16), b.astype(np.float16), target, 4, seed=0,
        return_grad=True)
    assert loss.dtype == dh.dtype == dW.dtype == db.dtype == np.float16
    want = sampled_softmax_loss(h.astype(np.float16).astype(np.float32),
                                W.astype(np.float16).astype(np.float32),
                                b.astype(np.float16).astype(np.float32), target, 4, seed=0)
    assert loss == np.float16(want)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_reductions_agree_with_none(reduction):
    h, W, b, target = _layer(batch=6, num_classes=15)
    negatives = np.random.default_rng(3).integers(0, 15, size=(6, 2))
    for call in (lambda r, g: sampled_softmax_loss(h, W, b, target, 5, seed=2, reduction=r,
                                                   return_grad=g),
                 lambda r, g: negative_sampling_loss(h, W, target, negatives, reduction=r,
                                                     return_grad=g)):
        rows, grads_none = call("none", True)
        reduced, grads = call(reduction, True)
        scale = 1 / 6 if reduction == "mean" else 1.0
        np.testing.assert_allclose(reduced, rows.sum() * scale, rtol=1e-13)
        np.testing.assert_allclose(grads[0], grads_none[0] * scale, rtol=1e-13)
        np.testing.assert_allclose(grads[1][1], grads_none[1][1] * scale, rtol=1e-13)
        assert call(reduction, False) == reduced


def test_any_memory_layout():
    h, W, b, target = _layer(batch=4, num_classes=9)
    negatives = np.random.default_rng(4).integers(0, 9, size=(4, 3))
    strided_h = np.asfortranarray(np.repeat(h, 2, axis=0)[::-2][::-1])  # == h, not C-ordered
    reversed_w = np.ascontiguousarray(W[::-1])[::-1]  # == W, negative strides
    read_only_b = b.copy()
    read_only_b.flags.writeable = False
    for call in (lambda *a: sampled_softmax_loss(*a, target, 4, seed=0, return_grad=True),
                 lambda hh, ww, bb: negative_sampling_loss(hh, ww, target, negatives,
                                                           return_grad=True)):
        want_loss, want_grads = call(h, W, b)
        loss, grads = call(strided_h, reversed_w, read_only_b)
        assert loss == want_loss
        np.testing.assert_array_equal(grads[0], want_grads[0])
        np.testing.assert_array_equal(grads[1][1], want_grads[1][1])


def test_empty_batch():
    W, b = np.ones((5, 2)), np.zeros(5)
    empty_h, empty_t = np.empty((0, 2)), np.empty(0, int)
    assert np.isnan(sampled_softmax_loss(empty_h, W, b, empty_t, 2, seed=0))
    assert sampled_softmax_loss(empty_h, W, b, empty_t, 2, seed=0, reduction="sum") == 0
    loss, (dh, (rows, dW)) = negative_sampling_loss(empty_h, W, empty_t, np.empty((0, 3), int),
                                                    reduction="none", return_grad=True)
    assert loss.shape == (0,) and dh.shape == (0, 2) and rows.size == 0 and dW.shape == (0, 2)


# ---------------------------------------------------------------- errors

def test_bad_ids_raise_index_error_naming_label_and_position():
    h, W, b, target = _layer()
    target[2] = 7
    with pytest.raises(IndexError, match=r"target 7 at position \(2,\)"):
        sampled_softmax_loss(h, W, b, target, 2)
    with pytest.raises(IndexError, match=r"negatives -1 at position \(1, 0\)"):
        negative_sampling_loss(h, W, np.zeros(3, int), np.array([[0], [-1], [2]]))
    with pytest.raises(TypeError, match="integer"):
        sampled_softmax_loss(h, W, b, target.astype(float), 2)


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(num_sampled=0), ValueError, "num_sampled"),
    (dict(num_sampled=8), ValueError, "at most 7"),
    (dict(num_sampled=2.5), TypeError, "num_sampled"),
    (dict(sampler="unigram"), ValueError, "sampler"),
    (dict(reduction="batchmean"), ValueError, "reduction"),
    (dict(hidden=np.ones(4)), ValueError, "hidden must be 2-D"),
    (dict(weight=np.ones((7, 5))), ValueError, "weight must have shape"),
    (dict(bias=np.ones(6)), ValueError, "bias must have shape"),
    (dict(target=np.zeros(2, int)), ValueError, "target has shape"),
    (dict(hidden=np.ones((3, 4), complex)), TypeError, "complex"),
])
def test_sampled_rejects_bad_arguments(kwargs, error, message):
    h, W, b, target = _layer()
    arguments = dict(hidden=h, weight=W, bias=b, target=target, num_sampled=3)
    arguments.update(kwargs)
    with pytest.raises(error, match=message):
        sampled_softmax_loss(**arguments)


def test_with_replacement_allows_more_samples_than_classes():
    h, W, b, target = _layer()
    loss = sampled_softmax_loss(h, W, b, target, 20, unique=False, seed=0)
    assert np.isfinite(loss)


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(negatives=np.zeros(3, int)), ValueError, "negatives must be 2-D"),
    (dict(negatives=np.zeros((2, 1), int)), ValueError, "negatives has shape"),
    (dict(negatives=np.zeros((3, 1))), TypeError, "integer"),
    (dict(reduction="batchmean"), ValueError, "reduction"),
    (dict(weight=np.ones((7, 3))), ValueError, "weight must have shape"),
])
def test_negative_sampling_rejects_bad_arguments(kwargs, error, message):
    h, W, _, target = _layer()
    arguments = dict(hidden=h, weight=W, target=target, negatives=np.zeros((3, 2), int))
    arguments.update(kwargs)
    with pytest.raises(error, match=message):
        negative_sampling_loss(**arguments)
