/* Picks the loss table for an ISA level, as dispatch.c does for the normalisers. */
#include "csoftmax.h"
#include "loss.h"

typedef const csm_loss_table *(*loss_table_getter)(void);
static const loss_table_getter getters[CSM_ISA_COUNT] = {
    csm_loss_table_baseline, csm_loss_table_avx2, csm_loss_table_avx512};

const csm_loss_table *csm_loss_isa_table(int level) {
    return csm_isa_usable(level) ? getters[level]() : NULL;
}
