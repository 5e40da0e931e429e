# Compiled core of the losses: included into _core.pyx (one extension, one
# kernel dispatch). Same conventions as the normalisers there: Python has
# validated everything; each entry point reads the dtype once and calls a
# helper written over the fused type `real`, which partitions the work over
# threads without the GIL. Rows go to threads in contiguous ranges
# (_thread_start) and every row is computed alone, so the per-row results (and
# gradients) do not depend on the thread count.

from libc.stdint cimport int64_t
from libc.stdlib cimport free, malloc

cdef extern from "loss.h" nogil:
    enum:
        CSM_ELEM_CHUNK
        CSM_BWD_COLS
        CSM_BCE
        CSM_SIGMOID_FOCAL
        CSM_KL
        CSM_KL_LOG
    ctypedef struct csm_operand:
        const void *data
        Py_ssize_t row_step
        Py_ssize_t col_step
    ctypedef struct csm_elem_params:
        int kind
        Py_ssize_t n
        csm_operand weight
        csm_operand pos_weight
        double gamma
        double alpha
        double grad_scale
    ctypedef struct csm_ce_params:
        int64_t ignore_index
        double smoothing
        double weight_sum
        double grad_scale
        int focal
        double gamma
        double alpha
    # this family's members of the one kernel table (src/kernel_list.h)
    ctypedef struct csm_loss_table "csm_kernel_table":
        const char *name
        void (*ce_rows_f32)(const float *x, Py_ssize_t x_row_step, const int64_t *labels,
                            const float *class_weight, Py_ssize_t rows, Py_ssize_t n,
                            const csm_ce_params *params, double *loss, float *grad,
                            Py_ssize_t grad_row_step) noexcept nogil
        void (*ce_cols_f32)(const float *x, Py_ssize_t x_class_step, const int64_t *labels,
                            const float *class_weight, Py_ssize_t width, Py_ssize_t n,
                            const csm_ce_params *params, double *loss, float *grad,
                            Py_ssize_t grad_class_step) noexcept nogil
        void (*ce_huge_row_f32)(const float *x, int64_t label, const float *class_weight,
                                Py_ssize_t n, const csm_ce_params *params, double *loss,
                                float *grad, int threads) noexcept nogil
        void (*ce_prob_rows_f32)(const float *x, Py_ssize_t x_row_step, const float *target,
                                 Py_ssize_t t_row_step, const float *class_weight, Py_ssize_t rows,
                                 Py_ssize_t n, double smoothing, double grad_scale, double *loss,
                                 float *grad, Py_ssize_t grad_row_step) noexcept nogil
        void (*ce_prob_cols_f32)(const float *x, Py_ssize_t x_class_step, const float *target,
                                 Py_ssize_t t_class_step, const float *class_weight,
                                 Py_ssize_t width, Py_ssize_t n, double smoothing,
                                 double grad_scale, double *loss, float *grad,
                                 Py_ssize_t grad_class_step) noexcept nogil
        void (*ce_prob_huge_row_f32)(const float *x, const float *target,
                                     const float *class_weight, Py_ssize_t n, double smoothing,
                                     double grad_scale, double *loss, float *grad,
                                     int threads) noexcept nogil
        void (*entropy_rows_f32)(const float *x, Py_ssize_t x_row_step, Py_ssize_t rows,
                                 Py_ssize_t n, double *result) noexcept nogil
        void (*ce_rows_f64)(const double *x, Py_ssize_t x_row_step, const int64_t *labels,
                            const double *class_weight, Py_ssize_t rows, Py_ssize_t n,
                            const csm_ce_params *params, double *loss, double *grad,
                            Py_ssize_t grad_row_step) noexcept nogil
        void (*ce_cols_f64)(const double *x, Py_ssize_t x_class_step, const int64_t *labels,
                            const double *class_weight, Py_ssize_t width, Py_ssize_t n,
                            const csm_ce_params *params, double *loss, double *grad,
                            Py_ssize_t grad_class_step) noexcept nogil
        void (*ce_huge_row_f64)(const double *x, int64_t label, const double *class_weight,
                                Py_ssize_t n, const csm_ce_params *params, double *loss,
                                double *grad, int threads) noexcept nogil
        void (*ce_prob_rows_f64)(const double *x, Py_ssize_t x_row_step, const double *target,
                                 Py_ssize_t t_row_step, const double *class_weight, Py_ssize_t rows,
                                 Py_ssize_t n, double smoothing, double grad_scale, double *loss,
                                 double *grad, Py_ssize_t grad_row_step) noexcept nogil
        void (*ce_prob_cols_f64)(const double *x, Py_ssize_t x_class_step, const double *target,
                                 Py_ssize_t t_class_step, const double *class_weight,
                                 Py_ssize_t width, Py_ssize_t n, double smoothing,
                                 double grad_scale, double *loss, double *grad,
                                 Py_ssize_t grad_class_step) noexcept nogil
        void (*ce_prob_huge_row_f64)(const double *x, const double *target,
                                     const double *class_weight, Py_ssize_t n, double smoothing,
                                     double grad_scale, double *loss, double *grad,
                                     int threads) noexcept nogil
        void (*entropy_rows_f64)(const double *x, Py_ssize_t x_row_step, Py_ssize_t rows,
                                 Py_ssize_t n, double *result) noexcept nogil
        double (*elem_loss_f32)(const float *x, const float *t, Py_ssize_t lo, Py_ssize_t hi,
                                const csm_elem_params *params, float *loss,
                                float *grad) noexcept nogil
        double (*elem_loss_f64)(const double *x, const double *t, Py_ssize_t lo, Py_ssize_t hi,
                                const csm_elem_params *params, double *loss,
                                double *grad) noexcept nogil
        void (*logistic_rows_f32)(const float *x, float *y, Py_ssize_t n, int log) noexcept nogil
        void (*logistic_rows_f64)(const double *x, double *y, Py_ssize_t n, int log) noexcept nogil
        double (*nll_rows_f32)(const float *x, Py_ssize_t outer_step, Py_ssize_t class_step,
                               Py_ssize_t inner_step, Py_ssize_t C, Py_ssize_t inner,
                               const int64_t *labels, const double *w, int64_t ignore_index,
                               Py_ssize_t lo, Py_ssize_t hi, double grad_scale, double *loss,
                               float *grad) noexcept nogil
        double (*nll_rows_f64)(const double *x, Py_ssize_t outer_step, Py_ssize_t class_step,
                               Py_ssize_t inner_step, Py_ssize_t C, Py_ssize_t inner,
                               const int64_t *labels, const double *w, int64_t ignore_index,
                               Py_ssize_t lo, Py_ssize_t hi, double grad_scale, double *loss,
                               double *grad) noexcept nogil
        void (*softmax_bwd_rows_f32)(const float *g, Py_ssize_t g_row_step, const float *y,
                                     Py_ssize_t y_row_step, float *out, Py_ssize_t out_row_step,
                                     Py_ssize_t rows, Py_ssize_t n, int log) noexcept nogil
        void (*softmax_bwd_rows_f64)(const double *g, Py_ssize_t g_row_step, const double *y,
                                     Py_ssize_t y_row_step, double *out, Py_ssize_t out_row_step,
                                     Py_ssize_t rows, Py_ssize_t n, int log) noexcept nogil
        void (*softmax_bwd_cols_f32)(const float *g, Py_ssize_t g_step, const float *y,
                                     Py_ssize_t y_step, float *out, Py_ssize_t out_step,
                                     Py_ssize_t n, Py_ssize_t width, int log) noexcept nogil
        void (*softmax_bwd_cols_f64)(const double *g, Py_ssize_t g_step, const double *y,
                                     Py_ssize_t y_step, double *out, Py_ssize_t out_step,
                                     Py_ssize_t n, Py_ssize_t width, int log) noexcept nogil

