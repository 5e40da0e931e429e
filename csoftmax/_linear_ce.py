"""Fused linear cross-entropy: the loss of logits = hidden @ weight.T + bias
without the (N, V) logits (or their gradient) ever being held.

The rows are processed a tile at a time (a block of rows times the whole
vocabulary, so nothing is computed twice; where that tile would be thinner
than _MIN_TILE_ROWS rows, the vocabulary is chunked instead, see
_by_vocabulary_chunks): the tile's logits by BLAS (NumPy's matmul into a
preallocated tile), then, while the tile is in cache, the compiled kernels
take its soft-capping (_core.softcap_rows), its per-row losses
(_core.cross_entropy_rows, the kernel behind cross_entropy, loss only), its
log-sum-exps (_core.logsumexp_last_axis) and, with the gradients, turn the
tile into d_logits in place (_core.linear_ce_grad: softmax, label smoothing,
z-loss and the cap's chain rule in one pass); the tile's share of d_hidden,
d_weight and d_bias is then added by BLAS before the next tile overwrites it.

Memory: one tile of `chunk_size` rows (columns when the vocabulary is
chunked), plus a scratch set per piece under way (a bounded buffer for
d_weight's accumulation, a partial of d_hidden). chunk_size=None sizes the
tile and the sets (_Plan) to keep the extra memory within 4% of the logits'
size, less what each thread's BLAS and stack touch (large logits), or within
2^20 elements (small ones).

Threads: BLAS runs on one thread during the call (threadpoolctl), and the
products are split into fixed pieces that do not depend on the thread count
(vocabulary slabs, see _slab_starts: the logits, d_weight, d_bias and
d_hidden's partial products, which are added in slab order), run
by num_threads Python threads (BLAS releases the GIL), each taking the next
piece when it is free (_Pieces); the compiled kernels
run on num_threads OpenMP threads. OpenBLAS's own threading changes the last
bits of a product with its thread count; these fixed pieces do not, and
d_weight is summed over the tiles in row order, so the results are bitwise
identical for any num_threads. Another chunk_size changes them only within
rounding (the products are formed in other blocks). Without threadpoolctl
installed the products run on BLAS's own threads instead (the same results
within rounding).
"""
import collections
import contextlib
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import _core
from ._dtypes import compute_dtype
from ._threads import threads_for_call
from ._reductions import finish, grad_scale
from ._validate import (
    check_reduction, check_smoothing, check_softcap, check_z_loss, class_labels, float_input,
    index_value, positive_int,
)

__all__ = ["linear_cross_entropy"]

# d_weight's tile contributions are formed in pieces of at most this many
# elements (a buffer of this size per scratch set) and added to it.
_SLAB_ELEMENTS = 1 << 18

# A call's extra memory (chunk_size=None): the tile, the scratch sets and what
# every thread's BLAS buffers and stack touch (_THREAD_BYTES) stay within
# 1 / _EXTRA_SHARE of the logits' size, or 1 / (2 _EXTRA_SHARE) where the
# threads' share would leave less, but may be _MIN_EXTRA_ELEMENTS in any case
# (small logits); the tile at most _MAX_TILE_ELEMENTS.
_EXTRA_SHARE = 25
_THREAD_BYTES = 3 << 17
_MIN_EXTRA_ELEMENTS = 1 << 20
_MAX_TILE_ELEMENTS = 1 << 22

# The products' fixed pieces: a tile's columns (rows of weight) in
# _SLABS_PER_TILE slabs (enough for as many threads), each of _MIN_SLAB to
# _MAX_SLAB columns (fewer make small products, more leave threads idle).
_SLABS_PER_TILE = 32
_MIN_SLAB = 512
_MAX_SLAB = 4096

# Tiles of fewer rows than this run the products well below BLAS's speed (each
# tile repacks the weight): where the default row tile would be that thin and
# d_hidden is small beside the logits (V >= _VOCABULARY_PER_FEATURE D), the
# vocabulary is chunked instead (all rows times a slab of the vocabulary; the
# logits are computed twice, once for the log-sum-exps, once for the gradient).
_MIN_TILE_ROWS = 128
_VOCABULARY_PER_FEATURE = 100

_blas_controller = None


def _one_blas_thread():
    """A context in which BLAS runs on one thread (a no-op without threadpoolctl)."""
    global _blas_controller
    if _blas_controller is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            return contextlib.nullcontext()
        _blas_controller = ThreadpoolController()
    return _blas_controller.limit(limits=1, user_api="blas")



