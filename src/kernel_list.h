/*
 * The one list of kernels: every entry of the kernel table, written once. From
 * it come the table's type (csoftmax.h), each ISA build's table (kernels_isa.h,
 * filled by name with designated initializers, so two kernels of the same
 * signature cannot trade places) and the declarations of the kernels that
 * other translation units define. Adding a kernel is one line here plus its
 * code.
 *
 * CSM_KERNEL_LIST(X, P, T, SUF) calls X(P, unit, name, return type,
 * (parameters)) for every kernel of element type T (SUF f32 or f64). `unit`
 * says where the kernel is compiled: `local` in the translation unit of the
 * table (kernels_<isa>.c: the normalisers and the losses, static there),
 * `exported` in a family's own translation units (sparse_<isa>.c, ...), which
 * define it under the name P<name> (CSM_EXPORT), P being the ISA build's
 * prefix csm_baseline_, csm_avx2_ or csm_avx512_.
 *
 * Same rules for every kernel: Python validates everything first; kernels
 * never fail, never allocate (the caller hands out any scratch space), run
 * without the GIL, and give results that do not depend on the thread count.
 */
#ifndef CSOFTMAX_KERNEL_LIST_H
#define CSOFTMAX_KERNEL_LIST_H

#include <stddef.h>
#include <stdint.h>

#include "loss.h"
#include "sampling.h"
#include "segments.h"
#include "sparse.h"
#include "tiles.h"

