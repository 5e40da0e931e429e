# Compiled core of segment softmax and logcumsumexp: included into _core.pyx.
# Segments given by offsets run the normaliser kernels on each segment (a
# segment [a, b) of the (outer, E, inner) view is an (n = b - a, inner) slice:
# the row kernel when inner == 1, the column kernel otherwise), so they have
# the normalisers' accuracy and the bits of csoftmax.softmax on that segment;
# short segments, where a kernel call would cost more than the arithmetic, go
# many at a time through segment_short (src/segments_impl.h).
# Threads take contiguous ranges of segments holding about equal numbers of
# elements; every segment is computed alone, so results do not depend on the
# thread count. Segments given by an unsorted index are reduced by scatter
# passes in position order (one thread, deterministic) into per-segment
# accumulators; only the final write is split over threads.

from libc.math cimport INFINITY, log

import numpy as np

cdef extern from "segments.h" nogil:
    enum:
        CSM_SCATTER_BLOCK
        CSM_SCATTER_EQUAL_IS_ONE
        CSM_SCATTER_LOG
        CSM_SHORT_SEGMENT
        CSM_SHORT_CHUNK
        CSM_SHORT_LOG
        CSM_SHORT_LSE
    # this family's members of the one kernel table (src/kernel_list.h)
    ctypedef struct csm_segment_table "csm_kernel_table":
        const char *name
        void (*logcumsumexp_f32)(const float *x, Py_ssize_t x_lane_step, Py_ssize_t x_step,
                                 float *y, Py_ssize_t y_lane_step, Py_ssize_t y_step,
                                 Py_ssize_t n, Py_ssize_t lanes, int exclusive) noexcept nogil
        void (*logcumsumexp_f64)(const double *x, Py_ssize_t x_lane_step, Py_ssize_t x_step,
                                 double *y, Py_ssize_t y_lane_step, Py_ssize_t y_step,
                                 Py_ssize_t n, Py_ssize_t lanes, int exclusive) noexcept nogil
        Py_ssize_t (*segment_short_f32)(const float *x, Py_ssize_t step, float *y,
                                        Py_ssize_t y_step, Py_ssize_t inner,
                                        const int64_t *offsets, Py_ssize_t first,
                                        Py_ssize_t last, int flags) noexcept nogil
        Py_ssize_t (*segment_short_f64)(const double *x, Py_ssize_t step, double *y,
                                        Py_ssize_t y_step, Py_ssize_t inner,
                                        const int64_t *offsets, Py_ssize_t first,
                                        Py_ssize_t last, int flags) noexcept nogil
        void (*scatter_max_f32)(const float *x, Py_ssize_t step, Py_ssize_t positions,
                                Py_ssize_t inner, const int64_t *index, float *peak) noexcept nogil
        void (*scatter_max_f64)(const double *x, Py_ssize_t step, Py_ssize_t positions,
                                Py_ssize_t inner, const int64_t *index, double *peak) noexcept nogil
        void (*scatter_exp_sum_f32)(const float *x, Py_ssize_t step, Py_ssize_t positions,
                                    Py_ssize_t inner, const int64_t *index, const float *peak,
                                    double *total, float *exps, int keep_exps,
                                    int flags) noexcept nogil
        void (*scatter_exp_sum_f64)(const double *x, Py_ssize_t step, Py_ssize_t positions,
                                    Py_ssize_t inner, const int64_t *index, const double *peak,
                                    double *total, double *exps, int keep_exps,
                                    int flags) noexcept nogil
        void (*scatter_write_f32)(const float *x, Py_ssize_t step, float *y, Py_ssize_t positions,
                                  Py_ssize_t inner, const int64_t *index, const float *peak,
                                  const double *total, int flags) noexcept nogil
        void (*scatter_write_f64)(const double *x, Py_ssize_t step, double *y,
                                  Py_ssize_t positions, Py_ssize_t inner, const int64_t *index,
                                  const double *peak, const double *total,
                                  int flags) noexcept nogil
        int (*index_offsets)(const int64_t *index, Py_ssize_t n, int64_t *offsets,
                             Py_ssize_t segments) noexcept nogil
        void (*index_summary)(const int64_t *index, Py_ssize_t n, Py_ssize_t *negative,
                              int64_t *top) noexcept nogil

