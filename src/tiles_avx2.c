/* Tiled reductions for x86-64-v3 (AVX2 + FMA + F16C), chosen at run time where the CPU has them. */
#include "isa_target.h"

#if CSM_X86_TARGETS
CSM_TARGET_BEGIN(CSM_AVX2_TARGET)
#define CSM_ISA_PREFIX csm_avx2_
#include "tiles_isa.h"
CSM_TARGET_END
#endif
