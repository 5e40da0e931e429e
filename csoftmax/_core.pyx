# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False, embedsignature=True
"""Compiled core: splits (outer, n, inner) views into kernel calls over threads.

Python (csoftmax._api) has validated and laid out every array before it gets
here: x and y share one of the two layouts the C kernels take (see
src/csoftmax.h), `out` buffers are writable, shapes agree. This layer only
chooses the kernel table, partitions the work and releases the GIL.
"""
import os

from cython.parallel cimport prange

cdef extern from "csoftmax.h" nogil:
    int CSM_LOG, CSM_MASKED, CSM_RETURN_SIGN
    int CSM_ISA_BASELINE, CSM_ISA_AVX2, CSM_ISA_AVX512, CSM_ISA_COUNT
    ctypedef struct csm_kernel_table:
        const char *name
        void (*norm_rows_f32)(const float *x, Py_ssize_t x_row_step, float *y, Py_ssize_t y_row_step,
                           Py_ssize_t rows, Py_ssize_t n, float scale, int flags) noexcept nogil
        void (*norm_cols_f32)(const float *x, Py_ssize_t x_step, float *y, Py_ssize_t y_step,
                           Py_ssize_t n, Py_ssize_t width, float scale, int flags) noexcept nogil
        void (*lse_rows_f32)(const float *x, Py_ssize_t x_row_step, const float *b,
                          Py_ssize_t b_row_step, float *result, float *sign, Py_ssize_t rows,
                          Py_ssize_t n, int flags) noexcept nogil
        void (*lse_cols_f32)(const float *x, Py_ssize_t x_step, const float *b, Py_ssize_t b_step,
                          float *result, float *sign, Py_ssize_t n, Py_ssize_t width, int flags) noexcept nogil
        void (*norm_rows_f64)(const double *x, Py_ssize_t x_row_step, double *y, Py_ssize_t y_row_step,
                           Py_ssize_t rows, Py_ssize_t n, double scale, int flags) noexcept nogil
        void (*norm_cols_f64)(const double *x, Py_ssize_t x_step, double *y, Py_ssize_t y_step,
                           Py_ssize_t n, Py_ssize_t width, double scale, int flags) noexcept nogil
        void (*lse_rows_f64)(const double *x, Py_ssize_t x_row_step, const double *b,
                          Py_ssize_t b_row_step, double *result, double *sign, Py_ssize_t rows,
                          Py_ssize_t n, int flags) noexcept nogil
        void (*lse_cols_f64)(const double *x, Py_ssize_t x_step, const double *b, Py_ssize_t b_step,
                          double *result, double *sign, Py_ssize_t n, Py_ssize_t width, int flags) noexcept nogil
    int csm_isa_usable(int level)
    int csm_isa_compiled(int level)
    const csm_kernel_table *csm_isa_table(int level)

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    #define CSM_OPENMP 1
    #else
    #define CSM_OPENMP 0
    static int omp_get_max_threads(void) { return 1; }
    #endif
    """
    int CSM_OPENMP
    int omp_get_max_threads() nogil

ctypedef fused real:
    float
    double

ISA_LEVELS = ("baseline", "avx2", "avx512")

# Slices of the column layout are handed out in blocks this wide (a multiple of
# every vector width), the unit of work a thread takes.
cdef Py_ssize_t COLUMN_BLOCK = 256

cdef const csm_kernel_table *kernels = NULL
cdef int active_level = -1


def compiled_isa_levels():
    """Names of the ISA levels built into this extension."""
    return tuple(name for i, name in enumerate(ISA_LEVELS) if csm_isa_compiled(i))


def usable_isa_levels():
    """Names of the compiled ISA levels the running CPU supports."""
    return tuple(name for i, name in enumerate(ISA_LEVELS) if csm_isa_usable(i))


def set_isa(name):
    """Switches the kernels in use to ISA level `name` (tests and benchmarks)."""
    global kernels, active_level
    if name not in ISA_LEVELS:
        raise ValueError(f"unknown ISA level {name!r}; expected one of {ISA_LEVELS}")
    level = ISA_LEVELS.index(name)
    if not csm_isa_usable(level):
        raise ValueError(f"ISA level {name!r} is not available on this CPU or build "
                         f"(usable: {usable_isa_levels()})")
    kernels = csm_isa_table(level)
    active_level = level


def get_isa():
    """Name of the ISA level in use."""
    return ISA_LEVELS[active_level]


def openmp_enabled():
    return bool(CSM_OPENMP)


def max_threads():
    """Threads the OpenMP runtime would use by default (1 without OpenMP)."""
    return omp_get_max_threads()


cdef inline int _threads_for(Py_ssize_t tasks, int num_threads) noexcept nogil:
    return <int>(tasks if tasks < num_threads else num_threads) if tasks > 0 else 1


def normalize(const real[:, :, :] x, real[:, :, :] y, bint log, double scale, bint masked,
              int num_threads):
    """softmax (log=False) or log_softmax of x over axis 1 into y.

    x and y have the same shape and either both the row layout (axis 2 of
    length 1, axis 1 contiguous) or both the column layout (axis 2 contiguous).
    """
    cdef Py_ssize_t outer = x.shape[0], n = x.shape[1], inner = x.shape[2]
    cdef Py_ssize_t item = sizeof(real)
    cdef int flags = (CSM_LOG if log else 0) | (CSM_MASKED if masked else 0)
    cdef real cscale = <real>scale
    cdef const real *xp
    cdef real *yp
    cdef Py_ssize_t xs0 = x.strides[0] // item, xs1 = x.strides[1] // item
    cdef Py_ssize_t ys0 = y.strides[0] // item, ys1 = y.strides[1] // item
    cdef Py_ssize_t t, lo, hi, task, o, c, blocks, tasks
    cdef int threads
    if outer == 0 or n == 0 or inner == 0:
        return
    xp = &x[0, 0, 0]
    yp = &y[0, 0, 0]
    if inner == 1 and (n == 1 or (x.strides[1] == item and y.strides[1] == item)):
        threads = _threads_for(outer, num_threads)
        with nogil:
            for t in prange(threads, num_threads=threads, schedule='static'):
                lo = outer * t // threads
                hi = outer * (t + 1) // threads
                if real is float:
                    kernels.norm_rows_f32(xp + lo * xs0, xs0, yp + lo * ys0, ys0, hi - lo, n,
                                          cscale, flags)
                else:
                    kernels.norm_rows_f64(xp + lo * xs0, xs0, yp + lo * ys0, ys0, hi - lo, n,
                                          cscale, flags)
    else:
        blocks = (inner + COLUMN_BLOCK - 1) // COLUMN_BLOCK
        tasks = outer * blocks
        threads = _threads_for(tasks, num_threads)
        with nogil:
            for task in prange(tasks, num_threads=threads, schedule='static'):
                o = task // blocks
                c = (task % blocks) * COLUMN_BLOCK
                if real is float:
                    kernels.norm_cols_f32(xp + o * xs0 + c, xs1, yp + o * ys0 + c, ys1, n,
                                          min(COLUMN_BLOCK, inner - c), cscale, flags)
                else:
                    kernels.norm_cols_f64(xp + o * xs0 + c, xs1, yp + o * ys0 + c, ys1, n,
                                          min(COLUMN_BLOCK, inner - c), cscale, flags)


def logsumexp(const real[:, :, :] x, const real[:, :, :] b, real[:, ::1] result,
              real[:, ::1] sign, bint return_sign, int num_threads):
    """logsumexp of x over axis 1 into result (outer, inner), optional weights b
    (same shape and layout as x, or None) and sign (or None)."""
    cdef Py_ssize_t outer = x.shape[0], n = x.shape[1], inner = x.shape[2]
    cdef Py_ssize_t item = sizeof(real)
    cdef int flags = CSM_RETURN_SIGN if return_sign else 0
    cdef const real *xp
    cdef const real *bp = NULL
    cdef real *rp
    cdef real *sp = NULL
    cdef Py_ssize_t xs0 = x.strides[0] // item, xs1 = x.strides[1] // item
    cdef Py_ssize_t bs0 = 0, bs1 = 0
    cdef Py_ssize_t t, lo, hi, task, o, c, blocks, tasks
    cdef int threads
    if outer == 0 or n == 0 or inner == 0:
        return
    xp = &x[0, 0, 0]
    rp = &result[0, 0]
    if b is not None:
        bp = &b[0, 0, 0]
        bs0 = b.strides[0] // item
        bs1 = b.strides[1] // item
    if sign is not None:
        sp = &sign[0, 0]
    if inner == 1 and (n == 1 or (x.strides[1] == item and (bp == NULL or b.strides[1] == item))):
        threads = _threads_for(outer, num_threads)
        with nogil:
            for t in prange(threads, num_threads=threads, schedule='static'):
                lo = outer * t // threads
                hi = outer * (t + 1) // threads
                if real is float:
                    kernels.lse_rows_f32(xp + lo * xs0, xs0, bp + lo * bs0 if bp else NULL, bs0,
                                         rp + lo, sp + lo if sp else NULL, hi - lo, n, flags)
                else:
                    kernels.lse_rows_f64(xp + lo * xs0, xs0, bp + lo * bs0 if bp else NULL, bs0,
                                         rp + lo, sp + lo if sp else NULL, hi - lo, n, flags)
    else:
        blocks = (inner + COLUMN_BLOCK - 1) // COLUMN_BLOCK
        tasks = outer * blocks
        threads = _threads_for(tasks, num_threads)
        with nogil:
            for task in prange(tasks, num_threads=threads, schedule='static'):
                o = task // blocks
                c = (task % blocks) * COLUMN_BLOCK
                if real is float:
                    kernels.lse_cols_f32(xp + o * xs0 + c, xs1,
                                         bp + o * bs0 + c if bp else NULL, bs1,
                                         rp + o * inner + c, sp + o * inner + c if sp else NULL,
                                         n, min(COLUMN_BLOCK, inner - c), flags)
                else:
                    kernels.lse_cols_f64(xp + o * xs0 + c, xs1,
                                         bp + o * bs0 + c if bp else NULL, bs1,
                                         rp + o * inner + c, sp + o * inner + c if sp else NULL,
                                         n, min(COLUMN_BLOCK, inner - c), flags)


def _select_initial_isa():
    """The best usable level, unless env CSOFTMAX_ISA names another."""
    usable = usable_isa_levels()
    best = usable[len(usable) - 1]
    forced = os.environ.get("CSOFTMAX_ISA", "").strip().lower()
    if forced and forced != best:
        try:
            set_isa(forced)
            return
        except ValueError as exc:
            import warnings
            warnings.warn(f"CSOFTMAX_ISA ignored: {exc}", RuntimeWarning, stacklevel=2)
    set_isa(best)


_select_initial_isa()
