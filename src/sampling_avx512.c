/* Sampling kernels for x86-64-v4 (AVX-512), chosen at run time. */
#define CSM_BUILD_AVX512
#define CSM_FAMILY_ISA_H "sampling_isa.h"
#include "isa_build.h"
