/*
 * The choice of a kernel family's table for an ISA level: each family's three
 * ISA builds export PREFIX_baseline(), PREFIX_avx2() and PREFIX_avx512() (NULL
 * where a build is absent); CSM_ISA_TABLE_CHOOSER(type, name, PREFIX) defines
 * `const type *name(int level)`, that level's table, or NULL where the CPU or
 * the build cannot run it.
 */
#ifndef CSOFTMAX_ISA_TABLES_H
#define CSOFTMAX_ISA_TABLES_H

#include "csoftmax.h"

#define CSM_ISA_TABLE_CHOOSER(type, name, prefix)                                          \
    const type *name(int level) {                                                          \
        static const type *(*const getters[CSM_ISA_COUNT])(void) = {                       \
            prefix##_baseline, prefix##_avx2, prefix##_avx512};                            \
        return csm_isa_usable(level) ? getters[level]() : NULL;                            \
    }

#endif
