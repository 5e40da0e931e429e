"""Type stubs of csoftmax/_losses.py.

Overloads follow the return conventions: a reduced loss ('mean', 'sum',
'batchmean') is a NumPy floating scalar, 'none' an array; return_grad=True
adds the gradient, an array of the logits' shape. reduction is one of the
Literal values (mypy rejects any other string); a reduction or return_grad
whose value is not known statically gives Any.
"""
from typing import Any, Literal, overload

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

__all__ = [
    "cross_entropy", "nll_loss", "kl_div", "entropy", "binary_cross_entropy_with_logits",
    "sigmoid", "log_sigmoid", "focal_loss", "sigmoid_focal_loss", "softmax_backward",
    "log_softmax_backward", "one_hot", "hardmax",
]

_Reduced = Literal["mean", "sum"]
_Reduction = Literal["mean", "sum", "none"]  # any other value raises ValueError
_Loss = np.floating[Any]
_Array = NDArray[Any]
_Scalar = float | np.number[Any] | np.bool_

@overload
def cross_entropy(logits: ArrayLike, target: ArrayLike, *, axis: int = -1,
                  weight: ArrayLike | None = None, ignore_index: int = -100,
                  reduction: _Reduced = "mean", label_smoothing: float = 0.0,
                  z_loss: float = 0.0, softcap: float | None = None,
                  return_grad: Literal[False] = False, num_threads: int | None = None) -> _Loss: ...
@overload
def cross_entropy(logits: ArrayLike, target: ArrayLike, *, axis: int = -1,
                  weight: ArrayLike | None = None, ignore_index: int = -100,
                  reduction: Literal["none"], label_smoothing: float = 0.0,
                  z_loss: float = 0.0, softcap: float | None = None,
                  return_grad: Literal[False] = False, num_threads: int | None = None) -> _Array: ...
@overload
def cross_entropy(logits: ArrayLike, target: ArrayLike, *, axis: int = -1,
                  weight: ArrayLike | None = None, ignore_index: int = -100,
                  reduction: _Reduced = "mean", label_smoothing: float = 0.0,
                  z_loss: float = 0.0, softcap: float | None = None,
                  return_grad: Literal[True], num_threads: int | None = None
                  ) -> tuple[_Loss, _Array]: ...
@overload
def cross_entropy(logits: ArrayLike, target: ArrayLike, *, axis: int = -1,
                  weight: ArrayLike | None = None, ignore_index: int = -100,
                  reduction: Literal["none"], label_smoothing: float = 0.0,
                  z_loss: float = 0.0, softcap: float | None = None,
                  return_grad: Literal[True], num_threads: int | None = None
                  ) -> tuple[_Array, _Array]: ...
@overload
def cross_entropy(logits: ArrayLike, target: ArrayLike, *, axis: int = -1,
                  weight: ArrayLike | None = None, ignore_index: int = -100,
                  reduction: _Reduction = "mean", label_smoothing: float = 0.0,
                  z_loss: float = 0.0, softcap: float | None = None,
                  return_grad: bool = False, num_threads: int | None = None) -> Any: ...

@overload
def focal_loss(logits: ArrayLike, target: ArrayLike, *, gamma: float = 2.0,
               alpha: float | ArrayLike | None = None, axis: int = -1, ignore_index: int = -100,
               reduction: _Reduced = "mean", return_grad: Literal[False] = False,
               num_threads: int | None = None) -> _Loss: ...
@overload
def focal_loss(logits: ArrayLike, target: ArrayLike, *, gamma: float = 2.0,
               alpha: float | ArrayLike | None = None, axis: int = -1, ignore_index: int = -100,
               reduction: Literal["none"], return_grad: Literal[False] = False,
               num_threads: int | None = None) -> _Array: ...
@overload
def focal_loss(logits: ArrayLike, target: ArrayLike, *, gamma: float = 2.0,
               alpha: float | ArrayLike | None = None, axis: int = -1, ignore_index: int = -100,
               reduction: _Reduced = "mean", return_grad: Literal[True],
               num_threads: int | None = None) -> tuple[_Loss, _Array]: ...
@overload
def focal_loss(logits: ArrayLike, target: ArrayLike, *, gamma: float = 2.0,
               alpha: float | ArrayLike | None = None, axis: int = -1, ignore_index: int = -100,
               reduction: Literal["none"], return_grad: Literal[True],
               num_threads: int | None = None) -> tuple[_Array, _Array]: ...
@overload
def focal_loss(logits: ArrayLike, target: ArrayLike, *, gamma: float = 2.0,
               alpha: float | ArrayLike | None = None, axis: int = -1, ignore_index: int = -100,
               reduction: _Reduction = "mean", return_grad: bool = False,
               num_threads: int | None = None) -> Any: ...

@overload
def entropy(logits: ArrayLike, axis: int = -1, *, reduction: Literal["none"] = "none",
            num_threads: int | None = None) -> _Array: ...
@overload
def entropy(logits: ArrayLike, axis: int = -1, *, reduction: _Reduced,
            num_threads: int | None = None) -> _Loss: ...
@overload
def entropy(logits: ArrayLike, axis: int = -1, *, reduction: _Reduction,
            num_threads: int | None = None) -> Any: ...

@overload
def nll_loss(log_probs: ArrayLike, target: ArrayLike, *, axis: int = -1,
             weight: ArrayLike | None = None, ignore_index: int = -100,
             reduction: _Reduced = "mean", return_grad: Literal[False] = False,
             num_threads: int | None = None) -> _Loss: ...
@overload
def nll_loss(log_probs: ArrayLike, target: ArrayLike, *, axis: int = -1,
             weight: ArrayLike | None = None, ignore_index: int = -100,
             reduction: Literal["none"], return_grad: Literal[False] = False,
             num_threads: int | None = None) -> _Array: ...
@overload
def nll_loss(log_probs: ArrayLike, target: ArrayLike, *, axis: int = -1,
             weight: ArrayLike | None = None, ignore_index: int = -100,
             reduction: _Reduced = "mean", return_grad: Literal[True],
             num_threads: int | None = None) -> tuple[_Loss, _Array]: ...
@overload
def nll_loss(log_probs: ArrayLike, target: ArrayLike, *, axis: int = -1,
             weight: ArrayLike | None = None, ignore_index: int = -100,
             reduction: Literal["none"], return_grad: Literal[True],
             num_threads: int | None = None) -> tuple[_Array, _Array]: ...
@overload
def nll_loss(log_probs: ArrayLike, target: ArrayLike, *, axis: int = -1,
             weight: ArrayLike | None = None, ignore_index: int = -100,
             reduction: _Reduction = "mean", return_grad: bool = False,
             num_threads: int | None = None) -> Any: ...

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

def softmax_backward(grad_output: ArrayLike, output: ArrayLike, axis: int = -1, *,
                     out: NDArray[Any] | None = None, num_threads: int | None = None) -> _Array: ...
def log_softmax_backward(grad_output: ArrayLike, output: ArrayLike, axis: int = -1, *,
                         out: NDArray[Any] | None = None,
                         num_threads: int | None = None) -> _Array: ...

def one_hot(labels: ArrayLike, num_classes: int | None = None, *,
            dtype: DTypeLike = ...) -> _Array: ...
@overload
def hardmax(x: _Scalar, axis: int = -1) -> Any: ...
@overload
def hardmax(x: ArrayLike, axis: int = -1) -> _Array: ...
