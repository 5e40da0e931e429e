# Compiled core of the sampling functions (csoftmax._sampling): included into
# _core.pyx. Python has validated everything and drawn the uniforms; rows go
# to threads in contiguous ranges, each thread with its own workspace, and
# every row is computed alone, so results do not depend on the thread count.
# A row r of the (outer, n, inner) view is (o, c) = (r // inner, r % inner).

from libc.stdint cimport int64_t, uint64_t
from libc.stdlib cimport free, malloc

cdef extern from "sampling.h" nogil:
    int CSM_SAMPLE_NO_MASS, CSM_SAMPLE_NOT_FINITE
    ctypedef struct csm_sample_filter:
        double temperature
        int64_t top_k
        double top_p
        double min_p
    ctypedef struct csm_sample_draws:
        const double *uniforms
        Py_ssize_t num_samples
        int with_replacement
        int64_t *index
        void *logprob
    # this family's members of the one kernel table (src/kernel_list.h)
    ctypedef struct csm_sampling_table "csm_kernel_table":
        const char *name
        int64_t (*sample_row_f32)(const float *x, Py_ssize_t n, Py_ssize_t step,
                                  const csm_sample_filter *filter,
                                  const csm_sample_draws *draws, void *work) noexcept nogil
        void (*top_logprobs_row_f32)(const float *x, Py_ssize_t n, Py_ssize_t step,
                                     double temperature, Py_ssize_t k, float *values,
                                     int64_t *indices, void *work) noexcept nogil
        void (*gumbel_logits_row_f32)(const float *x, Py_ssize_t n, Py_ssize_t step, float *y,
                                      Py_ssize_t y_step, uint64_t key, uint64_t row,
                                      double tau) noexcept nogil
        int64_t (*sample_row_f64)(const double *x, Py_ssize_t n, Py_ssize_t step,
                                  const csm_sample_filter *filter,
                                  const csm_sample_draws *draws, void *work) noexcept nogil
        void (*top_logprobs_row_f64)(const double *x, Py_ssize_t n, Py_ssize_t step,
                                     double temperature, Py_ssize_t k, double *values,
                                     int64_t *indices, void *work) noexcept nogil
        void (*gumbel_logits_row_f64)(const double *x, Py_ssize_t n, Py_ssize_t step,
                                      double *y, Py_ssize_t y_step, uint64_t key,
                                      uint64_t row, double tau) noexcept nogil
    size_t csm_sampling_work_bytes(Py_ssize_t n)

SAMPLE_NO_MASS = CSM_SAMPLE_NO_MASS
SAMPLE_NOT_FINITE = CSM_SAMPLE_NOT_FINITE

cdef inline const csm_sampling_table *sampling_kernels() noexcept nogil:
    """This family's view of the kernel table in use (_core.kernels)."""
    return <const csm_sampling_table *>kernels



cdef inline size_t _work_bytes(Py_ssize_t n) noexcept nogil:
    """One thread's workspace, rounded up to whole cache lines."""
    return (csm_sampling_work_bytes(n) + 63) // 64 * 64


