"""Type stubs of csoftmax/vocab/_adaptive.py.

The parameters are float32 or float64 arrays, set by the constructor's dtype
and replaceable by assignment; a call returns its compute dtype, hence Any.
"""
from collections.abc import Sequence
from typing import Any, Literal, overload

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

__all__ = ["AdaptiveSoftmax"]

class AdaptiveSoftmax:
    in_features: int
    n_classes: int
    cutoffs: list[int]
    div_value: float
    head_bias: bool
    shortlist_size: int
    n_clusters: int
    head_size: int
    head_weight: NDArray[Any]
    head_bias_: NDArray[Any]  # only when head_bias is True
    tail: list[tuple[NDArray[Any], NDArray[Any]]]
    def __init__(self, in_features: int, n_classes: int, cutoffs: Sequence[int], *,
                 div_value: float = 4.0, head_bias: bool = False,
                 seed: int | np.random.Generator | None = None,
                 dtype: DTypeLike = ...) -> None: ...
    def log_prob(self, hidden: ArrayLike) -> NDArray[Any]: ...
    # grads: 'hidden', 'head_weight', 'head_bias_' (arrays) and 'tail' (a list
    # of (d_proj, d_out) pairs)
    @overload
    def loss(self, hidden: ArrayLike, target: ArrayLike,
             return_grad: Literal[False] = False) -> np.floating[Any]: ...
    @overload
    def loss(self, hidden: ArrayLike, target: ArrayLike,
             return_grad: Literal[True]) -> tuple[np.floating[Any], dict[str, Any]]: ...
    @overload
    def loss(self, hidden: ArrayLike, target: ArrayLike, return_grad: bool = False) -> Any: ...
    def predict(self, hidden: ArrayLike) -> NDArray[np.intp]: ...
