/*
 * Body of one ISA build of the sparse normalisers (sparse_baseline.c,
 * sparse_avx2.c, sparse_avx512.c): instantiates sparse_impl.h for float and
 * double, whose kernels take this build's exported names (kernel_list.h's
 * CSM_EXPORT; that ISA's table points at them). The including file has
 * already set the target and CSM_ISA_PREFIX.
 */
#include "kernel_list.h"
#include "sparse.h"

/* No a * b + c fused into one rounding: where the compiler fuses depends on
 * whether a loop was vectorised, so a contiguous row and a strided view of it
 * would differ in the last bit. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

/* the kernels' prototypes, which their definitions must match */
CSM_KERNEL_LIST(CSM_DECLARE_EXPORTED, CSM_ISA_PREFIX, float, f32)
CSM_KERNEL_LIST(CSM_DECLARE_EXPORTED, CSM_ISA_PREFIX, double, f64)

#define CSM_TEMPLATE "sparse_impl.h"
#include "instantiate_types.h"
