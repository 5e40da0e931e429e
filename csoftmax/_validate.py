"""Argument checks shared by the public modules, under names they may import."""
import operator
import warnings

import numpy as np

__all__ = ["is_dask_array", "lazy_through_dask", "positive_int", "real_scalar",
           "reject_dask_array", "warn_bad_environment"]

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
