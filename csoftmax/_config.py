"""show_config(): what this build of csoftmax has and uses; env CSOFTMAX_ISA."""
import os
import sys

from . import _core
from ._threads import get_num_threads
from ._validate import warn_bad_environment

ISA_VARIABLE = "CSOFTMAX_ISA"


def _apply_isa_environment():
    """Switch to the level env CSOFTMAX_ISA names, if this CPU and build run it;
    otherwise warn, saying what was asked and what runs instead. Returns the
    level asked for ('' when unset) and whether it is the one in use."""
    asked = os.environ.get(ISA_VARIABLE, "").strip().lower()
    if not asked:
        return "", False
    try:
        _core.set_isa(asked)
    except ValueError as error:
        warn_bad_environment(ISA_VARIABLE, f"{error}; running the {_core.get_isa()} kernels "
                             "instead")
        return asked, False
    return asked, True


# applied once, at import, like OMP_NUM_THREADS
_isa_asked, _isa_honoured = _apply_isa_environment()


def _isa_origin(in_use):
    """Why the level in use is the one in use, for show_config()."""
    if not _isa_asked:
        return "best usable"
    if _isa_honoured and in_use == _isa_asked:
        return f"forced by {ISA_VARIABLE}"
    if not _isa_honoured:
        return f"{ISA_VARIABLE}={_isa_asked} asked for, not usable here; best usable instead"
    return f"set by csoftmax._core.set_isa after {ISA_VARIABLE}={_isa_asked}"


def config():
    """The build and runtime configuration as a dict."""
    from . import __version__
    return {
        "version": __version__,
        "isa_compiled": _core.compiled_isa_levels(),
        "isa_usable": _core.usable_isa_levels(),
        "isa_in_use": _core.get_isa(),
        "openmp": _core.openmp_enabled(),
        "num_threads": get_num_threads(),
    }


def show_config(file=None):
    """Print the version, ISA levels (compiled, usable, in use), OpenMP and threads.

    >>> import csoftmax
    >>> csoftmax.show_config()  # doctest: +ELLIPSIS
    csoftmax ...
    """
    file = sys.stdout if file is None else file
    info = config()
    print(f"csoftmax {info['version']}", file=file)
    print(f"  ISA levels compiled: {', '.join(info['isa_compiled'])}", file=file)
    print(f"  ISA levels usable:   {', '.join(info['isa_usable'])}", file=file)
    print(f"  ISA level in use:    {info['isa_in_use']} ({_isa_origin(info['isa_in_use'])})",
          file=file)
    print(f"  OpenMP:              {'yes' if info['openmp'] else 'no (serial build)'}", file=file)
    print(f"  threads:             {info['num_threads']}", file=file)
