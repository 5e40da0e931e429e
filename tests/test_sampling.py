"""csoftmax.sample, top_logprobs and gumbel_softmax.

Oracles: tests/reference_sampling.py (a float64 transcription of the Hugging
Face warpers) for the kept sets and log-probabilities, chi-square tests of
10^6 draws against the processed distribution (fixed seeds, p > 1e-4), NumPy's
sort of log_softmax for top_logprobs, and softmax of logits plus the same
Gumbel noise for gumbel_softmax.
"""
import numpy as np
import pytest

import csoftmax
from csoftmax._sampling import _noisy_logits
from reference_sampling import kept_tokens, processed_logprobs

stats = pytest.importorskip("scipy.stats")  # scipy is in the test extra

FILTERS: tuple[dict[str, float], ...] = (
    {},
    {"temperature": 0.7},
    {"top_k": 5},
    {"top_k": 1},
    {"top_k": 100},  # >= V
    {"top_p": 0.9},
    {"top_p": 0.3, "temperature": 2.0},
    {"top_p": 1.0},
    {"min_p": 0.1},
    {"min_p": 0.0},
    {"min_p": 1.0},
    {"temperature": 0.7, "top_k": 8, "top_p": 0.9},
    {"temperature": 1.3, "top_k": 10, "top_p": 0.8, "min_p": 0.05},
)


def _logits(rows=5, vocab=40, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, vocab)) * 2
    x[1, [3, 7, 11, 20]] = x[1].max() - 0.5  # ties near the top
    x[2, ::3] = -np.inf
    x[3] = np.round(x[3])  # many ties
    return x.astype(dtype)


def _exact_kept(row, **filters):
    """The kept set of one row as csoftmax sees it: drawing all of them without
    replacement must work, one more must not."""
    expected = kept_tokens(row, **filters)
    idx, lp = csoftmax.sample(row, num_samples=expected.size, replacement=False, seed=1,
                              return_logprobs=True, **filters)
    with pytest.raises(ValueError, match="distinct tokens requested"):
        csoftmax.sample(row, num_samples=expected.size + 1, replacement=False, seed=1,
                        **filters)
    return expected, idx, lp


@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: repr(f))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("vocab", [40, 600])  # every token sorted; through the histogram
def test_kept_set_and_logprobs_match_reference(filters, dtype, vocab, isa):
    x = _logits(vocab=vocab, dtype=dtype)
    for row in x:
        expected, idx, lp = _exact_kept(row, **filters)
        assert len(set(idx.tolist())) == idx.size  # distinct
        np.testing.assert_array_equal(np.sort(idx), expected)
        ref = processed_logprobs(row, **filters)[idx]
        tol = 1e-12 if dtype == np.float64 else 2e-5
        np.testing.assert_allclose(lp, ref, rtol=tol, atol=tol)


@pytest.mark.parametrize("row, filters, kept", [
    ([3.0, 2.0, 2.0, 2.0, 1.0, 0.0], {"top_k": 2}, [0, 1, 2, 3]),  # ties of the k-th kept
    ([0.0, 0.0, 0.0, 0.0], {"top_p": 0.5}, [2, 3]),  # boundary ties: stable ascending sort
    ([0.0, 0.0, 0.0, 0.0], {"top_p": 0.51}, [1, 2, 3]),
    ([1.0, -np.inf, 0.0, -np.inf], {}, [0, 2]),
    ([1.0, -np.inf, 0.0, -np.inf], {"top_k": 4}, [0, 2]),
    ([5.0, 0.0, -1.0], {"top_p": 0.01}, [0]),  # the max is always kept
    ([0.0, np.log(0.5), np.log(0.4)], {"min_p": 0.45}, [0, 1]),
])
def test_hand_cases(row, filters, kept):
    row = np.array(row)
    np.testing.assert_array_equal(kept_tokens(row, **filters), kept)
    idx = csoftmax.sample(row, num_samples=len(kept), replacement=False, seed=0, **filters)
    np.testing.assert_array_equal(np.sort(idx), kept)


