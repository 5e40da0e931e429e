/* Picks the sparse normalisers' table for an ISA level, as dispatch.c does for the normalisers. */
#include "csoftmax.h"
#include "sparse.h"

typedef const csm_sparse_table *(*sparse_table_getter)(void);
static const sparse_table_getter getters[CSM_ISA_COUNT] = {
    csm_sparse_table_baseline, csm_sparse_table_avx2, csm_sparse_table_avx512};

const csm_sparse_table *csm_sparse_isa_table(int level) {
    return csm_isa_usable(level) ? getters[level]() : NULL;
}
