/*
 * Body of one ISA build of the normalisers and losses (kernels_baseline.c,
 * kernels_avx2.c, kernels_avx512.c): instantiates their templates for float
 * and double and exports this build's kernel table and test table, filled by
 * name from the one list (kernel_list.h): its own kernels, and those the
 * families' translation units of the same ISA export. The including file has
 * already set the target, CSM_VBYTES, CSM_ISA_NAME_STR and CSM_ISA_PREFIX.
 */
#include "csoftmax.h"
#include "vmath.h"

#define T float
#define SUF f32
#define VT csm_vf32
#define VI csm_vi32
#include "kernels_instance.h"

#define T double
#define SUF f64
#define VT csm_vf64
#define VI csm_vi64
#include "kernels_instance.h"

/* csm_log1p_f64 elementwise over u >= 0 (for tests) */
static void log1p_array_f64(const double *u, double *y, ptrdiff_t n) {
    ptrdiff_t i;
    for (i = 0; i + csm_lanes_f64 <= n; i += csm_lanes_f64)
        csm_store_f64(y + i, csm_log1p_f64(csm_load_f64(u + i)));
    if (i < n) csm_storep_f64(y + i, csm_log1p_f64(csm_loadp_f64(u + i, n - i, 0)), n - i);
}

CSM_KERNEL_LIST(CSM_DECLARE_EXPORTED, CSM_ISA_PREFIX, float, f32)
CSM_KERNEL_LIST(CSM_DECLARE_EXPORTED, CSM_ISA_PREFIX, double, f64)
CSM_UNTYPED_KERNEL_LIST(CSM_DECLARE_EXPORTED, CSM_ISA_PREFIX)

static const csm_kernel_table table = {
    .name = CSM_ISA_NAME_STR,
    CSM_KERNEL_LIST(CSM_TABLE_ENTRY, CSM_ISA_PREFIX, float, f32)
    CSM_KERNEL_LIST(CSM_TABLE_ENTRY, CSM_ISA_PREFIX, double, f64)
    CSM_UNTYPED_KERNEL_LIST(CSM_TABLE_ENTRY, CSM_ISA_PREFIX)
};

static const csm_test_table test_table = {
    .name = CSM_ISA_NAME_STR,
    CSM_TEST_KERNEL_LIST(CSM_TABLE_ENTRY, CSM_ISA_PREFIX)
};

const csm_kernel_table *CSM_EXPORT(table)(void) { return &table; }
const csm_test_table *CSM_EXPORT(test_table)(void) { return &test_table; }