cdef inline const csm_segment_table *segment_kernels() noexcept nogil:
    """This family's view of the kernel table in use (_core.kernels)."""
    return <const csm_segment_table *>kernels

# Lanes of a logcumsumexp handed to a thread at a time (a multiple of every vector width).
cdef Py_ssize_t SCAN_LANE_BLOCK = 64



def index_summary(const int64_t[::1] index):
    """(position of the first negative id or -1, the largest id or -1), in one pass."""
    cdef Py_ssize_t negative = -1
    cdef int64_t top = -1
    if index.shape[0]:
        with nogil:
            segment_kernels().index_summary(&index[0], index.shape[0], &negative, &top)
    return negative, top


def sorted_offsets(const int64_t[::1] index, int64_t[::1] offsets):
    """Fills offsets (segments + 1) from an index of ids in [0, segments) if it
    never decreases and returns True; returns False (offsets unfinished) at
    the first id smaller than the one before it or >= segments."""
    cdef int ordered
    cdef const int64_t *ids = &index[0] if index.shape[0] else NULL
    with nogil:
        ordered = segment_kernels().index_offsets(ids, index.shape[0], &offsets[0],
                                                offsets.shape[0] - 1)
    return bool(ordered)


cdef Py_ssize_t _first_segment_at(const int64_t *offsets, Py_ssize_t segments,
                                  Py_ssize_t position) noexcept nogil:
    """The first segment starting at or after `position` (segments if none)."""
    cdef Py_ssize_t lo = 0, hi = segments, mid
    while lo < hi:
        mid = (lo + hi) // 2
        if offsets[mid] < position:
            lo = mid + 1
        else:
            hi = mid
    return lo


cdef Py_ssize_t _share_start(const int64_t *offsets, Py_ssize_t segments, int t,
                             int threads) noexcept nogil:
    """The first segment of thread t's share: the segments starting in its
    t-th of the elements (shares of about equal element counts, fixed for a
    thread count); t == threads gives the end."""
    if t == 0:
        return 0
    if t == threads:
        return segments
    return _first_segment_at(offsets, segments, _thread_start(offsets[segments], t, threads))


cdef inline bint _is_short(Py_ssize_t n, Py_ssize_t inner) noexcept nogil:
    return n < CSM_SHORT_SEGMENT and n * inner <= CSM_SHORT_CHUNK


cdef inline const csm_kernel_table *_segment_table(Py_ssize_t inner,
                                                   Py_ssize_t itemsize) noexcept nogil:
    """The table for segments of `inner` heads: one head runs the active
    level's (the row kernels, the one-head scatter loops); several heads go a
    head per lane, so a few of them take slices_kernels' half-width table."""
    return kernels if inner == 1 else slices_kernels(inner, itemsize)


cdef Py_ssize_t _short_run(const csm_kernel_table *k, const real *x, Py_ssize_t step, real *y,
                           Py_ssize_t y_step, Py_ssize_t inner, const int64_t *offsets,
                           Py_ssize_t first, Py_ssize_t last, int flags) noexcept nogil:
    cdef const csm_segment_table *table = <const csm_segment_table *>k
    if real is float:
        return table.segment_short_f32(x, step, y, y_step, inner, offsets, first, last, flags)
    else:
        return table.segment_short_f64(x, step, y, y_step, inner, offsets, first, last, flags)


