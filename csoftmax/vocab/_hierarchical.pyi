"""Type stubs of csoftmax/vocab/_hierarchical.py.

The parameters are float32 or float64 arrays, set by the constructor's dtype
and replaceable by assignment; a call returns its compute dtype, hence Any.
"""
from typing import Any, Literal, overload

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

__all__ = ["HierarchicalSoftmax"]

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
    def log_prob(self, hidden: ArrayLike, target: ArrayLike) -> NDArray[Any]: ...
    def log_proba(self, hidden: ArrayLike) -> NDArray[Any]: ...
    # grads: 'hidden', 'node_weight', 'node_bias'
    @overload
    def loss(self, hidden: ArrayLike, target: ArrayLike,
             return_grad: Literal[False] = False) -> np.floating[Any]: ...
    @overload
    def loss(self, hidden: ArrayLike, target: ArrayLike,
             return_grad: Literal[True]) -> tuple[np.floating[Any], dict[str, NDArray[Any]]]: ...
    @overload
    def loss(self, hidden: ArrayLike, target: ArrayLike, return_grad: bool = False) -> Any: ...
    def predict(self, hidden: ArrayLike) -> NDArray[np.int64]: ...
