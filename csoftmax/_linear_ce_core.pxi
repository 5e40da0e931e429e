# Compiled helpers of the fused linear cross-entropy and of cross_entropy's
# softcap= and z_loss= (included into _core.pyx). They work on one tile of
# logits (rows, n), C-contiguous, in place, while it is in cache: the products
# around them are BLAS calls and the loss and its gradient come from the
# cross-entropy row kernels (_loss_core.pxi). Rows go to threads in contiguous
# ranges and each row is computed alone, so results do not depend on the
# thread count.

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


def vocabulary_chunk_grad(real[:, ::1] x, const real[::1] lse, const int64_t[::1] labels,
                          Py_ssize_t start, long long ignore_index, double smoothing,
                          Py_ssize_t vocabulary, double z_loss, double cap, double grad_scale,
                          int num_threads):
    """In place: the (soft-capped) logits x of vocabulary columns start ..
    start + n - 1 become the gradient of the reduced loss w.r.t. the uncapped
    logits, given every row's final log-sum-exp: grad_scale times
    (1 + 2 z_loss lse) softmax - smoothing / V - (1 - smoothing) [j == label],
    through the cap. Rows labelled ignore_index become 0."""
    cdef Py_ssize_t rows = x.shape[0], n = x.shape[1], r, j, y
    cdef int threads = _threads_for(rows, num_threads)
    cdef double a, off = grad_scale * smoothing / vocabulary, hit = grad_scale * (1 - smoothing)
    cdef double g, v, m
    if rows == 0 or n == 0:
        return
    with nogil:
        for r in prange(rows, num_threads=threads, schedule='static'):
            if labels[r] == ignore_index:
                for j in range(n):
                    x[r, j] = 0
                continue
            m = lse[r]
            a = grad_scale * (1 + 2 * z_loss * m)
            y = labels[r] - start
            for j in range(n):
                v = x[r, j]
                g = a * c_exp(v - m) - off
                if j == y:
                    g = g - hit
                if cap > 0:
                    g = g * (1 - (v / cap) * (v / cap))
                x[r, j] = <real>g
