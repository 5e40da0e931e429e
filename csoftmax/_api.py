"""softmax, log_softmax and logsumexp: validation, dtype and layout policy in
Python; the arithmetic runs in csoftmax._core (or csoftmax._generic for
complex and longdouble input)."""
import math

import numpy as np

from . import _core, _generic
from ._dtypes import KERNEL_DTYPES, compute_dtype, is_generic, result_dtype
from ._layout import (
    Reduction, StridedReduction, as_1d_if_0d, broadcast_mask, check_out, deliver,
    evenly_strided, reduction_axes, same_memory_layout, tiled_storage,
)
from ._threads import threads_for_call
from ._validate import (
    as_numeric_array, check_temperature, is_dask_array, lazy_through_dask,
)

__all__ = ["softmax", "log_softmax", "logsumexp"]


def _temperatures(temperature, shape, axes):
    """A float, or for one temperature per slice an array of the keepdims
    shape. Per-slice values may be given broadcastable to the batch shape (the
    shape without the reduced axes) or to the keepdims shape; each must be
    > 0. The errors name the argument and, for shapes, both shapes."""
    if np.ndim(temperature) == 0:
        return check_temperature(temperature)
    t = np.asarray(temperature)
    if t.dtype.kind not in "biuf":
        raise TypeError(f"temperature must hold real numbers, got dtype {t.dtype}")
    batch = tuple(n for i, n in enumerate(shape) if i not in axes)
    keepdims = tuple(1 if i in axes else n for i, n in enumerate(shape))
    try:
        per_slice = np.expand_dims(np.broadcast_to(t, batch), axes)
    except ValueError:
        try:
            per_slice = np.broadcast_to(t, keepdims)
        except ValueError:
            raise ValueError(f"temperature with shape {t.shape} broadcasts neither to the "
                             f"batch shape {batch} nor to the keepdims shape {keepdims}") from None
    bad = ~(per_slice > 0)  # also nan
    if bad.any():
        position = tuple(int(i) for i in np.unravel_index(np.flatnonzero(bad)[0], bad.shape))
        raise ValueError(f"temperature must be > 0, got {float(per_slice[position])!r} for the slice "
                         f"at {position} (keepdims shape {keepdims})")
    return per_slice


def _overflowing_slices(x, axes):
    """Mask (keepdims) of the slices whose max - min overflows although both are
    finite, or None if there are none."""
    with np.errstate(all="ignore"):
        high = np.max(x, axis=axes, keepdims=True)
        low = np.min(x, axis=axes, keepdims=True)
        bad = np.isfinite(high) & np.isfinite(low) & np.isinf(high - low)
    return bad if bad.any() else None


def _normalize(x, axis, temperature, where, dtype, out, num_threads, log):
    """Shared body of softmax and log_softmax: validation and dtype policy."""
    x = as_numeric_array(x)
    rdtype = result_dtype(x.dtype, dtype)
    if out is not None:
        check_out(out, x.shape, rdtype)
    mask = None if where is None else broadcast_mask(where, x.shape)
    threads = threads_for_call(num_threads, x.size)
    shape = x.shape
    x, axis = as_1d_if_0d(x, axis)
    axes = reduction_axes(axis, x.ndim)
    t = _temperatures(temperature, x.shape, axes)
    if mask is not None:
        mask = mask.reshape(x.shape)

    if is_generic(rdtype):
        result = _generic.normalize(x.astype(rdtype), axes, t, mask, log).reshape(shape)
        return deliver(result, out)

    cdtype = compute_dtype(rdtype)
    source = _tiled_source(x, cdtype)
    target = out.reshape(x.shape) if out is not None else None
    # The kernels compute (x - max) / t. Where x - max overflows while x / t
    # does not (t > 1, values near the dtype's max), log_softmax takes x / t - max / t
    # and softmax's exp rounds to 0 either way, unless t is so large (above the
    # dtype's max / 1024) that it need not: those slices are redone from x / t.
    per_slice = np.ndim(t) > 0  # one temperature per slice: x / t formed in advance
    if per_slice:
        t = t.astype(cdtype)
    # x / t is formed in advance for one temperature per slice and where 1 / t
    # is not representable
    pre_divide = per_slice or not math.isfinite(float(cdtype.type(1.0 / t)))
    overflow_check = not per_slice and t > float(np.finfo(cdtype).max) / 1024 and source.size
    if pre_divide or overflow_check:
        with np.errstate(over="ignore"):
            computed = source.astype(cdtype, copy=False)
    overflowing = _overflowing_slices(computed, axes) if overflow_check else None
    if pre_divide:
        with np.errstate(over="ignore"):
            source = computed / t
    scale = 1.0 if pre_divide else 1.0 / t
    fixed = None
    if overflowing is not None:  # before the kernels write: out may be x
        with np.errstate(over="ignore"):
            fixed = _normalize_kernel(computed / t, axes, 1.0, mask, log, None, rdtype, threads)
    result = _normalize_kernel(source, axes, scale, mask, log, target, rdtype, threads)
    if fixed is not None:
        np.copyto(result, fixed, where=overflowing)
    return deliver(result.reshape(shape), out)


