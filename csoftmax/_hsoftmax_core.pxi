# Compiled core of csoftmax.vocab.HierarchicalSoftmax (src/hsoftmax.h): included
# into _core.pyx. Python has validated and laid out every array (C-contiguous,
# one float dtype, int64 indices); this layer splits the work into contiguous
# ranges, one per thread, without the GIL. Every output element belongs to one
# range, so results are bitwise identical for any thread count.

from libc.stdint cimport int8_t

cdef extern from "hsoftmax.h" nogil:
    void csm_hs_paths_f32(const float *hidden, Py_ssize_t dim, const float *node_weight,
                          const float *node_bias, const int64_t *entry_offsets,
                          const int64_t *entry_nodes, const int8_t *entry_signs, Py_ssize_t lo,
                          Py_ssize_t hi, double grad_scale, double *log_prob, float *coef,
                          float *d_hidden)
    void csm_hs_paths_f64(const double *hidden, Py_ssize_t dim, const double *node_weight,
                          const double *node_bias, const int64_t *entry_offsets,
                          const int64_t *entry_nodes, const int8_t *entry_signs, Py_ssize_t lo,
                          Py_ssize_t hi, double grad_scale, double *log_prob, double *coef,
                          double *d_hidden)
    void csm_hs_accumulate_f32(const float *hidden, Py_ssize_t dim, const int64_t *order,
                               const int64_t *entry_rows, const float *coef,
                               const int64_t *run_starts, const int64_t *run_nodes, Py_ssize_t lo,
                               Py_ssize_t hi, float *d_weight, float *d_bias)
    void csm_hs_accumulate_f64(const double *hidden, Py_ssize_t dim, const int64_t *order,
                               const int64_t *entry_rows, const double *coef,
                               const int64_t *run_starts, const int64_t *run_nodes, Py_ssize_t lo,
                               Py_ssize_t hi, double *d_weight, double *d_bias)
    void csm_hs_log_proba_f32(const float *scores, Py_ssize_t n_nodes, const int64_t *children,
                              Py_ssize_t lo, Py_ssize_t hi, double *node_log_prob, float *out)
    void csm_hs_log_proba_f64(const double *scores, Py_ssize_t n_nodes, const int64_t *children,
                              Py_ssize_t lo, Py_ssize_t hi, double *node_log_prob, double *out)


def hs_paths(cnp.ndarray hidden, cnp.ndarray node_weight, cnp.ndarray node_bias,
             cnp.ndarray entry_offsets, cnp.ndarray entry_nodes, cnp.ndarray entry_signs,
             cnp.ndarray log_prob, object coef, object d_hidden, double grad_scale,
             int num_threads):
    """Per-example log p(target) along the target's path into float64 log_prob
    (B,); with coef (entries,) the scaled derivatives w.r.t. each entry's score,
    with d_hidden (B, dim) the gradient w.r.t. hidden. hidden (B, dim),
    node_weight (nodes, dim), node_bias (nodes,), coef and d_hidden share one
    float dtype; entry_offsets (B + 1,) and entry_nodes int64, entry_signs int8."""
    cdef Py_ssize_t rows = hidden.shape[0], dim = hidden.shape[1]
    cdef void *hp = cnp.PyArray_DATA(hidden)
    cdef void *wp = cnp.PyArray_DATA(node_weight)
    cdef void *bp = cnp.PyArray_DATA(node_bias)
    cdef const int64_t *op = <const int64_t *>cnp.PyArray_DATA(entry_offsets)
    cdef const int64_t *np_ = <const int64_t *>cnp.PyArray_DATA(entry_nodes)
    cdef const int8_t *sp = <const int8_t *>cnp.PyArray_DATA(entry_signs)
    cdef double *lp = <double *>cnp.PyArray_DATA(log_prob)
    cdef void *cp = _data_or_null(coef)
    cdef void *gp = _data_or_null(d_hidden)
    cdef bint single = hidden.dtype.num == cnp.NPY_FLOAT
    cdef int threads = _threads_for(rows, num_threads)
    cdef Py_ssize_t t, lo, hi
    if rows == 0:
        return
    with nogil:
        for t in prange(threads, num_threads=threads, schedule='static'):
            lo = _thread_start(rows, t, threads)
            hi = _thread_start(rows, t + 1, threads)
            if single:
                csm_hs_paths_f32(<const float *>hp, dim, <const float *>wp, <const float *>bp,
                                 op, np_, sp, lo, hi, grad_scale, lp, <float *>cp, <float *>gp)
            else:
                csm_hs_paths_f64(<const double *>hp, dim, <const double *>wp, <const double *>bp,
                                 op, np_, sp, lo, hi, grad_scale, lp, <double *>cp, <double *>gp)


