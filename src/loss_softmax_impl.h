/*
 * Softmax losses, template: cross-entropy (class-index and probability
 * targets, label smoothing, class weights), softmax focal loss and the entropy
 * of softmax(x). Included by kernels_instance.h once per element type after
 * kernels_impl.h, whose helpers it uses, with the same T, SUF, VT, VI; the
 * rows of a huge row split over threads are in huge_row_impl.h.
 *
 * Layouts: rows (the class axis last, a row's classes contiguous, rows
 * x_row_step apart; rows shorter than SHORT_ROW a vector of rows at a time)
 * and columns (a non-last class axis: `width` rows side by side, class j
 * x_class_step after class j - 1), as the normalisers take them.
 *
 * Every row of logits x (length n) is read in three passes, as the normalisers
 * do: (1) its max m, (2) e = exp(x - m) and the sums the loss needs, the e
 * stored into the gradient row when one is wanted, (3) the gradient written
 * over them. The loss-only path makes passes 1 and 2 and stores nothing, and
 * gives the same loss bits as the loss+gradient path.
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
 * as (sum - e_y) / sum so that it keeps its digits when p_y is near 1.
 *
 * Accuracy (float32, tests/test_accuracy.py): the gradient within 4 ulp of
 * softmax - one_hot (at the target while 1 - p_y >= 2^-30, within 2^-50
 * below), the loss within 4 * 2^-24 * max(1, loss).
 */
#include "loss.h" /* csm_ce_params */

/* ---------- pass 2 for class-index targets: sum e, and sum w (m - x) ---------- */

CSM_INLINE void K(ce_sum_step)(const T *x, T *e_out, const T *w, ptrdiff_t valid, VT m,
                               K(origin) o, int form, int smooth, VT *sum, VT *dist) {
    VT v = K(load_valid)(x, valid, 0), d = m - v;
    VT e = K(exp_from)(v, o, V(splat)(1), form);
    if (valid != LANES) {
        VI in = V(first_lanes)(valid);
        e = V(select)(in, e, V(splat)(0));
        d = V(select)(in, d, V(splat)(0));
    }
    *sum += e;
    if (smooth) *dist += w ? V(rounded)(d * K(load_valid)(w, valid, 0)) : d;
    if (e_out) K(store_valid)(e_out, e, valid);
}

/* the accumulators into the row's totals in double (as ROW_LOOP_FLUSHED's FLUSH) */
CSM_INLINE void K(ce_sum_flush)(K_WIDE *sum_total, K_WIDE *dist_total, VT sum_acc[UNROLL],
                                VT dist_acc[UNROLL], int smooth) {
    *sum_total = K(flush_pairs)(*sum_total, sum_acc);
    if (smooth) *dist_total = K(flush_pairs)(*dist_total, dist_acc);
}

/* sum of exp(x - shift) into *sum (the shift as o gives it for the form, as in
 * softmax's row_sum) and, when smoothing, sum of w (m - x) into *dist. */
CSM_INLINE void K(ce_row_sums)(const T *x, T *e_out, const T *w, ptrdiff_t n, T m, K(origin) o,
                               int form, int smooth, double *sum, double *dist) {
    VT vm = V(splat)(m), sum_acc[UNROLL], dist_acc[UNROLL];
    if (form & FORM_UNIT) o.base = V(splat)(0); /* a constant: x - 0 folds away */
    K_WIDE sum_total = V(wide_zero)(), dist_total = V(wide_zero)();
    K(clear)(sum_acc);
    K(clear)(dist_acc);
#define CE_SUM_STEP(i, valid, u)                                                            \
    K(ce_sum_step)(x + (i), e_out ? e_out + (i) : NULL, w ? w + (i) : NULL, valid, vm, o, form, \
                   smooth, &sum_acc[u], &dist_acc[u])
#define CE_SUM_FLUSH() K(ce_sum_flush)(&sum_total, &dist_total, sum_acc, dist_acc, smooth)
    ROW_LOOP_FLUSHED(n, CE_SUM_STEP, CE_SUM_FLUSH, SUM_FLUSH_EVERY);
#undef CE_SUM_STEP
#undef CE_SUM_FLUSH
    *sum = V(hsum_wide)(sum_total);
    *dist = V(hsum_wide)(dist_total);
}

/* exp(x - shift) of one element of the row, with the same bits as ce_sum_step's lane */
CSM_INLINE T K(target_exp)(T x, K(origin) o, int form) {
    if (form & FORM_UNIT) o.base = V(splat)(0);
    return K(exp_from)(V(splat)(x), o, V(splat)(1), form)[0];
}

/* Each combination of the form and flags gets its own inlined copy of the loop.
 * The origin comes by pointer: by value, its three vectors would be copied on
 * every call. */
