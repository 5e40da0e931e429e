from typing import Any, Literal

from numpy.typing import ArrayLike

__all__ = ["linear_cross_entropy"]

def linear_cross_entropy(hidden: ArrayLike, weight: ArrayLike, target: ArrayLike,
                         bias: ArrayLike | None = None, *, ignore_index: int = -100,
                         label_smoothing: float = 0.0, z_loss: float = 0.0,
                         softcap: float | None = None,
                         reduction: Literal["mean", "sum", "none"] = "mean",
                         return_lse: bool = False, return_grad: bool = False,
                         chunk_size: int | None = None, num_threads: int | None = None) -> Any: ...
