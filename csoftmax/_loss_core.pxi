# Compiled core of the losses: included into _core.pyx (one extension, one
# kernel dispatch). Same conventions as the normalisers there: Python has
# validated everything; this layer partitions rows over threads without the GIL.

cdef extern from "loss.h" nogil:
    ctypedef struct csm_loss_table:
        const char *name
    const csm_loss_table *csm_loss_isa_table(int level)

cdef const csm_loss_table *loss_kernels = NULL


cdef _select_loss_kernels(int level):
    global loss_kernels
    loss_kernels = csm_loss_isa_table(level)
