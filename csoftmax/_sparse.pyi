"""Type stubs of csoftmax/_sparse.py.

A floating array keeps its dtype through the maps (a 0-d input gives a NumPy
scalar). Reduced losses ('mean', 'sum') are NumPy floating scalars, 'none' an array;
return_grad=True adds the gradient, an array of the logits' shape.
entmax_bisect_backward with return_alpha_grad=True returns (dx, d_alpha),
d_alpha shaped like alpha (a NumPy scalar for a scalar alpha).
"""
from typing import Any, Literal, TypeVar, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "sparsemax", "entmax15", "entmax_bisect", "sparsemax_backward", "entmax15_backward",
    "entmax_bisect_backward", "sparsemax_loss", "entmax15_loss", "entmax_bisect_loss",
]

_Out = TypeVar("_Out", bound=np.ndarray[Any, Any])
_F = TypeVar("_F", bound=np.floating[Any])
_Scalar = float | np.number[Any] | np.bool_
_Reduced = Literal["mean", "sum"]
_Loss = np.floating[Any]
_Array = NDArray[Any]

@overload
def sparsemax(x: _Scalar, axis: int = -1, *, out: None = None,
              num_threads: int | None = None) -> Any: ...
@overload
def sparsemax(x: NDArray[_F], axis: int = -1, *, out: None = None,
              num_threads: int | None = None) -> NDArray[_F]: ...
@overload
def sparsemax(x: ArrayLike, axis: int = -1, *, out: None = None,
              num_threads: int | None = None) -> NDArray[Any]: ...
@overload
def sparsemax(x: ArrayLike, axis: int = -1, *, out: _Out,
              num_threads: int | None = None) -> _Out: ...
@overload
def entmax15(x: _Scalar, axis: int = -1, *, out: None = None,
             num_threads: int | None = None) -> Any: ...
@overload
def entmax15(x: NDArray[_F], axis: int = -1, *, out: None = None,
             num_threads: int | None = None) -> NDArray[_F]: ...
@overload
def entmax15(x: ArrayLike, axis: int = -1, *, out: None = None,
             num_threads: int | None = None) -> NDArray[Any]: ...
@overload
def entmax15(x: ArrayLike, axis: int = -1, *, out: _Out,
             num_threads: int | None = None) -> _Out: ...
@overload
def entmax_bisect(x: _Scalar, alpha: ArrayLike = 1.5, axis: int = -1, *, n_iter: int = 50,
                  out: None = None,
                  num_threads: int | None = None) -> Any: ...
@overload
def entmax_bisect(x: NDArray[_F], alpha: ArrayLike = 1.5, axis: int = -1, *, n_iter: int = 50,
                  out: None = None,
                  num_threads: int | None = None) -> NDArray[_F]: ...
@overload
def entmax_bisect(x: ArrayLike, alpha: ArrayLike = 1.5, axis: int = -1, *, n_iter: int = 50,
                  out: None = None,
                  num_threads: int | None = None) -> NDArray[Any]: ...
@overload
def entmax_bisect(x: ArrayLike, alpha: ArrayLike = 1.5, axis: int = -1, *, n_iter: int = 50,
                  out: _Out,
                  num_threads: int | None = None) -> _Out: ...
def sparsemax_backward(grad_output: ArrayLike, output: ArrayLike, axis: int = -1, *,
                       num_threads: int | None = None) -> _Array: ...
def entmax15_backward(grad_output: ArrayLike, output: ArrayLike, axis: int = -1, *,
                      num_threads: int | None = None) -> _Array: ...
@overload
def entmax_bisect_backward(grad_output: ArrayLike, output: ArrayLike, alpha: ArrayLike = 1.5,
                           axis: int = -1, *, return_alpha_grad: Literal[False] = False,
                           num_threads: int | None = None) -> _Array: ...
@overload
def entmax_bisect_backward(grad_output: ArrayLike, output: ArrayLike, alpha: ArrayLike = 1.5,
                           axis: int = -1, *, return_alpha_grad: Literal[True],
                           num_threads: int | None = None) -> tuple[_Array, Any]: ...
@overload
def entmax_bisect_backward(grad_output: ArrayLike, output: ArrayLike, alpha: ArrayLike = 1.5,
                           axis: int = -1, *, return_alpha_grad: bool,
                           num_threads: int | None = None) -> Any: ...

