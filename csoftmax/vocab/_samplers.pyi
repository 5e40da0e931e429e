"""Type stubs of csoftmax/vocab/_samplers.py."""
import numpy as np
from numpy.typing import ArrayLike, NDArray

SAMPLERS: tuple[str, ...]

def class_probability(sampler: str, classes: ArrayLike,
                      num_classes: int) -> NDArray[np.float64]: ...
def sample_candidates(sampler: str, num_sampled: int, num_classes: int,
                      rng: np.random.Generator, unique: bool = True
                      ) -> tuple[NDArray[np.int64], NDArray[np.float64], int]: ...
def expected_count(probability: ArrayLike, num_sampled: int,
                   num_tries: int) -> NDArray[np.float64]: ...
