"""A newcomer's first steps: importing from a source checkout, environment
variables, and the messages of everyday mistakes (each test shows one item of
friction gone)."""
import os
import shutil
import subprocess
import sys
import warnings

import numpy as np
import pytest

import csoftmax
from csoftmax import _source_tree


def _python(args, cwd, env=None, isolated=False):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("CSOFTMAX_")}
    full_env.update(env or {})
    command = [sys.executable, *(["-S"] if isolated else []), *args]
    return subprocess.run(command, cwd=cwd, env=full_env, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture
def unbuilt_checkout(tmp_path, package_root):
    """A copy of the package's Python sources without the compiled core, as a
    fresh clone holds them."""
    shutil.copytree(os.path.join(package_root, "csoftmax"), tmp_path / "csoftmax",
                    ignore=shutil.ignore_patterns("_core.*.so", "_core.*.pyd", "__pycache__"))
    assert not _source_tree.has_compiled_core(str(tmp_path / "csoftmax"))
    return tmp_path


def test_unbuilt_checkout_without_an_installed_build_says_what_to_run(unbuilt_checkout):
    # -S: no site-packages, so no installed csoftmax to hand over to
    code = f"import sys; sys.path.insert(0, {str(unbuilt_checkout)!r}); import csoftmax"
    proc = _python(["-c", code], unbuilt_checkout, isolated=True)
    assert proc.returncode != 0
    assert "ImportError" in proc.stderr and "circular import" not in proc.stderr
    assert "compiled core" in proc.stderr and "pip install -e ." in proc.stderr


def test_python_m_csoftmax_in_an_unbuilt_checkout_runs_the_installed_build(unbuilt_checkout,
                                                                           package_root):
    """The README's first command, `pip install . && python -m csoftmax`, run
    in the clone's root: the clone's csoftmax/ comes first on sys.path. The
    build under test stands for the installed one, on PYTHONPATH behind it
    (whether or not it is installed in this environment)."""
    built = {"PYTHONPATH": package_root}
    proc = _python(["-m", "csoftmax", "info"], unbuilt_checkout, env=built)
    assert proc.returncode == 0, proc.stderr
    assert csoftmax.__version__ in proc.stdout and "ISA level in use" in proc.stdout
    code = "import csoftmax; print(csoftmax.softmax([0.0, 0.0])); print(csoftmax.__file__)"
    proc = _python(["-c", code], unbuilt_checkout, env=built)
    assert proc.returncode == 0, proc.stderr
    assert "[0.5 0.5]" in proc.stdout
    assert str(unbuilt_checkout) not in proc.stdout  # the installed build's modules


@pytest.mark.parametrize("value", ["abc", "0", "-2", "1.5"])
def test_bad_num_threads_variable_warns_and_falls_back(value, package_root):
    code = "import csoftmax; print(csoftmax.get_num_threads())"
    proc = _python(["-c", code], package_root, env={"CSOFTMAX_NUM_THREADS": value})
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout.split()[-1]) >= 1
    assert "CSOFTMAX_NUM_THREADS" in proc.stderr and repr(value) in proc.stderr
    assert "importlib" not in proc.stderr


def test_unusable_isa_variable_says_what_was_asked_and_what_runs(package_root):
    from csoftmax import _core

    missing = [level for level in _core.ISA_LEVELS if level not in _core.usable_isa_levels()]
    asked = missing[0] if missing else "sse9"  # an unknown level where the CPU has them all
    proc = _python(["-m", "csoftmax", "info"], package_root, env={"CSOFTMAX_ISA": asked})
    assert proc.returncode == 0, proc.stderr
    best = _core.usable_isa_levels()[-1]
    assert "CSOFTMAX_ISA" in proc.stderr and asked in proc.stderr
    assert f"running the {best} kernels" in proc.stderr and "importlib" not in proc.stderr
    in_use = next(line for line in proc.stdout.splitlines() if "in use" in line)
    assert best in in_use and f"CSOFTMAX_ISA={asked}" in in_use and "forced" not in in_use


def test_honoured_isa_variable_is_reported_as_forced(package_root):
    proc = _python(["-m", "csoftmax", "info"], package_root, env={"CSOFTMAX_ISA": "baseline"})
    assert proc.returncode == 0 and proc.stderr == ""
    assert "baseline (forced by CSOFTMAX_ISA)" in proc.stdout


