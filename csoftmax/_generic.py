"""The NumPy path for dtypes the kernels do not cover: complex (with SciPy's
results) and longdouble. Correct rather than fast; same semantics as the
compiled path, including where= and temperature."""
import numpy as np


def normalize(x, axes, temperature, mask, log):
    """softmax (log=False) or log_softmax of x over `axes` (a tuple)."""
    if x.size == 0:
        return np.empty(x.shape, x.dtype)
    with np.errstate(all="ignore"):
        if np.ndim(temperature) or temperature != 1.0:  # a scalar or one per slice
            x = x / temperature
        if mask is not None:
            x = np.where(mask, x, -np.inf)
        x_max = np.max(x, axis=axes, keepdims=True)
        if log:
            x_max = np.where(np.isfinite(x_max), x_max, 0)
            shifted = x - x_max
            out = shifted - np.log(np.sum(np.exp(shifted), axis=axes, keepdims=True))
        else:
            e = np.exp(x - x_max)
            out = e / np.sum(e, axis=axes, keepdims=True)
        if mask is not None:  # masked entries (all of a fully masked slice): 0 / -inf
            out = np.where(mask, out, -np.inf if log else 0).astype(x.dtype)
    return out


def _max_element(a, axes):
    """Per slice, the maximum of the real parts and a mask of where it sits. For
    complex input one element is chosen among ties (the last), since its
    imaginary part enters the result."""
    real = a.real
    max_real = np.max(real, axis=axes, keepdims=True)
    at_max = real == max_real
    if a.dtype.kind != "c":
        return max_real.astype(a.dtype), at_max
    index = np.where(at_max, np.arange(a.size).reshape(a.shape), -1)
    at_max = index == np.max(index, axis=axes, keepdims=True)
    return np.sum(np.where(at_max, a, 0), axis=axes, keepdims=True), at_max


def _wrap_phase(values):
    """Imaginary parts wrapped into (-pi, pi]."""
    imag = values.imag
    wrapped = np.where(np.abs(imag) < np.pi, imag, -((-imag + np.pi) % (2 * np.pi) - np.pi))
    return values.real + 1j * wrapped


def logsumexp(a, axes, b, return_sign):
    """log(sum(b * exp(a))) over `axes`, keepdims, SciPy's algorithm: the max
    term is split off so the log is exact (log1p), weights of 0 drop their
    entries, and slices whose stable result is not finite fall back to the
    plain formula. Returns (result, sign or None)."""
    if a.size == 0:
        shape = tuple(1 if i in axes else n for i, n in enumerate(a.shape))
        out = np.full(shape, -np.inf, dtype=a.dtype)
        if a.dtype.kind != "c":
            return out, np.sign(out)
        with np.errstate(invalid="ignore"):  # SciPy's complex sign z / |z|: nan here
            return out, out / np.abs(out)
    with np.errstate(all="ignore"):
        weighted = np.exp(a) if b is None else b * np.exp(a)
        plain = np.sum(weighted, axis=axes, keepdims=True)
        plain_sign = np.sign(plain)
        plain_log = np.log(np.abs(plain) if return_sign else plain)

        if b is not None:
            a = np.where(b == 0, -np.inf, a)
        a_max, at_max = _max_element(a, axes)
        weight = np.ones(a.shape, a.dtype) if b is None else b
        count = np.sum(np.where(at_max, weight, 0), axis=axes, keepdims=True)
        rest = np.sum(np.where(at_max, 0, weight * np.exp(np.where(at_max, -np.inf, a) - a_max)),
                      axis=axes, keepdims=True)
        rest = np.where(rest == 0, rest, rest / count)
        sign = np.sign(rest + 1) * np.sign(count)
        if a.dtype.kind == "c":
            sign = sign * np.exp(1j * a_max.imag)
        else:
            rest = np.where(rest < -1, -rest - 2, rest)
            count = np.abs(count)
        out = np.log1p(rest) + np.log(count) + a_max
        if return_sign:
            out = out.real
        elif a.dtype.kind != "c":
            out = np.where(sign < 0, np.nan, out)
        finite = np.isfinite(out)
        out = np.where(finite, out, plain_log)
        sign = np.where(finite, sign, plain_sign)
        if a.dtype.kind == "c":
            if return_sign:
                sign = sign.real + 1j * _wrap_phase(sign).imag
            else:
                out = _wrap_phase(out)
    return out, sign
