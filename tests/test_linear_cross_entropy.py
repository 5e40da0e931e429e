"""Fused linear cross-entropy (csoftmax.linear_cross_entropy) and the z_loss=
and softcap= keywords of cross_entropy: PyTorch float64 autograd parity,
finite differences, tilings that do not divide the rows, thread-count
invariance, views, reductions, empty batches and error cases."""

import numpy as np
import pytest

import csoftmax

DTYPES = (np.float64, np.float32)


def _problem(rng, shape, D, V, dtype, ignored=0.2, bias=True, scale=1.0):
    hidden = (rng.standard_normal(shape + (D,)) * scale).astype(dtype)
    weight = (rng.standard_normal((V, D)) / np.sqrt(D) * 3).astype(dtype)
    b = rng.standard_normal(V).astype(dtype) if bias else None
    target = rng.integers(0, V, shape)
    target[rng.random(shape) < ignored] = -100
    return hidden, weight, target, b


def _torch_reference(hidden, weight, target, bias, *, ignore_index=-100, label_smoothing=0.0,
                     z_loss=0.0, softcap=None, reduction="mean"):
    """loss, lse and (d_hidden, d_weight, d_bias) by PyTorch float64 autograd of
    F.linear, the soft-cap, F.cross_entropy and the z-loss."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    h = torch.tensor(np.asarray(hidden, np.float64), requires_grad=True)
    w = torch.tensor(np.asarray(weight, np.float64), requires_grad=True)
    b = None if bias is None else torch.tensor(np.asarray(bias, np.float64), requires_grad=True)
    y = torch.tensor(target)
    logits = F.linear(h, w, b)
    if softcap is not None:
        logits = softcap * torch.tanh(logits / softcap)
    lse = torch.logsumexp(logits, -1)
    V = weight.shape[0]
    ce = F.cross_entropy(logits.reshape(-1, V), y.reshape(-1), ignore_index=ignore_index,
                         label_smoothing=label_smoothing, reduction="none").reshape(y.shape)
    kept = y != ignore_index
    per_row = ce + z_loss * lse ** 2 * kept
    if reduction == "mean":
        loss = per_row.sum() / kept.sum()
    elif reduction == "sum":
        loss = per_row.sum()
    else:
        loss = per_row
    loss.sum().backward()
    grads = (h.grad.numpy(), w.grad.numpy(), None if b is None else b.grad.numpy())
    return loss.detach().numpy(), lse.detach().numpy(), grads


def _close(actual, expected, dtype):
    """float64 to 1e-11, float32 within 1e-5 of the reference's largest entry."""
    actual = np.asarray(actual)
    assert actual.dtype == dtype
    expected = np.asarray(expected, np.float64)
    assert actual.shape == expected.shape
    scale = max(float(np.max(np.abs(expected), initial=0.0)), 1e-300)
    rtol = 1e-11 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(actual.astype(np.float64), expected, rtol=rtol, atol=rtol * scale)


OPTIONS = [
    dict(),
    dict(label_smoothing=0.1),
    dict(z_loss=1e-3, softcap=4.0),
    dict(label_smoothing=0.2, z_loss=0.05, softcap=2.5, reduction="sum"),
    dict(softcap=3.0, reduction="none"),
    dict(z_loss=0.01, reduction="none", ignore_index=3),
]


