/*
 * Segments-and-prefixes family: the kernels that the normaliser table does not
 * cover (segment softmax itself runs the normaliser kernels on each segment,
 * csoftmax/_segments_core.pxi). A table of its own, instantiated per dtype and
 * ISA level in segments_<isa>.c and chosen with the others.
 * Same rules as csoftmax.h: Python validates everything first, kernels never
 * fail, never allocate, run without the GIL; pointers may alias.
 */
#ifndef CSOFTMAX_SEGMENTS_H
#define CSOFTMAX_SEGMENTS_H

#include <stddef.h>
#include <stdint.h>

/* Positions per block of scatter_exp_sum: their exps are formed a block at a time
 * (its `exps` holds a block when keep_exps is 0). */
#define CSM_SCATTER_BLOCK 1024
/* Segments shorter than this (and of at most CSM_SHORT_CHUNK entries) go through
 * segment_short: many at a time, where a kernel call per segment would cost more
 * than the segment's arithmetic. */
#define CSM_SHORT_SEGMENT 64
#define CSM_SHORT_CHUNK 4096
/* segment_short: log_softmax instead of softmax / logsumexp instead of softmax */
#define CSM_SHORT_LOG 1
#define CSM_SHORT_LSE 2

/* scatter_exp_sum: x == peak counts exp(0) = 1 (equal infinities), as a logsumexp needs */
#define CSM_SCATTER_EQUAL_IS_ONE 1
/* scatter_write: log_softmax, (x - peak) - total (total holds the logs of the sums);
 * without it, softmax: y * total (y holds the exps, total the reciprocal sums) */
#define CSM_SCATTER_LOG 2

#define CSM_DECLARE_SEGMENT_KERNELS(T, SUF)                                                  \
    /* `lanes` independent running log-sum-exps: lane l's element j sits at                \
     * x[l * x_lane_step + j * x_step] (steps may be negative: reverse); exclusive:          \
     * y[j] covers elements 0 .. j - 1 (y[0] = -inf) instead of 0 .. j */                  \
    void (*logcumsumexp_##SUF)(const T *x, ptrdiff_t x_lane_step, ptrdiff_t x_step, T *y,  \
                               ptrdiff_t y_lane_step, ptrdiff_t y_step, ptrdiff_t n,       \
                               ptrdiff_t lanes, int exclusive);                        \
    /* scatter passes of a segment softmax by segment id over a (positions, inner)        \
     * slice, inner contiguous, positions `step` apart; peak and total are              \
     * (segments, inner), peak starts at -inf and total at 0 */                          \
    void (*scatter_max_##SUF)(const T *x, ptrdiff_t step, ptrdiff_t positions,             \
                              ptrdiff_t inner, const int64_t *index, T *peak);             \
    void (*scatter_exp_sum_##SUF)(const T *x, ptrdiff_t step, ptrdiff_t positions,         \
                                  ptrdiff_t inner, const int64_t *index, const T *peak,    \
                                  double *total, T *exps, int keep_exps, int flags);       \
    void (*scatter_write_##SUF)(const T *x, ptrdiff_t step, T *y, ptrdiff_t positions,     \
                                ptrdiff_t inner, const int64_t *index, const T *peak,      \
                                const double *total, int flags);                        \
    /* softmax, log_softmax or logsumexp of the short segments from `first` on (up to \
     * `last`), a (positions, inner) slice as above; returns the first segment left  \
     * (a long one, or last). Segment s's result: y[i * y_step + h] for its positions, \
     * or y[s * inner + h] (CSM_SHORT_LSE) */                                          \
    ptrdiff_t (*segment_short_##SUF)(const T *x, ptrdiff_t step, T *y, ptrdiff_t y_step,   \
                                     ptrdiff_t inner, const int64_t *offsets,              \
                                     ptrdiff_t first, ptrdiff_t last, int flags);

typedef struct csm_segment_table {
    const char *name;
    CSM_DECLARE_SEGMENT_KERNELS(float, f32)
    CSM_DECLARE_SEGMENT_KERNELS(double, f64)
} csm_segment_table;

const csm_segment_table *csm_segment_table_baseline(void);
const csm_segment_table *csm_segment_table_avx2(void);
const csm_segment_table *csm_segment_table_avx512(void);
/* The table for a level (NULL if not usable), as csm_isa_table. */
const csm_segment_table *csm_segment_isa_table(int level);

#endif
