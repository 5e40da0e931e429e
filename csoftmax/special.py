"""Drop-in replacements for scipy.special.softmax, log_softmax and logsumexp.

Same signatures, defaults (axis=None: the whole array), dtypes and results as
SciPy >= 1.15, computed by csoftmax's kernels::

    from csoftmax.special import softmax, log_softmax, logsumexp
"""
import numpy as np

from . import _api
from ._validate import as_numeric_array

__all__ = ["softmax", "log_softmax", "logsumexp"]


def _exp_dtype(x):
    """The dtype SciPy's softmax and log_softmax return: that of np.exp(x), so
    8-bit integers give float16 and 16-bit ones float32 (bool: float64)."""
    x = as_numeric_array(x)
    if x.dtype.kind in "iu":
        return x, np.result_type(x.dtype, np.float16)
    return x, None


def softmax(x, axis=None):
    """scipy.special.softmax: exp(x) / sum(exp(x)) over `axis` (None: all axes).

    >>> import numpy as np
    >>> from csoftmax.special import softmax
    >>> softmax([1.0, 2.0, 3.0])
    array([0.09003057, 0.24472847, 0.66524096])
    >>> float(softmax(3.0))
    1.0
    >>> softmax(np.array([0, 1], dtype=np.int8))
    array([0.269, 0.731], dtype=float16)
    """
    x, dtype = _exp_dtype(x)
    return _api.softmax(x, axis=axis, dtype=dtype)


def log_softmax(x, axis=None):
    """scipy.special.log_softmax: log(softmax(x)) over `axis`, computed accurately.

    >>> from csoftmax.special import log_softmax
    >>> log_softmax([1000.0, 1.0])
    array([   0., -999.])
    """
    x, dtype = _exp_dtype(x)
    return _api.log_softmax(x, axis=axis, dtype=dtype)


def logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False):
    """scipy.special.logsumexp: log(sum(b * exp(a))) over `axis` (None: all).

    The result dtype is that of a and b promoted together (integers become
    float64), as SciPy does.

    >>> import numpy as np
    >>> from csoftmax.special import logsumexp
    >>> float(logsumexp(np.arange(10)))
    9.45862974442671
    >>> logsumexp([1, 2], b=[1, -1], return_sign=True)
    (np.float64(1.5413248546129181), np.float64(-1.0))
    """
    a = as_numeric_array(a, "a")
    dtype = a.dtype
    if b is not None:
        b = as_numeric_array(b, "b")
        dtype = np.result_type(a.dtype, b.dtype)
    if dtype.kind in "biu":
        dtype = np.dtype(np.float64)
    return _api.logsumexp(a, axis=axis, b=b, keepdims=keepdims, return_sign=return_sign,
                          dtype=dtype)