static void K(ce_sums)(const T *x, T *e_out, const T *w, ptrdiff_t n, T m,
                       const K(origin) *origin, int form, int smooth, double *sum,
                       double *dist) {
    const K(origin) o = *origin;
#define CE_SUMS(f)                                                                        \
    do {                                                                                  \
        if (e_out && smooth) K(ce_row_sums)(x, e_out, w, n, m, o, f, 1, sum, dist);       \
        else if (e_out) K(ce_row_sums)(x, e_out, NULL, n, m, o, f, 0, sum, dist);         \
        else if (smooth) K(ce_row_sums)(x, NULL, w, n, m, o, f, 1, sum, dist);            \
        else K(ce_row_sums)(x, NULL, NULL, n, m, o, f, 0, sum, dist);                     \
    } while (0)
    BY_FORM(form, CE_SUMS);
#undef CE_SUMS
}

/* ---------- pass 3: g = e * factor - shift * b, b = w (or 1, or t' w) ---------- */

CSM_INLINE void K(grad_step)(T *g, const T *b, ptrdiff_t valid, VT vf, VT vs) {
    VT e = K(load_valid)(g, valid, 0);
    VT bv = b ? K(load_valid)(b, valid, 0) : V(splat)(1);
    K(store_valid)(g, e * vf - vs * bv, valid);
}

CSM_INLINE void K(grad_row)(T *g, const T *b, ptrdiff_t n, T factor, T shift) {
    VT vf = V(splat)(factor), vs = V(splat)(shift);
#define GRAD_STEP(i, valid, u) K(grad_step)(g + (i), b ? b + (i) : NULL, valid, vf, vs)
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
typedef struct {
    double loss, a, b_shift, g_y;
} K(ce_terms); /* a row's loss and its gradient's a, b (b_shift) and target entry */

/* The terms of row with label y from nll = -log p_y, q = 1 - p_y, p_y,
 * log_sum = log sum exp(x - m) and (smoothing) dist = sum w_c (m - x_c) */
CSM_INLINE K(ce_terms) K(ce_finish)(const csm_ce_params *p, const T *class_weight, int64_t y,
                                    ptrdiff_t n, double nll, double q, double p_y,
                                    double log_sum, double dist) {
    const double eps = p->focal ? 0 : p->smoothing;
    K(ce_terms) out;
    if (p->focal) {
        const double alpha = class_weight ? (double)class_weight[y] : p->alpha;
        const double q_gamma = pow(q, p->gamma);
        const double ratio = q > 0 ? -nll / q : -1; /* log p_y / q, -> -1 as q -> 0 */
        const double c = alpha * (p->gamma * q_gamma * ratio * p_y - q_gamma);
        out.loss = alpha * q_gamma * nll;
        out.a = -c;
        out.b_shift = 0;
        out.g_y = c * q;
    } else {
        const double w_y = class_weight ? (double)class_weight[y] : 1.0;
        const double W = p->weight_sum, eps_c = eps / (double)n;
        out.loss = (1 - eps) * w_y * nll + (eps > 0 ? eps_c * (dist + W * log_sum) : 0);
        out.a = (1 - eps) * w_y + eps_c * W;
        out.b_shift = eps_c;
        out.g_y = -(1 - eps) * w_y * q + eps_c * (W * p_y - w_y);
    }
    return out;
}

/* Row xr's terms (label y, max m, its origin and exp form, pass 2's sum and
 * dist; e_y: the target's exp as stored in pass 2, or NULL: recomputed). */
CSM_INLINE K(ce_terms) K(ce_row_terms)(const csm_ce_params *p, const T *class_weight,
                                       const T *xr, int64_t y, ptrdiff_t n, T m, K(origin) o,
                                       int form, double sum, double dist, const T *e_y_stored) {
    const double gap = K(lane_gap)(o, 0, form, m);
    const double log_sum = log(sum) + gap; /* log sum exp(x - m) */
    /* The target's exp as it went into the sum (the same bits whether stored or
     * recomputed): 1 - p_y = (sum - e_y) / sum keeps its digits as p_y nears 1,
     * where exp(-nll) would lose them to e_y's rounding. */
    const double e_y = e_y_stored ? (double)*e_y_stored : (double)K(target_exp)(xr[y], o, form);
    const double p_y = e_y / sum, q = (sum - e_y) / sum;
    const double nll = q < 0.5 ? -log1p(-q) : ((double)m - (double)xr[y]) + log_sum;
    return K(ce_finish)(p, class_weight, y, n, nll, q, p_y, log_sum, dist);
}

/* ce_rows one row at a time (rows of any length) */
static void K(ce_rows_each)(const T *x, ptrdiff_t x_row_step, const int64_t *labels,
                            const T *class_weight, ptrdiff_t rows, ptrdiff_t n,
                            const csm_ce_params *p, double *loss, T *grad,
                            ptrdiff_t grad_row_step) {
    const int smooth = !p->focal && p->smoothing > 0;
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
        const K(origin) o = K(origin_of)(V(splat)(m), 1);
        const int form = K(exp_form)(min, o, 1);
        K(ce_sums)(xr, gr, class_weight, n, m, &o, form, smooth, &sum, &dist);
        const K(ce_terms) t =
            K(ce_row_terms)(p, class_weight, xr, y, n, m, o, form, sum, dist, gr ? gr + y : NULL);
        loss[r] = t.loss;
        if (gr) {
            K(grad_rows_dispatch)(gr, class_weight, n, (T)(s * t.a / sum), (T)(s * t.b_shift));
            gr[y] = (T)(s * t.g_y);
        }
    }
}

