/* Sampling kernels for any CPU the compiler targets by default (x86-64: SSE2). */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define CSM_VBYTES 16
#define CSM_ISA_PREFIX csm_baseline_
#include "sampling_isa.h"

size_t csm_sampling_work_bytes(ptrdiff_t n) { return csm_sample_work_size(n); }
