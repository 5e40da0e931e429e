/*
 * Loss kernel template, included by kernels_isa.h once per element type right
 * after kernels_impl.h, with the same T, SUF, VT, VI (see kernels_impl.h).
 *
 * Every row of logits x (length n) is read in three passes, as the normalisers
 * do: (1) its max m, (2) e = exp(x - m) and the sums the loss needs, the e
 * stored into the gradient row when one is wanted, (3) the gradient written
 * over them. The loss-only path makes passes 1 and 2 and stores nothing.
 *
 * The per-row losses are written in double (the caller reduces them in a fixed
 * order, so results do not depend on the thread count). They are assembled
 * from non-negative terms, m - x_c and L = log(sum e), so nothing cancels:
 *   cross-entropy  w_y (m - x_y + L)                        (- log p_y, weighted)
 *   smoothing      sum_c w_c (m - x_c + L)
 *   entropy        L + sum_c e_c (m - x_c) / sum e
 * The gradient of every softmax loss here is a * p_j - b_j with per-row a and
 * per-class b_j (sklearn's cross-entropy helper, in one pass), times the
 * reduction's scale; the target's entry is then rewritten from 1 - p_y, formed
 * as -expm1(log p_y) so that it keeps its digits when p_y is near 1.
 */
#include "loss.h" /* csm_ce_params */

/*
 * v, opaque to the optimiser: a product passed through it is not contracted
 * into a fused multiply-add, so every inlined copy of a loop (with and without
 * the gradient store) rounds it the same way and the loss-only and loss+grad
 * paths agree to the last bit.
 */
CSM_INLINE VT K(rounded)(VT v) {
#if defined(__x86_64__) || defined(__i386__)
    __asm__("" : "+v"(v));
#endif
    return v;
}

/* ---------- pass 2 for class-index targets: sum e, and sum w (m - x) ---------- */

CSM_INLINE void K(ce_sum_step)(const T *x, T *e_out, const T *w, ptrdiff_t valid, VT m,
                               int normal, int smooth, VT *sum, VT *dist) {
    VT d = m - K(load_valid)(x, valid, 0);
    VT e = K(exp_of)(-d, normal);
    if (valid != LANES) {
        VI in = V(first_lanes)(valid);
        e = V(select)(in, e, V(splat)(0));
        d = V(select)(in, d, V(splat)(0));
    }
    *sum += e;
    if (smooth) *dist += w ? K(rounded)(d * K(load_valid)(w, valid, 0)) : d;
    if (e_out) K(store_valid)(e_out, e, valid);
}

/* sum of exp(x - m) into *sum and, when smoothing, sum of w (m - x) into *dist. */
CSM_INLINE void K(ce_row_sums)(const T *x, T *e_out, const T *w, ptrdiff_t n, T m, int normal,
                               int smooth, double *sum, double *dist) {
    VT vm = V(splat)(m), sum_acc[UNROLL], dist_acc[UNROLL];
    *sum = *dist = 0;
    for (ptrdiff_t start = 0; start < n; start += ROW_BLOCK) {
        const T *xb = x + start;
        T *eb = e_out ? e_out + start : NULL;
        const T *wb = w ? w + start : NULL;
        for (int u = 0; u < UNROLL; u++) sum_acc[u] = dist_acc[u] = V(splat)(0);
#define CE_SUM_STEP(i, valid, u)                                                          \
    K(ce_sum_step)(xb + (i), eb ? eb + (i) : NULL, wb ? wb + (i) : NULL, valid, vm, normal, \
                   smooth, &sum_acc[u], &dist_acc[u])
        ROW_LOOP(n - start < ROW_BLOCK ? n - start : ROW_BLOCK, CE_SUM_STEP);
#undef CE_SUM_STEP
        *sum += V(hsum)(K(combine)(sum_acc));
        if (smooth) *dist += V(hsum)(K(combine)(dist_acc));
    }
}

