"""Every public function and class has a docstring with an example, and that
example is one the doctest run (pytest --doctest-modules over csoftmax/)
collects and runs."""
import doctest
import inspect

import pytest

from public_api import public_objects


def _doctest_examples(obj):
    """The examples doctest finds in obj's docstring, from its defining module
    as --doctest-modules collects them."""
    module = inspect.getmodule(obj)
    tests = doctest.DocTestFinder().find(module)
    qualified = f"{module.__name__}.{obj.__qualname__}"
    return [example for test in tests if test.name == qualified for example in test.examples]


def test_public_objects_found():
    names = [name for name, _ in public_objects()]
    assert "csoftmax.softmax" in names and "csoftmax.special.logsumexp" in names


@pytest.mark.parametrize("obj", [pytest.param(obj, id=name) for name, obj in public_objects()])
def test_has_a_doctest_example(obj):
    name = f"{obj.__module__}.{obj.__qualname__}"
    assert obj.__doc__ and ">>>" in obj.__doc__, f"{name} has no example in its docstring"
    assert _doctest_examples(obj), f"{name}: doctest finds no example in {obj.__module__}"
    assert inspect.getmodule(obj).__file__.endswith(".py"), (
        f"{name} is defined in a compiled module: --doctest-modules would not run its example")
