/*
 * Body of one ISA build of the sampling kernels (sampling_baseline.c,
 * sampling_avx2.c, sampling_avx512.c): instantiates sampling_impl.h for float
 * and double and exports the table as CSM_SAMPLING_TABLE_FN(). The including
 * file has already set the target and CSM_VBYTES.
 */
#include "sampling.h"
#include "simd.h"

#define T float
#define SUF f32
#define VT csm_vf32
#define VI csm_vi32
#include "sampling_impl.h"
#undef T
#undef SUF
#undef VT
#undef VI

#define T double
#define SUF f64
#define VT csm_vf64
#define VI csm_vi64
#include "sampling_impl.h"
#undef T
#undef SUF
#undef VT
#undef VI

static const csm_sampling_table sampling_table = {
    .name = CSM_SAMPLING_ISA_NAME,
    .sample_row_f32 = sample_row_f32,
    .top_logprobs_row_f32 = top_logprobs_row_f32,
    .gumbel_logits_row_f32 = gumbel_logits_row_f32,
    .sample_row_f64 = sample_row_f64,
    .top_logprobs_row_f64 = top_logprobs_row_f64,
    .gumbel_logits_row_f64 = gumbel_logits_row_f64,
};

const csm_sampling_table *CSM_SAMPLING_TABLE_FN(void) { return &sampling_table; }
