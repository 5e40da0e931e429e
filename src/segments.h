/*
 * Segments-and-prefixes family: the kernels that the normalisers do not cover
 * (segment softmax itself runs the normaliser kernels on each segment,
 * csoftmax/_segments_core.pxi). Entries of the kernel table (kernel_list.h),
 * instantiated per dtype and ISA level in segments_<isa>.c.
 * Same rules as csoftmax.h: Python validates everything first, kernels never
 * fail, never allocate, run without the GIL; pointers may alias.
 *
 * logcumsumexp: `lanes` independent running log-sum-exps, lane l's element j
 * at x[l * x_lane_step + j * x_step] (steps may be negative: reverse);
 * exclusive: y[j] covers elements 0 .. j - 1 (y[0] = -inf) instead of 0 .. j.
 * scatter_max, scatter_exp_sum, scatter_write: the passes of a segment softmax
 * by segment id over a (positions, inner) slice, inner contiguous, positions
 * `step` apart; peak and total are (segments, inner), peak starts at -inf and
 * total at 0.
 * segment_short: softmax, log_softmax or logsumexp of the short segments from
 * `first` on (up to `last`), a (positions, inner) slice as above; returns the
 * first segment left (a long one, or last). Segment s's result:
 * y[i * y_step + h] for its positions, or y[s * inner + h] (CSM_SHORT_LSE).
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
/* Short segments whose steps segment_short runs together (each step over all
 * of them before the next, so that their latencies overlap). */
#define CSM_SHORT_GROUP 32
/* segment_short: log_softmax instead of softmax / logsumexp instead of softmax */
#define CSM_SHORT_LOG 1
#define CSM_SHORT_LSE 2

/* scatter_exp_sum: x == peak counts exp(0) = 1 (equal infinities), as a logsumexp needs */
#define CSM_SCATTER_EQUAL_IS_ONE 1
/* scatter_write: log_softmax, (x - peak) - total (total holds the logs of the sums);
 * without it, softmax: y * total (y holds the exps, total the reciprocal sums) */
#define CSM_SCATTER_LOG 2

#endif
