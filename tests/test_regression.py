"""csoftmax.SoftmaxRegression: the same model as scikit-learn's multinomial
LogisticRegression, its weights and options, and scikit-learn compatibility."""
import inspect
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from scipy import sparse  # noqa: E402
from sklearn.datasets import load_iris  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.utils.class_weight import compute_class_weight  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import csoftmax  # noqa: E402
from csoftmax import SoftmaxRegression  # noqa: E402
from csoftmax._regression import _PenalisedCrossEntropy  # noqa: E402

# Both sides optimise until L-BFGS can no longer decrease the objective (its
# relative-decrease stop, 64 eps, usually ends the run before this gradient
# tolerance): objective values then agree to ~1e-14 and parameters to about
# sqrt(1e-14 / smallest curvature), a few 1e-7 on these problems.
TIGHT = dict(tol=1e-11, max_iter=5000)


def blobs(n=90, d=4, k=3, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=1.5, size=(k, d))
    y = rng.integers(0, k, n)
    return centres[y] + rng.normal(size=(n, d)), y


def assert_same_model(ours, theirs, X, atol=1e-6):
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=0, atol=atol)
    np.testing.assert_allclose(ours.intercept_, theirs.intercept_, rtol=0, atol=atol)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=0, atol=atol)


def assert_same_optimum(ours, theirs, X, y, sample_weight=None):
    """Same parameters (assert_same_model) and the same objective value: our
    objective at sklearn's solution is no lower than at ours, beyond rounding."""
    assert_same_model(ours, theirs, X)
    weights = ours._sample_weight(sample_weight, np.searchsorted(ours.classes_, y))
    objective = _PenalisedCrossEntropy(X, np.searchsorted(ours.classes_, y), len(ours.classes_),
                                       weights, ours.C, ours.fit_intercept, 0.0, 1)

    def value(model):
        params = np.column_stack([model.coef_, model.intercept_]) if model.fit_intercept \
            else model.coef_
        return objective(params.ravel())[0]

    assert value(ours) <= value(theirs) * (1 + 1e-13)
    assert value(ours) == pytest.approx(value(theirs), rel=1e-12)


# ------------------------------------------------------------------ packaging

def run_python(code, package_root):
    """Runs `code` in a fresh interpreter (a clean sys.modules); asserts it exits 0."""
    result = subprocess.run([sys.executable, "-c", code], cwd=package_root, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result


def test_import_csoftmax_does_not_import_sklearn(package_root):
    run_python("import sys, csoftmax\n"
               "assert 'sklearn' not in sys.modules, 'import csoftmax imported sklearn'\n"
               "assert 'SoftmaxRegression' in csoftmax.__all__\n"
               "from csoftmax import SoftmaxRegression\n"
               "assert 'sklearn' in sys.modules\n"
               "assert SoftmaxRegression.__name__ == 'SoftmaxRegression'\n", package_root)


def test_without_sklearn_the_errors_say_what_to_install(package_root):
    result = run_python("import sys\n"
                        "sys.modules['sklearn'] = None  # as if scikit-learn were not installed\n"
                        "import csoftmax\n"
                        "try:\n"
                        "    csoftmax.SoftmaxRegression\n"
                        "except ImportError as error:\n"
                        "    assert \"pip install 'csoftmax[sklearn]'\" in str(error), error\n"
                        "else:\n"
                        "    raise AssertionError('no ImportError')\n"
                        "from csoftmax.__main__ import main\n"
                        "assert main(['demo']) == 2\n", package_root)
    assert "needs scikit-learn" in result.stderr


def test_unknown_attribute_still_raises():
    with pytest.raises(AttributeError, match="no_such_thing"):
        csoftmax.no_such_thing  # noqa: B018


# ------------------------------------------------------------------ the optimum

@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("C", [0.05, 1.0, 30.0])
def test_same_optimum_as_logistic_regression(C, fit_intercept):
    X, y = blobs()
    ours = SoftmaxRegression(C=C, fit_intercept=fit_intercept, **TIGHT).fit(X, y)
    theirs = LogisticRegression(C=C, fit_intercept=fit_intercept, **TIGHT).fit(X, y)
    assert_same_optimum(ours, theirs, X, y)
    if fit_intercept:  # unpenalised intercepts of a multinomial model start at 0 and stay centred
        assert abs(ours.intercept_.sum()) < 1e-8
    else:
        np.testing.assert_array_equal(ours.intercept_, 0.0)


def test_same_optimum_with_sample_and_class_weights():
    X, y = blobs(seed=1)
    sw = np.random.default_rng(2).uniform(0.1, 3.0, len(y))
    # 'balanced' counts classes by sample weight as scikit-learn >= 1.8 does
    # (compute_class_weight's sample_weight); older releases count rows
    weighted_balance = "sample_weight" in inspect.signature(compute_class_weight).parameters
    for cw, weights in (({0: 0.5, 1: 2.0, 2: 1.5}, sw), ("balanced", sw if weighted_balance else None)):
        ours = SoftmaxRegression(class_weight=cw, **TIGHT).fit(X, y, sample_weight=weights)
        theirs = LogisticRegression(class_weight=cw, **TIGHT).fit(X, y, sample_weight=weights)
        assert_same_optimum(ours, theirs, X, y, weights)


def test_two_classes_are_the_symmetric_multinomial_model():
    X, y = blobs(k=2, seed=3)
    ours = SoftmaxRegression(C=0.7, **TIGHT).fit(X, y)
    # LogisticRegression fits one row of coefficients w with penalty |w|^2 / 2;
    # ours fits two rows w1 = -w0 = w / 2, penalty |w0|^2/2 + |w1|^2/2 = |w|^2 / 4.
    theirs = LogisticRegression(C=1.4, **TIGHT).fit(X, y)
    assert ours.coef_.shape == (2, X.shape[1])
    np.testing.assert_allclose(ours.coef_[1], -ours.coef_[0], rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours.coef_[1] - ours.coef_[0], theirs.coef_[0], rtol=0, atol=1e-6)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=0, atol=1e-6)
    decision = ours.decision_function(X)
    assert decision.shape == (len(y),)
    np.testing.assert_allclose(decision, theirs.decision_function(X), rtol=0, atol=1e-6)
    np.testing.assert_array_equal(ours.predict(X), ours.classes_[(decision > 0).astype(int)])


