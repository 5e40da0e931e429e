/* Sampling kernels for any CPU the compiler targets by default (x86-64: SSE2),
 * and the choice of sampling table for an ISA level. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "csoftmax.h"

#define CSM_VBYTES 16
#define CSM_SAMPLING_ISA_NAME "baseline"
#define CSM_SAMPLING_TABLE_FN csm_sampling_table_baseline
#include "sampling_isa.h"

size_t csm_sampling_work_bytes(ptrdiff_t n) { return csm_sample_work_size(n); }

typedef const csm_sampling_table *(*sampling_table_getter)(void);
static const sampling_table_getter getters[CSM_ISA_COUNT] = {
    csm_sampling_table_baseline, csm_sampling_table_avx2, csm_sampling_table_avx512};

const csm_sampling_table *csm_sampling_isa_table(int level) {
    return csm_isa_usable(level) ? getters[level]() : NULL;
}
