"""The library's default thread count and how many threads one call gets."""
import os

from . import _core
from ._validate import positive_int, warn_bad_environment

ENV_VARIABLE = "CSOFTMAX_NUM_THREADS"

# Below this many elements per thread, starting threads costs more than it saves:
# inputs below _core.SMALL_INPUT (the size its one-call path takes) run on one
# thread, larger ones give every thread at least half of that.
MIN_ELEMENTS_PER_THREAD = _core.SMALL_INPUT // 2

_user_default = None


def _read_env_default():
    """CSOFTMAX_NUM_THREADS as a count, or None when unset; a value that is not
    an integer >= 1 warns and is ignored (the import must not fail over it)."""
    value = os.environ.get(ENV_VARIABLE, "").strip()
    if not value:
        return None
    try:
        return positive_int(int(value), ENV_VARIABLE)
    except ValueError:
        warn_bad_environment(ENV_VARIABLE, f"{value!r} is not a thread count (an integer >= 1); "
                             "ignored, the default thread count is used")
        return None


# read once at import, like OMP_NUM_THREADS
_env_default = _read_env_default()


def set_num_threads(n):
    """Set the default number of threads for csoftmax calls (num_threads=None).

    Results do not depend on it: they are bitwise identical for any thread
    count.

    >>> import csoftmax
    >>> old = csoftmax.get_num_threads()
    >>> csoftmax.set_num_threads(1)
    >>> csoftmax.get_num_threads()
    1
    >>> csoftmax.set_num_threads(old)
    """
    global _user_default
    _user_default = positive_int(n, "number of threads")


def get_num_threads():
    """The default number of threads: set_num_threads(), else env
    CSOFTMAX_NUM_THREADS, else what the OpenMP runtime offers (all cores, or
    OMP_NUM_THREADS, or a threadpoolctl limit).

    >>> import csoftmax
    >>> csoftmax.get_num_threads() >= 1
    True
    """
    if _user_default is not None:
        return _user_default
    if _env_default is not None:
        return _env_default
    return max(1, _core.max_threads())


def threads_for_call(num_threads, elements):
    """Threads for one call: an explicit num_threads as given, else the default
    throttled so that small inputs stay on one thread."""
    if num_threads is not None:
        return positive_int(num_threads, "num_threads")
    if elements < 2 * MIN_ELEMENTS_PER_THREAD:  # the common small call: skip the lookups
        return 1
    return max(1, min(get_num_threads(), elements // MIN_ELEMENTS_PER_THREAD))
