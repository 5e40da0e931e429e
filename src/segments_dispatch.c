/* Picks the segments-family table for an ISA level, as dispatch.c does for the normalisers. */
#include "isa_tables.h"
#include "segments.h"

CSM_ISA_TABLE_CHOOSER(csm_segment_table, csm_segment_isa_table, csm_segment_table)
