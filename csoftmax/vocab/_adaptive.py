"""Adaptive softmax (Grave et al., "Efficient softmax approximation for
GPUs", 2017), with the outputs of torch.nn.AdaptiveLogSoftmaxWithLoss given
the same weights.

The head is a softmax over the shortlist (the most frequent classes) plus one
entry per tail cluster; a tail cluster's classes are scored through a
low-rank projection. Softmaxes and their fused gradients run in csoftmax's
compiled kernels (cross_entropy with return_grad, log_softmax), the
projections in BLAS (NumPy's @). A loss only evaluates each tail cluster on
the examples whose target lies in it.
"""
import numpy as np

from .._api import log_softmax
from .._losses import cross_entropy
from ._model_inputs import (
    class_targets, compute_dtype, hidden_rows, operands, parameter, parameter_dtype,
    positive_int,
)

__all__ = ["AdaptiveSoftmax"]


def _checked_cutoffs(cutoffs, n_classes):
    """cutoffs as a list of ints, with PyTorch's rules and message."""
    cutoffs = list(cutoffs)
    if len(cutoffs) == 0:
        raise ValueError("cutoffs should be a sequence of length larger than 0")
    try:
        valid = (cutoffs == sorted(cutoffs) and min(cutoffs) > 0
                 and max(cutoffs) <= n_classes - 1 and len(set(cutoffs)) == len(cutoffs)
                 and all(int(c) == c for c in cutoffs))
    except (TypeError, ValueError):
        valid = False
    if not valid:
        raise ValueError("cutoffs should be a sequence of unique, positive integers sorted in "
                         "an increasing order, where each value is between 1 and "
                         f"n_classes-1, got {cutoffs!r} for n_classes={n_classes}")
    return [int(c) for c in cutoffs]


