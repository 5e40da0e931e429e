/* Segments-family kernels for any CPU the compiler targets by default (x86-64: SSE2). */
#define CSM_VBYTES 16
#define CSM_ISA_NAME_STR "baseline"
#define CSM_SEGMENT_TABLE_FN csm_segment_table_baseline
#include "segments_isa.h"
