/*
 * Hierarchical softmax kernels (csoftmax.vocab.HierarchicalSoftmax): the
 * per-example walk along a class's path in a binary tree, its gradient, and
 * the full distribution over the leaves. Instantiated once per element type
 * from hsoftmax_impl.h (hsoftmax.c); plain C, no ISA dispatch: the work is a
 * few dot products per example.
 *
 * Same rules as csoftmax.h: Python validates everything first, kernels never
 * fail, never allocate, run without the GIL, and every output element is
 * computed by exactly one caller-chosen range, so results do not depend on how
 * the caller splits the work over threads.
 *
 * Vocabulary: the C - 1 internal nodes of the tree have rows of node_weight
 * (dim each) and entries of node_bias; node n's score for hidden vector h is
 * z = node_weight[n] . h + node_bias[n], and the walk goes to the right child
 * with probability sigmoid(z), to the left with sigmoid(-z). A class's path is
 * its list of (node, sign), sign +1 for right and -1 for left, so that
 * log p(class) = sum over its path of log_sigmoid(sign * z).
 */
#ifndef CSOFTMAX_HSOFTMAX_H
#define CSOFTMAX_HSOFTMAX_H

#include <stddef.h>
#include <stdint.h>

#define CSM_DECLARE_HS_KERNELS(T, SUF)                                                       \
    void csm_hs_paths_##SUF(const T *hidden, ptrdiff_t dim, const T *node_weight,            \
                            const T *node_bias, const int64_t *entry_offsets,                \
                            const int64_t *entry_nodes, const int8_t *entry_signs,           \
                            ptrdiff_t lo, ptrdiff_t hi, double grad_scale, double *log_prob, \
                            T *coef, T *d_hidden);                                           \
    void csm_hs_accumulate_##SUF(const T *hidden, ptrdiff_t dim, const int64_t *order,      \
                                 const int64_t *entry_rows, const T *coef,                   \
                                 const int64_t *run_starts, const int64_t *run_nodes,        \
                                 ptrdiff_t lo, ptrdiff_t hi, T *d_weight, T *d_bias);        \
    void csm_hs_log_proba_##SUF(const T *scores, ptrdiff_t n_nodes, const int64_t *children, \
                                ptrdiff_t lo, ptrdiff_t hi, double *node_log_prob, T *out);

CSM_DECLARE_HS_KERNELS(float, f32)
CSM_DECLARE_HS_KERNELS(double, f64)

#endif
