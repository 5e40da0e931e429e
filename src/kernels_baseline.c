/* Normalisers and losses for any CPU the compiler targets by default (x86-64: SSE2). */
#include <math.h>
#include <stddef.h>

#define CSM_VBYTES 16
#define CSM_ISA_NAME_STR "baseline"
#define CSM_ISA_PREFIX csm_baseline_
#include "kernels_isa.h"