/* Each combination of the flags gets its own inlined copy of the loop. */
static void K(ce_sums)(const T *x, T *e_out, const T *w, ptrdiff_t n, T m, int normal,
                       int smooth, double *sum, double *dist) {
    if (e_out) {
        if (normal) {
            if (smooth) K(ce_row_sums)(x, e_out, w, n, m, 1, 1, sum, dist);
            else K(ce_row_sums)(x, e_out, NULL, n, m, 1, 0, sum, dist);
        } else {
            if (smooth) K(ce_row_sums)(x, e_out, w, n, m, 0, 1, sum, dist);
            else K(ce_row_sums)(x, e_out, NULL, n, m, 0, 0, sum, dist);
        }
    } else {
        if (normal) {
            if (smooth) K(ce_row_sums)(x, NULL, w, n, m, 1, 1, sum, dist);
            else K(ce_row_sums)(x, NULL, NULL, n, m, 1, 0, sum, dist);
        } else {
            if (smooth) K(ce_row_sums)(x, NULL, w, n, m, 0, 1, sum, dist);
            else K(ce_row_sums)(x, NULL, NULL, n, m, 0, 0, sum, dist);
        }
    }
}

/* ---------- pass 3: g = e * factor - shift * b, b = w (or 1, or t' w) ---------- */

CSM_INLINE void K(grad_row)(T *g, const T *b, ptrdiff_t n, T factor, T shift) {
    VT vf = V(splat)(factor), vs = V(splat)(shift);
#define GRAD_STEP(i, valid, u)                                                     \
    do {                                                                           \
        VT e_ = K(load_valid)(g + (i), valid, 0);                                  \
        VT b_ = b ? K(load_valid)(b + (i), valid, 0) : V(splat)(1);                \
        K(store_valid)(g + (i), e_ * vf - vs * b_, valid);                          \
    } while (0)
    ROW_LOOP(n, GRAD_STEP);
#undef GRAD_STEP
}

static void K(grad_rows_dispatch)(T *g, const T *b, ptrdiff_t n, T factor, T shift) {
    if (shift == 0) K(grad_row)(g, NULL, n, factor, 0);
    else if (b) K(grad_row)(g, b, n, factor, shift);
    else K(grad_row)(g, NULL, n, factor, shift);
}

/* ---------- class-index targets: cross-entropy and softmax focal loss ---------- */

/*
 * Row r: label y = labels[r]; rows with y == ignore_index give loss 0 and a zero
 * gradient. Cross-entropy (PyTorch's formula, label smoothing eps over C = n
 * classes, class weights w or all 1, weight_sum = sum w):
 *   loss = (1 - eps) w_y (-log p_y) + eps / C sum_c w_c (-log p_c)
 *   grad = ((1 - eps) w_y + eps W / C) p_j - eps / C w_j - (1 - eps) w_y [j == y]
 * Focal (gamma, alpha_t = class_weight[y] or the scalar alpha), q = 1 - p_y:
 *   loss = -alpha_t q^gamma log p_y
 *   grad = c ([j == y] - p_j), c = alpha_t (gamma q^gamma (log p_y / q) p_y - q^gamma)
 * The gradient is multiplied by grad_scale (the reduction's d total / d loss_r).
 */