def test_per_row_parameters_equal_row_by_row_calls():
    x = _logits(rows=6)
    params = {"temperature": np.array([0.5, 1.0, 2.0, 0.7, 1.0, 3.0]),
              "top_k": np.array([3, 40, 10, 1, 7, 25]),
              "top_p": np.array([0.9, 1.0, 0.5, 0.8, 0.95, 0.2]),
              "min_p": np.array([0.0, 0.1, 0.0, 0.3, 0.05, 0.0])}
    for r in range(6):
        filters = {name: value[r] for name, value in params.items()}
        expected = kept_tokens(x[r], **filters)
        idx = csoftmax.sample(x[r], num_samples=expected.size, replacement=False, seed=0,
                              **filters)
        np.testing.assert_array_equal(np.sort(idx), expected)
    idx, lp = csoftmax.sample(x, num_samples=500, seed=3, return_logprobs=True, **params)
    for r in range(6):
        filters = {name: value[r] for name, value in params.items()}
        ref = processed_logprobs(x[r], **filters)
        assert np.isin(idx[r], kept_tokens(x[r], **filters)).all()
        np.testing.assert_allclose(lp[r], ref[idx[r]], rtol=1e-12, atol=1e-12)
    # the keepdims shape is accepted too
    keep = {name: value[:, None] for name, value in params.items()}
    np.testing.assert_array_equal(csoftmax.sample(x, num_samples=500, seed=3, **keep), idx)


def _chi_square(counts, probs):
    expected = probs * counts.sum()
    return stats.chisquare(counts, expected).pvalue


@pytest.mark.parametrize("filters", [{}, {"temperature": 0.6, "top_k": 5, "top_p": 0.8},
                                     {"min_p": 0.2, "temperature": 1.5}])
def test_frequencies_of_a_million_draws(filters):
    row = np.array([1.0, 0.2, -0.3, 2.0, 0.7, -1.0, 0.0, 1.5])
    p = np.exp(processed_logprobs(row, **filters))
    idx = csoftmax.sample(row, num_samples=10**6, seed=12345, **filters)
    counts = np.bincount(idx, minlength=row.size)
    assert (counts[p == 0] == 0).all()
    assert _chi_square(counts[p > 0], p[p > 0]) > 1e-4


@pytest.mark.parametrize("filters", [{}, {"top_p": 0.8}, {"min_p": 0.2, "temperature": 1.5},
                                     {"top_k": 3}])
def test_frequencies_of_one_draw_in_each_of_many_rows(filters):
    row = np.array([1.0, 0.2, -0.3, 2.0, 0.7, -1.0, 0.0, 1.5])
    p = np.exp(processed_logprobs(row, **filters))
    idx = csoftmax.sample(np.broadcast_to(row, (300000, row.size)), seed=54321, **filters)
    counts = np.bincount(idx[:, 0], minlength=row.size)
    assert (counts[p == 0] == 0).all()
    assert _chi_square(counts[p > 0], p[p > 0]) > 1e-4


def test_without_replacement_follows_sequential_draws():
    row = np.array([1.0, 0.2, -0.3, 0.8, 0.0])
    p = np.exp(processed_logprobs(row))
    x = np.broadcast_to(row, (200000, row.size))
    idx = csoftmax.sample(x, num_samples=2, replacement=False, seed=7)
    assert (idx[:, 0] != idx[:, 1]).all()
    pairs = idx[:, 0] * row.size + idx[:, 1]
    counts = np.bincount(pairs, minlength=row.size ** 2).reshape(row.size, row.size)
    expected = p[:, None] * p[None, :] / (1 - p[:, None])
    np.fill_diagonal(expected, 0)
    off = ~np.eye(row.size, dtype=bool)
    assert _chi_square(counts[off], expected[off]) > 1e-4


