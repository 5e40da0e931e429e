"""The per-chunk work behind csoftmax.dask: plain NumPy-in, NumPy-out functions
that run inside Dask tasks (so this module does not import Dask).

When a reduced axis is split across chunks, each chunk contributes a
*partial*: an array with one entry per slice of the chunk (size 1 along the
reduced axes) holding the chunk's logsumexp over the slice, or a structured
array whose field "lse" holds it (with "sign" where scale factors may be
negative) and whose other fields are additive sums (picked target logits,
weights, counts). `merge` combines partials (logsumexp of "lse", sums of the
rest), so Dask can reduce them as a tree and the whole axis is never gathered
into one chunk. Partials are float64 whatever the input dtype, so merging
them adds no float32 rounding.
"""
import numpy as np

from . import _api
from ._softmax_losses import cross_entropy
from ._validate import class_labels

SIGNED_LSE = np.dtype([("lse", np.float64), ("sign", np.float64)])
# cross-entropy with class indices: the target's logit, whether the target is
# in this chunk (0 or 1), its class weight and the weighted sum of the logits
# (for label smoothing)
INDEX_CE = np.dtype([("lse", np.float64), ("pick", np.float64), ("kept", np.float64),
                     ("wt", np.float64), ("wx", np.float64)])
# cross-entropy with class probabilities q: sum(w q') and sum(w q' x), q' the smoothed q
PROB_CE = np.dtype([("lse", np.float64), ("wq", np.float64), ("wqx", np.float64)])
# a reduced loss: the sum of row losses and the 'mean' denominator
LOSS_SUM = np.dtype([("loss", np.float64), ("den", np.float64)])


def _as_array(value, dtype=None):
    """Tasks must return arrays: csoftmax returns NumPy scalars for 0-d results."""
    return np.asarray(value, dtype=dtype)


# ---------------------------------------------------------------- merging partials

def merge(p, axis, keepdims):
    """Combines the partials in `p` along `axis` (a dask.array.reduction
    combine/aggregate): logsumexp of "lse" (signed by "sign" if present), sums
    of the other fields."""
    if p.dtype.names is None:
        return _as_array(_api.logsumexp(p, axis, keepdims=keepdims, num_threads=1))
    first = p.dtype.names[0]
    out = np.empty(np.sum(p[first], axis=axis, keepdims=keepdims).shape, p.dtype)
    for name in p.dtype.names:
        if name == "lse" and "sign" in p.dtype.names:
            out["lse"], out["sign"] = _api.logsumexp(p["lse"], axis, b=p["sign"], keepdims=keepdims,
                                                     return_sign=True, num_threads=1)
        elif name == "lse":
            out["lse"] = _api.logsumexp(p["lse"], axis, keepdims=keepdims, num_threads=1)
        elif name != "sign":
            out[name] = np.sum(p[name], axis=axis, keepdims=keepdims)
    return out


def merge_as(p, axis, keepdims, *, rdtype):
    """merge, cast to the result dtype (the last step of a reduction)."""
    return merge(p, axis, keepdims).astype(rdtype)


def keep(p, axis, keepdims):
    """The chunk step of a reduction whose input already is one partial per chunk."""
    return p


# ---------------------------------------------------------------- normalisers

def normalize(x, mask=None, *, log, axis, options):
    """softmax or log_softmax of a chunk holding whole slices."""
    fn = _api.log_softmax if log else _api.softmax
    return _as_array(fn(x, axis, where=mask, **options))


def lse_partial(x, mask=None, *, axes, temperature, cdtype, num_threads):
    """Per-slice logsumexp(x / temperature) of a chunk (computed in cdtype),
    as float64, keepdims."""
    if temperature != 1.0:
        x = x.astype(cdtype) / cdtype.type(temperature)
    return _as_array(_api.logsumexp(x, axes, where=mask, keepdims=True, dtype=cdtype,
                                    num_threads=num_threads), np.float64)


def shift(partial, total, *, masked):
    """log of the factor that turns a chunk's local softmax into the global one:
    partial - total where the slice's total is finite. Special values say what
    the whole slice gets, as SciPy / csoftmax on the whole array give it:
    -inf: the chunk adds nothing (or the slice is fully masked): 0 / -inf;
    +inf: the slice holds +inf: softmax nan, log_softmax x - inf;
    nan: the slice holds nan, or is all -inf without a mask: nan."""
    with np.errstate(invalid="ignore"):
        s = np.where(np.isfinite(total), partial - total, np.nan)
    total = np.broadcast_to(total, s.shape)
    s[total == np.inf] = np.inf
    if masked:
        s[total == -np.inf] = -np.inf
    return s


