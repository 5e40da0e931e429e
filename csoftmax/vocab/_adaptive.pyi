"""Type stubs of csoftmax/vocab/_adaptive.py.

The parameters are float32 or float64 arrays, set by the constructor's dtype
and replaceable by assignment; a call returns its compute dtype, hence Any.
Overloads follow the losses' conventions: a reduced loss ('mean', 'sum') is a
NumPy floating scalar, 'none' an array; return_grad=True adds the grads dict.
"""
from collections.abc import Sequence
from typing import Any, Literal, overload

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray
from typing_extensions import Self

__all__ = ["AdaptiveSoftmax"]

_Reduced = Literal["mean", "sum"]
_Reduction = Literal["mean", "sum", "none"]
_Loss = np.floating[Any]
# 'hidden', 'head_weight', 'head_bias_' (arrays) and 'tail' (a list of
# (d_proj, d_out) pairs)
_Grads = dict[str, Any]

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
    # module: a torch.nn.AdaptiveLogSoftmaxWithLoss (torch is an optional peer)
    @classmethod
    def from_torch(cls, module: Any) -> Self: ...
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
    def predict(self, hidden: ArrayLike) -> NDArray[np.intp]: ...
