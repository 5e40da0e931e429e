"""Softmax (multinomial logistic) regression on csoftmax's fused cross-entropy.

scikit-learn is imported here, so csoftmax imports this module only when
csoftmax.SoftmaxRegression is first used (csoftmax/__init__.py).
"""
import contextlib
import functools
import numbers
import warnings

import numpy as np

try:
    from scipy import optimize, sparse
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.utils.extmath import safe_sparse_dot
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted, validate_data
    from threadpoolctl import ThreadpoolController
except ImportError as error:
    raise ImportError(f"csoftmax.SoftmaxRegression needs scikit-learn >= 1.6 ({error}); "
                      "install it with: pip install 'csoftmax[sklearn]'") from error

from . import _core
from ._api import log_softmax, softmax
from ._threads import MIN_ELEMENTS_PER_THREAD, threads_for_call
from ._validate import check_smoothing

__all__ = ["SoftmaxRegression"]

# L-BFGS keeps this many gradient pairs where the history (2 * pairs doubles per
# parameter) stays small: a longer history than scipy's 10 takes fewer
# iterations to converge on the bundled data sets.
_HISTORY, _HISTORY_MAX_PARAMS = 30, 100_000


@functools.lru_cache(maxsize=None)
def _blas_threads():
    """threadpoolctl's view of the loaded BLAS, built once and reused (building
    it inspects every loaded library; limiting through it afterwards is cheap)."""
    return ThreadpoolController()


class _PenalisedCrossEntropy:
    """The training objective of SoftmaxRegression as a function of the flat
    parameters theta = [W | b] (K rows of n_features + 1 entries, C order;
    the b column is absent without an intercept):

        f(theta) = (sum_i s_i CE_i + ||W||^2 / (2 C)) / S,    S = sum_i s_i,

    CE_i the (label-smoothed) cross-entropy of row i. This is sklearn's
    LogisticRegression scaling (C * sum s_i CE_i + ||W||^2 / 2, divided by
    C * S), so the optimum is the same and `tol` means the same for both.
    Returns (f, grad f), the gradient from the fused cross-entropy kernel."""

    def __init__(self, X, labels, n_classes, sample_weight, C, fit_intercept, label_smoothing,
                 threads):
        n_samples, self.n_features = X.shape
        if fit_intercept:  # a column of ones: one matmul gives X W^T + b, one gives both grads
            ones = np.ones((n_samples, 1))
            X = sparse.hstack([X, ones], format="csr") if sparse.issparse(X) else np.hstack([X, ones])
        self.X = X
        self.labels = np.ascontiguousarray(labels, dtype=np.int64)
        if self.labels.size and not 0 <= self.labels.min() <= self.labels.max() < n_classes:
            raise ValueError(f"labels must be class indices in [0, {n_classes})")
        self.shape = (n_classes, X.shape[1])
        self.label_smoothing = check_smoothing(label_smoothing)
        if sample_weight is None:
            total = float(n_samples)
            self.row_weight = None
        else:
            total = float(np.sum(sample_weight))
            self.row_weight = (sample_weight / total)[:, None]
        self.penalty = 1.0 / (C * total)
        # reduction 'mean' inside the kernel when unweighted, else per-row scaling after it
        self._grad_scale = 1.0 / n_samples if sample_weight is None else 1.0
        self._threads = threads
        self._logits = np.empty((n_samples, n_classes))
        self._G = np.empty((n_samples, n_classes))
        self._row_loss = np.empty(n_samples)

    def __call__(self, theta):
        Wb = theta.reshape(self.shape)
        logits = self._logits
        if sparse.issparse(self.X):
            logits[...] = self.X @ Wb.T
        else:
            np.matmul(self.X, Wb.T, out=logits)
        # The fused kernel writes per-row losses and the gradient of
        # grad_scale * sum_i CE_i into our buffers, skipping cross_entropy's
        # per-call checks: its inputs are valid by construction (float64
        # C-contiguous logits, labels checked in [0, K) in __init__).
        _core.cross_entropy_rows(logits, self.labels, None, self._row_loss, self._G, -1,
                                 self.label_smoothing, float(self.shape[0]), self._grad_scale,
                                 False, 0.0, 1.0, self._threads)
        G = self._G
        if self.row_weight is None:
            loss = float(np.sum(self._row_loss)) * self._grad_scale
        else:  # row i of the gradient of sum_i CE_i, scaled by s_i / S, is exact
            loss = float(self._row_loss @ self.row_weight[:, 0])
            G *= self.row_weight
        grad = (self.X.T @ G).T if sparse.issparse(self.X) else G.T @ self.X
        W = Wb[:, :self.n_features]  # the intercept column is not penalised
        loss += 0.5 * self.penalty * float(np.vdot(W, W))
        grad[:, :self.n_features] += self.penalty * W
        return loss, grad.ravel()