def test_same_seed_same_draws_for_any_thread_count():
    x = _logits(rows=64, vocab=3000, dtype=np.float32)
    one = csoftmax.sample(x, num_samples=4, top_p=0.9, top_k=50, seed=5, num_threads=1,
                          return_logprobs=True)
    two = csoftmax.sample(x, num_samples=4, top_p=0.9, top_k=50, seed=5, num_threads=2,
                          return_logprobs=True)
    np.testing.assert_array_equal(one[0], two[0])
    np.testing.assert_array_equal(one[1], two[1])
    again = csoftmax.sample(x, num_samples=4, top_p=0.9, top_k=50, seed=5)
    np.testing.assert_array_equal(again, one[0])


def test_generator_is_advanced_and_int_seed_repeats():
    x = _logits()
    rng = np.random.default_rng(0)
    first = csoftmax.sample(x, num_samples=20, seed=rng)
    second = csoftmax.sample(x, num_samples=20, seed=rng)
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(first, csoftmax.sample(x, num_samples=20, seed=0))
    # return_logprobs does not change the draws
    np.testing.assert_array_equal(
        first, csoftmax.sample(x, num_samples=20, seed=0, return_logprobs=True)[0])


def test_batch_shapes_and_axis():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, 4, 50))
    flat = csoftmax.sample(x.reshape(12, 50), num_samples=3, top_p=0.8, seed=9)
    np.testing.assert_array_equal(csoftmax.sample(x, num_samples=3, top_p=0.8, seed=9),
                                  flat.reshape(3, 4, 3))
    # tokens on axis 0 (and on a middle axis): the batch is the other axes, C order
    for transposed in (x.reshape(12, 50).T, np.ascontiguousarray(x.reshape(12, 50).T)):
        np.testing.assert_array_equal(
            csoftmax.sample(transposed, axis=0, num_samples=3, top_p=0.8, seed=9), flat)
    mid = np.ascontiguousarray(np.moveaxis(x, 2, 1))
    np.testing.assert_array_equal(csoftmax.sample(mid, axis=1, num_samples=3, top_p=0.8,
                                                  seed=9), flat.reshape(3, 4, 3))
    # per-row parameters over a (B, T) batch
    t = rng.uniform(0.5, 2, size=(3, 4))
    got = csoftmax.sample(x, temperature=t, top_k=7, num_samples=50, seed=1)
    assert got.shape == (3, 4, 50)
    for i in range(3):
        for j in range(4):
            assert np.isin(got[i, j], kept_tokens(x[i, j], temperature=t[i, j], top_k=7)).all()