cdef void _sample_range(const real *xp, Py_ssize_t xs0, Py_ssize_t xs1, Py_ssize_t xs2,
                        Py_ssize_t n, Py_ssize_t inner, const double *temperature,
                        const int64_t *top_k, const double *top_p, const double *min_p,
                        const double *uniforms, Py_ssize_t num_samples, bint replacement,
                        int64_t *index, real *logprob, int64_t *kept, Py_ssize_t lo,
                        Py_ssize_t hi, void *work) noexcept nogil:
    cdef Py_ssize_t r
    cdef csm_sample_filter f
    cdef csm_sample_draws d
    cdef const real *row
    d.num_samples = num_samples
    d.with_replacement = replacement
    for r in range(lo, hi):
        row = xp + (r // inner) * xs0 + (r % inner) * xs2
        f.temperature = temperature[r]
        f.top_k = top_k[r]
        f.top_p = top_p[r]
        f.min_p = min_p[r]
        d.uniforms = uniforms + r * num_samples
        d.index = index + r * num_samples
        d.logprob = <void *>(logprob + r * num_samples) if logprob != NULL else NULL
        if real is float:
            kept[r] = sampling_kernels().sample_row_f32(row, n, xs1, &f, &d, work)
        else:
            kept[r] = sampling_kernels().sample_row_f64(row, n, xs1, &f, &d, work)


def sample_rows(const real[:, :, :] x, const double[::1] temperature, const int64_t[::1] top_k,
                const double[::1] top_p, const double[::1] min_p, const double[:, ::1] uniforms,
                bint replacement, int64_t[:, ::1] index, real[:, ::1] logprob,
                int64_t[::1] kept, int num_threads):
    """Draws for every row of the (outer, n, inner) view x: index (and logprob,
    or None) get one row of uniforms.shape[1] draws per row of x; kept[r] is
    the row's count of kept tokens of positive probability, or SAMPLE_*."""
    cdef Py_ssize_t outer = x.shape[0], n = x.shape[1], inner = x.shape[2]
    cdef Py_ssize_t rows = outer * inner, num_samples = uniforms.shape[1]
    cdef Py_ssize_t item = sizeof(real)
    cdef Py_ssize_t xs0 = x.strides[0] // item, xs1 = x.strides[1] // item
    cdef Py_ssize_t xs2 = x.strides[2] // item
    cdef int threads = _threads_for(rows, num_threads)
    cdef Py_ssize_t t
    cdef size_t each = _work_bytes(n)
    cdef real *lp = &logprob[0, 0] if logprob is not None else NULL
    cdef char *work
    if rows == 0:
        return
    work = <char *>malloc(threads * each)
    if work == NULL:
        raise MemoryError()
    with nogil:
        if threads == 1:
            _sample_range(&x[0, 0, 0], xs0, xs1, xs2, n, inner, &temperature[0], &top_k[0],
                          &top_p[0], &min_p[0], &uniforms[0, 0], num_samples, replacement,
                          &index[0, 0], lp, &kept[0], 0, rows, work)
        else:
            for t in prange(threads, num_threads=threads, schedule='static'):
                _sample_range(&x[0, 0, 0], xs0, xs1, xs2, n, inner, &temperature[0],
                              &top_k[0], &top_p[0], &min_p[0], &uniforms[0, 0], num_samples,
                              replacement, &index[0, 0], lp, &kept[0],
                              _thread_start(rows, t, threads),
                              _thread_start(rows, t + 1, threads), work + t * each)
    free(work)


cdef void _top_logprobs_range(const real *xp, Py_ssize_t xs0, Py_ssize_t xs1, Py_ssize_t xs2,
                              Py_ssize_t n, Py_ssize_t inner, double temperature, Py_ssize_t k,
                              real *values, int64_t *indices, Py_ssize_t lo, Py_ssize_t hi,
                              void *work) noexcept nogil:
    cdef Py_ssize_t r
    cdef const real *row
    for r in range(lo, hi):
        row = xp + (r // inner) * xs0 + (r % inner) * xs2
        if real is float:
            sampling_kernels().top_logprobs_row_f32(row, n, xs1, temperature, k, values + r * k,
                                                  indices + r * k, work)
        else:
            sampling_kernels().top_logprobs_row_f64(row, n, xs1, temperature, k, values + r * k,
                                                  indices + r * k, work)


def top_logprobs_rows(const real[:, :, :] x, double temperature, real[:, ::1] values,
                      int64_t[:, ::1] indices, int num_threads):
    """The values.shape[1] best log-probabilities of every row of the
    (outer, n, inner) view x, sorted, and their indices."""
    cdef Py_ssize_t outer = x.shape[0], n = x.shape[1], inner = x.shape[2]
    cdef Py_ssize_t rows = outer * inner, k = values.shape[1]
    cdef Py_ssize_t item = sizeof(real)
    cdef Py_ssize_t xs0 = x.strides[0] // item, xs1 = x.strides[1] // item
    cdef Py_ssize_t xs2 = x.strides[2] // item
    cdef int threads = _threads_for(rows, num_threads)
    cdef Py_ssize_t t
    cdef size_t each = _work_bytes(n)
    cdef char *work
    if rows == 0 or k == 0:
        return
    work = <char *>malloc(threads * each)
    if work == NULL:
        raise MemoryError()
    with nogil:
        if threads == 1:
            _top_logprobs_range(&x[0, 0, 0], xs0, xs1, xs2, n, inner, temperature, k,
                                &values[0, 0], &indices[0, 0], 0, rows, work)
        else:
            for t in prange(threads, num_threads=threads, schedule='static'):
                _top_logprobs_range(&x[0, 0, 0], xs0, xs1, xs2, n, inner, temperature, k,
                                    &values[0, 0], &indices[0, 0],
                                    _thread_start(rows, t, threads),
                                    _thread_start(rows, t + 1, threads), work + t * each)
    free(work)


def gumbel_logits(const real[:, :, :] x, real[:, :, :] y, uint64_t key, double tau,
                  int num_threads):
    """y = (x + g) / tau over the (outer, n, inner) views x and y (same shape),
    g the Gumbel noise of (key, row, position along n)."""
    cdef Py_ssize_t outer = x.shape[0], n = x.shape[1], inner = x.shape[2]
    cdef Py_ssize_t rows = outer * inner
    cdef Py_ssize_t item = sizeof(real)
    cdef Py_ssize_t xs0 = x.strides[0] // item, xs1 = x.strides[1] // item
    cdef Py_ssize_t xs2 = x.strides[2] // item
    cdef Py_ssize_t ys0 = y.strides[0] // item, ys1 = y.strides[1] // item
    cdef Py_ssize_t ys2 = y.strides[2] // item
    cdef int threads = _threads_for(rows, num_threads)
    cdef Py_ssize_t r
    cdef const real *xp
    cdef real *yp
    if rows == 0 or n == 0:
        return
    xp = &x[0, 0, 0]
    yp = &y[0, 0, 0]
    with nogil:
        for r in prange(rows, num_threads=threads, schedule='static'):
            if real is float:
                sampling_kernels().gumbel_logits_row_f32(
                    xp + (r // inner) * xs0 + (r % inner) * xs2, n, xs1,
                    yp + (r // inner) * ys0 + (r % inner) * ys2, ys1, key, r, tau)
            else:
                sampling_kernels().gumbel_logits_row_f64(
                    xp + (r // inner) * xs0 + (r % inner) * xs2, n, xs1,
                    yp + (r // inner) * ys0 + (r % inner) * ys2, ys1, key, r, tau)
