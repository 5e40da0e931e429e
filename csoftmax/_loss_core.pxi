# Compiled core of the losses: included into _core.pyx (one extension, one
# kernel dispatch). Same conventions as the normalisers there: Python has
# validated everything; this layer partitions rows over threads without the GIL.
# Rows go to threads in contiguous ranges and every row is computed alone, so
# the per-row results (and gradients) do not depend on the thread count.

from libc.stdint cimport int64_t

cdef extern from "loss.h" nogil:
    ctypedef struct csm_ce_params:
        int64_t ignore_index
        double smoothing
        double weight_sum
        double grad_scale
        int focal
        double gamma
        double alpha
    ctypedef struct csm_loss_table:
        const char *name
        void (*ce_rows_f32)(const float *x, Py_ssize_t x_row_step, const int64_t *labels,
                            const float *class_weight, Py_ssize_t rows, Py_ssize_t n,
                            const csm_ce_params *params, double *loss, float *grad,
                            Py_ssize_t grad_row_step) noexcept nogil
        void (*ce_prob_rows_f32)(const float *x, Py_ssize_t x_row_step, const float *target,
                                 Py_ssize_t t_row_step, const float *class_weight, Py_ssize_t rows,
                                 Py_ssize_t n, double smoothing, double grad_scale, double *loss,
                                 float *grad, Py_ssize_t grad_row_step) noexcept nogil
        void (*entropy_rows_f32)(const float *x, Py_ssize_t x_row_step, Py_ssize_t rows,
                                 Py_ssize_t n, double *result) noexcept nogil
        void (*ce_rows_f64)(const double *x, Py_ssize_t x_row_step, const int64_t *labels,
                            const double *class_weight, Py_ssize_t rows, Py_ssize_t n,
                            const csm_ce_params *params, double *loss, double *grad,
                            Py_ssize_t grad_row_step) noexcept nogil
        void (*ce_prob_rows_f64)(const double *x, Py_ssize_t x_row_step, const double *target,
                                 Py_ssize_t t_row_step, const double *class_weight, Py_ssize_t rows,
                                 Py_ssize_t n, double smoothing, double grad_scale, double *loss,
                                 double *grad, Py_ssize_t grad_row_step) noexcept nogil
        void (*entropy_rows_f64)(const double *x, Py_ssize_t x_row_step, Py_ssize_t rows,
                                 Py_ssize_t n, double *result) noexcept nogil
    const csm_loss_table *csm_loss_isa_table(int level)

cdef const csm_loss_table *loss_kernels = NULL


cdef _select_loss_kernels(int level):
    global loss_kernels
    loss_kernels = csm_loss_isa_table(level)


cdef inline void *_data_or_null(object array):
    return NULL if array is None else cnp.PyArray_DATA(<cnp.ndarray>array)


def cross_entropy_rows(cnp.ndarray x, cnp.ndarray labels, object class_weight,
                       cnp.ndarray loss, object grad, long long ignore_index, double smoothing,
                       double weight_sum, double grad_scale, bint focal, double gamma,
                       double alpha, int num_threads):
    """Per-row cross-entropy (or softmax focal loss) of C-contiguous 2-D logits x
    (float32/float64) with int64 labels (rows,), into float64 loss (rows,) and,
    if grad is not None, the gradient (x's shape and dtype, C-contiguous).
    class_weight: None or (n,) of x's dtype (the per-class alpha when focal)."""
    cdef Py_ssize_t rows = x.shape[0], n = x.shape[1]
    cdef csm_ce_params params
    cdef const int64_t *lp = <const int64_t *>cnp.PyArray_DATA(labels)
    cdef double *loss_p = <double *>cnp.PyArray_DATA(loss)
    cdef void *xp = cnp.PyArray_DATA(x)
    cdef void *wp = _data_or_null(class_weight)
    cdef void *gp = _data_or_null(grad)
    cdef bint single = x.dtype.num == cnp.NPY_FLOAT
    cdef int threads = _threads_for(rows, num_threads)
    cdef Py_ssize_t t, lo, hi
    params.ignore_index = ignore_index
    params.smoothing = smoothing
    params.weight_sum = weight_sum
    params.grad_scale = grad_scale
    params.focal = focal
    params.gamma = gamma
    params.alpha = alpha
    if rows == 0 or n == 0:
        return
    with nogil:
        for t in prange(threads, num_threads=threads, schedule='static'):
            lo = rows * t // threads
            hi = rows * (t + 1) // threads
            if single:
                loss_kernels.ce_rows_f32(
                    <const float *>xp + lo * n, n, lp + lo, <const float *>wp, hi - lo, n,
                    &params, loss_p + lo, <float *>gp + lo * n if gp else NULL, n)
            else:
                loss_kernels.ce_rows_f64(
                    <const double *>xp + lo * n, n, lp + lo, <const double *>wp, hi - lo, n,
                    &params, loss_p + lo, <double *>gp + lo * n if gp else NULL, n)


