/*
 * Hierarchical softmax kernel template: included by hsoftmax.c once per
 * element type with T (float or double) and SUF (f32 or f64) defined.
 * Sums and log-probabilities are carried in double whatever T is; values are
 * stored in T. See hsoftmax.h for the tree's conventions.
 *
 * Layout: hidden (B, dim) and node_weight (nodes, dim) C-contiguous; each
 * example walks its target's path (its entries' nodes and signs), each
 * thread a contiguous range of examples or of weight-gradient runs.
 * Accuracy: log_sigmoid in double without overflow or cancellation
 * (csm_hs_softplus_neg_abs), so a path's log-probability is the sum of its
 * exact-to-rounding terms; float32 results are the double values rounded.
 */
#ifndef CSM_HS_ONCE
#define CSM_HS_ONCE
#define CSM_HS_CAT2(a, b) a##_##b
#define CSM_HS_CAT(a, b) CSM_HS_CAT2(a, b)

/* log(1 + exp(-|z|)): the shared part of log_sigmoid(z) = min(z, 0) - it and
 * log_sigmoid(-z) = min(-z, 0) - it, exact for any z (no overflow, no
 * cancellation). */
static inline double csm_hs_softplus_neg_abs(double z) { return log1p(exp(-fabs(z))); }
#endif

#define HS(name) CSM_HS_CAT(name, SUF)

static inline double HS(hs_dot)(const T *a, const T *b, ptrdiff_t n) {
    double acc = 0;
#pragma omp simd reduction(+ : acc)
    for (ptrdiff_t j = 0; j < n; ++j) acc += (double)a[j] * (double)b[j];
    return acc;
}

/* y += c * x over n elements. */
static inline void HS(hs_axpy)(T *y, T c, const T *x, ptrdiff_t n) {
#pragma omp simd
    for (ptrdiff_t j = 0; j < n; ++j) y[j] += c * x[j];
}

/*
 * Examples lo..hi-1: example b's path entries are entry_offsets[b] to
 * entry_offsets[b + 1] - 1 of entry_nodes / entry_signs. Writes log p(target)
 * of each example into log_prob[b]; when coef is not NULL also the derivative
 * of grad_scale * (-log p) w.r.t. each entry's score z into coef[entry], and
 * when d_hidden is not NULL the gradient w.r.t. the example's hidden row.
 */
void HS(csm_hs_paths)(const T *hidden, ptrdiff_t dim, const T *node_weight, const T *node_bias,
                      const int64_t *entry_offsets, const int64_t *entry_nodes,
                      const int8_t *entry_signs, ptrdiff_t lo, ptrdiff_t hi, double grad_scale,
                      double *log_prob, T *coef, T *d_hidden) {
    for (ptrdiff_t b = lo; b < hi; ++b) {
        const T *h = hidden + b * dim;
        T *dh = d_hidden ? d_hidden + b * dim : NULL;
        double total = 0;
        if (dh)
            for (ptrdiff_t j = 0; j < dim; ++j) dh[j] = 0;
        for (int64_t e = entry_offsets[b]; e < entry_offsets[b + 1]; ++e) {
            const T *w = node_weight + entry_nodes[e] * dim;
            double sign = entry_signs[e];
            double sz = sign * (HS(hs_dot)(w, h, dim) + (double)node_bias[entry_nodes[e]]);
            double ez = exp(-fabs(sz));
            total += (sz < 0 ? sz : 0.0) - log1p(ez);
            if (coef) {
                /* d(-log_sigmoid(sign z))/dz = -sign sigmoid(-sign z) */
                double sigmoid_neg = sz >= 0 ? ez / (1 + ez) : 1 / (1 + ez);
                T c = (T)(-sign * sigmoid_neg * grad_scale);
                coef[e] = c;
                if (dh) HS(hs_axpy)(dh, c, w, dim);
            }
        }
        log_prob[b] = total;
    }
}

/*
 * The parameter gradients from the coefficients of csm_hs_paths: entries
 * sorted by node (order, stable, so each node's entries stay in example order)
 * form runs; run u (lo <= u < hi) of node run_nodes[u] spans order[run_starts[u]]
 * to order[run_starts[u + 1] - 1]. d_weight[node] (zeroed by the caller) gets
 * sum coef * hidden[entry_rows[entry]], d_bias[node] sum coef, in that fixed
 * order: a node is summed by one caller range, serially, so the sums do not
 * depend on the thread count.
 */
void HS(csm_hs_accumulate)(const T *hidden, ptrdiff_t dim, const int64_t *order,
                           const int64_t *entry_rows, const T *coef, const int64_t *run_starts,
                           const int64_t *run_nodes, ptrdiff_t lo, ptrdiff_t hi, T *d_weight,
                           T *d_bias) {
    for (ptrdiff_t u = lo; u < hi; ++u) {
        T *dw = d_weight + run_nodes[u] * dim;
        double db = 0;
        for (int64_t k = run_starts[u]; k < run_starts[u + 1]; ++k) {
            int64_t e = order[k];
            HS(hs_axpy)(dw, coef[e], hidden + entry_rows[e] * dim, dim);
            db += coef[e];
        }
        d_bias[run_nodes[u]] = (T)db;
    }
}

/*
 * Log-probabilities of all n_nodes + 1 leaves for rows lo..hi-1 of scores
 * (rows of n_nodes node scores z) into rows of out. children[2 i], children[2 i + 1]
 * are the left and right child of internal node i as ids: a class c < n_nodes + 1,
 * or n_nodes + 1 + j for internal node j < i; the root is node n_nodes - 1, so
 * walking i downwards visits every parent before its children. node_log_prob
 * (n_nodes doubles) is the caller's scratch for the internal nodes.
 */
void HS(csm_hs_log_proba)(const T *scores, ptrdiff_t n_nodes, const int64_t *children,
                          ptrdiff_t lo, ptrdiff_t hi, double *node_log_prob, T *out) {
    ptrdiff_t n_classes = n_nodes + 1;
    for (ptrdiff_t b = lo; b < hi; ++b) {
        const T *z = scores + b * n_nodes;
        T *row = out + b * n_classes;
        if (n_nodes == 0) { /* one class: probability 1 */
            row[0] = 0;
            continue;
        }
        node_log_prob[n_nodes - 1] = 0;
        for (ptrdiff_t i = n_nodes - 1; i >= 0; --i) {
            double zi = (double)z[i];
            double shared = node_log_prob[i] - csm_hs_softplus_neg_abs(zi);
            double branch[2] = {shared + (zi > 0 ? -zi : 0.0), shared + (zi < 0 ? zi : 0.0)};
            for (int side = 0; side < 2; ++side) {
                int64_t id = children[2 * i + side];
                if (id < n_classes)
                    row[id] = (T)branch[side];
                else
                    node_log_prob[id - n_classes] = branch[side];
            }
        }
    }
}

#undef HS
