"""Slow, plain-NumPy oracles for csoftmax's main namespace, and the error
model the tests compare against.

Each oracle has the signature of csoftmax's main namespace and SciPy >= 1.15's
edge-case semantics, plus JAX's ``where=``.  Real inputs are evaluated in
``numpy.longdouble`` (80-bit extended on x86-64), so the oracle is well
below float64 rounding and the tolerances below measure csoftmax alone.
Results come back as float64 (complex128 for complex input); the dtype the
library must return is given by `result_dtypes`.

Semantics pinned here (checked against scipy.special in
test_scipy_parity.py):

- softmax: a slice containing nan or +inf is nan throughout; an all -inf
  slice is nan.
- log_softmax: SciPy shifts by the max only where it is finite, so a slice
  holding +inf gives nan at the +inf entries and -inf at all others; nan
  or all -inf gives nan throughout.
- logsumexp: -inf for an all -inf (or empty) slice, +inf if a +inf has a
  positive weight, nan with nan; entries whose weight ``b`` is 0 are
  ignored; a negative total is nan unless ``return_sign``; near 0 it is
  exact (the max term is split off and log1p taken of the rest).  Like
  SciPy, every non-finite result is then recomputed naively as
  log(sum(b * exp(x))) in the input precision, so a negative total whose
  exp underflows gives -inf, and 0 * inf gives nan where nothing else is
  left.
- where=: masked entries are ignored whatever they hold; softmax gives them
  0 and log_softmax -inf; a fully masked slice gives softmax 0, log_softmax
  -inf, logsumexp -inf (sign 0).

Not pinned (the tests avoid them): a slice whose unmasked entries are all
-inf while others are masked, and logsumexp whose weights cancel exactly at
the max (SciPy falls back to a naive sum that overflows there).
"""

import numpy as np

try:  # numpy >= 2
    from numpy.lib.array_utils import normalize_axis_tuple
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core.numeric import normalize_axis_tuple  # type: ignore[no-redef]

LD = np.longdouble
CLD = np.clongdouble


def result_dtypes(in_dtype, dtype=None):
    """(compute dtype, result dtype) for an input dtype and ``dtype=``."""
    d = np.dtype(in_dtype if dtype is None else dtype).newbyteorder("=")
    if d.kind == "c":
        return d, d
    if d.kind == "f":
        if d.itemsize < 4:  # float16 (and bfloat16): compute in float32
            return np.dtype(np.float32), d
        return d, d
    if d.kind in "biu":
        return np.dtype(np.float64), np.dtype(np.float64)
    raise TypeError(f"no softmax for dtype {d}")


def _axes(axis, ndim):
    return normalize_axis_tuple(axis, ndim)


def _values(x, dtype):
    """x as the library sees it: cast to the compute dtype (rounding there
    when dtype= narrows; float16 results still read the input in float32),
    then widened."""
    x = np.asarray(x)
    compute, out = result_dtypes(x.dtype, dtype)
    with np.errstate(over="ignore"):
        v = x.astype(compute)
    wide = CLD if compute.kind == "c" else LD
    return v.astype(wide), compute, out


def _mask(where, shape):
    if where is None:
        return None
    return np.broadcast_to(np.asarray(where, dtype=bool), shape)


def _expand(x, axis):
    """SciPy treats a 0-d input as shape (1,); axis -1/0 then means it."""
    if x.ndim == 0:
        return x.reshape(1), _axes(axis, 1)
    return x, _axes(axis, x.ndim)


def softmax(x, axis=-1, *, temperature=1.0, where=None, dtype=None):
    x0 = np.asarray(x)
    z, compute, _ = _values(x0, dtype)
    mask = _mask(where, x0.shape)
    z, axes = _expand(z, axis)
    if mask is not None:
        mask = mask.reshape(z.shape)
    if z.size == 0:
        return np.zeros(x0.shape, _wide_result(compute))
    if compute.kind == "c":
        _no_complex_extras(temperature, where)
        return _softmax_complex(z, axes).reshape(x0.shape)
    z = z / LD(temperature)
    if mask is not None:
        z = np.where(mask, z, LD(-np.inf))
    with np.errstate(all="ignore"):
        m = z.max(axis=axes, keepdims=True)
        e = np.exp(z - m)
        p = e / e.sum(axis=axes, keepdims=True)
    if mask is not None:
        p = np.where(mask, p, 0)
        p = np.where(mask.any(axis=axes, keepdims=True), p, 0)
    return _narrow(p, np.float64).reshape(x0.shape)