def _tiled_source(x, cdtype):
    """x itself where the compiled code loads its dtype, else x in the compute
    dtype (integers, bool, non-native byte order)."""
    if tiled_storage(x.dtype):
        return x
    with np.errstate(over="ignore"):  # dtype= may narrow values to +-inf
        return x.astype(cdtype)


def _normalize_kernel(source, axes, scale, mask, log, target, rdtype, threads):
    """softmax or log_softmax of `source` over `axes` by the compiled code, into
    `target` (any layout) or a new array of the result dtype in source's memory
    order; returns the array written. Computes in the compute dtype of rdtype;
    reads source, target and mask by their strides (tiles where the kernels
    cannot read them in place)."""
    cdtype = compute_dtype(rdtype)
    result = target
    if result is None or (np.may_share_memory(result, source)
                          and not same_memory_layout(result, source)):
        result = np.empty_like(source, dtype=rdtype)  # order K: the input's memory order
    if not result.size:
        return _written(result, target)
    geometry = Reduction(source.shape, axes)
    arranged = [geometry.arranged(source), geometry.arranged(result)]
    if mask is not None:
        arranged.append(geometry.arranged(mask))
    for k in (0, 2)[: len(arranged) - 1]:  # inputs whose reduced axes do not take one step
        if not evenly_strided(geometry, arranged[k]):
            arranged[k] = np.ascontiguousarray(arranged[k])
    written = arranged[1]
    if not evenly_strided(geometry, written):
        arranged[1] = np.empty(written.shape, rdtype)
    plan = StridedReduction(geometry, arranged)
    direct = (mask is None and arranged[0].dtype == cdtype and arranged[1].dtype == cdtype
              and plan.in_place(0, arranged[0]) and plan.in_place(1, arranged[1]))
    for _, offsets in plan.calls():
        _core.normalize_strided(
            arranged[0], plan.steps(0, offsets[0]), arranged[1], plan.steps(1, offsets[1]),
            None if mask is None else arranged[2],
            () if mask is None else plan.steps(2, offsets[2]),
            plan.outer, plan.n, plan.inner, cdtype == np.float64, direct, log, scale,
            mask is not None, threads)
    if arranged[1] is not written:
        np.copyto(written, arranged[1])
    return _written(result, target)


def _written(result, target):
    """The array the caller gets: target once result (a buffer) is copied into it."""
    if target is not None and result is not target:
        np.copyto(target, result)
        return target
    return result


