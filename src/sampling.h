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

#define CSM_DECLARE_SAMPLING(T, SUF)                                                      \
    /* the number of tokens of positive probability kept, or CSM_SAMPLE_*; draws only  \
     * when that is at least 1 (and at least num_samples without replacement) */        \
    int64_t (*sample_row_##SUF)(const T *x, ptrdiff_t n, ptrdiff_t step,                  \
                                const csm_sample_filter *filter,                          \
                                const csm_sample_draws *draws, void *work);               \
    /* the k largest of log_softmax(x / temperature), descending, and their indices */   \
    void (*top_logprobs_row_##SUF)(const T *x, ptrdiff_t n, ptrdiff_t step,               \
                                   double temperature, ptrdiff_t k, T *values,            \
                                   int64_t *indices, void *work);                         \
    /* y = (x + g) / tau, g the Gumbel noise of (key, row, column) */                     \
    void (*gumbel_logits_row_##SUF)(const T *x, ptrdiff_t n, ptrdiff_t step, T *y,        \
                                    ptrdiff_t y_step, uint64_t key, uint64_t row,         \
                                    double tau);

typedef struct csm_sampling_table {
    const char *name;
    CSM_DECLARE_SAMPLING(float, f32)
    CSM_DECLARE_SAMPLING(double, f64)
} csm_sampling_table;

/* Bytes of workspace one thread needs for rows of n elements. */
size_t csm_sampling_work_bytes(ptrdiff_t n);

const csm_sampling_table *csm_sampling_table_baseline(void);
const csm_sampling_table *csm_sampling_table_avx2(void);
const csm_sampling_table *csm_sampling_table_avx512(void);
/* The table for an ISA level (NULL if not usable). */
const csm_sampling_table *csm_sampling_isa_table(int level);

#endif