@pytest.mark.parametrize("make_view", [
    lambda a: a.T.copy().T,  # Fortran order
    lambda a: a[::-1],  # reversed rows
    lambda a: np.repeat(a, 2, axis=1)[:, ::2],  # strided tokens
    lambda a: np.repeat(a, 3, axis=0)[::3],  # strided rows
], ids=["fortran", "reversed_rows", "strided_tokens", "strided_rows"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_views_give_the_contiguous_result(make_view, dtype):
    x = _logits(rows=6, vocab=300, dtype=dtype)
    view = make_view(x)
    contiguous = np.ascontiguousarray(view)
    for filters in ({}, {"top_k": 20, "top_p": 0.9, "min_p": 0.01}, {"top_p": 0.7}):
        a = csoftmax.sample(view, num_samples=5, seed=4, return_logprobs=True, **filters)
        b = csoftmax.sample(contiguous, num_samples=5, seed=4, return_logprobs=True,
                            **filters)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
        np.testing.assert_array_equal(csoftmax.gumbel_softmax(view, 0.7, seed=4),
                                      csoftmax.gumbel_softmax(contiguous, 0.7, seed=4))
        v = csoftmax.top_logprobs(view, 7)
        c = csoftmax.top_logprobs(contiguous, 7)
        np.testing.assert_array_equal(v[0], c[0])
        np.testing.assert_array_equal(v[1], c[1])


def test_large_vocabulary_against_reference():
    x = _logits(rows=5, vocab=20000, seed=8)
    for filters in ({"top_p": 0.9}, {"temperature": 0.7, "top_k": 50, "top_p": 0.9},
                    {"min_p": 0.05}, {"top_p": 0.5, "temperature": 3.0}):
        for row in x:
            expected = kept_tokens(row, **filters)
            idx = csoftmax.sample(row, num_samples=expected.size, replacement=False, seed=0,
                                  **filters)
            np.testing.assert_array_equal(np.sort(idx), expected)


def test_empty_batch_and_dtypes():
    assert csoftmax.sample(np.zeros((0, 5)), num_samples=2).shape == (0, 2)
    assert csoftmax.sample(np.zeros(5, np.float16), seed=0).shape == (1,)
    assert csoftmax.sample([0, 1, 2], seed=0).dtype == np.int64
    idx, lp = csoftmax.sample(np.zeros((2, 5), np.float32), return_logprobs=True, seed=0)
    assert lp.dtype == np.float32
    np.testing.assert_allclose(lp, np.log(0.2), rtol=1e-6)


@pytest.mark.parametrize("kwargs, match", [
    ({"top_p": 0.0}, "top_p must be in"),
    ({"top_p": 1.5}, "top_p must be in"),
    ({"top_p": np.array([0.5, 0.5, 0.5, 0.5, 2.0])}, "top_p must be in"),
    ({"top_k": 0}, "top_k must be >= 1"),
    ({"top_k": np.array([1, 2, 0, 1, 1])}, "top_k must be >= 1"),
    ({"min_p": -0.1}, "min_p must be in"),
    ({"min_p": 1.1}, "min_p must be in"),
    ({"temperature": 0.0}, "temperature must be"),
    ({"temperature": np.nan}, "temperature must be"),
    ({"temperature": np.array([1.0, 1.0, -1.0, 1.0, 1.0])}, "temperature must be"),
    ({"temperature": np.array([1.0, np.nan, 1.0, 1.0, 1.0])}, "temperature must be"),
    ({"num_samples": 0}, "num_samples must be >= 1"),
    ({"num_samples": 41, "replacement": False}, "distinct tokens requested"),
    ({"num_samples": 4, "replacement": False, "top_k": 3}, "keeps only 3"),
    ({"num_samples": 3, "replacement": False, "top_p": 0.01}, "keeps only"),
    ({"temperature": np.ones(3)}, r"shape \(3,\) does not broadcast to the batch shape \(5,\)"),
])
def test_bad_arguments_raise_value_error(kwargs, match):
    x = _logits()
    with pytest.raises(ValueError, match=match):
        csoftmax.sample(x, **kwargs)


def test_bad_types_and_rows():
    with pytest.raises(TypeError, match="top_k must be an integer"):
        csoftmax.sample(np.zeros(3), top_k=2.5)
    with pytest.raises(TypeError, match="seed"):
        csoftmax.sample(np.zeros(3), seed="x")
    with pytest.raises(ValueError, match="at least one dimension"):
        csoftmax.sample(np.float64(1.0))
    with pytest.raises(ValueError, match="every logit -inf"):
        csoftmax.sample(np.array([[0.0, 1.0], [-np.inf, -np.inf]]))
    with pytest.raises(ValueError, match="nan"):
        csoftmax.sample(np.array([0.0, np.nan]))
    with pytest.raises(ValueError, match="no tokens"):
        csoftmax.sample(np.zeros((2, 0)))


def _log_softmax(x, axis=-1):
    x = np.asarray(x, np.float64)
    m = np.max(x, axis=axis, keepdims=True)
    return x - m - np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_top_logprobs_against_sorted_log_softmax(dtype, isa):
    x = _logits(rows=7, vocab=5000, seed=3, dtype=dtype)
    for k, t in ((1, 1.0), (10, 0.7), (300, 2.0)):
        values, indices = csoftmax.top_logprobs(x, k, temperature=t)
        ref = _log_softmax(x.astype(np.float64) / t)
        expected = -np.sort(-ref, axis=-1)[:, :k]
        tol = 1e-12 if dtype == np.float64 else 3e-6
        np.testing.assert_allclose(values, expected, rtol=tol, atol=tol)
        np.testing.assert_allclose(np.take_along_axis(ref, indices, -1), values, rtol=tol,
                                   atol=tol)
        assert (np.diff(values, axis=-1) <= 0).all()
    values, indices = csoftmax.top_logprobs(np.array([1.0, 3.0, 3.0, 0.0]), 3)
    np.testing.assert_array_equal(indices, [1, 2, 0])  # ties by increasing index
    # batch shapes and axis
    y = x.reshape(7, 50, 100)
    v, i = csoftmax.top_logprobs(y, 4, axis=1)
    v2, i2 = csoftmax.top_logprobs(np.moveaxis(y, 1, -1), 4)
    np.testing.assert_array_equal(v, v2)
    np.testing.assert_array_equal(i, i2)
    with pytest.raises(ValueError, match="exceeds"):
        csoftmax.top_logprobs(x, 5001)
    with pytest.raises(ValueError, match="temperature"):
        csoftmax.top_logprobs(x, 3, temperature=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gumbel_softmax_is_softmax_of_noisy_logits(dtype):
    x = _logits(rows=4, vocab=30, dtype=dtype)
    x[2, ::3] = 0.0  # finite logits here
    g = _noisy_logits(np.zeros_like(x), 1.0, -1, 11, None)
    # the noise looks Gumbel(0, 1): mean 0.5772, variance pi^2 / 6
    big = _noisy_logits(np.zeros((1000, 100)), 1.0, -1, 0, None)
    assert abs(big.mean() - 0.5772) < 0.01 and abs(big.var() - np.pi ** 2 / 6) < 0.05
    for tau in (1.0, 0.5, 3.0):
        # the same seed gives the same noise for any tau
        np.testing.assert_allclose(_noisy_logits(np.zeros_like(x), tau, -1, 11, None) * tau,
                                   g, rtol=1e-6)
        y = csoftmax.gumbel_softmax(x, tau, seed=11)
        assert y.dtype == dtype
        z = (x.astype(np.float64) + g) / tau
        expected = np.exp(_log_softmax(z))
        np.testing.assert_allclose(y, expected, rtol=1e-5 if dtype == np.float32 else 1e-12,
                                   atol=1e-7)
        hard = csoftmax.gumbel_softmax(x, tau, hard=True, seed=11)
        np.testing.assert_array_equal(hard, np.eye(30, dtype=dtype)[np.argmax(z, axis=-1)])
    one = csoftmax.gumbel_softmax(x, seed=3, num_threads=1)
    np.testing.assert_array_equal(one, csoftmax.gumbel_softmax(x, seed=3, num_threads=2))
    np.testing.assert_allclose(csoftmax.gumbel_softmax(x.T, seed=3, axis=0), one.T, rtol=1e-6)
    with pytest.raises(ValueError, match="tau"):
        csoftmax.gumbel_softmax(x, 0.0)


@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: repr(f))
def test_kept_set_matches_transformers_warpers(filters):
    torch = pytest.importorskip("torch")
    logits_process = pytest.importorskip("transformers.generation.logits_process")
    warpers = []
    if "temperature" in filters:
        warpers.append(logits_process.TemperatureLogitsWarper(filters["temperature"]))
    if "top_k" in filters:
        warpers.append(logits_process.TopKLogitsWarper(filters["top_k"]))
    if "top_p" in filters:
        warpers.append(logits_process.TopPLogitsWarper(filters["top_p"]))
    if "min_p" in filters:
        warpers.append(logits_process.MinPLogitsWarper(filters["min_p"]))
    x = _logits(rows=8, vocab=200, seed=4)[[0, 2, 4, 5, 6, 7]]  # rows without tied logits
    scores = torch.from_numpy(x.copy())
    for warper in warpers:
        scores = warper(None, scores)
    kept = torch.isfinite(scores).numpy()
    for row, expected in zip(x, kept):
        idx = csoftmax.sample(row, num_samples=int(expected.sum()), replacement=False, seed=0,
                              **filters)
        np.testing.assert_array_equal(np.sort(idx), np.flatnonzero(expected))
