"""Shared test configuration: hypothesis profiles and fixtures.

Profiles: "ci" (few examples, selected when the CI environment variable is
set) and "dev" (the default); HYPOTHESIS_PROFILE overrides both. "fuzz" is
a long session of the fuzz tests (--hypothesis-profile=fuzz).
"""

import os

import pytest

try:
    from hypothesis import HealthCheck, settings
except ImportError:  # hypothesis is a test extra; property tests skip without it
    pass
else:
    settings.register_profile(
        "ci", max_examples=40, deadline=None, derandomize=True,
        suppress_health_check=[HealthCheck.too_slow])
    settings.register_profile(
        "dev", max_examples=100, deadline=None,
        suppress_health_check=[HealthCheck.too_slow])
    # A long fuzz session (tests/test_fuzz*.py): pytest --hypothesis-profile=fuzz
    settings.register_profile(
        "fuzz", max_examples=1500, deadline=None, print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    settings.load_profile(
        os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


@pytest.fixture
def restore_num_threads():
    """Put the library's default thread count back after a test changes it."""
    import csoftmax

    before = csoftmax.get_num_threads()
    yield before
    csoftmax.set_num_threads(before)


@pytest.fixture
def package_root():
    """The directory holding the csoftmax package under test, so that
    subprocesses started there import the same build."""
    import csoftmax

    return os.path.dirname(os.path.dirname(os.path.abspath(csoftmax.__file__)))


def _usable_isa_levels():
    from csoftmax import _core

    return _core.usable_isa_levels()


@pytest.fixture(params=_usable_isa_levels())
def isa(request):
    """Runs a test once per kernel ISA level this CPU supports."""
    from csoftmax import _core

    before = _core.get_isa()
    _core.set_isa(request.param)
    yield request.param
    _core.set_isa(before)
