"""Every public function and class has a docstring with an example, and that
example is one the doctest run (pytest --doctest-modules over csoftmax/)
collects and runs."""
import doctest
import importlib
import inspect

import pytest

PUBLIC_MODULES = ["csoftmax", "csoftmax.special", "csoftmax.vocab", "csoftmax.dask"]


def _public_objects():
    """pytest params (id: the qualified name) of each function and class in a public
    module's __all__; optional modules (csoftmax.dask needs dask) are left
    out where they cannot be imported."""
    found = []
    for module_name in PUBLIC_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isfunction(obj) or inspect.isclass(obj):
                found.append(pytest.param(obj, id=f"{module_name}.{name}"))
    return found


def _doctest_examples(obj):
    """The examples doctest finds in obj's docstring, from its defining module
    as --doctest-modules collects them."""
    module = inspect.getmodule(obj)
    tests = doctest.DocTestFinder().find(module)
    qualified = f"{module.__name__}.{obj.__qualname__}"
    return [example for test in tests if test.name == qualified for example in test.examples]


def test_public_objects_found():
    names = [param.id for param in _public_objects()]
    assert "csoftmax.softmax" in names and "csoftmax.special.logsumexp" in names


@pytest.mark.parametrize("obj", _public_objects())
def test_has_a_doctest_example(obj):
    name = f"{obj.__module__}.{obj.__qualname__}"
    assert obj.__doc__ and ">>>" in obj.__doc__, f"{name} has no example in its docstring"
    assert _doctest_examples(obj), f"{name}: doctest finds no example in {obj.__module__}"
    assert inspect.getmodule(obj).__file__.endswith(".py"), (
        f"{name} is defined in a compiled module: --doctest-modules would not run its example")
