"""Root pytest configuration: doctest collection (--doctest-modules over
csoftmax/) skips modules, and doctests, whose optional dependency is not
installed."""
import importlib.util

import pytest

collect_ignore = []
if importlib.util.find_spec("sklearn") is None:  # csoftmax[sklearn] not installed
    collect_ignore.append("csoftmax/_regression.py")
if importlib.util.find_spec("dask") is None:  # csoftmax[dask] not installed
    collect_ignore.append("csoftmax/dask.py")

# doctests of functions that take an optional peer's objects, and that peer
DOCTEST_PEERS = {"csoftmax.vocab._adaptive.AdaptiveSoftmax.from_torch": "torch"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        peer = DOCTEST_PEERS.get(item.name)
        if peer is not None and importlib.util.find_spec(peer) is None:
            item.add_marker(pytest.mark.skip(reason=f"the example needs {peer}"))
