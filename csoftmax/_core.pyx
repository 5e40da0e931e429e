# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False, embedsignature=True
"""Compiled core: splits (outer, n, inner) views into kernel calls over threads.

Python (csoftmax._api) has validated and laid out every array before it gets
here: x and y share one of the two layouts the C kernels take (see
src/csoftmax.h), `out` buffers are writable, shapes agree. This layer only
chooses the kernel table, partitions the work and releases the GIL.
"""
import os

cimport numpy as cnp
from cython.parallel cimport prange

cnp.import_array()

cdef extern from "csoftmax.h" nogil:
    int CSM_LOG, CSM_MASKED, CSM_RETURN_SIGN
    int CSM_ISA_BASELINE, CSM_ISA_AVX2, CSM_ISA_AVX512, CSM_ISA_COUNT, CSM_HUGE_ROW
    ctypedef struct csm_kernel_table:
        const char *name
        void (*norm_rows_f32)(const float *x, Py_ssize_t x_row_step, float *y, Py_ssize_t y_row_step,
                           Py_ssize_t rows, Py_ssize_t n, float scale, int flags) noexcept nogil
        void (*norm_cols_f32)(const float *x, Py_ssize_t x_step, float *y, Py_ssize_t y_step,
                           Py_ssize_t n, Py_ssize_t width, float scale, int flags) noexcept nogil
        void (*lse_rows_f32)(const float *x, Py_ssize_t x_row_step, const float *b, float *result,
                             float *sign, Py_ssize_t rows, Py_ssize_t n, int flags) noexcept nogil
        void (*lse_cols_f32)(const float *x, Py_ssize_t x_step, const float *b, float *result,
                             float *sign, Py_ssize_t n, Py_ssize_t width, int flags) noexcept nogil
        void (*norm_huge_row_f32)(const float *x, float *y, Py_ssize_t n, float scale, int flags,
                                  int threads) noexcept nogil
        void (*lse_huge_row_f32)(const float *x, const float *b, Py_ssize_t n, int flags,
                                 int threads, float *result, float *sign) noexcept nogil
        void (*norm_rows_f64)(const double *x, Py_ssize_t x_row_step, double *y, Py_ssize_t y_row_step,
                           Py_ssize_t rows, Py_ssize_t n, double scale, int flags) noexcept nogil
        void (*norm_cols_f64)(const double *x, Py_ssize_t x_step, double *y, Py_ssize_t y_step,
                           Py_ssize_t n, Py_ssize_t width, double scale, int flags) noexcept nogil
        void (*lse_rows_f64)(const double *x, Py_ssize_t x_row_step, const double *b, double *result,
                             double *sign, Py_ssize_t rows, Py_ssize_t n, int flags) noexcept nogil
        void (*lse_cols_f64)(const double *x, Py_ssize_t x_step, const double *b, double *result,
                             double *sign, Py_ssize_t n, Py_ssize_t width, int flags) noexcept nogil
        void (*norm_huge_row_f64)(const double *x, double *y, Py_ssize_t n, double scale, int flags,
                                  int threads) noexcept nogil
        void (*lse_huge_row_f64)(const double *x, const double *b, Py_ssize_t n, int flags,
                                 int threads, double *result, double *sign) noexcept nogil
    ctypedef struct csm_test_table:
        const char *name
        void (*exp_array_f32)(const float *x, float *y, Py_ssize_t n) noexcept nogil
        void (*exp_array_f64)(const double *x, double *y, Py_ssize_t n) noexcept nogil
        void (*log1p_array_f64)(const double *u, double *y, Py_ssize_t n) noexcept nogil
    int csm_isa_usable(int level)
    int csm_isa_compiled(int level)
    const csm_kernel_table *csm_isa_table(int level)
    const csm_test_table *csm_isa_test_table(int level)

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
cdef Py_ssize_t COLUMN_BLOCK = 1024