def _logsumexp_kernel(x, weights, mask, t, geometry, rdtype, return_sign, threads):
    """logsumexp of x (weights and mask of x's shape, or None) by the compiled
    code, reading every operand by its strides; returns (result, sign or None)
    of the reduced shape in the result dtype."""
    cdtype = compute_dtype(rdtype)
    divisor = 1.0
    source = _tiled_source(x, cdtype)
    if np.ndim(t):  # one temperature per slice: x / t formed in advance
        with np.errstate(over="ignore"):
            source = source.astype(cdtype, copy=False) / t.astype(cdtype)
    elif t != 1.0:
        divisor = t
    outer, n, inner = geometry.shape3
    arranged = [geometry.arranged(source)]
    if weights is not None:
        arranged.append(geometry.arranged(_tiled_source(weights, cdtype)))
    if mask is not None:
        arranged.append(geometry.arranged(mask.reshape(x.shape)))
    arranged = [a if evenly_strided(geometry, a) else np.ascontiguousarray(a) for a in arranged]
    plan = StridedReduction(geometry, arranged)
    buffer_shape = tuple(length for length, _ in plan.loops) + (plan.outer, inner)
    result = np.empty(buffer_shape, cdtype)
    sign = np.empty(buffer_shape, cdtype) if return_sign else None
    if n == 0:
        result.fill(-np.inf)
        if return_sign:
            sign.fill(-1.0)  # SciPy: sign(-inf)
    elif result.size:
        direct = (mask is None and divisor == 1.0 and all(a.dtype == cdtype for a in arranged)
                  and plan.in_place(0, arranged[0])
                  and (weights is None or arranged[1].strides == arranged[0].strides))
        flat_result = result.reshape(-1, plan.outer, inner)
        flat_sign = None if sign is None else sign.reshape(-1, plan.outer, inner)
        has_b = weights is not None
        for index, offsets in plan.calls():
            _core.logsumexp_strided(
                arranged[0], plan.steps(0, offsets[0]),
                arranged[1] if has_b else None, plan.steps(1, offsets[1]) if has_b else (),
                None if mask is None else arranged[-1],
                plan.steps(len(arranged) - 1, offsets[-1]) if mask is not None else (),
                flat_result[index], None if sign is None else flat_sign[index],
                plan.outer, n, inner, direct, divisor, return_sign, threads)
    with np.errstate(over="ignore"):  # float16 results may round to +-inf
        result = plan.reduced(result, geometry.reduced_shape).astype(rdtype, copy=False)
    if sign is not None:
        sign = plan.reduced(sign, geometry.reduced_shape).astype(rdtype, copy=False)
    return result, sign


def _is_unit_temperature(temperature):
    """temperature=1 given as a Python number (anything else is validated)."""
    return type(temperature) in (float, int) and temperature == 1


def _takes_fast_path(x, axis, temperature, where, dtype, out):
    """The common call (a C-contiguous float32/float64 array, the last axis, no
    options) skips the general layout machinery: it dominates small inputs."""
    return (type(x) is np.ndarray and out is None and where is None and dtype is None
            and _is_unit_temperature(temperature) and x.ndim > 0 and x.size > 0
            and type(axis) is int and (axis == -1 or axis == x.ndim - 1)  # not 1.0
            and x.dtype in KERNEL_DTYPES
            and x.flags.c_contiguous)


def _normalize_fast(x, num_threads, log):
    y = np.empty_like(x)
    _core.normalize_last_axis(x, y, log, threads_for_call(num_threads, x.size))
    return y


def _is_plain_call(axis, temperature, where, dtype, out, num_threads):
    """No options but perhaps a valid thread count (small inputs use one thread)."""
    return (type(axis) is int and axis == -1 and _is_unit_temperature(temperature)
            and where is None
            and dtype is None and out is None
            and (num_threads is None or (type(num_threads) is int and num_threads >= 1)))


def _dispatch(x, axis, temperature, where, dtype, out, num_threads, log):
    """softmax or log_softmax by the cheapest path that applies: small plain
    inputs in one compiled call, contiguous last-axis input without the layout
    machinery, anything else through _normalize; dask arrays lazily through
    csoftmax.dask."""
    if type(x) is not np.ndarray and is_dask_array(x):  # no call on the common path
        return lazy_through_dask("log_softmax" if log else "softmax", x, (axis,),
                                 dict(temperature=temperature, where=where, dtype=dtype),
                                 out, num_threads)
    if _is_plain_call(axis, temperature, where, dtype, out, num_threads):
        y = _core.normalize_small(x, log)
        if y is not None:
            return y
    if _takes_fast_path(x, axis, temperature, where, dtype, out):
        return _normalize_fast(x, num_threads, log)
    return _normalize(x, axis, temperature, where, dtype, out, num_threads, log)


