"""Run SciPy's own tests for softmax / log_softmax / logsumexp against
``csoftmax.special``, the drop-in for scipy.special.

No SciPy test code is copied here.  The installed SciPy test module(s) are
imported, their test classes and functions are re-exported from this module
so that pytest collects them from this file, and an autouse fixture rebinds the
names ``softmax``, ``log_softmax`` and ``logsumexp`` in the SciPy test
module's globals to the implementation under test for the duration of each
test.  The SciPy test bodies look those names up in their module globals at
call time, so they call our functions.

SciPy's ``conftest.py`` (which provides the ``xp`` / ``devices`` fixtures and
interprets the ``skip_xp_backends`` / ``xfail_xp_backends`` markers) is not
loaded for this file, so minimal NumPy-only equivalents are defined below.
Only the NumPy backend is used: csoftmax is a NumPy library, and SciPy's
torch / jax / cupy / dask / array-api-strict parametrisations are not
generated at all (SciPy's own run without ``SCIPY_ARRAY_API`` does the same).

Target selection (to prove the harness itself):

    CSOFTMAX_SCIPY_SUITE_TARGET=scipy.special pytest tests/test_scipy_suite.py

runs the very same collected tests against SciPy's own functions; they must
all pass, with the same count as running SciPy's test file directly.  The
default target is ``csoftmax.special``.
"""
import importlib
import os
import warnings

import numpy as np
import pytest

pytest.importorskip("scipy")
scipy_special = pytest.importorskip("scipy.special")
pytest.importorskip("scipy.special.tests")  # tests subpackage may be stripped
_xp_api = pytest.importorskip("scipy._lib._array_api")

# --------------------------------------------------------------------------
# Markers used by SciPy's test module.  SciPy registers them in its conftest;
# register them here (when a pytest config is active) so importing SciPy's
# tests does not warn (or fail under --strict-markers).
# --------------------------------------------------------------------------
_SCIPY_MARKERS = (
    "array_api_backends: test iterates on all array API backends",
    "skip_xp_backends(backends, reason=None, np_only=False, cpu_only=False, "
    "eager_only=False, exceptions=None): SciPy skip configuration for `xp`",
    "xfail_xp_backends(backends, reason=None, np_only=False, cpu_only=False, "
    "eager_only=False, exceptions=None): SciPy xfail configuration for `xp`",
    "slow: Tests that are very slow.",
    "xslow: mark test as extremely slow",
    "xfail_on_32bit: mark test as failing on 32-bit platforms",
    "thread_unsafe: mark the test function as single-threaded",
    "parallel_threads_limit(n): run in parallel using `n` threads",
    "iterations(n): run the given test function `n` times in each thread",
    "fail_slow: mark a test for a non-default timeout failure",
    "timeout: mark a test for a non-default timeout",
)
_cfg = getattr(pytest.mark, "_config", None)  # private pytest attr; best effort
if _cfg is not None:
    _registered = {line.split(":")[0].split("(")[0].strip()
                   for line in _cfg.getini("markers")}
    for _line in _SCIPY_MARKERS:
        if _line.split(":")[0].split("(")[0].strip() not in _registered:
            _cfg.addinivalue_line("markers", _line)