cdef const csm_kernel_table *kernels = NULL
cdef const csm_test_table *test_kernels = NULL
cdef int active_level = -1
# Under AVX-512, slices side by side that fill at most half a vector (a few
# channels or heads) run AVX2's kernels: AVX-512's lanes past them would be
# loaded and computed for nothing, at no less cost per instruction. The slices
# kernels compute each slice in its own lane, so their bits do not depend on
# the vector width.
cdef const csm_kernel_table *half_width_kernels = NULL


cdef inline const csm_kernel_table *slices_kernels(Py_ssize_t width,
                                                   Py_ssize_t itemsize) noexcept nogil:
    """The table for `width` slices side by side, one per lane."""
    if width * itemsize * 2 <= 64:
        return half_width_kernels
    return kernels


def compiled_isa_levels():
    """Names of the ISA levels built into this extension."""
    return tuple(name for i, name in enumerate(ISA_LEVELS) if csm_isa_compiled(i))


def usable_isa_levels():
    """Names of the compiled ISA levels the running CPU supports."""
    return tuple(name for i, name in enumerate(ISA_LEVELS) if csm_isa_usable(i))


def set_isa(name):
    """Switches the kernels in use to ISA level `name` (tests and benchmarks)."""
    global kernels, test_kernels, active_level, half_width_kernels
    if name not in ISA_LEVELS:
        raise ValueError(f"unknown ISA level {name!r}; expected one of {ISA_LEVELS}")
    level = ISA_LEVELS.index(name)
    if not csm_isa_usable(level):
        raise ValueError(f"ISA level {name!r} is not available on this CPU or build "
                         f"(usable: {usable_isa_levels()})")
    kernels = csm_isa_table(level)
    test_kernels = csm_isa_test_table(level)
    half_width_kernels = kernels
    if level == CSM_ISA_AVX512 and csm_isa_usable(CSM_ISA_AVX2):
        half_width_kernels = csm_isa_table(CSM_ISA_AVX2)
    active_level = level


def get_isa():
    """Name of the ISA level in use."""
    return ISA_LEVELS[active_level]


def openmp_enabled():
    return bool(CSM_OPENMP)


def max_threads():
    """Threads the OpenMP runtime would use by default (1 without OpenMP)."""
    return omp_get_max_threads()


def data_address(cnp.ndarray a not None):
    """The address of a's first element (NumPy's __array_interface__ grows a
    long-lived array's memory on every access, so it is not used per call)."""
    return <size_t>cnp.PyArray_DATA(a)


cdef inline int _threads_for(Py_ssize_t tasks, int num_threads) noexcept nogil:
    return <int>(tasks if tasks < num_threads else num_threads) if tasks > 0 else 1


cdef inline Py_ssize_t _thread_start(Py_ssize_t count, Py_ssize_t t, int threads) noexcept nogil:
    """Where thread t's share of `count` rows (or chunks) starts: the rows go to
    the threads in `threads` contiguous ranges of nearly equal length, thread t
    taking [_thread_start(count, t), _thread_start(count, t + 1))."""
    return count * t // threads


cdef bint _split_each_row(Py_ssize_t rows, Py_ssize_t n, int num_threads) noexcept nogil:
    """Whether rows of CSM_HUGE_ROW or more elements go one at a time, each split
    over all the threads: only when there are too few to give every thread whole
    rows (two parallel regions per row cost more than one for all of them). A
    huge row's result does not depend on how many threads it is split over."""
    return n >= CSM_HUGE_ROW and rows < num_threads


cdef void _norm_row_run(const real *x, Py_ssize_t x_row_step, real *y, Py_ssize_t y_row_step,
                        Py_ssize_t rows, Py_ssize_t n, real scale, int flags,
                        int row_threads) noexcept nogil:
    """A run of rows: by the row kernel, or huge rows one at a time, each split
    over row_threads."""
    cdef Py_ssize_t r
    if n < CSM_HUGE_ROW:
        if real is float:
            kernels.norm_rows_f32(x, x_row_step, y, y_row_step, rows, n, scale, flags)
        else:
            kernels.norm_rows_f64(x, x_row_step, y, y_row_step, rows, n, scale, flags)
        return
    for r in range(rows):
        if real is float:
            kernels.norm_huge_row_f32(x + r * x_row_step, y + r * y_row_step, n, scale, flags,
                                      row_threads)
        else:
            kernels.norm_huge_row_f64(x + r * x_row_step, y + r * y_row_step, n, scale, flags,
                                      row_threads)


