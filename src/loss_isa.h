/* The loss table of one ISA build; included at the end of kernels_isa.h. */
#include "loss.h"

#define CSM_LOSS_TABLE_ENTRIES(SUF)                                                       \
    ce_rows_##SUF, ce_cols_##SUF, ce_huge_row_##SUF, ce_prob_rows_##SUF, ce_prob_cols_##SUF, \
        ce_prob_huge_row_##SUF, entropy_rows_##SUF, elem_loss_##SUF, logistic_rows_##SUF, nll_rows_##SUF,          \
        softmax_bwd_rows_##SUF, softmax_bwd_cols_##SUF

static const csm_loss_table loss_table = {
    CSM_ISA_NAME_STR,
    CSM_LOSS_TABLE_ENTRIES(f32),
    CSM_LOSS_TABLE_ENTRIES(f64),
};

const csm_loss_table *CSM_LOSS_TABLE_FN(void) { return &loss_table; }
