/* Picks the kernel table for the running CPU: which ISA builds exist and are usable. */
#include "csoftmax.h"
#include "isa_target.h"

typedef const csm_kernel_table *(*table_getter)(void);
static const table_getter getters[CSM_ISA_COUNT] = {csm_table_baseline, csm_table_avx2,
                                                    csm_table_avx512};

int csm_isa_compiled(int level) {
    return level >= 0 && level < CSM_ISA_COUNT && getters[level]() != NULL;
}

static int cpu_supports(int level) {
#if CSM_X86_TARGETS
    __builtin_cpu_init(); /* needed before __builtin_cpu_supports outside constructors */
    switch (level) {
    case CSM_ISA_BASELINE: return 1;
    case CSM_ISA_AVX2:
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
               __builtin_cpu_supports("bmi2");
    case CSM_ISA_AVX512:
        return cpu_supports(CSM_ISA_AVX2) && __builtin_cpu_supports("avx512f") &&
               __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
               __builtin_cpu_supports("avx512vl");
    default: return 0;
    }
#else
    return level == CSM_ISA_BASELINE;
#endif
}

int csm_isa_usable(int level) { return csm_isa_compiled(level) && cpu_supports(level); }

const csm_kernel_table *csm_isa_table(int level) {
    return csm_isa_usable(level) ? getters[level]() : NULL;
}