def log_softmax(x, axis=-1, *, temperature=1.0, where=None, dtype=None):
    x0 = np.asarray(x)
    z, compute, _ = _values(x0, dtype)
    mask = _mask(where, x0.shape)
    z, axes = _expand(z, axis)
    if mask is not None:
        mask = mask.reshape(z.shape)
    if z.size == 0:
        return np.zeros(x0.shape, _wide_result(compute))
    if compute.kind == "c":
        _no_complex_extras(temperature, where)
        return _log_softmax_complex(z, axes).reshape(x0.shape)
    z = z / LD(temperature)
    if mask is not None:
        z = np.where(mask, z, LD(-np.inf))
    with np.errstate(all="ignore"):
        m = z.max(axis=axes, keepdims=True)
        m = np.where(np.isfinite(m), m, 0)
        shifted = z - m
        y = shifted - np.log(np.exp(shifted).sum(axis=axes, keepdims=True))
    if mask is not None:
        y = np.where(mask, y, LD(-np.inf))
    return _narrow(y, np.float64).reshape(x0.shape)


def logsumexp(x, axis=-1, *, b=None, keepdims=False, return_sign=False,
              where=None, dtype=None):
    x0 = np.asarray(x)
    z, compute, _ = _values(x0, dtype)
    if b is not None:
        bw = np.asarray(b).astype(compute).astype(z.dtype)
        z, bw = np.broadcast_arrays(z, bw)
    else:
        bw = np.ones_like(z)
    full_shape = z.shape
    mask = _mask(where, full_shape)
    z, axes = _expand(z, axis)
    bw = bw.reshape(z.shape)
    kept_shape = tuple(1 if i in axes else n for i, n in enumerate(z.shape))
    if len(full_shape) == 0:
        out_shape = (1,) if keepdims else ()
    elif keepdims:
        out_shape = kept_shape
    else:
        out_shape = tuple(n for i, n in enumerate(z.shape) if i not in axes)
    wide = _wide_result(compute)

    if z.size == 0:
        # SciPy: -inf, and np.sign(-inf) = -1 as the sign.
        res = np.full(out_shape, -np.inf, wide)
        return (res, np.sign(res)) if return_sign else res

    if mask is not None:
        # masked entries are gone whatever they hold (JAX)
        mask = mask.reshape(z.shape)
        z = np.where(mask, z, -np.inf)
        bw = np.where(mask, bw, 0)
    zero_weight = bw == 0

    if compute.kind == "c":
        z = np.where(zero_weight, -np.inf, z)
        res, sign = _logsumexp_complex(z, bw, axes, return_sign)
    else:
        res, sign = _logsumexp_real(np.where(zero_weight, -np.inf, z), bw, axes)
        if not return_sign:
            res = np.where(sign < 0, np.nan, res)
        # SciPy then recomputes every non-finite result (nan from a negative
        # sum included) as log(sum(b * exp(a))) in the input precision, with
        # the original a: 0 * inf is nan there, and exp may under/overflow.
        with np.errstate(all="ignore"):
            zc, bc = z.astype(compute), bw.astype(compute)
            direct = (bc * np.exp(zc)).sum(axis=axes, keepdims=True)
            redo = ~np.isfinite(res)
            res = np.where(redo, np.log(np.abs(direct) if return_sign else direct), res)
            sign = np.where(redo, np.sign(direct), sign)
    # with return_sign the magnitude is real even for complex input (SciPy)
    if return_sign:
        res = _narrow(res.real, np.float64).reshape(out_shape)
    else:
        res = _narrow(res, wide).reshape(out_shape)
    if return_sign:
        return res, _narrow(sign, wide).reshape(out_shape)
    return res


def _logsumexp_real(z, bw, axes):
    with np.errstate(all="ignore"):
        m = z.max(axis=axes, keepdims=True)
        finite = np.isfinite(m)
        shift = np.where(finite, m, 0)
        # Rows whose max is not finite are summed directly, as SciPy does.
        terms = bw * np.exp(z - shift)
        at_max = (z == m) & finite
        b_max = np.where(at_max, bw, 0).sum(axis=axes, keepdims=True)
        rest = np.where(at_max, 0, terms).sum(axis=axes, keepdims=True)
        total = b_max + rest
        # Split off the max terms (known exactly) so that log1p keeps the
        # last bits of results near 0, e.g. logsumexp([0, -40]).
        ratio = rest / b_max
        split = finite & (b_max != 0)
        log_split = np.log(np.abs(b_max)) + np.where(
            ratio > -1, np.log1p(ratio), np.log(-(1 + ratio)))
        log_abs = np.where(split, log_split, np.log(np.abs(total)))
        res = shift + log_abs
        sign = np.sign(total)
    return res, sign


