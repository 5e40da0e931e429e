"""Type stubs of csoftmax/_api.py: softmax, log_softmax and logsumexp.

A result that is 0-d comes back as a NumPy scalar, as NumPy reductions and
SciPy return it; where the rank of the result is not known from the argument
types, the stubs say Any (as NumPy's own stubs do for reductions).
"""
from typing import Any, Literal, TypeVar, overload

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

__all__ = ["softmax", "log_softmax", "logsumexp"]

_Out = TypeVar("_Out", bound=np.ndarray[Any, Any])
_Axis = int | tuple[int, ...] | None
_Scalar = float | complex | np.number[Any] | np.bool_

@overload
def softmax(x: _Scalar, axis: _Axis = -1, *, temperature: float = 1.0,
            where: ArrayLike | None = None, dtype: DTypeLike | None = None, out: None = None,
            num_threads: int | None = None) -> Any: ...
@overload
def softmax(x: ArrayLike, axis: _Axis = -1, *, temperature: float = 1.0,
            where: ArrayLike | None = None, dtype: DTypeLike | None = None, out: None = None,
            num_threads: int | None = None) -> NDArray[Any]: ...
@overload
def softmax(x: ArrayLike, axis: _Axis = -1, *, temperature: float = 1.0,
            where: ArrayLike | None = None, dtype: DTypeLike | None = None, out: _Out,
            num_threads: int | None = None) -> _Out: ...

@overload
def log_softmax(x: _Scalar, axis: _Axis = -1, *, temperature: float = 1.0,
                where: ArrayLike | None = None, dtype: DTypeLike | None = None, out: None = None,
                num_threads: int | None = None) -> Any: ...
@overload
def log_softmax(x: ArrayLike, axis: _Axis = -1, *, temperature: float = 1.0,
                where: ArrayLike | None = None, dtype: DTypeLike | None = None, out: None = None,
                num_threads: int | None = None) -> NDArray[Any]: ...
@overload
def log_softmax(x: ArrayLike, axis: _Axis = -1, *, temperature: float = 1.0,
                where: ArrayLike | None = None, dtype: DTypeLike | None = None, out: _Out,
                num_threads: int | None = None) -> _Out: ...

# The reduced result is a scalar or an array depending on x's rank: Any.
@overload
def logsumexp(x: ArrayLike, axis: _Axis = -1, *, b: ArrayLike | None = None,
              keepdims: bool = False, return_sign: Literal[False] = False,
              where: ArrayLike | None = None, dtype: DTypeLike | None = None,
              out: None = None, num_threads: int | None = None) -> Any: ...
@overload
def logsumexp(x: ArrayLike, axis: _Axis = -1, *, b: ArrayLike | None = None,
              keepdims: bool = False, return_sign: Literal[False] = False,
              where: ArrayLike | None = None, dtype: DTypeLike | None = None,
              out: _Out, num_threads: int | None = None) -> _Out: ...
@overload
def logsumexp(x: ArrayLike, axis: _Axis = -1, *, b: ArrayLike | None = None,
              keepdims: bool = False, return_sign: Literal[True],
              where: ArrayLike | None = None, dtype: DTypeLike | None = None,
              out: None = None, num_threads: int | None = None) -> tuple[Any, Any]: ...
@overload
def logsumexp(x: ArrayLike, axis: _Axis = -1, *, b: ArrayLike | None = None,
              keepdims: bool = False, return_sign: Literal[True],
              where: ArrayLike | None = None, dtype: DTypeLike | None = None,
              out: _Out, num_threads: int | None = None) -> tuple[_Out, Any]: ...
@overload
def logsumexp(x: ArrayLike, axis: _Axis = -1, *, b: ArrayLike | None = None,
              keepdims: bool = False, return_sign: bool,
              where: ArrayLike | None = None, dtype: DTypeLike | None = None,
              out: NDArray[Any] | None = None, num_threads: int | None = None) -> Any: ...
