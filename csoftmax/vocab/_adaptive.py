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
import sys

import numpy as np

from .._api import log_softmax
from .._reductions import finish, grad_scale
from .._softmax_losses import cross_entropy
from ._model_inputs import (
    class_targets, compute_dtype, hidden_rows, operands, parameter, parameter_dtype,
)
from .._validate import check_reduction, positive_int

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
    assign arrays of the same shapes to train or load them;
    AdaptiveSoftmax.from_torch(module) copies a PyTorch module's
    configuration and weights. A call computes in float64 if the hidden
    vectors or the parameters are float64, else in float32, and returns that
    dtype.

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
    >>> target = np.array([1, 8])
    >>> bool(np.allclose(model.log_prob(h, target), model.log_prob(h)[[0, 1], target]))
    True
    >>> loss, grads = model.loss(h, target, return_grad=True)
    >>> sorted(grads)
    ['head_weight', 'hidden', 'tail']
    >>> model.loss(h, target, reduction="none").shape   # per-example losses
    (2,)
    """

    def __init__(self, in_features, n_classes, cutoffs, *, div_value=4.0, head_bias=False,
                 seed=None, dtype=np.float64):
        self._configure(in_features, n_classes, cutoffs, div_value, head_bias)
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
            hsz = self._projection_size(i)
            osz = self.cutoffs[i + 1] - self.cutoffs[i]
            self.tail.append((linear_init((hsz, self.in_features), self.in_features),
                              linear_init((osz, hsz), hsz)))

    def _configure(self, in_features, n_classes, cutoffs, div_value, head_bias):
        """The configuration attributes, checked (no parameters)."""
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

    def _projection_size(self, cluster):
        """Width of tail cluster `cluster`'s projection, as PyTorch computes it."""
        return int(self.in_features // (self.div_value ** (cluster + 1)))

    @classmethod
    def from_torch(cls, module):
        """An AdaptiveSoftmax with the configuration and a copy of the weights
        of a torch.nn.AdaptiveLogSoftmaxWithLoss (float32 or float64; the
        model takes the head weight's dtype). Its outputs then equal the
        module's: log_prob, loss (the forward's loss) and predict. torch is
        not imported here: a caller holding a module has imported it already.

        >>> import numpy as np, torch
        >>> module = torch.nn.AdaptiveLogSoftmaxWithLoss(16, 100, [10, 40], div_value=2.0)
        >>> model = AdaptiveSoftmax.from_torch(module)
        >>> model.cutoffs, model.head_weight.dtype, [proj.shape for proj, _ in model.tail]
        ([10, 40, 100], dtype('float32'), [(8, 16), (4, 16)])
        >>> h = np.random.default_rng(0).normal(size=(3, 16)).astype(np.float32)
        >>> expected = module.log_prob(torch.from_numpy(h)).detach().numpy()
        >>> bool(np.allclose(model.log_prob(h), expected, rtol=1e-5, atol=1e-6))
        True
        """
        torch = sys.modules.get("torch")
        if torch is None or not isinstance(module, torch.nn.AdaptiveLogSoftmaxWithLoss):
            raise TypeError("module must be a torch.nn.AdaptiveLogSoftmaxWithLoss, got "
                            f"{type(module).__module__}.{type(module).__qualname__}")
        model = cls.__new__(cls)
        model._configure(module.in_features, module.n_classes, module.cutoffs[:-1],
                         module.div_value, module.head_bias)
        dtype = module.head.weight.dtype
        if dtype not in (torch.float32, torch.float64):
            raise TypeError(f"module's weights must be float32 or float64, got {dtype} "
                            "(convert with module.float() first)")

        def copied(tensor):
            return np.array(tensor.detach().to("cpu", dtype).numpy(), copy=True)

        model.head_weight = copied(module.head.weight)
        if model.head_bias:
            model.head_bias_ = copied(module.head.bias)
        model.tail = [(copied(cluster[0].weight), copied(cluster[1].weight))
                      for cluster in module.tail]
        return model

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

    def _target_losses(self, h, head_weight, head_bias, tail, labels, grad_scale, want_grad):
        """-log p(target) of each example (float64, (B,)) and, if wanted, the
        gradients of grad_scale * their sum (the fused csoftmax kernel for
        each softmax). A tail cluster only sees the examples whose target
        lies in it; clusters no target falls in get zero gradients."""
        cluster_of = np.searchsorted(self.cutoffs[:-1], labels, side="right")
        head_target = np.where(cluster_of == 0, labels, self.shortlist_size + cluster_of - 1)
        head_logits = self._head_logits(h, head_weight, head_bias)
        losses, head_grad = self._cluster_losses(head_logits, head_target, grad_scale, want_grad)
        grads = None
        if want_grad:
            grads = {"hidden": head_grad @ head_weight, "head_weight": head_grad.T @ h}
            if head_bias is not None:
                grads["head_bias_"] = head_grad.sum(axis=0)
            grads["tail"] = []
        for i, (proj, out_weight) in enumerate(tail):
            rows = np.flatnonzero(cluster_of == i + 1)
            if rows.size == 0:
                if want_grad:
                    grads["tail"].append((np.zeros_like(proj), np.zeros_like(out_weight)))
                continue
            h_rows = h[rows]
            projected = h_rows @ proj.T
            cluster_losses, logits_grad = self._cluster_losses(
                projected @ out_weight.T, labels[rows] - self.cutoffs[i], grad_scale, want_grad)
            losses[rows] += cluster_losses
            if want_grad:
                projected_grad = logits_grad @ out_weight
                grads["tail"].append((projected_grad.T @ h_rows, logits_grad.T @ projected))
                grads["hidden"][rows] += projected_grad @ proj
        return losses, grads

    @staticmethod
    def _cluster_losses(logits, target, grad_scale, want_grad):
        """Each row's cross-entropy (float64) and, if wanted, its gradient
        w.r.t. the logits times `grad_scale`."""
        if not want_grad:
            return cross_entropy(logits, target, reduction="none").astype(np.float64), None
        row_losses, grad = cross_entropy(logits, target, reduction="none", return_grad=True)
        grad *= grad_scale
        return row_losses.astype(np.float64), grad

    # ------------------------------------------------------------ public

    def log_prob(self, hidden, target=None):
        """log p(c | hidden) for every class: (B, n_classes), or (n_classes,)
        for one vector, as AdaptiveLogSoftmaxWithLoss.log_prob. With an
        integer target (B,) (0-d for one vector): log p(target | hidden),
        shape (B,) (0-d), the `output` of AdaptiveLogSoftmaxWithLoss's
        forward, computed without the full distribution.

        >>> import numpy as np
        >>> model = AdaptiveSoftmax(4, 3, [1], seed=0)
        >>> model.head_weight[:] = 0.0        # head: p(class 0) = p(tail) = 1/2
        >>> model.tail[0][1][:] = 0.0         # tail: uniform over classes 1, 2
        >>> np.exp(model.log_prob(np.ones(4)))
        array([0.5 , 0.25, 0.25])
        >>> np.exp(model.log_prob(np.ones((2, 4)), np.array([0, 2])))
        array([0.5 , 0.25])
        """
        h, head_weight, head_bias, tail, single = self._inputs(hidden)
        if target is None:
            result = self._full_log_prob(h, self._head_logits(h, head_weight, head_bias), tail)
            return result[0] if single else result
        labels = class_targets(target, h.shape[0], single, self.n_classes)
        losses, _ = self._target_losses(h, head_weight, head_bias, tail, labels, 1.0, False)
        result = (-losses).astype(h.dtype)
        return result.reshape(()) if single else result

    def log_proba(self, hidden):
        """log p(c | hidden) for every class (scikit-learn's name): the same
        as log_prob(hidden).

        >>> import numpy as np
        >>> model = AdaptiveSoftmax(4, 5, [2], seed=0)
        >>> h = np.ones((3, 4))
        >>> bool(np.array_equal(model.log_proba(h), model.log_prob(h)))
        True
        """
        return self.log_prob(hidden)

    def loss(self, hidden, target, *, reduction="mean", return_grad=False):
        """-log p(target | hidden), reduced over the batch: 'mean' (the `loss`
        of AdaptiveLogSoftmaxWithLoss's forward; nan for an empty batch),
        'sum', or 'none' (each example's loss, shape (B,), or 0-d for one
        vector: minus the forward's `output`).

        With return_grad=True returns (loss, grads): grads is a dict with the
        gradients of the reduced loss (of the sum of the losses for 'none')
        w.r.t. 'hidden' (hidden's shape), 'head_weight', 'head_bias_' (when
        the head has a bias) and 'tail' (a list of (d_proj, d_out) pairs,
        zero for clusters no target falls in).

        >>> import numpy as np
        >>> model = AdaptiveSoftmax(4, 3, [1], seed=0)
        >>> model.head_weight[:] = 0.0
        >>> model.tail[0][1][:] = 0.0
        >>> h, target = np.ones((2, 4)), np.array([0, 2])
        >>> round(float(model.loss(h, target)), 6)   # (log 2 + log 4) / 2
        1.039721
        >>> model.loss(h, target, reduction="none").round(6)   # log 2, log 4
        array([0.693147, 1.386294])
        """
        reduction = check_reduction(reduction)
        h, head_weight, head_bias, tail, single = self._inputs(hidden)
        labels = class_targets(target, h.shape[0], single, self.n_classes)
        losses, grads = self._target_losses(h, head_weight, head_bias, tail, labels,
                                            grad_scale(reduction, labels.size), return_grad)
        loss = finish(losses, reduction, labels.size, h.dtype, () if single else labels.shape)
        if not return_grad:
            return loss
        if single:
            grads["hidden"] = grads["hidden"].reshape(self.in_features)
        return loss, grads

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

