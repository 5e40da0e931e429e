"""Sampled softmax (TensorFlow's tf.nn.sampled_softmax_loss) and word2vec's
negative-sampling loss, with their gradients w.r.t. the hidden states and
the few output-layer rows a step touches.

Both gather the rows they need, form a small (batch, 1 + samples) logit
matrix with BLAS, and hand it to the library's compiled loss kernels
(cross_entropy / binary_cross_entropy_with_logits with return_grad=True),
which give the loss and the logit gradient in one pass; the gradient then
flows back through the gathered rows with BLAS again.

Sparse gradients are (indices, rows): the distinct class ids a step touched,
sorted, and the gradient summed over every use of each id by a compiled
kernel (csoftmax._core.segment_rows: float64 sums in a fixed order, so
results are deterministic).
"""
import operator

import numpy as np

from .. import _core
from .._dtypes import compute_dtype
from .._elementwise_losses import binary_cross_entropy_with_logits
from .._softmax_losses import cross_entropy
from .._validate import check_reduction, float_input
from ._samplers import SAMPLERS, class_probability, expected_count, sample_candidates

__all__ = ["sampled_softmax_loss", "negative_sampling_loss"]


# ---------------------------------------------------------------- validation

def _float_operands(**named):
    """The float arrays (hidden, weight, bias, ...) in one compute dtype, and
    the result dtype: float32/float64 as given (mixed: the wider), float16 and
    bfloat16 computed in float32, bool/int as float64."""
    converted, rdtypes = [], []
    for what, value in named.items():
        array, rdtype = float_input(value, what)
        converted.append(array)
        rdtypes.append(rdtype)
    rdtype = np.result_type(*rdtypes)
    cdtype = compute_dtype(rdtype)
    return [a.astype(cdtype, copy=False) for a in converted] + [rdtype]


def _check_layer(hidden, weight):
    if hidden.ndim != 2:
        raise ValueError(f"hidden must be 2-D (batch, dim), got shape {hidden.shape}")
    if weight.ndim != 2 or weight.shape[1] != hidden.shape[1]:
        raise ValueError(f"weight must have shape (num_classes, {hidden.shape[1]}) to match "
                         f"hidden {hidden.shape}, got shape {weight.shape}")
    if weight.shape[0] == 0:
        raise ValueError("weight has no rows: there must be at least one class")


def _class_ids(value, what, shape, num_classes):
    """Integer class ids of `shape`, int64; IndexError naming the first id
    outside [0, num_classes) and its position."""
    ids = np.asarray(value)
    if ids.dtype.kind not in "iu":
        raise TypeError(f"{what} must hold integer class ids, got dtype {ids.dtype}")
    if ids.shape != shape:
        raise ValueError(f"{what} has shape {ids.shape}, expected {shape}")
    bad = (ids < 0) | (ids >= num_classes)
    if bad.any():
        position = tuple(int(i) for i in np.unravel_index(np.flatnonzero(bad)[0], shape))
        raise IndexError(f"{what} {ids[position]} at position {position} is out of range "
                         f"for {num_classes} classes (valid: 0 to {num_classes - 1})")
    return ids.astype(np.int64, copy=False)


def _check_num_sampled(num_sampled, num_classes, unique):
    try:
        count = operator.index(num_sampled)
    except TypeError:
        raise TypeError(f"num_sampled must be an integer, got {num_sampled!r}") from None
    if count < 1 or (unique and count > num_classes):
        limit = f"at most {num_classes} (the number of classes) when unique" if unique else ""
        raise ValueError(f"num_sampled must be at least 1{' and ' + limit if limit else ''}, "
                         f"got {count}")
    return count


def _in_dtype(loss, rdtype):
    """A reduced loss as a NumPy scalar of rdtype, per-example losses as an array."""
    return loss.astype(rdtype) if np.ndim(loss) else rdtype.type(loss)


# ---------------------------------------------------------------- sparse gradients

