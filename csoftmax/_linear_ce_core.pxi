# Compiled helpers of the fused linear cross-entropy and of cross_entropy's
# softcap= and z_loss= (included into _core.pyx). They work on one tile of
# logits (rows, n), C-contiguous, in place, while it is in cache: the products
# around them are BLAS calls, the loss comes from the cross-entropy row kernels
# (_loss_core.pxi) and the fused loss's gradient from lce_grad_rows
# (src/linear_ce_impl.h). Rows go to threads in contiguous ranges and each row
# is computed alone, so results do not depend on the thread count.

from libc.math cimport exp as c_exp, tanh as c_tanh


def softcap_rows(real[:, ::1] x, double cap, int num_threads):
    """x = cap * tanh(x / cap), in place (Gemma 2's logit soft-capping)."""
    cdef Py_ssize_t rows = x.shape[0], n = x.shape[1], r, j
    cdef int threads = _threads_for(rows, num_threads)
    if rows == 0 or n == 0:
        return
    with nogil:
        for r in prange(rows, num_threads=threads, schedule='static'):
            for j in range(n):
                x[r, j] = <real>(cap * c_tanh(<double>x[r, j] / cap))


def zloss_softcap_rows(const real[:, ::1] x, object grad, object labels,
                       long long ignore_index, object lse, double[::1] loss, double z_loss,
                       double cap, double grad_scale, int num_threads):
    """Adds the z-loss and the soft-capping's chain rule to rows whose
    cross-entropy the row kernel has computed.

    x: the (soft-capped) logits; lse: their log-sum-exp per row (x's dtype,
    None when z_loss is 0); labels: int64 per row (None: every row counts),
    rows labelled ignore_index are left alone. Each counted row gets
    z_loss * lse**2 added to loss[r] and, where grad is not None (the
    cross-entropy's gradient w.r.t. x, times grad_scale),
    grad_scale * 2 z_loss lse softmax(x) added to it; then, with cap > 0, the
    gradient is taken through the cap: times 1 - (x / cap)**2."""
    cdef Py_ssize_t rows = x.shape[0], n = x.shape[1], r, j
    cdef int threads = _threads_for(rows, num_threads)
    cdef const int64_t[::1] y
    cdef const real[::1] row_lse
    cdef real[:, ::1] g
    cdef bint counted_all = labels is None, with_z = z_loss != 0, with_grad = grad is not None
    cdef double k, s, t
    if rows == 0:
        return
    if not counted_all:
        y = labels
    if with_z:
        row_lse = lse
    if with_grad:
        g = grad
    with nogil:
        for r in prange(rows, num_threads=threads, schedule='static'):
            if not counted_all and y[r] == ignore_index:
                continue
            s = 0
            k = 0
            if with_z:
                s = row_lse[r]
                loss[r] += z_loss * s * s
                k = grad_scale * 2 * z_loss * s
            if not with_grad:
                continue
            for j in range(n):
                t = g[r, j]
                if with_z:
                    t = t + k * c_exp(<double>x[r, j] - s)
                if cap > 0:
                    t = t * (1 - (<double>x[r, j] / cap) * (<double>x[r, j] / cap))
                g[r, j] = <real>t


cdef extern from "kernel_list.h" nogil:
    ctypedef struct csm_lce_params:
        int64_t ignore_index
        double smoothing
        double vocabulary
        double z_loss
        double cap
        double grad_scale
    # this family's members of the one kernel table (src/kernel_list.h)
    ctypedef struct csm_lce_table "csm_kernel_table":
        void (*lce_grad_rows_f32)(float *x, Py_ssize_t row_step, Py_ssize_t rows, Py_ssize_t n,
                                  const float *lse, const int64_t *labels, Py_ssize_t first_class,
                                  const csm_lce_params *params) noexcept nogil
        void (*lce_grad_rows_f64)(double *x, Py_ssize_t row_step, Py_ssize_t rows,
                                  Py_ssize_t n, const double *lse, const int64_t *labels,
                                  Py_ssize_t first_class, const csm_lce_params *params) noexcept nogil


cdef inline const csm_lce_table *lce_kernels() noexcept nogil:
    """This family's view of the kernel table in use (_core.kernels)."""
    return <const csm_lce_table *>kernels


def linear_ce_grad(real[:, ::1] x, const real[::1] lse, const int64_t[::1] labels,
                   Py_ssize_t first_class, long long ignore_index, double smoothing,
                   Py_ssize_t vocabulary, double z_loss, double cap, double grad_scale,
                   int num_threads):
    """In place: the (soft-capped) logits x of classes first_class ..
    first_class + n - 1 of every row become the gradient of the reduced loss
    w.r.t. the uncapped logits, given each row's log-sum-exp over the whole
    vocabulary (src/linear_ce_impl.h). cap 0: none."""
    cdef Py_ssize_t rows = x.shape[0], n = x.shape[1], lo, hi
    cdef int threads = _threads_for(rows, num_threads), t
    cdef csm_lce_params params
    params.ignore_index = ignore_index
    params.smoothing = smoothing
    params.vocabulary = vocabulary
    params.z_loss = z_loss
    params.cap = cap
    params.grad_scale = grad_scale
    if rows == 0 or n == 0:
        return
    with nogil:
        for t in prange(threads, num_threads=threads, schedule='static'):
            lo = _thread_start(rows, t, threads)
            hi = _thread_start(rows, t + 1, threads)
            if hi == lo:
                continue
            if real is float:
                lce_kernels().lce_grad_rows_f32(&x[lo, 0], n, hi - lo, n, &lse[lo],
                                                &labels[lo], first_class, &params)
            else:
                lce_kernels().lce_grad_rows_f64(&x[lo, 0], n, hi - lo, n, &lse[lo],
                                                &labels[lo], first_class, &params)
