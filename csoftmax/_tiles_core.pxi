# Included from _core.pyx: softmax, log_softmax and logsumexp over strided
# (outer, n, inner) operands, read in place where the kernels can, else through
# per-thread tiles (src/tiles.h). csoftmax._layout decides which and hands the
# steps (in bytes) here.

import numpy as np

cdef extern from "tiles.h" nogil:
    int CSM_KIND_F32, CSM_KIND_F64, CSM_KIND_F16, CSM_KIND_BF16
    ctypedef struct csm_tile_operand:
        char *data
        Py_ssize_t outer_step, n_step, inner_step
        int kind
    ctypedef struct csm_tiled:
        csm_tile_operand x, y, b, mask
        Py_ssize_t n, inner
        double scale, divisor
        int flags
    # this family's members of the one kernel table (src/kernel_list.h)
    ctypedef struct csm_tile_table "csm_kernel_table":
        void (*norm_tiled_f32)(const csm_kernel_table *k, const csm_tiled *call, Py_ssize_t first,
                               Py_ssize_t count, float *tile, int row_threads) noexcept nogil
        void (*lse_tiled_f32)(const csm_kernel_table *k, const csm_tiled *call, Py_ssize_t first,
                              Py_ssize_t count, float *tile, float *result, float *sign,
                              int row_threads) noexcept nogil
        void (*norm_tiled_f64)(const csm_kernel_table *k, const csm_tiled *call, Py_ssize_t first,
                               Py_ssize_t count, double *tile, int row_threads) noexcept nogil
        void (*lse_tiled_f64)(const csm_kernel_table *k, const csm_tiled *call, Py_ssize_t first,
                              Py_ssize_t count, double *tile, double *result, double *sign,
                              int row_threads) noexcept nogil
    Py_ssize_t csm_tile_tasks(const csm_tiled *call, Py_ssize_t outer, Py_ssize_t item)
    Py_ssize_t csm_tile_length(const csm_tiled *call, Py_ssize_t item)

cdef inline const csm_tile_table *tile_kernels() noexcept nogil:
    """This family's view of the kernel table in use (_core.kernels)."""
    return <const csm_tile_table *>kernels



cdef int _storage_kind(cnp.ndarray a) except -1:
    cdef int num = cnp.PyArray_TYPE(a)
    if num == cnp.NPY_FLOAT:
        return CSM_KIND_F32
    if num == cnp.NPY_DOUBLE:
        return CSM_KIND_F64
    if a.dtype.char == "e":
        return CSM_KIND_F16
    if a.dtype.name == "bfloat16" and a.dtype.itemsize == 2:
        return CSM_KIND_BF16
    raise TypeError(f"no tiled storage for dtype {a.dtype}")


cdef csm_tile_operand _operand(object array, tuple steps) except *:
    """An operand from an ndarray (or None) and (offset, outer, n, inner) steps in bytes."""
    cdef csm_tile_operand op
    cdef cnp.ndarray a
    op.data = NULL
    op.outer_step = op.n_step = op.inner_step = 0
    op.kind = CSM_KIND_F32
    if array is None:
        return op
    a = <cnp.ndarray>array
    op.data = <char *>cnp.PyArray_DATA(a) + <Py_ssize_t>steps[0]
    op.outer_step, op.n_step, op.inner_step = steps[1], steps[2], steps[3]
    op.kind = _storage_kind(a) if cnp.PyArray_TYPE(a) != cnp.NPY_BOOL else CSM_KIND_F32
    return op


cdef void _norm_direct(const real *x, Py_ssize_t xs0, Py_ssize_t xs1, real *y, Py_ssize_t ys0,
                       Py_ssize_t ys1, Py_ssize_t outer, Py_ssize_t n, Py_ssize_t inner,
                       real scale, int flags, int num_threads) noexcept nogil:
    """The kernels on operands they read in place (steps in elements): rows with
    unit steps along n, or columns contiguous across inner."""
    cdef Py_ssize_t task, o, c, blocks, tasks
    cdef int threads
    cdef const csm_kernel_table *k = slices_kernels(inner, sizeof(real))
    if inner == 1:
        _norm_rows(x, xs0, y, ys0, outer, n, scale, flags, num_threads)
        return
    blocks = (inner + COLUMN_BLOCK - 1) // COLUMN_BLOCK
    tasks = outer * blocks
    threads = _threads_for(tasks, num_threads)
    for task in prange(tasks, num_threads=threads, schedule='static'):
        o = task // blocks
        c = (task % blocks) * COLUMN_BLOCK
        if real is float:
            k.norm_cols_f32(x + o * xs0 + c, xs1, y + o * ys0 + c, ys1, n,
                            min(COLUMN_BLOCK, inner - c), scale, flags)
        else:
            k.norm_cols_f64(x + o * xs0 + c, xs1, y + o * ys0 + c, ys1, n,
                            min(COLUMN_BLOCK, inner - c), scale, flags)


