"""Label encodings: one_hot of class indices and hardmax (the one-hot of the
argmax) of scores."""
import numpy as np

from ._dtypes import result_dtype
from ._validate import as_numeric_array, class_axis_index, index_value

__all__ = ["hardmax", "one_hot"]


def one_hot(labels, num_classes=None, *, dtype=np.float32):
    """One-hot encoding: an array of labels.shape + (num_classes,) with 1 at
    each label. num_classes=None uses max(labels) + 1. A label outside
    [0, num_classes) raises IndexError.

    Examples
    --------
    >>> import csoftmax
    >>> csoftmax.one_hot([0, 2], 3)
    array([[1., 0., 0.],
           [0., 0., 1.]], dtype=float32)
    """
    labels = np.asarray(labels)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"labels must have an integer dtype, got {labels.dtype}")
    if num_classes is None:  # (negative labels are reported as such below)
        num_classes = max(int(labels.max()) + 1, 0) if labels.size else 0
    num_classes = index_value(num_classes, "num_classes")
    if num_classes < 0:
        raise ValueError(f"num_classes must be >= 0, got {num_classes}")
    bad = labels >= num_classes
    if labels.dtype.kind == "i":
        bad |= labels < 0
    if bad.any():
        position = tuple(int(i) for i in np.unravel_index(np.flatnonzero(bad)[0], labels.shape))
        raise IndexError(f"label {labels[position]} at position {position} is out of range "
                         f"for {num_classes} classes")
    result = np.zeros(labels.shape + (num_classes,), dtype)
    if labels.size:
        np.put_along_axis(result, labels[..., None].astype(np.intp), 1, axis=-1)
    return result


def hardmax(x, axis=-1):
    """One-hot of the argmax along `axis` (the first maximum wins ties), in
    the input's float dtype (integers and bool give float64).

    Examples
    --------
    >>> import numpy as np
    >>> import csoftmax
    >>> csoftmax.hardmax(np.array([[1.0, 3.0, 3.0], [2.0, 0.0, 1.0]], dtype=np.float32))
    array([[0., 1., 0.],
           [1., 0., 0.]], dtype=float32)
    """
    a = as_numeric_array(x)
    if a.dtype.kind == "c":
        raise TypeError(f"x must be real, got complex dtype {a.dtype}")
    rdtype = result_dtype(a.dtype)
    if a.ndim == 0:
        return rdtype.type(1)
    axis = class_axis_index(axis, a.ndim)
    result = np.zeros(a.shape, rdtype)
    if a.size:
        index = np.argmax(a, axis=axis, keepdims=True)
        np.put_along_axis(result, index, 1, axis=axis)
    return result
