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

/*
 * Element-wise losses (binary cross-entropy, sigmoid focal, KL) run over fixed
 * chunks of this many elements, whatever the thread count; the caller sums the
 * chunks' totals in order, so results are bitwise identical for any count.
 */
#define CSM_ELEM_CHUNK (1 << 14)

/* Columns per call of softmax_bwd_cols (a multiple of every vector width). */
#define CSM_BWD_COLS 256

enum { CSM_BCE = 0, CSM_SIGMOID_FOCAL = 1, CSM_KL = 2, CSM_KL_LOG = 3 };

/* A broadcast operand on the (rows, n) grid: row r, column j is
 * data[r * row_step + j * col_step], col_step 0 or 1; data NULL: absent (1). */
typedef struct csm_operand {
    const void *data;
    ptrdiff_t row_step;
    ptrdiff_t col_step;
} csm_operand;

/* Scalars of an element-wise loss call (see elem_loss in loss_impl.h). */
typedef struct csm_elem_params {
    int kind;                        /* CSM_BCE, ... */
    ptrdiff_t n;                     /* row length of the grid the operands live on (BCE) */
    csm_operand weight, pos_weight;  /* BCE, in the logits' type */
    double gamma, alpha;             /* sigmoid focal: alpha < 0 turns alpha_t off */
    double grad_scale;               /* d reduced loss / d element loss */
} csm_elem_params;

#define CSM_DECLARE_LOSS_KERNELS(T, SUF)                                                     \
    void (*ce_rows_##SUF)(const T *x, ptrdiff_t x_row_step, const int64_t *labels,           \
                          const T *class_weight, ptrdiff_t rows, ptrdiff_t n,                \
                          const csm_ce_params *params, double *loss, T *grad,                \
                          ptrdiff_t grad_row_step);                                          \
    void (*ce_cols_##SUF)(const T *x, ptrdiff_t x_class_step, const int64_t *labels,          \
                          const T *class_weight, ptrdiff_t width, ptrdiff_t n,               \
                          const csm_ce_params *params, double *loss, T *grad,                \
                          ptrdiff_t grad_class_step);                                        \
    void (*ce_huge_row_##SUF)(const T *x, int64_t label, const T *class_weight, ptrdiff_t n, \
                              const csm_ce_params *params, double *loss, T *grad,            \
                              int threads);                                                  \
    void (*ce_prob_rows_##SUF)(const T *x, ptrdiff_t x_row_step, const T *target,            \
                               ptrdiff_t t_row_step, const T *class_weight, ptrdiff_t rows,  \
                               ptrdiff_t n, double smoothing, double grad_scale,             \
                               double *loss, T *grad, ptrdiff_t grad_row_step);              \
    void (*ce_prob_cols_##SUF)(const T *x, ptrdiff_t x_class_step, const T *target,          \
                               ptrdiff_t t_class_step, const T *class_weight, ptrdiff_t width, \
                               ptrdiff_t n, double smoothing, double grad_scale,             \
                               double *loss, T *grad, ptrdiff_t grad_class_step);            \
    void (*ce_prob_huge_row_##SUF)(const T *x, const T *target, const T *class_weight,       \
                                   ptrdiff_t n, double smoothing, double grad_scale,         \
                                   double *loss, T *grad, int threads);                      \
    void (*entropy_rows_##SUF)(const T *x, ptrdiff_t x_row_step, ptrdiff_t rows, ptrdiff_t n, \
                               double *result);                                      \
    double (*elem_loss_##SUF)(const T *x, const T *t, ptrdiff_t lo, ptrdiff_t hi,           \
                              const csm_elem_params *params, T *loss, T *grad);             \
    void (*logistic_rows_##SUF)(const T *x, T *y, ptrdiff_t n, int log);                   \
    double (*nll_rows_##SUF)(const T *x, ptrdiff_t outer_step, ptrdiff_t class_step,        \
                             ptrdiff_t inner_step, ptrdiff_t C, ptrdiff_t inner,            \
                             const int64_t *labels, const double *w, int64_t ignore_index,  \
                             ptrdiff_t lo, ptrdiff_t hi, double grad_scale, double *loss,   \
                             T *grad);                                                      \
    void (*softmax_bwd_rows_##SUF)(const T *g, ptrdiff_t g_row_step, const T *y,            \
                                   ptrdiff_t y_row_step, T *out, ptrdiff_t out_row_step,    \
                                   ptrdiff_t rows, ptrdiff_t n, int log);                   \
    void (*softmax_bwd_cols_##SUF)(const T *g, ptrdiff_t g_step, const T *y,                \
                                   ptrdiff_t y_step, T *out, ptrdiff_t out_step,            \
                                   ptrdiff_t n, ptrdiff_t width, int log);

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