def _logsumexp_complex(z, bw, axes, return_sign):
    with np.errstate(all="ignore"):
        real = z.real
        m_real = real.max(axis=axes, keepdims=True)
        # Shift by the real part of the max only: the imaginary part of the
        # shift would just rotate every term.
        shift = np.where(np.isfinite(m_real), m_real, 0)
        total = (bw * np.exp(z - shift)).sum(axis=axes, keepdims=True)
        mag = np.abs(total)
        res = np.log(mag) + shift
        phase = np.where(mag > 0, total / mag, 0)
        if return_sign:
            return res, phase
        return res + 1j * np.angle(total), None


def _softmax_complex(z, axes):
    with np.errstate(all="ignore"):
        m = z.max(axis=axes, keepdims=True)
        e = np.exp(z - m)
        return _narrow(e / e.sum(axis=axes, keepdims=True), np.complex128)


def _log_softmax_complex(z, axes):
    with np.errstate(all="ignore"):
        m = z.max(axis=axes, keepdims=True)
        m = np.where(np.isfinite(m), m, 0)
        shifted = z - m
        # No wrapping of the imaginary part: SciPy returns z - m - log(S)
        # as it comes, which may leave (-pi, pi].
        y = shifted - np.log(np.exp(shifted).sum(axis=axes, keepdims=True))
        return _narrow(y, np.complex128)


def _narrow(a, dtype):
    """Round an extended-precision result to float64/complex128; values
    beyond float64's range become +-inf, as they would in the library."""
    with np.errstate(over="ignore"):
        return np.asarray(a).astype(dtype)


def _wide_result(compute):
    return np.complex128 if np.dtype(compute).kind == "c" else np.float64


def _no_complex_extras(temperature, where):
    if temperature != 1.0 or where is not None:
        raise NotImplementedError("the oracle has no complex temperature/where")


# ---------------------------------------------------------------------------
# Error model
#
# Tolerances follow the conditioning of each function instead of one global
# number.  With z = x / temperature, m the slice max, e_j = exp(z_j - m):
#
# * Representing z_j - m in the compute precision moves it by up to
#   eps*|z_j - m|/2, which moves exp(z_j - m) by that much *relatively*:
#   the relative error of softmax may grow with the distance from the max
#   (a few ulp relative to the spread of the row).  The slice sum
#   inherits the weighted mean  w = sum |b_j| e_j |z_j - m| / |S|.
# * Everything else is a few rounding steps: `base` relative (1e-13 for
#   float64, 8 eps for float32), plus one ulp of the
#   output when float16/bfloat16 results are rounded from float32.
# * log_softmax = (z - m) - log S: log S carries an *absolute* error equal
#   to the relative error of S, so values near 0 (the max entry of a peaked
#   slice) get an absolute term; nothing else does.
# * logsumexp = m + log S cancels when m ~ -log S: an absolute eps*|m| is the
#   condition number of the problem.  The log1p term only scales with the
#   non-max part of the sum, (A - |b_max|)/|S|, so [0, -40] must be exact.
# * Subnormal results only have absolute precision: 4 subnormal ulps.
# ---------------------------------------------------------------------------

# "A few ulp" for float32 is 8 eps relative (8 to 16 ulp): room for an
# uncompensated float32 kernel's rounding, well below the 20-65 ulp of the
# usual float32 softmax implementations.
BASE_RTOL = {np.dtype(np.float64): 1e-13,
             np.dtype(np.float32): 8 * float(np.finfo(np.float32).eps)}


