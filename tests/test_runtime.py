"""Runtime configuration: show_config, the command line, the CSOFTMAX_ISA and
CSOFTMAX_NUM_THREADS environment variables (each in a fresh interpreter,
since they are read at import)."""

import os
import re
import subprocess
import sys

import numpy as np
import pytest

import csoftmax
import reference


def _run(code_or_args, package_root, env=None, timeout=120):
    """Run python (with -c code, or with a list of arguments) in the
    directory that holds the csoftmax under test; the CSOFTMAX_* variables
    of this process are not inherited, only those in ``env``."""
    args = ["-c", code_or_args] if isinstance(code_or_args, str) else code_or_args
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("CSOFTMAX_")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, *args], cwd=package_root, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


def test_show_config(capsys):
    result = csoftmax.show_config()
    text = capsys.readouterr().out
    assert result is None or isinstance(result, (str, dict))
    assert csoftmax.__version__ in text
    assert re.search(r"(?i)openmp", text), text
    assert re.search(r"(?i)baseline", text), "compiled ISA levels should be listed"
    assert re.search(r"(?i)\bisa\b|avx|x86-64|level", text), text
    assert re.search(r"(?i)thread", text), text


def test_command_line_info(package_root):
    proc = _run(["-m", "csoftmax", "info"], package_root)
    assert proc.returncode == 0, proc.stderr
    assert csoftmax.__version__ in proc.stdout
    assert re.search(r"(?i)openmp", proc.stdout)


def test_num_threads_environment(package_root):
    code = "import csoftmax; print(csoftmax.get_num_threads())"
    proc = _run(code, package_root, env={"CSOFTMAX_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[-1] == "1"


def _cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


_FLAGS = _cpu_flags()
LEVELS = [
    pytest.param("baseline", id="baseline"),
    pytest.param("avx2", id="avx2", marks=pytest.mark.skipif(
        not {"avx2", "fma"} <= _FLAGS, reason="CPU has no AVX2/FMA")),
    pytest.param("avx512", id="avx512", marks=pytest.mark.skipif(
        not {"avx512f", "avx512bw", "avx512dq", "avx512vl"} <= _FLAGS,
        reason="CPU has no AVX-512")),
]

# Computes every op on a fixed set of arrays and saves the results; run
# once in this process (default ISA) and once per forced level.
_ISA_SCRIPT = r"""
import sys
import numpy as np
import csoftmax

def inputs():
    rng = np.random.default_rng(40)
    for dtype in (np.float64, np.float32):
        yield rng.standard_normal((37, 53)).astype(dtype) * 4
        yield rng.standard_normal((5, 3000)).astype(dtype) * 10
        yield rng.standard_normal((300, 7)).astype(dtype)
        special = rng.standard_normal((6, 20)).astype(dtype)
        special[0] = -np.inf
        special[1, 3] = np.inf
        special[2, 5] = np.nan
        special[3, ::2] = -np.inf
        special[4] += 1e4
        special[5] *= 300
        yield special

results = {}
for i, x in enumerate(inputs()):
    for axis in (0, 1):
        for op in ("softmax", "log_softmax", "logsumexp"):
            results[f"{i}-{axis}-{op}"] = getattr(csoftmax, op)(x, axis)
            results[f"{i}-{axis}-{op}-t"] = getattr(csoftmax, op)(x, axis, num_threads=2)
np.savez(sys.argv[1], **results)
"""


def _isa_inputs():
    """The arrays _ISA_SCRIPT computes on, rebuilt in this process."""
    namespace = {}
    exec(compile(_ISA_SCRIPT.split("results = {}")[0], "<isa inputs>", "exec"), namespace)
    return list(namespace["inputs"]())


@pytest.mark.parametrize("level", LEVELS)
def test_forced_isa_matches_default(level, package_root, tmp_path):
    """A forced kernel level gives the default's results to within the error
    model of reference.py (a few ulp for float32, rtol 1e-13 for float64,
    plus the absolute terms where a result is near 0), the same nan/inf,
    and thread-count-independent bits."""
    forced = tmp_path / f"{level}.npz"
    default = tmp_path / "default.npz"
    for path, env in ((forced, {"CSOFTMAX_ISA": level}), (default, {})):
        proc = _run(["-c", _ISA_SCRIPT, str(path)], package_root, env=env)
        assert proc.returncode == 0, proc.stderr
    info = _run("import csoftmax; csoftmax.show_config()", package_root,
                env={"CSOFTMAX_ISA": level})
    assert info.returncode == 0, info.stderr
    assert level in info.stdout.lower()

    with np.load(forced) as f, np.load(default) as d:
        for i, x in enumerate(_isa_inputs()):
            for axis in (0, 1):
                for op in ("softmax", "log_softmax", "logsumexp"):
                    key = f"{i}-{axis}-{op}"
                    tol = reference.tolerance(op, x, axis)
                    reference.assert_matches(f[key], d[key].astype(np.float64), tol, x.dtype,
                                             f"{level} vs default: {key}")
                    assert f[key].tobytes() == f[key + "-t"].tobytes(), f"{key}: threads differ"
                    assert d[key].tobytes() == d[key + "-t"].tobytes(), f"{key}: threads differ"


def test_forced_baseline_matches_reference(package_root, tmp_path):
    """The baseline kernels are also held to the oracle, not just to the
    default kernels."""
    path = tmp_path / "baseline.npz"
    proc = _run(["-c", _ISA_SCRIPT, str(path)], package_root, env={"CSOFTMAX_ISA": "baseline"})
    assert proc.returncode == 0, proc.stderr
    with np.load(path) as f:
        for i, x in enumerate(_isa_inputs()):
            for axis in (0, 1):
                for op in ("softmax", "log_softmax", "logsumexp"):
                    expected = getattr(reference, op)(x, axis)
                    tol = reference.tolerance(op, x, axis, ref=expected)
                    reference.assert_matches(f[f"{i}-{axis}-{op}"], expected, tol, x.dtype,
                                             f"baseline {op} input {i} axis {axis}")