def test_objective_and_gradient_against_numpy_and_finite_differences():
    """The objective is (C sum_i s_i CE_i + |W|^2 / 2) / (C S), CE_i against the
    smoothed target, and its gradient matches central differences."""
    X, y = blobs(n=40, d=3, k=4, seed=4)
    rng = np.random.default_rng(5)
    sw = rng.uniform(0.0, 2.0, len(y))
    C, eps, K = 0.8, 0.2, 4
    objective = _PenalisedCrossEntropy(X, y, K, sw, C, True, eps, 1)
    theta = rng.normal(size=K * (X.shape[1] + 1))
    loss, grad = objective(theta)

    Wb = theta.reshape(K, -1)
    logits = X @ Wb[:, :-1].T + Wb[:, -1]
    log_p = logits - logits.max(axis=1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(axis=1, keepdims=True))
    target = (1 - eps) * np.eye(K)[y] + eps / K
    ce = -(target * log_p).sum(axis=1)
    expected = (C * sw @ ce + 0.5 * np.sum(Wb[:, :-1] ** 2)) / (C * sw.sum())
    assert loss == pytest.approx(expected, rel=1e-13)

    h = 1e-6
    numeric = np.array([(objective(theta + h * e)[0] - objective(theta - h * e)[0]) / (2 * h)
                        for e in np.eye(theta.size)])
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)


# ------------------------------------------------------------------ weights

def test_integer_sample_weight_equals_repeated_rows():
    X, y = blobs(n=30, seed=6)
    counts = np.random.default_rng(7).integers(0, 4, len(y))
    weighted = SoftmaxRegression(**TIGHT).fit(X, y, sample_weight=counts)
    repeated = SoftmaxRegression(**TIGHT).fit(np.repeat(X, counts, axis=0), np.repeat(y, counts))
    assert_same_model(weighted, repeated, X)