LOGITS = np.zeros((4, 3))
LABELS = np.zeros(4, dtype=np.int64)


@pytest.mark.parametrize("call, name", [
    (lambda a: csoftmax.cross_entropy(LOGITS, LABELS, label_smoothing=a), "label_smoothing"),
    (lambda a: csoftmax.focal_loss(LOGITS, LABELS, gamma=a), "gamma"),
    (lambda a: csoftmax.sigmoid_focal_loss(LOGITS, LOGITS, gamma=a), "gamma"),
    (lambda a: csoftmax.sigmoid_focal_loss(LOGITS, LOGITS, alpha=a), "alpha"),
])
def test_an_array_where_a_scalar_is_expected_names_argument_and_shape(call, name):
    """(temperature takes one value per row: tests/test_row_temperature.py)"""
    with pytest.raises(TypeError, match=rf"{name} must be a real scalar, got an array of "
                                        r"shape \(4, 1\)"):
        call(np.ones((4, 1)))
    call(np.float32(0.5))  # NumPy scalars and 0-d arrays are scalars
    call(np.array(0.5))


def test_float_class_labels_say_indices_must_be_integers():
    with pytest.raises(ValueError, match=r"class indices, which must have an integer dtype "
                                         r"\(got float64\)"):
        csoftmax.cross_entropy(LOGITS, LABELS.astype(float))


def test_nchw_logits_without_axis_suggest_axis_1():
    logits, labels = np.zeros((2, 3, 4, 5)), np.zeros((2, 4, 5), dtype=np.int64)
    for loss in (csoftmax.cross_entropy, csoftmax.focal_loss, csoftmax.nll_loss):
        with pytest.raises(ValueError, match=r"pass axis=1, as for PyTorch's \(N, C, d1"):
            loss(logits, labels)
    csoftmax.cross_entropy(logits, labels, axis=1)


def test_dask_arrays_stay_lazy_or_are_refused():
    da = pytest.importorskip("dask.array")
    x_np = np.arange(12.0).reshape(3, 4)
    x = da.from_array(x_np, chunks=2)
    for name in ("softmax", "log_softmax", "logsumexp"):
        lazy = getattr(csoftmax, name)(x, axis=0)
        assert isinstance(lazy, da.Array)
        np.testing.assert_allclose(lazy.compute(), getattr(csoftmax, name)(x_np, axis=0))
    loss = csoftmax.cross_entropy(x, np.array([0, 1, 2]))
    assert isinstance(loss, da.Array)
    np.testing.assert_allclose(loss.compute(), csoftmax.cross_entropy(x_np, np.array([0, 1, 2])))
    with pytest.raises(TypeError, match="out= cannot hold the lazy result"):
        csoftmax.softmax(x, out=np.empty((3, 4)))
    with pytest.raises(TypeError, match="logits is a dask array.*csoftmax.dask"):
        csoftmax.entropy(x)


def test_dask_module_has_no_out_and_keyword_only_keepdims():
    pytest.importorskip("dask.array")
    import inspect

    import csoftmax.dask as cdask

    for function in (cdask.softmax, cdask.log_softmax, cdask.logsumexp, cdask.cross_entropy):
        assert "out" not in inspect.signature(function).parameters
    keepdims = inspect.signature(cdask.logsumexp).parameters["keepdims"]
    assert keepdims.kind is inspect.Parameter.KEYWORD_ONLY


@pytest.mark.parametrize("mask", [np.array([1, 0, 1]), np.array([1.0, 0.0, 1.0])])
def test_where_takes_only_boolean_masks_as_numpy_does(mask):
    x = np.zeros((2, 3))
    with pytest.raises(TypeError, match="where must be a boolean array"):
        csoftmax.softmax(x, where=mask)
    with pytest.raises(TypeError):  # NumPy refuses both too
        np.add(x, 1.0, out=np.empty_like(x), where=mask)
    csoftmax.softmax(x, where=mask != 0)


def test_softmax_regression_tol_is_logistic_regressions():
    pytest.importorskip("sklearn")
    from sklearn.linear_model import LogisticRegression

    assert csoftmax.SoftmaxRegression().tol == LogisticRegression().tol == 1e-4


def test_no_warning_on_a_plain_import(package_root):
    proc = _python(["-W", "error", "-c", "import csoftmax"], package_root)
    assert proc.returncode == 0 and proc.stderr == ""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        csoftmax.softmax(np.zeros(3))
