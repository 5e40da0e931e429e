"""Golden hashes: every public function's outputs on fixed arrays
(tests/golden_cases.py), hashed and compared with the hashes recorded in
tests/golden_hashes.json for each ISA level and machine. A restructuring that is
meant to keep behaviour must keep these green at every level; a level with no
recorded hashes (e.g. avx512 where the recording machine had none) is skipped.

The machine counts where bits come from outside csoftmax: NumPy picks its
float64 exp and log loops by CPU (AVX-512 machines get other bits than AVX2
ones), and some inputs and the Python-side arithmetic of a few functions are
NumPy's; the matmuls of linear cross-entropy are OpenBLAS's, whose kernels
depend on the CPU too. So hashes are kept per ISA level, NumPy's CPU level
and OpenBLAS's kernel family; an unrecorded combination is skipped.

The bits are those of the optimised build: GCC contracts a * b + c into one
fused multiply-add at -O2 and above, so the sanitizer's -O1 build
(CSOFTMAX_SANITIZE=1) computes every case but compares no hashes.

Record the hashes of this CPU's levels after a deliberate change of output
bits (and say so in the commit message):

    python tests/test_golden.py --write
"""
import hashlib
import importlib
import json
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from golden_cases import all_cases  # noqa: E402

HASHES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden_hashes.json")
CASES = dict(all_cases())


def output_hash(value):
    """sha256 of an output's dtype, shape and bytes (C order); None (e.g.
    the gradient of an absent bias) hashes as its name."""
    if value is None:
        return "None"
    array = np.ascontiguousarray(np.asarray(value))
    assert array.dtype != object, f"an output of type {type(value).__name__} is not an array"
    digest = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode())
    digest.update(array.tobytes())
    return digest.hexdigest()[:16]


def _flat(values):
    """The arrays of a case's outputs, tuples (e.g. a loss and its gradient)
    and dicts (gradients by parameter name, in key order) opened up."""
    for value in values:
        if isinstance(value, dict):
            yield from _flat([value[key] for key in sorted(value)])
        elif isinstance(value, (tuple, list)):
            yield from _flat(value)
        else:
            yield value


def case_hashes(name):
    return [output_hash(value) for value in _flat(CASES[name]())]


def _recorded():
    with open(HASHES) as f:
        return json.load(f)


def _numpy_level():
    """The highest x86 feature level NumPy dispatches its loops to (NumPy 1.x
    names its features, not the levels)."""
    try:
        umath = importlib.import_module("numpy._core._multiarray_umath")
    except ImportError:
        umath = importlib.import_module("numpy.core._multiarray_umath")
    features = umath.__cpu_features__
    if features.get("X86_V4") or features.get("AVX512_SKX"):
        return "X86_V4"
    if features.get("X86_V3") or (features.get("AVX2") and features.get("FMA3")):
        return "X86_V3"
    return "other"


def _blas_kernels():
    """OpenBLAS's kernel family (its core name), or 'unknown'."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown"
    names = [info.get("architecture") for info in threadpool_info()
             if info.get("internal_api") == "openblas"]
    return names[0] if names and names[0] else "unknown"


def hash_key(isa):
    """The key of an ISA level's hashes on this machine."""
    return f"{isa} numpy:{_numpy_level()} blas:{_blas_kernels()}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name, isa):
    recorded = _recorded().get(hash_key(isa))
    if recorded is None:
        pytest.skip(f"no golden hashes recorded for {hash_key(isa)}")
    expected = recorded[name]
    actual = case_hashes(name)
    if os.environ.get("CSOFTMAX_SANITIZE", "") not in ("", "0"):
        pytest.skip("the sanitizer build (-O1, no FMA contraction) has other bits")
    changed = [i for i, (a, e) in enumerate(zip(actual, expected)) if a != e]
    assert len(actual) == len(expected), f"{name}: {len(actual)} outputs, {len(expected)} recorded"
    assert not changed, f"{name}: outputs {changed} differ from the recorded hashes at {isa}"


def write_hashes():
    """The bits are those of the optimised build: GCC contracts a * b + c into one
fused multiply-add at -O2 and above, so the sanitizer's -O1 build
(CSOFTMAX_SANITIZE=1) computes every case but compares no hashes.

Record the hashes of every level this CPU runs, keeping other levels' and
other machines'."""
    from csoftmax import _core

    recorded = _recorded() if os.path.exists(HASHES) else {}
    before = _core.get_isa()
    try:
        for level in _core.usable_isa_levels():
            _core.set_isa(level)
            recorded[hash_key(level)] = {name: case_hashes(name) for name in sorted(CASES)}
    finally:
        _core.set_isa(before)
    with open(HASHES, "w") as f:
        json.dump(recorded, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit(f"usage: python {sys.argv[0]} --write")
    write_hashes()
