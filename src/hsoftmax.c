/* The hierarchical softmax kernels for float and double (see hsoftmax.h). */
#include "hsoftmax.h"

#include <math.h>

#define T float
#define SUF f32
#include "hsoftmax_impl.h"
#undef T
#undef SUF

#define T double
#define SUF f64
#include "hsoftmax_impl.h"
#undef T
#undef SUF
