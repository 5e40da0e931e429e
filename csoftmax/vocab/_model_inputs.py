"""Input checks and the dtype policy shared by the output-layer models
(HierarchicalSoftmax, AdaptiveSoftmax).

dtype policy: a call computes in float64 if the hidden vectors or any
parameter are float64, else in float32 (float16 and bfloat16 count as
float32; bool and integer hidden vectors as float64, as SciPy does). Results
and gradients come back in that dtype, so float32 models fed float32 data stay
float32 and float64 ones stay float64.
"""
import numpy as np

from .._dtypes import is_half
from .._validate import as_numeric_array


def parameter_dtype(dtype):
    """The dtype models create their parameters in: float32 or float64."""
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64, got {dtype}")
    return dtype


def _kind_dtype(dtype, what):
    if dtype == np.float32 or is_half(dtype):
        return np.dtype(np.float32)
    if dtype.kind in "biuf" and not (dtype.kind == "f" and dtype.itemsize > 8):
        return np.dtype(np.float64)
    raise TypeError(f"{what} must be a real float or integer array, got dtype {dtype}")


def compute_dtype(named_arrays):
    """float64 if any of the (name, array) pairs is float64 (or integer), else float32."""
    kinds = {_kind_dtype(np.asarray(a).dtype, name) for name, a in named_arrays}
    return np.dtype(np.float64) if np.dtype(np.float64) in kinds else np.dtype(np.float32)


def hidden_rows(hidden, dim, what="hidden"):
    """hidden as a numeric array of shape (B, dim), and whether it was a single
    vector (dim,) (results then drop the batch axis)."""
    h = as_numeric_array(hidden, what)
    if h.dtype.kind == "c":
        raise TypeError(f"{what} must be real, got complex dtype {h.dtype}")
    if h.ndim not in (1, 2) or h.shape[-1] != dim:
        raise ValueError(f"{what} must have shape (batch, {dim}) or ({dim},), got shape {h.shape}")
    return (h.reshape(1, dim), True) if h.ndim == 1 else (h, False)


def class_targets(target, batch, single, n_classes):
    """Integer class labels as a C-contiguous int64 array of shape (batch,).
    A single hidden vector takes a 0-d target. IndexError naming the first
    label outside [0, n_classes) and its position."""
    labels = np.asarray(target)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"target must have an integer dtype, got {labels.dtype}")
    expected = () if single else (batch,)
    if labels.shape != expected:
        raise ValueError(f"target has shape {labels.shape}, expected {expected} "
                         "(one class index per hidden vector)")
    labels = labels.reshape(batch)
    bad = labels >= n_classes
    if labels.dtype.kind == "i":
        bad |= labels < 0
    if bad.any():
        position = int(np.flatnonzero(bad)[0])
        raise IndexError(f"target {labels[position]} at position {position} is out of range "
                         f"for {n_classes} classes (valid: 0 to {n_classes - 1})")
    return np.ascontiguousarray(labels, dtype=np.int64)


def parameter(value, shape, what):
    """A parameter attribute checked against its expected shape."""
    array = as_numeric_array(value, what)
    if array.shape != tuple(shape):
        raise ValueError(f"{what} must have shape {tuple(shape)}, got {array.shape}")
    return array


def operands(dtype, *arrays):
    """The arrays as C-contiguous arrays of `dtype` (no copy when already so)."""
    return [np.ascontiguousarray(a, dtype=dtype) for a in arrays]