/*
 * Pass 2 of ce_lanes: the exps of lane l's classes (class j at
 * x[j * x_elem + l * x_lane]), their sums and (smooth) sum w (m - x), each
 * term added in double: the target's 1 - p_y = (sum - e_y) / sum needs sum's
 * other terms whole (terms added in pairs in T first lost them: 134 ulp at the
 * target, measured). Class j of every vector of lanes before class j + 1, as
 * slices_sums. The exps are kept in e when not NULL (short rows, one vector),
 * else stored into g (class j at g[j * g_elem], lanes contiguous) if not NULL.
 */
CSM_INLINE void K(ce_lane_exps)(const T *x, ptrdiff_t x_lane, ptrdiff_t x_elem, const T *w,
                                ptrdiff_t n, ptrdiff_t width, ptrdiff_t vectors,
                                const K(range) range[], const K(origin) o[], int form,
                                int smooth, VT *e, T *g, ptrdiff_t g_elem, K_WIDE sum[],
                                K_WIDE dist[]) {
    for (ptrdiff_t v = 0; v < vectors; v++) sum[v] = dist[v] = V(wide_zero)();
    for (ptrdiff_t j = 0; j < n; j++) {
        for (ptrdiff_t v = 0; v < vectors; v++) {
            const ptrdiff_t valid = width - v * LANES < LANES ? width - v * LANES : LANES;
            VT x_j = K(load_lanes)(x + j * x_elem + v * LANES * x_lane, x_lane, valid, 0);
            VT e_j = K(exp_from)(x_j, o[v], V(splat)(1), form);
            sum[v] = V(wide_add)(sum[v], e_j);
            if (smooth) {
                VT d = range[v].max - x_j;
                dist[v] = V(wide_add)(dist[v], w ? V(rounded)(d * w[j]) : d);
            }
            if (e) e[j] = e_j;
            else if (g) K(store_lanes)(g + j * g_elem + v * LANES, 1, e_j, valid);
        }
    }
}

/* exp(x - shift) of a vector, with the bits of ce_lane_exps' lanes */
static VT K(lane_exp)(VT x, const K(origin) *o, int form) {
    VT e;
#define LANE_EXP(f) e = K(exp_from)(x, *o, V(splat)(1), f)
    BY_FORM(form, LANE_EXP);
#undef LANE_EXP
    return e;
}

/* The gradient of one vector of lanes: g_j = a e_j - b_shift w_j, the target's
 * entry g_y, zero where the target is ignored; nan in all four where the max
 * is not finite. */
typedef struct {
    VT factor, shift, target;
    VI label, zero;
} K(lane_grad);

/*
 * The losses of `valid` lanes (loss[l]) from pass 2's sums, and their gradient
 * factors: ce_rows' formulas lane by lane, log(sum) and the nll's log1p a
 * vector of rows at a time.
 */