def rescale(x, s, mask=None, *, log, axes, options, rdtype):
    """The global softmax / log_softmax of a chunk: the local one, rescaled by
    exp(s) (shifted by s) per slice; see `shift` for s's special values."""
    fn = _api.log_softmax if log else _api.softmax
    y = np.asarray(fn(x, axes, where=mask, **options))
    with np.errstate(invalid="ignore", over="ignore"):
        if log:
            y += s.astype(y.dtype)
        else:
            y *= np.exp(s).astype(y.dtype)
    # the special values are rare: test the per-slice s before a pass over y
    if np.any(s == -np.inf):
        np.copyto(y, -np.inf if log else 0.0, where=np.broadcast_to(s == -np.inf, y.shape))
    if np.any(s == np.inf):
        infinite = np.broadcast_to(s == np.inf, y.shape)
        with np.errstate(invalid="ignore"):
            np.copyto(y, x - np.inf if log else np.nan, where=infinite, casting="unsafe")
    if mask is not None:  # masked entries are 0 / -inf whatever else the slice holds
        np.copyto(y, -np.inf if log else 0.0, where=~np.broadcast_to(mask, y.shape))
    return y.astype(rdtype, copy=False)


# ---------------------------------------------------------------- logsumexp

def logsumexp(x, *extras, has_b, axes, keepdims, signed, options):
    """logsumexp of a chunk (extras: its chunk of b if has_b, then of the mask
    if any): plain, or as SIGNED_LSE records when signed."""
    b = extras[0] if has_b else None
    mask = extras[-1] if len(extras) > has_b else None
    if not signed:
        return _as_array(_api.logsumexp(x, axes, b=b, where=mask, keepdims=keepdims, **options))
    value, sign = _api.logsumexp(x, axes, b=b, where=mask, keepdims=keepdims, return_sign=True,
                                 **options)
    out = np.empty(np.shape(value), SIGNED_LSE)
    out["lse"], out["sign"] = value, sign
    return out


def signed_value(p, *, return_sign, rdtype):
    """log|sum| of SIGNED_LSE records; without return_sign a negative sum is nan
    (as SciPy)."""
    value = p["lse"] if return_sign else np.where(p["sign"] < 0, np.nan, p["lse"])
    return value.astype(rdtype)


def sign_of(p, *, rdtype):
    return p["sign"].astype(rdtype)


# ---------------------------------------------------------------- cross-entropy

def _labels(target, num_classes, ignore_index, row_offset):
    """Validated int64 class indices of a target chunk; the IndexError names
    the position in the whole target."""
    try:  # (class_labels returns 0-d targets as 1-d)
        return class_labels(target, target.shape, num_classes,
                            ignore_index).reshape(target.shape)
    except IndexError:
        bad = (target < 0) | (target >= num_classes)
        bad &= target != ignore_index
        local = np.unravel_index(np.flatnonzero(bad)[0], target.shape)
        position = tuple(int(i) + int(o) for i, o in zip(local, row_offset))
        raise IndexError(f"target {target[local]} at position {position} is out of range for "
                         f"{num_classes} classes (valid: 0 to {num_classes - 1}, or "
                         f"ignore_index={ignore_index})") from None


def _row_count(shape, axis):
    return float(np.prod(shape[:axis] + shape[axis + 1:], dtype=np.float64))


def _location(block_info, axis):
    """(start of the chunk along the class axis, its start along the other axes)."""
    starts = [start for start, _ in block_info[0]["array-location"]]
    return starts[axis], tuple(starts[:axis] + starts[axis + 1:])


def ce_rows(x, target, block_info=None, *, probs, axis, weight, ignore_index, label_smoothing,
            reduction, num_threads):
    """cross_entropy of a chunk holding whole class slices (class-index targets
    come with a length-1 class axis): row losses for reduction='none', else one
    LOSS_SUM record (keepdims)."""
    if not probs:
        target = _labels(np.squeeze(target, axis), x.shape[axis], ignore_index,
                         _location(block_info, axis)[1])
    kw = dict(axis=axis, weight=weight, ignore_index=ignore_index,
              label_smoothing=label_smoothing, num_threads=num_threads)
    if reduction == "none":
        return _as_array(cross_entropy(x, target, reduction="none", **kw))
    out = np.empty((1,) * x.ndim, LOSS_SUM)
    out["loss"] = float(cross_entropy(x, target, reduction="sum", **kw))
    if probs:
        out["den"] = _row_count(x.shape, axis)
    else:
        kept = target != ignore_index
        out["den"] = (np.sum(weight[target[kept]], dtype=np.float64) if weight is not None
                      else np.count_nonzero(kept))
    return out