def tolerance(op, x, axis=-1, *, temperature=1.0, where=None, b=None,
              dtype=None, keepdims=False, ref=None):
    """Per-element absolute tolerance for op(x, ...) against the oracle.

    ``ref`` is the oracle's result (computed if not given).
    """
    x0 = np.asarray(x)
    z, compute, out = _values(x0, dtype)
    if compute.kind == "c":
        raise NotImplementedError("complex results are compared to SciPy")
    eps = float(np.finfo(compute).eps)
    base = BASE_RTOL[compute]
    if out != compute:
        base += float(np.finfo(out).eps)
    atol_sub = 4 * float(np.finfo(out).smallest_subnormal)

    if b is not None:
        bw = np.asarray(b).astype(compute).astype(LD)
        z, bw = np.broadcast_arrays(z, bw)
    else:
        bw = np.ones_like(z)
    shape = z.shape
    z, axes = _expand(z, axis)
    bw = bw.reshape(z.shape)
    if op != "logsumexp":
        z = z / LD(temperature)
    mask = _mask(where, shape)
    if mask is not None:
        z = np.where(mask.reshape(z.shape), z, LD(-np.inf))
    ignore = bw == 0
    z = np.where(ignore, LD(-np.inf), z)
    bw = np.where(ignore, 0, bw)

    if ref is None:
        kw = dict(where=where, dtype=dtype)
        if op == "logsumexp":
            ref = logsumexp(x0, axis, b=b, keepdims=keepdims, **kw)
        else:
            ref = globals()[op](x0, axis, temperature=temperature, **kw)
    mag = np.abs(np.asarray(ref, dtype=np.float64))

    if z.size == 0:
        return np.full(np.shape(ref), atol_sub)

    with np.errstate(all="ignore"):
        m = z.max(axis=axes, keepdims=True)
        m = np.where(np.isfinite(m), m, 0)
        dist = np.abs(z - m)
        e = np.exp(z - m)
        ae = np.abs(bw) * e
        signed = (bw * e).sum(axis=axes, keepdims=True)
        s_abs = np.abs(signed)
        w = np.where(ae > 0, ae * dist, 0).sum(axis=axes, keepdims=True) / s_abs
        w = np.where(s_abs > 0, w, 0)

        if op == "softmax":
            rel = base + eps * (np.where(e > 0, dist, 0) + w)
            tol = rel.reshape(shape) * mag
        elif op == "log_softmax":
            abs_err = eps * (4 + w)
            tol = base * mag + np.broadcast_to(abs_err, z.shape).reshape(shape)
        elif op == "logsumexp":
            at_max = (z == z.max(axis=axes, keepdims=True))
            b_max = np.abs(np.where(at_max, bw, 0).sum(axis=axes, keepdims=True))
            tail = ae.sum(axis=axes, keepdims=True) - b_max
            cond = np.where(s_abs > 0, tail / s_abs, 0)
            abs_err = eps * (2 * np.abs(m) + w + 4 * cond)
            if not keepdims:
                abs_err = np.squeeze(abs_err, axis=axes)
            tol = base * mag + abs_err.reshape(mag.shape)
        else:
            raise ValueError(op)
    tol = np.asarray(tol, dtype=np.float64) + atol_sub
    return np.where(np.isfinite(tol), tol, 0)


def assert_matches(got, ref, tol, out_dtype, context=""):
    """got (in out_dtype) equals the float64 oracle ``ref`` within ``tol``.

    Non-finite values must match exactly (nan where the oracle has nan, the
    same infinities), after rounding the oracle to the output dtype, so
    overflow to +-inf in float32/float16 is expected where the true value
    is out of range.
    """
    got = np.asarray(got)
    ref = np.asarray(ref)
    assert got.dtype == np.dtype(out_dtype), (
        f"{context}: dtype {got.dtype}, expected {np.dtype(out_dtype)}")
    assert got.shape == ref.shape, (
        f"{context}: shape {got.shape}, expected {ref.shape}")
    with np.errstate(all="ignore"):
        ref_out = ref.astype(out_dtype)
    g = got.astype(np.float64)
    r = ref_out.astype(np.float64)
    nan_ok = np.isnan(g) == np.isnan(r)
    if not nan_ok.all():
        i = tuple(np.argwhere(~nan_ok)[0])
        raise AssertionError(
            f"{context}: nan mismatch at {i}: got {got[i]!r}, expected {ref[i]!r}"
            f"\n got={got!r}\n ref={ref!r}")
    inf = np.isinf(r) | np.isinf(g)
    inf_ok = ~inf | (g == r)
    if not inf_ok.all():
        i = tuple(np.argwhere(~inf_ok)[0])
        raise AssertionError(
            f"{context}: inf mismatch at {i}: got {got[i]!r}, expected {ref[i]!r}")
    finite = np.isfinite(r)
    tol = np.broadcast_to(tol, ref.shape)
    with np.errstate(all="ignore"):
        err = np.where(finite, np.abs(g - ref), 0)
    bad = err > tol
    if bad.any():
        i = tuple(np.argwhere(bad)[0])
        worst = tuple(np.unravel_index(np.argmax(np.where(finite, err / np.maximum(tol, 1e-300), 0)), ref.shape)) if ref.ndim else ()
        raise AssertionError(
            f"{context}: {int(bad.sum())} of {bad.size} values out of tolerance; "
            f"first at {i}: got {got[i]!r}, expected {ref[i]!r}, |err|={err[i]:.3g}"
            f" > tol={tol[i]:.3g}; worst at {worst}: got {got[worst]!r}, "
            f"expected {ref[worst]!r}, err/tol={err[worst] / max(tol[worst], 1e-300):.3g}")
