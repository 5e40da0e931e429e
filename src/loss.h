/*
 * Loss kernels (cross-entropy, NLL, focal, BCE, ...): a table of their own,
 * instantiated per dtype and ISA level beside the normaliser kernels
 * (kernels_isa.h includes loss_impl.h and loss_isa.h) and chosen with them.
 * Same rules as csoftmax.h: Python validates everything first, kernels never
 * fail, never allocate, run without the GIL.
 */
#ifndef CSOFTMAX_LOSS_H
#define CSOFTMAX_LOSS_H

#include <stddef.h>
#include <stdint.h>

/* Scalars of a class-index cross-entropy or focal call (see ce_rows in loss_impl.h). */
typedef struct csm_ce_params {
    int64_t ignore_index;
    double smoothing;  /* label_smoothing (cross-entropy) */
    double weight_sum; /* sum of the class weights (C without weights) */
    double grad_scale; /* d reduced loss / d loss of a row */
    int focal;         /* 1: softmax focal loss instead of cross-entropy */
    double gamma;      /* focal */
    double alpha;      /* focal, used when there is no per-class alpha */
} csm_ce_params;

#define CSM_DECLARE_LOSS_KERNELS(T, SUF)                                                     \
    void (*ce_rows_##SUF)(const T *x, ptrdiff_t x_row_step, const int64_t *labels,           \
                          const T *class_weight, ptrdiff_t rows, ptrdiff_t n,                \
                          const csm_ce_params *params, double *loss, T *grad,                \
                          ptrdiff_t grad_row_step);                                          \
    void (*ce_prob_rows_##SUF)(const T *x, ptrdiff_t x_row_step, const T *target,            \
                               ptrdiff_t t_row_step, const T *class_weight, ptrdiff_t rows,  \
                               ptrdiff_t n, double smoothing, double grad_scale,             \
                               double *loss, T *grad, ptrdiff_t grad_row_step);              \
    void (*entropy_rows_##SUF)(const T *x, ptrdiff_t x_row_step, ptrdiff_t rows, ptrdiff_t n, \
                               double *result);

/* Per-row losses are written in double; gradients in the logits' type. */
typedef struct csm_loss_table {
    const char *name;
    CSM_DECLARE_LOSS_KERNELS(float, f32)
    CSM_DECLARE_LOSS_KERNELS(double, f64)
} csm_loss_table;

const csm_loss_table *csm_loss_table_baseline(void);
const csm_loss_table *csm_loss_table_avx2(void);
const csm_loss_table *csm_loss_table_avx512(void);

/* The loss table for a level (NULL if the level is not usable). */
const csm_loss_table *csm_loss_isa_table(int level);

#endif
