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
 * as (sum - e_y) / sum so that it keeps its digits when p_y is near 1.
 */
#include "loss.h" /* csm_ce_params */

/* 1 in the float instance: #if CSM_CAT(CSM_IS_, SUF) picks code by element type */
#ifndef CSM_IS_f32
#define CSM_IS_f32 1
#define CSM_IS_f64 0
#endif

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
                               K(origin) o, int form, int smooth, VT *sum, VT *dist) {
    VT v = K(load_valid)(x, valid, 0), d = m - v;
    VT e = K(exp_from)(v, o, V(splat)(1), form);
    if (valid != LANES) {
        VI in = V(first_lanes)(valid);
        e = V(select)(in, e, V(splat)(0));
        d = V(select)(in, d, V(splat)(0));
    }
    *sum += e;
    if (smooth) *dist += w ? K(rounded)(d * K(load_valid)(w, valid, 0)) : d;
    if (e_out) K(store_valid)(e_out, e, valid);
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
#define CE_SUM_FLUSH()                                                          \
    do {                                                                        \
        sum_total = K(flush_pairs)(sum_total, sum_acc);                         \
        if (smooth) dist_total = K(flush_pairs)(dist_total, dist_acc);          \
    } while (0)
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
 * The origin comes by pointer: by value, its three vectors were copied on every
 * call (a third of the time of a loss-only row of 250 classes, measured). */
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
                dist[v] = V(wide_add)(dist[v], w ? K(rounded)(d * w[j]) : d);
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
 * j + 1 (a vector at a time down a column, the class stride defeated the
 * prefetcher: the max pass took a third of the time, measured), the exps
 * waiting in the gradient. Every lane is computed alone: its bits do not
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
 * one row at a time, 10-class rows took 137 ns each, a chain of dependent steps
 * and partial vectors (measured). */
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
#define PROB_SUM_FLUSH()                                                     \
    do {                                                                     \
        sum_total = K(flush_pairs)(sum_total, sum_acc);                      \
        mass_total = K(flush_pairs)(mass_total, mass_acc);                   \
        dist_total = K(flush_pairs)(dist_total, dist_acc);                   \
    } while (0)
    ROW_LOOP_FLUSHED(n, PROB_SUM_STEP, PROB_SUM_FLUSH, SUM_FLUSH_EVERY);
#undef PROB_SUM_STEP
#undef PROB_SUM_FLUSH
    *sum = V(hsum_wide)(sum_total);
    *mass = V(hsum_wide)(mass_total);
    *dist = V(hsum_wide)(dist_total);
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

/* ---------- one huge row over threads (both kinds of target) ---------- */

/* the length of chunk k of `size` elements in a row of n */
CSM_INLINE ptrdiff_t K(chunk_len)(ptrdiff_t k, ptrdiff_t size, ptrdiff_t n) {
    return n - k * size < size ? n - k * size : size;
}

/* The operands of a huge row: logits x, class weights w, gradient g (each
 * NULL where absent) and the target: a class index (given to ce_row_terms),
 * or probabilities t with the smoothing's keep and spread (as
 * ce_prob_rows_each). */
typedef struct {
    const T *x, *w, *t;
    T *g;
    T keep, spread;
    int smooth; /* class index: label smoothing on */
} K(huge_row);

/* A chunk's part of the row's sums (as chunk_part): its max and min, its sum of
 * exps relative to `shift`, and dist = sum w (max - x) (class index, smooth)
 * or sum w t' (max - x) (probabilities) with `weight` = sum w or sum w t'. */
typedef struct {
    T max, min;
    K(shift) shift;
    double sum, dist, weight;
} K(ce_chunk);

/* the sums of r's classes start .. start + len - 1 into c, relative to max m
 * (its origin o, exp form), exps stored into r's g when not NULL */
static void K(chunk_sums)(K(ce_chunk) *c, const K(huge_row) *r, ptrdiff_t start, ptrdiff_t len,
                          T m, const K(origin) *o, int form) {
    const T *x = r->x + start, *w = r->w ? r->w + start : NULL;
    T *g = r->g ? r->g + start : NULL;
    if (r->t) {
#define PROB_SUMS(f)                                                                          \
    K(prob_row_sums)(x, r->t + start, w, g, len, m, *o, r->keep, r->spread, f, &c->sum,       \
                     &c->weight, &c->dist)
        BY_FORM(form, PROB_SUMS);
#undef PROB_SUMS
        return;
    }
    K(ce_sums)(x, g, w, len, m, o, form, r->smooth, &c->sum, &c->dist);
    c->weight = 0;
    if (r->smooth && !w) c->weight = (double)len;
    if (r->smooth && w) { /* double lanes, a vector at a time (scalar: 1.3 ns a class) */
        K_WIDE total = V(wide_zero)();
        for (ptrdiff_t i = 0; i < len; i += LANES)
            total = V(wide_add)(total, K(load_valid)(w + i, len - i < LANES ? len - i : LANES, 0));
        c->weight = V(hsum_wide)(total);
    }
}

/* Pass A over one chunk: its range, then its sums while it is in cache. A
 * chunk without a finite entry sums nothing here (huge_row_sums sums it
 * against the row's max). */
static K(ce_chunk) K(ce_chunk_pass)(const K(huge_row) *r, ptrdiff_t start, ptrdiff_t len) {
    K(ce_chunk) c = {0, 0, {0, 0}, 0, 0, 0};
    K(row_range)(r->x + start, NULL, len, &c.max, &c.min);
    if (!isfinite(c.max)) return c;
    const K(origin) o = K(origin_of)(V(splat)(c.max), 1);
    const int form = K(exp_form)(c.min, o, 1);
    c.shift = K(origin_shift)(o, 0, form & FORM_UNIT);
    K(chunk_sums)(&c, r, start, len, c.max, &o, form);
    return c;
}

/*
 * The sums of one row of at least HUGE_ROW classes, split over the threads in
 * the chunks of norm_huge_row (their size depends on n only; partial sums are
 * merged in chunk order: results do not depend on the thread count). Each
 * chunk is read once from memory; its sums are merged to the row's shift,
 * rescaled by weights[k] = exp(its shift - the row's) (also the factor of its
 * stored exps), and dist = the chunks' + (m - m_k) weight_k. Returns the
 * row's max m and into `row` (shift: its origin's) its sums; *o and *form the
 * row's origin and exp form, where m is finite.
 */
static T K(huge_row_sums)(const K(huge_row) *r, ptrdiff_t n, int threads,
                          double weights[MAX_CHUNKS], K(origin) *o, int *form,
                          K(ce_chunk) *row) {
    const ptrdiff_t size = K(chunk_size)(n), chunks = (n + size - 1) / size;
    K(ce_chunk) parts[MAX_CHUNKS];
    ptrdiff_t k;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (k = 0; k < chunks; k++)
        parts[k] = K(ce_chunk_pass)(r, k * size, K(chunk_len)(k, size, n));
    T m = parts[0].max, min = parts[0].min;
    for (k = 1; k < chunks; k++) {
        m = parts[k].max > m ? parts[k].max : m;
        min = parts[k].min < min ? parts[k].min : min;
    }
    if (!isfinite(m)) return m;
    *o = K(origin_of)(V(splat)(m), 1);
    *form = K(exp_form)(min, *o, 1);
    *row = (K(ce_chunk)){m, min, K(origin_shift)(*o, 0, *form & FORM_UNIT), 0, 0, 0};
    const double row_gap = K(shift_gap)(row->shift, m);
    for (k = 0; k < chunks; k++) {
        K(ce_chunk) *c = &parts[k];
        if (c->max == -(T)INFINITY) { /* exps 0 (or nan from a nan entry) */
            K(chunk_sums)(c, r, k * size, K(chunk_len)(k, size, n), m, o, *form);
            weights[k] = 0;
            row->sum += c->sum;
            row->dist += c->dist;
        } else {
            const int same = c->shift.base == row->shift.base && c->shift.j == row->shift.j;
            weights[k] = same ? 1 : exp(K(shift_gap)(c->shift, m) - row_gap);
            row->sum += c->sum * weights[k];
            row->dist += c->dist + ((double)m - (double)c->max) * c->weight;
        }
        row->weight += c->weight;
    }
    return m;
}

/* fill over a huge row, split over the threads */
static void K(huge_fill)(T *g, ptrdiff_t n, T fill, int threads) {
    ptrdiff_t k;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (k = 0; k < n; k++) g[k] = fill;
}

/* Class-index cross-entropy or focal loss of one huge row (label y): pass A in
 * huge_row_sums, pass B the gradient. A non-finite max gives nan throughout,
 * as ce_rows_each. */
static void K(ce_huge_row)(const T *x, int64_t y, const T *class_weight, ptrdiff_t n,
                           const csm_ce_params *p, double *loss, T *grad, int threads) {
    const T *w = class_weight;
    const K(huge_row) r = {x, w, NULL, grad, 0, 0, !p->focal && p->smoothing > 0};
    double weights[MAX_CHUNKS];
    K(origin) o;
    int form;
    K(ce_chunk) row;
    if (y == p->ignore_index) {
        *loss = 0;
        if (grad) K(huge_fill)(grad, n, 0, threads);
        return;
    }
    const T m = K(huge_row_sums)(&r, n, threads, weights, &o, &form, &row);
    if (!isfinite(m)) {
        *loss = NAN;
        if (grad) K(huge_fill)(grad, n, (T)NAN, threads);
        return;
    }
    const K(ce_terms) t = K(ce_row_terms)(p, w, x, y, n, m, o, form, row.sum, row.dist, NULL);
    *loss = t.loss;
    if (!grad) return;
    const double s = p->grad_scale;
    const ptrdiff_t size = K(chunk_size)(n), chunks = (n + size - 1) / size;
    ptrdiff_t k;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (k = 0; k < chunks; k++)
        K(grad_rows_dispatch)(grad + k * size, w ? w + k * size : NULL, K(chunk_len)(k, size, n),
                              (T)(s * t.a * weights[k] / row.sum), (T)(s * t.b_shift));
    grad[y] = (T)(s * t.g_y);
}

/* Cross-entropy with probability targets t of one huge row, as ce_huge_row:
 * loss = dist + mass log(sum), the gradient mass p_j - w_j t'_j. */
static void K(ce_prob_huge_row)(const T *x, const T *t, const T *class_weight, ptrdiff_t n,
                                double smoothing, double grad_scale, double *loss, T *grad,
                                int threads) {
    const T *w = class_weight;
    const K(huge_row) r = {x, w, t, grad, (T)(1 - smoothing), (T)(smoothing / (double)n), 0};
    double weights[MAX_CHUNKS];
    K(origin) o;
    int form;
    K(ce_chunk) row;
    const T m = K(huge_row_sums)(&r, n, threads, weights, &o, &form, &row);
    if (!isfinite(m)) {
        *loss = NAN;
        if (grad) K(huge_fill)(grad, n, (T)NAN, threads);
        return;
    }
    const double mass = row.weight;
    *loss = row.dist + mass * (log(row.sum) + K(shift_gap)(row.shift, m));
    if (!grad) return;
    const ptrdiff_t size = K(chunk_size)(n), chunks = (n + size - 1) / size;
    ptrdiff_t k;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (k = 0; k < chunks; k++)
        K(prob_grad_row)(grad + k * size, t + k * size, w ? w + k * size : NULL,
                         K(chunk_len)(k, size, n), (T)(grad_scale * mass * weights[k] / row.sum),
                         r.keep, r.spread, (T)grad_scale);
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

/* ================================================================ element-wise losses */

/*
 * Binary cross-entropy, sigmoid focal loss and KL divergence work element by
 * element on logits x and a target t of the same shape, both contiguous. The
 * caller splits the elements into fixed chunks (CSM_ELEM_CHUNK, independent of
 * the thread count) and sums the per-chunk totals in order. Everything is
 * built from e = exp(-|x|) in (0, 1]:
 *   log1p(e)                     softplus(x) = max(x, 0) + log1p(e)
 *   r = 1 / (1 + e)              sigmoid(x) = r (x >= 0) or e r (x < 0)
 * so nothing overflows and the losses are exact at logits of any size.
 */

/* fdlibm's log kernel: k ln2 + log(1 + f) for f in [sqrt(1/2) - 1, sqrt(2) - 1]
 * (float: musl's shorter polynomial, error < 2^-34). */
CSM_INLINE VT K(log_kernel)(VT f, VT k) {
    const int single = sizeof(T) == 4;
    VT s = f / (2 + f), z = s * s, w = z * z, t1, t2;
    if (single) {
        t1 = w * ((T)0.40000972152f + w * (T)0.24279078841f);
        t2 = z * ((T)0.66666662693f + w * (T)0.28498786688f);
    } else {
        t1 = w * ((T)3.999999999940941908e-01 +
                  w * ((T)2.222219843214978396e-01 + w * (T)1.531383769920937332e-01));
        t2 = z * ((T)6.666666666666735130e-01 +
                  w * ((T)2.857142874366239149e-01 +
                       w * ((T)1.818357216161805012e-01 + w * (T)1.479819860511658591e-01)));
    }
    const T ln2_hi = single ? (T)6.9313812256e-01f : (T)6.93147180369123816490e-01;
    const T ln2_lo = single ? (T)9.0580006145e-06f : (T)1.90821492927058770002e-10;
    VT hfsq = (T)0.5 * f * f;
    return k * ln2_hi - ((hfsq - (s * (hfsq + t1 + t2) + k * ln2_lo)) - f);
}

/* log1p(e) for e in [0, 1] (nan passes through): f = e exactly below sqrt(2) - 1,
 * else 1 + e = 2 (1 + f) with f = (e - 1) / 2. */
CSM_INLINE VT K(log1p_unit)(VT e) {
    VI big = e > (T)0.41421356237309503;
    VT f = V(select)(big, (e - 1) * (T)0.5, e);
    return K(log_kernel)(f, V(select)(big, V(splat)(1), V(splat)(0)));
}

/* log of each lane: -inf at 0, nan below 0 and at nan, inf at inf. */
CSM_INLINE VT K(vlog)(VT u) {
    const int single = sizeof(T) == 4;
    VI tiny = u < (single ? (T)1.17549435e-38f : (T)2.2250738585072014e-308);
    VT scaled = V(select)(tiny, u * (single ? (T)0x1p25f : (T)0x1p54), u);
    VT k_adj = V(select)(tiny, V(splat)(single ? -25 : -54), V(splat)(0));
    VI bits = (VI)scaled, k_int;
    /* musl's reduction: 1 + f = the significand scaled into [sqrt(1/2), sqrt(2)) */
#if CSM_CAT(CSM_IS_, SUF)
    bits += 0x3f800000 - 0x3f3504f3;
    k_int = (bits >> 23) - 0x7f;
    bits = (bits & 0x007fffff) + 0x3f3504f3;
#else
    bits += (int64_t)(0x3ff00000 - 0x3fe6a09e) << 32;
    k_int = (bits >> 52) - 0x3ff;
    bits = (bits & (int64_t)0x000fffffffffffff) + ((int64_t)0x3fe6a09e << 32);
#endif
    VT f = (VT)bits - 1;
    VT result = K(log_kernel)(f, __builtin_convertvector(k_int, VT) + k_adj);
    VT special = V(select)(u == 0, V(splat)(-(T)INFINITY),
                           V(select)(u == (T)INFINITY, u, V(splat)((T)NAN)));
    return V(select)((u > 0) & (u < (T)INFINITY), result, special);
}

/* The pieces of the logistic function of x that the losses share. */
typedef struct {
    VT e;   /* exp(-|x|) */
    VT lp;  /* log1p(e) */
} K(logistic);

CSM_INLINE K(logistic) K(logistic_of)(VT x) {
    VT a = V(select)(x < 0, -x, x);
    K(logistic) l;
    l.e = V(exp)(-a);
    l.lp = K(log1p_unit)(l.e);
    return l;
}

/* sigmoid(x) and sigmoid(-x) */
CSM_INLINE void K(sigmoids)(VT x, VT e, VT *s_pos, VT *s_neg) {
    VT r = 1 / (1 + e), er = e * r;
    VI positive = x >= 0;
    *s_pos = V(select)(positive, r, er);
    *s_neg = V(select)(positive, er, r);
}

CSM_INLINE VT K(relu)(VT x) { return V(max)(x, V(splat)(0)); }

/* ---------- sigmoid and log_sigmoid ---------- */

CSM_INLINE void K(logistic_row)(const T *x, T *y, ptrdiff_t n, int log) {
#define LOGISTIC_STEP(i, valid, u)                                                  \
    do {                                                                            \
        VT x_ = K(load_valid)(x + (i), valid, 0);                                   \
        K(logistic) l_ = K(logistic_of)(x_);                                        \
        VT r_;                                                                      \
        if (log) { /* -softplus(-x) = min(x, 0) - log1p(e) */                      \
            r_ = V(min)(x_, V(splat)(0)) - l_.lp;                                   \
        } else {                                                                    \
            VT s_neg_;                                                              \
            K(sigmoids)(x_, l_.e, &r_, &s_neg_);                                    \
        }                                                                           \
        K(store_valid)(y + (i), r_, valid);                                         \
    } while (0)
    ROW_LOOP(n, LOGISTIC_STEP);
#undef LOGISTIC_STEP
}

/* sigmoid (log = 0) or log_sigmoid (log = 1) of n contiguous elements; y may be x. */
static void K(logistic_rows)(const T *x, T *y, ptrdiff_t n, int log) {
    if (log) K(logistic_row)(x, y, n, 1);
    else K(logistic_row)(x, y, n, 0);
}

/* ---------- binary cross-entropy with logits ---------- */

/*
 * weight w, pos_weight q (1 where absent):
 *   loss = w (q t softplus(-x) + (1 - t) softplus(x))
 *   grad = w ((1 - t) sigmoid(x) - q t sigmoid(-x))
 * Operands are addressed on a (rows, n) grid: a row's entries are
 * data[r row_step + j col_step] with col_step 0 (one value per row) or 1.
 */
CSM_INLINE VT K(operand)(const T *p, VT value, ptrdiff_t i, ptrdiff_t valid) {
    return p ? K(load_valid)(p + i, valid, 1) : value;
}

CSM_INLINE double K(bce_segment)(const T *x, const T *t, const T *w, VT wv, const T *q, VT qv,
                                 ptrdiff_t len, VT scale, T *loss, T *grad, int has_w,
                                 int has_q) {
    VT acc[UNROLL];
    double total = 0;
    for (ptrdiff_t start = 0; start < len; start += ROW_BLOCK) {
        ptrdiff_t block = len - start < ROW_BLOCK ? len - start : ROW_BLOCK;
        const T *xb = x + start, *tb = t + start;
        const T *wb = w ? w + start : NULL, *qb = q ? q + start : NULL;
        T *lb = loss ? loss + start : NULL, *gb = grad ? grad + start : NULL;
        for (int u = 0; u < UNROLL; u++) acc[u] = V(splat)(0);
#define BCE_STEP(i, valid, u)                                                           \
    do {                                                                                \
        VT x_ = K(load_valid)(xb + (i), valid, 0);                                      \
        VT t_ = K(load_valid)(tb + (i), valid, 0);                                      \
        K(logistic) l_ = K(logistic_of)(x_);                                            \
        VT pos_ = has_q ? K(rounded)(K(operand)(qb, qv, i, valid) * t_) : t_;           \
        VT neg_ = 1 - t_;                                                               \
        VT v_ = K(rounded)(neg_ * (K(relu)(x_) + l_.lp)) +                              \
                K(rounded)(pos_ * (K(relu)(-x_) + l_.lp));                              \
        VT w_ = has_w ? K(operand)(wb, wv, i, valid) : V(splat)(1);                     \
        if (has_w) v_ = K(rounded)(v_ * w_);                                            \
        if ((valid) != LANES) v_ = V(select)(V(first_lanes)(valid), v_, V(splat)(0));   \
        acc[u] += v_;                                                                   \
        if (lb) K(store_valid)(lb + (i), v_, valid);                                    \
        if (gb) {                                                                       \
            VT sp_, sn_;                                                                \
            K(sigmoids)(x_, l_.e, &sp_, &sn_);                                          \
            VT g_ = neg_ * sp_ - pos_ * sn_;                                            \
            if (has_w) g_ *= w_;                                                        \
            K(store_valid)(gb + (i), g_ * scale, valid);                                \
        }                                                                               \
    } while (0)
        ROW_LOOP(block, BCE_STEP);
#undef BCE_STEP
        total += V(hsum)(K(combine)(acc));
    }
    return total;
}

static double K(bce_segment_any)(const T *x, const T *t, const T *w, VT wv, int has_w,
                                 const T *q, VT qv, int has_q, ptrdiff_t len, VT scale,
                                 T *loss, T *grad) {
    if (grad) {
        if (has_w && has_q) return K(bce_segment)(x, t, w, wv, q, qv, len, scale, loss, grad, 1, 1);
        if (has_w) return K(bce_segment)(x, t, w, wv, NULL, wv, len, scale, loss, grad, 1, 0);
        if (has_q) return K(bce_segment)(x, t, NULL, wv, q, qv, len, scale, loss, grad, 0, 1);
        return K(bce_segment)(x, t, NULL, wv, NULL, qv, len, scale, loss, grad, 0, 0);
    }
    if (has_w && has_q) return K(bce_segment)(x, t, w, wv, q, qv, len, scale, loss, NULL, 1, 1);
    if (has_w) return K(bce_segment)(x, t, w, wv, NULL, wv, len, scale, loss, NULL, 1, 0);
    if (has_q) return K(bce_segment)(x, t, NULL, wv, q, qv, len, scale, loss, NULL, 0, 1);
    return K(bce_segment)(x, t, NULL, wv, NULL, qv, len, scale, loss, NULL, 0, 0);
}

/* An operand's entries for row r from column j: a pointer (col_step 1) or a value. */
CSM_INLINE const T *K(operand_row)(const csm_operand *o, ptrdiff_t r, ptrdiff_t j, VT *value) {
    const T *base = (const T *)o->data + r * o->row_step;
    if (o->col_step) return base + j;
    *value = V(splat)(*base);
    return NULL;
}

static double K(bce_range)(const T *x, const T *t, ptrdiff_t lo, ptrdiff_t hi,
                           const csm_elem_params *p, T *loss, T *grad) {
    const ptrdiff_t n = p->n;
    const int has_w = p->weight.data != NULL, has_q = p->pos_weight.data != NULL;
    VT scale = V(splat)((T)p->grad_scale);
    double total = 0;
    for (ptrdiff_t i = lo; i < hi;) {
        ptrdiff_t r = i / n, j = i - r * n, len = n - j < hi - i ? n - j : hi - i;
        VT wv = V(splat)(1), qv = V(splat)(1);
        const T *w = has_w ? K(operand_row)(&p->weight, r, j, &wv) : NULL;
        const T *q = has_q ? K(operand_row)(&p->pos_weight, r, j, &qv) : NULL;
        total += K(bce_segment_any)(x + i, t + i, w, wv, has_w, q, qv, has_q, len, scale,
                                    loss ? loss + i : NULL, grad ? grad + i : NULL);
        i += len;
    }
    return total;
}

/* ---------- sigmoid focal loss (torchvision) ---------- */

/*
 * u = 1 - p_t = t sigmoid(-x) + (1 - t) sigmoid(x), ce = BCE(x, t):
 *   loss = alpha_t ce u^gamma
 *   grad = alpha_t (((1 - t) sigmoid(x) - t sigmoid(-x)) u^gamma
 *                   + ce gamma u^(gamma - 1) sigmoid(x) sigmoid(-x) (1 - 2t))
 * with alpha_t = alpha t + (1 - alpha)(1 - t), or 1 for alpha < 0.
 * power: 0 (gamma = 0), 1, 2, or 3 for any other gamma (exp(gamma log u)).
 */
CSM_INLINE double K(sfocal_chunk)(const T *x, const T *t, ptrdiff_t len, T gamma, T alpha,
                                  int use_alpha, int power, VT scale, T *loss, T *grad) {
    VT acc[UNROLL];
    double total = 0;
    for (ptrdiff_t start = 0; start < len; start += ROW_BLOCK) {
        ptrdiff_t block = len - start < ROW_BLOCK ? len - start : ROW_BLOCK;
        const T *xb = x + start, *tb = t + start;
        T *lb = loss ? loss + start : NULL, *gb = grad ? grad + start : NULL;
        for (int u = 0; u < UNROLL; u++) acc[u] = V(splat)(0);
#define SFOCAL_STEP(i, valid, u)                                                        \
    do {                                                                                \
        VT x_ = K(load_valid)(xb + (i), valid, 0);                                      \
        VT t_ = K(load_valid)(tb + (i), valid, 0);                                      \
        K(logistic) l_ = K(logistic_of)(x_);                                            \
        VT sp_, sn_;                                                                    \
        K(sigmoids)(x_, l_.e, &sp_, &sn_);                                              \
        VT neg_ = 1 - t_;                                                               \
        VT ce_ = K(rounded)(neg_ * (K(relu)(x_) + l_.lp)) +                             \
                 K(rounded)(t_ * (K(relu)(-x_) + l_.lp));                               \
        VT q_ = K(rounded)(t_ * sn_) + K(rounded)(neg_ * sp_);                          \
        VT qg_, dq_; /* u^gamma, gamma u^(gamma - 1) */                                 \
        if (power == 0) {                                                               \
            qg_ = V(splat)(1);                                                          \
            dq_ = V(splat)(0);                                                          \
        } else if (power == 1) {                                                        \
            qg_ = q_;                                                                   \
            dq_ = V(splat)(1);                                                          \
        } else if (power == 2) {                                                        \
            qg_ = K(rounded)(q_ * q_);                                                  \
            dq_ = 2 * q_;                                                               \
        } else {                                                                        \
            qg_ = V(exp)(K(rounded)(gamma * K(vlog)(q_)));                              \
            dq_ = V(select)(q_ > 0, gamma * qg_ / V(select)(q_ > 0, q_, V(splat)(1)),   \
                            V(splat)(0));                                               \
        }                                                                               \
        VT v_ = K(rounded)(ce_ * qg_);                                                  \
        VT at_ = V(splat)(1);                                                           \
        if (use_alpha) {                                                                \
            at_ = K(rounded)(alpha * t_) + K(rounded)((1 - alpha) * neg_);              \
            v_ = K(rounded)(at_ * v_);                                                  \
        }                                                                               \
        if ((valid) != LANES) v_ = V(select)(V(first_lanes)(valid), v_, V(splat)(0));   \
        acc[u] += v_;                                                                   \
        if (lb) K(store_valid)(lb + (i), v_, valid);                                    \
        if (gb) {                                                                       \
            VT g_ = (neg_ * sp_ - t_ * sn_) * qg_;                                      \
            /* sp sn first: it is 0 where ce is huge, and ce dq alone may overflow */   \
            if (power != 0) g_ += ce_ * ((sp_ * sn_) * dq_) * (1 - 2 * t_);             \
            if (use_alpha) g_ *= at_;                                                   \
            K(store_valid)(gb + (i), g_ * scale, valid);                                \
        }                                                                               \
    } while (0)
        ROW_LOOP(block, SFOCAL_STEP);
#undef SFOCAL_STEP
        total += V(hsum)(K(combine)(acc));
    }
    return total;
}

static double K(sfocal_range)(const T *x, const T *t, ptrdiff_t lo, ptrdiff_t hi,
                              const csm_elem_params *p, T *loss, T *grad) {
    const T gamma = (T)p->gamma, alpha = (T)p->alpha;
    const int use_alpha = p->alpha >= 0;
    const int power = p->gamma == 0 ? 0 : p->gamma == 1 ? 1 : p->gamma == 2 ? 2 : 3;
    VT scale = V(splat)((T)p->grad_scale);
    x += lo, t += lo;
    loss = loss ? loss + lo : NULL;
    grad = grad ? grad + lo : NULL;
    ptrdiff_t len = hi - lo;
#define SFOCAL_CASE(P)                                                                     \
    return grad ? (use_alpha ? K(sfocal_chunk)(x, t, len, gamma, alpha, 1, P, scale, loss, grad) \
                             : K(sfocal_chunk)(x, t, len, gamma, alpha, 0, P, scale, loss, grad)) \
                : (use_alpha ? K(sfocal_chunk)(x, t, len, gamma, alpha, 1, P, scale, loss, NULL) \
                             : K(sfocal_chunk)(x, t, len, gamma, alpha, 0, P, scale, loss, NULL))
    switch (power) {
    case 0: SFOCAL_CASE(0);
    case 1: SFOCAL_CASE(1);
    case 2: SFOCAL_CASE(2);
    default: SFOCAL_CASE(3);
    }
#undef SFOCAL_CASE
}

/* ---------- KL divergence (torch.nn.functional.kl_div) ---------- */

/*
 * input x (log-probabilities), target t:
 *   log_target = 0: loss = t log t - t x (0 log 0 = 0), grad = -t
 *   log_target = 1: loss = exp(t) (t - x),               grad = -exp(t)
 */
CSM_INLINE double K(kl_chunk)(const T *x, const T *t, ptrdiff_t len, int log_target, VT scale,
                              T *loss, T *grad) {
    VT acc[UNROLL];
    double total = 0;
    for (ptrdiff_t start = 0; start < len; start += ROW_BLOCK) {
        ptrdiff_t block = len - start < ROW_BLOCK ? len - start : ROW_BLOCK;
        const T *xb = x + start, *tb = t + start;
        T *lb = loss ? loss + start : NULL, *gb = grad ? grad + start : NULL;
        for (int u = 0; u < UNROLL; u++) acc[u] = V(splat)(0);
#define KL_STEP(i, valid, u)                                                            \
    do {                                                                                \
        VT x_ = K(load_valid)(xb + (i), valid, 0);                                      \
        VT t_ = K(load_valid)(tb + (i), valid, 0);                                      \
        VT p_, v_;                                                                      \
        if (log_target) {                                                               \
            p_ = V(exp)(t_);                                                            \
            v_ = K(rounded)(p_ * (t_ - x_));                                            \
        } else {                                                                        \
            p_ = t_;                                                                    \
            VT tlogt_ = V(select)(t_ == 0, V(splat)(0), K(rounded)(t_ * K(vlog)(t_)));  \
            v_ = tlogt_ - K(rounded)(t_ * x_);                                          \
        }                                                                               \
        if ((valid) != LANES) v_ = V(select)(V(first_lanes)(valid), v_, V(splat)(0));   \
        acc[u] += v_;                                                                   \
        if (lb) K(store_valid)(lb + (i), v_, valid);                                    \
        if (gb) K(store_valid)(gb + (i), -p_ * scale, valid);                           \
    } while (0)
        ROW_LOOP(block, KL_STEP);
#undef KL_STEP
        total += V(hsum)(K(combine)(acc));
    }
    return total;
}

static double K(kl_range)(const T *x, const T *t, ptrdiff_t lo, ptrdiff_t hi,
                          const csm_elem_params *p, T *loss, T *grad) {
    VT scale = V(splat)((T)p->grad_scale);
    x += lo, t += lo;
    loss = loss ? loss + lo : NULL;
    ptrdiff_t len = hi - lo;
    if (grad) {
        grad += lo;
        return p->kind == CSM_KL_LOG ? K(kl_chunk)(x, t, len, 1, scale, loss, grad)
                                     : K(kl_chunk)(x, t, len, 0, scale, loss, grad);
    }
    return p->kind == CSM_KL_LOG ? K(kl_chunk)(x, t, len, 1, scale, loss, NULL)
                                 : K(kl_chunk)(x, t, len, 0, scale, loss, NULL);
}

/* Elements [lo, hi) of an element-wise loss (p->kind); returns their loss sum in
 * double; writes the losses (if loss) and the gradient times p->grad_scale (if grad). */
static double K(elem_loss)(const T *x, const T *t, ptrdiff_t lo, ptrdiff_t hi,
                           const csm_elem_params *p, T *loss, T *grad) {
    switch (p->kind) {
    case CSM_BCE: return K(bce_range)(x, t, lo, hi, p, loss, grad);
    case CSM_SIGMOID_FOCAL: return K(sfocal_range)(x, t, lo, hi, p, loss, grad);
    default: return K(kl_range)(x, t, lo, hi, p, loss, grad);
    }
}

/* ================================================================ NLL */

/*
 * Rows [lo, hi) of log-probabilities laid out as (outer, C, inner) with element
 * strides (row p = o inner + i); labels (already validated), class weights w
 * (double, or NULL for 1). Writes loss[p] = -w_y x[o, y, i] (0 for ignored rows)
 * if loss, and grad[o, y, i] = -w_y grad_scale into a zeroed C-contiguous
 * gradient if grad. Returns the sum of w_y over the non-ignored rows.
 */
static double K(nll_rows)(const T *x, ptrdiff_t outer_step, ptrdiff_t class_step,
                          ptrdiff_t inner_step, ptrdiff_t C, ptrdiff_t inner,
                          const int64_t *labels, const double *w, int64_t ignore_index,
                          ptrdiff_t lo, ptrdiff_t hi, double grad_scale, double *loss, T *grad) {
    double weight_sum = 0;
    for (ptrdiff_t p = lo; p < hi; p++) {
        const int64_t y = labels[p];
        if (y == ignore_index) {
            if (loss) loss[p] = 0;
            continue;
        }
        const ptrdiff_t o = p / inner, i = p - o * inner;
        const double w_y = w ? w[y] : 1.0;
        weight_sum += w_y;
        if (loss) loss[p] = -w_y * (double)x[o * outer_step + y * class_step + i * inner_step];
        if (grad) grad[(o * C + y) * inner + i] = (T)(-w_y * grad_scale);
    }
    return weight_sum;
}

/* ================================================================ softmax / log_softmax backward */

/*
 * y = softmax(x):      dx = y (g - sum(g y))
 * y = log_softmax(x):  dx = g - exp(y) sum(g)
 * Sums run in T within blocks and in double across them; out may alias g or y
 * (each element is read before it is written).
 */
CSM_INLINE double K(bwd_row_sum)(const T *g, const T *y, ptrdiff_t n, int log) {
    VT acc[UNROLL];
    double total = 0;
    for (ptrdiff_t start = 0; start < n; start += ROW_BLOCK) {
        ptrdiff_t block = n - start < ROW_BLOCK ? n - start : ROW_BLOCK;
        const T *gb = g + start, *yb = y + start;
        for (int u = 0; u < UNROLL; u++) acc[u] = V(splat)(0);
#define BWD_SUM_STEP(i, valid, u)                                                  \
    do {                                                                           \
        VT g_ = K(load_valid)(gb + (i), valid, 0);                                 \
        acc[u] += log ? g_ : K(rounded)(g_ * K(load_valid)(yb + (i), valid, 0));   \
    } while (0)
        ROW_LOOP(block, BWD_SUM_STEP);
#undef BWD_SUM_STEP
        total += V(hsum)(K(combine)(acc));
    }
    return total;
}

CSM_INLINE void K(bwd_row_write)(const T *g, const T *y, T *out, ptrdiff_t n, T sum, int log) {
    VT s = V(splat)(sum);
#define BWD_WRITE_STEP(i, valid, u)                                                \
    do {                                                                           \
        VT g_ = K(load_valid)(g + (i), valid, 0);                                  \
        VT y_ = K(load_valid)(y + (i), valid, 0);                                  \
        K(store_valid)(out + (i), log ? g_ - V(exp)(y_) * s : y_ * (g_ - s), valid); \
    } while (0)
    ROW_LOOP(n, BWD_WRITE_STEP);
#undef BWD_WRITE_STEP
}

/* Rows with contiguous entries, row steps in elements. */
static void K(softmax_bwd_rows)(const T *g, ptrdiff_t g_row_step, const T *y,
                                ptrdiff_t y_row_step, T *out, ptrdiff_t out_row_step,
                                ptrdiff_t rows, ptrdiff_t n, int log) {
    for (ptrdiff_t r = 0; r < rows; r++) {
        const T *gr = g + r * g_row_step, *yr = y + r * y_row_step;
        T *outr = out + r * out_row_step;
        if (log) K(bwd_row_write)(gr, yr, outr, n, (T)K(bwd_row_sum)(gr, yr, n, 1), 1);
        else K(bwd_row_write)(gr, yr, outr, n, (T)K(bwd_row_sum)(gr, yr, n, 0), 0);
    }
}

/*
 * `width` <= CSM_BWD_COLS adjacent slices (columns) of length n: entry k of
 * column c at c + k step (g, y, out each with their own step). The sums are
 * vectorised across columns.
 */
static void K(softmax_bwd_cols)(const T *g, ptrdiff_t g_step, const T *y, ptrdiff_t y_step,
                                T *out, ptrdiff_t out_step, ptrdiff_t n, ptrdiff_t width,
                                int log) {
    VT acc[CSM_BWD_COLS / LANES];
    double totals[CSM_BWD_COLS];
    T sums[CSM_BWD_COLS];
    const ptrdiff_t vectors = (width + LANES - 1) / LANES;
    for (ptrdiff_t c = 0; c < width; c++) totals[c] = 0;
    for (ptrdiff_t k0 = 0; k0 < n; k0 += SUM_BLOCK) {
        const ptrdiff_t k1 = n - k0 < SUM_BLOCK ? n : k0 + SUM_BLOCK;
        for (ptrdiff_t v = 0; v < vectors; v++) acc[v] = V(splat)(0);
        for (ptrdiff_t k = k0; k < k1; k++) {
            for (ptrdiff_t v = 0; v < vectors; v++) {
                ptrdiff_t valid = width - v * LANES < LANES ? width - v * LANES : LANES;
                VT g_ = K(load_valid)(g + k * g_step + v * LANES, valid, 0);
                acc[v] += log ? g_
                              : K(rounded)(g_ * K(load_valid)(y + k * y_step + v * LANES, valid, 0));
            }
        }
        for (ptrdiff_t v = 0; v < vectors; v++) {
            ptrdiff_t valid = width - v * LANES < LANES ? width - v * LANES : LANES;
            for (ptrdiff_t l = 0; l < valid; l++) totals[v * LANES + l] += acc[v][l];
        }
    }
    for (ptrdiff_t c = 0; c < width; c++) sums[c] = (T)totals[c];
    for (ptrdiff_t k = 0; k < n; k++) {
        for (ptrdiff_t v = 0; v < vectors; v++) {
            ptrdiff_t valid = width - v * LANES < LANES ? width - v * LANES : LANES;
            VT s = K(load_valid)(sums + v * LANES, valid, 0);
            VT g_ = K(load_valid)(g + k * g_step + v * LANES, valid, 0);
            VT y_ = K(load_valid)(y + k * y_step + v * LANES, valid, 0);
            K(store_valid)(out + k * out_step + v * LANES, log ? g_ - V(exp)(y_) * s : y_ * (g_ - s),
                           valid);
        }
    }
}