cdef inline const csm_loss_table *loss_kernels() noexcept nogil:
    """This family's view of the kernel table in use (_core.kernels)."""
    return <const csm_loss_table *>kernels



cdef inline void *_data_or_null(object array):
    return NULL if array is None else cnp.PyArray_DATA(<cnp.ndarray>array)


cdef inline bint _is_float32(cnp.ndarray x):
    return x.dtype.num == cnp.NPY_FLOAT


cdef csm_ce_params _ce_params(long long ignore_index, double smoothing, double weight_sum,
                              double grad_scale, bint focal, double gamma, double alpha):
    cdef csm_ce_params params
    params.ignore_index = ignore_index
    params.smoothing = smoothing
    params.weight_sum = weight_sum
    params.grad_scale = grad_scale
    params.focal = focal
    params.gamma = gamma
    params.alpha = alpha
    return params


# ---------------------------------------------------------------- softmax losses (row kernels)

cdef void _ce_row_run(const real *x, const int64_t *labels, const real *weight, Py_ssize_t rows,
                      Py_ssize_t n, const csm_ce_params *params, double *loss, real *grad,
                      int row_threads) noexcept nogil:
    """A run of cross_entropy_rows rows (x and grad at the run's first row), as
    _norm_row_run."""
    cdef Py_ssize_t r
    if n < CSM_HUGE_ROW:
        if real is float:
            loss_kernels().ce_rows_f32(x, n, labels, weight, rows, n, params, loss, grad, n)
        else:
            loss_kernels().ce_rows_f64(x, n, labels, weight, rows, n, params, loss, grad, n)
        return
    for r in range(rows):
        if real is float:
            loss_kernels().ce_huge_row_f32(x + r * n, labels[r], weight, n, params, loss + r,
                                         grad + r * n if grad else NULL, row_threads)
        else:
            loss_kernels().ce_huge_row_f64(x + r * n, labels[r], weight, n, params, loss + r,
                                         grad + r * n if grad else NULL, row_threads)