static void K(ce_rows)(const T *x, ptrdiff_t x_row_step, const int64_t *labels,
                       const T *class_weight, ptrdiff_t rows, ptrdiff_t n,
                       const csm_ce_params *p, double *loss, T *grad, ptrdiff_t grad_row_step) {
    const double eps = p->focal ? 0 : p->smoothing;
    const int smooth = eps > 0;
    const double s = p->grad_scale;
    for (ptrdiff_t r = 0; r < rows; r++) {
        const T *xr = x + r * x_row_step;
        T *gr = grad ? grad + r * grad_row_step : NULL;
        const int64_t y = labels[r];
        if (y == p->ignore_index) {
            loss[r] = 0;
            if (gr)
                for (ptrdiff_t j = 0; j < n; j++) gr[j] = 0;
            continue;
        }
        T m, min;
        K(row_range)(xr, NULL, n, &m, &min);
        double sum, dist;
        K(ce_sums)(xr, gr, class_weight, n, m, K(exps_normal)(min, m, 1), smooth, &sum, &dist);
        const double log_sum = log(sum);
        const double nll = ((double)m - (double)xr[y]) + log_sum; /* -log p_y */
        const double p_y = exp(-nll), q = -expm1(-nll);
        double a, b_shift, g_y;
        if (p->focal) {
            const double alpha = class_weight ? (double)class_weight[y] : p->alpha;
            const double q_gamma = pow(q, p->gamma);
            const double ratio = q > 0 ? -nll / q : -1; /* log p_y / q, -> -1 as q -> 0 */
            const double c = alpha * (p->gamma * q_gamma * ratio * p_y - q_gamma);
            loss[r] = alpha * q_gamma * nll;
            a = -c;
            b_shift = 0;
            g_y = c * q;
        } else {
            const double w_y = class_weight ? (double)class_weight[y] : 1.0;
            const double W = p->weight_sum, eps_c = eps / (double)n;
            loss[r] = (1 - eps) * w_y * nll + (smooth ? eps_c * (dist + W * log_sum) : 0);
            a = (1 - eps) * w_y + eps_c * W;
            b_shift = eps_c;
            g_y = -(1 - eps) * w_y * q + eps_c * (W * p_y - w_y);
        }
        if (gr) {
            K(grad_rows_dispatch)(gr, class_weight, n, (T)(s * a / sum), (T)(s * b_shift));
            gr[y] = (T)(s * g_y);
        }
    }
}

/* ---------- class-probability targets ---------- */

/*
 * Row r with target row t (smoothed t' = (1 - eps) t + eps / C), weights w:
 *   loss = sum_c w_c t'_c (m - x_c + L) = dist + mass L
 *   grad = mass p_j - w_j t'_j,  mass = sum_c w_c t'_c
 * (PyTorch's gradient p sum(t) - t when t does not sum to 1).
 */
CSM_INLINE void K(prob_sum_step)(const T *x, const T *t, const T *w, T *e_out, ptrdiff_t valid,
                                 VT m, VT keep, VT spread, int normal, VT *sum, VT *mass,
                                 VT *dist) {
    VT d = m - K(load_valid)(x, valid, 0);
    VT e = K(exp_of)(-d, normal);
    VT tw = K(load_valid)(t, valid, 0) * keep + spread;
    if (w) tw *= K(load_valid)(w, valid, 0);
    if (valid != LANES) {
        VI in = V(first_lanes)(valid);
        e = V(select)(in, e, V(splat)(0));
        d = V(select)(in, d, V(splat)(0));
        tw = V(select)(in, tw, V(splat)(0));
    }
    *sum += e;
    *mass += tw;
    *dist += tw * d;
    if (e_out) K(store_valid)(e_out, e, valid);
}

CSM_INLINE void K(prob_row_sums)(const T *x, const T *t, const T *w, T *e_out, ptrdiff_t n, T m,
                                 T keep, T spread, int normal, double *sum, double *mass,
                                 double *dist) {
    VT vm = V(splat)(m), vkeep = V(splat)(keep), vspread = V(splat)(spread);
    VT sum_acc[UNROLL], mass_acc[UNROLL], dist_acc[UNROLL];
    *sum = *mass = *dist = 0;
    for (ptrdiff_t start = 0; start < n; start += ROW_BLOCK) {
        for (int u = 0; u < UNROLL; u++) sum_acc[u] = mass_acc[u] = dist_acc[u] = V(splat)(0);
#define PROB_SUM_STEP(i, valid, u)                                                          \
    K(prob_sum_step)(x + start + (i), t + start + (i), w ? w + start + (i) : NULL,          \
                     e_out ? e_out + start + (i) : NULL, valid, vm, vkeep, vspread, normal, \
                     &sum_acc[u], &mass_acc[u], &dist_acc[u])
        ROW_LOOP(n - start < ROW_BLOCK ? n - start : ROW_BLOCK, PROB_SUM_STEP);
#undef PROB_SUM_STEP
        *sum += V(hsum)(K(combine)(sum_acc));
        *mass += V(hsum)(K(combine)(mass_acc));
        *dist += V(hsum)(K(combine)(dist_acc));
    }
}

