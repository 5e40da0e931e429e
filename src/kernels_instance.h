/*
 * One instance of the kernel templates for the element type set by the
 * includer (T, SUF, VT, VI; see kernels_impl.h); undefines everything after.
 */
#include "kernels_impl.h"
#include "loss_impl.h" /* may use kernels_impl.h's helpers */

#undef V
#undef K
#undef LANES
#undef EXP_NORMAL_MIN
#undef UNROLL
#undef SUM_BLOCK
#undef ROW_BLOCK
#undef ROW_LOOP
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
