/*
 * Instantiates a family's template for float and double: define CSM_TEMPLATE
 * (the template header's name, in quotes) and include this file. T, SUF and,
 * where simd.h is included, VT and VI are set for each element type around
 * the template's inclusion and undefined after it; CSM_TEMPLATE too.
 */
#define T float
#define SUF f32
#define VT csm_vf32
#define VI csm_vi32
#include CSM_TEMPLATE
#undef T
#undef SUF
#undef VT
#undef VI

#define T double
#define SUF f64
#define VT csm_vf64
#define VI csm_vi64
#include CSM_TEMPLATE
#undef T
#undef SUF
#undef VT
#undef VI

#undef CSM_TEMPLATE