cdef void _norm_rows(const real *x, Py_ssize_t x_row_step, real *y, Py_ssize_t y_row_step,
                     Py_ssize_t rows, Py_ssize_t n, real scale, int flags,
                     int num_threads) noexcept nogil:
    """Rows split into one contiguous range per thread (deterministic: a row's
    result does not depend on which thread computes it), or see _split_each_row."""
    cdef int threads = _threads_for(rows, num_threads)
    cdef Py_ssize_t t, lo, hi
    if _split_each_row(rows, n, num_threads):
        _norm_row_run(x, x_row_step, y, y_row_step, rows, n, scale, flags, num_threads)
        return
    if threads == 1:  # no parallel region: it costs microseconds on small inputs
        _norm_row_run(x, x_row_step, y, y_row_step, rows, n, scale, flags, 1)
        return
    for t in prange(threads, num_threads=threads, schedule='static'):
        lo = _thread_start(rows, t, threads)
        hi = _thread_start(rows, t + 1, threads)
        _norm_row_run(x + lo * x_row_step, x_row_step, y + lo * y_row_step, y_row_step,
                      hi - lo, n, scale, flags, 1)


def normalize_last_axis(cnp.ndarray x, cnp.ndarray y, bint log, int num_threads):
    """The common case without memoryview set-up: softmax or log_softmax over
    the last axis of a non-empty C-contiguous float32/float64 array x into y
    (same shape and dtype, C-contiguous)."""
    cdef Py_ssize_t n = x.shape[x.ndim - 1]
    cdef Py_ssize_t rows = x.size // n
    cdef int flags = CSM_LOG if log else 0
    if x.dtype.num == cnp.NPY_FLOAT:
        with nogil:
            _norm_rows(<const float *>cnp.PyArray_DATA(x), n, <float *>cnp.PyArray_DATA(y), n,
                       rows, n, <float>1, flags, num_threads)
    else:
        with nogil:
            _norm_rows(<const double *>cnp.PyArray_DATA(x), n, <double *>cnp.PyArray_DATA(y), n,
                       rows, n, <double>1, flags, num_threads)


# Inputs below this many elements run on one thread; csoftmax._threads derives
# its minimum share of a thread from it.
SMALL_INPUT = 1 << 16


