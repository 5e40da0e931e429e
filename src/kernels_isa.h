/*
 * Body of one ISA build (kernels_baseline.c, kernels_avx2.c, kernels_avx512.c):
 * instantiates the kernel templates for float and double and exports the
 * tables as csm_table_<isa>() and csm_loss_table_<isa>(). The including file
 * has already set the target and CSM_VBYTES.
 */
#include "csoftmax.h"
#include "simd.h"

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

#define CSM_TABLE_ENTRIES(SUF) \
    norm_rows_##SUF, norm_cols_##SUF, lse_rows_##SUF, lse_cols_##SUF, norm_huge_row_##SUF, \
        lse_huge_row_##SUF, exp_array_##SUF

static const csm_kernel_table table = {
    CSM_ISA_NAME_STR,
    CSM_TABLE_ENTRIES(f32),
    CSM_TABLE_ENTRIES(f64),
    log1p_array_f64,
};

const csm_kernel_table *CSM_TABLE_FN(void) { return &table; }

#include "loss_isa.h"
