"""Type stubs of csoftmax/_api.py: softmax, log_softmax and logsumexp.

A floating input keeps its dtype, and dtype= sets it: softmax of an
NDArray[np.float32] is an NDArray[np.float32]. A result that is 0-d comes back
as a NumPy scalar, as NumPy reductions and SciPy return it, so a reduction
over some axes is typed as either (NDArray[F] | F) and a reduction over every
axis (axis=None) as the scalar F. Other inputs (lists, integer arrays) fall
back to NDArray[Any] or Any.
"""
from typing import Any, Literal, TypeVar, overload

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

__all__ = ["softmax", "log_softmax", "logsumexp"]

_Out = TypeVar("_Out", bound=np.ndarray[Any, Any])
_F = TypeVar("_F", bound=np.floating[Any])
_DType = type[_F] | np.dtype[_F]
_Either = NDArray[_F] | _F  # a reduction's result: an array, or a scalar for a 0-d one
_Axis = int | tuple[int, ...] | None
_Scalar = float | complex | np.number[Any] | np.bool_
# one temperature, or one per slice (broadcastable to the batch or keepdims shape)
_Temperature = float | ArrayLike

@overload
def softmax(x: _Scalar, axis: _Axis = -1, *, temperature: _Temperature = 1.0,
            where: ArrayLike | None = None, dtype: DTypeLike | None = None, out: None = None,
            num_threads: int | None = None) -> Any: ...
@overload
def softmax(x: ArrayLike, axis: _Axis = -1, *, temperature: _Temperature = 1.0,
            where: ArrayLike | None = None, dtype: _DType[_F], out: None = None,
            num_threads: int | None = None) -> NDArray[_F]: ...
@overload
def softmax(x: NDArray[_F], axis: _Axis = -1, *, temperature: _Temperature = 1.0,
            where: ArrayLike | None = None, dtype: None = None, out: None = None,
            num_threads: int | None = None) -> NDArray[_F]: ...
@overload
def softmax(x: ArrayLike, axis: _Axis = -1, *, temperature: _Temperature = 1.0,
            where: ArrayLike | None = None, dtype: DTypeLike | None = None, out: None = None,
            num_threads: int | None = None) -> NDArray[Any]: ...
@overload
def softmax(x: ArrayLike, axis: _Axis = -1, *, temperature: _Temperature = 1.0,
            where: ArrayLike | None = None, dtype: DTypeLike | None = None, out: _Out,
            num_threads: int | None = None) -> _Out: ...

@overload
def log_softmax(x: _Scalar, axis: _Axis = -1, *, temperature: _Temperature = 1.0,
                where: ArrayLike | None = None, dtype: DTypeLike | None = None, out: None = None,
                num_threads: int | None = None) -> Any: ...
@overload
def log_softmax(x: ArrayLike, axis: _Axis = -1, *, temperature: _Temperature = 1.0,
                where: ArrayLike | None = None, dtype: _DType[_F], out: None = None,
                num_threads: int | None = None) -> NDArray[_F]: ...
@overload
def log_softmax(x: NDArray[_F], axis: _Axis = -1, *, temperature: _Temperature = 1.0,
                where: ArrayLike | None = None, dtype: None = None, out: None = None,
                num_threads: int | None = None) -> NDArray[_F]: ...
@overload
def log_softmax(x: ArrayLike, axis: _Axis = -1, *, temperature: _Temperature = 1.0,
                where: ArrayLike | None = None, dtype: DTypeLike | None = None, out: None = None,
                num_threads: int | None = None) -> NDArray[Any]: ...
@overload
def log_softmax(x: ArrayLike, axis: _Axis = -1, *, temperature: _Temperature = 1.0,
                where: ArrayLike | None = None, dtype: DTypeLike | None = None, out: _Out,
                num_threads: int | None = None) -> _Out: ...

# A floating input (or dtype=) gives its scalar type for axis=None, else an
# array or a scalar depending on x's rank; other inputs give Any.
@overload
def logsumexp(x: NDArray[_F], axis: None, *, b: ArrayLike | None = None,
              keepdims: Literal[False] = False, return_sign: Literal[False] = False,
              temperature: _Temperature = 1.0, where: ArrayLike | None = None, dtype: None = None,
              out: None = None, num_threads: int | None = None) -> _F: ...
@overload
def logsumexp(x: NDArray[_F], axis: _Axis = -1, *, b: ArrayLike | None = None,
              keepdims: bool = False, return_sign: Literal[False] = False,
              temperature: _Temperature = 1.0, where: ArrayLike | None = None, dtype: None = None,
              out: None = None, num_threads: int | None = None) -> _Either[_F]: ...
@overload
def logsumexp(x: ArrayLike, axis: _Axis = -1, *, b: ArrayLike | None = None,
              keepdims: bool = False, return_sign: Literal[False] = False,
              temperature: _Temperature = 1.0, where: ArrayLike | None = None, dtype: _DType[_F],
              out: None = None, num_threads: int | None = None) -> _Either[_F]: ...
@overload
def logsumexp(x: ArrayLike, axis: _Axis = -1, *, b: ArrayLike | None = None,
              keepdims: bool = False, return_sign: Literal[False] = False,
              temperature: _Temperature = 1.0, where: ArrayLike | None = None, dtype: DTypeLike | None = None,
              out: None = None, num_threads: int | None = None) -> Any: ...
@overload
def logsumexp(x: ArrayLike, axis: _Axis = -1, *, b: ArrayLike | None = None,
              keepdims: bool = False, return_sign: Literal[False] = False,
              temperature: _Temperature = 1.0, where: ArrayLike | None = None, dtype: DTypeLike | None = None,
              out: _Out, num_threads: int | None = None) -> _Out: ...
# return_sign=True: (result, sign), both of the result's type
@overload
def logsumexp(x: NDArray[_F], axis: _Axis = -1, *, b: ArrayLike | None = None,
              keepdims: bool = False, return_sign: Literal[True],
              temperature: _Temperature = 1.0, where: ArrayLike | None = None, dtype: None = None, out: None = None,
              num_threads: int | None = None) -> tuple[_Either[_F], _Either[_F]]: ...
@overload
def logsumexp(x: ArrayLike, axis: _Axis = -1, *, b: ArrayLike | None = None,
              keepdims: bool = False, return_sign: Literal[True],
              temperature: _Temperature = 1.0, where: ArrayLike | None = None, dtype: _DType[_F], out: None = None,
              num_threads: int | None = None) -> tuple[_Either[_F], _Either[_F]]: ...
@overload
def logsumexp(x: ArrayLike, axis: _Axis = -1, *, b: ArrayLike | None = None,
              keepdims: bool = False, return_sign: Literal[True],
              temperature: _Temperature = 1.0, where: ArrayLike | None = None, dtype: DTypeLike | None = None,
              out: None = None, num_threads: int | None = None) -> tuple[Any, Any]: ...
@overload
def logsumexp(x: ArrayLike, axis: _Axis = -1, *, b: ArrayLike | None = None,
              keepdims: bool = False, return_sign: Literal[True],
              temperature: _Temperature = 1.0, where: ArrayLike | None = None, dtype: DTypeLike | None = None,
              out: _Out, num_threads: int | None = None) -> tuple[_Out, Any]: ...
@overload
def logsumexp(x: ArrayLike, axis: _Axis = -1, *, b: ArrayLike | None = None,
              keepdims: bool = False, return_sign: bool,
              temperature: _Temperature = 1.0, where: ArrayLike | None = None, dtype: DTypeLike | None = None,
              out: NDArray[Any] | None = None, num_threads: int | None = None) -> Any: ...
