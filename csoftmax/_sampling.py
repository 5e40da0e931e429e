"""Sampling from logits: sample (temperature, top-k, top-p, min-p), top_logprobs
and gumbel_softmax. Validation, per-row parameters and the random numbers in
Python; the passes over the logits in csoftmax._core (src/sampling_impl.h).

Randomness: the uniforms of every row are drawn up front from a
numpy.random.Generator (row after row, num_samples each), and Gumbel noise is a
hash of (a key drawn from the Generator, row, position), so that the draws do
not depend on the thread count.
"""
import math
import operator

import numpy as np

from . import _core
from ._dtypes import compute_dtype, is_generic, result_dtype
from ._threads import threads_for_call
from ._validate import as_numeric_array, positive_int, real_scalar

try:  # NumPy >= 2.0
    from numpy.lib.array_utils import normalize_axis_index
except ImportError:  # pragma: no cover - NumPy 1.x
    from numpy.core.multiarray import normalize_axis_index  # type: ignore[no-redef]

__all__ = ["sample", "top_logprobs", "gumbel_softmax"]


def _logits(logits, axis):
    """logits as a float32/float64 array and the normalised axis (one int)."""
    x = as_numeric_array(logits, "logits")
    dtype = result_dtype(x.dtype, what="logits")
    if is_generic(dtype):
        raise TypeError(f"logits must be real, got dtype {x.dtype}")
    if x.ndim == 0:
        raise ValueError("logits must have at least one dimension (the tokens' axis)")
    if isinstance(axis, (tuple, list)) or axis is None:
        raise TypeError(f"axis must be an integer, got {axis!r}")
    try:
        axis = operator.index(axis)
    except TypeError:
        raise TypeError(f"axis must be an integer, got {type(axis).__name__}") from None
    axis = normalize_axis_index(axis, x.ndim)
    cdtype = compute_dtype(dtype)
    return (x if x.dtype == cdtype else x.astype(cdtype)), axis


def _rows_view(x, axis):
    """The (outer, n, inner) view of x around `axis` (the kernels take any
    strides), copied only where the other axes cannot be merged."""
    shape3 = (math.prod(x.shape[:axis]), x.shape[axis], math.prod(x.shape[axis + 1:]))
    if x.dtype.isnative and x.flags.aligned and all(s % x.itemsize == 0 for s in x.strides):
        try:
            return np.reshape(x, shape3, copy=False)
        except ValueError:
            pass
    return np.ascontiguousarray(x).reshape(shape3)


def _per_row(value, name, x, axis, dtype):
    """A scalar or per-row parameter as one value per row, C order over the
    batch shape (x's shape without axis); the keepdims shape is accepted too."""
    batch = x.shape[:axis] + x.shape[axis + 1:]
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a real number or an array of them, got dtype "
                        f"{array.dtype}")
    if array.ndim > 0:
        keepdims = x.shape[:axis] + (1,) + x.shape[axis + 1:]
        try:
            array = np.broadcast_to(array, batch)
        except ValueError:
            try:
                array = np.broadcast_to(array, keepdims).reshape(batch)
            except ValueError:
                raise ValueError(f"{name} of shape {np.shape(value)} does not broadcast to "
                                 f"the batch shape {batch} (logits' shape {x.shape} without "
                                 f"axis {axis}) nor to {keepdims}") from None
    return np.ascontiguousarray(np.broadcast_to(array, batch), dtype=dtype).reshape(-1)


def _check_range(values, name, ok, expected, value):
    if not np.all(ok(values)):
        bad = values[~ok(values)][0]
        shown = repr(value) if np.ndim(value) == 0 else f"{bad!r} in {name}"
        raise ValueError(f"{name} must be {expected}, got {shown}")


def _temperatures(temperature, x, axis):
    t = _per_row(temperature, "temperature", x, axis, np.float64)
    _check_range(t, "temperature", lambda v: (v > 0) & np.isfinite(v),
                 "finite and > 0", temperature)
    return t


def _top_k(top_k, x, axis):
    """0 (no filter) or each row's k >= 1."""
    if top_k is None:
        return np.zeros(_batch_size(x, axis), np.int64)
    if np.ndim(top_k) == 0:
        k = positive_int(top_k, "top_k")
        return np.full(_batch_size(x, axis), k, np.int64)
    array = np.asarray(top_k)
    if array.dtype.kind not in "iu":
        raise TypeError(f"top_k must be an integer or an array of integers, got dtype "
                        f"{array.dtype}")
    k = _per_row(array, "top_k", x, axis, np.int64)
    _check_range(k, "top_k", lambda v: v >= 1, ">= 1", top_k)
    return k


def _batch_size(x, axis):
    return math.prod(x.shape[:axis] + x.shape[axis + 1:])


def _generator(seed):
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        return np.random.default_rng()
    if isinstance(seed, (bool, np.bool_)):
        raise TypeError("seed must be an int, a numpy.random.Generator or None, got bool")
    try:
        return np.random.default_rng(operator.index(seed))
    except TypeError:
        raise TypeError("seed must be an int, a numpy.random.Generator or None, got "
                        f"{type(seed).__name__}") from None


