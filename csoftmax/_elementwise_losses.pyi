"""Type stubs of csoftmax/_elementwise_losses.py.

The element-wise losses return a NumPy floating scalar when reduced, an array
for 'none', and with return_grad=True the gradient beside it. A reduction or
return_grad whose value is not known statically gives Any.
"""
from typing import Any, Literal, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["binary_cross_entropy_with_logits", "kl_div", "log_sigmoid", "sigmoid", "sigmoid_focal_loss"]

_Reduced = Literal["mean", "sum"]
_Reduction = Literal["mean", "sum", "none"]
_Loss = np.floating[Any]
_Array = NDArray[Any]
_Scalar = float | np.number[Any] | np.bool_

@overload
def kl_div(input: ArrayLike, target: ArrayLike, *,
           reduction: Literal["mean", "sum", "batchmean"] = "mean", log_target: bool = False,
           return_grad: Literal[False] = False, num_threads: int | None = None) -> _Loss: ...
@overload
def kl_div(input: ArrayLike, target: ArrayLike, *, reduction: Literal["none"],
           log_target: bool = False, return_grad: Literal[False] = False,
           num_threads: int | None = None) -> _Array: ...
@overload
def kl_div(input: ArrayLike, target: ArrayLike, *,
           reduction: Literal["mean", "sum", "batchmean"] = "mean", log_target: bool = False,
           return_grad: Literal[True], num_threads: int | None = None) -> tuple[_Loss, _Array]: ...
@overload
def kl_div(input: ArrayLike, target: ArrayLike, *, reduction: Literal["none"],
           log_target: bool = False, return_grad: Literal[True],
           num_threads: int | None = None) -> tuple[_Array, _Array]: ...
@overload
def kl_div(input: ArrayLike, target: ArrayLike, *,
           reduction: Literal["mean", "sum", "batchmean", "none"] = "mean",
           log_target: bool = False, return_grad: bool = False,
           num_threads: int | None = None) -> Any: ...

@overload
def binary_cross_entropy_with_logits(
        logits: ArrayLike, target: ArrayLike, *, weight: ArrayLike | None = None,
        pos_weight: ArrayLike | None = None, reduction: _Reduced = "mean",
        return_grad: Literal[False] = False, num_threads: int | None = None) -> _Loss: ...
@overload
def binary_cross_entropy_with_logits(
        logits: ArrayLike, target: ArrayLike, *, weight: ArrayLike | None = None,
        pos_weight: ArrayLike | None = None, reduction: Literal["none"],
        return_grad: Literal[False] = False, num_threads: int | None = None) -> _Array: ...
@overload
def binary_cross_entropy_with_logits(
        logits: ArrayLike, target: ArrayLike, *, weight: ArrayLike | None = None,
        pos_weight: ArrayLike | None = None, reduction: _Reduced = "mean",
        return_grad: Literal[True], num_threads: int | None = None) -> tuple[_Loss, _Array]: ...
@overload
def binary_cross_entropy_with_logits(
        logits: ArrayLike, target: ArrayLike, *, weight: ArrayLike | None = None,
        pos_weight: ArrayLike | None = None, reduction: Literal["none"],
        return_grad: Literal[True], num_threads: int | None = None) -> tuple[_Array, _Array]: ...
@overload
def binary_cross_entropy_with_logits(
        logits: ArrayLike, target: ArrayLike, *, weight: ArrayLike | None = None,
        pos_weight: ArrayLike | None = None, reduction: _Reduction = "mean",
        return_grad: bool = False, num_threads: int | None = None) -> Any: ...

@overload
def sigmoid_focal_loss(logits: ArrayLike, target: ArrayLike, *, gamma: float = 2.0,
                       alpha: float = 0.25, reduction: Literal["none"] = "none",
                       return_grad: Literal[False] = False,
                       num_threads: int | None = None) -> _Array: ...
@overload
def sigmoid_focal_loss(logits: ArrayLike, target: ArrayLike, *, gamma: float = 2.0,
                       alpha: float = 0.25, reduction: _Reduced,
                       return_grad: Literal[False] = False,
                       num_threads: int | None = None) -> _Loss: ...
@overload
def sigmoid_focal_loss(logits: ArrayLike, target: ArrayLike, *, gamma: float = 2.0,
                       alpha: float = 0.25, reduction: Literal["none"] = "none",
                       return_grad: Literal[True], num_threads: int | None = None
                       ) -> tuple[_Array, _Array]: ...
@overload
def sigmoid_focal_loss(logits: ArrayLike, target: ArrayLike, *, gamma: float = 2.0,
                       alpha: float = 0.25, reduction: _Reduced, return_grad: Literal[True],
                       num_threads: int | None = None) -> tuple[_Loss, _Array]: ...
@overload
def sigmoid_focal_loss(logits: ArrayLike, target: ArrayLike, *, gamma: float = 2.0,
                       alpha: float = 0.25, reduction: _Reduction = "none",
                       return_grad: bool = False, num_threads: int | None = None) -> Any: ...

# A Python or NumPy scalar gives a NumPy scalar (so does a 0-d array, typed
# as an array here); with out= the result is written there and returned.
@overload
def sigmoid(x: _Scalar, *, out: None = None, num_threads: int | None = None) -> Any: ...
@overload
def sigmoid(x: ArrayLike, *, out: NDArray[Any] | None = None,
            num_threads: int | None = None) -> _Array: ...

@overload
def log_sigmoid(x: _Scalar, *, out: None = None, num_threads: int | None = None) -> Any: ...
@overload
def log_sigmoid(x: ArrayLike, *, out: NDArray[Any] | None = None,
                num_threads: int | None = None) -> _Array: ...
