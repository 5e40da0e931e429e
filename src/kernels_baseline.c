/* Kernels for any CPU the compiler targets by default (x86-64: SSE2). */
#include <math.h>
#include <stddef.h>

#define CSM_VBYTES 16
#define CSM_ISA_NAME_STR "baseline"
#define CSM_TABLE_FN csm_table_baseline
#define CSM_LOSS_TABLE_FN csm_loss_table_baseline
#include "kernels_isa.h"
