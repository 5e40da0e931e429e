/* Normalisers and losses for x86-64-v4 (AVX-512 F/BW/DQ/VL), chosen at run time where the CPU has them. */
#include <math.h>
#include <stddef.h>

#include "isa_target.h"

#if CSM_X86_TARGETS
CSM_TARGET_BEGIN(CSM_AVX512_TARGET)
#define CSM_VBYTES 64
#define CSM_ISA_NAME_STR "avx512"
#define CSM_ISA_PREFIX csm_avx512_
#include "kernels_isa.h"
CSM_TARGET_END
#endif
