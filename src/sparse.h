/*
 * Sparse normalisers (sparsemax, entmax-1.5, alpha-entmax by bisection), their
 * backward passes and Fenchel-Young losses: entries of the kernel table
 * (kernel_list.h), instantiated per dtype (sparse_impl.h) and per ISA level in
 * translation units of their own (sparse_baseline.c, sparse_avx2.c,
 * sparse_avx512.c).
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

#endif
