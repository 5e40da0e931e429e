"""Type stubs of csoftmax/vocab/_sampled.py.

Overloads follow the return conventions of the losses: a reduced loss
('mean', 'sum') is a NumPy floating scalar, 'none' an array; return_grad=True
adds the gradients, with the output-layer ones sparse as (indices, rows).
A reduction or return_grad whose value is not known statically gives Any.
"""
from typing import Any, Literal, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["sampled_softmax_loss", "negative_sampling_loss"]

_Reduced = Literal["mean", "sum"]
_Reduction = Literal["mean", "sum", "none"]  # any other value raises ValueError
_Loss = np.floating[Any]
_Array = NDArray[Any]
_Seed = int | np.random.SeedSequence | np.random.BitGenerator | np.random.Generator | None
_Sampler = Literal["log_uniform", "uniform"]
# (indices, rows): the distinct class ids touched, sorted, and their gradient rows
_Sparse = tuple[NDArray[np.int64], _Array]
_SampledGrads = tuple[_Array, _Sparse, _Sparse]    # d_hidden, d_weight, d_bias
_NegativeGrads = tuple[_Array, _Sparse]            # d_hidden, d_weight

@overload
def sampled_softmax_loss(hidden: ArrayLike, weight: ArrayLike, bias: ArrayLike,
                         target: ArrayLike, num_sampled: int, *, sampler: _Sampler = "log_uniform",
                         unique: bool = True, remove_accidental_hits: bool = True,
                         seed: _Seed = None, reduction: _Reduced = "mean",
                         return_grad: Literal[False] = False) -> _Loss: ...
@overload
def sampled_softmax_loss(hidden: ArrayLike, weight: ArrayLike, bias: ArrayLike,
                         target: ArrayLike, num_sampled: int, *, sampler: _Sampler = "log_uniform",
                         unique: bool = True, remove_accidental_hits: bool = True,
                         seed: _Seed = None, reduction: Literal["none"],
                         return_grad: Literal[False] = False) -> _Array: ...
@overload
def sampled_softmax_loss(hidden: ArrayLike, weight: ArrayLike, bias: ArrayLike,
                         target: ArrayLike, num_sampled: int, *, sampler: _Sampler = "log_uniform",
                         unique: bool = True, remove_accidental_hits: bool = True,
                         seed: _Seed = None, reduction: _Reduced = "mean",
                         return_grad: Literal[True]) -> tuple[_Loss, _SampledGrads]: ...
@overload
def sampled_softmax_loss(hidden: ArrayLike, weight: ArrayLike, bias: ArrayLike,
                         target: ArrayLike, num_sampled: int, *, sampler: _Sampler = "log_uniform",
                         unique: bool = True, remove_accidental_hits: bool = True,
                         seed: _Seed = None, reduction: Literal["none"],
                         return_grad: Literal[True]) -> tuple[_Array, _SampledGrads]: ...
@overload
def sampled_softmax_loss(hidden: ArrayLike, weight: ArrayLike, bias: ArrayLike,
                         target: ArrayLike, num_sampled: int, *, sampler: str = "log_uniform",
                         unique: bool = True, remove_accidental_hits: bool = True,
                         seed: _Seed = None, reduction: _Reduction = "mean",
                         return_grad: bool = False) -> Any: ...

@overload
def negative_sampling_loss(hidden: ArrayLike, weight: ArrayLike, target: ArrayLike,
                           negatives: ArrayLike, *, reduction: _Reduced = "mean",
                           return_grad: Literal[False] = False) -> _Loss: ...
@overload
def negative_sampling_loss(hidden: ArrayLike, weight: ArrayLike, target: ArrayLike,
                           negatives: ArrayLike, *, reduction: Literal["none"],
                           return_grad: Literal[False] = False) -> _Array: ...
@overload
def negative_sampling_loss(hidden: ArrayLike, weight: ArrayLike, target: ArrayLike,
                           negatives: ArrayLike, *, reduction: _Reduced = "mean",
                           return_grad: Literal[True]) -> tuple[_Loss, _NegativeGrads]: ...
@overload
def negative_sampling_loss(hidden: ArrayLike, weight: ArrayLike, target: ArrayLike,
                           negatives: ArrayLike, *, reduction: Literal["none"],
                           return_grad: Literal[True]) -> tuple[_Array, _NegativeGrads]: ...
@overload
def negative_sampling_loss(hidden: ArrayLike, weight: ArrayLike, target: ArrayLike,
                           negatives: ArrayLike, *, reduction: _Reduction = "mean",
                           return_grad: bool = False) -> Any: ...