cdef void _ce_rows(const real *x, const int64_t *labels, const real *weight, Py_ssize_t rows,
                   Py_ssize_t n, const csm_ce_params *params, double *loss, real *grad,
                   int num_threads) noexcept nogil:
    """cross_entropy_rows' rows over the threads as _norm_rows."""
    cdef int threads = _threads_for(rows, num_threads)
    cdef Py_ssize_t t, lo, hi
    if _split_each_row(rows, n, num_threads):
        _ce_row_run(x, labels, weight, rows, n, params, loss, grad, num_threads)
        return
    for t in prange(threads, num_threads=threads, schedule='static'):
        lo = _thread_start(rows, t, threads)
        hi = _thread_start(rows, t + 1, threads)
        _ce_row_run(x + lo * n, labels + lo, weight, hi - lo, n, params, loss + lo,
                    grad + lo * n if grad else NULL, 1)


def cross_entropy_rows(cnp.ndarray x, cnp.ndarray labels, object class_weight,
                       cnp.ndarray loss, object grad, long long ignore_index, double smoothing,
                       double weight_sum, double grad_scale, bint focal, double gamma,
                       double alpha, int num_threads):
    """Per-row cross-entropy (or softmax focal loss) of C-contiguous 2-D logits x
    (float32/float64) with int64 labels (rows,), into float64 loss (rows,) and,
    if grad is not None, the gradient (x's shape and dtype, C-contiguous).
    class_weight: None or (n,) of x's dtype (the per-class alpha when focal).
    Rows over the threads as in _norm_rows."""
    cdef Py_ssize_t rows = x.shape[0], n = x.shape[1]
    cdef csm_ce_params params = _ce_params(ignore_index, smoothing, weight_sum, grad_scale, focal,
                                           gamma, alpha)
    cdef const int64_t *lp = <const int64_t *>cnp.PyArray_DATA(labels)
    cdef double *loss_p = <double *>cnp.PyArray_DATA(loss)
    cdef void *xp = cnp.PyArray_DATA(x)
    cdef void *wp = _data_or_null(class_weight)
    cdef void *gp = _data_or_null(grad)
    if rows == 0 or n == 0:
        return
    if _is_float32(x):
        with nogil:
            _ce_rows(<const float *>xp, lp, <const float *>wp, rows, n, &params, loss_p,
                     <float *>gp, num_threads)
    else:
        with nogil:
            _ce_rows(<const double *>xp, lp, <const double *>wp, rows, n, &params, loss_p,
                     <double *>gp, num_threads)