def sample(logits, *, num_samples=1, temperature=1.0, top_k=None, top_p=None, min_p=None,
           replacement=True, seed=None, return_logprobs=False, axis=-1, num_threads=None):
    """Draw tokens from softmax(logits / temperature) filtered by top_k, top_p, min_p.

    The filters apply in this order with the semantics of Hugging Face
    transformers' TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper
    and MinPLogitsWarper: top_k keeps the k most probable tokens and every tie
    of the k-th; top_p keeps the most probable tokens while the probability
    before them (renormalised over the tokens top_k kept, in the order of a
    stable ascending sort, so among equal logits the higher index first) is
    below top_p; min_p drops the tokens below min_p times the most probable
    one. The most probable token is always kept. Rows are found by selection
    (no sort of the whole row).

    Parameters
    ----------
    logits : array_like
        Logits, the tokens along `axis`; float32 and float64 are computed
        natively, other real dtypes in float32 (half) or float64.
    num_samples : int, default 1
        Draws per row.
    temperature, top_k, top_p, min_p : scalar or array_like, optional
        Each a scalar or one value per row: an array broadcastable to the batch
        shape (logits' shape without axis) or to the keepdims shape.
        temperature finite and > 0; top_k an integer >= 1; top_p in (0, 1];
        min_p in [0, 1]. None: no filter.
    replacement : bool, default True
        False draws distinct tokens in sequence, as torch.multinomial
        (ValueError if a row keeps fewer than num_samples tokens).
    seed : int, numpy.random.Generator or None
        The same int gives the same draws on every call and for any
        num_threads; a Generator is advanced by the call.
    return_logprobs : bool, default False
        Also return each drawn token's log-probability under the processed
        (tempered, filtered, renormalised) distribution; it does not change
        the draws.
    axis : int, default -1
        The tokens' axis.
    num_threads : int, optional
        Threads over rows; None is the library default.

    Returns
    -------
    ndarray of int64, or (ndarray, ndarray)
        Indices of shape batch + (num_samples,); with return_logprobs also
        their log-probabilities (float32 for float32 and half logits, else
        float64). A row holding nan or +inf, or only -inf, raises ValueError.

    Examples
    --------
    >>> import numpy as np
    >>> import csoftmax
    >>> logits = np.array([[2.0, 1.0, 0.5, -1.0], [0.0, 0.0, 0.0, 5.0]])
    >>> csoftmax.sample(logits, top_k=1)
    array([[0],
           [3]])
    >>> idx, lp = csoftmax.sample(logits, num_samples=2, top_p=0.5, replacement=False,
    ...                           top_k=2, seed=0, return_logprobs=True)
    Traceback (most recent call last):
    ...
    ValueError: num_samples=2 distinct tokens requested, but row 0 keeps only 1
    >>> idx, lp = csoftmax.sample(logits, num_samples=3, temperature=0.7, seed=0,
    ...                           return_logprobs=True)
    >>> idx.shape, lp.shape
    ((2, 3), (2, 3))
    >>> bool(np.all(lp <= 0))
    True
    """
    x, axis = _logits(logits, axis)
    num_samples = positive_int(num_samples, "num_samples")
    temperatures = _temperatures(temperature, x, axis)
    ks = _top_k(top_k, x, axis)
    rows = ks.shape[0]
    if top_p is None:
        ps = np.ones(rows)
    else:
        ps = _per_row(top_p, "top_p", x, axis, np.float64)
        _check_range(ps, "top_p", lambda v: (v > 0) & (v <= 1), "in (0, 1]", top_p)
    if min_p is None:
        min_ps = np.zeros(rows)
    else:
        min_ps = _per_row(min_p, "min_p", x, axis, np.float64)
        _check_range(min_ps, "min_p", lambda v: (v >= 0) & (v <= 1), "in [0, 1]", min_p)
    n = x.shape[axis]
    batch = x.shape[:axis] + x.shape[axis + 1:]
    if n == 0 and rows > 0:
        raise ValueError(f"logits has no tokens: its axis {axis} has length 0")
    replacement = bool(replacement)
    if not replacement and rows and num_samples > n:
        raise ValueError(f"num_samples={num_samples} distinct tokens requested, but rows have "
                         f"only {n} tokens")
    threads = threads_for_call(num_threads, x.size)
    uniforms = _generator(seed).random((rows, num_samples))
    index = np.empty((rows, num_samples), np.int64)
    logprob = np.empty((rows, num_samples), x.dtype) if return_logprobs else None
    kept = np.empty(rows, np.int64)
    if rows:
        _core.sample_rows(_rows_view(x, axis), temperatures, ks, ps, min_ps, uniforms,
                          replacement, index, logprob, kept, threads)
    _check_kept(kept, num_samples, replacement, batch)
    index = index.reshape(batch + (num_samples,))
    if return_logprobs:
        return index, logprob.reshape(batch + (num_samples,))
    return index