class SoftmaxRegression(ClassifierMixin, BaseEstimator):
    """Multinomial logistic (softmax) regression with an L2 penalty, trained by
    L-BFGS on csoftmax's fused cross-entropy loss and gradient.

    Minimises ``C * sum_i s_i * CE_i + ||coef_||^2 / 2`` where CE_i is the
    cross-entropy of sample i (with ``label_smoothing``, against the target
    ``(1 - eps) * onehot + eps / n_classes``) and s_i its sample weight times
    its class weight; the intercept is not penalised. With label_smoothing=0
    this is sklearn.linear_model.LogisticRegression's multinomial objective,
    and the fitted model is the same.

    Two classes are modelled like any other number: two rows of ``coef_``
    (the symmetric multinomial parametrisation, ``coef_[1] == -coef_[0]``),
    whereas LogisticRegression fits one row. The probabilities equal those
    of LogisticRegression with ``2 * C``; ``decision_function`` returns the
    score of classes_[1] minus that of classes_[0] (shape (n_samples,)), as
    scikit-learn expects of binary classifiers.

    Parameters
    ----------
    C : float, default 1.0
        Inverse of the regularisation strength (as in LogisticRegression).
    fit_intercept : bool, default True
        Fit an (unpenalised) intercept per class.
    max_iter : int, default 200
        Maximum number of L-BFGS iterations.
    tol : float, default 1e-4
        L-BFGS stops when every entry of the gradient of the objective, scaled
        by 1 / (C * total sample weight), is below tol in absolute value
        (LogisticRegression's criterion; it also stops when the objective no
        longer decreases).
    class_weight : dict, 'balanced' or None
        Weights multiplying the sample weights of each class, as in
        LogisticRegression. 'balanced': total / (n_classes * class total),
        totals of the sample weights (of rows without them), as scikit-learn
        >= 1.8 computes it.
    label_smoothing : float in [0, 1], default 0.0
        Mixes each one-hot target with the uniform distribution.
    verbose : bool or int, default False
        Print the objective at every L-BFGS iteration.
    num_threads : int, optional
        Threads for csoftmax's loss kernel; the fit does not depend on it.
        None: one, as the matrix products (the larger cost) run in BLAS with
        its own thread settings (threadpoolctl controls them), except that
        fits with fewer than 65536 logits (n_samples * n_classes) run them on
        one thread, where threads cost more than they save.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coef_ : ndarray of shape (n_classes, n_features)
    intercept_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    feature_names_in_ : ndarray of str, when fitted on a DataFrame with string column names
    n_iter_ : int
        L-BFGS iterations run.

    Examples
    --------
    >>> import numpy as np
    >>> from csoftmax import SoftmaxRegression
    >>> X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> y = np.array(["a", "b", "c", "c"])
    >>> clf = SoftmaxRegression(C=10.0).fit(X, y)
    >>> clf.predict([[0.9, 0.1], [0.2, 0.8]])
    array(['b', 'c'], dtype='<U1')
    >>> round(float(clf.predict_proba([[0.9, 0.1]]).sum()), 12)
    1.0
    >>> clf.coef_.shape, clf.intercept_.shape
    ((3, 2), (3,))
    """

    def __init__(self, C=1.0, *, fit_intercept=True, max_iter=200, tol=1e-4, class_weight=None,
                 label_smoothing=0.0, verbose=False, num_threads=None):
        self.C = C
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.class_weight = class_weight
        self.label_smoothing = label_smoothing
        self.verbose = verbose
        self.num_threads = num_threads

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def _check_params(self):
        def number(name, low, high=np.inf, low_open=False, kind=numbers.Real):
            value = getattr(self, name)
            if not isinstance(value, kind) or isinstance(value, bool):
                what = "an integer" if kind is numbers.Integral else "a real number"
                raise TypeError(f"{name} must be {what}, got {value!r}")
            if not (low < value if low_open else low <= value) or not value <= high:
                bound = "(" if low_open else "["
                raise ValueError(f"{name} must be in {bound}{low}, {high}], got {value!r}")

        number("C", 0.0, low_open=True)
        number("max_iter", 1, kind=numbers.Integral)
        number("tol", 0.0)
        number("label_smoothing", 0.0, 1.0)
        if self.num_threads is not None:
            number("num_threads", 1, kind=numbers.Integral)
        cw = self.class_weight
        if not (cw is None or isinstance(cw, dict) or (isinstance(cw, str) and cw == "balanced")):
            raise ValueError(f"class_weight must be None, a dict or 'balanced', got {cw!r}")

    def fit(self, X, y, sample_weight=None):
        """Fit the model to samples X (n_samples, n_features; dense or
        scipy.sparse) and labels y (any hashable label type), optionally with
        non-negative per-sample weights. Returns self."""
        self._check_params()
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], dtype=np.float64)
        check_classification_targets(y)
        self.classes_, labels = np.unique(y, return_inverse=True)
        n_classes = len(self.classes_)
        if n_classes < 2:
            raise ValueError(f"SoftmaxRegression needs samples of at least 2 classes, got one "
                             f"class: {self.classes_[0]!r}")
        sample_weight = self._sample_weight(sample_weight, labels)
        logits = X.shape[0] * n_classes
        # By default the loss kernel runs on one thread: the matrix products cost
        # more and BLAS parallelises them, and our OpenMP threads waiting beside
        # BLAS's own oversubscribe the cores.
        threads = 1 if self.num_threads is None else threads_for_call(self.num_threads, logits)
        # Threaded BLAS on products this small costs more than it saves; larger
        # fits leave BLAS its own thread settings.
        small = logits < 2 * MIN_ELEMENTS_PER_THREAD
        blas = (_blas_threads().limit(limits=1, user_api="blas") if small
                else contextlib.nullcontext())
        objective = _PenalisedCrossEntropy(
            X, labels, n_classes, sample_weight, float(self.C), bool(self.fit_intercept),
            float(self.label_smoothing), threads)
        theta0 = np.zeros(objective.shape).ravel()
        with blas:
            result = optimize.minimize(
                objective, theta0, method="L-BFGS-B", jac=True, callback=self._progress(),
                options={"maxiter": self.max_iter, "gtol": self.tol, "maxls": 50,
                         "ftol": 64 * np.finfo(float).eps,
                         "maxcor": _HISTORY if theta0.size <= _HISTORY_MAX_PARAMS else 10})
        if not result.success:
            warnings.warn(f"SoftmaxRegression: L-BFGS did not converge ({result.message}) "
                          f"after {result.nit} iterations; increase max_iter or scale the data.",
                          ConvergenceWarning, stacklevel=2)
        Wb = result.x.reshape(objective.shape)
        self.coef_ = np.ascontiguousarray(Wb[:, :X.shape[1]])
        self.intercept_ = Wb[:, X.shape[1]].copy() if self.fit_intercept else np.zeros(n_classes)
        self.n_iter_ = int(result.nit)
        return self

    def _sample_weight(self, sample_weight, labels):
        """The per-sample weights times the class weights, or None if all 1."""
        n_samples = len(labels)
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight, dtype=np.float64)
            if sample_weight.ndim == 0:
                sample_weight = np.full(n_samples, float(sample_weight))
            if sample_weight.shape != (n_samples,):
                raise ValueError(f"sample_weight has shape {sample_weight.shape}, expected "
                                 f"({n_samples},)")
            if not np.all(np.isfinite(sample_weight)) or np.any(sample_weight < 0):
                raise ValueError("sample_weight must be finite and non-negative")
        if self.class_weight is not None:
            weights = self._class_weights(sample_weight, labels)[labels]
            sample_weight = weights if sample_weight is None else sample_weight * weights
        if sample_weight is not None and not np.sum(sample_weight) > 0:
            raise ValueError("the sample weights (times the class weights) sum to zero")
        return sample_weight

    def _class_weights(self, sample_weight, labels):
        """One weight per class of classes_, as sklearn's compute_class_weight
        (whose sample_weight argument older releases lack)."""
        n_classes = len(self.classes_)
        if isinstance(self.class_weight, str):  # 'balanced', weighted by the sample weights
            totals = np.bincount(labels, weights=sample_weight, minlength=n_classes)
            with np.errstate(divide="ignore"):
                return np.where(totals > 0, totals.sum() / (n_classes * totals), 0.0)
        unknown = [key for key in self.class_weight if key not in set(self.classes_.tolist())]
        if unknown:
            raise ValueError(f"class_weight has keys {unknown} that are not classes of y "
                             f"(classes: {self.classes_.tolist()})")
        weights = np.array([float(self.class_weight.get(c, 1.0)) for c in self.classes_.tolist()])
        if not np.all(np.isfinite(weights)) or np.any(weights < 0):
            raise ValueError(f"class_weight must be finite and non-negative, got {self.class_weight}")
        return weights

    def _progress(self):
        if not self.verbose:
            return None
        step = iter(range(1, self.max_iter + 1))

        def report(intermediate_result):
            print(f"SoftmaxRegression: iteration {next(step):4d}  "
                  f"loss {intermediate_result.fun:.10g}")
        return report

    def _scores(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse=["csr", "csc"], dtype=np.float64, reset=False)
        return safe_sparse_dot(X, self.coef_.T) + self.intercept_

    def decision_function(self, X):
        """Class scores X @ coef_.T + intercept_, shape (n_samples, n_classes);
        for two classes the score of classes_[1] minus that of classes_[0],
        shape (n_samples,)."""
        scores = self._scores(X)
        return scores[:, 1] - scores[:, 0] if scores.shape[1] == 2 else scores

    def predict(self, X):
        """The most probable class of each sample (the first on ties)."""
        best = np.argmax(self._scores(X), axis=1)  # checks fitted before classes_ is read
        return self.classes_[best]

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes), columns in the
        order of classes_."""
        return softmax(self._scores(X), axis=1, num_threads=self.num_threads)

    def predict_log_proba(self, X):
        """Log class probabilities (computed stably, not log of predict_proba)."""
        return log_softmax(self._scores(X), axis=1, num_threads=self.num_threads)