cdef void _lse_direct(const real *x, Py_ssize_t xs0, Py_ssize_t xs1, const real *b, real *result,
                      real *sign, Py_ssize_t outer, Py_ssize_t n, Py_ssize_t inner, int flags,
                      int num_threads) noexcept nogil:
    """logsumexp as _norm_direct, weights b in x's layout or NULL, result and
    sign (outer, inner) contiguous."""
    cdef Py_ssize_t task, o, c, blocks, tasks
    cdef int threads
    cdef const csm_kernel_table *k = slices_kernels(inner, sizeof(real))
    if inner == 1:
        _lse_rows(x, xs0, b, result, sign, outer, n, flags, num_threads)
        return
    blocks = (inner + COLUMN_BLOCK - 1) // COLUMN_BLOCK
    tasks = outer * blocks
    threads = _threads_for(tasks, num_threads)
    for task in prange(tasks, num_threads=threads, schedule='static'):
        o = task // blocks
        c = (task % blocks) * COLUMN_BLOCK
        if real is float:
            k.lse_cols_f32(x + o * xs0 + c, xs1, b + o * xs0 + c if b else NULL,
                           result + o * inner + c, sign + o * inner + c if sign else NULL,
                           n, min(COLUMN_BLOCK, inner - c), flags)
        else:
            k.lse_cols_f64(x + o * xs0 + c, xs1, b + o * xs0 + c if b else NULL,
                           result + o * inner + c, sign + o * inner + c if sign else NULL,
                           n, min(COLUMN_BLOCK, inner - c), flags)


cdef void _norm_tiles(const csm_tiled *call, real *tiles, Py_ssize_t tile_len, Py_ssize_t outer,
                      int num_threads) noexcept nogil:
    """Tiled softmax / log_softmax: each thread a contiguous range of tasks and
    its own tile; rows of CSM_HUGE_ROW or more, when fewer than the threads,
    one at a time over all of them (as _norm_rows)."""
    cdef Py_ssize_t tasks = csm_tile_tasks(call, outer, sizeof(real))
    cdef int threads = _threads_for(tasks, num_threads)
    cdef Py_ssize_t t, lo, hi
    if call.inner == 1 and _split_each_row(outer, call.n, num_threads):
        if real is float:
            tile_kernels().norm_tiled_f32(kernels, call, 0, outer, tiles, num_threads)
        else:
            tile_kernels().norm_tiled_f64(kernels, call, 0, outer, tiles, num_threads)
        return
    for t in prange(threads, num_threads=threads, schedule='static'):
        lo = _thread_start(tasks, t, threads)
        hi = _thread_start(tasks, t + 1, threads)
        if real is float:
            tile_kernels().norm_tiled_f32(kernels, call, lo, hi - lo, tiles + t * tile_len, 1)
        else:
            tile_kernels().norm_tiled_f64(kernels, call, lo, hi - lo, tiles + t * tile_len, 1)


cdef void _lse_tiles(const csm_tiled *call, real *tiles, Py_ssize_t tile_len, real *result,
                     real *sign, Py_ssize_t outer, int num_threads) noexcept nogil:
    """Tiled logsumexp, split as _norm_tiles."""
    cdef Py_ssize_t tasks = csm_tile_tasks(call, outer, sizeof(real))
    cdef int threads = _threads_for(tasks, num_threads)
    cdef Py_ssize_t t, lo, hi
    if call.inner == 1 and _split_each_row(outer, call.n, num_threads):
        if real is float:
            tile_kernels().lse_tiled_f32(kernels, call, 0, outer, tiles, result, sign, num_threads)
        else:
            tile_kernels().lse_tiled_f64(kernels, call, 0, outer, tiles, result, sign, num_threads)
        return
    for t in prange(threads, num_threads=threads, schedule='static'):
        lo = _thread_start(tasks, t, threads)
        hi = _thread_start(tasks, t + 1, threads)
        if real is float:
            tile_kernels().lse_tiled_f32(kernels, call, lo, hi - lo, tiles + t * tile_len, result,
                                       sign, 1)
        else:
            tile_kernels().lse_tiled_f64(kernels, call, lo, hi - lo, tiles + t * tile_len, result,
                                       sign, 1)


