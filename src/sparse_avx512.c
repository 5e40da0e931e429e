/* Sparse normalisers for x86-64-v4 (AVX-512 F/BW/DQ/VL), chosen at run time where the CPU has them. */
#include "isa_target.h"
#include "sparse.h"

#if CSM_X86_TARGETS
CSM_TARGET_BEGIN("avx,avx2,fma,bmi,bmi2,lzcnt,popcnt,f16c,movbe,avx512f,avx512bw,avx512dq,avx512vl")
#define CSM_ISA_NAME_STR "avx512"
#define CSM_SPARSE_TABLE_FN csm_sparse_table_avx512
#include "sparse_isa.h"
CSM_TARGET_END
#else
const csm_sparse_table *csm_sparse_table_avx512(void) { return NULL; }
#endif