def test_class_weight_equals_per_class_sample_weight():
    X, y = blobs(seed=8)
    cw = {0: 3.0, 2: 0.25}  # class 1 keeps weight 1
    by_class = SoftmaxRegression(class_weight=cw, **TIGHT).fit(X, y)
    by_sample = SoftmaxRegression(**TIGHT).fit(X, y, sample_weight=np.array([3.0, 1.0, 0.25])[y])
    assert_same_model(by_class, by_sample, X, atol=1e-12)
    counts = np.bincount(y)
    balanced = SoftmaxRegression(class_weight="balanced", **TIGHT).fit(X, y)
    explicit = SoftmaxRegression(class_weight=dict(enumerate(len(y) / (3 * counts))),
                                 **TIGHT).fit(X, y)
    assert_same_model(balanced, explicit, X, atol=1e-12)


def test_label_smoothing_one_gives_uniform_probabilities():
    X, y = blobs(seed=9)
    clf = SoftmaxRegression(label_smoothing=1.0, **TIGHT).fit(X, y)
    np.testing.assert_allclose(clf.predict_proba(X), 1 / 3, rtol=0, atol=1e-9)


def test_label_smoothing_calibrates_the_mean_to_the_smoothed_targets():
    """The intercept is unpenalised, so at the optimum d/db = mean_i (p_i - t_i) = 0:
    the mean predicted distribution equals the mean smoothed target."""
    X, y = blobs(seed=10)
    eps = 0.3
    clf = SoftmaxRegression(C=100.0, label_smoothing=eps, **TIGHT).fit(X, y)
    expected = (1 - eps) * np.bincount(y) / len(y) + eps / 3
    # L-BFGS stops on its relative-decrease test (ftol) before the gradient
    # reaches TIGHT's tol, at about 1e-8 here
    np.testing.assert_allclose(clf.predict_proba(X).mean(axis=0), expected, rtol=0, atol=1e-7)
    sharp = SoftmaxRegression(C=100.0).fit(X, y)
    assert clf.predict_proba(X).max() < sharp.predict_proba(X).max()


# ------------------------------------------------------------------ predictions

def test_probabilities_labels_and_scores():
    X, y = blobs(seed=11)
    labels = np.array(["setosa", "versicolor", "virginica"])[y]
    clf = SoftmaxRegression().fit(X, labels)
    np.testing.assert_array_equal(clf.classes_, ["setosa", "versicolor", "virginica"])
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(proba), rtol=1e-12, atol=1e-12)
    scores = clf.decision_function(X)
    np.testing.assert_allclose(scores, X @ clf.coef_.T + clf.intercept_, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[scores.argmax(axis=1)])
    assert clf.score(X, labels) == np.mean(clf.predict(X) == labels) > 0.8
    assert clf.n_features_in_ == X.shape[1] and clf.n_iter_ >= 1


def test_labels_of_any_type():
    X, y = blobs(seed=12)
    for labels in (np.array([-5, 7, 100]), np.array(["b", "a", "c"], dtype=object),
                   np.array([2**40, 0, 1], dtype=np.uint64)):
        clf = SoftmaxRegression().fit(X, labels[y])
        assert clf.classes_.dtype == labels.dtype
        assert set(clf.predict(X).tolist()) <= set(labels)
        assert len(clf.classes_) == 3


def test_sparse_input_gives_the_dense_model():
    X, y = blobs(seed=13)
    X[np.abs(X) < 1] = 0
    dense = SoftmaxRegression(**TIGHT).fit(X, y)
    for make in (sparse.csr_matrix, sparse.csc_array):
        sp = SoftmaxRegression(**TIGHT).fit(make(X), y)
        assert_same_model(sp, dense, X, atol=1e-9)
        np.testing.assert_allclose(sp.predict_proba(make(X)), dense.predict_proba(X), atol=1e-9)


def test_pickle_round_trip():
    X, y = blobs(seed=14)
    clf = SoftmaxRegression(C=2.0, label_smoothing=0.1).fit(X, y)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))
    assert again.get_params() == clf.get_params()


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # capped on purpose
def test_num_threads_gives_bitwise_identical_fits():
    X, y = blobs(n=12000, d=6, k=8, seed=15)  # 96000 logits: two threads really split the rows
    fits = [SoftmaxRegression(num_threads=t, max_iter=30).fit(X, y) for t in (1, 2, 3)]
    for other in fits[1:]:
        np.testing.assert_array_equal(other.coef_, fits[0].coef_)
        np.testing.assert_array_equal(other.intercept_, fits[0].intercept_)