CSM_INLINE K(lane_grad) K(ce_lane_finish)(const T *x, ptrdiff_t x_lane, ptrdiff_t x_elem,
                                          const int64_t *labels, const T *class_weight,
                                          ptrdiff_t valid, ptrdiff_t n, const csm_ce_params *p,
                                          VT m, const K(origin) *o, int form, K_WIDE sums,
                                          K_WIDE dists, double *loss) {
    const double s = p->grad_scale;
    K(lane_grad) out = {V(splat)((T)NAN), V(splat)((T)NAN), V(splat)((T)NAN),
                        (VI)V(splat)(0) - 1, (VI)V(splat)(0)};
    VT x_y = m; /* the targets' logits; m where a lane has none */
    for (ptrdiff_t l = 0; l < valid; l++) {
        if (labels[l] == p->ignore_index) out.zero[l] = -1;
        else if (isfinite(m[l])) x_y[l] = x[l * x_lane + labels[l] * x_elem];
    }
    const VT e_y = K(lane_exp)(x_y, o, form);
    for (ptrdiff_t l0 = 0; l0 < valid; l0 += csm_lanes_f64) {
        csm_vf64 sum = csm_splat_f64(1), ey = sum, gap = csm_splat_f64(0), far = gap;
        int finite[csm_lanes_f64] = {0}; /* and not ignored */
        for (ptrdiff_t l = l0; l < valid && l < l0 + csm_lanes_f64; l++) {
            finite[l - l0] = !out.zero[l] && isfinite(m[l]);
            loss[l] = out.zero[l] ? 0 : NAN;
            if (!finite[l - l0]) continue;
            sum[l - l0] = V(wide_lane)(sums, l);
            ey[l - l0] = e_y[l];
            gap[l - l0] = K(lane_gap)(*o, l, form, m[l]);
            far[l - l0] = (double)m[l] - (double)x_y[l];
        }
        const csm_vf64 log_sum = csm_log_f64(sum) + gap, q = (sum - ey) / sum;
        /* 0 - log1p: -log1p(-q) would be -0 at q = 0, where libm's gives +0 */
        const csm_vf64 nll =
            csm_select_f64(q < 0.5, csm_splat_f64(0) - csm_log1p_f64(-q), far + log_sum);
        for (ptrdiff_t l = l0; l < valid && l < l0 + csm_lanes_f64; l++) {
            if (!finite[l - l0]) continue;
            const K(ce_terms) t = K(ce_finish)(p, class_weight, labels[l], n, nll[l - l0],
                                               q[l - l0], ey[l - l0] / sum[l - l0],
                                               log_sum[l - l0], V(wide_lane)(dists, l));
            loss[l] = t.loss;
            out.factor[l] = (T)(s * t.a / sum[l - l0]);
            out.shift[l] = (T)(s * t.b_shift);
            out.target[l] = (T)(s * t.g_y);
            out.label[l] = (int)labels[l];
        }
    }
    return out;
}

/*
 * `width` rows of cross-entropy or focal loss side by side, one per lane: lane
 * l's class j at x[l * x_lane + j * x_elem] and likewise in the gradient
 * (g_lane, g_elem). Short rows (x_elem 1) come one vector at a time with their
 * exps kept in e; columns of a non-last class axis (x_lane 1, g_lane 1) up to
 * MAX_SLICES at a time, each pass walking class j of all of them before class
 * j + 1 (a vector at a time down a column, the class stride would defeat the
 * prefetcher), the exps waiting in the gradient. Every lane is computed alone: its bits do not
 * depend on its neighbours. An ignored lane gives 0 and a zero gradient, a
 * lane with a non-finite max nan throughout (as ce_rows_each).
 */
CSM_INLINE void K(ce_lanes)(const T *x, ptrdiff_t x_lane, ptrdiff_t x_elem,
                            const int64_t *labels, const T *class_weight, ptrdiff_t width,
                            ptrdiff_t n, const csm_ce_params *p, double *loss, T *grad,
                            ptrdiff_t g_lane, ptrdiff_t g_elem, VT *e) {
    /* 1, a constant, where e is given: short rows keep their state in registers */
    const ptrdiff_t vectors = e ? 1 : (width + LANES - 1) / LANES;
    const int smooth = !p->focal && p->smoothing > 0;
    K(range) range[MAX_VECTORS];
    K(origin) o[MAX_VECTORS];
    K_WIDE sums[MAX_VECTORS], dists[MAX_VECTORS];
    K(lane_grad) lg[MAX_VECTORS];
    K(slices_range)(x, x_elem, x_lane, NULL, n, width, range);
    for (ptrdiff_t v = 0; v < vectors; v++) o[v] = K(origin_of)(range[v].max, 1);
    const int form = K(slices_form)(range, o, width, 1);
#define CE_LANE_EXPS(f)                                                                        \
    K(ce_lane_exps)(x, x_lane, x_elem, class_weight, n, width, vectors, range, o, f, smooth, e, \
                    grad, g_elem, sums, dists)
    BY_FORM(form, CE_LANE_EXPS);
#undef CE_LANE_EXPS
    for (ptrdiff_t v = 0; v < vectors; v++) {
        const ptrdiff_t first = v * LANES, valid = width - first < LANES ? width - first : LANES;
        lg[v] = K(ce_lane_finish)(x + first * x_lane, x_lane, x_elem, labels + first,
                                  class_weight, valid, n, p, range[v].max, &o[v], form, sums[v],
                                  dists[v], loss + first);
    }
    if (!grad) return;
    for (ptrdiff_t j = 0; j < n; j++) {
        const VT b = class_weight ? V(splat)(class_weight[j]) : V(splat)(1);
        for (ptrdiff_t v = 0; v < vectors; v++) {
            const ptrdiff_t valid = width - v * LANES < LANES ? width - v * LANES : LANES;
            T *g_j = grad + j * g_elem + v * LANES * g_lane;
            const VT e_j = e ? e[j] : K(load_lanes)(g_j, g_lane, valid, 0);
            const VT g = V(select)(lg[v].label == (int)j, lg[v].target,
                                   e_j * lg[v].factor - lg[v].shift * b);
            K(store_lanes)(g_j, g_lane, V(select)(lg[v].zero, V(splat)(0), g), valid);
        }
    }
}

