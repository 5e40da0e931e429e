/*
 * Loss kernel template, included by kernels_isa.h once per element type right
 * after kernels_impl.h, with the same T, SUF, VT, VI (see kernels_impl.h).
 */
