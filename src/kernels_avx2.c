/* Normalisers and losses for x86-64-v3 (AVX2 + FMA), chosen at run time. */
#define CSM_BUILD_AVX2
#define CSM_FAMILY_ISA_H "kernels_isa.h"
#include "isa_build.h"
