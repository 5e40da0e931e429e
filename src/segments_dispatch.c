/* Picks the segments-family table for an ISA level, as dispatch.c does for the normalisers. */
#include "csoftmax.h"
#include "segments.h"

typedef const csm_segment_table *(*segment_table_getter)(void);
static const segment_table_getter getters[CSM_ISA_COUNT] = {
    csm_segment_table_baseline, csm_segment_table_avx2, csm_segment_table_avx512};

const csm_segment_table *csm_segment_isa_table(int level) {
    return csm_isa_usable(level) ? getters[level]() : NULL;
}
