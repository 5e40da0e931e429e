/* Sparse normalisers for x86-64-v3 (AVX2 + FMA), chosen at run time where the CPU has them. */
#include "isa_target.h"
#include "sparse.h"

#if CSM_X86_TARGETS
CSM_TARGET_BEGIN("avx,avx2,fma,bmi,bmi2,lzcnt,popcnt,f16c,movbe")
#define CSM_ISA_NAME_STR "avx2"
#define CSM_SPARSE_TABLE_FN csm_sparse_table_avx2
#include "sparse_isa.h"
CSM_TARGET_END
#else
const csm_sparse_table *csm_sparse_table_avx2(void) { return NULL; }
#endif
