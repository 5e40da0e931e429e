"""Type stubs of csoftmax/_segments.py: segment softmax and logcumsumexp."""
from typing import Any, TypeVar, overload

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

__all__ = ["segment_softmax", "segment_log_softmax", "segment_logsumexp",
           "segment_softmax_backward", "logcumsumexp"]

_Out = TypeVar("_Out", bound=np.ndarray[Any, Any])

@overload
def segment_softmax(x: ArrayLike, *, offsets: ArrayLike | None = None,
                    index: ArrayLike | None = None, num_segments: int | None = None,
                    axis: int = 0, out: None = None,
                    num_threads: int | None = None) -> NDArray[Any]: ...
@overload
def segment_softmax(x: ArrayLike, *, offsets: ArrayLike | None = None,
                    index: ArrayLike | None = None, num_segments: int | None = None,
                    axis: int = 0, out: _Out, num_threads: int | None = None) -> _Out: ...

@overload
def segment_log_softmax(x: ArrayLike, *, offsets: ArrayLike | None = None,
                        index: ArrayLike | None = None, num_segments: int | None = None,
                        axis: int = 0, out: None = None,
                        num_threads: int | None = None) -> NDArray[Any]: ...
@overload
def segment_log_softmax(x: ArrayLike, *, offsets: ArrayLike | None = None,
                        index: ArrayLike | None = None, num_segments: int | None = None,
                        axis: int = 0, out: _Out, num_threads: int | None = None) -> _Out: ...

def segment_logsumexp(x: ArrayLike, *, offsets: ArrayLike | None = None,
                      index: ArrayLike | None = None, num_segments: int | None = None,
                      axis: int = 0, num_threads: int | None = None) -> NDArray[Any]: ...

def segment_softmax_backward(grad_output: ArrayLike, output: ArrayLike, *,
                             offsets: ArrayLike | None = None, index: ArrayLike | None = None,
                             num_segments: int | None = None, axis: int = 0) -> NDArray[Any]: ...

@overload
def logcumsumexp(x: ArrayLike, axis: int = -1, *, reverse: bool = False,
                 exclusive: bool = False, dtype: DTypeLike | None = None, out: None = None,
                 num_threads: int | None = None) -> NDArray[Any]: ...
@overload
def logcumsumexp(x: ArrayLike, axis: int = -1, *, reverse: bool = False,
                 exclusive: bool = False, dtype: DTypeLike | None = None, out: _Out,
                 num_threads: int | None = None) -> _Out: ...
