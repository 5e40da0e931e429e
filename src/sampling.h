/*
 * Sampling kernels (csoftmax.sample, top_logprobs, gumbel_softmax): one row of
 * logits at a time, the row's elements `step` apart. Same rules as csoftmax.h:
 * Python validates everything first; kernels never allocate (the caller hands
 * each thread a workspace of csm_sampling_work_bytes(n) bytes) and never
 * depend on which thread runs a row, so results do not depend on the thread
 * count.
 */
#ifndef CSOFTMAX_SAMPLING_H
#define CSOFTMAX_SAMPLING_H

#include <stddef.h>
#include <stdint.h>

/* sample_row's results below 0: the row has no token that can be drawn */
#define CSM_SAMPLE_NO_MASS (-1)   /* every logit is -inf */
#define CSM_SAMPLE_NOT_FINITE (-2) /* a logit is nan or +inf */

/* A row's filters, in the order they apply. top_k <= 0 and top_p >= 1 mean
 * no filter; min_p = 0 keeps every token of positive probability. */
typedef struct csm_sample_filter {
    double temperature;
    int64_t top_k;
    double top_p;
    double min_p;
} csm_sample_filter;

/* One row's draws: uniforms in [0, 1), one per sample; with_replacement = 0
 * draws distinct tokens in sequence. logprob may be NULL. */
typedef struct csm_sample_draws {
    const double *uniforms;
    ptrdiff_t num_samples;
    int with_replacement;
    int64_t *index;
    void *logprob; /* the row's element type */
} csm_sample_draws;

/* Bytes of workspace one thread needs for rows of n elements. */
size_t csm_sampling_work_bytes(ptrdiff_t n);

#endif