def cross_entropy_cols(const real[:, :, :] x, const int64_t[:, ::1] labels,
                       object class_weight, double[:, ::1] loss, real[:, :, ::1] grad,
                       long long ignore_index, double smoothing, double weight_sum,
                       double grad_scale, bint focal, double gamma, double alpha,
                       int num_threads):
    """cross_entropy_rows over axis 1 of x (outer, C, inner), inner contiguous
    (strides[2] the item size): labels and loss (outer, inner), the gradient
    (x's shape, C-contiguous) or None. Columns go in blocks of COLUMN_BLOCK,
    the blocks over the threads."""
    cdef Py_ssize_t outer = x.shape[0], n = x.shape[1], inner = x.shape[2]
    cdef csm_ce_params params = _ce_params(ignore_index, smoothing, weight_sum, grad_scale, focal,
                                           gamma, alpha)
    cdef Py_ssize_t item = sizeof(real)
    cdef Py_ssize_t xs0 = x.strides[0] // item, xs1 = x.strides[1] // item
    cdef const real *wp = <const real *>_data_or_null(class_weight)
    cdef real *gp = NULL
    cdef const real *xp
    cdef Py_ssize_t task, o, c, blocks, tasks
    cdef int threads
    if outer == 0 or n == 0 or inner == 0:
        return
    xp = &x[0, 0, 0]
    if grad is not None:
        gp = &grad[0, 0, 0]
    blocks = (inner + COLUMN_BLOCK - 1) // COLUMN_BLOCK
    tasks = outer * blocks
    threads = _threads_for(tasks, num_threads)
    with nogil:
        for task in prange(tasks, num_threads=threads, schedule='static'):
            o = task // blocks
            c = (task % blocks) * COLUMN_BLOCK
            if real is float:
                loss_kernels().ce_cols_f32(
                    xp + o * xs0 + c, xs1, &labels[o, c], wp, min(COLUMN_BLOCK, inner - c), n,
                    &params, &loss[o, c], gp + (o * n * inner + c) if gp else NULL, inner)
            else:
                loss_kernels().ce_cols_f64(
                    xp + o * xs0 + c, xs1, &labels[o, c], wp, min(COLUMN_BLOCK, inner - c), n,
                    &params, &loss[o, c], gp + (o * n * inner + c) if gp else NULL, inner)


cdef void _ce_prob_row_run(const real *x, const real *target, const real *weight,
                           Py_ssize_t rows, Py_ssize_t n, double smoothing, double grad_scale,
                           double *loss, real *grad, int row_threads) noexcept nogil:
    """A run of cross_entropy_prob_rows rows, as _ce_row_run."""
    cdef Py_ssize_t r
    if n < CSM_HUGE_ROW:
        if real is float:
            loss_kernels().ce_prob_rows_f32(x, n, target, n, weight, rows, n, smoothing,
                                          grad_scale, loss, grad, n)
        else:
            loss_kernels().ce_prob_rows_f64(x, n, target, n, weight, rows, n, smoothing,
                                          grad_scale, loss, grad, n)
        return
    for r in range(rows):
        if real is float:
            loss_kernels().ce_prob_huge_row_f32(x + r * n, target + r * n, weight, n, smoothing,
                                              grad_scale, loss + r,
                                              grad + r * n if grad else NULL, row_threads)
        else:
            loss_kernels().ce_prob_huge_row_f64(x + r * n, target + r * n, weight, n, smoothing,
                                              grad_scale, loss + r,
                                              grad + r * n if grad else NULL, row_threads)


cdef void _ce_prob_rows(const real *x, const real *target, const real *weight, Py_ssize_t rows,
                        Py_ssize_t n, double smoothing, double grad_scale, double *loss,
                        real *grad, int num_threads) noexcept nogil:
    """cross_entropy_prob_rows' rows over the threads as _norm_rows."""
    cdef int threads = _threads_for(rows, num_threads)
    cdef Py_ssize_t t, lo, hi
    if _split_each_row(rows, n, num_threads):
        _ce_prob_row_run(x, target, weight, rows, n, smoothing, grad_scale, loss, grad,
                         num_threads)
        return
    for t in prange(threads, num_threads=threads, schedule='static'):
        lo = _thread_start(rows, t, threads)
        hi = _thread_start(rows, t + 1, threads)
        _ce_prob_row_run(x + lo * n, target + lo * n, weight, hi - lo, n, smoothing, grad_scale,
                         loss + lo, grad + lo * n if grad else NULL, 1)


def cross_entropy_prob_rows(cnp.ndarray x, cnp.ndarray target, object class_weight,
                            cnp.ndarray loss, object grad, double smoothing, double grad_scale,
                            int num_threads):
    """Per-row cross-entropy of C-contiguous 2-D logits x with class-probability
    targets (same shape and dtype, C-contiguous) into float64 loss (rows,) and,
    if grad is not None, the gradient. Rows over the threads as in _norm_rows."""
    cdef Py_ssize_t rows = x.shape[0], n = x.shape[1]
    cdef double *loss_p = <double *>cnp.PyArray_DATA(loss)
    cdef void *xp = cnp.PyArray_DATA(x)
    cdef void *tp = cnp.PyArray_DATA(target)
    cdef void *wp = _data_or_null(class_weight)
    cdef void *gp = _data_or_null(grad)
    if rows == 0 or n == 0:
        return
    if _is_float32(x):
        with nogil:
            _ce_prob_rows(<const float *>xp, <const float *>tp, <const float *>wp, rows, n,
                          smoothing, grad_scale, loss_p, <float *>gp, num_threads)
    else:
        with nogil:
            _ce_prob_rows(<const double *>xp, <const double *>tp, <const double *>wp, rows, n,
                          smoothing, grad_scale, loss_p, <double *>gp, num_threads)


