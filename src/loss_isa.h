/* The loss table of one ISA build; included at the end of kernels_isa.h. */
#include "loss.h"

static const csm_loss_table loss_table = {
    CSM_ISA_NAME_STR,
};

const csm_loss_table *CSM_LOSS_TABLE_FN(void) { return &loss_table; }
