/*
 * csoftmax C core: the kernel table shared by the ISA builds and the Cython layer,
 * and the normalisers' layouts and flags.
 *
 * Every kernel works on one of two layouts of a (outer, n, inner) view, where n is
 * the reduced axis:
 *   rows: inner == 1 and each slice is contiguous; `rows` slices `row_step`
 *         elements apart.
 *   cols: `width` slices that sit side by side in memory (stride 1 across them),
 *         element j of each slice `step` elements after element j - 1.
 * logsumexp's weights b (or NULL) share x's layout and strides. Rows shorter
 * than two vectors are processed a vector of rows at a time.
 * Strides are in elements. Kernels never fail and never allocate: Python has
 * validated everything before the call, and kernels run without the GIL.
 * Pointers may alias (in-place softmax), so none is marked restrict.
 */
#ifndef CSOFTMAX_H
#define CSOFTMAX_H

#include <stddef.h>

/* flags */
#define CSM_LOG 1          /* log_softmax instead of softmax */
#define CSM_MASKED 2       /* a slice whose max is -inf was fully masked: softmax 0, log_softmax -inf */
#define CSM_RETURN_SIGN 4  /* logsumexp: a negative sum gives (log|s|, -1) instead of nan */

/* ISA levels, in increasing order of capability */
#define CSM_ISA_BASELINE 0
#define CSM_ISA_AVX2 1
#define CSM_ISA_AVX512 2
#define CSM_ISA_COUNT 3

/* Rows at least this long are split over threads (norm_huge_row, lse_huge_row);
 * equal to HUGE_ROW in huge_row_impl.h. */
#define CSM_HUGE_ROW (1 << 16)

#include "kernel_list.h"

/* The kernels of one ISA build, one member per entry of CSM_KERNEL_LIST
 * (kernel_list.h), for float and double, and of CSM_UNTYPED_KERNEL_LIST. */
typedef struct csm_kernel_table {
    const char *name;
    CSM_KERNEL_LIST(CSM_TABLE_MEMBER, , float, f32)
    CSM_KERNEL_LIST(CSM_TABLE_MEMBER, , double, f64)
    CSM_UNTYPED_KERNEL_LIST(CSM_TABLE_MEMBER, )
} csm_kernel_table;

/* The test-only kernels of one ISA build (CSM_TEST_KERNEL_LIST). */
typedef struct csm_test_table {
    const char *name;
    CSM_TEST_KERNEL_LIST(CSM_TABLE_MEMBER, )
} csm_test_table;

/* Each ISA build's tables (kernels_<isa>.c); dispatch.c calls only those the
 * platform compiles. */
#define CSM_DECLARE_TABLES(isa)                                                           \
    const csm_kernel_table *csm_##isa##_table(void);                                      \
    const csm_test_table *csm_##isa##_test_table(void);
CSM_DECLARE_TABLES(baseline)
CSM_DECLARE_TABLES(avx2)
CSM_DECLARE_TABLES(avx512)

/* 1 if the level was compiled in and the running CPU (and OS) supports it. */
int csm_isa_usable(int level);
/* 1 if the level was compiled in at all. */
int csm_isa_compiled(int level);
/* A level's tables (NULL if it is not usable). */
const csm_kernel_table *csm_isa_table(int level);
const csm_test_table *csm_isa_test_table(int level);

#endif
