"""Type stubs of csoftmax/_softmax_losses.py.

cross_entropy, focal_loss and entropy: a reduced loss is a NumPy floating
scalar, 'none' an array; return_grad=True adds the gradient. A reduction or
return_grad whose value is not known statically gives Any.
"""
from typing import Any, Literal, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["cross_entropy", "entropy", "focal_loss"]

_Reduced = Literal["mean", "sum"]
_Reduction = Literal["mean", "sum", "none"]
_Loss = np.floating[Any]
_Array = NDArray[Any]

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
