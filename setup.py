"""Build of the compiled core: one extension, the Cython layer plus the C kernels.

The kernels are compiled for several x86 ISA levels inside their own sources
(src/isa_target.h), so the flags here stay portable: no -march, no -ffast-math
(it would break inf/nan handling and set flush-to-zero for the whole process).
OpenMP is used when the compiler has it, unless CSOFTMAX_NO_OPENMP=1.
CSOFTMAX_SANITIZE=1 builds with AddressSanitizer and UndefinedBehaviorSanitizer
for .ci/sanitize (a debugging build: slower, and it needs libasan preloaded).
"""
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

C_SOURCES = [
    "src/dispatch.c",
    "src/kernels_baseline.c",
    "src/kernels_avx2.c",
    "src/kernels_avx512.c",
    "src/hsoftmax.c",
    "src/sparse_baseline.c",
    "src/sparse_avx2.c",
    "src/sparse_avx512.c",
    "src/segments_baseline.c",
    "src/segments_avx2.c",
    "src/segments_avx512.c",
    "src/sampling_baseline.c",
    "src/sampling_avx2.c",
    "src/sampling_avx512.c",
    "src/tiles_baseline.c",
    "src/tiles_avx2.c",
    "src/tiles_avx512.c",
]

COMPILE_ARGS = ["-O3", "-fno-math-errno", "-fno-trapping-math", "-Wno-psabi"]

# -O1 (after -O3, so it wins) keeps the sanitizer build fast to compile and its
# reports readable; any undefined behaviour aborts instead of being reported only;
# -fno-wrapv undoes Python's -fwrapv so that signed overflow is reported too.
SANITIZE_ARGS = ["-O1", "-g", "-fsanitize=address,undefined", "-fno-omit-frame-pointer",
                 "-fno-sanitize-recover=undefined", "-fno-wrapv"]
sanitize = SANITIZE_ARGS if os.environ.get("CSOFTMAX_SANITIZE", "") not in ("", "0") else []


def openmp_flags():
    """['-fopenmp'] if the C compiler builds and links an OpenMP program, else []."""
    if os.environ.get("CSOFTMAX_NO_OPENMP", "") not in ("", "0"):
        return []
    if sys.platform == "win32":
        return []
    compiler = os.environ.get("CC", "cc")
    if shutil.which(compiler.split()[0]) is None:
        return []
    program = "#include <omp.h>\nint main(void) { return omp_get_max_threads() > 0 ? 0 : 1; }\n"
    with tempfile.TemporaryDirectory() as tmp:
        source = os.path.join(tmp, "check_openmp.c")
        with open(source, "w") as f:
            f.write(program)
        command = compiler.split() + ["-fopenmp", source, "-o", os.path.join(tmp, "check")]
        result = subprocess.run(command, capture_output=True)
    return ["-fopenmp"] if result.returncode == 0 else []


class ParallelBuildExt(build_ext):
    """Compiles the extension's C files side by side, one compiler process per
    core (the kernel files are compiled for three ISA levels each and dominate
    the build); setuptools alone compiles them one after another."""

    def build_extension(self, ext):
        compile_serially = self.compiler.compile
        jobs = max(1, min(len(ext.sources), os.cpu_count() or 1))

        def compile_in_parallel(sources, *args, **kwargs):
            with ThreadPoolExecutor(jobs) as pool:
                objects = pool.map(lambda source: compile_serially([source], *args, **kwargs),
                                   sources)
                return [obj for per_source in objects for obj in per_source]

        self.compiler.compile = compile_in_parallel
        try:
            super().build_extension(ext)
        finally:
            self.compiler.compile = compile_serially


openmp = openmp_flags()
extensions = [
    Extension(
        "csoftmax._core",
        sources=["csoftmax/_core.pyx"] + C_SOURCES,
        include_dirs=["src", numpy.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        depends=["src/csoftmax.h", "src/kernel_list.h", "src/simd.h", "src/vmath.h",
                 "src/kernels_impl.h", "src/normalize_impl.h", "src/logsumexp_impl.h",
                 "src/huge_row_impl.h", "src/kernels_isa.h", "src/isa_target.h",
                 "src/kernels_instance.h", "src/loss.h", "src/loss_softmax_impl.h",
                 "src/loss_elementwise_impl.h",
                 "src/loss_backward_impl.h",
                 "src/hsoftmax.h", "src/hsoftmax_impl.h",
                 "src/sparse.h", "src/sparse_impl.h", "src/sparse_isa.h",
                 "src/segments.h", "src/segments_impl.h", "src/segments_isa.h",
                 "src/segments_index_impl.h",
                 "src/sampling.h", "src/sampling_impl.h", "src/sampling_isa.h",
                 "src/tiles.h", "src/tiles_impl.h", "src/tiles_isa.h",
                 "src/instantiate_types.h", "src/isa_build.h"],
        extra_compile_args=COMPILE_ARGS + openmp + sanitize,
        extra_link_args=openmp + sanitize,
    )
]

setup(ext_modules=cythonize(extensions, compiler_directives={}),
      cmdclass={"build_ext": ParallelBuildExt})
