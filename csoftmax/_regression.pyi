"""Type stubs of csoftmax/_regression.py (csoftmax.SoftmaxRegression).

X is a dense array-like or a scipy.sparse CSR/CSC matrix or array; labels y
may be of any hashable type, so predict() returns an array of classes_'s
dtype. score() and the parameter API (get_params, set_params) come from
scikit-learn's mixins.
"""
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.sparse import sparray, spmatrix
from sklearn.base import BaseEstimator, ClassifierMixin
from typing_extensions import Self

__all__ = ["SoftmaxRegression"]

_X = ArrayLike | spmatrix | sparray

# The training objective: (loss, gradient) of the flat parameters [W | b].
class _PenalisedCrossEntropy:
    def __init__(self, X: _X, labels: ArrayLike, n_classes: int,
                 sample_weight: NDArray[np.float64] | None, C: float, fit_intercept: bool,
                 label_smoothing: float, threads: int) -> None: ...
    def __call__(self, theta: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]: ...

class SoftmaxRegression(ClassifierMixin, BaseEstimator):
    C: float
    fit_intercept: bool
    max_iter: int
    tol: float
    class_weight: dict[Any, float] | Literal["balanced"] | None
    label_smoothing: float
    verbose: bool | int
    num_threads: int | None
    # set by fit()
    classes_: NDArray[Any]
    coef_: NDArray[np.float64]
    intercept_: NDArray[np.float64]
    n_features_in_: int
    feature_names_in_: NDArray[np.object_]
    n_iter_: int
    def __init__(self, C: float = 1.0, *, fit_intercept: bool = True, max_iter: int = 200,
                 tol: float = 1e-4, class_weight: dict[Any, float] | Literal["balanced"] | None = None,
                 label_smoothing: float = 0.0, verbose: bool | int = False,
                 num_threads: int | None = None) -> None: ...
    def __sklearn_tags__(self) -> Any: ...
    def fit(self, X: _X, y: ArrayLike, sample_weight: ArrayLike | None = None) -> Self: ...
    def decision_function(self, X: _X) -> NDArray[np.float64]: ...
    def predict(self, X: _X) -> NDArray[Any]: ...
    def predict_proba(self, X: _X) -> NDArray[np.float64]: ...
    def predict_log_proba(self, X: _X) -> NDArray[np.float64]: ...
    # scikit-learn's metadata routing generates these from the signatures of
    # fit and score (their sample_weight)
    def set_fit_request(self, *, sample_weight: bool | str | None = ...) -> Self: ...
    def set_score_request(self, *, sample_weight: bool | str | None = ...) -> Self: ...