/* Rows shorter than SHORT_ROW, LANES at a time, their exps kept in registers:
 * one row at a time, a short row is a chain of dependent steps over partial
 * vectors. */
static void K(ce_short_rows)(const T *x, ptrdiff_t x_row_step, const int64_t *labels,
                             const T *class_weight, ptrdiff_t rows, ptrdiff_t n,
                             const csm_ce_params *p, double *loss, T *grad,
                             ptrdiff_t grad_row_step) {
    VT e[SHORT_ROW];
    for (ptrdiff_t r0 = 0; r0 < rows; r0 += LANES)
        K(ce_lanes)(x + r0 * x_row_step, x_row_step, 1, labels + r0, class_weight,
                    rows - r0 < LANES ? rows - r0 : LANES, n, p, loss + r0,
                    grad ? grad + r0 * grad_row_step : NULL, grad_row_step, 1, e);
}

static void K(ce_rows)(const T *x, ptrdiff_t x_row_step, const int64_t *labels,
                       const T *class_weight, ptrdiff_t rows, ptrdiff_t n,
                       const csm_ce_params *p, double *loss, T *grad, ptrdiff_t grad_row_step) {
    if (n < SHORT_ROW)
        K(ce_short_rows)(x, x_row_step, labels, class_weight, rows, n, p, loss, grad,
                         grad_row_step);
    else
        K(ce_rows_each)(x, x_row_step, labels, class_weight, rows, n, p, loss, grad,
                        grad_row_step);
}

/*
 * Columns of a non-last class axis: `width` rows whose class j lies at
 * x[j * x_class_step + c] (c = 0 .. width - 1, contiguous), likewise labels,
 * loss and the gradient (grad_class_step), LANES columns a vector: every load
 * and store a whole vector.
 */
static void K(ce_cols)(const T *x, ptrdiff_t x_class_step, const int64_t *labels,
                       const T *class_weight, ptrdiff_t width, ptrdiff_t n,
                       const csm_ce_params *p, double *loss, T *grad,
                       ptrdiff_t grad_class_step) {
    for (ptrdiff_t c = 0; c < width; c += MAX_SLICES)
        K(ce_lanes)(x + c, 1, x_class_step, labels + c, class_weight,
                    width - c < MAX_SLICES ? width - c : MAX_SLICES, n, p, loss + c,
                    grad ? grad + c : NULL, 1, grad_class_step, NULL);
}

/* ---------- class-probability targets ---------- */

/*
 * Row r with target row t (smoothed t' = (1 - eps) t + eps / C), weights w:
 *   loss = sum_c w_c t'_c (m - x_c + L) = dist + mass L
 *   grad = mass p_j - w_j t'_j,  mass = sum_c w_c t'_c
 * (PyTorch's gradient p sum(t) - t when t does not sum to 1).
 */
