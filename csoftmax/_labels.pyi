"""Type stubs of csoftmax/_labels.py."""
from typing import Any, overload

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

__all__ = ["hardmax", "one_hot"]

_Array = NDArray[Any]
_Scalar = float | np.number[Any] | np.bool_

def one_hot(labels: ArrayLike, num_classes: int | None = None, *,
            dtype: DTypeLike = ...) -> _Array: ...

@overload
def hardmax(x: _Scalar, axis: int = -1) -> Any: ...
@overload
def hardmax(x: ArrayLike, axis: int = -1) -> _Array: ...
