"""What `import csoftmax` does when it finds a source checkout without its
compiled core.

`python -m csoftmax` (and any import) run from the root of a clone puts the
clone's `csoftmax/` first on sys.path, ahead of the package that
`pip install .` built and installed. That folder holds the Python sources but
not the compiled `_core` extension, which only an in-place build
(`pip install -e .`) puts there. Rather than fail, the import then hands over
to the installed build; with none installed it raises an ImportError that says
what to run. Only the standard library is used here: this runs before NumPy is
imported.
"""
import importlib.machinery
import importlib.util
import os
import sys

CORE = "_core"


def has_compiled_core(package_dir):
    """Whether `package_dir` holds the built `_core` extension module."""
    return any(os.path.isfile(os.path.join(package_dir, CORE + suffix))
               for suffix in importlib.machinery.EXTENSION_SUFFIXES)


def _other_copies(name, source_dir):
    """Specs of packages called `name` that the import system would find if
    `source_dir` were not on sys.path, in the order it would try them."""
    source_parent = os.path.realpath(os.path.dirname(source_dir))
    path = [entry for entry in sys.path
            if os.path.realpath(entry or os.getcwd()) != source_parent]
    for finder in sys.meta_path:
        find_spec = getattr(finder, "find_spec", None)
        if find_spec is None:
            continue
        try:
            if finder is importlib.machinery.PathFinder:
                spec = find_spec(name, path)
            else:
                spec = find_spec(name, None)
        except (ImportError, ValueError):
            continue
        if spec is not None and spec.submodule_search_locations:
            yield spec


def installed_build(name, source_dir):
    """The spec of a built copy of the package other than the unbuilt
    `source_dir`, or None."""
    for spec in _other_copies(name, source_dir):
        package_dir = list(spec.submodule_search_locations)[0]
        if (os.path.realpath(package_dir) != os.path.realpath(source_dir)
                and has_compiled_core(package_dir)):
            return spec
    return None


def use_installed_build_if_unbuilt(name, source_dir):
    """Called first by the package's __init__: if `source_dir` has no compiled
    core, load the installed build in its place (sys.modules[name] becomes that
    module, which `import` then returns), or raise ImportError saying what to
    run. Returns whether it handed over."""
    if has_compiled_core(source_dir):
        return False
    spec = installed_build(name, source_dir)
    if spec is None:
        raise ImportError(
            f"csoftmax is imported from its source tree ({source_dir}), where the compiled "
            f"core ({CORE}) has not been built, and no built csoftmax is installed. "
            f"Build it in place with `pip install -e .` in {os.path.dirname(source_dir)}, "
            "or install it with `pip install .` there."
        )
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return True