def index_ce_partial(x, target, block_info=None, *, axis, num_classes, weight, ignore_index,
                     label_smoothing, num_threads):
    """INDEX_CE partial of a chunk of the classes [start, start + n); the
    target comes with a length-1 class axis."""
    start, row_offset = _location(block_info, axis)
    labels = np.expand_dims(_labels(np.squeeze(target, axis), num_classes, ignore_index,
                                    row_offset), axis)
    out = np.empty(labels.shape, INDEX_CE)
    out["lse"] = lse_partial(x, axes=(axis,), temperature=1.0, cdtype=x.dtype,
                             num_threads=num_threads)
    local = labels - start
    here = (labels != ignore_index) & (local >= 0) & (local < x.shape[axis])
    index = np.where(here, local, 0)
    out["pick"] = np.where(here, np.take_along_axis(x, index, axis), 0.0)
    out["kept"] = here
    w = None if weight is None else weight[start:start + x.shape[axis]]
    out["wt"] = here if w is None else np.where(here, w[index], 0.0)
    out["wx"] = _weighted_class_sum(x, w, axis) if label_smoothing > 0 else 0.0
    return out


def prob_ce_partial(x, q, block_info=None, *, axis, num_classes, weight, label_smoothing,
                    num_threads):
    """PROB_CE partial of a chunk of the classes [start, start + n)."""
    start = _location(block_info, axis)[0]
    out = np.empty(x.shape[:axis] + (1,) + x.shape[axis + 1:], PROB_CE)
    out["lse"] = lse_partial(x, axes=(axis,), temperature=1.0, cdtype=x.dtype,
                             num_threads=num_threads)
    wq = _weighted_targets(q, weight, start, axis, num_classes, label_smoothing)
    out["wq"] = np.sum(wq, axis=axis, keepdims=True)
    out["wqx"] = np.sum(wq * x, axis=axis, keepdims=True)
    return out


def _class_slice(per_class, start, x, axis):
    """The entries of a per-class vector for a chunk x of the classes starting
    at `start`, shaped to broadcast along x's class axis."""
    shape = [1] * x.ndim
    shape[axis] = x.shape[axis]
    return per_class[start:start + x.shape[axis]].reshape(shape)


def _weighted_targets(q, weight, start, axis, num_classes, label_smoothing):
    """w_c q'_c for a chunk of class probabilities q, q' the smoothed q (float64)."""
    wq = q.astype(np.float64) * (1.0 - label_smoothing) + label_smoothing / num_classes
    return wq if weight is None else wq * _class_slice(weight, start, q, axis)


def _weighted_class_sum(x, w, axis):
    """sum over the class axis of w_c * x_c (w None: 1), in float64, keepdims."""
    if w is None:
        return np.sum(x, axis=axis, keepdims=True, dtype=np.float64)
    return np.expand_dims(np.tensordot(np.moveaxis(x, axis, -1).astype(np.float64), w, 1), axis)


def index_ce_rows(p, *, num_classes, weight_sum, label_smoothing, reduction, rdtype):
    """Row losses (or a LOSS_SUM record) from merged INDEX_CE partials, as PyTorch:
    (1 - eps) w_t (L - x_t) + eps / C (sum(w) L - sum(w x)); ignored rows 0."""
    eps = label_smoothing
    lse = p["lse"]
    with np.errstate(invalid="ignore", over="ignore"):
        loss = (1.0 - eps) * p["wt"] * (lse - p["pick"]) if eps < 1 else np.zeros_like(lse)
        if eps > 0:
            loss = loss + eps / num_classes * (weight_sum * lse - p["wx"])
    loss = np.where(p["kept"] > 0, loss, 0.0)
    return _rows_or_sum(loss, p["wt"], reduction, rdtype)


def prob_ce_rows(p, *, reduction, rdtype):
    """Row losses (or a LOSS_SUM record) from merged PROB_CE partials:
    sum_c w_c q'_c (L - x_c) = L sum(w q') - sum(w q' x)."""
    with np.errstate(invalid="ignore", over="ignore"):
        loss = p["lse"] * p["wq"] - p["wqx"]
    return _rows_or_sum(loss, np.ones_like(loss), reduction, rdtype)


