"""Type stubs of csoftmax/_sampling.py."""
from typing import Any, Literal, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["sample", "top_logprobs", "gumbel_softmax"]

_Seed = int | np.random.Generator | None
_PerRow = float | ArrayLike

@overload
def sample(logits: ArrayLike, *, num_samples: int = 1, temperature: _PerRow = 1.0,
           top_k: int | ArrayLike | None = None, top_p: _PerRow | None = None,
           min_p: _PerRow | None = None, replacement: bool = True, seed: _Seed = None,
           return_logprobs: Literal[False] = False, axis: int = -1,
           num_threads: int | None = None) -> NDArray[np.int64]: ...
@overload
def sample(logits: ArrayLike, *, num_samples: int = 1, temperature: _PerRow = 1.0,
           top_k: int | ArrayLike | None = None, top_p: _PerRow | None = None,
           min_p: _PerRow | None = None, replacement: bool = True, seed: _Seed = None,
           return_logprobs: Literal[True], axis: int = -1,
           num_threads: int | None = None) -> tuple[NDArray[np.int64], NDArray[Any]]: ...
@overload
def sample(logits: ArrayLike, *, num_samples: int = 1, temperature: _PerRow = 1.0,
           top_k: int | ArrayLike | None = None, top_p: _PerRow | None = None,
           min_p: _PerRow | None = None, replacement: bool = True, seed: _Seed = None,
           return_logprobs: bool = ..., axis: int = -1,
           num_threads: int | None = None) -> Any: ...

def top_logprobs(logits: ArrayLike, k: int, *, temperature: float = 1.0, axis: int = -1,
                 num_threads: int | None = None) -> tuple[NDArray[Any], NDArray[np.int64]]: ...

def gumbel_softmax(logits: ArrayLike, tau: float = 1.0, *, hard: bool = False, axis: int = -1,
                   seed: _Seed = None, num_threads: int | None = None) -> NDArray[Any]: ...

def _noisy_logits(x: NDArray[Any], tau: float, axis: int, seed: _Seed,
                  num_threads: int | None) -> NDArray[Any]: ...
