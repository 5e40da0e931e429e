# Compiled core of csoftmax.vocab: included into _core.pyx. Python has
# validated shapes, dtypes and index ranges before any call.


def scatter_add_rows(double[:, ::1] out, const int64_t[::1] slot, const real[::1] coef,
                     const int64_t[::1] source_row, const real[:, ::1] source):
    """out[slot[j]] += coef[j] * source[source_row[j]] for j = 0, 1, ... in order.

    Sums a sparse gradient's rows (several uses of one class id land in one
    slot) in float64 and in a fixed order, so results are deterministic.
    One thread: slots repeat, and the work is small beside the BLAS calls
    around it."""
    cdef Py_ssize_t j, k, target, row
    cdef Py_ssize_t count = slot.shape[0], width = out.shape[1]
    cdef double scale
    with nogil:
        for j in range(count):
            target = slot[j]
            row = source_row[j]
            scale = coef[j]
            for k in range(width):
                out[target, k] += scale * source[row, k]
