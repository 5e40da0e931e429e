"""Hierarchical softmax over a Huffman tree of the classes (word2vec's
output layer): p(class) is the product of the binary decisions on the path
from the root to the class's leaf, so a target costs O(log C) dot products
instead of C.

The per-target walk (scores of the path's nodes, log-sigmoids, gradients) runs
in the compiled kernels of src/hsoftmax_impl.h; the full distribution takes
one BLAS product for all node scores, then a compiled top-down pass over the
tree.
"""
import numpy as np

from .. import _core
from .._reductions import finish, grad_scale
from .._threads import threads_for_call
from ._huffman import class_paths, huffman_children
from ._model_inputs import (
    class_targets, compute_dtype, hidden_rows, operands, parameter, parameter_dtype,
)
from .._validate import check_reduction, positive_int

__all__ = ["HierarchicalSoftmax"]

# predict() scores this many rows at a time, so its temporaries stay bounded.
_PREDICT_ROWS = 256


class HierarchicalSoftmax:
    """Hierarchical softmax with a Huffman tree built from class counts.

    Frequent classes get short paths: the expected path length is within one
    of the entropy (in bits) of the class distribution, about 11 for a
    Zipfian vocabulary of 50,000 words.

    Parameters
    ----------
    counts : array_like, shape (C,)
        Non-negative class frequencies (C >= 1). The tree depends only on
        them; ties are broken by class index (see csoftmax.vocab._huffman).
    dim : int
        Size of the hidden vectors.
    seed : int or numpy.random.Generator, optional
        Seed of the initial node weights.
    dtype : float32 or float64, default float64
        dtype of the parameters created here.

    Attributes
    ----------
    node_weight : ndarray (C - 1, dim)
        One row per internal node, initialised uniformly in
        [-1/sqrt(dim), 1/sqrt(dim)] (torch.nn.Linear's default scale).
    node_bias : ndarray (C - 1,)
        Initialised to zero.
    children : ndarray (C - 1, 2) int64
        Left and right child of each internal node: a class c < C or C + j
        for internal node j; the root is node C - 2. Going right at node n
        has probability sigmoid(node_weight[n] . h + node_bias[n]).
    code_lengths : ndarray (C,) int64
        Path length (number of decisions) of each class.

    Parameters are plain attributes: assign new arrays of the same shapes to
    train or load them. A call computes in float64 if the hidden vectors or
    the parameters are float64, else in float32, and returns that dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from csoftmax.vocab import HierarchicalSoftmax
    >>> model = HierarchicalSoftmax([50, 20, 20, 10], dim=3, seed=0)
    >>> model.code_lengths
    array([1, 3, 2, 3])
    >>> h = np.ones((2, 3))
    >>> np.exp(model.log_prob(h)).sum(axis=1)
    array([1., 1.])
    >>> target = np.array([0, 3])
    >>> bool(np.allclose(model.log_prob(h, target), model.log_prob(h)[[0, 1], target]))
    True
    >>> loss, grads = model.loss(h, target, return_grad=True)
    >>> sorted(grads), grads["node_weight"].shape
    (['hidden', 'node_bias', 'node_weight'], (3, 3))
    >>> model.loss(h, target, reduction="none").shape   # per-example losses
    (2,)
    """

    def __init__(self, counts, dim, *, seed=None, dtype=np.float64):
        counts = np.asarray(counts)
        if counts.dtype.kind not in "biuf" or counts.ndim != 1 or counts.size == 0:
            raise ValueError("counts must be a non-empty 1-D array of real numbers, got "
                             f"shape {counts.shape} and dtype {counts.dtype}")
        counts = counts.astype(np.float64)
        if not np.all(np.isfinite(counts) & (counts >= 0)):
            raise ValueError("counts must be finite and non-negative")
        self.dim = positive_int(dim, "dim")
        self.n_classes = counts.size
        self.children = huffman_children(counts)
        self._path_offsets, self._path_nodes, self._path_signs, self.code_lengths = (
            class_paths(self.children, self.n_classes))
        dtype = parameter_dtype(dtype)
        rng = np.random.default_rng(seed)
        bound = 1.0 / np.sqrt(self.dim)
        self.node_weight = rng.uniform(-bound, bound, (self.n_classes - 1, self.dim)).astype(dtype)
        self.node_bias = np.zeros(self.n_classes - 1, dtype)

    # ------------------------------------------------------------ helpers

    def _inputs(self, hidden):
        """(h (B, dim), node_weight, node_bias) in the call's dtype, and single."""
        h, single = hidden_rows(hidden, self.dim)
        weight = parameter(self.node_weight, (self.n_classes - 1, self.dim), "node_weight")
        bias = parameter(self.node_bias, (self.n_classes - 1,), "node_bias")
        dtype = compute_dtype([("hidden", h), ("node_weight", weight), ("node_bias", bias)])
        return (*operands(dtype, h, weight, bias), single)

    def _entries(self, labels):
        """The batch's path entries: offsets (B + 1,), example of each entry,
        node and sign of each entry."""
        lengths = self.code_lengths[labels]
        offsets = np.zeros(labels.size + 1, np.int64)
        np.cumsum(lengths, out=offsets[1:])
        rows = np.repeat(np.arange(labels.size, dtype=np.int64), lengths)
        positions = np.arange(offsets[-1]) + np.repeat(self._path_offsets[labels] - offsets[:-1],
                                                       lengths)
        return offsets, rows, self._path_nodes[positions], self._path_signs[positions]

    def _walk(self, h, weight, bias, labels, want_grad, grad_scale=1.0):
        """log p(target) per example (float64) and, if wanted, the gradients of
        grad_scale times the sum of -log p."""
        offsets, rows, nodes, signs = self._entries(labels)
        batch = labels.size
        threads = threads_for_call(None, nodes.size * self.dim)
        log_prob = np.empty(batch, np.float64)
        if not want_grad:
            _core.hs_paths(h, weight, bias, offsets, nodes, signs, log_prob, None, None, 0.0,
                           threads)
            return log_prob, None
        coef = np.empty(nodes.size, h.dtype)
        d_hidden = np.empty_like(h)
        _core.hs_paths(h, weight, bias, offsets, nodes, signs, log_prob, coef, d_hidden,
                       grad_scale, threads)
        # each touched node's row is summed serially over its entries (in
        # example order): deterministic for any thread count
        order = np.argsort(nodes, kind="stable").astype(np.int64, copy=False)
        sorted_nodes = nodes[order]
        run_starts = np.flatnonzero(np.diff(sorted_nodes, prepend=-1))
        run_nodes = np.ascontiguousarray(sorted_nodes[run_starts])
        run_starts = np.append(run_starts, nodes.size).astype(np.int64)
        # np.zeros (calloc), not zeros_like (a fill): rows no target reaches are not written
        d_weight = np.zeros(weight.shape, weight.dtype)
        d_bias = np.zeros(bias.shape, bias.dtype)
        _core.hs_accumulate(h, order, rows, coef, run_starts, run_nodes, d_weight, d_bias, threads)
        return log_prob, {"hidden": d_hidden, "node_weight": d_weight, "node_bias": d_bias}

    # ------------------------------------------------------------ public

    def log_prob(self, hidden, target=None):
        """log p(c | hidden) for every class c: (B, C), or (C,) for one
        vector; exp of a row sums to 1 up to rounding; O(C dim) per example.
        With an integer target (B,) (0-d for one vector): log p(target |
        hidden) of each example, shape (B,) (0-d), O(log C) per example.

        >>> import numpy as np
        >>> model = HierarchicalSoftmax([3, 1], dim=2, seed=0)
        >>> model.node_bias[:] = np.log(3.0)   # p(right) = 3/4 when h = 0
        >>> np.exp(model.log_prob(np.zeros(2))).round(4)   # class 0 goes right
        array([0.75, 0.25])
        >>> model.log_prob(np.zeros((1, 2)), np.array([0])).round(4)
        array([-0.2877])
        """
        h, weight, bias, single = self._inputs(hidden)
        if target is None:
            result = self._log_proba_rows(h, weight, bias)
            return result[0] if single else result
        labels = class_targets(target, h.shape[0], single, self.n_classes)
        log_prob, _ = self._walk(h, weight, bias, labels, False)
        result = log_prob.astype(h.dtype)
        return result.reshape(()) if single else result

    def log_proba(self, hidden):
        """log p(c | hidden) for every class (scikit-learn's name): the same
        as log_prob(hidden).

        >>> model = HierarchicalSoftmax([3, 1, 1], dim=2, seed=0)
        >>> float(np.exp(model.log_proba(np.ones(2))).sum())
        1.0
        """
        return self.log_prob(hidden)

    def _log_proba_rows(self, h, weight, bias):
        scores = h @ weight.T
        scores += bias
        out = np.empty((h.shape[0], self.n_classes), h.dtype)
        threads = threads_for_call(None, out.size)
        scratch = np.empty((threads, max(self.n_classes - 1, 1)), np.float64)
        _core.hs_log_proba(np.ascontiguousarray(scores), self.children, out, scratch, threads)
        return out

    def loss(self, hidden, target, *, reduction="mean", return_grad=False):
        """-log p(target | hidden), reduced over the batch: 'mean' (nan for an
        empty batch), 'sum', or 'none' (each example's loss, shape (B,), or
        0-d for one vector).

        With return_grad=True returns (loss, grads): grads is a dict with
        'hidden' (hidden's shape), 'node_weight' and 'node_bias' (dense,
        zero in the rows of nodes no target passes through), the gradients
        of the reduced loss (of the sum of the losses for 'none'), computed
        in the same pass.

        >>> import numpy as np
        >>> model = HierarchicalSoftmax([3, 1], dim=2, seed=0)
        >>> model.node_bias[:] = np.log(3.0)
        >>> h, target = np.zeros((2, 2)), np.array([0, 1])
        >>> round(float(model.loss(h, target)), 4)   # -(log 3/4 + log 1/4) / 2
        0.837
        >>> model.loss(h, target, reduction="none").round(4)   # -log 3/4, -log 1/4
        array([0.2877, 1.3863])
        """
        reduction = check_reduction(reduction)
        h, weight, bias, single = self._inputs(hidden)
        labels = class_targets(target, h.shape[0], single, self.n_classes)
        log_prob, grads = self._walk(h, weight, bias, labels, return_grad,
                                     grad_scale(reduction, labels.size))
        loss = finish(-log_prob, reduction, labels.size, h.dtype,
                       () if single else labels.shape)
        if not return_grad:
            return loss
        if single:
            grads["hidden"] = grads["hidden"].reshape(self.dim)
        return loss, grads

    def predict(self, hidden):
        """The most probable class of each example (first one on ties): (B,)
        int64, or a 0-d array for one vector.

        >>> model = HierarchicalSoftmax([3, 1], dim=2, seed=0)
        >>> model.node_bias[:] = 5.0   # class 0 is the right child of the root
        >>> model.predict(np.zeros((2, 2)))
        array([0, 0])
        """
        h, weight, bias, single = self._inputs(hidden)
        result = np.empty(h.shape[0], np.int64)
        for start in range(0, h.shape[0], _PREDICT_ROWS):
            block = slice(start, start + _PREDICT_ROWS)
            result[block] = np.argmax(self._log_proba_rows(h[block], weight, bias), axis=1)
        return result.reshape(()) if single else result
