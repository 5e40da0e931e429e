"""show_config(): what this build of csoftmax has and uses."""
import os
import sys

from . import _core
from ._threads import get_num_threads


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
    how = "forced by CSOFTMAX_ISA" if os.environ.get("CSOFTMAX_ISA") else "best usable"
    print(f"  ISA level in use:    {info['isa_in_use']} ({how})", file=file)
    print(f"  OpenMP:              {'yes' if info['openmp'] else 'no (serial build)'}", file=file)
    print(f"  threads:             {info['num_threads']}", file=file)
