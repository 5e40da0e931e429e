/*
 * Body of one ISA build of the sampling kernels (sampling_baseline.c,
 * sampling_avx2.c, sampling_avx512.c): instantiates sampling_impl.h for float
 * and double, whose kernels take this build's exported names (kernel_list.h's
 * CSM_EXPORT; that ISA's table points at them). The including file has
 * already set the target, CSM_VBYTES and CSM_ISA_PREFIX.
 */
#include "kernel_list.h"
#include "sampling.h"
#include "vmath.h"

/* the kernels' prototypes, which their definitions must match */
CSM_KERNEL_LIST(CSM_DECLARE_EXPORTED, CSM_ISA_PREFIX, float, f32)
CSM_KERNEL_LIST(CSM_DECLARE_EXPORTED, CSM_ISA_PREFIX, double, f64)

#define CSM_TEMPLATE "sampling_impl.h"
#include "instantiate_types.h"
