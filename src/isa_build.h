/*
 * One ISA build of one family: the body of every build unit (kernels_<isa>.c,
 * sparse_<isa>.c, ...). The unit names its family's body in CSM_FAMILY_ISA_H
 * and defines CSM_BUILD_AVX2 or CSM_BUILD_AVX512 (neither: the baseline, the
 * compiler's default target). This sets the compile target, the vector width
 * CSM_VBYTES, the level's name CSM_ISA_NAME_STR and its kernel-name prefix
 * CSM_ISA_PREFIX, then compiles the body. A level above the baseline
 * compiles to nothing where isa_target.h has no x86 targets.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "isa_target.h"

#if !defined(CSM_BUILD_AVX2) && !defined(CSM_BUILD_AVX512)
#define CSM_VBYTES 16
#define CSM_ISA_NAME_STR "baseline"
#define CSM_ISA_PREFIX csm_baseline_
#include CSM_FAMILY_ISA_H
#elif CSM_X86_TARGETS
#if defined(CSM_BUILD_AVX512)
CSM_TARGET_BEGIN(CSM_AVX512_TARGET)
#define CSM_VBYTES 64
#define CSM_ISA_NAME_STR "avx512"
#define CSM_ISA_PREFIX csm_avx512_
#else
CSM_TARGET_BEGIN(CSM_AVX2_TARGET)
#define CSM_VBYTES 32
#define CSM_ISA_NAME_STR "avx2"
#define CSM_ISA_PREFIX csm_avx2_
#endif
#include CSM_FAMILY_ISA_H
CSM_TARGET_END
#endif