cdef void _normalize_segments(const real *x, Py_ssize_t xs0, Py_ssize_t xs1, real *y,
                              Py_ssize_t ys0, Py_ssize_t ys1, Py_ssize_t outer,
                              Py_ssize_t inner, const int64_t *offsets, Py_ssize_t first,
                              Py_ssize_t last, int flags) noexcept nogil:
    """Segments [first, last) of every slice: runs of short ones together, each
    other by the row (inner == 1) or column kernel."""
    cdef Py_ssize_t o, s, a, n, c
    cdef int short_flags = CSM_SHORT_LOG if flags & CSM_LOG else 0
    cdef const csm_kernel_table *k = _segment_table(inner, sizeof(real))
    for o in range(outer):
        s = first
        while s < last:
            a = offsets[s]
            n = offsets[s + 1] - a
            if _is_short(n, inner):
                s = _short_run(k, x + o * xs0, xs1, y + o * ys0, ys1, inner, offsets, s, last,
                               short_flags)
                continue
            s += 1
            if inner == 1:
                _norm_row_run(x + o * xs0 + a, n, y + o * ys0 + a, n, 1, n, <real>1, flags, 1)
                continue
            c = 0
            while c < inner:
                if real is float:
                    k.norm_cols_f32(x + o * xs0 + a * xs1 + c, xs1, y + o * ys0 + a * ys1 + c,
                                    ys1, n, min(COLUMN_BLOCK, inner - c), 1, flags)
                else:
                    k.norm_cols_f64(x + o * xs0 + a * xs1 + c, xs1, y + o * ys0 + a * ys1 + c,
                                    ys1, n, min(COLUMN_BLOCK, inner - c), 1, flags)
                c += COLUMN_BLOCK


def segment_normalize(const real[:, :, :] x, real[:, :, :] y, const int64_t[::1] offsets,
                      bint log_output, int num_threads):
    """softmax (or log_softmax) of each segment [offsets[s], offsets[s + 1]) of
    axis 1 of x into y. Both views have the row layout (axis 2 of length 1,
    axis 1 contiguous) or the column layout (axis 2 contiguous)."""
    cdef Py_ssize_t outer = x.shape[0], inner = x.shape[2]
    cdef Py_ssize_t segments = offsets.shape[0] - 1
    cdef Py_ssize_t item = sizeof(real), first, last
    cdef int flags = CSM_LOG if log_output else 0
    cdef int threads = _threads_for(segments, num_threads), t
    if outer == 0 or x.shape[1] == 0 or inner == 0:
        return
    cdef const real *xp = &x[0, 0, 0]
    cdef real *yp = &y[0, 0, 0]
    cdef Py_ssize_t xs0 = x.strides[0] // item, xs1 = x.strides[1] // item
    cdef Py_ssize_t ys0 = y.strides[0] // item, ys1 = y.strides[1] // item
    with nogil:
        if threads == 1:
            _normalize_segments(xp, xs0, xs1, yp, ys0, ys1, outer, inner, &offsets[0], 0,
                                segments, flags)
        else:
            for t in prange(threads, num_threads=threads, schedule='static'):
                first = _share_start(&offsets[0], segments, t, threads)
                last = _share_start(&offsets[0], segments, t + 1, threads)
                _normalize_segments(xp, xs0, xs1, yp, ys0, ys1, outer, inner, &offsets[0],
                                    first, last, flags)