@pytest.fixture(params=["rows", "vocabulary"])
def chunked(request, monkeypatch):
    """Which axis linear_cross_entropy tiles: its own choice for these small
    problems (rows), or the vocabulary, forced (chunk_size then counts columns)."""
    if request.param == "vocabulary":
        monkeypatch.setattr(csoftmax._linear_ce, "_MIN_TILE_ROWS", 1 << 40)
        monkeypatch.setattr(csoftmax._linear_ce, "_VOCABULARY_PER_FEATURE", 0)
    return request.param


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scale", [30.0, 300.0])
def test_large_logits_match_torch_autograd(dtype, scale, chunked):
    """Logits in the hundreds: most probabilities underflow and the exps of the
    gradient are taken far from 0 (its shift from the row's log-sum-exp)."""
    rng = np.random.default_rng(11)
    hidden, weight, target, b = _problem(rng, (29,), 9, 41, dtype, scale=scale)
    options = dict(label_smoothing=0.1, z_loss=1e-4)
    loss, lse, grads = csoftmax.linear_cross_entropy(
        hidden, weight, target, b, return_lse=True, return_grad=True, chunk_size=6, **options)
    ref_loss, ref_lse, ref_grads = _torch_reference(hidden, weight, target, b, **options)
    _close(loss, ref_loss, dtype)
    _close(lse, ref_lse, dtype)
    for g, ref in zip(grads, ref_grads):
        _close(g, ref, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: ",".join(f"{k}={v}" for k, v in
                                                                     o.items()) or "plain")
@pytest.mark.parametrize("bias", [True, False])
def test_matches_torch_autograd(dtype, options, bias, chunked):
    rng = np.random.default_rng(1)
    hidden, weight, target, b = _problem(rng, (37,), 11, 53, dtype, bias=bias)
    if options.get("ignore_index") == 3:
        target[target == -100] = 3
    loss, lse, (dh, dw, db) = csoftmax.linear_cross_entropy(
        hidden, weight, target, b, return_lse=True, return_grad=True, chunk_size=5, **options)
    ref_loss, ref_lse, (rdh, rdw, rdb) = _torch_reference(hidden, weight, target, b, **options)
    _close(loss, ref_loss, dtype)
    _close(lse, ref_lse, dtype)
    _close(dh, rdh, dtype)
    _close(dw, rdw, dtype)
    if bias:
        _close(db, rdb, dtype)
    else:
        assert db is None


def test_finite_differences(chunked):
    rng = np.random.default_rng(2)
    hidden, weight, target, b = _problem(rng, (6,), 4, 9, np.float64)
    options = dict(label_smoothing=0.1, z_loss=0.02, softcap=2.0, chunk_size=4)
    _, (dh, dw, db) = csoftmax.linear_cross_entropy(hidden, weight, target, b, return_grad=True,
                                                     **options)
    step = 1e-6
    for array, grad in ((hidden, dh), (weight, dw), (b, db)):
        for index in np.ndindex(array.shape):
            saved = array[index]
            array[index] = saved + step
            up = csoftmax.linear_cross_entropy(hidden, weight, target, b, **options)
            array[index] = saved - step
            down = csoftmax.linear_cross_entropy(hidden, weight, target, b, **options)
            array[index] = saved
            assert abs((up - down) / (2 * step) - grad[index]) < 1e-7


@pytest.mark.parametrize("dtype", DTYPES)
def test_chunk_sizes_agree_within_rounding(dtype, chunked):
    rng = np.random.default_rng(3)
    hidden, weight, target, b = _problem(rng, (29,), 8, 61, dtype)
    results = [csoftmax.linear_cross_entropy(hidden, weight, target, b, z_loss=1e-3,
                                             return_lse=True, return_grad=True, chunk_size=c)
               for c in (None, 1, 4, 7, 29, 100)]
    rtol = 1e-13 if dtype == np.float64 else 1e-5
    first = results[0]
    for other in results[1:]:
        np.testing.assert_allclose(other[0], first[0], rtol=rtol)
        np.testing.assert_allclose(other[1], first[1], rtol=rtol)
        for g, g0 in zip(other[2], first[2]):
            np.testing.assert_allclose(g, g0, rtol=rtol, atol=rtol * np.max(np.abs(g0)))


@pytest.mark.parametrize("dtype", DTYPES)
def test_bits_independent_of_num_threads(dtype, chunked):
    rng = np.random.default_rng(4)
    hidden, weight, target, b = _problem(rng, (300,), 16, 700, dtype)
    runs = [csoftmax.linear_cross_entropy(hidden, weight, target, b, label_smoothing=0.1,
                                          z_loss=1e-3, softcap=5.0, return_lse=True,
                                          return_grad=True, chunk_size=64, num_threads=t)
            for t in (1, 2, 3)]
    for other in runs[1:]:
        assert other[0].tobytes() == runs[0][0].tobytes()
        np.testing.assert_array_equal(other[1], runs[0][1])
        for g, g0 in zip(other[2], runs[0][2]):
            np.testing.assert_array_equal(g, g0)


