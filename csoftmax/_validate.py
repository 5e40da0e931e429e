"""Argument checks shared by the public modules, under names they may import.

Each check raises before any work is done, with a message that names the
argument; it returns the value in the form the compiled layer takes.
"""
import operator
import warnings

import numpy as np

from ._dtypes import compute_dtype, is_half, result_dtype

try:  # NumPy >= 2.0
    from numpy.lib.array_utils import normalize_axis_index
except ImportError:  # pragma: no cover - NumPy 1.x
    from numpy.core.multiarray import normalize_axis_index  # type: ignore[no-redef]

__all__ = ["as_numeric_array", "check_reduction", "check_smoothing", "check_softcap",
           "check_temperature", "check_z_loss", "class_axis_index", "class_labels", "class_weights",
           "float_input", "index_value", "logits_with_class_axis", "is_dask_array", "lazy_through_dask",
           "non_negative_scalar", "positive_int", "real_scalar", "real_target",
           "reject_dask_array", "same_shape", "warn_bad_environment"]

# csoftmax.dask computes these lazily; the NumPy functions hand dask arrays to it
LAZY_FUNCTIONS = ("softmax", "log_softmax", "logsumexp", "cross_entropy")


def positive_int(n, name):
    """`n` as an int >= 1: TypeError for a non-integer, ValueError below 1."""
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {type(n).__name__}") from None
    if n < 1:
        raise ValueError(f"{name} must be >= 1, got {n}")
    return n


def real_scalar(value, name):
    """`value` as a Python float, for arguments that take one number.

    An array of one or more dimensions raises TypeError naming the argument and
    the array's shape (NumPy's own messages, "truth value of an array is
    ambiguous" or "only 0-dimensional arrays can be converted", name neither);
    a non-numeric or complex value raises TypeError naming the argument.
    """
    if np.ndim(value) != 0:
        raise TypeError(f"{name} must be a real scalar, got an array of shape "
                        f"{np.shape(value)}")
    if isinstance(value, (complex, np.complexfloating)) or (
            isinstance(value, np.ndarray) and value.dtype.kind == "c"):
        raise TypeError(f"{name} must be a real scalar, got complex {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number, got {value!r}") from None


def warn_bad_environment(variable, message):
    """A RuntimeWarning about environment variable `variable`, reported at the
    variable rather than at the line of csoftmax (or importlib) that read it."""
    warnings.warn_explicit(f"{variable}: {message}", RuntimeWarning,
                           filename=f"<environment variable {variable}>", lineno=0,
                           module="csoftmax")


def is_dask_array(value):
    """Whether `value` is a dask array (told without importing dask; an
    ndarray, the common case, is told apart first)."""
    kind = type(value)
    return (kind is not np.ndarray and kind.__module__.startswith("dask.")
            and hasattr(value, "__dask_graph__"))


def lazy_through_dask(name, x, args, kwargs, out=None, num_threads=None):
    """csoftmax.dask's lazy `name` of the dask array `x`, for a NumPy-facing
    function that was handed one (np.asarray would compute the whole array
    and return an ndarray). out= cannot hold a lazy result: TypeError.
    num_threads=None keeps csoftmax.dask's default of one thread per task."""
    if out is not None:
        raise TypeError(f"out= cannot hold the lazy result of {name} of a dask array; "
                        f"store csoftmax.dask.{name}(...) with dask.array.store instead")
    from . import dask as lazy

    if num_threads is not None:
        kwargs = dict(kwargs, num_threads=num_threads)
    return getattr(lazy, name)(x, *args, **kwargs)


def reject_dask_array(value, what):
    """TypeError for a dask array given to a function that has no lazy version
    (np.asarray would compute the whole array without saying so)."""
    if is_dask_array(value):
        raise TypeError(f"{what} is a dask array: csoftmax computes on NumPy arrays; "
                        f"csoftmax.dask has lazy {', '.join(LAZY_FUNCTIONS)}; for anything "
                        f"else pass {what}.compute()")


def as_numeric_array(value, what="x"):
    """np.asarray with a TypeError naming the argument for non-numeric input
    (and for a dask array, which np.asarray would compute whole)."""
    reject_dask_array(value, what)
    array = np.asarray(value)
    if not (array.dtype.kind in "biufc" or is_half(array.dtype)):
        raise TypeError(f"{what} must be a numeric array, got dtype {array.dtype}")
    return array


def float_input(x, what):
    """x as an array of its compute dtype (float32/float64), and the result dtype.
    Complex input raises TypeError (losses are real)."""
    x = as_numeric_array(x, what)
    if x.dtype.kind == "c":
        raise TypeError(f"{what} must be real, got complex dtype {x.dtype}")
    rdtype = result_dtype(x.dtype, what=what)
    if rdtype.kind == "f" and rdtype.itemsize > 8:  # longdouble: computed in float64
        rdtype = np.dtype(np.float64)
    cdtype = compute_dtype(rdtype)
    return x.astype(cdtype, copy=False), rdtype


def logits_with_class_axis(logits, axis, what="logits"):
    """(x, result dtype, class axis, row shape) of logits along a class axis:
    x as float_input gives it, the axis validated, the row shape x's shape
    without the class axis."""
    x, rdtype = float_input(logits, what)
    class_axis = class_axis_index(axis, x.ndim)
    return x, rdtype, class_axis, x.shape[:class_axis] + x.shape[class_axis + 1:]


