"""Type stubs of csoftmax/special.py (scipy.special's signatures).

A 0-d input gives a NumPy scalar, as in SciPy; where the rank of the result
is not known from the argument types, the stubs say Any.
"""
from typing import Any, Literal, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["softmax", "log_softmax", "logsumexp"]

_Axis = int | tuple[int, ...] | None
_Scalar = float | complex | np.number[Any] | np.bool_

@overload
def softmax(x: _Scalar, axis: _Axis = None) -> Any: ...
@overload
def softmax(x: ArrayLike, axis: _Axis = None) -> NDArray[Any]: ...
@overload
def log_softmax(x: _Scalar, axis: _Axis = None) -> Any: ...
@overload
def log_softmax(x: ArrayLike, axis: _Axis = None) -> NDArray[Any]: ...
@overload
def logsumexp(a: ArrayLike, axis: _Axis = None, b: ArrayLike | None = None,
              keepdims: bool = False, return_sign: Literal[False] = False) -> Any: ...
@overload
def logsumexp(a: ArrayLike, axis: _Axis, b: ArrayLike | None, keepdims: bool,
              return_sign: Literal[True]) -> tuple[Any, Any]: ...
@overload
def logsumexp(a: ArrayLike, axis: _Axis = None, b: ArrayLike | None = None,
              keepdims: bool = False, *, return_sign: Literal[True]) -> tuple[Any, Any]: ...