def test_bits_independent_of_blas_threads_and_pieces():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    rng = np.random.default_rng(5)
    hidden, weight, target, b = _problem(rng, (256,), 130, 9000, np.float32)  # several slabs
    runs = []
    for limit, threads in ((1, 1), (2, 2), (2, 3)):
        with threadpoolctl.threadpool_limits(limit, user_api="blas"):
            runs.append(csoftmax.linear_cross_entropy(hidden, weight, target, b,
                                                      return_grad=True, chunk_size=100,
                                                      num_threads=threads))
    assert runs[0][0].tobytes() == runs[2][0].tobytes()
    for g, g0 in zip(runs[2][1], runs[0][1]):
        np.testing.assert_array_equal(g, g0)
    assert runs[0][0].tobytes() == runs[1][0].tobytes()
    for g, g0 in zip(runs[1][1], runs[0][1]):
        np.testing.assert_array_equal(g, g0)


@pytest.mark.parametrize("machine_threads", [1, 2, 16, 64])
@pytest.mark.parametrize("shape", [(4096, 512, 32000), (1024, 256, 128256), (8192, 4096, 128256)])
def test_plan_keeps_extra_memory_within_budget(monkeypatch, machine_threads, shape):
    """The default cut of the benchmark shapes (and a larger model): the tile
    and every scratch set under way within 4% of the logits, whatever the
    machine's thread count (each thread's own BLAS buffers and stack besides)."""
    from csoftmax import _linear_ce

    monkeypatch.setattr(_linear_ce, "_machine_threads", lambda: machine_threads)
    rows, features, vocabulary = shape
    plan = _linear_ce._Plan(rows, vocabulary, features, 4, None)
    if plan.by_vocabulary:
        tile, per_set = rows * plan.columns, rows * features
    else:
        tile = plan.tile_rows * vocabulary
        per_set = (plan.tile_rows + plan.d_weight_rows) * features
    assert tile + plan.sets * per_set <= rows * vocabulary * 0.04
    assert 1 <= plan.sets <= machine_threads + 1
    assert plan.tile_rows >= 1 and (not plan.by_vocabulary or plan.columns >= 1)


def test_pieces_yield_in_order_and_never_share_scratch():
    """_Pieces: results in the order of the starts, however the pieces finish,
    and no scratch set held by two pieces at once (nor reused before its
    result is taken)."""
    import threading
    import time

    from csoftmax import _linear_ce

    held, lock = set(), threading.Lock()

    def piece(start, scratch):
        with lock:
            assert id(scratch) not in held
            held.add(id(scratch))
        time.sleep((start * 7 % 5) * 1e-3)
        scratch["last"] = start
        with lock:
            held.discard(id(scratch))
        return start, scratch

    for threads, sets in ((1, 1), (3, 4), (4, 2)):
        pieces = _linear_ce._Pieces(threads, sets, 1, np.float32)
        try:
            taken = []
            for start, scratch in pieces.run(piece, range(23)):
                assert scratch["last"] == start  # not overwritten before it is taken
                taken.append(start)
            assert taken == list(range(23))
        finally:
            pieces.close()


