/* Sparse normalisers for any CPU the compiler targets by default (x86-64: SSE2). */
#define CSM_ISA_NAME_STR "baseline"
#define CSM_SPARSE_TABLE_FN csm_sparse_table_baseline
#include "sparse_isa.h"
