/*
 * Tiled reductions: softmax, log_softmax and logsumexp over operands the
 * kernels cannot read in place (a reduced axis with a non-unit stride, rows
 * side by side as in Fortran order, float16 / bfloat16 storage, a float32
 * input computed in float64, a where= mask). A few slices at a time are
 * packed into a per-thread contiguous tile in the compute type, the unchanged
 * kernels of csoftmax.h run on the tile, and the tile is unpacked into the
 * output. The tile has the layout the kernels get for the contiguous copy of
 * the operand (row step n for rows, contiguous columns for columns), so every
 * result is bitwise that of the contiguous copy.
 *
 * Same rules as csoftmax.h: Python validates everything first, kernels never
 * fail, never allocate (the caller hands each thread its tile), run without
 * the GIL. Steps here are in BYTES (operands of different element sizes meet).
 */
#ifndef CSOFTMAX_TILES_H
#define CSOFTMAX_TILES_H

#include <stddef.h>

struct csm_kernel_table; /* csoftmax.h: the tiles run the table's kernels */

/* storage kinds of an operand */
enum { CSM_KIND_F32 = 0, CSM_KIND_F64 = 1, CSM_KIND_F16 = 2, CSM_KIND_BF16 = 3 };

/* A strided (outer, n, inner) operand; steps in bytes, any sign. data NULL: absent. */
typedef struct csm_tile_operand {
    char *data;
    ptrdiff_t outer_step, n_step, inner_step;
    int kind; /* CSM_KIND_*; a mask is bytes of 0 / 1 and ignores kind */
} csm_tile_operand;

/* One tiled reduction over axis 1 of (outer, n, inner) operands. */
typedef struct csm_tiled {
    csm_tile_operand x;
    csm_tile_operand y;    /* softmax / log_softmax output (unused by logsumexp) */
    csm_tile_operand b;    /* logsumexp weights, or data NULL */
    csm_tile_operand mask; /* where= (entries 0 are masked out), or data NULL */
    ptrdiff_t n, inner;
    double scale;   /* softmax(scale x); 1 for logsumexp */
    double divisor; /* logsumexp: x / divisor in the compute type (1: none) */
    int flags;      /* CSM_LOG, CSM_MASKED, CSM_RETURN_SIGN */
} csm_tiled;

/* Slices of a tile: rows of n (inner == 1) or a block of columns. A tile
 * holds CSM_TILE_BYTES or one row / CSM_TILE_MIN_WIDTH columns, whichever is
 * more; rows that sit closer together than their elements (a transposed or
 * Fortran-ordered array) a multiple of CSM_TILE_ACROSS_ROWS (rounded up,
 * while that many rows take at most CSM_TILE_ACROSS_BYTES), so that they are
 * packed and unpacked a vector of rows at a time (a transpose in registers)
 * and each cache line read serves several rows. */
#define CSM_TILE_BYTES (1 << 19)
#define CSM_TILE_MAX_ROWS 64
#define CSM_TILE_ACROSS_ROWS 8
#define CSM_TILE_ACROSS_BYTES (1 << 22)
#define CSM_TILE_MIN_WIDTH 16
#define CSM_TILE_MAX_WIDTH 1024

static inline ptrdiff_t csm_step_magnitude(ptrdiff_t step) { return step < 0 ? -step : step; }

/* Whether an operand's rows sit closer together than their elements */
static inline int csm_rows_side_by_side(const csm_tile_operand *op) {
    return op->data && csm_step_magnitude(op->outer_step) < csm_step_magnitude(op->n_step);
}

/* Rows of the call's n elements of `item` bytes per tile (inner == 1). */
static inline ptrdiff_t csm_tile_rows(const struct csm_tiled *call, ptrdiff_t item) {
    ptrdiff_t rows = CSM_TILE_BYTES / (call->n * item);
    rows = rows < 1 ? 1 : rows > CSM_TILE_MAX_ROWS ? CSM_TILE_MAX_ROWS : rows;
    if ((csm_rows_side_by_side(&call->x) || csm_rows_side_by_side(&call->y)) &&
        CSM_TILE_ACROSS_ROWS * call->n * item <= CSM_TILE_ACROSS_BYTES)
        rows = (rows + CSM_TILE_ACROSS_ROWS - 1) / CSM_TILE_ACROSS_ROWS * CSM_TILE_ACROSS_ROWS;
    return rows;
}

/* Whether the kernels write a tile's output to its second half rather than
 * over the packed input: in place, a short row's first loads would wait for
 * the masked store of the previous row's tail. Slices longer than
 * CSM_TILE_BYTES (the stall negligible, the tile as large as a slice) are
 * computed in place. */
static inline int csm_tile_separate_output(const struct csm_tiled *call, ptrdiff_t item) {
    return call->y.data && call->n * item <= CSM_TILE_BYTES;
}

/* Columns per tile (inner > 1): a multiple of CSM_TILE_MIN_WIDTH, or inner. */
static inline ptrdiff_t csm_tile_width(ptrdiff_t n, ptrdiff_t inner, ptrdiff_t item) {
    ptrdiff_t width = CSM_TILE_BYTES / (n * item) / CSM_TILE_MIN_WIDTH * CSM_TILE_MIN_WIDTH;
    width = width < CSM_TILE_MIN_WIDTH ? CSM_TILE_MIN_WIDTH
            : width > CSM_TILE_MAX_WIDTH ? CSM_TILE_MAX_WIDTH : width;
    return width < inner ? width : inner;
}

/* Tasks of a call: rows, or (outer, column block) pairs. */
static inline ptrdiff_t csm_tile_tasks(const csm_tiled *call, ptrdiff_t outer, ptrdiff_t item) {
    if (call->inner == 1) return outer;
    const ptrdiff_t width = csm_tile_width(call->n, call->inner, item);
    return outer * ((call->inner + width - 1) / width);
}

/* Elements of compute type a thread's tile holds: twice the slices' with
 * weights b (logsumexp) or a separate output (csm_tile_separate_output). */
static inline ptrdiff_t csm_tile_length(const csm_tiled *call, ptrdiff_t item) {
    const ptrdiff_t slices = call->inner == 1 ? csm_tile_rows(call, item)
                                              : csm_tile_width(call->n, call->inner, item);
    return slices * call->n * (call->b.data || csm_tile_separate_output(call, item) ? 2 : 1);
}

#endif