def normalize_strided(x, tuple x_steps, y, tuple y_steps, mask, tuple mask_steps,
                      Py_ssize_t outer, Py_ssize_t n, Py_ssize_t inner, bint double,
                      bint direct, bint log, double scale, bint masked, int num_threads):
    """softmax (log=False) or log_softmax over axis 1 of the (outer, n, inner)
    operand x into y (steps: (offset, outer, n, inner) in bytes), computed in
    float64 if `double` else float32. direct: x and y hold the compute type
    with steps the kernels read in place (rows: n step one element; columns:
    inner step one element) and no mask. Else per-thread tiles; mask (bytes,
    0 = masked out) or None."""
    cdef csm_tiled call
    cdef int flags = (CSM_LOG if log else 0) | (CSM_MASKED if masked else 0)
    cdef Py_ssize_t item = 8 if double else 4, tile_len
    cdef int threads
    cdef cnp.ndarray tiles
    if outer == 0 or n == 0 or inner == 0:
        return
    call.x = _operand(x, x_steps)
    call.y = _operand(y, y_steps)
    call.b = _operand(None, ())
    call.mask = _operand(mask, mask_steps)
    call.n, call.inner, call.scale, call.divisor, call.flags = n, inner, scale, 1.0, flags
    if direct:
        with nogil:
            if double:
                _norm_direct(<const double *>call.x.data, call.x.outer_step // 8, call.x.n_step // 8,
                             <double *>call.y.data, call.y.outer_step // 8, call.y.n_step // 8,
                             outer, n, inner, <double>scale, flags, num_threads)
            else:
                _norm_direct(<const float *>call.x.data, call.x.outer_step // 4, call.x.n_step // 4,
                             <float *>call.y.data, call.y.outer_step // 4, call.y.n_step // 4,
                             outer, n, inner, <float>scale, flags, num_threads)
        return
    tile_len = csm_tile_length(&call, item)
    threads = _threads_for(csm_tile_tasks(&call, outer, item), num_threads)
    tiles = np.empty(threads * tile_len, np.float64 if double else np.float32)
    with nogil:
        if double:
            _norm_tiles(&call, <double *>cnp.PyArray_DATA(tiles), tile_len, outer, num_threads)
        else:
            _norm_tiles(&call, <float *>cnp.PyArray_DATA(tiles), tile_len, outer, num_threads)


def logsumexp_strided(x, tuple x_steps, b, tuple b_steps, mask, tuple mask_steps,
                      cnp.ndarray result, cnp.ndarray sign, Py_ssize_t outer, Py_ssize_t n,
                      Py_ssize_t inner, bint direct, double divisor, bint return_sign,
                      int num_threads):
    """logsumexp over axis 1 of the (outer, n, inner) operand x (steps as
    normalize_strided) into result and sign (C-contiguous (outer, inner) of the
    compute type; sign may be None), weights b or None, mask or None,
    x / divisor. direct: as normalize_strided, b (if any) with x's steps."""
    cdef csm_tiled call
    cdef int flags = CSM_RETURN_SIGN if return_sign else 0
    cdef bint double = cnp.PyArray_TYPE(result) == cnp.NPY_DOUBLE
    cdef Py_ssize_t item = 8 if double else 4, tile_len
    cdef int threads
    cdef cnp.ndarray tiles
    cdef void *rp
    cdef void *sp = NULL
    if outer == 0 or n == 0 or inner == 0:
        return
    call.x = _operand(x, x_steps)
    call.y = _operand(None, ())
    call.b = _operand(b, b_steps)
    call.mask = _operand(mask, mask_steps)
    call.n, call.inner, call.scale, call.divisor, call.flags = n, inner, 1.0, divisor, flags
    rp = cnp.PyArray_DATA(result)
    if sign is not None:
        sp = cnp.PyArray_DATA(sign)
    if direct:
        with nogil:
            if double:
                _lse_direct(<const double *>call.x.data, call.x.outer_step // 8, call.x.n_step // 8,
                            <const double *>call.b.data, <double *>rp, <double *>sp, outer, n,
                            inner, flags, num_threads)
            else:
                _lse_direct(<const float *>call.x.data, call.x.outer_step // 4, call.x.n_step // 4,
                            <const float *>call.b.data, <float *>rp, <float *>sp, outer, n,
                            inner, flags, num_threads)
        return
    tile_len = csm_tile_length(&call, item)
    threads = _threads_for(csm_tile_tasks(&call, outer, item), num_threads)
    tiles = np.empty(threads * tile_len, np.float64 if double else np.float32)
    with nogil:
        if double:
            _lse_tiles(&call, <double *>cnp.PyArray_DATA(tiles), tile_len, <double *>rp,
                       <double *>sp, outer, num_threads)
        else:
            _lse_tiles(&call, <float *>cnp.PyArray_DATA(tiles), tile_len, <float *>rp,
                       <float *>sp, outer, num_threads)