class AdaptiveSoftmax:
    """Adaptive softmax output layer, torch.nn.AdaptiveLogSoftmaxWithLoss's
    model with NumPy parameters.

    Parameters
    ----------
    in_features : int
        Size of the hidden vectors.
    n_classes : int
        Number of classes (>= 2).
    cutoffs : sequence of int
        Increasing class boundaries in [1, n_classes - 1]: classes below
        cutoffs[0] form the shortlist, each following range a tail cluster.
    div_value : float, default 4.0
        Tail cluster i (0-based) projects to in_features // div_value**(i + 1)
        dimensions.
    head_bias : bool, default False
        Whether the head has a bias (attribute head_bias_).
    seed : int or numpy.random.Generator, optional
        Seed of the initial weights.
    dtype : float32 or float64, default float64
        dtype of the parameters created here.

    Attributes
    ----------
    head_weight : ndarray (shortlist_size + n_clusters, in_features)
    head_bias_ : ndarray (shortlist_size + n_clusters,), only when head_bias=True
    tail : list of (proj (hsz_i, in_features), out (osz_i, hsz_i)) pairs
        The tail clusters' projections (no bias), osz_i = the cluster's size.
    cutoffs : list of int
        The cutoffs followed by n_classes, as PyTorch stores them.

    Every weight is initialised as torch.nn.Linear does: uniform in
    [-1/sqrt(fan_in), 1/sqrt(fan_in)]. Parameters are plain attributes:
    assign arrays of the same shapes to train or load them (to copy from
    PyTorch: head.weight, head.bias, tail[i][0].weight, tail[i][1].weight).
    A call computes in float64 if the hidden vectors or the parameters are
    float64, else in float32, and returns that dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from csoftmax.vocab import AdaptiveSoftmax
    >>> model = AdaptiveSoftmax(8, 10, [4, 7], seed=0)
    >>> model.head_weight.shape, [(p.shape, o.shape) for p, o in model.tail]
    ((6, 8), [((2, 8), (3, 2)), ((0, 8), (3, 0))])
    >>> h = np.ones((2, 8))
    >>> np.exp(model.log_prob(h)).sum(axis=1).round(12)
    array([1., 1.])
    >>> loss, grads = model.loss(h, np.array([1, 8]), return_grad=True)
    >>> sorted(grads)
    ['head_weight', 'hidden', 'tail']
    """

    def __init__(self, in_features, n_classes, cutoffs, *, div_value=4.0, head_bias=False,
                 seed=None, dtype=np.float64):
        self.in_features = positive_int(in_features, "in_features")
        self.n_classes = positive_int(n_classes, "n_classes")
        self.cutoffs = _checked_cutoffs(cutoffs, self.n_classes) + [self.n_classes]
        self.div_value = float(div_value)
        if not self.div_value > 0:  # also rejects nan
            raise ValueError(f"div_value must be > 0, got {div_value!r}")
        self.head_bias = bool(head_bias)
        self.shortlist_size = self.cutoffs[0]
        self.n_clusters = len(self.cutoffs) - 1
        self.head_size = self.shortlist_size + self.n_clusters
        dtype = parameter_dtype(dtype)
        rng = np.random.default_rng(seed)

        def linear_init(shape, fan_in):
            bound = 1.0 / np.sqrt(max(fan_in, 1))
            return rng.uniform(-bound, bound, shape).astype(dtype)

        self.head_weight = linear_init((self.head_size, self.in_features), self.in_features)
        if self.head_bias:
            self.head_bias_ = linear_init(self.head_size, self.in_features)
        self.tail = []
        for i in range(self.n_clusters):
            hsz = int(self.in_features // (self.div_value ** (i + 1)))
            osz = self.cutoffs[i + 1] - self.cutoffs[i]
            self.tail.append((linear_init((hsz, self.in_features), self.in_features),
                              linear_init((osz, hsz), hsz)))

    # ------------------------------------------------------------ helpers

    def _inputs(self, hidden):
        """h (B, in_features), head weight, head bias or None, tail pairs, all in
        the call's dtype, and whether hidden was a single vector."""
        h, single = hidden_rows(hidden, self.in_features)
        named = [("hidden", h), ("head_weight", parameter(
            self.head_weight, (self.head_size, self.in_features), "head_weight"))]
        if self.head_bias:
            named.append(("head_bias_", parameter(self.head_bias_, (self.head_size,),
                                                  "head_bias_")))
        if len(self.tail) != self.n_clusters:
            raise ValueError(f"tail must hold {self.n_clusters} (proj, out) pairs, "
                             f"got {len(self.tail)}")
        for i, pair in enumerate(self.tail):
            proj, out = pair
            hsz = np.shape(proj)[0] if np.ndim(proj) == 2 else -1
            named.append((f"tail[{i}] proj", parameter(proj, (hsz, self.in_features),
                                                       f"tail[{i}] proj")))
            named.append((f"tail[{i}] out", parameter(
                out, (self.cutoffs[i + 1] - self.cutoffs[i], hsz), f"tail[{i}] out")))
        dtype = compute_dtype(named)
        arrays = operands(dtype, *(a for _, a in named))
        h, head_weight = arrays[0], arrays[1]
        head_bias = arrays[2] if self.head_bias else None
        rest = arrays[3 if self.head_bias else 2:]
        return h, head_weight, head_bias, list(zip(rest[::2], rest[1::2])), single

    @staticmethod
    def _head_logits(h, head_weight, head_bias):
        logits = h @ head_weight.T
        if head_bias is not None:
            logits += head_bias
        return logits

    def _full_log_prob(self, h, head_logits, tail):
        head = log_softmax(head_logits, axis=1)
        out = np.empty((h.shape[0], self.n_classes), h.dtype)
        out[:, :self.shortlist_size] = head[:, :self.shortlist_size]
        for i, (proj, out_weight) in enumerate(tail):
            cluster = log_softmax((h @ proj.T) @ out_weight.T, axis=1)
            np.add(cluster, head[:, self.shortlist_size + i, None],
                   out=out[:, self.cutoffs[i]:self.cutoffs[i + 1]])
        return out

    # ------------------------------------------------------------ public

    def log_prob(self, hidden):
        """log p(c | hidden) for every class: (B, n_classes), or (n_classes,)
        for one vector; as AdaptiveLogSoftmaxWithLoss.log_prob.

        >>> import numpy as np
        >>> model = AdaptiveSoftmax(4, 3, [1], seed=0)
        >>> model.head_weight[:] = 0.0        # head: p(class 0) = p(tail) = 1/2
        >>> model.tail[0][1][:] = 0.0         # tail: uniform over classes 1, 2
        >>> np.exp(model.log_prob(np.ones(4)))
        array([0.5 , 0.25, 0.25])
        """
        h, head_weight, head_bias, tail, single = self._inputs(hidden)
        result = self._full_log_prob(h, self._head_logits(h, head_weight, head_bias), tail)
        return result[0] if single else result

    def loss(self, hidden, target, return_grad=False):
        """Batch mean of -log p(target | hidden), as the `loss` of
        AdaptiveLogSoftmaxWithLoss's forward (nan for an empty batch).

        With return_grad=True returns (loss, grads): grads is a dict with the
        gradients of the mean loss w.r.t. 'hidden' (hidden's shape),
        'head_weight', 'head_bias_' (when the head has a bias) and 'tail' (a
        list of (d_proj, d_out) pairs, zero for clusters no target falls in).

        >>> import numpy as np
        >>> model = AdaptiveSoftmax(4, 3, [1], seed=0)
        >>> model.head_weight[:] = 0.0
        >>> model.tail[0][1][:] = 0.0
        >>> round(float(model.loss(np.ones((2, 4)), np.array([0, 2]))), 6)   # (log 2 + log 4) / 2
        1.039721
        """
        h, head_weight, head_bias, tail, single = self._inputs(hidden)
        labels = class_targets(target, h.shape[0], single, self.n_classes)
        batch = labels.size
        scale = 1.0 / batch if batch else 0.0
        cluster_of = np.searchsorted(self.cutoffs[:-1], labels, side="right")
        head_target = np.where(cluster_of == 0, labels, self.shortlist_size + cluster_of - 1)
        head_logits = self._head_logits(h, head_weight, head_bias)
        total, head_grad = self._cluster_loss(head_logits, head_target, scale, return_grad)
        grads = None
        if return_grad:
            grads = {"hidden": head_grad @ head_weight, "head_weight": head_grad.T @ h}
            if head_bias is not None:
                grads["head_bias_"] = head_grad.sum(axis=0)
            grads["tail"] = []
        for i, (proj, out_weight) in enumerate(tail):
            rows = np.flatnonzero(cluster_of == i + 1)
            if rows.size == 0:
                if return_grad:
                    grads["tail"].append((np.zeros_like(proj), np.zeros_like(out_weight)))
                continue
            h_rows = h[rows]
            projected = h_rows @ proj.T
            cluster_total, logits_grad = self._cluster_loss(
                projected @ out_weight.T, labels[rows] - self.cutoffs[i], scale, return_grad)
            total += cluster_total
            if return_grad:
                projected_grad = logits_grad @ out_weight
                grads["tail"].append((projected_grad.T @ h_rows, logits_grad.T @ projected))
                grads["hidden"][rows] += projected_grad @ proj
        with np.errstate(invalid="ignore"):
            loss = h.dtype.type(total / batch if batch else np.nan)
        if not return_grad:
            return loss
        if single:
            grads["hidden"] = grads["hidden"].reshape(self.in_features)
        return loss, grads

    @staticmethod
    def _cluster_loss(logits, target, scale, want_grad):
        """Sum over rows of the cross-entropy (float64) and, if wanted, its
        gradient w.r.t. the logits times `scale` (the fused csoftmax kernel)."""
        if not want_grad:
            return np.sum(cross_entropy(logits, target, reduction="none"), dtype=np.float64), None
        row_losses, grad = cross_entropy(logits, target, reduction="none", return_grad=True)
        grad *= scale
        return np.sum(row_losses, dtype=np.float64), grad

    def predict(self, hidden):
        """argmax of log_prob for each example: (B,) int64, or 0-d for one
        vector. As PyTorch, rows whose head argmax is a shortlist class are
        answered from the head alone (no tail class can be more probable).

        >>> import numpy as np
        >>> model = AdaptiveSoftmax(4, 3, [1], seed=0)
        >>> model.head_weight[:] = [[1.0] * 4, [0.0] * 4]
        >>> model.predict(np.array([[1.0] * 4, [-1.0] * 4]))[0]
        np.int64(0)
        """
        h, head_weight, head_bias, tail, single = self._inputs(hidden)
        head_logits = self._head_logits(h, head_weight, head_bias)
        result = np.argmax(head_logits, axis=1)
        in_tail = np.flatnonzero(result >= self.shortlist_size)
        if in_tail.size:
            result[in_tail] = np.argmax(
                self._full_log_prob(h[in_tail], head_logits[in_tail], tail), axis=1)
        return result.reshape(()) if single else result