def cross_entropy_prob_cols(const real[:, :, :] x, const real[:, :, :] target,
                            object class_weight, double[:, ::1] loss, real[:, :, ::1] grad,
                            double smoothing, double grad_scale, int num_threads):
    """cross_entropy_prob_rows over axis 1 of x (outer, C, inner) with the
    target of x's shape, both inner contiguous, as cross_entropy_cols."""
    cdef Py_ssize_t outer = x.shape[0], n = x.shape[1], inner = x.shape[2]
    cdef Py_ssize_t item = sizeof(real)
    cdef Py_ssize_t xs0 = x.strides[0] // item, xs1 = x.strides[1] // item
    cdef Py_ssize_t ts0 = target.strides[0] // item, ts1 = target.strides[1] // item
    cdef const real *wp = <const real *>_data_or_null(class_weight)
    cdef real *gp = NULL
    cdef const real *xp
    cdef const real *tp
    cdef Py_ssize_t task, o, c, blocks, tasks
    cdef int threads
    if outer == 0 or n == 0 or inner == 0:
        return
    xp = &x[0, 0, 0]
    tp = &target[0, 0, 0]
    if grad is not None:
        gp = &grad[0, 0, 0]
    blocks = (inner + COLUMN_BLOCK - 1) // COLUMN_BLOCK
    tasks = outer * blocks
    threads = _threads_for(tasks, num_threads)
    with nogil:
        for task in prange(tasks, num_threads=threads, schedule='static'):
            o = task // blocks
            c = (task % blocks) * COLUMN_BLOCK
            if real is float:
                loss_kernels().ce_prob_cols_f32(
                    xp + o * xs0 + c, xs1, tp + o * ts0 + c, ts1, wp,
                    min(COLUMN_BLOCK, inner - c), n, smoothing, grad_scale, &loss[o, c],
                    gp + (o * n * inner + c) if gp else NULL, inner)
            else:
                loss_kernels().ce_prob_cols_f64(
                    xp + o * xs0 + c, xs1, tp + o * ts0 + c, ts1, wp,
                    min(COLUMN_BLOCK, inner - c), n, smoothing, grad_scale, &loss[o, c],
                    gp + (o * n * inner + c) if gp else NULL, inner)


cdef void _entropy_rows(const real *x, Py_ssize_t rows, Py_ssize_t n, double *result,
                        int num_threads) noexcept nogil:
    cdef int threads = _threads_for(rows, num_threads)
    cdef Py_ssize_t t, lo, hi
    for t in prange(threads, num_threads=threads, schedule='static'):
        lo = _thread_start(rows, t, threads)
        hi = _thread_start(rows, t + 1, threads)
        if real is float:
            loss_kernels().entropy_rows_f32(x + lo * n, n, hi - lo, n, result + lo)
        else:
            loss_kernels().entropy_rows_f64(x + lo * n, n, hi - lo, n, result + lo)


def entropy_rows(cnp.ndarray x, cnp.ndarray result, int num_threads):
    """Entropy of the softmax of each row of C-contiguous 2-D x into float64 result."""
    cdef Py_ssize_t rows = x.shape[0], n = x.shape[1]
    cdef double *rp = <double *>cnp.PyArray_DATA(result)
    cdef void *xp = cnp.PyArray_DATA(x)
    if rows == 0 or n == 0:
        return
    if _is_float32(x):
        with nogil:
            _entropy_rows(<const float *>xp, rows, n, rp, num_threads)
    else:
        with nogil:
            _entropy_rows(<const double *>xp, rows, n, rp, num_threads)


# ---------------------------------------------------------------- element-wise losses

ELEM_BCE = CSM_BCE
ELEM_SIGMOID_FOCAL = CSM_SIGMOID_FOCAL
ELEM_KL = CSM_KL
ELEM_KL_LOG = CSM_KL_LOG
ELEM_CHUNK = CSM_ELEM_CHUNK