def test_leading_shape_and_views():
    rng = np.random.default_rng(6)
    hidden, weight, target, b = _problem(rng, (3, 5), 7, 19, np.float64)
    loss, lse, (dh, dw, db) = csoftmax.linear_cross_entropy(
        hidden, weight, target, b, reduction="none", return_lse=True, return_grad=True)
    assert loss.shape == lse.shape == (3, 5) and dh.shape == (3, 5, 7)
    flat = csoftmax.linear_cross_entropy(hidden.reshape(15, 7), weight, target.reshape(15), b,
                                         reduction="none", return_lse=True, return_grad=True)
    np.testing.assert_array_equal(flat[0], loss.reshape(15))
    np.testing.assert_array_equal(flat[2][0], dh.reshape(15, 7))
    # transposed, Fortran, strided and reversed views give the contiguous bits
    hidden_t = np.asfortranarray(hidden)
    weight_f = np.asfortranarray(weight)
    bias_strided = np.repeat(b, 2)[::2]
    hidden_reversed = hidden[::-1, ::-1].copy()[::-1, ::-1]
    for h_view, w_view, b_view in ((hidden_t, weight_f, bias_strided),
                                   (hidden_reversed, weight[::-1].copy()[::-1], b)):
        view = csoftmax.linear_cross_entropy(h_view, w_view, target, b_view, reduction="none",
                                             return_lse=True, return_grad=True)
        np.testing.assert_array_equal(view[0], loss)
        np.testing.assert_array_equal(view[1], lse)
        for g, g0 in zip(view[2], (dh, dw, db)):
            np.testing.assert_array_equal(g, g0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_reductions_and_matches_unfused(dtype, chunked):
    rng = np.random.default_rng(7)
    hidden, weight, target, b = _problem(rng, (40,), 6, 30, dtype)
    kept = target != -100
    none = csoftmax.linear_cross_entropy(hidden, weight, target, b, reduction="none")
    total = csoftmax.linear_cross_entropy(hidden, weight, target, b, reduction="sum")
    mean = csoftmax.linear_cross_entropy(hidden, weight, target, b)
    assert none.dtype == total.dtype == mean.dtype == dtype
    assert np.all(none[~kept] == 0)
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(np.sum(none, dtype=np.float64), total, rtol=rtol)
    np.testing.assert_allclose(total / kept.sum(), mean, rtol=rtol)
    logits = hidden @ weight.T + b
    unfused, d_logits = csoftmax.cross_entropy(logits, target, return_grad=True)
    fused, (dh, dw, db) = csoftmax.linear_cross_entropy(hidden, weight, target, b,
                                                        return_grad=True)
    np.testing.assert_allclose(fused, unfused, rtol=rtol)
    for g, g0 in ((dh, d_logits @ weight), (dw, d_logits.T @ hidden), (db, d_logits.sum(0))):
        np.testing.assert_allclose(g, g0, rtol=rtol, atol=rtol * np.max(np.abs(g0)))


def test_empty_batch_and_all_ignored(chunked):
    rng = np.random.default_rng(8)
    _, weight, _, b = _problem(rng, (1,), 4, 6, np.float64)
    hidden = np.zeros((0, 4))
    target = np.zeros(0, np.int64)
    assert np.isnan(csoftmax.linear_cross_entropy(hidden, weight, target, b))
    loss, lse, (dh, dw, db) = csoftmax.linear_cross_entropy(
        hidden, weight, target, b, reduction="sum", return_lse=True, return_grad=True)
    assert loss == 0 and lse.shape == (0,) and dh.shape == (0, 4)
    assert not dw.any() and not db.any()
    hidden = rng.standard_normal((3, 4))
    loss, (dh, dw, db) = csoftmax.linear_cross_entropy(hidden, weight, np.full(3, -100), b,
                                                       return_grad=True)
    assert np.isnan(loss) and not dh.any() and not dw.any() and not db.any()


def test_bad_input_raises_before_work():
    rng = np.random.default_rng(9)
    hidden, weight, target, b = _problem(rng, (5,), 4, 6, np.float64)
    with pytest.raises(ValueError, match=r"\(5, 3\).*\(6, 4\)"):
        csoftmax.linear_cross_entropy(hidden[:, :3], weight, target)
    with pytest.raises(ValueError, match=r"\(5,\).*\(6, 4\)"):
        csoftmax.linear_cross_entropy(hidden, weight, target, b[:5])
    with pytest.raises(ValueError, match=r"\(4,\).*\(5, 4\)"):
        csoftmax.linear_cross_entropy(hidden, weight, target[:4])
    with pytest.raises(ValueError, match="weight must have shape"):
        csoftmax.linear_cross_entropy(hidden, weight[None], target)
    bad = target.copy()
    bad[2] = 6
    with pytest.raises(IndexError, match="target 6 at position \\(2,\\)"):
        csoftmax.linear_cross_entropy(hidden, weight, bad)
    with pytest.raises(TypeError, match="integer dtype"):
        csoftmax.linear_cross_entropy(hidden, weight, target.astype(float))
    for options, match in ((dict(label_smoothing=1.5), "label_smoothing"),
                           (dict(z_loss=-1.0), "z_loss"), (dict(z_loss=np.nan), "z_loss"),
                           (dict(softcap=0.0), "softcap"), (dict(softcap=-2.0), "softcap"),
                           (dict(reduction="avg"), "reduction"), (dict(chunk_size=0), "chunk_size")):
        with pytest.raises(ValueError, match=match):
            csoftmax.linear_cross_entropy(hidden, weight, target, **options)
        if "chunk_size" not in options:
            with pytest.raises(ValueError, match=match):
                csoftmax.cross_entropy(hidden @ weight.T, target, **options)


# ---------------------------------------------------------------- cross_entropy's keywords

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("options", OPTIONS[1:], ids=lambda o: ",".join(f"{k}={v}" for k, v in
                                                                        o.items()))
def test_cross_entropy_keywords_match_torch(dtype, options):
    rng = np.random.default_rng(10)
    hidden, weight, target, _ = _problem(rng, (23,), 9, 17, dtype, bias=False)
    if options.get("ignore_index") == 3:
        target[target == -100] = 3
    logits = (hidden.astype(np.float64) @ weight.T.astype(np.float64)).astype(dtype)
    identity = np.eye(17, dtype=dtype)
    loss, grad = csoftmax.cross_entropy(logits, target, return_grad=True, **options)
    ref_loss, _, (ref_grad, _, _) = _torch_reference(logits, identity, target, None, **options)
    _close(loss, ref_loss, dtype)
    _close(grad, ref_grad, dtype)
    if "z_loss" not in options and "softcap" not in options:
        return
    # the class axis first (PyTorch's (N, C, d) layout): gathered rows, the same bits
    loss_t, grad_t = csoftmax.cross_entropy(logits.T.copy()[None], target[None], axis=1,
                                            return_grad=True, **options)
    np.testing.assert_array_equal(np.asarray(loss_t).reshape(np.shape(loss)), loss)
    np.testing.assert_array_equal(grad_t[0].T, grad)


def test_cross_entropy_keywords_probability_targets():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    logits = rng.standard_normal((12, 7)) * 3
    probs = rng.dirichlet(np.ones(7), 12)
    loss, grad = csoftmax.cross_entropy(logits, probs, z_loss=0.01, softcap=2.0,
                                        label_smoothing=0.1, return_grad=True)
    x = torch.tensor(logits, requires_grad=True)
    capped = 2.0 * torch.tanh(x / 2.0)
    lse = torch.logsumexp(capped, -1)
    ref = (torch.nn.functional.cross_entropy(capped, torch.tensor(probs), label_smoothing=0.1)
           + 0.01 * (lse ** 2).mean())
    ref.backward()
    np.testing.assert_allclose(loss, ref.item(), rtol=1e-12)
    np.testing.assert_allclose(grad, x.grad.numpy(), rtol=1e-11, atol=1e-14)


def test_cross_entropy_keywords_leave_logits_and_defaults_alone():
    rng = np.random.default_rng(12)
    logits = rng.standard_normal((5, 6000))  # several capped blocks
    saved = logits.copy()
    target = rng.integers(0, 6000, 5)
    capped = csoftmax.cross_entropy(logits, target, softcap=1.5, reduction="none")
    np.testing.assert_array_equal(logits, saved)
    np.testing.assert_allclose(
        capped, csoftmax.cross_entropy(1.5 * np.tanh(logits / 1.5), target, reduction="none"),
        rtol=1e-13)
    np.testing.assert_array_equal(csoftmax.cross_entropy(logits, target, z_loss=0.0),
                                  csoftmax.cross_entropy(logits, target))