/* pass 3 for probability targets: g = e * factor - s w t' */
CSM_INLINE void K(prob_grad_row)(T *g, const T *t, const T *w, ptrdiff_t n, T factor, T keep,
                                 T spread, T s) {
    VT vf = V(splat)(factor), vkeep = V(splat)(keep), vspread = V(splat)(spread);
    VT vs = V(splat)(s);
#define PROB_GRAD_STEP(i, valid, u)                                              \
    do {                                                                         \
        VT tw_ = K(load_valid)(t + (i), valid, 0) * vkeep + vspread;             \
        if (w) tw_ *= K(load_valid)(w + (i), valid, 0);                          \
        VT e_ = K(load_valid)(g + (i), valid, 0);                                \
        K(store_valid)(g + (i), e_ * vf - vs * tw_, valid);                       \
    } while (0)
    ROW_LOOP(n, PROB_GRAD_STEP);
#undef PROB_GRAD_STEP
}

static void K(ce_prob_rows)(const T *x, ptrdiff_t x_row_step, const T *target,
                            ptrdiff_t t_row_step, const T *class_weight, ptrdiff_t rows,
                            ptrdiff_t n, double smoothing, double grad_scale, double *loss,
                            T *grad, ptrdiff_t grad_row_step) {
    const T keep = (T)(1 - smoothing), spread = (T)(smoothing / (double)n);
    for (ptrdiff_t r = 0; r < rows; r++) {
        const T *xr = x + r * x_row_step, *tr = target + r * t_row_step;
        T *gr = grad ? grad + r * grad_row_step : NULL;
        T m, min;
        K(row_range)(xr, NULL, n, &m, &min);
        double sum, mass, dist;
        if (K(exps_normal)(min, m, 1))
            K(prob_row_sums)(xr, tr, class_weight, gr, n, m, keep, spread, 1, &sum, &mass, &dist);
        else
            K(prob_row_sums)(xr, tr, class_weight, gr, n, m, keep, spread, 0, &sum, &mass, &dist);
        loss[r] = dist + mass * log(sum);
        if (gr)
            K(prob_grad_row)(gr, tr, class_weight, n, (T)(grad_scale * mass / sum), keep, spread,
                             (T)grad_scale);
    }
}

/* ---------- entropy of softmax(x): L + sum e (m - x) / sum e ---------- */

CSM_INLINE void K(entropy_row)(const T *x, ptrdiff_t n, T m, int normal, double *sum,
                               double *moment) {
    VT vm = V(splat)(m), sum_acc[UNROLL], mom_acc[UNROLL];
    *sum = *moment = 0;
    for (ptrdiff_t start = 0; start < n; start += ROW_BLOCK) {
        for (int u = 0; u < UNROLL; u++) sum_acc[u] = mom_acc[u] = V(splat)(0);
#define ENTROPY_STEP(i, valid, u)                                                   \
    do {                                                                            \
        VT d_ = vm - K(load_valid)(x + start + (i), valid, 0);                      \
        VT e_ = K(exp_of)(-d_, normal);                                             \
        if ((valid) != LANES) e_ = V(select)(V(first_lanes)(valid), e_, V(splat)(0)); \
        /* e = 0 where d = inf (x = -inf): those terms are 0, not nan */            \
        sum_acc[u] += e_;                                                           \
        mom_acc[u] += V(select)(e_ > 0, e_ * d_, V(splat)(0));                      \
    } while (0)
        ROW_LOOP(n - start < ROW_BLOCK ? n - start : ROW_BLOCK, ENTROPY_STEP);
#undef ENTROPY_STEP
        *sum += V(hsum)(K(combine)(sum_acc));
        *moment += V(hsum)(K(combine)(mom_acc));
    }
}

static void K(entropy_rows)(const T *x, ptrdiff_t x_row_step, ptrdiff_t rows, ptrdiff_t n,
                            double *result) {
    for (ptrdiff_t r = 0; r < rows; r++) {
        const T *xr = x + r * x_row_step;
        T m, min;
        double sum, moment;
        K(row_range)(xr, NULL, n, &m, &min);
        if (K(exps_normal)(min, m, 1)) K(entropy_row)(xr, n, m, 1, &sum, &moment);
        else K(entropy_row)(xr, n, m, 0, &sum, &moment);
        result[r] = log(sum) + moment / sum;
    }
}