cdef void _lse_segments(const real *x, Py_ssize_t xs0, Py_ssize_t xs1, real *result,
                        Py_ssize_t outer, Py_ssize_t inner, const int64_t *offsets,
                        Py_ssize_t segments, Py_ssize_t first, Py_ssize_t last) noexcept nogil:
    cdef Py_ssize_t o, s, a, n, c
    cdef real *r
    cdef const csm_kernel_table *k = _segment_table(inner, sizeof(real))
    for o in range(outer):
        s = first
        while s < last:
            a = offsets[s]
            n = offsets[s + 1] - a
            if _is_short(n, inner):  # empty segments too: -inf
                s = _short_run(k, x + o * xs0, xs1, result + o * segments * inner, 0, inner,
                               offsets, s, last, CSM_SHORT_LSE)
                continue
            r = result + (o * segments + s) * inner
            s += 1
            if inner == 1:
                _lse_row_run(x + o * xs0 + a, n, NULL, r, NULL, 1, n, 0, 1)
                continue
            c = 0
            while c < inner:
                if real is float:
                    k.lse_cols_f32(x + o * xs0 + a * xs1 + c, xs1, NULL, r + c, NULL, n,
                                   min(COLUMN_BLOCK, inner - c), 0)
                else:
                    k.lse_cols_f64(x + o * xs0 + a * xs1 + c, xs1, NULL, r + c, NULL, n,
                                   min(COLUMN_BLOCK, inner - c), 0)
                c += COLUMN_BLOCK


def segment_logsumexp(const real[:, :, :] x, real[:, :, ::1] result, const int64_t[::1] offsets,
                      int num_threads):
    """logsumexp of each segment of axis 1 of x (layouts as segment_normalize)
    into result (outer, segments, inner); an empty segment gives -inf."""
    cdef Py_ssize_t outer = x.shape[0], inner = x.shape[2]
    cdef Py_ssize_t segments = offsets.shape[0] - 1
    cdef Py_ssize_t item = sizeof(real), first, last
    cdef int threads = _threads_for(segments, num_threads), t
    if outer == 0 or segments == 0 or inner == 0:
        return
    cdef const real *xp = &x[0, 0, 0] if x.shape[1] > 0 else NULL  # else every segment is empty
    cdef Py_ssize_t xs0 = x.strides[0] // item, xs1 = x.strides[1] // item
    with nogil:
        if threads == 1:
            _lse_segments(xp, xs0, xs1, &result[0, 0, 0], outer, inner, &offsets[0], segments,
                          0, segments)
        else:
            for t in prange(threads, num_threads=threads, schedule='static'):
                first = _share_start(&offsets[0], segments, t, threads)
                last = _share_start(&offsets[0], segments, t + 1, threads)
                _lse_segments(xp, xs0, xs1, &result[0, 0, 0], outer, inner, &offsets[0],
                              segments, first, last)


cdef void _scatter_sums(const real *x, Py_ssize_t xs0, Py_ssize_t step, Py_ssize_t outer,
                        Py_ssize_t positions, Py_ssize_t inner, const int64_t *index,
                        Py_ssize_t segments, real *peak, double *total, real *exps,
                        bint keep_exps, int flags) noexcept nogil:
    """The first two scatter passes of every slice o: segment max, sum of exps."""
    cdef Py_ssize_t o, table = segments * inner
    cdef const csm_segment_table *kernel = <const csm_segment_table *>_segment_table(
        inner, sizeof(real))
    for o in range(outer):
        if real is float:
            kernel.scatter_max_f32(x + o * xs0, step, positions, inner, index, peak + o * table)
            kernel.scatter_exp_sum_f32(x + o * xs0, step, positions, inner, index,
                                       peak + o * table, total + o * table,
                                       exps + o * positions * inner if keep_exps else exps,
                                       keep_exps, flags)
        else:
            kernel.scatter_max_f64(x + o * xs0, step, positions, inner, index, peak + o * table)
            kernel.scatter_exp_sum_f64(x + o * xs0, step, positions, inner, index,
                                       peak + o * table, total + o * table,
                                       exps + o * positions * inner if keep_exps else exps,
                                       keep_exps, flags)