cdef inline void _set_operand(csm_operand *o, object array, Py_ssize_t row_step,
                              Py_ssize_t col_step):
    o.data = _data_or_null(array)
    o.row_step = row_step
    o.col_step = col_step


cdef inline double _elem_chunk(const real *x, const real *t, Py_ssize_t c, Py_ssize_t size,
                               const csm_elem_params *params, real *loss,
                               real *grad) noexcept nogil:
    """The loss sum of chunk c (elements c ELEM_CHUNK up to size)."""
    cdef Py_ssize_t lo = c * CSM_ELEM_CHUNK
    cdef Py_ssize_t hi = lo + CSM_ELEM_CHUNK if lo + CSM_ELEM_CHUNK < size else size
    if real is float:
        return loss_kernels().elem_loss_f32(x, t, lo, hi, params, loss, grad)
    else:
        return loss_kernels().elem_loss_f64(x, t, lo, hi, params, loss, grad)


cdef void _elem_chunks(const real *x, const real *t, Py_ssize_t size,
                       const csm_elem_params *params, real *loss, real *grad, double *partial,
                       int threads) noexcept nogil:
    """Every chunk's sum into partial[c], the chunks in contiguous ranges over
    the threads."""
    cdef Py_ssize_t chunks = (size + CSM_ELEM_CHUNK - 1) // CSM_ELEM_CHUNK
    cdef Py_ssize_t k, c
    if threads == 1:
        for c in range(chunks):
            partial[c] = _elem_chunk(x, t, c, size, params, loss, grad)
        return
    for k in prange(threads, num_threads=threads, schedule='static'):
        for c in range(_thread_start(chunks, k, threads), _thread_start(chunks, k + 1, threads)):
            partial[c] = _elem_chunk(x, t, c, size, params, loss, grad)


def elementwise_loss(int kind, cnp.ndarray x, cnp.ndarray target, Py_ssize_t n,
                     object weight, Py_ssize_t w_row_step, Py_ssize_t w_col_step,
                     object pos_weight, Py_ssize_t pw_row_step, Py_ssize_t pw_col_step,
                     double gamma, double alpha, double grad_scale, object loss, object grad,
                     int num_threads):
    """An element-wise loss (ELEM_BCE, ELEM_SIGMOID_FOCAL, ELEM_KL, ELEM_KL_LOG) of
    C-contiguous x and target (same size and dtype), seen as a (size / n, n)
    grid. Returns the float64 sum of the losses, in chunks of ELEM_CHUNK elements
    summed in order (the same for any thread count); writes the losses into
    `loss` and the gradient times grad_scale into `grad` (C-contiguous, x's dtype)
    unless they are None. BCE's weight and pos_weight (x's dtype, or None) hold
    grid entry (r, j) at element r row_step + j col_step, col_step 0 or 1."""
    cdef Py_ssize_t size = x.size
    cdef Py_ssize_t chunks = (size + CSM_ELEM_CHUNK - 1) // CSM_ELEM_CHUNK
    cdef csm_elem_params params
    cdef void *xp = cnp.PyArray_DATA(x)
    cdef void *tp = cnp.PyArray_DATA(target)
    cdef void *lp = _data_or_null(loss)
    cdef void *gp = _data_or_null(grad)
    cdef int threads = _threads_for(chunks, num_threads)
    cdef Py_ssize_t c
    cdef double *partial
    cdef double total = 0
    params.kind = kind
    params.n = n if n > 0 else 1
    _set_operand(&params.weight, weight, w_row_step, w_col_step)
    _set_operand(&params.pos_weight, pos_weight, pw_row_step, pw_col_step)
    params.gamma = gamma
    params.alpha = alpha
    params.grad_scale = grad_scale
    if size == 0:
        return 0.0
    partial = <double *>malloc(chunks * sizeof(double))
    if partial == NULL:
        raise MemoryError()
    cdef bint single = _is_float32(x)
    with nogil:
        if single:
            _elem_chunks(<const float *>xp, <const float *>tp, size, &params, <float *>lp,
                         <float *>gp, partial, threads)
        else:
            _elem_chunks(<const double *>xp, <const double *>tp, size, &params, <double *>lp,
                         <double *>gp, partial, threads)
        for c in range(chunks):
            total += partial[c]
    free(partial)
    return total


