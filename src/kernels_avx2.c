/* Kernels for x86-64-v3 (AVX2 + FMA), chosen at run time where the CPU has them. */
#include <math.h>
#include <stddef.h>

#include "csoftmax.h"
#include "isa_target.h"

#if CSM_X86_TARGETS
CSM_TARGET_BEGIN("avx,avx2,fma,bmi,bmi2,lzcnt,popcnt,f16c,movbe")
#define CSM_VBYTES 32
#define CSM_ISA_NAME_STR "avx2"
#define CSM_TABLE_FN csm_table_avx2
#define CSM_LOSS_TABLE_FN csm_loss_table_avx2
#include "kernels_isa.h"
CSM_TARGET_END
#else
#include "loss.h"
const csm_kernel_table *csm_table_avx2(void) { return NULL; }
const csm_loss_table *csm_loss_table_avx2(void) { return NULL; }
#endif
