/* Tiled reductions for any CPU the compiler targets by default (x86-64: SSE2). */
#define CSM_FAMILY_ISA_H "tiles_isa.h"
#include "isa_build.h"
