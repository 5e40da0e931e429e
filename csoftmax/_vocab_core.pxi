# Compiled core of csoftmax.vocab: included into _core.pyx. Python has
# validated shapes, dtypes and index ranges before any call.


def segment_rows(real[:, ::1] out, const int64_t[::1] starts, const int64_t[::1] order,
                 const real[::1] coef, const int64_t[::1] source_row, const real[:, ::1] source):
    """out[i] = sum of coef[j] * source[source_row[j]] for j in
    order[starts[i]:starts[i + 1]], summed in float64 in that order.

    The rows of a sparse gradient: `order` groups the uses of each class id
    (a stable sort keeps them in their original order, so results are
    deterministic), and out is written once, row after row."""
    cdef Py_ssize_t i, p, j, k, row
    cdef Py_ssize_t width = out.shape[1]
    cdef double scale
    cdef double *acc = <double *> malloc(max(width, 1) * sizeof(double))
    if acc == NULL:
        raise MemoryError()
    with nogil:
        for i in range(out.shape[0]):
            for k in range(width):
                acc[k] = 0.0
            for p in range(starts[i], starts[i + 1]):
                j = order[p]
                row = source_row[j]
                scale = coef[j]
                for k in range(width):
                    acc[k] += scale * source[row, k]
            for k in range(width):
                out[i, k] = <real> acc[k]
    free(acc)