def _operands(hidden, weight, target, bias):
    """hidden (N, D), weight (V, D), bias (V,) or None in their compute dtype,
    the result dtype and the batch shape; ValueError naming both shapes where
    they do not fit."""
    h, h_dtype = float_input(hidden, "hidden")
    w, w_dtype = float_input(weight, "weight")
    if h.ndim < 1:
        raise ValueError(f"hidden must have at least one dimension (the features D), "
                         f"got shape {h.shape}")
    if w.ndim != 2:
        raise ValueError(f"weight must have shape (V, D) (torch.nn.Linear's layout), "
                         f"got shape {w.shape}")
    if h.shape[-1] != w.shape[1]:
        raise ValueError(f"hidden has shape {h.shape} and weight has shape {w.shape}: hidden's "
                         f"last dimension must equal weight's second (D)")
    rdtype = np.promote_types(h_dtype, w_dtype)
    b = None
    if bias is not None:
        b, b_dtype = float_input(bias, "bias")
        if b.shape != (w.shape[0],):
            raise ValueError(f"bias has shape {b.shape} and weight has shape {w.shape}: bias "
                             f"must have shape ({w.shape[0]},), one entry per row of weight")
        rdtype = np.promote_types(rdtype, b_dtype)
    batch_shape = h.shape[:-1]
    target_shape = np.shape(target)
    if target_shape != batch_shape:
        raise ValueError(f"target has shape {target_shape} and hidden has shape {h.shape}: "
                         f"target must have hidden's shape without its last axis, "
                         f"{batch_shape}")
    cdtype = compute_dtype(rdtype)
    h = np.ascontiguousarray(h.reshape(-1, h.shape[-1]), dtype=cdtype)
    w = np.ascontiguousarray(w, dtype=cdtype)  # one layout: the same bits for any view
    if b is not None:
        b = np.ascontiguousarray(b, dtype=cdtype)
    return h, w, b, rdtype, batch_shape


