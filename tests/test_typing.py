"""The typed API: the .pyi stubs match the runtime, mypy passes on the package
and the tests, and the stubs' return types are what the functions return.

mypy runs with the [tool.mypy] configuration of pyproject.toml. The tests
skip where mypy is not installed (it is in the test extra).
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


# Checked by mypy in test_mypy_rejects_unknown_reductions: every line marked
# "# rejected" must be an error, and no other line; each reveal_type pair
# must reveal the same type.
TYPED_SNIPPET = """\
import numpy as np
from numpy.typing import NDArray
import csoftmax
from csoftmax.vocab import (
    AdaptiveSoftmax, HierarchicalSoftmax, negative_sampling_loss, sampled_softmax_loss,
)
x: NDArray[np.float32] = np.ones((2, 3), np.float32)
t = np.array([0, 1])
w = np.ones((5, 3))
csoftmax.cross_entropy(x, t, reduction="avg")  # rejected
csoftmax.cross_entropy(x, t, reduction="avg", return_grad=True)  # rejected
csoftmax.nll_loss(x, t, reduction="avg")  # rejected
csoftmax.focal_loss(x, t, reduction="avg")  # rejected
csoftmax.entropy(x, reduction="avg")  # rejected
csoftmax.kl_div(x, x, reduction="avg")  # rejected
csoftmax.binary_cross_entropy_with_logits(x, x, reduction="avg")  # rejected
csoftmax.sigmoid_focal_loss(x, x, reduction="avg")  # rejected
sampled_softmax_loss(x, w, w[:, 0], t, 2, reduction="avg")  # rejected
negative_sampling_loss(x, w, t, t[:, None], reduction="avg")  # rejected
HierarchicalSoftmax([1, 2, 3], 3).loss(x, t, reduction="avg")  # rejected
AdaptiveSoftmax(3, 5, [2]).loss(x, t, reduction="avg")  # rejected
AdaptiveSoftmax(3, 5, [2]).loss(x, t, True)  # rejected
csoftmax.kl_div(x, x, reduction="batchmean")
csoftmax.cross_entropy(x, t, reduction="none", return_grad=True)
HierarchicalSoftmax([1, 2, 3], 3).loss(x, t, reduction="sum", return_grad=True)
reveal_type(x)
reveal_type(csoftmax.softmax(x))
reveal_type(x)
reveal_type(csoftmax.log_softmax(x, axis=0))
reveal_type(x)
reveal_type(csoftmax.special.softmax(x))
reveal_type(np.float32(0.0))
reveal_type(csoftmax.logsumexp(x, axis=None))
"""


@pytest.mark.skipif(not _in_source_tree(), reason="needs the source tree (pyproject.toml)")
def test_mypy_rejects_unknown_reductions_and_keeps_dtypes(tmp_path):
    """reduction is a Literal on every loss (and keyword-only on the vocab
    models): mypy rejects reduction="avg"; softmax of an NDArray[np.float32]
    is revealed as that same type."""
    api = pytest.importorskip("mypy.api")
    snippet = tmp_path / "typed_snippet.py"
    snippet.write_text(TYPED_SNIPPET)
    stdout, stderr, status = api.run(["--config-file", PYPROJECT, "--no-error-summary",
                                      str(snippet)])
    lines = TYPED_SNIPPET.splitlines()
    rejected = {number for number, line in enumerate(lines, 1) if line.endswith("# rejected")}
    errors, revealed = set(), {}
    for message in stdout.splitlines():
        where, _, text = message.partition(": ")
        number = int(where.split(":")[1])
        if text.startswith("error:"):
            errors.add(number)
        elif text.startswith("note: Revealed type is "):
            revealed[number] = text[len("note: Revealed type is "):]
    assert status == 1 and errors == rejected, stdout + stderr
    pairs = [number for number, line in enumerate(lines, 1) if line.startswith("reveal_type")]
    assert sorted(revealed) == pairs, stdout
    for first, second in zip(pairs[::2], pairs[1::2]):
        assert revealed[first] == revealed[second], (lines[second - 1], revealed[second])
    assert "float32" in revealed[pairs[1]] or "32Bit" in revealed[pairs[1]]


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

    p = assert_type(csoftmax.softmax(x), NDArray[np.float64])
    out = np.empty_like(x)
    assert assert_type(csoftmax.log_softmax(x, out=out), NDArray[np.float64]) is out
    assert isinstance(p, np.ndarray) and p.dtype == np.float64
    assert isinstance(assert_type(csoftmax.softmax_backward(x, p), NDArray[Any]), np.ndarray)
    assert assert_type(csoftmax.special.softmax(x), NDArray[np.float64]).dtype == np.float64
    value, sign = assert_type(csoftmax.logsumexp(x, return_sign=True),
                              tuple[NDArray[np.float64] | np.float64,
                                    NDArray[np.float64] | np.float64])
    assert value.shape == sign.shape == (2,)
    assert isinstance(assert_type(csoftmax.logsumexp([1.0, 2.0]), Any), np.float64)

    # floating inputs keep their dtype; dtype= sets it
    x32: NDArray[np.float32] = x.astype(np.float32)
    for result in (assert_type(csoftmax.softmax(x32), NDArray[np.float32]),
                   assert_type(csoftmax.log_softmax(x32, axis=0), NDArray[np.float32]),
                   assert_type(csoftmax.softmax(x, dtype=np.float32), NDArray[np.float32]),
                   assert_type(csoftmax.special.log_softmax(x32), NDArray[np.float32])):
        assert result.dtype == np.float32 and result.shape == x.shape
    assert assert_type(csoftmax.log_softmax(x32, dtype=np.dtype(np.float64)),
                       NDArray[np.float64]).dtype == np.float64
    total = assert_type(csoftmax.logsumexp(x32, axis=None), np.float32)
    assert isinstance(total, np.float32)
    assert isinstance(assert_type(csoftmax.special.logsumexp(x32), np.float32), np.float32)
    rows = assert_type(csoftmax.logsumexp(x32, axis=1, keepdims=True),
                       NDArray[np.float32] | np.float32)
    assert rows.dtype == np.float32 and rows.shape == (2, 1)
    value32, sign32 = assert_type(csoftmax.special.logsumexp(x32, 1, return_sign=True),
                                  tuple[NDArray[np.float32] | np.float32,
                                        NDArray[np.float32] | np.float32])
    assert value32.dtype == sign32.dtype == np.float32

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


def test_typed_vocab_calls_return_their_stub_types() -> None:  # annotated: mypy checks the body
    """The csoftmax.vocab stubs, statically and at runtime: reduced losses are
    NumPy floating scalars, gradients (loss, grads) pairs with sparse
    (indices, rows) output-layer gradients."""
    from csoftmax.vocab import (
        AdaptiveSoftmax, HierarchicalSoftmax, negative_sampling_loss, sampled_softmax_loss,
    )

    rng = np.random.default_rng(0)
    h, w, b = rng.normal(size=(4, 3)), rng.normal(size=(10, 3)), np.zeros(10)
    target = np.array([0, 1, 2, 1])
    loss = assert_type(sampled_softmax_loss(h, w, b, target, 5, seed=1), np.floating[Any])
    assert isinstance(loss, np.floating)
    losses = assert_type(sampled_softmax_loss(h, w, b, target, 5, seed=1, reduction="none"),
                         NDArray[Any])
    assert losses.shape == (4,)
    loss, (d_hidden, (rows, d_weight), (bias_rows, d_bias)) = sampled_softmax_loss(
        h, w, b, target, 5, seed=1, return_grad=True)
    assert isinstance(loss, np.floating) and d_hidden.shape == h.shape
    assert rows.dtype == bias_rows.dtype == np.int64 and d_weight.shape == (rows.size, 3)
    assert d_bias.shape == bias_rows.shape
    negatives = np.array([[3, 4]] * 4)
    assert isinstance(assert_type(negative_sampling_loss(h, w, target, negatives),
                                  np.floating[Any]), np.floating)
    loss, (d_hidden, (rows, d_weight)) = negative_sampling_loss(h, w, target, negatives,
                                                                return_grad=True)
    assert isinstance(loss, np.floating) and rows.dtype == np.int64

    tree = HierarchicalSoftmax([5, 3, 1, 1], 3, seed=0)
    assert isinstance(assert_type(tree.loss(h, np.array([0, 1, 2, 3])), np.floating[Any]),
                      np.floating)
    loss, grads = assert_type(tree.loss(h, np.array([0, 1, 2, 3]), return_grad=True),
                              tuple[np.floating[Any], dict[str, NDArray[Any]]])
    assert isinstance(loss, np.floating) and grads["node_weight"].shape == (3, 3)
    assert assert_type(tree.predict(h), NDArray[np.int64]).dtype == np.int64
    assert assert_type(tree.log_proba(h), NDArray[Any]).shape == (4, 4)

    assert assert_type(tree.log_prob(h, np.array([0, 1, 2, 3])), NDArray[Any]).shape == (4,)
    losses, grads = assert_type(tree.loss(h, np.array([0, 1, 2, 3]), reduction="none",
                                          return_grad=True),
                                tuple[NDArray[Any], dict[str, NDArray[Any]]])
    assert losses.shape == (4,) and grads["hidden"].shape == h.shape

    adaptive = AdaptiveSoftmax(3, 10, [4], seed=0)
    assert isinstance(assert_type(adaptive.loss(h, target), np.floating[Any]), np.floating)
    assert isinstance(assert_type(adaptive.loss(h, target, reduction="sum"), np.floating[Any]),
                      np.floating)
    assert assert_type(adaptive.loss(h, target, reduction="none"), NDArray[Any]).shape == (4,)
    assert assert_type(adaptive.predict(h), NDArray[np.intp]).dtype == np.intp
    assert assert_type(adaptive.log_prob(h), NDArray[Any]).shape == (4, 10)
    assert assert_type(adaptive.log_proba(h), NDArray[Any]).shape == (4, 10)
    assert assert_type(adaptive.log_prob(h, target), NDArray[Any]).shape == (4,)


def test_typed_dask_calls_return_their_stub_types() -> None:  # annotated: mypy checks the body
    """csoftmax.dask's stubs: lazy dask arrays, pairs of them with
    return_sign / return_grad."""
    pytest.importorskip("dask.array")
    import dask.array as da  # imported by name: mypy types da.Array

    import csoftmax.dask

    x = da.from_array(np.arange(12.0).reshape(3, 4), chunks=(2, 2))
    assert isinstance(assert_type(csoftmax.dask.softmax(x), da.Array), da.Array)
    value, sign = assert_type(csoftmax.dask.logsumexp(x, return_sign=True),
                              tuple[da.Array, da.Array])
    assert isinstance(value, da.Array) and isinstance(sign, da.Array)
    loss, grad = assert_type(csoftmax.dask.cross_entropy(x, np.array([3, 0, 1]),
                                                         return_grad=True),
                             tuple[da.Array, da.Array])
    assert loss.shape == () and grad.chunks == x.chunks
