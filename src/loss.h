/*
 * The loss kernels' parameters (cross-entropy, NLL, focal, BCE, ...). The
 * kernels are entries of the kernel table (kernel_list.h), instantiated per
 * dtype and ISA level beside the normalisers (kernels_instance.h includes the
 * loss_*_impl.h templates). Per-row losses are written in double; gradients
 * in the logits' type.
 */
#ifndef CSOFTMAX_LOSS_H
#define CSOFTMAX_LOSS_H

#include <stddef.h>
#include <stdint.h>

/* Scalars of a class-index cross-entropy or focal call (see ce_rows in loss_softmax_impl.h). */
typedef struct csm_ce_params {
    int64_t ignore_index;
    double smoothing;  /* label_smoothing (cross-entropy) */
    double weight_sum; /* sum of the class weights (C without weights) */
    double grad_scale; /* d reduced loss / d loss of a row */
    int focal;         /* 1: softmax focal loss instead of cross-entropy */
    double gamma;      /* focal */
    double alpha;      /* focal, used when there is no per-class alpha */
} csm_ce_params;

/* Scalars of a fused linear cross-entropy's gradient tile (lce_grad_rows in
 * linear_ce_impl.h). */
typedef struct csm_lce_params {
    int64_t ignore_index;
    double smoothing;  /* label_smoothing */
    double vocabulary; /* V, the classes of the whole row */
    double z_loss;     /* the z-loss weight (0: none) */
    double cap;        /* the soft cap (0: none) */
    double grad_scale; /* d reduced loss / d loss of a row */
} csm_lce_params;

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

/* Scalars of an element-wise loss call (see elem_loss in loss_elementwise_impl.h). */
typedef struct csm_elem_params {
    int kind;                        /* CSM_BCE, ... */
    ptrdiff_t n;                     /* row length of the grid the operands live on (BCE) */
    csm_operand weight, pos_weight;  /* BCE, in the logits' type */
    double gamma, alpha;             /* sigmoid focal: alpha < 0 turns alpha_t off */
    double grad_scale;               /* d reduced loss / d element loss */
} csm_elem_params;

#endif