@overload
def sparsemax_loss(logits: ArrayLike, target: ArrayLike, *, axis: int = -1,
                   ignore_index: int = -100, reduction: _Reduced = "mean",
                   return_grad: Literal[False] = False, num_threads: int | None = None) -> _Loss: ...
@overload
def sparsemax_loss(logits: ArrayLike, target: ArrayLike, *, axis: int = -1,
                   ignore_index: int = -100, reduction: Literal["none"],
                   return_grad: Literal[False] = False, num_threads: int | None = None) -> _Array: ...
@overload
def sparsemax_loss(logits: ArrayLike, target: ArrayLike, *, axis: int = -1,
                   ignore_index: int = -100, reduction: _Reduced = "mean",
                   return_grad: Literal[True], num_threads: int | None = None
                   ) -> tuple[_Loss, _Array]: ...
@overload
def sparsemax_loss(logits: ArrayLike, target: ArrayLike, *, axis: int = -1,
                   ignore_index: int = -100, reduction: Literal["none"],
                   return_grad: Literal[True], num_threads: int | None = None
                   ) -> tuple[_Array, _Array]: ...
@overload
def sparsemax_loss(logits: ArrayLike, target: ArrayLike, *, axis: int = -1,
                   ignore_index: int = -100, reduction: Literal["mean", "sum", "none"] = "mean",
                   return_grad: bool = False, num_threads: int | None = None) -> Any: ...

@overload
def entmax15_loss(logits: ArrayLike, target: ArrayLike, *, axis: int = -1,
                  ignore_index: int = -100, reduction: _Reduced = "mean",
                  return_grad: Literal[False] = False, num_threads: int | None = None) -> _Loss: ...
@overload
def entmax15_loss(logits: ArrayLike, target: ArrayLike, *, axis: int = -1,
                  ignore_index: int = -100, reduction: Literal["none"],
                  return_grad: Literal[False] = False, num_threads: int | None = None) -> _Array: ...
@overload
def entmax15_loss(logits: ArrayLike, target: ArrayLike, *, axis: int = -1,
                  ignore_index: int = -100, reduction: _Reduced = "mean",
                  return_grad: Literal[True], num_threads: int | None = None
                  ) -> tuple[_Loss, _Array]: ...
@overload
def entmax15_loss(logits: ArrayLike, target: ArrayLike, *, axis: int = -1,
                  ignore_index: int = -100, reduction: Literal["none"],
                  return_grad: Literal[True], num_threads: int | None = None
                  ) -> tuple[_Array, _Array]: ...
@overload
def entmax15_loss(logits: ArrayLike, target: ArrayLike, *, axis: int = -1,
                  ignore_index: int = -100, reduction: Literal["mean", "sum", "none"] = "mean",
                  return_grad: bool = False, num_threads: int | None = None) -> Any: ...

@overload
def entmax_bisect_loss(logits: ArrayLike, target: ArrayLike, alpha: ArrayLike = 1.5, *,
                       axis: int = -1, n_iter: int = 50, ignore_index: int = -100,
                       reduction: _Reduced = "mean", return_grad: Literal[False] = False,
                       num_threads: int | None = None) -> _Loss: ...
@overload
def entmax_bisect_loss(logits: ArrayLike, target: ArrayLike, alpha: ArrayLike = 1.5, *,
                       axis: int = -1, n_iter: int = 50, ignore_index: int = -100,
                       reduction: Literal["none"], return_grad: Literal[False] = False,
                       num_threads: int | None = None) -> _Array: ...
@overload
def entmax_bisect_loss(logits: ArrayLike, target: ArrayLike, alpha: ArrayLike = 1.5, *,
                       axis: int = -1, n_iter: int = 50, ignore_index: int = -100,
                       reduction: _Reduced = "mean", return_grad: Literal[True],
                       num_threads: int | None = None) -> tuple[_Loss, _Array]: ...
@overload
def entmax_bisect_loss(logits: ArrayLike, target: ArrayLike, alpha: ArrayLike = 1.5, *,
                       axis: int = -1, n_iter: int = 50, ignore_index: int = -100,
                       reduction: Literal["none"], return_grad: Literal[True],
                       num_threads: int | None = None) -> tuple[_Array, _Array]: ...
@overload
def entmax_bisect_loss(logits: ArrayLike, target: ArrayLike, alpha: ArrayLike = 1.5, *,
                       axis: int = -1, n_iter: int = 50, ignore_index: int = -100,
                       reduction: Literal["mean", "sum", "none"] = "mean",
                       return_grad: bool = False, num_threads: int | None = None) -> Any: ...