def scatter_normalize(const real[:, :, :] x, real[:, :, ::1] y, const int64_t[::1] index,
                      Py_ssize_t segments, bint log_output, int num_threads):
    """softmax (or log_softmax) over the positions of axis 1 of x that share a
    segment id in index, into y (C order, x's shape; may be x itself). x's
    axis 2 is contiguous."""
    cdef Py_ssize_t outer = x.shape[0], positions = x.shape[1], inner = x.shape[2]
    cdef Py_ssize_t item = sizeof(real), k, o, task, tasks, start, table = segments * inner
    cdef Py_ssize_t blocks = (positions + CSM_SCATTER_BLOCK - 1) // CSM_SCATTER_BLOCK
    cdef int threads, flags = CSM_SCATTER_LOG if log_output else 0
    if outer == 0 or positions == 0 or inner == 0:
        return
    dtype = np.float32 if real is float else np.float64
    cdef real[:, :, ::1] peak = np.full((outer, segments, inner), -np.inf, dtype)
    cdef double[:, :, ::1] total = np.zeros((outer, segments, inner))
    # log_softmax reads x again in the last pass, so its exps (only summed) go
    # through a scratch block: y may be x itself
    cdef real[:, ::1] scratch = np.empty((CSM_SCATTER_BLOCK if log_output else 1, inner), dtype)
    cdef const real *xp = &x[0, 0, 0]
    cdef real *yp = &y[0, 0, 0]
    cdef real *pp = &peak[0, 0, 0]
    cdef double *tp = &total[0, 0, 0]
    cdef Py_ssize_t xs0 = x.strides[0] // item, step = x.strides[1] // item
    cdef const csm_segment_table *kernel = <const csm_segment_table *>_segment_table(inner,
                                                                                    item)
    tasks = outer * blocks
    threads = _threads_for(tasks, num_threads)
    with nogil:
        _scatter_sums(xp, xs0, step, outer, positions, inner, &index[0], segments, pp, tp,
                      &scratch[0, 0] if log_output else yp, not log_output, 0)
        for k in range(outer * table):
            tp[k] = log(tp[k]) if log_output else 1 / tp[k]
        for task in prange(tasks, num_threads=threads, schedule='static'):
            o = task // blocks
            start = (task - o * blocks) * CSM_SCATTER_BLOCK
            if real is float:
                kernel.scatter_write_f32(
                    xp + o * xs0 + start * step, step, yp + (o * positions + start) * inner,
                    min(CSM_SCATTER_BLOCK, positions - start), inner, &index[start],
                    pp + o * table, tp + o * table, flags)
            else:
                kernel.scatter_write_f64(
                    xp + o * xs0 + start * step, step, yp + (o * positions + start) * inner,
                    min(CSM_SCATTER_BLOCK, positions - start), inner, &index[start],
                    pp + o * table, tp + o * table, flags)


def scatter_logsumexp(const real[:, :, :] x, real[:, :, ::1] result, const int64_t[::1] index):
    """logsumexp over the positions of axis 1 of x sharing a segment id, into
    result (outer, segments, inner); an empty segment gives -inf. x's axis 2
    is contiguous."""
    cdef Py_ssize_t outer = x.shape[0], positions = x.shape[1], inner = x.shape[2]
    cdef Py_ssize_t segments = result.shape[1], item = sizeof(real), k
    if outer == 0 or inner == 0 or segments == 0:
        return
    dtype = np.float32 if real is float else np.float64
    cdef real[:, :, ::1] peak = np.full((outer, segments, inner), -np.inf, dtype)
    cdef double[:, :, ::1] total = np.zeros((outer, segments, inner))
    cdef real[:, ::1] scratch = np.empty((CSM_SCATTER_BLOCK, inner), dtype)
    cdef real *pp = &peak[0, 0, 0]
    cdef double *tp = &total[0, 0, 0]
    cdef real *rp = &result[0, 0, 0]
    with nogil:
        if positions > 0:
            _scatter_sums(&x[0, 0, 0], x.strides[0] // item, x.strides[1] // item, outer,
                          positions, inner, &index[0], segments, pp, tp, &scratch[0, 0], False,
                          CSM_SCATTER_EQUAL_IS_ONE)
        for k in range(outer * segments * inner):
            rp[k] = <real>(pp[k] + log(tp[k]))