def _rows_or_sum(loss, den, reduction, rdtype):
    if reduction == "none":
        with np.errstate(over="ignore"):
            return loss.astype(rdtype)
    out = np.empty((1,) * loss.ndim, LOSS_SUM)
    out["loss"] = np.sum(loss)
    out["den"] = np.sum(den)
    return out


def finish_loss(total, *, reduction, rdtype):
    """The reduced loss from the merged LOSS_SUM record: the sum, or the mean
    over the denominator (nan when it is 0, as PyTorch)."""
    value = total["loss"]
    if reduction == "mean":
        with np.errstate(invalid="ignore", divide="ignore"):
            value = value / total["den"]
    with np.errstate(over="ignore"):
        return _as_array(value, rdtype)


# ---------------------------------------------------------------- cross-entropy gradients

def _grad_scale(g, total, reduction):
    """Scales the gradient of a chunk's summed loss for 'mean' (by 1 / the
    denominator; 0 when it is 0, as csoftmax), in place."""
    if reduction == "mean":
        den = float(total["den"])
        g *= g.dtype.type(1.0 / den if den != 0 else 0.0)
    return g


def ce_grad(x, target, total=None, block_info=None, *, probs, axis, weight, ignore_index,
            label_smoothing, reduction, num_threads):
    """Gradient of the reduced cross-entropy for a chunk holding whole class
    slices, by the fused kernel (total: the merged LOSS_SUM record, for 'mean')."""
    if not probs:
        target = _labels(np.squeeze(target, axis), x.shape[axis], ignore_index,
                         _location(block_info, axis)[1])
    _, g = cross_entropy(x, target, axis=axis, weight=weight, ignore_index=ignore_index,
                                 label_smoothing=label_smoothing, reduction="sum",
                                 return_grad=True, num_threads=num_threads)
    return _grad_scale(g, total, reduction)


def _global_softmax(x, partial, merged, axis, num_threads):
    """softmax of a chunk of classes over all classes, from the chunk's partial
    and the merged partials of its rows (both with a length-1 class axis)."""
    s = shift(partial["lse"], merged["lse"], masked=False)
    return rescale(x, s, log=False, axes=(axis,), options=dict(num_threads=num_threads),
                   rdtype=x.dtype)


def index_ce_grad(x, target, partial, merged, total=None, block_info=None, *, axis,
                  num_classes, weight, ignore_index, label_smoothing, weight_sum, reduction,
                  num_threads):
    """Gradient of the reduced cross-entropy with class indices for a chunk of
    the classes [start, start + n): d loss_row / d x_k = (1 - eps) w_t (p_k -
    [k == t]) + eps / C (sum(w) p_k - w_k) on rows not ignored."""
    start, row_offset = _location(block_info, axis)
    labels = np.expand_dims(_labels(np.squeeze(target, axis), num_classes, ignore_index,
                                    row_offset), axis)
    eps, kept, wt = label_smoothing, merged["kept"] > 0, merged["wt"]
    g = _global_softmax(x, partial, merged, axis, num_threads)
    g *= np.where(kept, (1.0 - eps) * wt + eps / num_classes * weight_sum, 0.0).astype(g.dtype)
    local = labels - start
    here = kept & (local >= 0) & (local < x.shape[axis])
    index = np.where(here, local, 0)
    picked = np.take_along_axis(g, index, axis)
    np.put_along_axis(g, index, np.where(here, picked - (1.0 - eps) * wt, picked), axis)
    if eps > 0:
        w = _class_slice(np.ones(num_classes) if weight is None else weight, start, x, axis)
        g -= np.where(kept, eps / num_classes * w, 0.0).astype(g.dtype)
    return _grad_scale(g, total, reduction)


def prob_ce_grad(x, q, partial, merged, total=None, block_info=None, *, axis, num_classes,
                 weight, label_smoothing, reduction, num_threads):
    """Gradient of the reduced cross-entropy with class probabilities for a
    chunk of the classes: d loss_row / d x_k = sum(w q') p_k - w_k q'_k."""
    start = _location(block_info, axis)[0]
    g = _global_softmax(x, partial, merged, axis, num_threads)
    g *= merged["wq"].astype(g.dtype)
    g -= _weighted_targets(q, weight, start, axis, num_classes, label_smoothing).astype(g.dtype)
    return _grad_scale(g, total, reduction)