#define CSM_KERNEL_LIST(X, P, T, SUF)                                                        \
    /* normalisers (normalize_impl.h, logsumexp_impl.h, huge_row_impl.h) */                 \
    X(P, local, norm_rows_##SUF, void,                                                      \
      (const T *x, ptrdiff_t x_row_step, T *y, ptrdiff_t y_row_step, ptrdiff_t rows,         \
       ptrdiff_t n, T scale, int flags))                                                    \
    X(P, local, norm_cols_##SUF, void,                                                      \
      (const T *x, ptrdiff_t x_step, T *y, ptrdiff_t y_step, ptrdiff_t n, ptrdiff_t width,   \
       T scale, int flags))                                                                 \
    X(P, local, lse_rows_##SUF, void,                                                       \
      (const T *x, ptrdiff_t x_row_step, const T *b, T *result, T *sign, ptrdiff_t rows,     \
       ptrdiff_t n, int flags))                                                             \
    X(P, local, lse_cols_##SUF, void,                                                       \
      (const T *x, ptrdiff_t x_step, const T *b, T *result, T *sign, ptrdiff_t n,            \
       ptrdiff_t width, int flags))                                                         \
    /* one row of n >= CSM_HUGE_ROW elements, split over `threads` OpenMP threads */   \
    X(P, local, norm_huge_row_##SUF, void,                                                  \
      (const T *x, T *y, ptrdiff_t n, T scale, int flags, int threads))                     \
    X(P, local, lse_huge_row_##SUF, void,                                                   \
      (const T *x, const T *b, ptrdiff_t n, int flags, int threads, T *result, T *sign))    \
    /* softmax, log_softmax and logsumexp over operands the kernels above cannot read in   \
     * place, through a thread's tile (tiles_impl.h): tasks [first, first + count) of a     \
     * call, huge rows split over row_threads; logsumexp into result / sign ((outer,         \
     * inner), contiguous, T). k: this build's table, whose kernels run on the tiles */     \
    X(P, exported, norm_tiled_##SUF, void,                                                  \
      (const struct csm_kernel_table *k, const csm_tiled *call, ptrdiff_t first,           \
       ptrdiff_t count, T *tile, int row_threads))                                          \
    X(P, exported, lse_tiled_##SUF, void,                                                   \
      (const struct csm_kernel_table *k, const csm_tiled *call, ptrdiff_t first,           \
       ptrdiff_t count, T *tile, T *result, T *sign, int row_threads))                      \
    /* softmax losses (loss_softmax_impl.h) */                                              \
    X(P, local, ce_rows_##SUF, void,                                                        \
      (const T *x, ptrdiff_t x_row_step, const int64_t *labels, const T *class_weight,       \
       ptrdiff_t rows, ptrdiff_t n, const csm_ce_params *params, double *loss, T *grad,      \
       ptrdiff_t grad_row_step))                                                            \
    X(P, local, ce_cols_##SUF, void,                                                        \
      (const T *x, ptrdiff_t x_class_step, const int64_t *labels, const T *class_weight,     \
       ptrdiff_t width, ptrdiff_t n, const csm_ce_params *params, double *loss, T *grad,     \
       ptrdiff_t grad_class_step))                                                          \
    X(P, local, ce_huge_row_##SUF, void,                                                    \
      (const T *x, int64_t label, const T *class_weight, ptrdiff_t n,                       \
       const csm_ce_params *params, double *loss, T *grad, int threads))                    \
    X(P, local, ce_prob_rows_##SUF, void,                                                   \
      (const T *x, ptrdiff_t x_row_step, const T *target, ptrdiff_t t_row_step,             \
       const T *class_weight, ptrdiff_t rows, ptrdiff_t n, double smoothing,                \
       double grad_scale, double *loss, T *grad, ptrdiff_t grad_row_step))                  \
    X(P, local, ce_prob_cols_##SUF, void,                                                   \
      (const T *x, ptrdiff_t x_class_step, const T *target, ptrdiff_t t_class_step,         \
       const T *class_weight, ptrdiff_t width, ptrdiff_t n, double smoothing,               \
       double grad_scale, double *loss, T *grad, ptrdiff_t grad_class_step))                \
    X(P, local, ce_prob_huge_row_##SUF, void,                                               \
      (const T *x, const T *target, const T *class_weight, ptrdiff_t n, double smoothing,   \
       double grad_scale, double *loss, T *grad, int threads))                              \
    X(P, local, entropy_rows_##SUF, void,                                                   \
      (const T *x, ptrdiff_t x_row_step, ptrdiff_t rows, ptrdiff_t n, double *result))      \
    /* a tile of logits into its gradient, in place, given the rows' log-sum-exps            \
     * (linear_ce_impl.h) */                                                                \
    X(P, local, lce_grad_rows_##SUF, void,                                                  \
      (T *x, ptrdiff_t row_step, ptrdiff_t rows, ptrdiff_t n, const T *lse,                 \
       const int64_t *labels, ptrdiff_t first_class, const csm_lce_params *params))         \
    /* element-wise losses (loss_elementwise_impl.h) */                                     \
    X(P, local, elem_loss_##SUF, double,                                                    \
      (const T *x, const T *t, ptrdiff_t lo, ptrdiff_t hi, const csm_elem_params *params,   \
       T *loss, T *grad))                                                                   \
    X(P, local, logistic_rows_##SUF, void, (const T *x, T *y, ptrdiff_t n, int log))        \
    /* NLL and the softmax backward passes (loss_backward_impl.h) */                        \
    X(P, local, nll_rows_##SUF, double,                                                     \
      (const T *x, ptrdiff_t outer_step, ptrdiff_t class_step, ptrdiff_t inner_step,        \
       ptrdiff_t C, ptrdiff_t inner, const int64_t *labels, const double *w,                \
       int64_t ignore_index, ptrdiff_t lo, ptrdiff_t hi, double grad_scale, double *loss,   \
       T *grad))                                                                            \
    X(P, local, softmax_bwd_rows_##SUF, void,                                               \
      (const T *g, ptrdiff_t g_row_step, const T *y, ptrdiff_t y_row_step, T *out,          \
       ptrdiff_t out_row_step, ptrdiff_t rows, ptrdiff_t n, int log))                       \
    X(P, local, softmax_bwd_cols_##SUF, void,                                               \
      (const T *g, ptrdiff_t g_step, const T *y, ptrdiff_t y_step, T *out,                  \
       ptrdiff_t out_step, ptrdiff_t n, ptrdiff_t width, int log))                          \
    /* sparse normalisers (sparse_impl.h) */                                                \
    /* y = map(x) for `rows` rows of n elements; work: n doubles */                      \
    X(P, exported, sparse_forward_##SUF, void,                                                \
      (const T *x, csm_rows xs, T *y, csm_rows ys, ptrdiff_t rows, ptrdiff_t n,             \
       const csm_sparse_map *map, double *work, T *tile))                                   \
    /* dx = d map / dx applied to g at output y; alpha_grad (per row, or NULL) */       \
    X(P, exported, sparse_backward_##SUF, void,                                               \
      (const T *g, csm_rows gs, const T *y, csm_rows ys, T *dx, csm_rows dxs,               \
       ptrdiff_t rows, ptrdiff_t n, const csm_sparse_map *map, double *alpha_grad,          \
       T *tile))                                                                            \
    /* Fenchel-Young loss per row; grad (or NULL) = grad_scale (p - onehot) */           \
    X(P, exported, sparse_loss_##SUF, void,                                                   \
      (const T *x, csm_rows xs, const int64_t *labels, int64_t ignore_index, ptrdiff_t rows, \
       ptrdiff_t n, const csm_sparse_map *map, double grad_scale, double *loss, T *grad,    \
       csm_rows grads, double *work))                                                       \
    /* segments and prefixes (segments_impl.h) */                                           \
    /* `lanes` running log-sum-exps, lane l's element j at x[l x_lane_step + j x_step] */ \
    X(P, exported, logcumsumexp_##SUF, void,                                                \
      (const T *x, ptrdiff_t x_lane_step, ptrdiff_t x_step, T *y, ptrdiff_t y_lane_step,    \
       ptrdiff_t y_step, ptrdiff_t n, ptrdiff_t lanes, int exclusive))                      \
    /* the scatter passes of a segment softmax by segment id (segments.h) */           \
    X(P, exported, scatter_max_##SUF, void,                                                 \
      (const T *x, ptrdiff_t step, ptrdiff_t positions, ptrdiff_t inner,                    \
       const int64_t *index, T *peak))                                                      \
    X(P, exported, scatter_exp_sum_##SUF, void,                                             \
      (const T *x, ptrdiff_t step, ptrdiff_t positions, ptrdiff_t inner,                    \
       const int64_t *index, const T *peak, double *total, T *exps, int keep_exps,          \
       int flags))                                                                          \
    X(P, exported, scatter_write_##SUF, void,                                               \
      (const T *x, ptrdiff_t step, T *y, ptrdiff_t positions, ptrdiff_t inner,              \
       const int64_t *index, const T *peak, const double *total, int flags))                \
    /* the short segments from `first` on; returns the first segment left */            \
    X(P, exported, segment_short_##SUF, ptrdiff_t,                                          \
      (const T *x, ptrdiff_t step, T *y, ptrdiff_t y_step, ptrdiff_t inner,                 \
       const int64_t *offsets, ptrdiff_t first, ptrdiff_t last, int flags))                 \
    /* sampling (sampling_impl.h) */                                                        \
    /* tokens kept, or CSM_SAMPLE_*; draws when at least one is kept */                   \
    X(P, exported, sample_row_##SUF, int64_t,                                               \
      (const T *x, ptrdiff_t n, ptrdiff_t step, const csm_sample_filter *filter,            \
       const csm_sample_draws *draws, void *work))                                          \
    /* the k largest of log_softmax(x / temperature), descending, with indices */      \
    X(P, exported, top_logprobs_row_##SUF, void,                                            \
      (const T *x, ptrdiff_t n, ptrdiff_t step, double temperature, ptrdiff_t k, T *values, \
       int64_t *indices, void *work))                                                       \
    /* y = (x + g) / tau, g the Gumbel noise of (key, row, column) */                   \
    X(P, exported, gumbel_logits_row_##SUF, void,                                           \
      (const T *x, ptrdiff_t n, ptrdiff_t step, T *y, ptrdiff_t y_step, uint64_t key,       \
       uint64_t row, double tau))

/* Kernels of no element type, one each per ISA build: the scans of a segment
 * index (segments_index_impl.h). */
#define CSM_UNTYPED_KERNEL_LIST(X, P)                                                       \
    /* offsets (segments + 1) of an index that never decreases, its ids in              \
     * [0, segments): 1, or 0 (offsets unfinished) where it is not such an index */        \
    X(P, exported, index_offsets, int,                                                      \
      (const int64_t *index, ptrdiff_t n, int64_t *offsets, ptrdiff_t segments))           \
    /* the position of the first negative id (-1 if none) and the largest id (-1 if n     \
     * is 0; not all ids read where one is negative) */                                   \
    X(P, exported, index_summary, void,                                                     \
      (const int64_t *index, ptrdiff_t n, ptrdiff_t *negative, int64_t *top))

/* Kernels only the tests call, in a table of their own: vmath.h's exp and
 * log_softmax's log1p (csm_log1p_f64, over u >= 0), element by element. */
#define CSM_TEST_KERNEL_LIST(X, P)                                                          \
    X(P, local, exp_array_f32, void, (const float *x, float *y, ptrdiff_t n))                     \
    X(P, local, exp_array_f64, void, (const double *x, double *y, ptrdiff_t n))                   \
    X(P, local, log1p_array_f64, void, (const double *u, double *y, ptrdiff_t n))

/* X for a table's type: one member per kernel */
#define CSM_TABLE_MEMBER(P, unit, name, ret, params) ret(*name) params;

/* X for the declarations of the kernels that another translation unit defines */
#define CSM_DECLARE_EXPORTED(P, unit, name, ret, params) CSM_DECLARE_##unit(P, name, ret, params)
#define CSM_DECLARE_local(P, name, ret, params)
#define CSM_DECLARE_exported(P, name, ret, params) ret CSM_EXPORT_PASTE(P, name) params;

/* X for a table's initializer: a local kernel by its own name, another unit's by P<name> */
#define CSM_TABLE_ENTRY(P, unit, name, ret, params) .name = CSM_ENTRY_##unit(P, name),
#define CSM_ENTRY_local(P, name) name
#define CSM_ENTRY_exported(P, name) CSM_EXPORT_PASTE(P, name)

/* A kernel's definition in its family's template: the exported name P<name>
 * of the ISA build being compiled (CSM_ISA_PREFIX), non-static. */
#define CSM_EXPORT(name) CSM_EXPORT_PASTE(CSM_ISA_PREFIX, name)
#define CSM_EXPORT_PASTE(prefix, name) CSM_EXPORT_PASTE_(prefix, name)
#define CSM_EXPORT_PASTE_(prefix, name) prefix##name

#endif
