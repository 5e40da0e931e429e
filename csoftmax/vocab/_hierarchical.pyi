"""Type stubs of csoftmax/vocab/_hierarchical.py.

The parameters are float32 or float64 arrays, set by the constructor's dtype
and replaceable by assignment; a call returns its compute dtype, hence Any.
Overloads follow the losses' conventions: a reduced loss ('mean', 'sum') is a
NumPy floating scalar, 'none' an array; return_grad=True adds the grads dict.
"""
from typing import Any, Literal, overload

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

__all__ = ["HierarchicalSoftmax"]

_Reduced = Literal["mean", "sum"]
_Reduction = Literal["mean", "sum", "none"]
_Loss = np.floating[Any]
_Grads = dict[str, NDArray[Any]]  # 'hidden', 'node_weight', 'node_bias'

class HierarchicalSoftmax:
    dim: int
    n_classes: int
    children: NDArray[np.int64]
    code_lengths: NDArray[np.int64]
    node_weight: NDArray[Any]
    node_bias: NDArray[Any]
    def __init__(self, counts: ArrayLike, dim: int, *,
                 seed: int | np.random.Generator | None = None,
                 dtype: DTypeLike = ...) -> None: ...
    def log_prob(self, hidden: ArrayLike, target: ArrayLike | None = None) -> NDArray[Any]: ...
    def log_proba(self, hidden: ArrayLike) -> NDArray[Any]: ...
    @overload
    def loss(self, hidden: ArrayLike, target: ArrayLike, *, reduction: _Reduced = "mean",
             return_grad: Literal[False] = False) -> _Loss: ...
    @overload
    def loss(self, hidden: ArrayLike, target: ArrayLike, *, reduction: Literal["none"],
             return_grad: Literal[False] = False) -> NDArray[Any]: ...
    @overload
    def loss(self, hidden: ArrayLike, target: ArrayLike, *, reduction: _Reduced = "mean",
             return_grad: Literal[True]) -> tuple[_Loss, _Grads]: ...
    @overload
    def loss(self, hidden: ArrayLike, target: ArrayLike, *, reduction: Literal["none"],
             return_grad: Literal[True]) -> tuple[NDArray[Any], _Grads]: ...
    @overload
    def loss(self, hidden: ArrayLike, target: ArrayLike, *, reduction: _Reduction = "mean",
             return_grad: bool = False) -> Any: ...
    def predict(self, hidden: ArrayLike) -> NDArray[np.int64]: ...
