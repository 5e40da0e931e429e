"""Type stubs of csoftmax/special.py (scipy.special's signatures).

A floating input keeps its dtype: softmax of an NDArray[np.float32] is an
NDArray[np.float32]. A 0-d input gives a NumPy scalar, as in SciPy, so
logsumexp over every axis (the default, axis=None) is the scalar type and
over some axes either (NDArray[F] | F); with b= the dtypes promote, as in
SciPy, and other inputs (lists, integer arrays) fall back to NDArray[Any] or
Any.
"""
from typing import Any, Literal, TypeVar, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["softmax", "log_softmax", "logsumexp"]

_F = TypeVar("_F", bound=np.floating[Any])
_Axis = int | tuple[int, ...] | None
_Scalar = float | complex | np.number[Any] | np.bool_
_Either = NDArray[_F] | _F

@overload
def softmax(x: _Scalar, axis: _Axis = None) -> Any: ...
@overload
def softmax(x: NDArray[_F], axis: _Axis = None) -> NDArray[_F]: ...
@overload
def softmax(x: ArrayLike, axis: _Axis = None) -> NDArray[Any]: ...
@overload
def log_softmax(x: _Scalar, axis: _Axis = None) -> Any: ...
@overload
def log_softmax(x: NDArray[_F], axis: _Axis = None) -> NDArray[_F]: ...
@overload
def log_softmax(x: ArrayLike, axis: _Axis = None) -> NDArray[Any]: ...
@overload
def logsumexp(a: NDArray[_F], axis: None = None, b: None = None,
              keepdims: Literal[False] = False, return_sign: Literal[False] = False) -> _F: ...
@overload
def logsumexp(a: NDArray[_F], axis: _Axis = None, b: None = None, keepdims: bool = False,
              return_sign: Literal[False] = False) -> _Either[_F]: ...
@overload
def logsumexp(a: ArrayLike, axis: _Axis = None, b: ArrayLike | None = None,
              keepdims: bool = False, return_sign: Literal[False] = False) -> Any: ...
@overload
def logsumexp(a: NDArray[_F], axis: _Axis, b: None, keepdims: bool,
              return_sign: Literal[True]) -> tuple[_Either[_F], _Either[_F]]: ...
@overload
def logsumexp(a: NDArray[_F], axis: _Axis = None, b: None = None, keepdims: bool = False, *,
              return_sign: Literal[True]) -> tuple[_Either[_F], _Either[_F]]: ...
@overload
def logsumexp(a: ArrayLike, axis: _Axis, b: ArrayLike | None, keepdims: bool,
              return_sign: Literal[True]) -> tuple[Any, Any]: ...
@overload
def logsumexp(a: ArrayLike, axis: _Axis = None, b: ArrayLike | None = None,
              keepdims: bool = False, *, return_sign: Literal[True]) -> tuple[Any, Any]: ...
