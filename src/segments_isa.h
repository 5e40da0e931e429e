/*
 * Body of one ISA build of the segments family (segments_baseline.c,
 * segments_avx2.c, segments_avx512.c): instantiates segments_impl.h for float
 * and double and compiles the index scans (segments_index_impl.h); the
 * kernels take this build's exported names (kernel_list.h's CSM_EXPORT; that
 * ISA's table points at them). The including file has set
 * the target, CSM_VBYTES and CSM_ISA_PREFIX.
 */
#include <math.h>

#include "kernel_list.h"
#include "segments.h"
#include "vmath.h"

#define CSM_CAT_INNER(a, b) a##b
#define CSM_CAT(a, b) CSM_CAT_INNER(a, b)

/* the kernels' prototypes, which their definitions must match */
CSM_KERNEL_LIST(CSM_DECLARE_EXPORTED, CSM_ISA_PREFIX, float, f32)
CSM_KERNEL_LIST(CSM_DECLARE_EXPORTED, CSM_ISA_PREFIX, double, f64)

#define CSM_TEMPLATE "segments_impl.h"
#include "instantiate_types.h"

CSM_UNTYPED_KERNEL_LIST(CSM_DECLARE_EXPORTED, CSM_ISA_PREFIX)
#include "segments_index_impl.h"
