/* Tiled reductions for any CPU the compiler targets by default (x86-64: SSE2). */
#define CSM_ISA_PREFIX csm_baseline_
#include "tiles_isa.h"
