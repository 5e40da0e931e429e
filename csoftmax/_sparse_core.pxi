# Compiled core of the sparse normalisers (src/sparse.h): included into
# _core.pyx. Python has validated and laid out every array: (outer, n, inner)
# views of one float dtype with any element strides, alpha a float64 array of
# one value per row (C order over (outer, inner)) or of one value, labels
# int64. Rows are handed out in fixed blocks, each thread with a scratch row
# of its own; a row's result depends on its values only, so results are
# bitwise identical for any thread count.

import numpy as np

from cython.parallel cimport threadid

cdef extern from "sparse.h" nogil:
    int CSM_SPARSEMAX, CSM_ENTMAX15, CSM_ENTMAX_BISECT, CSM_SPARSE_TILE_ROWS
    ctypedef struct csm_sparse_map:
        int kind
        int n_iter
        const double *alpha
        Py_ssize_t alpha_step
    ctypedef struct csm_rows:
        Py_ssize_t row_step
        Py_ssize_t col_step
    # this family's members of the one kernel table (src/kernel_list.h)
    ctypedef struct csm_sparse_table "csm_kernel_table":
        const char *name
        void (*sparse_forward_f32)(const float *x, csm_rows xs, float *y, csm_rows ys,
                                   Py_ssize_t rows, Py_ssize_t n, const csm_sparse_map *map,
                                   double *work, float *tile) noexcept nogil
        void (*sparse_backward_f32)(const float *g, csm_rows gs, const float *y, csm_rows ys,
                                    float *dx, csm_rows dxs, Py_ssize_t rows, Py_ssize_t n,
                                    const csm_sparse_map *map, double *alpha_grad,
                                    float *tile) noexcept nogil
        void (*sparse_loss_f32)(const float *x, csm_rows xs, const int64_t *labels,
                                int64_t ignore_index, Py_ssize_t rows, Py_ssize_t n,
                                const csm_sparse_map *map, double grad_scale, double *loss,
                                float *grad, csm_rows grads, double *work) noexcept nogil
        void (*sparse_forward_f64)(const double *x, csm_rows xs, double *y, csm_rows ys,
                                   Py_ssize_t rows, Py_ssize_t n, const csm_sparse_map *map,
                                   double *work, double *tile) noexcept nogil
        void (*sparse_backward_f64)(const double *g, csm_rows gs, const double *y, csm_rows ys,
                                    double *dx, csm_rows dxs, Py_ssize_t rows, Py_ssize_t n,
                                    const csm_sparse_map *map, double *alpha_grad,
                                    double *tile) noexcept nogil
        void (*sparse_loss_f64)(const double *x, csm_rows xs, const int64_t *labels,
                                int64_t ignore_index, Py_ssize_t rows, Py_ssize_t n,
                                const csm_sparse_map *map, double grad_scale, double *loss,
                                double *grad, csm_rows grads, double *work) noexcept nogil

SPARSE_KINDS = {"sparsemax": CSM_SPARSEMAX, "entmax15": CSM_ENTMAX15,
                "entmax_bisect": CSM_ENTMAX_BISECT}

# A unit of work a thread takes: rows of about this many elements in all, at
# most one tile of strided rows.
cdef Py_ssize_t SPARSE_TASK_ELEMENTS = 1 << 14
# Strided rows are gathered into tiles (src/sparse.h) up to this many elements
# per thread; longer rows are read in place.
cdef Py_ssize_t SPARSE_TILE_LIMIT = 1 << 20

cdef inline const csm_sparse_table *sparse_kernels() noexcept nogil:
    """This family's view of the kernel table in use (_core.kernels)."""
    return <const csm_sparse_table *>kernels



cdef struct _Slabs:
    # the rows of an (outer, n, inner) view: `slabs` runs of `rows` rows, handed
    # out `block` rows at a time
    Py_ssize_t slabs, rows, slab_step, row_step, col_step, block


