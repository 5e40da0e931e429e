/* Segments-family kernels for x86-64-v4 (AVX-512 F/BW/DQ/VL), chosen at run time where the CPU has them. */
#include <stddef.h>

#include "isa_target.h"
#include "segments.h"

#if CSM_X86_TARGETS
CSM_TARGET_BEGIN("avx,avx2,fma,bmi,bmi2,lzcnt,popcnt,f16c,movbe,avx512f,avx512bw,avx512dq,avx512vl")
#define CSM_VBYTES 64
#define CSM_ISA_NAME_STR "avx512"
#define CSM_SEGMENT_TABLE_FN csm_segment_table_avx512
#include "segments_isa.h"
CSM_TARGET_END
#else
const csm_segment_table *csm_segment_table_avx512(void) { return NULL; }
#endif