def real_target(target, dtype):
    """A real-valued target as an array of `dtype` (TypeError for complex)."""
    t = as_numeric_array(target, "target")
    if t.dtype.kind == "c":
        raise TypeError(f"target must be real, got complex dtype {t.dtype}")
    with np.errstate(over="ignore"):  # beyond float32's range: inf, without a warning
        return t.astype(dtype, copy=False)


def same_shape(a, b, what_a, what_b):
    """ValueError unless b has a's shape."""
    if a.shape != b.shape:
        raise ValueError(f"{what_b} has shape {b.shape}, expected {what_a}'s shape {a.shape}")


def check_reduction(reduction, allowed=("none", "mean", "sum")):
    """`reduction` if it is one of `allowed`, else ValueError."""
    if reduction not in allowed:
        raise ValueError(f"reduction must be one of {allowed}, got {reduction!r}")
    return reduction


def class_axis_index(axis, ndim):
    """The class axis as an index in [0, ndim): TypeError for a non-integer,
    AxisError out of range, ValueError for 0-d logits (they have no class axis)."""
    try:
        axis = operator.index(axis)
    except TypeError:
        raise TypeError(f"axis must be an integer, got {type(axis).__name__}") from None
    if ndim == 0:
        raise ValueError("logits must have at least one dimension (the class axis)")
    return normalize_axis_index(axis, ndim)


def index_value(value, what):
    """`value` as a Python int (TypeError naming `what` otherwise)."""
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{what} must be an integer, got {value!r}") from None


def _axis_hint(logits_shape, target_shape):
    """' (pass axis=k ...)' naming the class axes that would make a target of
    `target_shape` fit logits of `logits_shape`, or '' if none would."""
    fitting = [k for k in range(len(logits_shape))
               if logits_shape[:k] + logits_shape[k + 1:] == tuple(target_shape)]
    if not fitting:
        return ""
    hint = " or ".join(f"axis={k}" for k in fitting)
    if 1 in fitting and len(logits_shape) > 2:
        hint += ", as for PyTorch's (N, C, d1, ...) layout"
    return f"; pass {hint}"


def class_labels(target, expected_shape, num_classes, ignore_index, logits_shape=None):
    """Integer class indices as a C-contiguous int64 array of `expected_shape`.
    IndexError for a label outside [0, num_classes) that is not ignore_index,
    naming the first such label and its position. `logits_shape`, where given,
    lets a shape error suggest the class axis that fits."""
    labels = np.asarray(target)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"class-index target must have an integer dtype, got {labels.dtype}")
    if labels.shape != tuple(expected_shape):
        hint = "" if logits_shape is None else _axis_hint(logits_shape, labels.shape)
        raise ValueError(f"target has shape {labels.shape}, expected {tuple(expected_shape)} "
                         f"(the logits' shape without the class axis){hint}")
    bad = labels >= num_classes
    if labels.dtype.kind == "i":
        bad |= labels < 0
    if labels.dtype.kind == "i" or ignore_index >= 0:
        bad &= labels != ignore_index
    if bad.any():
        position = tuple(int(i) for i in np.unravel_index(np.flatnonzero(bad)[0], labels.shape))
        label = labels[position]
        raise IndexError(f"target {label} at position {position} is out of range for "
                         f"{num_classes} classes (valid: 0 to {num_classes - 1}, or "
                         f"ignore_index={ignore_index})")
    return np.ascontiguousarray(labels, dtype=np.int64)


def class_weights(weight, num_classes, dtype, what="weight"):
    """A per-class array of length num_classes in `dtype`, validated."""
    w = as_numeric_array(weight, what)
    if w.dtype.kind == "c":
        raise TypeError(f"{what} must be real, got complex dtype {w.dtype}")
    if w.dtype.kind != "f":  # floats are checked as given: no float64 copy of a long vector
        w = w.astype(np.float64)
    if w.shape != (num_classes,):
        raise ValueError(f"{what} must have shape ({num_classes},) (one entry per class), "
                         f"got shape {w.shape}")
    if not np.all(w >= 0):
        raise ValueError(f"{what} must be non-negative (and not nan)")
    return np.ascontiguousarray(w, dtype=dtype)


def non_negative_scalar(value, name):
    """`value` as a float >= 0 (ValueError for a negative or nan one)."""
    number = real_scalar(value, name)
    if not number >= 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return number


def check_smoothing(label_smoothing):
    """label_smoothing as a float in [0, 1]."""
    eps = real_scalar(label_smoothing, "label_smoothing")
    if not 0.0 <= eps <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing!r}")
    return eps


def check_z_loss(z_loss):
    """z_loss as a float >= 0 (ValueError for a negative or nan one)."""
    return non_negative_scalar(z_loss, "z_loss")


def check_softcap(softcap):
    """softcap as a float > 0 and finite, or 0.0 for None (no capping)."""
    if softcap is None:
        return 0.0
    value = real_scalar(softcap, "softcap")
    if not 0 < value < np.inf:
        raise ValueError(f"softcap must be a finite number > 0 or None, got {softcap!r}")
    return value


def check_temperature(temperature):
    """A scalar temperature as a float > 0 (ValueError for nan, 0 or below)."""
    t = real_scalar(temperature, "temperature")
    if not t > 0:  # also rejects nan
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    return t