cdef inline Py_ssize_t _row_block(Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t rows = SPARSE_TASK_ELEMENTS // n if n > 0 else 1
    return max(1, min(<Py_ssize_t>CSM_SPARSE_TILE_ROWS, rows))


cdef _Slabs _slabs_of(cnp.ndarray a):
    cdef Py_ssize_t item = a.itemsize
    cdef _Slabs s
    s.col_step = a.strides[1] // item
    s.block = _row_block(a.shape[1])
    if a.shape[2] == 1:
        s.slabs, s.rows, s.slab_step, s.row_step = 1, a.shape[0], 0, a.strides[0] // item
    else:
        s.slabs, s.rows = a.shape[0], a.shape[2]
        s.slab_step, s.row_step = a.strides[0] // item, a.strides[2] // item
    return s


cdef inline csm_rows _rows(_Slabs s) noexcept nogil:
    cdef csm_rows r
    r.row_step = s.row_step
    r.col_step = s.col_step
    return r


cdef csm_sparse_map _sparse_map(int kind, object alpha, int n_iter):
    cdef csm_sparse_map m
    m.kind = kind
    m.n_iter = n_iter
    m.alpha = NULL
    m.alpha_step = 0
    if alpha is not None:
        m.alpha = <const double *>cnp.PyArray_DATA(<cnp.ndarray>alpha)
        m.alpha_step = 0 if (<cnp.ndarray>alpha).size == 1 else 1
    return m


cdef void _forward_block(const real *x, const real *y, _Slabs xs, _Slabs ys, Py_ssize_t block,
                         Py_ssize_t blocks, Py_ssize_t n, const csm_sparse_map *map,
                         double *work, const real *tile) noexcept nogil:
    """Block `block` of the rows: a run of up to xs.block rows of one slab."""
    cdef Py_ssize_t slab = block // blocks, first = (block % blocks) * xs.block
    cdef Py_ssize_t count = min(xs.block, xs.rows - first)
    cdef csm_sparse_map local = map[0]
    if local.alpha != NULL:
        local.alpha = local.alpha + (slab * xs.rows + first) * local.alpha_step
    x = x + slab * xs.slab_step + first * xs.row_step
    y = y + slab * ys.slab_step + first * ys.row_step
    if real is float:
        sparse_kernels().sparse_forward_f32(x, _rows(xs), <float *>y, _rows(ys), count, n, &local,
                                          work, <float *>tile)
    else:
        sparse_kernels().sparse_forward_f64(x, _rows(xs), <double *>y, _rows(ys), count, n, &local,
                                          work, <double *>tile)


cdef void _run_forward(const real *xp, const real *yp, _Slabs xs, _Slabs ys, Py_ssize_t n,
                       const csm_sparse_map *m, double *wp, const real *tp,
                       int threads) noexcept nogil:
    cdef Py_ssize_t blocks = (xs.rows + xs.block - 1) // xs.block
    cdef Py_ssize_t tasks = xs.slabs * blocks, task, tile = CSM_SPARSE_TILE_ROWS * n
    if threads == 1:
        for task in range(tasks):
            _forward_block(xp, yp, xs, ys, task, blocks, n, m, wp, tp)
    else:
        for task in prange(tasks, num_threads=threads, schedule='static'):
            _forward_block(xp, yp, xs, ys, task, blocks, n, m, wp + threadid() * n,
                           tp + threadid() * tile if tp != NULL else NULL)


cdef object _tiles(_Slabs a, _Slabs b, _Slabs c, Py_ssize_t n, int threads, int per_thread,
                   object dtype):
    """Per-thread tiles for strided rows (None where rows are contiguous or too long)."""
    if a.col_step == 1 and b.col_step == 1 and c.col_step == 1:
        return None
    if per_thread * CSM_SPARSE_TILE_ROWS * n > SPARSE_TILE_LIMIT:
        return None
    return np.empty((threads, per_thread * CSM_SPARSE_TILE_ROWS * n), dtype)


cdef inline Py_ssize_t _tasks(_Slabs s):
    return s.slabs * ((s.rows + s.block - 1) // s.block)


def sparse_forward(cnp.ndarray x, cnp.ndarray y, str kind, object alpha, int n_iter,
                   int num_threads):
    """y = the sparse map `kind` of x over axis 1; x and y (outer, n, inner)
    views of one float dtype, any strides; alpha None or float64 (rows or 1)."""
    if x.size == 0:
        return
    cdef _Slabs xs = _slabs_of(x), ys = _slabs_of(y)
    cdef Py_ssize_t n = x.shape[1]
    cdef int threads = _threads_for(_tasks(xs), num_threads)
    cdef csm_sparse_map m = _sparse_map(SPARSE_KINDS[kind], alpha, n_iter)
    cdef cnp.ndarray work = np.empty((threads, n), np.float64)
    cdef double *wp = <double *>cnp.PyArray_DATA(work)
    cdef void *xp = cnp.PyArray_DATA(x)
    cdef void *yp = cnp.PyArray_DATA(y)
    tiles = _tiles(xs, ys, ys, n, threads, 1, x.dtype)
    cdef void *tp = _data_or_null(tiles)
    cdef bint single = x.dtype.num == cnp.NPY_FLOAT
    with nogil:
        if single:
            _run_forward(<const float *>xp, <const float *>yp, xs, ys, n, &m, wp,
                         <const float *>tp, threads)
        else:
            _run_forward(<const double *>xp, <const double *>yp, xs, ys, n, &m, wp,
                         <const double *>tp, threads)


cdef void _backward_block(const real *g, const real *y, const real *dx, _Slabs gs, _Slabs ys,
                          _Slabs dxs, Py_ssize_t block, Py_ssize_t blocks, Py_ssize_t n,
                          const csm_sparse_map *map, double *alpha_grad,
                          const real *tile) noexcept nogil:
    cdef Py_ssize_t slab = block // blocks, first = (block % blocks) * gs.block
    cdef Py_ssize_t count = min(gs.block, gs.rows - first)
    cdef Py_ssize_t row0 = slab * gs.rows + first
    cdef csm_sparse_map local = map[0]
    if local.alpha != NULL:
        local.alpha = local.alpha + row0 * local.alpha_step
    g = g + slab * gs.slab_step + first * gs.row_step
    y = y + slab * ys.slab_step + first * ys.row_step
    dx = dx + slab * dxs.slab_step + first * dxs.row_step
    if alpha_grad != NULL:
        alpha_grad = alpha_grad + row0
    if real is float:
        sparse_kernels().sparse_backward_f32(g, _rows(gs), y, _rows(ys), <float *>dx, _rows(dxs),
                                           count, n, &local, alpha_grad, <float *>tile)
    else:
        sparse_kernels().sparse_backward_f64(g, _rows(gs), y, _rows(ys), <double *>dx, _rows(dxs),
                                           count, n, &local, alpha_grad, <double *>tile)


cdef void _run_backward(const real *gp, const real *yp, const real *dxp, _Slabs gs, _Slabs ys,
                        _Slabs dxs, Py_ssize_t n, const csm_sparse_map *m, double *ap,
                        const real *tp, int threads) noexcept nogil:
    cdef Py_ssize_t blocks = (gs.rows + gs.block - 1) // gs.block
    cdef Py_ssize_t tasks = gs.slabs * blocks, task, tile = 3 * CSM_SPARSE_TILE_ROWS * n
    if threads == 1:
        for task in range(tasks):
            _backward_block(gp, yp, dxp, gs, ys, dxs, task, blocks, n, m, ap, tp)
    else:
        for task in prange(tasks, num_threads=threads, schedule='static'):
            _backward_block(gp, yp, dxp, gs, ys, dxs, task, blocks, n, m, ap,
                            tp + threadid() * tile if tp != NULL else NULL)


def sparse_backward(cnp.ndarray g, cnp.ndarray y, cnp.ndarray dx, str kind, object alpha,
                    object alpha_grad, int num_threads):
    """dx = the backward pass of the sparse map `kind` at output y applied to
    g, over axis 1 of (outer, n, inner) views of one float dtype; with
    alpha_grad (float64, one per row) also each row's derivative in alpha."""
    if g.size == 0:
        return
    cdef _Slabs gs = _slabs_of(g), ys = _slabs_of(y), dxs = _slabs_of(dx)
    cdef int threads = _threads_for(_tasks(gs), num_threads)
    cdef csm_sparse_map m = _sparse_map(SPARSE_KINDS[kind], alpha, 1)
    cdef double *ap = <double *>_data_or_null(alpha_grad)
    cdef void *gp = cnp.PyArray_DATA(g)
    cdef void *yp = cnp.PyArray_DATA(y)
    cdef void *dxp = cnp.PyArray_DATA(dx)
    cdef Py_ssize_t n = g.shape[1]
    tiles = _tiles(gs, ys, dxs, n, threads, 3, g.dtype)
    cdef void *tp = _data_or_null(tiles)
    cdef bint single = g.dtype.num == cnp.NPY_FLOAT
    with nogil:
        if single:
            _run_backward(<const float *>gp, <const float *>yp, <const float *>dxp, gs, ys, dxs,
                          n, &m, ap, <const float *>tp, threads)
        else:
            _run_backward(<const double *>gp, <const double *>yp, <const double *>dxp, gs, ys,
                          dxs, n, &m, ap, <const double *>tp, threads)


cdef void _loss_block(const real *x, Py_ssize_t n, const int64_t *labels, int64_t ignore_index,
                      Py_ssize_t first, Py_ssize_t count, const csm_sparse_map *map,
                      double grad_scale, double *loss, const real *grad,
                      double *work) noexcept nogil:
    cdef csm_sparse_map local = map[0]
    cdef csm_rows rows
    rows.row_step = n
    rows.col_step = 1
    if local.alpha != NULL:
        local.alpha = local.alpha + first * local.alpha_step
    if grad != NULL:
        grad = grad + first * n
    if real is float:
        sparse_kernels().sparse_loss_f32(x + first * n, rows, labels + first, ignore_index, count,
                                       n, &local, grad_scale, loss + first, <float *>grad, rows,
                                       work)
    else:
        sparse_kernels().sparse_loss_f64(x + first * n, rows, labels + first, ignore_index, count,
                                       n, &local, grad_scale, loss + first, <double *>grad, rows,
                                       work)


cdef void _run_loss(const real *xp, Py_ssize_t rows, Py_ssize_t n, const int64_t *lp,
                    int64_t ignore_index, const csm_sparse_map *m, double grad_scale,
                    double *lossp, const real *gp, double *wp, int threads) noexcept nogil:
    cdef Py_ssize_t block = _row_block(n), task, first, count
    cdef Py_ssize_t tasks = (rows + block - 1) // block
    if threads == 1:
        for task in range(tasks):
            first = task * block
            _loss_block(xp, n, lp, ignore_index, first, min(block, rows - first), m,
                        grad_scale, lossp, gp, wp)
    else:
        for task in prange(tasks, num_threads=threads, schedule='static'):
            first = task * block
            count = min(block, rows - first)
            _loss_block(xp, n, lp, ignore_index, first, count, m, grad_scale, lossp, gp,
                        wp + threadid() * n)


def sparse_loss_rows(cnp.ndarray x, cnp.ndarray labels, object alpha, cnp.ndarray loss,
                     object grad, str kind, int n_iter, long long ignore_index, double grad_scale,
                     int num_threads):
    """Fenchel-Young loss of the sparse map `kind` for C-contiguous (rows, C)
    logits x and int64 labels (rows,) into float64 loss (rows,), with grad
    (rows, C, C-contiguous, x's dtype) = grad_scale * (p - onehot) or None."""
    cdef Py_ssize_t rows = x.shape[0], n = x.shape[1]
    if rows == 0 or n == 0:
        return
    cdef int threads = _threads_for((rows + _row_block(n) - 1) // _row_block(n), num_threads)
    cdef csm_sparse_map m = _sparse_map(SPARSE_KINDS[kind], alpha, n_iter)
    cdef cnp.ndarray work = np.empty((threads, n), np.float64)
    cdef double *wp = <double *>cnp.PyArray_DATA(work)
    cdef void *xp = cnp.PyArray_DATA(x)
    cdef void *gp = _data_or_null(grad)
    cdef const int64_t *lp = <const int64_t *>cnp.PyArray_DATA(labels)
    cdef double *lossp = <double *>cnp.PyArray_DATA(loss)
    cdef bint single = x.dtype.num == cnp.NPY_FLOAT
    with nogil:
        if single:
            _run_loss(<const float *>xp, rows, n, lp, ignore_index, &m, grad_scale, lossp,
                      <const float *>gp, wp, threads)
        else:
            _run_loss(<const double *>xp, rows, n, lp, ignore_index, &m, grad_scale, lossp,
                      <const double *>gp, wp, threads)
