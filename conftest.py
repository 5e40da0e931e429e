"""Root pytest configuration: doctest collection (--doctest-modules over
csoftmax/) skips modules whose optional dependency is not installed."""
import importlib.util

collect_ignore = []
if importlib.util.find_spec("sklearn") is None:  # csoftmax[sklearn] not installed
    collect_ignore.append("csoftmax/_regression.py")
if importlib.util.find_spec("dask") is None:  # csoftmax[dask] not installed
    collect_ignore.append("csoftmax/dask.py")