CSM_INLINE void K(prob_sum_step)(const T *x, const T *t, const T *w, T *e_out, ptrdiff_t valid,
                                 VT m, K(origin) o, VT keep, VT spread, int form, VT *sum,
                                 VT *mass, VT *dist) {
    VT v = K(load_valid)(x, valid, 0), d = m - v;
    VT e = K(exp_from)(v, o, V(splat)(1), form);
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

/* the accumulators into the row's totals in double, as ce_sum_flush */
CSM_INLINE void K(prob_sum_flush)(K_WIDE *sum_total, K_WIDE *mass_total, K_WIDE *dist_total,
                                  VT sum_acc[UNROLL], VT mass_acc[UNROLL], VT dist_acc[UNROLL]) {
    *sum_total = K(flush_pairs)(*sum_total, sum_acc);
    *mass_total = K(flush_pairs)(*mass_total, mass_acc);
    *dist_total = K(flush_pairs)(*dist_total, dist_acc);
}

/* the sum of exps is relative to the shift, as in ce_row_sums */
CSM_INLINE void K(prob_row_sums)(const T *x, const T *t, const T *w, T *e_out, ptrdiff_t n, T m,
                                 K(origin) o, T keep, T spread, int form, double *sum,
                                 double *mass, double *dist) {
    VT vm = V(splat)(m), vkeep = V(splat)(keep);
    if (form & FORM_UNIT) o.base = V(splat)(0);
    VT vspread = V(splat)(spread), sum_acc[UNROLL], mass_acc[UNROLL], dist_acc[UNROLL];
    K_WIDE sum_total = V(wide_zero)(), mass_total = V(wide_zero)(), dist_total = V(wide_zero)();
    K(clear)(sum_acc);
    K(clear)(mass_acc);
    K(clear)(dist_acc);
#define PROB_SUM_STEP(i, valid, u)                                                            \
    K(prob_sum_step)(x + (i), t + (i), w ? w + (i) : NULL, e_out ? e_out + (i) : NULL, valid, \
                     vm, o, vkeep, vspread, form, &sum_acc[u], &mass_acc[u],                  \
                     &dist_acc[u])
#define PROB_SUM_FLUSH() \
    K(prob_sum_flush)(&sum_total, &mass_total, &dist_total, sum_acc, mass_acc, dist_acc)
    ROW_LOOP_FLUSHED(n, PROB_SUM_STEP, PROB_SUM_FLUSH, SUM_FLUSH_EVERY);
#undef PROB_SUM_STEP
#undef PROB_SUM_FLUSH
    *sum = V(hsum_wide)(sum_total);
    *mass = V(hsum_wide)(mass_total);
    *dist = V(hsum_wide)(dist_total);
}

/* pass 3 for probability targets: g = e * factor - s w t' */
CSM_INLINE void K(prob_grad_step)(T *g, const T *t, const T *w, ptrdiff_t valid, VT vf,
                                  VT vkeep, VT vspread, VT vs) {
    VT tw = K(load_valid)(t, valid, 0) * vkeep + vspread;
    if (w) tw *= K(load_valid)(w, valid, 0);
    VT e = K(load_valid)(g, valid, 0);
    K(store_valid)(g, e * vf - vs * tw, valid);
}

CSM_INLINE void K(prob_grad_row)(T *g, const T *t, const T *w, ptrdiff_t n, T factor, T keep,
                                 T spread, T s) {
    VT vf = V(splat)(factor), vkeep = V(splat)(keep), vspread = V(splat)(spread);
    VT vs = V(splat)(s);
#define PROB_GRAD_STEP(i, valid, u) \
    K(prob_grad_step)(g + (i), t + (i), w ? w + (i) : NULL, valid, vf, vkeep, vspread, vs)
    ROW_LOOP(n, PROB_GRAD_STEP);
#undef PROB_GRAD_STEP
}

/* ce_prob_rows one row at a time (rows of any length) */
static void K(ce_prob_rows_each)(const T *x, ptrdiff_t x_row_step, const T *target,
                                 ptrdiff_t t_row_step, const T *class_weight, ptrdiff_t rows,
                                 ptrdiff_t n, double smoothing, double grad_scale,
                                 double *loss, T *grad, ptrdiff_t grad_row_step) {
    const T keep = (T)(1 - smoothing), spread = (T)(smoothing / (double)n);
    for (ptrdiff_t r = 0; r < rows; r++) {
        const T *xr = x + r * x_row_step, *tr = target + r * t_row_step;
        T *gr = grad ? grad + r * grad_row_step : NULL;
        T m, min;
        K(row_range)(xr, NULL, n, &m, &min);
        double sum, mass, dist;
        const K(origin) o = K(origin_of)(V(splat)(m), 1);
        const int form = K(exp_form)(min, o, 1);
#define PROB_SUMS(f) \
    K(prob_row_sums)(xr, tr, class_weight, gr, n, m, o, keep, spread, f, &sum, &mass, &dist)
        BY_FORM(form, PROB_SUMS);
#undef PROB_SUMS
        const double gap = K(lane_gap)(o, 0, form, m);
        loss[r] = dist + mass * (log(sum) + gap);
        if (gr)
            K(prob_grad_row)(gr, tr, class_weight, n, (T)(grad_scale * mass / sum), keep, spread,
                             (T)grad_scale);
    }
}

/* t' w of class j (t' = keep t + spread), as prob_sum_step forms it */
CSM_INLINE VT K(lane_target)(const T *t, ptrdiff_t t_lane, ptrdiff_t valid, const T *w,
                             ptrdiff_t j, T keep, T spread) {
    VT tw = K(load_lanes)(t, t_lane, valid, 0) * keep + spread;
    return w ? tw * w[j] : tw;
}

/*
 * Pass 2 of ce_prob_lanes, as ce_lane_exps: the exps and the sums of e, w t'
 * and w t' (m - x), each term added in double, class j of every vector of
 * lanes before class j + 1; the exps kept in e or stored into g.
 */
CSM_INLINE void K(prob_lane_exps)(const T *x, ptrdiff_t x_lane, ptrdiff_t x_elem, const T *t,
                                  ptrdiff_t t_lane, ptrdiff_t t_elem, const T *w, ptrdiff_t n,
                                  ptrdiff_t width, ptrdiff_t vectors, const K(range) range[],
                                  const K(origin) o[], T keep, T spread, int form, VT *e, T *g,
                                  ptrdiff_t g_elem, K_WIDE sum[], K_WIDE mass[], K_WIDE dist[]) {
    for (ptrdiff_t v = 0; v < vectors; v++) sum[v] = mass[v] = dist[v] = V(wide_zero)();
    for (ptrdiff_t j = 0; j < n; j++) {
        for (ptrdiff_t v = 0; v < vectors; v++) {
            const ptrdiff_t valid = width - v * LANES < LANES ? width - v * LANES : LANES;
            VT x_j = K(load_lanes)(x + j * x_elem + v * LANES * x_lane, x_lane, valid, 0);
            VT tw = K(lane_target)(t + j * t_elem + v * LANES * t_lane, t_lane, valid, w, j,
                                   keep, spread);
            VT e_j = K(exp_from)(x_j, o[v], V(splat)(1), form);
            sum[v] = V(wide_add)(sum[v], e_j);
            mass[v] = V(wide_add)(mass[v], tw);
            dist[v] = V(wide_add)(dist[v], tw * (range[v].max - x_j));
            if (e) e[j] = e_j;
            else if (g) K(store_lanes)(g + j * g_elem + v * LANES, 1, e_j, valid);
        }
    }
}

/*
 * Cross-entropy with probability targets, `width` rows side by side as
 * ce_lanes takes them (the target t in a layout of its own, t_lane and
 * t_elem): loss = dist + mass log(sum), the gradient mass p_j - w_j t'_j.
 * A lane with a non-finite max gives nan throughout, as ce_prob_rows_each.
 */
CSM_INLINE void K(ce_prob_lanes)(const T *x, ptrdiff_t x_lane, ptrdiff_t x_elem, const T *t,
                                 ptrdiff_t t_lane, ptrdiff_t t_elem, const T *class_weight,
                                 ptrdiff_t width, ptrdiff_t n, double smoothing,
                                 double grad_scale, double *loss, T *grad, ptrdiff_t g_lane,
                                 ptrdiff_t g_elem, VT *e) {
    const ptrdiff_t vectors = e ? 1 : (width + LANES - 1) / LANES; /* as ce_lanes */
    const T keep = (T)(1 - smoothing), spread = (T)(smoothing / (double)n);
    K(range) range[MAX_VECTORS];
    K(origin) o[MAX_VECTORS];
    K_WIDE sums[MAX_VECTORS], masses[MAX_VECTORS], dists[MAX_VECTORS];
    VT factor[MAX_VECTORS];
    K(slices_range)(x, x_elem, x_lane, NULL, n, width, range);
    for (ptrdiff_t v = 0; v < vectors; v++) o[v] = K(origin_of)(range[v].max, 1);
    const int form = K(slices_form)(range, o, width, 1);
#define PROB_LANE_EXPS(f)                                                                     \
    K(prob_lane_exps)(x, x_lane, x_elem, t, t_lane, t_elem, class_weight, n, width, vectors,  \
                      range, o, keep, spread, f, e, grad, g_elem, sums, masses, dists)
    BY_FORM(form, PROB_LANE_EXPS);
#undef PROB_LANE_EXPS
    for (ptrdiff_t v = 0; v < vectors; v++) {
        const VT m = range[v].max;
        factor[v] = V(splat)((T)NAN);
        for (ptrdiff_t l0 = v * LANES; l0 < width && l0 < (v + 1) * LANES; l0 += csm_lanes_f64) {
            const ptrdiff_t lanes = width - l0 < csm_lanes_f64 ? width - l0 : csm_lanes_f64;
            csm_vf64 sum = csm_splat_f64(1), gap = csm_splat_f64(0);
            for (ptrdiff_t i = 0; i < lanes; i++) {
                const ptrdiff_t l = l0 - v * LANES + i;
                if (!isfinite(m[l])) continue;
                sum[i] = V(wide_lane)(sums[v], l);
                gap[i] = K(lane_gap)(o[v], l, form, m[l]);
            }
            const csm_vf64 log_sum = csm_log_f64(sum) + gap;
            for (ptrdiff_t i = 0; i < lanes; i++) {
                const ptrdiff_t l = l0 - v * LANES + i;
                const double mass = V(wide_lane)(masses[v], l);
                loss[l0 + i] = isfinite(m[l]) ? V(wide_lane)(dists[v], l) + mass * log_sum[i]
                                              : NAN;
                if (isfinite(m[l])) factor[v][l] = (T)(grad_scale * mass / sum[i]);
            }
        }
    }
    if (!grad) return;
    const VT s = V(splat)((T)grad_scale);
    for (ptrdiff_t j = 0; j < n; j++) {
        for (ptrdiff_t v = 0; v < vectors; v++) {
            const ptrdiff_t valid = width - v * LANES < LANES ? width - v * LANES : LANES;
            T *g_j = grad + j * g_elem + v * LANES * g_lane;
            const VT e_j = e ? e[j] : K(load_lanes)(g_j, g_lane, valid, 0);
            const VT tw = K(lane_target)(t + j * t_elem + v * LANES * t_lane, t_lane, valid,
                                         class_weight, j, keep, spread);
            K(store_lanes)(g_j, g_lane, e_j * factor[v] - s * tw, valid);
        }
    }
}

/* Rows shorter than SHORT_ROW, LANES at a time, as ce_short_rows */
static void K(ce_prob_short_rows)(const T *x, ptrdiff_t x_row_step, const T *target,
                                  ptrdiff_t t_row_step, const T *class_weight, ptrdiff_t rows,
                                  ptrdiff_t n, double smoothing, double grad_scale,
                                  double *loss, T *grad, ptrdiff_t grad_row_step) {
    VT e[SHORT_ROW];
    for (ptrdiff_t r0 = 0; r0 < rows; r0 += LANES)
        K(ce_prob_lanes)(x + r0 * x_row_step, x_row_step, 1, target + r0 * t_row_step,
                         t_row_step, 1, class_weight, rows - r0 < LANES ? rows - r0 : LANES, n,
                         smoothing, grad_scale, loss + r0,
                         grad ? grad + r0 * grad_row_step : NULL, grad_row_step, 1, e);
}

static void K(ce_prob_rows)(const T *x, ptrdiff_t x_row_step, const T *target,
                            ptrdiff_t t_row_step, const T *class_weight, ptrdiff_t rows,
                            ptrdiff_t n, double smoothing, double grad_scale, double *loss,
                            T *grad, ptrdiff_t grad_row_step) {
    if (n < SHORT_ROW)
        K(ce_prob_short_rows)(x, x_row_step, target, t_row_step, class_weight, rows, n,
                              smoothing, grad_scale, loss, grad, grad_row_step);
    else
        K(ce_prob_rows_each)(x, x_row_step, target, t_row_step, class_weight, rows, n,
                             smoothing, grad_scale, loss, grad, grad_row_step);
}

/* Probability targets down the columns of a non-last class axis, as ce_cols
 * (the target with x's layout or its own, t_class_step). */
static void K(ce_prob_cols)(const T *x, ptrdiff_t x_class_step, const T *target,
                            ptrdiff_t t_class_step, const T *class_weight, ptrdiff_t width,
                            ptrdiff_t n, double smoothing, double grad_scale, double *loss,
                            T *grad, ptrdiff_t grad_class_step) {
    for (ptrdiff_t c = 0; c < width; c += MAX_SLICES)
        K(ce_prob_lanes)(x + c, 1, x_class_step, target + c, 1, t_class_step, class_weight,
                         width - c < MAX_SLICES ? width - c : MAX_SLICES, n, smoothing,
                         grad_scale, loss + c, grad ? grad + c : NULL, 1, grad_class_step, NULL);
}

/* ---------- entropy of softmax(x): L + sum e (m - x) / sum e ---------- */

/* e = 0 where d = inf (x = -inf): those terms are 0, not nan */
CSM_INLINE void K(entropy_step)(const T *x, ptrdiff_t valid, VT vm, int normal, VT *sum,
                                VT *moment) {
    VT d = vm - K(load_valid)(x, valid, 0);
    VT e = K(exp_of)(-d, normal);
    if (valid != LANES) e = V(select)(V(first_lanes)(valid), e, V(splat)(0));
    *sum += e;
    *moment += V(select)(e > 0, e * d, V(splat)(0));
}

CSM_INLINE void K(entropy_row)(const T *x, ptrdiff_t n, T m, int normal, double *sum,
                               double *moment) {
    VT vm = V(splat)(m), sum_acc[UNROLL], mom_acc[UNROLL];
    *sum = *moment = 0;
    for (ptrdiff_t start = 0; start < n; start += ROW_BLOCK) {
        for (int u = 0; u < UNROLL; u++) sum_acc[u] = mom_acc[u] = V(splat)(0);
#define ENTROPY_STEP(i, valid, u) \
    K(entropy_step)(x + start + (i), valid, vm, normal, &sum_acc[u], &mom_acc[u])
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
