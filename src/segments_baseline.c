/* Segments-family kernels for any CPU the compiler targets by default (x86-64: SSE2). */
#include <stddef.h>

#define CSM_VBYTES 16
#define CSM_ISA_PREFIX csm_baseline_
#include "segments_isa.h"
