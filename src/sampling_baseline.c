/* Sampling kernels for any CPU the compiler targets by default (x86-64: SSE2). */
#define CSM_FAMILY_ISA_H "sampling_isa.h"
#include "isa_build.h"

size_t csm_sampling_work_bytes(ptrdiff_t n) { return csm_sample_work_size(n); }
