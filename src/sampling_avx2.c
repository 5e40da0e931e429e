/* Sampling kernels for x86-64-v3 (AVX2 + FMA), chosen at run time where the CPU has them. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "isa_target.h"
#include "sampling.h"

#if CSM_X86_TARGETS
CSM_TARGET_BEGIN("avx,avx2,fma,bmi,bmi2,lzcnt,popcnt,f16c,movbe")
#define CSM_VBYTES 32
#define CSM_SAMPLING_ISA_NAME "avx2"
#define CSM_SAMPLING_TABLE_FN csm_sampling_table_avx2
#include "sampling_isa.h"
CSM_TARGET_END
#else
const csm_sampling_table *csm_sampling_table_avx2(void) { return NULL; }
#endif
