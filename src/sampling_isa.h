/*
 * Body of one ISA build of the sampling kernels (sampling_baseline.c,
 * sampling_avx2.c, sampling_avx512.c): instantiates sampling_impl.h for float
 * and double and exports the table as CSM_SAMPLING_TABLE_FN(). The including
 * file has already set the target and CSM_VBYTES.
 */
#include "sampling.h"
#include "simd.h"

#define CSM_TEMPLATE "sampling_impl.h"
#include "instantiate_types.h"

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
