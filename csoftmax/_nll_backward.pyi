"""Type stubs of csoftmax/_nll_backward.py.

nll_loss returns a NumPy floating scalar when reduced, an array for 'none';
the backward functions return arrays of the output's shape. A reduction or
return_grad whose value is not known statically gives Any.
"""
from typing import Any, Literal, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["log_softmax_backward", "nll_loss", "softmax_backward"]

_Reduced = Literal["mean", "sum"]
_Reduction = Literal["mean", "sum", "none"]
_Loss = np.floating[Any]
_Array = NDArray[Any]

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

def softmax_backward(grad_output: ArrayLike, output: ArrayLike, axis: int = -1, *,
                     out: NDArray[Any] | None = None, num_threads: int | None = None) -> _Array: ...

def log_softmax_backward(grad_output: ArrayLike, output: ArrayLike, axis: int = -1, *,
                         out: NDArray[Any] | None = None,
                         num_threads: int | None = None) -> _Array: ...