# --------------------------------------------------------------------------
# The SciPy test modules that test these three functions.  In SciPy >= 1.15
# that is scipy/special/tests/test_logsumexp.py only (other scipy test files
# merely use softmax as a helper, e.g. stats/tests/test_sampling.py).
# Older layouts had separate files; include them if present.
# --------------------------------------------------------------------------
_FUNCS = ("softmax", "log_softmax", "logsumexp")
_CANDIDATE_MODULES = (
    "scipy.special.tests.test_logsumexp",
    "scipy.special.tests.test_softmax",
    "scipy.special.tests.test_log_softmax",
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", pytest.PytestUnknownMarkWarning)
    pytest.importorskip(_CANDIDATE_MODULES[0])
    SCIPY_TEST_MODULES = []
    for _name in _CANDIDATE_MODULES:
        try:
            SCIPY_TEST_MODULES.append(importlib.import_module(_name))
        except ImportError:
            pass


def _listify_parametrize_marks(obj):
    """SciPy passes a one-shot ``itertools.product`` iterator to a
    ``parametrize`` mark; pytest deprecates that and a second collection in
    the same process would see it exhausted.  Materialise it as a list."""
    marks = getattr(obj, "pytestmark", None)
    if not isinstance(marks, list):
        return
    for i, m in enumerate(marks):
        if (m.name == "parametrize" and len(m.args) >= 2
                and not isinstance(m.args[1], (list, tuple))):
            marks[i] = pytest.mark.parametrize(
                m.args[0], list(m.args[1]), *m.args[2:], **m.kwargs).mark


# Re-export SciPy's test classes / functions so pytest collects them here.
COLLECTED_FROM_SCIPY = {}
for _mod in SCIPY_TEST_MODULES:
    for _name, _obj in list(vars(_mod).items()):
        is_cls = _name.startswith("Test") and isinstance(_obj, type)
        is_fn = _name.startswith("test") and callable(_obj)
        if not (is_cls or is_fn):
            continue
        if getattr(_obj, "__module__", None) != _mod.__name__:
            continue  # something the SciPy module itself imported
        _targets = [_obj] + ([v for v in vars(_obj).values()
                              if callable(v)] if is_cls else [])
        for _t in _targets:
            _listify_parametrize_marks(_t)
        _alias = _name if _name not in globals() else (
            f"{_name}__{_mod.__name__.rsplit('.', 1)[-1]}")
        assert _alias not in globals(), _alias
        globals()[_alias] = _obj
        COLLECTED_FROM_SCIPY[_alias] = _mod.__name__

# --------------------------------------------------------------------------
# Implementation under test.
# --------------------------------------------------------------------------
TARGET_NAME = os.environ.get("CSOFTMAX_SCIPY_SUITE_TARGET", "csoftmax.special")
# No importorskip here: if csoftmax is not built, that is an error, not a skip.
target = importlib.import_module(TARGET_NAME)


@pytest.fixture(autouse=True)
def _bind_target(monkeypatch):
    """Point the SciPy test modules' globals at the implementation under test."""
    for mod in SCIPY_TEST_MODULES:
        for fname in _FUNCS:
            if hasattr(mod, fname):
                monkeypatch.setattr(mod, fname, getattr(target, fname))
    yield


# --------------------------------------------------------------------------
# Minimal stand-ins for SciPy's conftest fixtures (NumPy backend only).
# --------------------------------------------------------------------------
def _skip_or_xfail_numpy(request, kind):
    """SciPy's conftest semantics restricted to the NumPy backend: ``np_only``,
    ``cpu_only`` and ``eager_only`` never exclude NumPy; only a marker naming
    ``"numpy"`` explicitly does."""
    for marker in request.node.iter_markers(f"{kind}_xp_backends"):
        if marker.args and marker.args[0] == "numpy":
            reason = (marker.kwargs.get("reason")
                      or "do not run with array API backend: numpy")
            getattr(pytest, kind)(reason=reason)


@pytest.fixture(params=[pytest.param(np, id="numpy",
                                     marks=pytest.mark.array_api_backends)])
def xp(request):
    _skip_or_xfail_numpy(request, "skip")
    _skip_or_xfail_numpy(request, "xfail")
    ns = _xp_api.array_namespace(request.param.empty(0))
    if _xp_api.SCIPY_ARRAY_API:
        with _xp_api.default_xp(ns):
            yield ns
    else:
        yield ns


@pytest.fixture
def devices(xp):
    return xp.__array_namespace_info__().devices() + [None]


@pytest.fixture
def num_parallel_threads():
    return 1


# --------------------------------------------------------------------------
# Harness self-checks.
# --------------------------------------------------------------------------
def test_harness_collected_scipy_tests():
    assert SCIPY_TEST_MODULES
    names = set(COLLECTED_FROM_SCIPY)
    assert {"TestLogSumExp", "TestSoftmax", "TestLogSoftmax"} <= names, names


def test_harness_binds_target():
    """During a test the SciPy module's globals *are* the target's functions."""
    for mod in SCIPY_TEST_MODULES:
        for fname in _FUNCS:
            if hasattr(mod, fname):
                assert getattr(mod, fname) is getattr(target, fname), (
                    mod.__name__, fname)
    if TARGET_NAME != "scipy.special":
        # The suite would prove nothing if the drop-in re-exported SciPy's.
        for fname in _FUNCS:
            assert getattr(target, fname) is not getattr(scipy_special, fname), (
                f"{TARGET_NAME}.{fname} is scipy.special.{fname}")


@pytest.mark.parametrize("fname, cls, meth", [
    ("logsumexp", "TestLogSumExp", "test_array_like"),
    ("softmax", "TestSoftmax", "test_softmax_array_like"),
    ("log_softmax", "TestLogSoftmax", "test_log_softmax_array_like"),
])
def test_harness_calls_target(fname, cls, meth, monkeypatch):
    """Run one SciPy test with a spy on the target function: the SciPy test
    body must reach the target (its pass/fail is reported by the real test)."""
    mod = SCIPY_TEST_MODULES[0]
    test = getattr(getattr(mod, cls, None), meth, None)
    if test is None:
        pytest.skip(f"{cls}.{meth} not in this SciPy version")
    real = getattr(target, fname)
    calls = []

    def spy(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(mod, fname, spy)
    try:
        test(getattr(mod, cls)())
    except Exception:
        pass
    assert calls, f"SciPy's {cls}.{meth} did not call {TARGET_NAME}.{fname}"
