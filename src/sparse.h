/*
 * Sparse normalisers (sparsemax, entmax-1.5, alpha-entmax by bisection), their
 * backward passes and Fenchel-Young losses: a table of their own, instantiated
 * per dtype (sparse_impl.h) and per ISA level (sparse_baseline.c,
 * sparse_avx2.c, sparse_avx512.c) and chosen at run time like the others.
 * Same rules as csoftmax.h: Python validates everything first, kernels never
 * fail, never allocate (the caller hands each thread a scratch row of n
 * doubles), run without the GIL.
 *
 * Rows are strided: element j of row r of an array a sits at
 * a[r * row_step + j * col_step] (steps in elements, any sign), so every
 * layout is read in place. A row's result depends on its values only.
 */
#ifndef CSOFTMAX_SPARSE_H
#define CSOFTMAX_SPARSE_H

#include <stddef.h>
#include <stdint.h>

enum { CSM_SPARSEMAX = 0, CSM_ENTMAX15 = 1, CSM_ENTMAX_BISECT = 2 };

/* One sparse map: which one, its bisection steps, and alpha per row
 * (alpha[r * alpha_step]; alpha_step 0 for one value; CSM_ENTMAX_BISECT only). */
typedef struct csm_sparse_map {
    int kind;
    int n_iter;
    const double *alpha;
    ptrdiff_t alpha_step;
} csm_sparse_map;

/* A strided block of rows (see above). */
typedef struct csm_rows {
    ptrdiff_t row_step;
    ptrdiff_t col_step;
} csm_rows;

/* Rows whose elements are not contiguous (a class axis other than the last)
 * are gathered this many at a time into a contiguous tile, so that each cache
 * line of the input is read once; `tile` holds CSM_SPARSE_TILE_ROWS * n
 * elements (forward) or three times that (backward), or is NULL: then such
 * rows are read in place. */
#define CSM_SPARSE_TILE_ROWS 64

#define CSM_DECLARE_SPARSE_KERNELS(T, SUF)                                                   \
    /* y = map(x) for `rows` rows of n elements; work: n doubles */                         \
    void (*sparse_forward_##SUF)(const T *x, csm_rows xs, T *y, csm_rows ys, ptrdiff_t rows, \
                                 ptrdiff_t n, const csm_sparse_map *map, double *work,      \
                                 T *tile);                                                   \
    /* dx = d map / dx applied to g at output y; alpha_grad (per row, or NULL) */           \
    void (*sparse_backward_##SUF)(const T *g, csm_rows gs, const T *y, csm_rows ys, T *dx,   \
                                  csm_rows dxs, ptrdiff_t rows, ptrdiff_t n,                \
                                  const csm_sparse_map *map, double *alpha_grad, T *tile);  \
    /* Fenchel-Young loss per row into loss (double); grad (or NULL) = grad_scale *        \
     * (p - onehot), 0 for a row whose label is ignore_index */                             \
    void (*sparse_loss_##SUF)(const T *x, csm_rows xs, const int64_t *labels,               \
                              int64_t ignore_index, ptrdiff_t rows, ptrdiff_t n,            \
                              const csm_sparse_map *map, double grad_scale, double *loss,   \
                              T *grad, csm_rows grads, double *work);

typedef struct csm_sparse_table {
    const char *name;
    CSM_DECLARE_SPARSE_KERNELS(float, f32)
    CSM_DECLARE_SPARSE_KERNELS(double, f64)
} csm_sparse_table;

const csm_sparse_table *csm_sparse_table_baseline(void);
const csm_sparse_table *csm_sparse_table_avx2(void);
const csm_sparse_table *csm_sparse_table_avx512(void);

/* The table for a level (NULL if the level is not usable). */
const csm_sparse_table *csm_sparse_isa_table(int level);

#endif
