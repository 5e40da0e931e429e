/*
 * Loss kernels (cross-entropy, NLL, focal, BCE, ...): a table of their own,
 * instantiated per dtype and ISA level beside the normaliser kernels
 * (kernels_isa.h includes loss_impl.h and loss_isa.h) and chosen with them.
 * Same rules as csoftmax.h: Python validates everything first, kernels never
 * fail, never allocate, run without the GIL.
 */
#ifndef CSOFTMAX_LOSS_H
#define CSOFTMAX_LOSS_H

#include <stddef.h>

typedef struct csm_loss_table {
    const char *name;
} csm_loss_table;

const csm_loss_table *csm_loss_table_baseline(void);
const csm_loss_table *csm_loss_table_avx2(void);
const csm_loss_table *csm_loss_table_avx512(void);

/* The loss table for a level (NULL if the level is not usable). */
const csm_loss_table *csm_loss_isa_table(int level);

#endif
