/* Picks the sparse normalisers' table for an ISA level, as dispatch.c does for the normalisers. */
#include "isa_tables.h"
#include "sparse.h"

CSM_ISA_TABLE_CHOOSER(csm_sparse_table, csm_sparse_isa_table, csm_sparse_table)