def normalize_small(object x, bint log):
    """softmax/log_softmax over the last axis of a small array in one call, or
    None where x is not a native, aligned, C-contiguous float32/float64 ndarray
    of 1 to SMALL_INPUT elements (the caller then takes the general path).
    Checks and allocation happen here, in C: on tiny inputs they are the cost."""
    cdef cnp.ndarray arr, y
    if not cnp.PyArray_CheckExact(x):
        return None
    arr = <cnp.ndarray>x
    cdef int typenum = cnp.PyArray_TYPE(arr)
    if (typenum != cnp.NPY_FLOAT and typenum != cnp.NPY_DOUBLE) or arr.ndim == 0:
        return None
    if not (cnp.PyArray_ISCARRAY_RO(arr) and cnp.PyArray_ISNOTSWAPPED(arr)):
        return None
    cdef Py_ssize_t size = cnp.PyArray_SIZE(arr)
    if size == 0 or size >= SMALL_INPUT:
        return None
    y = cnp.PyArray_EMPTY(arr.ndim, arr.shape, typenum, 0)
    cdef Py_ssize_t n = arr.shape[arr.ndim - 1]
    cdef int flags = CSM_LOG if log else 0
    cdef void *xp = cnp.PyArray_DATA(arr)
    cdef void *yp = cnp.PyArray_DATA(y)
    with nogil:
        if typenum == cnp.NPY_FLOAT:
            _norm_rows(<const float *>xp, n, <float *>yp, n, size // n, n, <float>1, flags, 1)
        else:
            _norm_rows(<const double *>xp, n, <double *>yp, n, size // n, n, <double>1, flags, 1)
    return y


def logsumexp_last_axis(cnp.ndarray x, cnp.ndarray result, int num_threads):
    """logsumexp over the last axis of a non-empty C-contiguous float32/float64
    array x into result (x's shape without the last axis, C-contiguous), without
    memoryview set-up."""
    cdef Py_ssize_t n = x.shape[x.ndim - 1]
    cdef Py_ssize_t rows = x.size // n
    if x.dtype.num == cnp.NPY_FLOAT:
        with nogil:
            _lse_rows(<const float *>cnp.PyArray_DATA(x), n, NULL,
                      <float *>cnp.PyArray_DATA(result), NULL, rows, n, 0, num_threads)
    else:
        with nogil:
            _lse_rows(<const double *>cnp.PyArray_DATA(x), n, NULL,
                      <double *>cnp.PyArray_DATA(result), NULL, rows, n, 0, num_threads)


cdef void _lse_row_run(const real *x, Py_ssize_t x_row_step, const real *b, real *result,
                       real *sign, Py_ssize_t rows, Py_ssize_t n, int flags,
                       int row_threads) noexcept nogil:
    """A run of logsumexp rows, as _norm_row_run."""
    cdef Py_ssize_t r
    if n < CSM_HUGE_ROW:
        if real is float:
            kernels.lse_rows_f32(x, x_row_step, b, result, sign, rows, n, flags)
        else:
            kernels.lse_rows_f64(x, x_row_step, b, result, sign, rows, n, flags)
        return
    for r in range(rows):
        if real is float:
            kernels.lse_huge_row_f32(x + r * x_row_step, b + r * x_row_step if b else NULL, n,
                                     flags, row_threads, result + r, sign + r if sign else NULL)
        else:
            kernels.lse_huge_row_f64(x + r * x_row_step, b + r * x_row_step if b else NULL, n,
                                     flags, row_threads, result + r, sign + r if sign else NULL)


cdef void _lse_rows(const real *x, Py_ssize_t x_row_step, const real *b, real *result,
                    real *sign, Py_ssize_t rows, Py_ssize_t n, int flags,
                    int num_threads) noexcept nogil:
    """logsumexp rows (weights b in x's layout, or NULL) over the threads as
    _norm_rows."""
    cdef int threads = _threads_for(rows, num_threads)
    cdef Py_ssize_t t, lo, hi
    if _split_each_row(rows, n, num_threads):
        _lse_row_run(x, x_row_step, b, result, sign, rows, n, flags, num_threads)
        return
    if threads == 1:
        _lse_row_run(x, x_row_step, b, result, sign, rows, n, flags, 1)
        return
    for t in prange(threads, num_threads=threads, schedule='static'):
        lo = _thread_start(rows, t, threads)
        hi = _thread_start(rows, t + 1, threads)
        _lse_row_run(x + lo * x_row_step, x_row_step, b + lo * x_row_step if b else NULL,
                     result + lo, sign + lo if sign else NULL, hi - lo, n, flags, 1)


def exp(const real[::1] x, real[::1] y):
    """The kernels' own vectorised exp, elementwise (for accuracy tests)."""
    if x.shape[0] == 0:
        return
    with nogil:
        if real is float:
            test_kernels.exp_array_f32(&x[0], &y[0], x.shape[0])
        else:
            test_kernels.exp_array_f64(&x[0], &y[0], x.shape[0])


def log1p(const double[::1] u, double[::1] y):
    """The kernels' own vectorised log1p over u >= 0, elementwise (for accuracy tests)."""
    if u.shape[0] == 0:
        return
    with nogil:
        test_kernels.log1p_array_f64(&u[0], &y[0], u.shape[0])


include "_loss_core.pxi"
include "_hsoftmax_core.pxi"
include "_vocab_core.pxi"
include "_sparse_core.pxi"
include "_segments_core.pxi"
include "_sampling_core.pxi"
include "_linear_ce_core.pxi"
include "_tiles_core.pxi"


# The best level the CPU runs; csoftmax._config applies env CSOFTMAX_ISA on import.
_usable_at_import = usable_isa_levels()
set_isa(_usable_at_import[len(_usable_at_import) - 1])
del _usable_at_import
