"""The typed API: the .pyi stubs match the runtime, mypy passes on the package
and the tests, and the stubs' return types are what the functions return.

mypy runs with the [tool.mypy] configuration of pyproject.toml; mypy and
stubtest take about 15 s of CPU together (30-70 s wall on a busy 2-core
machine). The tests skip where mypy is not installed (it is in the test extra).
"""
import importlib
import os
import sys
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

import csoftmax
from public_api import public_objects

if sys.version_info >= (3, 11):
    from typing import assert_type
else:  # a no-op at runtime, as typing's own
    def assert_type(value, _type):
        return value

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYPROJECT = os.path.join(REPO_ROOT, "pyproject.toml")


def _stubbed_modules():
    """Every csoftmax module with a .pyi stub beside it (stubtest compares
    each stub with the module)."""
    package_dir = os.path.dirname(os.path.abspath(csoftmax.__file__))
    found = []
    for directory, _, files in os.walk(package_dir):
        relative = os.path.relpath(directory, os.path.dirname(package_dir))
        for name in sorted(files):
            if name.endswith(".pyi"):
                module = os.path.join(relative, name[:-4]).replace(os.sep, ".")
                found.append(module[:-len(".__init__")] if module.endswith(".__init__") else module)
    return sorted(found)


def _missing_optional_dependency(module):
    """Whether importing module fails only because a third-party package it
    needs (dask for csoftmax.dask, scikit-learn for csoftmax._regression) is
    not installed; any other import error is raised."""
    try:
        importlib.import_module(module)
    except ImportError as error:
        missing = error if isinstance(error, ModuleNotFoundError) else error.__cause__
        if isinstance(missing, ModuleNotFoundError) and not (
                missing.name or "csoftmax").startswith("csoftmax"):
            return True
        raise
    return False


def _in_source_tree():
    """mypy reads the stubs from the source tree: the package under test must
    be that tree (an editable or in-place build), not an installed copy."""
    package_dir = os.path.dirname(os.path.abspath(csoftmax.__file__))
    return os.path.exists(PYPROJECT) and package_dir == os.path.join(REPO_ROOT, "csoftmax")


def test_every_public_module_has_stubs():
    """A public function or class defined in a module without a stub would
    be seen by mypy as untyped."""
    stubbed = _stubbed_modules()
    for name, obj in public_objects():
        assert obj.__module__ in stubbed, (
            f"{name} is defined in {obj.__module__}, which has no .pyi stub")


@pytest.mark.skipif(not _in_source_tree(), reason="needs the source tree (pyproject.toml)")
def test_mypy_passes_on_package_and_tests():
    api = pytest.importorskip("mypy.api")
    stdout, stderr, status = api.run(["--config-file", PYPROJECT, "--no-error-summary"])
    assert status == 0, stdout + stderr


@pytest.mark.skipif(not _in_source_tree(), reason="needs the source tree (pyproject.toml)")
def test_stubs_match_runtime(tmp_path):
    """mypy's stubtest: every name, parameter (name, kind, default) and
    constant in the stubs exists at runtime and vice versa."""
    stubtest = pytest.importorskip("mypy.stubtest")
    allowlist = tmp_path / "allowlist.txt"
    # Cython stores a compiled module's doctests in __test__
    allowlist.write_text("csoftmax._core.__test__\n")
    modules = [m for m in _stubbed_modules() if not _missing_optional_dependency(m)]
    status = stubtest.test_stubs(stubtest.parse_options(
        modules + ["--mypy-config-file", PYPROJECT, "--allowlist", str(allowlist)]))
    assert status == 0


def test_typed_calls_return_their_stub_types() -> None:  # annotated: mypy checks the body
    """Static (mypy checks the assert_type lines of this annotated function)
    and at runtime (the isinstance checks): the overloads pick the right
    return type for reductions, 'none', return_grad and out=."""
    x: NDArray[np.float64] = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    labels = np.array([2, 0])

    p = assert_type(csoftmax.softmax(x), NDArray[Any])
    out = np.empty_like(x)
    assert assert_type(csoftmax.log_softmax(x, out=out), NDArray[np.float64]) is out
    assert isinstance(p, np.ndarray)
    assert isinstance(assert_type(csoftmax.softmax_backward(x, p), NDArray[Any]), np.ndarray)
    assert isinstance(assert_type(csoftmax.special.softmax(x), NDArray[Any]), np.ndarray)
    value, sign = assert_type(csoftmax.logsumexp(x, return_sign=True), tuple[Any, Any])
    assert value.shape == sign.shape == (2,)

    loss = assert_type(csoftmax.cross_entropy(x, labels), np.floating[Any])
    assert isinstance(loss, np.floating)
    losses = assert_type(csoftmax.cross_entropy(x, labels, reduction="none"), NDArray[Any])
    assert isinstance(losses, np.ndarray)
    loss, grad = assert_type(csoftmax.cross_entropy(x, labels, return_grad=True),
                             tuple[np.floating[Any], NDArray[Any]])
    assert isinstance(loss, np.floating) and grad.shape == x.shape
    assert isinstance(assert_type(csoftmax.nll_loss(x, labels), np.floating[Any]), np.floating)
    assert isinstance(assert_type(csoftmax.entropy(x), NDArray[Any]), np.ndarray)
    assert isinstance(assert_type(csoftmax.entropy(x, reduction="sum"), np.floating[Any]),
                      np.floating)
    assert isinstance(assert_type(csoftmax.kl_div(x, p, reduction="batchmean"),
                                  np.floating[Any]), np.floating)
    assert isinstance(assert_type(csoftmax.sigmoid_focal_loss(x, p), NDArray[Any]), np.ndarray)
    assert isinstance(assert_type(csoftmax.binary_cross_entropy_with_logits(x, p),
                                  np.floating[Any]), np.floating)
    assert isinstance(assert_type(csoftmax.one_hot(labels, 3), NDArray[Any]), np.ndarray)
    assert isinstance(assert_type(csoftmax.get_num_threads(), int), int)