def softmax(x, axis=-1, *, temperature=1.0, where=None, dtype=None, out=None, num_threads=None):
    """Softmax of `x` along `axis`: exp(x) / sum(exp(x)), computed stably.

    Parameters
    ----------
    x : array_like
        Input. float32 and float64 are computed natively; float16 (and
        bfloat16) in float32 and returned in their dtype; bool and integers
        become float64; complex follows scipy.special.softmax.
    axis : int or tuple of ints, default -1
        Axis or axes the softmax is normalised over (None: all).
    temperature : float or array_like, default 1.0
        Computes softmax(x / temperature); a scalar never forms x /
        temperature. One value per slice (per row) is an array broadcastable
        to the batch shape (x's shape without `axis`) or to the keepdims shape
        (x's shape with `axis` kept at length 1); x / temperature is then
        formed in the output buffer. Must be > 0.
    where : array_like of bool, optional
        Mask broadcastable to x. Masked-out entries act as -inf and get 0; a
        fully masked slice gives 0 everywhere (JAX semantics). A slice whose
        unmasked entries are all -inf is treated as fully masked too.
    dtype : dtype, optional
        The compute and result dtype (e.g. float64 for float32 input).
    out : ndarray, optional
        Where to write the result: the input's shape and the result dtype;
        may be x itself (in place) or a strided view. It is returned.
    num_threads : int, optional
        Threads to use; None is the library default (`set_num_threads`).
        Results are bitwise identical for any thread count.

    Returns
    -------
    ndarray
        Same shape as x. Slices holding nan or +inf give nan; a slice of all
        -inf gives nan (as SciPy).

    Examples
    --------
    >>> import numpy as np
    >>> import csoftmax
    >>> csoftmax.softmax(np.array([1.0, 2.0, 3.0]))
    array([0.09003057, 0.24472847, 0.66524096])
    >>> csoftmax.softmax(np.array([[1.0, 1.0], [0.0, 50.0]]), axis=0)
    array([[7.31058579e-01, 5.24288566e-22],
           [2.68941421e-01, 1.00000000e+00]])
    >>> csoftmax.softmax([0.0, 1.0, 2.0], where=[True, True, False])
    array([0.26894142, 0.73105858, 0.        ])
    """
    return _dispatch(x, axis, temperature, where, dtype, out, num_threads, log=False)


def log_softmax(x, axis=-1, *, temperature=1.0, where=None, dtype=None, out=None,
                num_threads=None):
    """Logarithm of the softmax of `x` along `axis`: x - logsumexp(x).

    Computed as (x - max) - log(sum(exp(x - max))), so float32 results are
    accurate relative to the spread of a slice, not its magnitude, and the
    log of the sum is taken with log1p when the other terms are tiny.
    Parameters are those of `softmax`. Masked-out entries give -inf; a fully
    masked slice gives -inf everywhere.

    Examples
    --------
    >>> import numpy as np
    >>> import csoftmax
    >>> csoftmax.log_softmax(np.array([1000.0, 1.0]))
    array([   0., -999.])
    >>> csoftmax.log_softmax(np.array([1.0, 2.0]), temperature=0.5)
    array([-2.12692801, -0.12692801])
    """
    return _dispatch(x, axis, temperature, where, dtype, out, num_threads, log=True)