def _check_kept(kept, num_samples, replacement, batch):
    """ValueError for a row with nothing to draw (or too little without
    replacement), naming the first such row."""
    def where(r):
        return f"row {r}" if len(batch) <= 1 else f"row {np.unravel_index(r, batch)}"

    for code, problem in ((_core.SAMPLE_NOT_FINITE, "holds nan or +inf"),
                          (_core.SAMPLE_NO_MASS, "has every logit -inf")):
        bad = np.flatnonzero(kept == code)
        if bad.size:
            raise ValueError(f"logits {where(bad[0])} {problem}: no distribution to draw from")
    if not replacement:
        short = np.flatnonzero(kept < num_samples)
        if short.size:
            r = short[0]
            raise ValueError(f"num_samples={num_samples} distinct tokens requested, but "
                             f"{where(r)} keeps only {kept[r]}")


def top_logprobs(logits, k, *, temperature=1.0, axis=-1, num_threads=None):
    """The k largest log-probabilities of each row and their indices.

    log_softmax(logits / temperature) along `axis`, its k best entries sorted
    descending (equal logits by increasing index), found by selection without
    writing the full log_softmax.

    Parameters
    ----------
    logits : array_like
        Logits, the tokens along `axis`.
    k : int
        Entries per row, 1 <= k <= the row's length.
    temperature : float, default 1.0
        Finite and > 0.
    axis : int, default -1
    num_threads : int, optional

    Returns
    -------
    (values, indices)
        Arrays of shape batch + (k,): the log-probabilities (float32 for
        float32 and half logits, else float64) and their int64 indices.

    Examples
    --------
    >>> import numpy as np
    >>> import csoftmax
    >>> values, indices = csoftmax.top_logprobs(np.log([[0.1, 0.6, 0.3]]), 2)
    >>> np.exp(values), indices
    (array([[0.6, 0.3]]), array([[1, 2]]))
    """
    x, axis = _logits(logits, axis)
    k = positive_int(k, "k")
    t = real_scalar(temperature, "temperature")
    if not (t > 0 and math.isfinite(t)):
        raise ValueError(f"temperature must be finite and > 0, got {temperature!r}")
    n = x.shape[axis]
    batch = x.shape[:axis] + x.shape[axis + 1:]
    if k > n:
        raise ValueError(f"k={k} exceeds the {n} entries along axis {axis}")
    rows = math.prod(batch)
    values = np.empty((rows, k), x.dtype)
    indices = np.empty((rows, k), np.int64)
    if rows:
        _core.top_logprobs_rows(_rows_view(x, axis), t, values, indices,
                                threads_for_call(num_threads, x.size))
    return values.reshape(batch + (k,)), indices.reshape(batch + (k,))


def _noisy_logits(x, tau, axis, seed, num_threads):
    """(x + g) / tau with x's shape (C-contiguous), g standard Gumbel noise of
    (a key drawn from seed, row, position along axis)."""
    axis = normalize_axis_index(axis, x.ndim)
    key = int(_generator(seed).integers(0, 2**64, dtype=np.uint64))
    y = np.empty(x.shape, x.dtype)
    if y.size:
        _core.gumbel_logits(_rows_view(x, axis), _rows_view(y, axis), key, tau,
                            threads_for_call(num_threads, x.size))
    return y


def gumbel_softmax(logits, tau=1.0, *, hard=False, axis=-1, seed=None, num_threads=None):
    """softmax((logits + g) / tau) along `axis`, g ~ Gumbel(0, 1) per element.

    torch.nn.functional.gumbel_softmax's semantics: hard=True returns the
    one-hot of the argmax (in the logits' dtype). The same seed gives the same
    noise whatever tau and hard are, and for any num_threads. The gradient of
    the soft result y is softmax_backward(g, y) / tau.

    Parameters
    ----------
    logits : array_like
    tau : float, default 1.0
        Finite and > 0.
    hard : bool, default False
    axis : int, default -1
    seed : int, numpy.random.Generator or None
    num_threads : int, optional

    Returns
    -------
    ndarray
        logits' shape; float32 for float32 and half logits, else float64.

    Examples
    --------
    >>> import numpy as np
    >>> import csoftmax
    >>> y = csoftmax.gumbel_softmax(np.zeros((2, 3)), tau=0.5, seed=0)
    >>> np.allclose(y.sum(axis=-1), 1)
    True
    >>> csoftmax.gumbel_softmax(np.array([[0.0, 30.0, 0.0]]), hard=True, seed=0)
    array([[0., 1., 0.]])
    """
    x, axis = _logits(logits, axis)
    t = real_scalar(tau, "tau")
    if not (t > 0 and math.isfinite(t)):
        raise ValueError(f"tau must be finite and > 0, got {tau!r}")
    y = _noisy_logits(x, t, axis, seed, num_threads)
    from ._api import softmax

    softmax(y, axis=axis, out=y, num_threads=num_threads)
    if not hard:
        return y
    one_hot = np.zeros_like(y)
    np.put_along_axis(one_hot, np.argmax(y, axis=axis, keepdims=True), 1, axis=axis)
    return one_hot