def hs_accumulate(cnp.ndarray hidden, cnp.ndarray order, cnp.ndarray entry_rows,
                  cnp.ndarray coef, cnp.ndarray run_starts, cnp.ndarray run_nodes,
                  cnp.ndarray d_weight, cnp.ndarray d_bias, int num_threads):
    """Adds each run's sum of coef * hidden row into d_weight[node] and sets
    d_bias[node] to its sum of coef (see csm_hs_accumulate in src/hsoftmax_impl.h);
    run_starts has one more entry than run_nodes. Threads take runs of nodes."""
    cdef Py_ssize_t runs = run_nodes.shape[0], dim = hidden.shape[1]
    cdef void *hp = cnp.PyArray_DATA(hidden)
    cdef const int64_t *orp = <const int64_t *>cnp.PyArray_DATA(order)
    cdef const int64_t *rp = <const int64_t *>cnp.PyArray_DATA(entry_rows)
    cdef void *cp = cnp.PyArray_DATA(coef)
    cdef const int64_t *stp = <const int64_t *>cnp.PyArray_DATA(run_starts)
    cdef const int64_t *nop = <const int64_t *>cnp.PyArray_DATA(run_nodes)
    cdef void *wp = cnp.PyArray_DATA(d_weight)
    cdef void *bp = cnp.PyArray_DATA(d_bias)
    cdef bint single = hidden.dtype.num == cnp.NPY_FLOAT
    cdef int threads = _threads_for(runs, num_threads)
    cdef Py_ssize_t t, lo, hi
    if runs == 0:
        return
    with nogil:
        for t in prange(threads, num_threads=threads, schedule='static'):
            lo = _thread_start(runs, t, threads)
            hi = _thread_start(runs, t + 1, threads)
            if single:
                csm_hs_accumulate_f32(<const float *>hp, dim, orp, rp, <const float *>cp, stp, nop,
                                      lo, hi, <float *>wp, <float *>bp)
            else:
                csm_hs_accumulate_f64(<const double *>hp, dim, orp, rp, <const double *>cp, stp,
                                      nop, lo, hi, <double *>wp, <double *>bp)


def hs_log_proba(cnp.ndarray scores, cnp.ndarray children, cnp.ndarray out,
                 cnp.ndarray scratch, int num_threads):
    """Log-probabilities of every class (out (B, nodes + 1)) from the node scores
    (B, nodes) and the tree's children (nodes, 2) int64; see csm_hs_log_proba.
    scratch: float64 (num_threads, max(nodes, 1)), a row of node
    log-probabilities for each thread (the kernels never allocate)."""
    cdef Py_ssize_t rows = scores.shape[0], n_nodes = scores.shape[1]
    cdef void *sp = cnp.PyArray_DATA(scores)
    cdef const int64_t *cp = <const int64_t *>cnp.PyArray_DATA(children)
    cdef void *outp = cnp.PyArray_DATA(out)
    cdef bint single = scores.dtype.num == cnp.NPY_FLOAT
    cdef int threads = _threads_for(rows, num_threads)
    cdef Py_ssize_t t, lo, hi
    cdef double *scratch_p = <double *>cnp.PyArray_DATA(scratch)
    cdef Py_ssize_t scratch_step = scratch.shape[1]
    if rows == 0:
        return
    with nogil:
        for t in prange(threads, num_threads=threads, schedule='static'):
            lo = _thread_start(rows, t, threads)
            hi = _thread_start(rows, t + 1, threads)
            if single:
                csm_hs_log_proba_f32(<const float *>sp, n_nodes, cp, lo, hi,
                                     scratch_p + t * scratch_step, <float *>outp)
            else:
                csm_hs_log_proba_f64(<const double *>sp, n_nodes, cp, lo, hi,
                                     scratch_p + t * scratch_step, <double *>outp)
