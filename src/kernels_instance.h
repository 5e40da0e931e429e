/*
 * One instance of the kernel templates for the element type set by the
 * includer (T, SUF, VT, VI; see kernels_impl.h); undefines everything after.
 */
/* the passes and helpers every family below uses */
#include "kernels_impl.h"
#include "normalize_impl.h"
#include "logsumexp_impl.h"
#include "loss_softmax_impl.h"
#include "linear_ce_impl.h"
/* after the families whose row passes it splits over threads */
#include "huge_row_impl.h"
#include "loss_elementwise_impl.h"
#include "loss_backward_impl.h"

#undef V
#undef K
#undef LANES
#undef EXP_NORMAL_MIN
#undef K_WIDE
#undef FORM_NORMAL
#undef FORM_UNIT
#undef BY_FORM
#undef BY_FORM_AND_BASE
#undef SHIFT_RANGE
#undef GRID_ULPS
#undef ROUNDER
#undef TWO_BIAS_POWER
#undef EXP_SHIFTER
#undef LN2
#undef OFFSET_EXPS
#undef UNROLL
#undef SUM_BLOCK
#undef ROW_BLOCK
#undef ROW_LOOP
#undef ROW_LOOP_FLUSHED
#undef ELEM_BLOCKS
#undef SUM_FLUSH_EVERY
#undef NO_FLUSH
#undef SHORT_ROW
#undef MAX_SLICES
#undef MAX_VECTORS
#undef SLICES_LOOP
#undef SHORT_ROWS_GROUP
#undef HUGE_ROW
#undef MAX_CHUNKS
#undef T
#undef SUF
#undef VT
#undef VI
