/* The hierarchical softmax kernels for float and double (see hsoftmax.h). */
#include "hsoftmax.h"

#include <math.h>

#define CSM_TEMPLATE "hsoftmax_impl.h"
#include "instantiate_types.h"