cdef void _logistic(const real *x, real *y, Py_ssize_t size, bint log,
                    int threads) noexcept nogil:
    cdef Py_ssize_t t, lo, hi
    for t in prange(threads, num_threads=threads, schedule='static'):
        lo = _thread_start(size, t, threads)
        hi = _thread_start(size, t + 1, threads)
        if real is float:
            loss_kernels().logistic_rows_f32(x + lo, y + lo, hi - lo, log)
        else:
            loss_kernels().logistic_rows_f64(x + lo, y + lo, hi - lo, log)


def logistic(cnp.ndarray x, cnp.ndarray y, bint log, int num_threads):
    """sigmoid (log=False) or log_sigmoid (log=True) of C-contiguous x into
    C-contiguous y (same size and dtype; may be x). Every element is computed
    alone, so any split over threads gives the same bits."""
    cdef Py_ssize_t size = x.size
    cdef void *xp = cnp.PyArray_DATA(x)
    cdef void *yp = cnp.PyArray_DATA(y)
    cdef int threads = _threads_for((size + CSM_ELEM_CHUNK - 1) // CSM_ELEM_CHUNK, num_threads)
    if size == 0:
        return
    if _is_float32(x):
        with nogil:
            _logistic(<const float *>xp, <float *>yp, size, log, threads)
    else:
        with nogil:
            _logistic(<const double *>xp, <double *>yp, size, log, threads)


# ---------------------------------------------------------------- NLL

cdef void _nll_chunks(const real *x, Py_ssize_t s0, Py_ssize_t s1, Py_ssize_t s2, Py_ssize_t C,
                      Py_ssize_t inner, const int64_t *labels, const double *w,
                      int64_t ignore_index, Py_ssize_t rows, double grad_scale, double *loss,
                      real *grad, double *partial, int threads) noexcept nogil:
    """The kept weight of every chunk of ELEM_CHUNK rows into partial[c], the
    chunks in contiguous ranges over the threads."""
    cdef Py_ssize_t chunks = (rows + CSM_ELEM_CHUNK - 1) // CSM_ELEM_CHUNK
    cdef Py_ssize_t t, c, lo, hi
    for t in prange(threads, num_threads=threads, schedule='static'):
        for c in range(_thread_start(chunks, t, threads), _thread_start(chunks, t + 1, threads)):
            lo = c * CSM_ELEM_CHUNK
            hi = lo + CSM_ELEM_CHUNK if lo + CSM_ELEM_CHUNK < rows else rows
            if real is float:
                partial[c] = loss_kernels().nll_rows_f32(x, s0, s1, s2, C, inner, labels, w,
                                                       ignore_index, lo, hi, grad_scale, loss,
                                                       grad)
            else:
                partial[c] = loss_kernels().nll_rows_f64(x, s0, s1, s2, C, inner, labels, w,
                                                       ignore_index, lo, hi, grad_scale, loss,
                                                       grad)


def nll_rows(cnp.ndarray x, cnp.ndarray labels, object class_weight, long long ignore_index,
             object loss, object grad, double grad_scale, int num_threads):
    """NLL of the rows of x, an (outer, C, inner) float32/float64 array (any
    aligned element strides), with int64 labels (outer * inner, validated) and
    float64 class weights (C,) or None. Writes float64 per-row losses into `loss`
    and -w_y grad_scale into the zeroed C-contiguous gradient `grad` (x's shape
    and dtype) unless they are None. Returns the sum of the weights of the
    non-ignored rows, in fixed chunks summed in order."""
    cdef Py_ssize_t outer = x.shape[0], C = x.shape[1], inner = x.shape[2]
    cdef Py_ssize_t item = x.itemsize
    cdef Py_ssize_t s0 = x.strides[0] // item, s1 = x.strides[1] // item, s2 = x.strides[2] // item
    cdef Py_ssize_t rows = outer * inner
    cdef Py_ssize_t chunks = (rows + CSM_ELEM_CHUNK - 1) // CSM_ELEM_CHUNK
    cdef const int64_t *lp = <const int64_t *>cnp.PyArray_DATA(labels)
    cdef const double *wp = <const double *>_data_or_null(class_weight)
    cdef double *loss_p = <double *>_data_or_null(loss)
    cdef void *xp = cnp.PyArray_DATA(x)
    cdef void *gp = _data_or_null(grad)
    cdef int threads = _threads_for(chunks, num_threads)
    cdef Py_ssize_t c
    cdef double *partial
    cdef double total = 0
    if rows == 0:
        return 0.0
    partial = <double *>malloc(chunks * sizeof(double))
    if partial == NULL:
        raise MemoryError()
    cdef bint single = _is_float32(x)
    with nogil:
        if single:
            _nll_chunks(<const float *>xp, s0, s1, s2, C, inner, lp, wp, ignore_index, rows,
                        grad_scale, loss_p, <float *>gp, partial, threads)
        else:
            _nll_chunks(<const double *>xp, s0, s1, s2, C, inner, lp, wp, ignore_index, rows,
                        grad_scale, loss_p, <double *>gp, partial, threads)
        for c in range(chunks):
            total += partial[c]
    free(partial)
    return total


# ---------------------------------------------------------------- softmax / log_softmax backward

cdef void _softmax_backward(const real *g, Py_ssize_t g0, Py_ssize_t g1, const real *y,
                            Py_ssize_t y0, Py_ssize_t y1, real *out, Py_ssize_t o0,
                            Py_ssize_t o1, Py_ssize_t outer, Py_ssize_t n, Py_ssize_t inner,
                            bint log, int num_threads) noexcept nogil:
    """softmax_backward's slices over the threads: whole rows where axis 1 is
    contiguous and inner is 1, else blocks of CSM_BWD_COLS columns."""
    cdef bint rows_mode = inner == 1 and g1 == 1 and y1 == 1 and o1 == 1
    cdef Py_ssize_t blocks = (inner + CSM_BWD_COLS - 1) // CSM_BWD_COLS
    cdef Py_ssize_t tasks = outer if rows_mode else outer * blocks
    cdef int threads = _threads_for(tasks, num_threads)
    cdef Py_ssize_t t, lo, hi, task, o, b, width
    for t in prange(threads, num_threads=threads, schedule='static'):
        lo = _thread_start(tasks, t, threads)
        hi = _thread_start(tasks, t + 1, threads)
        if rows_mode:
            if real is float:
                loss_kernels().softmax_bwd_rows_f32(g + lo * g0, g0, y + lo * y0, y0,
                                                  out + lo * o0, o0, hi - lo, n, log)
            else:
                loss_kernels().softmax_bwd_rows_f64(g + lo * g0, g0, y + lo * y0, y0,
                                                  out + lo * o0, o0, hi - lo, n, log)
        else:
            for task in range(lo, hi):
                o = task // blocks
                b = (task - o * blocks) * CSM_BWD_COLS
                width = inner - b if inner - b < CSM_BWD_COLS else CSM_BWD_COLS
                if real is float:
                    loss_kernels().softmax_bwd_cols_f32(g + o * g0 + b, g1, y + o * y0 + b, y1,
                                                      out + o * o0 + b, o1, n, width, log)
                else:
                    loss_kernels().softmax_bwd_cols_f64(g + o * g0 + b, g1, y + o * y0 + b, y1,
                                                      out + o * o0 + b, o1, n, width, log)


def softmax_backward(cnp.ndarray g, cnp.ndarray y, cnp.ndarray out, bint log, int num_threads):
    """Softmax (log=False) or log_softmax (log=True) backward over axis 1 of
    (outer, n, inner) views g, y, out of one dtype (aligned, element strides,
    axis 2 contiguous unless of length 1). out may be g or y itself. Each slice
    is computed alone, so the split over threads does not change any bit."""
    cdef Py_ssize_t outer = g.shape[0], n = g.shape[1], inner = g.shape[2]
    cdef Py_ssize_t item = g.itemsize
    cdef Py_ssize_t g0 = g.strides[0] // item, g1 = g.strides[1] // item
    cdef Py_ssize_t y0 = y.strides[0] // item, y1 = y.strides[1] // item
    cdef Py_ssize_t o0 = out.strides[0] // item, o1 = out.strides[1] // item
    cdef void *gp = cnp.PyArray_DATA(g)
    cdef void *yp = cnp.PyArray_DATA(y)
    cdef void *op = cnp.PyArray_DATA(out)
    if outer == 0 or n == 0 or inner == 0:
        return
    if _is_float32(g):
        with nogil:
            _softmax_backward(<const float *>gp, g0, g1, <const float *>yp, y0, y1,
                              <float *>op, o0, o1, outer, n, inner, log, num_threads)
    else:
        with nogil:
            _softmax_backward(<const double *>gp, g0, g1, <const double *>yp, y0, y1,
                              <double *>op, o0, o1, outer, n, inner, log, num_threads)
