/*
 * Body of one ISA build of the segments family (segments_baseline.c,
 * segments_avx2.c, segments_avx512.c): instantiates segments_impl.h for float
 * and double and exports the table. The including file has set the target and
 * CSM_VBYTES.
 */
#include <math.h>

#include "segments.h"
#include "simd.h"

#define CSM_CAT_INNER(a, b) a##b
#define CSM_CAT(a, b) CSM_CAT_INNER(a, b)

#define CSM_TEMPLATE "segments_impl.h"
#include "instantiate_types.h"

static const csm_segment_table segment_table = {
    .name = CSM_ISA_NAME_STR,
    .logcumsumexp_f32 = logcumsumexp_f32,
    .logcumsumexp_f64 = logcumsumexp_f64,
    .scatter_max_f32 = scatter_max_f32,
    .scatter_max_f64 = scatter_max_f64,
    .scatter_exp_sum_f32 = scatter_exp_sum_f32,
    .scatter_exp_sum_f64 = scatter_exp_sum_f64,
    .scatter_write_f32 = scatter_write_f32,
    .scatter_write_f64 = scatter_write_f64,
    .segment_short_f32 = segment_short_f32,
    .segment_short_f64 = segment_short_f64,
};

const csm_segment_table *CSM_SEGMENT_TABLE_FN(void) { return &segment_table; }