def test_feature_names_from_a_dataframe():
    pd = pytest.importorskip("pandas")
    X, y = blobs(seed=16)
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    clf = SoftmaxRegression().fit(frame, y)
    np.testing.assert_array_equal(clf.feature_names_in_, ["a", "b", "c", "d"])
    with pytest.warns(UserWarning, match="feature names"):
        np.testing.assert_array_equal(clf.predict(frame), clf.predict(X))


# ------------------------------------------------------------------ reporting and errors

def test_convergence_warning_and_verbose_progress(capsys):
    X, y = blobs(seed=17)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        clf = SoftmaxRegression(max_iter=2, verbose=True).fit(X, y)
    assert clf.n_iter_ == 2
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].startswith("SoftmaxRegression: iteration    1  loss")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        SoftmaxRegression().fit(X, y)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("params, error, match", [
    (dict(C=0.0), ValueError, "C must be in"),
    (dict(C="1"), TypeError, "C must be a real number"),
    (dict(max_iter=0), ValueError, "max_iter"),
    (dict(max_iter=2.5), TypeError, "max_iter must be an integer"),
    (dict(tol=-1.0), ValueError, "tol"),
    (dict(label_smoothing=1.5), ValueError, "label_smoothing"),
    (dict(num_threads=0), ValueError, "num_threads"),
    (dict(class_weight="uniform"), ValueError, "class_weight must be"),
    (dict(class_weight={0: 1.0, 9: 2.0}), ValueError, r"keys \[9\]"),
    (dict(class_weight={0: -1.0}), ValueError, "class_weight must be finite and non-negative"),
])
def test_bad_parameters(params, error, match):
    X, y = blobs(seed=18)
    with pytest.raises(error, match=match):
        SoftmaxRegression(**params).fit(X, y)


def test_bad_sample_weights_and_single_class():
    X, y = blobs(seed=19)
    for sw, match in ((-np.ones(len(y)), "non-negative"), (np.ones(3), "shape"),
                      (np.zeros(len(y)), "sum to zero")):
        with pytest.raises(ValueError, match=match):
            SoftmaxRegression().fit(X, y, sample_weight=sw)
    with pytest.raises(ValueError, match="at least 2 classes"):
        SoftmaxRegression().fit(X, np.zeros(len(y)))


# ------------------------------------------------------------------ scikit-learn compatibility

@parametrize_with_checks([SoftmaxRegression()])
def test_sklearn_estimator_checks(estimator, check):
    # every check passes (none expected to fail); the array-API one skips
    # itself unless SCIPY_ARRAY_API is set
    check(estimator)


def test_pipeline_grid_search_and_cross_validation():
    X, y = load_iris(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), SoftmaxRegression())
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and scores.mean() > 0.85
    search = GridSearchCV(pipe, {"softmaxregression__C": [0.01, 1.0]}, cv=3).fit(X, y)
    assert search.best_params_["softmaxregression__C"] == 1.0
    assert search.predict_proba(X).shape == (150, 3)


# ------------------------------------------------------------------ the demo

def test_reliability_bins():
    from csoftmax._demo import reliability

    proba = np.array([[0.95, 0.05], [0.9, 0.1], [0.3, 0.7], [0.45, 0.55]])
    conf, acc, count, ece = reliability(proba, np.array([0, 1, 1, 0]), np.array([0, 1]))
    np.testing.assert_allclose(conf, [0.55, 0.7, 0.925])
    np.testing.assert_array_equal(acc, [0.0, 1.0, 0.5])
    np.testing.assert_array_equal(count, [1, 1, 2])
    assert ece == pytest.approx((0.55 + 0.3 + 2 * 0.425) / 4)


def test_demo_command(tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    from threadpoolctl import threadpool_limits

    from csoftmax import _demo
    from csoftmax.__main__ import main

    monkeypatch.setattr(_demo, "REPEATS", 1)
    path = tmp_path / "demo.png"
    with threadpool_limits(1, user_api="blas"):  # LogisticRegression's small products
        assert main(["demo", "--plot", str(path)]) == 0
    out = capsys.readouterr().out
    accuracies = [float(line.split()[-4].rstrip("%")) for line in out.splitlines()
                  if line.startswith(("csoftmax.SoftmaxRegression", "sklearn LogisticRegression"))]
    assert len(accuracies) == 2 and abs(accuracies[0] - accuracies[1]) <= 0.5
    assert min(accuracies) > 90
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
