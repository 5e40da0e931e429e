/* Sparse normalisers for any CPU the compiler targets by default (x86-64: SSE2). */
#define CSM_FAMILY_ISA_H "sparse_isa.h"
#include "isa_build.h"
