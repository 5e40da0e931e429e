/* The one dispatch: which ISA builds exist, which the running CPU can run, and
 * their kernel tables. */
#include "csoftmax.h"
#include "isa_target.h"

typedef struct {
    const csm_kernel_table *(*table)(void);
    const csm_test_table *(*test_table)(void);
} isa_build;

/* Levels above the baseline exist only where isa_target.h compiles them. */
static const isa_build builds[CSM_ISA_COUNT] = {
    [CSM_ISA_BASELINE] = {csm_baseline_table, csm_baseline_test_table},
#if CSM_X86_TARGETS
    [CSM_ISA_AVX2] = {csm_avx2_table, csm_avx2_test_table},
    [CSM_ISA_AVX512] = {csm_avx512_table, csm_avx512_test_table},
#endif
};

int csm_isa_compiled(int level) {
    return level >= 0 && level < CSM_ISA_COUNT && builds[level].table != NULL;
}

/* Every feature a level's compile target enables (isa_target.h's lists). */
static int cpu_supports(int level) {
#if CSM_X86_TARGETS
#define CSM_CPU_HAS(feature) &&__builtin_cpu_supports(#feature)
    __builtin_cpu_init(); /* needed before __builtin_cpu_supports outside constructors */
    switch (level) {
    case CSM_ISA_BASELINE: return 1;
    case CSM_ISA_AVX2: return 1 CSM_AVX2_FEATURES(CSM_CPU_HAS);
    case CSM_ISA_AVX512: return 1 CSM_AVX512_FEATURES(CSM_CPU_HAS);
    default: return 0;
    }
#undef CSM_CPU_HAS
#else
    return level == CSM_ISA_BASELINE;
#endif
}

int csm_isa_usable(int level) { return csm_isa_compiled(level) && cpu_supports(level); }

const csm_kernel_table *csm_isa_table(int level) {
    return csm_isa_usable(level) ? builds[level].table() : NULL;
}

const csm_test_table *csm_isa_test_table(int level) {
    return csm_isa_usable(level) ? builds[level].test_table() : NULL;
}
