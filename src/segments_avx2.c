/* Segments-family kernels for x86-64-v3 (AVX2 + FMA), chosen at run time where the CPU has them. */
#include <stddef.h>

#include "isa_target.h"
#include "segments.h"

#if CSM_X86_TARGETS
CSM_TARGET_BEGIN("avx,avx2,fma,bmi,bmi2,lzcnt,popcnt,f16c,movbe")
#define CSM_VBYTES 32
#define CSM_ISA_NAME_STR "avx2"
#define CSM_SEGMENT_TABLE_FN csm_segment_table_avx2
#include "segments_isa.h"
CSM_TARGET_END
#else
const csm_segment_table *csm_segment_table_avx2(void) { return NULL; }
#endif