def _sparse_rows(ids, coef, source_row, source):
    """A sparse gradient (indices, rows): the distinct ids, sorted, and
    rows[i] = sum of coef[j] * source[source_row[j]] over the j with
    ids[j] == indices[i], summed in float64 and in order of j by the compiled
    kernel (deterministic). Also the index of each id in `indices`."""
    order = np.argsort(ids, kind="stable")
    ordered = ids[order]
    first = np.empty(ordered.size, bool)
    first[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    starts = np.append(np.flatnonzero(first), ordered.size)
    rows = np.empty((starts.size - 1, source.shape[1]), source.dtype)
    _core.segment_rows(rows, starts, order, np.ascontiguousarray(coef, dtype=source.dtype),
                       source_row.astype(np.int64, copy=False), source)
    slot = np.empty(ids.size, np.int64)
    slot[order] = np.cumsum(first) - 1
    return ordered[first], rows, slot


# ---------------------------------------------------------------- sampled softmax

def sampled_softmax_loss(hidden, weight, bias, target, num_sampled, *, sampler="log_uniform",
                         unique=True, remove_accidental_hits=True, seed=None, reduction="mean",
                         return_grad=False):
    """Sampled softmax loss, as tf.nn.sampled_softmax_loss with one true
    class per example (TensorFlow's num_true=1).

    `num_sampled` class ids are drawn once for the whole batch from
    `sampler`; each example's loss is the softmax cross-entropy of its true
    class against those samples, on the logits

        true:    hidden . weight[t] + bias[t] - log(expected_count(t))
        sampled: hidden . weight[s] + bias[s] - log(expected_count(s))

    (the log-Q correction that makes the loss a consistent estimate of the
    full softmax cross-entropy; expected counts as in csoftmax.vocab._samplers).
    With remove_accidental_hits a sampled id equal to the example's target
    gets the dtype's lowest finite logit, hence exactly zero probability and
    zero gradient. The loss is for training: it underestimates the full loss,
    more so for few samples.

    Parameters
    ----------
    hidden : array_like, (batch, dim)
    weight : array_like, (num_classes, dim)
    bias : array_like, (num_classes,)
    target : array_like of int, (batch,)
    num_sampled : int
        Candidates per batch; at most num_classes when unique.
    sampler : {'log_uniform', 'uniform'}
        'log_uniform' is Zipfian, P(k) = log((k + 2) / (k + 1)) / log(C + 1):
        class ids should be sorted by decreasing frequency.
    unique : bool, default True
        Draw distinct candidates (TensorFlow's default for this loss) or
        independent ones (with replacement).
    remove_accidental_hits : bool, default True
    seed : None, int, SeedSequence or numpy.random.Generator
        Passed to numpy.random.default_rng; a fixed seed draws the same
        candidates every call (a Generator is advanced).
    reduction : {'mean', 'sum', 'none'}
    return_grad : bool
        Also return (d_hidden, d_weight, d_bias), the gradient of the reduced
        loss (of loss.sum() for 'none'); d_weight = (indices, rows) and
        d_bias = (indices, values) cover the true and sampled classes only.

    Float32 and float64 are kept (mixed: the wider), float16 is computed in
    float32 and returned as float16, bool/int become float64.

    Examples
    --------
    >>> import numpy as np
    >>> from csoftmax.vocab import sampled_softmax_loss
    >>> rng = np.random.default_rng(0)
    >>> h, W, b = rng.normal(size=(4, 3)), rng.normal(size=(10, 3)), np.zeros(10)
    >>> loss, (dh, (rows, dW), (_, db)) = sampled_softmax_loss(
    ...     h, W, b, np.array([0, 1, 2, 1]), 5, seed=1, return_grad=True)
    >>> bool(loss > 0), dh.shape, dW.shape == (rows.size, 3), db.shape == rows.shape
    (True, (4, 3), True, True)

    With every class sampled uniformly the log-Q shifts are all equal and the
    loss is the full softmax cross-entropy:

    >>> import csoftmax
    >>> full = csoftmax.cross_entropy(h @ W.T + b, np.array([0, 1, 2, 1]))
    >>> bool(np.isclose(sampled_softmax_loss(h, W, b, np.array([0, 1, 2, 1]), 10,
    ...                                      sampler="uniform", seed=2), full))
    True
    """
    h, W, b, rdtype = _float_operands(hidden=hidden, weight=weight, bias=bias)
    _check_layer(h, W)
    num_classes = W.shape[0]
    if b.shape != (num_classes,):
        raise ValueError(f"bias must have shape ({num_classes},), got shape {b.shape}")
    labels = _class_ids(target, "target", (h.shape[0],), num_classes)
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {SAMPLERS}, got {sampler!r}")
    unique = bool(unique)
    count = _check_num_sampled(num_sampled, num_classes, unique)
    reduction = check_reduction(reduction)

    rng = np.random.default_rng(seed)
    sampled, sampled_count, num_tries = sample_candidates(sampler, count, num_classes, rng,
                                                          unique)
    true_count = expected_count(class_probability(sampler, labels, num_classes), count,
                                num_tries)
    w_true, w_sampled = W[labels], W[sampled]
    logits = np.empty((h.shape[0], 1 + count), h.dtype)
    logits[:, 0] = np.einsum("bd,bd->b", h, w_true)
    logits[:, 0] += (b[labels] - np.log(true_count)).astype(h.dtype)
    logits[:, 1:] = h @ w_sampled.T
    logits[:, 1:] += (b[sampled] - np.log(sampled_count)).astype(h.dtype)
    if remove_accidental_hits:
        logits[:, 1:][labels[:, None] == sampled[None, :]] = np.finfo(h.dtype).min

    # the true class is column 0 of every row
    result = cross_entropy(logits, np.zeros(h.shape[0], np.int64), reduction=reduction,
                           return_grad=return_grad)
    if not return_grad:
        return _in_dtype(result, rdtype)
    loss, grad = result
    g_true, g_sampled = grad[:, 0], grad[:, 1:]
    d_hidden = g_true[:, None] * w_true + g_sampled @ w_sampled
    batch = h.shape[0]
    # weight rows: each target row gets g_true * hidden, each sampled column
    # the BLAS product g_sampled.T @ hidden; ids used twice are summed
    sources = np.concatenate([h, g_sampled.T @ h])
    indices, d_rows, slot = _sparse_rows(
        np.concatenate([labels, sampled]), np.concatenate([g_true, np.ones(count, h.dtype)]),
        np.arange(batch + count), np.ascontiguousarray(sources))
    d_bias = np.bincount(slot, weights=np.concatenate([g_true, g_sampled.sum(axis=0)]),
                         minlength=indices.size)
    return _in_dtype(loss, rdtype), (d_hidden.astype(rdtype, copy=False),
                  (indices, d_rows.astype(rdtype, copy=False)),
                  (indices.copy(), d_bias.astype(rdtype)))


# ---------------------------------------------------------------- negative sampling

def negative_sampling_loss(hidden, weight, target, negatives, *, reduction="mean",
                           return_grad=False):
    """Skip-gram negative-sampling loss of word2vec (Mikolov et al., 2013):
    per example  -log s(w_t . h) - sum_k log s(-w_{n_k} . h),  s the sigmoid.

    The caller draws the negatives (word2vec uses unigram counts ** 0.75).
    There is no bias and no log-Q correction. Each term is a binary
    cross-entropy on a logit, computed by the exact compiled kernel (finite
    for logits of any size).

    Parameters
    ----------
    hidden : array_like, (batch, dim)
        The input ("center word") vectors.
    weight : array_like, (num_classes, dim)
        The output ("context") vectors.
    target : array_like of int, (batch,)
    negatives : array_like of int, (batch, K)
    reduction : {'mean', 'sum', 'none'}
        'mean' averages the per-example losses over the batch.
    return_grad : bool
        Also return (d_hidden, d_weight), the gradient of the reduced loss (of
        loss.sum() for 'none'), d_weight as (indices, rows) over the target
        and negative ids.

    Examples
    --------
    >>> import numpy as np
    >>> from csoftmax.vocab import negative_sampling_loss
    >>> h = np.array([[1.0, 0.0]])
    >>> W = np.array([[2.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    >>> loss = negative_sampling_loss(h, W, np.array([0]), np.array([[1, 2]]))
    >>> round(float(loss), 10)  # -log s(2) - log s(0) - log s(1)
    1.1333368791
    >>> loss, (dh, (rows, dW)) = negative_sampling_loss(
    ...     h, W, np.array([0]), np.array([[1, 2]]), return_grad=True)
    >>> rows
    array([0, 1, 2])
    """
    h, W, rdtype = _float_operands(hidden=hidden, weight=weight)
    _check_layer(h, W)
    num_classes = W.shape[0]
    batch = h.shape[0]
    labels = _class_ids(target, "target", (batch,), num_classes)
    negatives_array = np.asarray(negatives)
    if negatives_array.ndim != 2:
        raise ValueError(f"negatives must be 2-D (batch, K), got shape {negatives_array.shape}")
    num_negatives = negatives_array.shape[1]
    negative_ids = _class_ids(negatives_array, "negatives", (batch, num_negatives), num_classes)
    reduction = check_reduction(reduction)

    w_true, w_negative = W[labels], W[negative_ids]
    logits = np.empty((batch, 1 + num_negatives), h.dtype)
    logits[:, 0] = np.einsum("bd,bd->b", h, w_true)
    logits[:, 1:] = (w_negative @ h[:, :, None])[:, :, 0]
    labels01 = np.zeros_like(logits)
    labels01[:, 0] = 1.0  # BCE(x, 1) = -log s(x), BCE(x, 0) = -log s(-x)

    if reduction == "none":
        result = binary_cross_entropy_with_logits(logits, labels01, reduction="none",
                                                  return_grad=return_grad)
        terms, grad = result if return_grad else (result, None)
        loss = terms.sum(axis=1, dtype=np.float64).astype(rdtype)
    else:
        result = binary_cross_entropy_with_logits(logits, labels01, reduction="sum",
                                                  return_grad=return_grad)
        total, grad = result if return_grad else (result, None)
        total = np.float64(total)
        if reduction == "mean":
            with np.errstate(invalid="ignore", divide="ignore"):
                total = total / batch  # an empty batch: nan, as cross_entropy
            if grad is not None and batch:
                grad *= grad.dtype.type(1.0 / batch)
        loss = rdtype.type(total)
    if not return_grad:
        return loss
    g_true, g_negative = grad[:, 0], grad[:, 1:]
    d_hidden = g_true[:, None] * w_true + (g_negative[:, None, :] @ w_negative)[:, 0, :]
    indices, d_rows, _ = _sparse_rows(
        np.concatenate([labels, negative_ids.reshape(-1)]),
        np.concatenate([g_true, g_negative.reshape(-1)]),
        np.concatenate([np.arange(batch), np.repeat(np.arange(batch), num_negatives)]),
        np.ascontiguousarray(h))
    return loss, (d_hidden.astype(rdtype, copy=False),
                  (indices, d_rows.astype(rdtype, copy=False)))