def _machine_threads():
    """The threads this process may run on (its CPU affinity)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


class _Plan:
    """How a call is cut: `by_vocabulary`, the tile (`tile_rows` rows of the
    whole vocabulary, or all rows times `columns` of it), the rows of a
    scratch set's d_weight buffer (`d_weight_rows`) and the most scratch sets
    (`sets`: pieces of the gradient products under way, up to one more than
    the threads), such that the extra memory stays within the budget (see
    _EXTRA_SHARE). The cut is sized for as many threads as the machine runs,
    whatever num_threads is, so that the results do not depend on it. A
    chunk_size given sets the tile's rows (or columns) whatever the budget."""

    def __init__(self, rows, vocabulary, features, itemsize, chunk_size):
        threads = _machine_threads()
        logits = rows * vocabulary
        budget = max(logits // _EXTRA_SHARE - threads * _THREAD_BYTES // itemsize,
                     logits // (2 * _EXTRA_SHARE), _MIN_EXTRA_ELEMENTS)  # elements
        features = max(features, 1)
        sets = threads + 1 if threads > 1 else 1
        self.d_weight_rows = max(1, min(_SLAB_ELEMENTS, budget // (4 * sets)) // features)
        tile_rows = (budget - sets * self.d_weight_rows * features) // (vocabulary + sets * features)
        tile_rows = max(1, min(tile_rows, _MAX_TILE_ELEMENTS // vocabulary, rows))
        self.by_vocabulary = (tile_rows < min(_MIN_TILE_ROWS, rows)
                              and vocabulary >= _VOCABULARY_PER_FEATURE * features)
        if self.by_vocabulary:
            # each set holds a partial of d_hidden (rows, D); they take at most half the budget
            sets = max(1, min(sets, budget // (2 * rows * features)))
            columns = (budget - sets * rows * features) // rows
            self.columns = min(chunk_size or max(1, columns), vocabulary)
            tile_rows = rows
        else:
            tile_rows = min(chunk_size or tile_rows, max(rows, 1))
        self.tile_rows, self.sets = tile_rows, sets


class _Pieces:
    """Runs a tile's products as fixed pieces over `threads` Python threads
    (or inline for one). A thread takes the next piece as soon as it is free
    (no round waits for its slowest piece), and up to `sets` pieces are under
    way or done but not yet taken; each of those holds a scratch set of its
    own (see buffer), handed to the next piece once its result is taken.
    d_weight_rows: the rows of a set's d_weight buffer."""

    def __init__(self, threads, sets, d_weight_rows, dtype):
        self.pool = ThreadPoolExecutor(threads) if threads > 1 else None
        self.dtype = dtype
        self.d_weight_rows = d_weight_rows
        self.scratch_sets = [{} for _ in range(sets if threads > 1 else 1)]

    def run(self, function, starts):
        """function(start, scratch) for every start; yields the results in the
        order of `starts`. A result may live in its scratch arrays: they are
        not reused before the consumer asks for the next result."""
        if self.pool is None:
            for start in starts:
                yield function(start, self.scratch_sets[0])
            return
        free = list(self.scratch_sets)
        under_way = collections.deque()
        for start in starts:
            if not free:
                future, scratch = under_way.popleft()
                yield future.result()
                free.append(scratch)
            scratch = free.pop()
            under_way.append((self.pool.submit(function, start, scratch), scratch))
        while under_way:
            future, scratch = under_way.popleft()
            yield future.result()

    def buffer(self, scratch, name, rows, columns):
        """The scratch set's array `name`, its first `rows` rows (kept for the
        set's next pieces)."""
        array = scratch.get(name)
        if array is None or array.shape[0] < rows or array.shape[1] != columns:
            array = scratch[name] = np.empty((rows, columns), self.dtype)
        return array[:rows]

    def close(self):
        if self.pool is not None:
            self.pool.shutdown()


def _slab_starts(columns):
    """The first column of every slab of a tile of `columns` columns (its
    pieces depend on the tile alone, not on the thread count), and the width."""
    width = min(_MAX_SLAB, max(_MIN_SLAB, -(-columns // _SLABS_PER_TILE)))
    return range(0, columns, width), width


def _tile_products(pieces, w, b, h_block, logits):
    """logits = h_block @ w.T + b, by vocabulary slabs."""
    starts, width = _slab_starts(w.shape[0])

    def slab(lo, scratch):
        hi = min(lo + width, w.shape[0])
        np.matmul(h_block, w[lo:hi].T, out=logits[:, lo:hi])
        if b is not None:
            logits[:, lo:hi] += b[lo:hi]

    for _ in pieces.run(slab, starts):
        pass


def _tile_gradients(pieces, w, h_block, d_logits, d_hidden_block, d_weight, d_bias,
                    fresh=False):
    """d_hidden_block += d_logits @ w, d_weight += d_logits.T @ h_block and
    d_bias += d_logits' column sums (fresh: d_weight and d_bias are written,
    these rows being theirs alone), by vocabulary slabs: each slab adds its
    share of d_weight in pieces of its scratch buffer (no temporary as large
    as d_weight) and returns its partial product of d_hidden (in its
    scratch), and those are added in slab order."""
    vocabulary, features = w.shape
    starts, width = _slab_starts(vocabulary)
    step = min(width, pieces.d_weight_rows)

    def slab(lo, scratch):
        hi = min(lo + width, vocabulary)
        if fresh:
            np.matmul(d_logits[:, lo:hi].T, h_block, out=d_weight[lo:hi])
        else:
            buffer = pieces.buffer(scratch, "d_weight", step, features)
            for start in range(lo, hi, step):
                stop = min(start + step, hi)
                part = buffer[:stop - start]
                np.matmul(d_logits[:, start:stop].T, h_block, out=part)
                d_weight[start:stop] += part
        if d_bias is not None:
            column_sums = np.add.reduce(d_logits[:, lo:hi], axis=0)
            if fresh:
                d_bias[lo:hi] = column_sums
            else:
                d_bias[lo:hi] += column_sums
        partial = pieces.buffer(scratch, "d_hidden", d_logits.shape[0], features)
        return np.matmul(d_logits[:, lo:hi], w[lo:hi], out=partial)

    for partial in pieces.run(slab, starts):
        d_hidden_block += partial


def _by_vocabulary_chunks(pieces, h, w, b, labels, ignore_index, eps, z_loss, cap, scale,
                          chunk, row_losses, lse, grads, threads):
    """The vocabulary-chunked sweeps: (1) every chunk's logits for the rows'
    log-sum-exps (combined in float64), target logits and (label smoothing)
    logit sums, hence the losses; (2) with grads, every chunk's logits again,
    turned into d_logits in place (_core.vocabulary_chunk_grad), and its share
    of the gradients: d_weight and d_bias of the chunk's rows, d_hidden added
    in chunk order."""
    rows, features = h.shape
    vocabulary = w.shape[0]
    dtype = h.dtype
    flat_tile = np.empty(rows * chunk, dtype)
    part = np.empty(rows, dtype)
    total = np.full(rows, -np.inf)
    picked = np.zeros(rows)
    sums = np.zeros(rows) if eps else None
    kept = labels != ignore_index
    index = np.arange(rows)

    def logits_of(lo, hi):
        tile = flat_tile[:rows * (hi - lo)].reshape(rows, hi - lo)
        _tile_products(pieces, w[lo:hi], None if b is None else b[lo:hi], h, tile)
        if cap:
            _core.softcap_rows(tile, cap, threads)
        return tile

    for lo in range(0, vocabulary, chunk):
        hi = min(lo + chunk, vocabulary)
        tile = logits_of(lo, hi)
        _core.logsumexp_last_axis(tile, part, threads)
        np.logaddexp(total, part, out=total)
        inside = kept & (labels >= lo) & (labels < hi)
        picked[inside] = tile[index[inside], labels[inside] - lo]
        if sums is not None:
            sums += np.add.reduce(tile, axis=1, dtype=np.float64)
    losses = total - (1 - eps) * picked + z_loss * total * total
    if sums is not None:
        losses -= eps / vocabulary * sums
    row_losses[:] = np.where(kept, losses, 0.0)
    if lse is not None:
        lse[:] = total
    if grads is None:
        return
    d_hidden, d_weight, d_bias = grads
    final_lse = total.astype(dtype)
    for lo in range(0, vocabulary, chunk):
        hi = min(lo + chunk, vocabulary)
        tile = logits_of(lo, hi)
        _core.linear_ce_grad(tile, final_lse, labels, lo, ignore_index, eps, vocabulary, z_loss,
                             cap or 0.0, scale, threads)
        _tile_gradients(pieces, w[lo:hi], h, tile, d_hidden, d_weight[lo:hi],
                        None if d_bias is None else d_bias[lo:hi], fresh=True)


def linear_cross_entropy(hidden, weight, target, bias=None, *, ignore_index=-100,
                         label_smoothing=0.0, z_loss=0.0, softcap=None, reduction="mean",
                         return_lse=False, return_grad=False, chunk_size=None,
                         num_threads=None):
    """Cross-entropy of logits = hidden @ weight.T + bias against class
    indices, without materialising the (N, V) logits or their gradient.

    Equal to cross_entropy(hidden @ weight.T + bias, target, ...) (and to
    PyTorch's F.cross_entropy(F.linear(hidden, weight, bias), target)),
    computed a tile of rows at a time: the extra memory is O(tile), by
    default under 5% of the logits' size.

    Parameters
    ----------
    hidden : array_like, shape (N, D) or (..., D)
    weight : array_like, shape (V, D)
        torch.nn.Linear's layout (one row per class).
    target : array_like of int, hidden's shape without the last axis
        Class indices in [0, V), or ignore_index.
    bias : array_like, shape (V,), optional
    ignore_index : int, default -100
        Rows with this target add nothing and are left out of the 'mean'.
    label_smoothing : float in [0, 1]
        PyTorch's label smoothing.
    z_loss : float >= 0
        PaLM's z-loss: z_loss * lse**2 added to every non-ignored row.
    softcap : float > 0, optional
        The logits are softcap * tanh(logits / softcap) (Gemma 2).
    reduction : {'mean', 'sum', 'none'}
        'mean' over the non-ignored rows (nan if none), 'none' in the
        target's shape.
    return_lse : bool
        Also return the log-sum-exp of every row's (soft-capped) logits, in
        the target's shape (ignored rows included).
    return_grad : bool
        Also return (d_hidden, d_weight, d_bias), the gradients of the
        reduced loss (of loss.sum() for 'none'); d_bias is None without bias.
    chunk_size : int, optional
        Rows per tile (vocabulary columns where the vocabulary is chunked,
        for few rows and a large vocabulary); None picks one that keeps the
        extra memory under 5% of the logits.
        Results agree within rounding for any chunk_size.
    num_threads : int, optional
        Threads of the compiled kernels (the products use BLAS's threads).
        Results do not depend on it.

    Returns
    -------
    loss, or (loss, lse), (loss, (d_hidden, d_weight, d_bias)) or
    (loss, lse, (d_hidden, d_weight, d_bias)).

    Examples
    --------
    >>> import numpy as np
    >>> import csoftmax
    >>> hidden = np.array([[1.0, 0.0], [0.0, 2.0]])
    >>> weight = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> target = np.array([0, 2])
    >>> round(float(csoftmax.linear_cross_entropy(hidden, weight, target)), 10)
    0.8103092399
    >>> loss, (d_hidden, d_weight, d_bias) = csoftmax.linear_cross_entropy(
    ...     hidden, weight, target, return_grad=True)
    >>> d_hidden.round(4)
    array([[-0.0777,  0.2888],
           [-0.2342, -0.0317]])
    """
    h, w, b, rdtype, batch_shape = _operands(hidden, weight, target, bias)
    rows, vocabulary = h.shape[0], w.shape[0]
    reduction = check_reduction(reduction)
    eps = check_smoothing(label_smoothing)
    z_loss = check_z_loss(z_loss)
    cap = check_softcap(softcap)
    ignore_index = index_value(ignore_index, "ignore_index")
    if chunk_size is not None:
        chunk_size = positive_int(chunk_size, "chunk_size")
    threads = threads_for_call(num_threads, rows * vocabulary)
    plan = _Plan(rows, max(vocabulary, 1), h.shape[1], h.dtype.itemsize, chunk_size)
    by_vocabulary, tile_rows = plan.by_vocabulary, plan.tile_rows
    labels = class_labels(target, batch_shape, vocabulary, ignore_index).reshape(-1)

    denominator = float(np.count_nonzero(labels != ignore_index)) if reduction == "mean" else 1.0
    scale = grad_scale(reduction, denominator)
    dtype = h.dtype
    row_losses = np.zeros(rows, np.float64)
    want_lse = return_lse or z_loss != 0 or return_grad
    lse = np.full(rows, -np.inf, dtype) if want_lse else None
    tile = np.empty((0 if by_vocabulary else tile_rows, vocabulary), dtype)
    if return_grad:
        d_hidden = np.zeros(h.shape, dtype)
        d_weight = np.zeros(w.shape, dtype)
        d_bias = None if b is None else np.zeros(vocabulary, dtype)
    pieces = _Pieces(threads, min(plan.sets, threads + 1), plan.d_weight_rows, dtype)
    try:
        with _one_blas_thread():
            if by_vocabulary:
                _by_vocabulary_chunks(pieces, h, w, b, labels, ignore_index, eps, z_loss, cap,
                                      scale, plan.columns, row_losses,
                                      lse if want_lse else None,
                                      (d_hidden, d_weight, d_bias) if return_grad else None,
                                      threads)
            for lo in range(0, rows if vocabulary and not by_vocabulary else 0, tile_rows):
                hi = min(lo + tile_rows, rows)
                h_block, y_block, loss_block = h[lo:hi], labels[lo:hi], row_losses[lo:hi]
                logits = tile[:hi - lo]
                _tile_products(pieces, w, b, h_block, logits)
                if cap:
                    _core.softcap_rows(logits, cap, threads)
                _core.cross_entropy_rows(logits, y_block, None, loss_block, None, ignore_index,
                                         eps, float(vocabulary), scale, False, 0.0, 1.0, threads)
                if want_lse:
                    _core.logsumexp_last_axis(logits, lse[lo:hi], threads)
                if z_loss:
                    kept = y_block != ignore_index
                    loss_block[kept] += z_loss * np.square(lse[lo:hi][kept], dtype=np.float64)
                if return_grad:
                    _core.linear_ce_grad(logits, lse[lo:hi], y_block, 0, ignore_index, eps,
                                         vocabulary, z_loss, cap or 0.0, scale, threads)
                    _tile_gradients(pieces, w, h_block, logits, d_hidden[lo:hi], d_weight,
                                    d_bias)
    finally:
        pieces.close()

    loss = finish(row_losses, reduction, denominator, rdtype, batch_shape)
    result = [loss]
    if return_lse:
        result.append(lse.reshape(batch_shape).astype(rdtype, copy=False))
    if return_grad:
        grads = (d_hidden.reshape(batch_shape + (h.shape[1],)).astype(rdtype, copy=False),
                 d_weight.astype(rdtype, copy=False),
                 None if d_bias is None else d_bias.astype(rdtype, copy=False))
        result.append(grads)
    return result[0] if len(result) == 1 else tuple(result)
