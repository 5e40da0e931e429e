/* Sampling kernels for any CPU the compiler targets by default (x86-64: SSE2),
 * and the choice of sampling table for an ISA level. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "csoftmax.h"
#include "isa_tables.h"

#define CSM_VBYTES 16
#define CSM_SAMPLING_ISA_NAME "baseline"
#define CSM_SAMPLING_TABLE_FN csm_sampling_table_baseline
#include "sampling_isa.h"

size_t csm_sampling_work_bytes(ptrdiff_t n) { return csm_sample_work_size(n); }

CSM_ISA_TABLE_CHOOSER(csm_sampling_table, csm_sampling_isa_table, csm_sampling_table)
