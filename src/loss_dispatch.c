/* Picks the loss table for an ISA level, as dispatch.c does for the normalisers. */
#include "isa_tables.h"
#include "loss.h"

CSM_ISA_TABLE_CHOOSER(csm_loss_table, csm_loss_isa_table, csm_loss_table)
