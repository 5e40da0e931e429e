"""Type stubs of csoftmax/dask.py.

Every function returns lazy dask arrays: return_sign=True (logsumexp) and
return_grad=True (cross_entropy) give a pair of them. There is no out=
(results are lazy). Non-literal return_sign or return_grad
arguments give Any.
"""
from typing import Any, Literal, overload

import dask.array as da
from numpy.typing import ArrayLike, DTypeLike

__all__ = ["softmax", "log_softmax", "logsumexp", "cross_entropy"]

_Input = da.Array | ArrayLike
_Axis = int | tuple[int, ...] | None
_SplitEvery = int | dict[int, int] | None

def softmax(x: _Input, axis: _Axis = -1, *, temperature: float = 1.0,
            where: _Input | None = None, dtype: DTypeLike | None = None, 
            num_threads: int | None = 1, split_every: _SplitEvery = None) -> da.Array: ...
def log_softmax(x: _Input, axis: _Axis = -1, *, temperature: float = 1.0,
                where: _Input | None = None, dtype: DTypeLike | None = None,
                num_threads: int | None = 1, split_every: _SplitEvery = None) -> da.Array: ...

@overload
def logsumexp(x: _Input, axis: _Axis = -1, *, b: _Input | None = None, keepdims: bool = False,
              return_sign: Literal[False] = False, where: _Input | None = None,
              dtype: DTypeLike | None = None, num_threads: int | None = 1,
              split_every: _SplitEvery = None) -> da.Array: ...
@overload
def logsumexp(x: _Input, axis: _Axis = -1, *, b: _Input | None = None, keepdims: bool = False,
              return_sign: Literal[True], where: _Input | None = None,
              dtype: DTypeLike | None = None, num_threads: int | None = 1,
              split_every: _SplitEvery = None) -> tuple[da.Array, da.Array]: ...
@overload
def logsumexp(x: _Input, axis: _Axis = -1, *, b: _Input | None = None, keepdims: bool = False,
              return_sign: bool, where: _Input | None = None,
              dtype: DTypeLike | None = None, num_threads: int | None = 1,
              split_every: _SplitEvery = None) -> Any: ...

@overload
def cross_entropy(logits: _Input, target: _Input, *, axis: int = -1,
                  weight: ArrayLike | None = None, ignore_index: int = -100,
                  reduction: Literal["mean", "sum", "none"] = "mean", label_smoothing: float = 0.0,
                  return_grad: Literal[False] = False, num_threads: int | None = 1,
                  split_every: _SplitEvery = None) -> da.Array: ...
@overload
def cross_entropy(logits: _Input, target: _Input, *, axis: int = -1,
                  weight: ArrayLike | None = None, ignore_index: int = -100,
                  reduction: Literal["mean", "sum", "none"] = "mean", label_smoothing: float = 0.0,
                  return_grad: Literal[True], num_threads: int | None = 1,
                  split_every: _SplitEvery = None) -> tuple[da.Array, da.Array]: ...
@overload
def cross_entropy(logits: _Input, target: _Input, *, axis: int = -1,
                  weight: ArrayLike | None = None, ignore_index: int = -100,
                  reduction: Literal["mean", "sum", "none"] = "mean", label_smoothing: float = 0.0,
                  return_grad: bool, num_threads: int | None = 1,
                  split_every: _SplitEvery = None) -> Any: ...
