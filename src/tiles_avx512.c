/* Tiled reductions for x86-64-v4 (AVX-512 F/BW/DQ/VL), chosen at run time where the CPU has
 * them: the AVX2 packing, the AVX-512 kernels of the table handed in. */
#include "isa_target.h"

#if CSM_X86_TARGETS
CSM_TARGET_BEGIN(CSM_AVX512_TARGET)
#define CSM_ISA_PREFIX csm_avx512_
#include "tiles_isa.h"
CSM_TARGET_END
#endif
