/*
 * Body of one ISA build of the sparse normalisers (sparse_baseline.c,
 * sparse_avx2.c, sparse_avx512.c): instantiates sparse_impl.h for float and
 * double and exports the table as CSM_SPARSE_TABLE_FN(). The including file
 * has already set the target.
 */
#include "sparse.h"

/* No a * b + c fused into one rounding: where the compiler fuses depends on
 * whether a loop was vectorised, so a contiguous row and a strided view of it
 * would differ in the last bit. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#define CSM_TEMPLATE "sparse_impl.h"
#include "instantiate_types.h"

static const csm_sparse_table sparse_table = {
    .name = CSM_ISA_NAME_STR,
    .sparse_forward_f32 = sparse_forward_f32,
    .sparse_backward_f32 = sparse_backward_f32,
    .sparse_loss_f32 = sparse_loss_f32,
    .sparse_forward_f64 = sparse_forward_f64,
    .sparse_backward_f64 = sparse_backward_f64,
    .sparse_loss_f64 = sparse_loss_f64,
};

const csm_sparse_table *CSM_SPARSE_TABLE_FN(void) { return &sparse_table; }