def logsumexp(x, axis=-1, *, b=None, keepdims=False, return_sign=False, temperature=1.0,
              where=None, dtype=None, out=None, num_threads=None):
    """log(sum(b * exp(x))) along `axis`, computed stably and exactly near 0.

    Parameters
    ----------
    x : array_like
        Input, with the dtype rules of `softmax`.
    axis : int or tuple of ints, default -1
        Axis or axes to reduce (None: all).
    b : array_like, optional
        Scale factors broadcastable to x, as scipy.special.logsumexp: entries
        with b == 0 add nothing (even where x is inf or nan); negative b may
        make the sum negative, which gives nan unless return_sign.
    keepdims : bool
        Keep the reduced axes with length 1.
    return_sign : bool
        Return (log|sum|, sign(sum)) instead of nan for negative sums.
    temperature : float or array_like, default 1.0
        Computes logsumexp(x / temperature): a scalar, or one value per slice
        as for `softmax`.
    where : array_like of bool, optional
        Masked-out entries are left out of the sum; a fully masked slice gives
        -inf.
    dtype, out, num_threads
        As for `softmax`; `out` has the reduced shape and receives the result
        (not the sign).

    Returns
    -------
    ndarray or scalar, or (result, sign)
        A NumPy scalar where the result is 0-d and no `out` is given.

    Examples
    --------
    >>> import numpy as np
    >>> import csoftmax
    >>> float(csoftmax.logsumexp(np.array([0.0, -40.0])))
    4.248354255291589e-18
    >>> csoftmax.logsumexp(np.arange(6.0).reshape(2, 3), axis=0)
    array([3.04858735, 4.04858735, 5.04858735])
    >>> csoftmax.logsumexp([1.0, 2.0], b=[1.0, -1.0], return_sign=True)
    (np.float64(1.5413248546129181), np.float64(-1.0))
    """
    if is_dask_array(x):
        lazy_options = dict(b=b, keepdims=keepdims, return_sign=return_sign, where=where,
                            dtype=dtype)
        if not _is_unit_temperature(temperature):  # csoftmax.dask.logsumexp has none
            lazy_options["temperature"] = temperature
        return lazy_through_dask("logsumexp", x, (axis,), lazy_options, out, num_threads)
    if (b is None and not return_sign
            and _takes_fast_path(x, axis, temperature, where, dtype, out)
            and x.ndim > 1):
        result = np.empty(x.shape[:-1] + (1,) * keepdims, x.dtype)
        _core.logsumexp_last_axis(x, result, threads_for_call(num_threads, x.size))
        return result
    x = as_numeric_array(x)
    rdtype = result_dtype(x.dtype, dtype)
    weights = None if b is None else as_numeric_array(b, "b")
    if weights is not None and weights.dtype.kind == "c" and rdtype.kind != "c":
        rdtype = np.result_type(rdtype, weights.dtype)
    if weights is not None:  # x and b broadcast against each other, as in SciPy
        try:
            x, weights = np.broadcast_arrays(x, weights)
        except ValueError:
            raise ValueError(f"b with shape {weights.shape} does not broadcast with x's shape "
                             f"{x.shape}") from None
    mask = None if where is None else broadcast_mask(where, x.shape)
    threads = threads_for_call(num_threads, x.size)
    x_shape = x.shape
    x, axis = as_1d_if_0d(x, axis)
    axes = reduction_axes(axis, x.ndim)
    geometry = Reduction(x.shape, axes)
    if x_shape == ():  # SciPy: a 0-d input reduces to shape (1,) with keepdims
        out_shape = (1,) if keepdims else ()
    else:
        out_shape = geometry.keepdims_shape if keepdims else geometry.reduced_shape
    generic = is_generic(rdtype)
    # SciPy returns the real log|sum| of complex input when return_sign is set.
    value_dtype = np.empty(0, rdtype).real.dtype if generic and return_sign else rdtype
    if out is not None:
        check_out(out, out_shape, value_dtype)

    if weights is not None:
        weights = weights.reshape(x.shape)
    t = _temperatures(temperature, x.shape, axes)
    if generic:
        if np.ndim(t) or t != 1.0:
            with np.errstate(over="ignore"):
                x = x.astype(rdtype, copy=False) / t
        if mask is not None:
            x = np.where(mask.reshape(x.shape), x, -np.inf)
        result, sign = _generic.logsumexp(
            x.astype(rdtype), axes, None if weights is None else weights.astype(rdtype),
            return_sign)
    else:
        result, sign = _logsumexp_kernel(x, weights, mask, t, geometry, rdtype, return_sign,
                                         threads)

    result = deliver(result.reshape(out_shape), out)
    if not return_sign:
        return result
    sign = sign.reshape(out_shape)
    return result, sign[()] if sign.ndim == 0 else sign