def cross_entropy_prob_rows(cnp.ndarray x, cnp.ndarray target, object class_weight,
                            cnp.ndarray loss, object grad, double smoothing, double grad_scale,
                            int num_threads):
    """Per-row cross-entropy of C-contiguous 2-D logits x with class-probability
    targets (same shape and dtype, C-contiguous) into float64 loss (rows,) and,
    if grad is not None, the gradient."""
    cdef Py_ssize_t rows = x.shape[0], n = x.shape[1]
    cdef double *loss_p = <double *>cnp.PyArray_DATA(loss)
    cdef void *xp = cnp.PyArray_DATA(x)
    cdef void *tp = cnp.PyArray_DATA(target)
    cdef void *wp = _data_or_null(class_weight)
    cdef void *gp = _data_or_null(grad)
    cdef bint single = x.dtype.num == cnp.NPY_FLOAT
    cdef int threads = _threads_for(rows, num_threads)
    cdef Py_ssize_t t, lo, hi
    if rows == 0 or n == 0:
        return
    with nogil:
        for t in prange(threads, num_threads=threads, schedule='static'):
            lo = rows * t // threads
            hi = rows * (t + 1) // threads
            if single:
                loss_kernels.ce_prob_rows_f32(
                    <const float *>xp + lo * n, n, <const float *>tp + lo * n, n,
                    <const float *>wp, hi - lo, n, smoothing, grad_scale, loss_p + lo,
                    <float *>gp + lo * n if gp else NULL, n)
            else:
                loss_kernels.ce_prob_rows_f64(
                    <const double *>xp + lo * n, n, <const double *>tp + lo * n, n,
                    <const double *>wp, hi - lo, n, smoothing, grad_scale, loss_p + lo,
                    <double *>gp + lo * n if gp else NULL, n)


def entropy_rows(cnp.ndarray x, cnp.ndarray result, int num_threads):
    """Entropy of the softmax of each row of C-contiguous 2-D x into float64 result."""
    cdef Py_ssize_t rows = x.shape[0], n = x.shape[1]
    cdef double *rp = <double *>cnp.PyArray_DATA(result)
    cdef void *xp = cnp.PyArray_DATA(x)
    cdef bint single = x.dtype.num == cnp.NPY_FLOAT
    cdef int threads = _threads_for(rows, num_threads)
    cdef Py_ssize_t t, lo, hi
    if rows == 0 or n == 0:
        return
    with nogil:
        for t in prange(threads, num_threads=threads, schedule='static'):
            lo = rows * t // threads
            hi = rows * (t + 1) // threads
            if single:
                loss_kernels.entropy_rows_f32(<const float *>xp + lo * n, n, hi - lo, n, rp + lo)
            else:
                loss_kernels.entropy_rows_f64(<const double *>xp + lo * n, n, hi - lo, n, rp + lo)
