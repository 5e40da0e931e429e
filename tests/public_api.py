"""The public API as the tests enumerate it: every function and class named
in the __all__ of a public module."""
import importlib
import inspect

# csoftmax.dask needs dask and csoftmax.SoftmaxRegression (exported lazily by
# the package's __getattr__) scikit-learn: each is left out where it cannot be
# imported.
PUBLIC_MODULES = ["csoftmax", "csoftmax.special", "csoftmax.vocab", "csoftmax.dask"]


def public_objects():
    """(qualified public name, object) of each function and class."""
    found = []
    for module_name in PUBLIC_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        for name in module.__all__:
            try:
                obj = getattr(module, name)
            except ImportError:
                continue
            if inspect.isfunction(obj) or inspect.isclass(obj):
                found.append((f"{module_name}.{name}", obj))
    return found
