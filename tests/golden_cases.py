"""The golden cases: every public function called on fixed arrays, for
tests/test_golden.py. Each case returns the arrays it produced; their hashes
are stored per ISA level in tests/golden_hashes.json.

Regenerate the hashes after a change that is meant to alter output bits
(say so in the commit message), from the repository root:

    python tests/test_golden.py --write
"""
import numpy as np

import csoftmax
import csoftmax.special
import csoftmax.vocab


def _logits(shape, dtype, seed):
    """Normal values of scale 3 with a few -inf and large entries."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * 3
    flat = x.reshape(-1)
    if flat.size >= 40:
        flat[rng.integers(0, flat.size, flat.size // 40)] = -np.inf
        flat[rng.integers(0, flat.size, flat.size // 40)] *= 20
    return x.astype(dtype)


def _labels(n, classes, seed, ignore=True):
    rng = np.random.default_rng(seed)
    target = rng.integers(0, classes, n)
    if ignore and n > 4:
        target[::7] = -100
    return target


def _probs(shape, dtype, seed):
    """Rows of probabilities, computed with NumPy: the inputs must not depend
    on the build under test."""
    x = _logits(shape, np.float64, seed)
    e = np.exp(x - np.max(x, axis=-1, keepdims=True))
    return (e / np.sum(e, axis=-1, keepdims=True)).astype(dtype)


# (name, shape, axis) of the normaliser inputs: short rows, rows of a few
# vectors, long rows, one row split over threads, column and middle axes
NORMALISER_SHAPES = [
    ("rows10", (300, 10), -1),
    ("rows37", (64, 37), -1),
    ("rows1000", (5, 1000), -1),
    ("huge_row", (1, 70000), -1),
    ("axis0", (50, 33), 0),
    ("middle", (4, 3, 50), 1),
    ("two_axes", (6, 7, 9), (0, 2)),
]
FLOATS = [np.float32, np.float64]


def normaliser_cases():
    for (label, shape, axis) in NORMALISER_SHAPES:
        for dtype in FLOATS:
            name = f"{label}_{np.dtype(dtype).name}"
            x = _logits(shape, dtype, 1)

            def run(x=x, axis=axis, shape=shape):
                mask = _logits(shape, np.float64, 2) > -1
                b = np.abs(np.random.default_rng(3).standard_normal(shape)).astype(x.dtype)
                return [
                    csoftmax.softmax(x, axis=axis),
                    csoftmax.log_softmax(x, axis=axis),
                    csoftmax.logsumexp(x, axis=axis),
                    csoftmax.softmax(x, axis=axis, temperature=2.5),
                    csoftmax.log_softmax(x, axis=axis, temperature=0.4),
                    csoftmax.softmax(x, axis=axis, where=mask),
                    csoftmax.log_softmax(x, axis=axis, where=mask),
                    csoftmax.logsumexp(x, axis=axis, where=mask),
                    *csoftmax.logsumexp(x, axis=axis, b=b - b.mean(), return_sign=True),
                    csoftmax.special.softmax(x, axis=axis),
                    csoftmax.special.log_softmax(x, axis=axis),
                    csoftmax.special.logsumexp(x, axis=axis, b=b),
                ]

            yield name, run
    yield "float16_softmax", lambda: [csoftmax.softmax(_logits((40, 100), np.float16, 4)),
                                      csoftmax.log_softmax(_logits((40, 100), np.float16, 4))]
    yield "dtype_float64", lambda: [csoftmax.softmax(_logits((40, 100), np.float32, 5),
                                                     dtype=np.float64)]
    yield "row_temperatures", lambda: [csoftmax.softmax(
        _logits((3, 50), np.float32, 6), temperature=np.array([0.5, 1.0, 3.0]))]


def _maybe(outputs):
    return list(outputs) if isinstance(outputs, tuple) else [outputs]


def loss_cases():
    for dtype in FLOATS:
        suffix = np.dtype(dtype).name
        for (label, shape) in [("c10", (200, 10)), ("c1000", (16, 1000)), ("c70000", (2, 70000))]:
            n, c = shape
            logits = _logits(shape, dtype, 10)
            logits[~np.isfinite(logits)] = -50  # losses need finite logits
            target = _labels(n, c, 11)
            weight = np.abs(_logits((c,), dtype, 12)) + 0.1
            probs = _probs(shape, dtype, 13)

            def run(logits=logits, target=target, weight=weight, probs=probs):
                return [
                    *csoftmax.cross_entropy(logits, target, return_grad=True),
                    *csoftmax.cross_entropy(logits, target, weight=weight, label_smoothing=0.1,
                                            reduction="none", return_grad=True),
                    *csoftmax.cross_entropy(logits, probs, reduction="sum", return_grad=True),
                    *csoftmax.cross_entropy(logits, target, z_loss=1e-3, softcap=30.0,
                                            return_grad=True),
                    *csoftmax.nll_loss(csoftmax.log_softmax(logits), target, weight=weight,
                                       return_grad=True),
                    *csoftmax.focal_loss(logits, target, gamma=2.0, return_grad=True),
                    csoftmax.entropy(logits),
                    *csoftmax.kl_div(csoftmax.log_softmax(logits), probs, return_grad=True),
                    *csoftmax.kl_div(csoftmax.log_softmax(logits), np.log(probs + 1e-30),
                                     log_target=True, reduction="none", return_grad=True),
                    csoftmax.softmax_backward(probs, csoftmax.softmax(logits)),
                    csoftmax.log_softmax_backward(probs, csoftmax.log_softmax(logits)),
                ]

            yield f"loss_{label}_{suffix}", run
        x = _logits((50, 20), dtype, 14)
        x[~np.isfinite(x)] = -30
        y = (_logits((50, 20), np.float64, 15) > 0).astype(dtype)
        pos = np.abs(_logits((20,), dtype, 16)) + 0.5

        def elementwise(x=x, y=y, pos=pos):
            return [
                *csoftmax.binary_cross_entropy_with_logits(x, y, pos_weight=pos, return_grad=True),
                *csoftmax.sigmoid_focal_loss(x, y, return_grad=True),
                csoftmax.sigmoid(x),
                csoftmax.log_sigmoid(x),
            ]

        yield f"elementwise_{suffix}", elementwise


def sparse_cases():
    for dtype in FLOATS:
        x = _logits((40, 30), dtype, 20)
        x[~np.isfinite(x)] = -40
        target = _labels(40, 30, 21)
        g = _logits((40, 30), dtype, 22)

        def run(x=x, target=target, g=g):
            p1, p2 = csoftmax.sparsemax(x), csoftmax.entmax15(x)
            p3 = csoftmax.entmax_bisect(x, alpha=1.3)
            return [
                p1, p2, p3, csoftmax.hardmax(x),
                csoftmax.sparsemax_backward(g, p1), csoftmax.entmax15_backward(g, p2),
                *_maybe(csoftmax.entmax_bisect_backward(g, p3, alpha=1.3, return_alpha_grad=True)),
                *csoftmax.sparsemax_loss(x, target, return_grad=True),
                *csoftmax.entmax15_loss(x, target, return_grad=True),
                *csoftmax.entmax_bisect_loss(x, target, alpha=1.7, return_grad=True),
            ]

        yield f"sparse_{np.dtype(dtype).name}", run


def segment_cases():
    for dtype in FLOATS:
        x = _logits((300, 3), dtype, 30)
        offsets = np.array([0, 5, 5, 60, 61, 200, 300])
        index = np.sort(np.random.default_rng(31).integers(0, 9, 300))
        g = _logits((300, 3), dtype, 32)

        def run(x=x, offsets=offsets, index=index, g=g):
            out = csoftmax.segment_softmax(x, offsets=offsets)
            return [
                out,
                csoftmax.segment_log_softmax(x, index=index, num_segments=9),
                csoftmax.segment_logsumexp(x, offsets=offsets),
                csoftmax.segment_softmax_backward(g, out, offsets=offsets),
                csoftmax.logcumsumexp(x, axis=0),
                csoftmax.logcumsumexp(x, axis=-1, reverse=True, exclusive=True),
            ]

        yield f"segments_{np.dtype(dtype).name}", run


def sampling_cases():
    for dtype in FLOATS:
        x = np.clip(_logits((20, 500), dtype, 40), -8, 8)  # min_p keeps several per row

        def run(x=x):
            return [
                *_maybe(csoftmax.sample(x, num_samples=3, temperature=0.8, top_k=50, top_p=0.9,
                                        seed=1, return_logprobs=True)),
                *_maybe(csoftmax.sample(x, min_p=0.05, replacement=False, num_samples=2, seed=2)),
                *_maybe(csoftmax.top_logprobs(x, 5, temperature=1.5)),
                csoftmax.gumbel_softmax(x, tau=0.7, seed=3),
                csoftmax.gumbel_softmax(x, hard=True, seed=4),
            ]

        yield f"sampling_{np.dtype(dtype).name}", run


def model_cases():
    for dtype in FLOATS:
        rng = np.random.default_rng(50)
        hidden = rng.standard_normal((24, 16)).astype(dtype)
        weight = (rng.standard_normal((300, 16)) * 0.3).astype(dtype)
        bias = (rng.standard_normal(300) * 0.1).astype(dtype)
        target = _labels(24, 300, 51)

        def run(hidden=hidden, weight=weight, bias=bias, target=target):
            negatives = np.random.default_rng(52).integers(0, 300, (24, 5))
            positive = np.where(target < 0, 0, target)
            hs = csoftmax.vocab.HierarchicalSoftmax(np.arange(1, 301), 16, seed=0,
                                                    dtype=hidden.dtype)
            ad = csoftmax.vocab.AdaptiveSoftmax(16, 300, [20, 100], seed=0, dtype=hidden.dtype)
            return [
                *csoftmax.linear_cross_entropy(hidden, weight, target, bias, return_lse=True,
                                               return_grad=True),
                *csoftmax.linear_cross_entropy(hidden, weight, target, label_smoothing=0.1,
                                               z_loss=1e-4, softcap=20.0, reduction="none",
                                               return_grad=True, chunk_size=64),
                *_maybe(csoftmax.vocab.sampled_softmax_loss(hidden, weight, bias, positive, 20,
                                                            seed=5, return_grad=True)),
                *_maybe(csoftmax.vocab.negative_sampling_loss(hidden, weight, positive, negatives,
                                                              return_grad=True)),
                *_maybe(hs.loss(hidden, positive, return_grad=True)),
                hs.log_prob(hidden, positive), hs.log_proba(hidden[:4]),
                *_maybe(ad.loss(hidden, positive, return_grad=True)),
                ad.log_prob(hidden, positive), ad.log_proba(hidden[:4]),
            ]

        yield f"models_{np.dtype(dtype).name}", run


def all_cases():
    """(name, callable returning a list of outputs) of every golden case."""
    for family in (normaliser_cases, loss_cases, sparse_cases, segment_cases, sampling_cases,
                   model_cases):
        yield from family()