cdef void _backward_write(const real[:, :, :] g, const real[:, :, :] y, real[:, :, ::1] dx,
                          const int64_t *index, const double[:, :, ::1] dot, Py_ssize_t o,
                          Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    cdef Py_ssize_t i, h, s
    for i in range(start, stop):
        s = index[i]
        for h in range(g.shape[2]):
            dx[o, i, h] = <real>(<double>y[o, i, h] * (<double>g[o, i, h] - dot[o, s, h]))


def scatter_softmax_backward(const real[:, :, :] g, const real[:, :, :] y,
                             real[:, :, ::1] dx, const int64_t[::1] index,
                             Py_ssize_t segments, int num_threads):
    """dx = y (g - sum over the segment of g y), segments by id."""
    cdef Py_ssize_t outer = g.shape[0], positions = g.shape[1], inner = g.shape[2]
    cdef Py_ssize_t o, i, h, s, task, tasks, start
    cdef Py_ssize_t blocks = (positions + CSM_SCATTER_BLOCK - 1) // CSM_SCATTER_BLOCK
    cdef int threads
    if outer == 0 or positions == 0 or inner == 0:
        return
    cdef double[:, :, ::1] dot = np.zeros((outer, segments, inner))
    tasks = outer * blocks
    threads = _threads_for(tasks, num_threads)
    with nogil:
        for o in range(outer):
            for i in range(positions):
                s = index[i]
                for h in range(inner):
                    dot[o, s, h] += <double>g[o, i, h] * <double>y[o, i, h]
        for task in prange(tasks, num_threads=threads, schedule='static'):
            o = task // blocks
            start = (task - o * blocks) * CSM_SCATTER_BLOCK
            _backward_write(g, y, dx, &index[0], dot, o, start,
                            min(start + CSM_SCATTER_BLOCK, positions))


def logcumsumexp(const real[:, :, :] x, real[:, :, :] y, bint reverse, bint exclusive,
                 int num_threads):
    """Running logsumexp of x (outer, lanes, n) along axis 2 into y (same
    shape, any strides), forward or reverse. The lanes of axis 1 go through
    the kernel a vector at a time; blocks of them are the unit of work."""
    cdef Py_ssize_t outer = x.shape[0], lanes = x.shape[1], n = x.shape[2]
    cdef Py_ssize_t item = sizeof(real)
    cdef Py_ssize_t xs0 = x.strides[0] // item, xl = x.strides[1] // item, xs = x.strides[2] // item
    cdef Py_ssize_t ys0 = y.strides[0] // item, yl = y.strides[1] // item, ys = y.strides[2] // item
    cdef Py_ssize_t blocks, tasks, task, o, c
    cdef int threads
    if outer == 0 or lanes == 0 or n == 0:
        return
    cdef const real *xp = &x[0, 0, 0]
    cdef real *yp = &y[0, 0, 0]
    if reverse:
        xp += (n - 1) * xs
        yp += (n - 1) * ys
        xs = -xs
        ys = -ys
    blocks = (lanes + SCAN_LANE_BLOCK - 1) // SCAN_LANE_BLOCK
    tasks = outer * blocks
    threads = _threads_for(tasks, num_threads)
    with nogil:
        for task in prange(tasks, num_threads=threads, schedule='static'):
            o = task // blocks
            c = (task % blocks) * SCAN_LANE_BLOCK
            if real is float:
                segment_kernels().logcumsumexp_f32(xp + o * xs0 + c * xl, xl, xs, yp + o * ys0 + c * yl,
                                                 yl, ys, n, min(SCAN_LANE_BLOCK, lanes - c),
                                                 exclusive)
            else:
                segment_kernels().logcumsumexp_f64(xp + o * xs0 + c * xl, xl, xs, yp + o * ys0 + c * yl,
                                                 yl, ys, n, min(SCAN_LANE_BLOCK, lanes - c),
                                                 exclusive)
