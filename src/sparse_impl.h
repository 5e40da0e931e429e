/*
 * Sparse normalisers, templated over the element type (T, SUF; VT is unused:
 * the row solvers are branchy scalar code). Instantiated by sparse_isa.h.
 *
 * What it computes, per row x of n elements (values as the `entmax` package):
 *   sparsemax      p = max(z - tau, 0),        z = x - max(x), sum p = 1
 *   entmax-1.5     p = max(z - tau, 0)^2,      z = (x - max(x)) / 2
 *   alpha-entmax   p = max(X - tau, 0)^(1/(alpha-1)) / sum, X = (alpha-1) x,
 *                  tau by n_iter bisection steps from [max X - 1,
 *                  max X - (1/n)^(alpha-1)], the package's exact recurrence;
 *                  alpha = 1 is softmax (the limit), computed as such.
 * Thresholds without a full sort: every support element has z > -1 (its
 * probability is at most 1), so only those candidates are gathered.
 * Sparsemax then runs Michelot's fixed point (tau = (sum S - 1) / |S|, drop
 * S's elements <= tau, repeat; tau only grows, so it stops after a few
 * passes). Entmax-1.5 first shrinks the candidates with Newton steps on
 * f(t) = sum (z - t)_+^2 - 1 from t = -1 (f is convex and decreasing, so each
 * step stays below the threshold and whatever lies below it is off the
 * support), then sorts the few left and applies the package's sort-based
 * formula to them. Bisection drops elements below its lower bound as it rises.
 * Everything is computed in double from the loaded values, whatever T is.
 *
 * Layouts: any strided rows (csm_rows); rows whose elements are not
 * contiguous are gathered a tile at a time into contiguous scratch (see
 * CSM_SPARSE_TILE_ROWS). A row's result depends on its values only, so views
 * and thread counts give the same bits (no fused multiply-add, sparse_isa.h).
 *
 * Accuracy: double rounding of the package's own formulas: float64 results
 * agree with it to a few 1e-15 (sums run over the candidates in index order,
 * not over the sorted row); float32 results are the float64 ones rounded.
 * A row holding nan or +inf, or only -inf, gives nan everywhere; -inf
 * entries elsewhere get 0.
 */
#ifndef CSM_SPARSE_ROW_SOLVERS
#define CSM_SPARSE_ROW_SOLVERS

#include <math.h>

/* How a row's probabilities follow from its elements:
 * p = form(value(x) - tau) / norm, value(x) = (x - shift) * scale or x * scale. */
enum { FORM_LINEAR, FORM_SQUARE, FORM_POWER, FORM_EXP, FORM_NAN };

typedef struct sparse_solution {
    int form;
    int shifted;
    double shift, scale, tau, power, norm;
} sparse_solution;

/* Candidates kept by the Newton steps of entmax-1.5 are sorted once there are
 * at most this many (or after ENTMAX15_NEWTON_STEPS steps). */
#define ENTMAX15_SORT_SIZE 16
#define ENTMAX15_NEWTON_STEPS 4
/* Newton's lower bound is exact up to rounding; prune below it by this much
 * less so that rounding never drops a support element. */
#define ENTMAX15_PRUNE_MARGIN 1e-12

static inline double sparse_value(const sparse_solution *s, double x) {
    return s->shifted ? (x - s->shift) * s->scale : x * s->scale;
}

static inline double sparse_prob(const sparse_solution *s, double x) {
    double d = sparse_value(s, x) - s->tau;
    switch (s->form) {
    case FORM_LINEAR: return d > 0 ? d / s->norm : 0.0;
    case FORM_SQUARE: return d > 0 ? d * d / s->norm : 0.0;
    case FORM_POWER: return d > 0 ? pow(d, s->power) / s->norm : 0.0;
    case FORM_EXP: return exp(d) / s->norm;
    default: return NAN;
    }
}

/* Michelot's sparsemax threshold over candidates z[0..k) (k >= 1, the max among them). */
static double sparsemax_threshold(double *z, ptrdiff_t k) {
    for (;;) {
        double sum = 0.0;
        ptrdiff_t i, kept = 0;
        for (i = 0; i < k; i++) sum += z[i];
        double tau = (sum - 1.0) / (double)k;
        for (i = 0; i < k; i++)
            if (z[i] > tau) z[kept++] = z[i];
        if (kept == k) return tau;
        k = kept;
    }
}

static void sift_down_min(double *a, ptrdiff_t root, ptrdiff_t k) {
    for (;;) {
        ptrdiff_t child = 2 * root + 1;
        if (child >= k) return;
        if (child + 1 < k && a[child + 1] < a[child]) child++;
        if (!(a[child] < a[root])) return;
        double t = a[root];
        a[root] = a[child];
        a[child] = t;
        root = child;
    }
}

/* Sorts a[0..k) in decreasing order: insertion sort for a few, heapsort beyond
 * (no allocation, O(k log k) at worst). */
static void sort_decreasing(double *a, ptrdiff_t k) {
    ptrdiff_t i;
    if (k <= 32) {
        for (i = 1; i < k; i++) {
            double v = a[i];
            ptrdiff_t j = i;
            for (; j > 0 && a[j - 1] < v; j--) a[j] = a[j - 1];
            a[j] = v;
        }
        return;
    }
    for (i = k / 2 - 1; i >= 0; i--) sift_down_min(a, i, k);
    for (i = k - 1; i > 0; i--) {
        double t = a[0];
        a[0] = a[i];
        a[i] = t;
        sift_down_min(a, 0, i);
    }
}

/* The entmax-1.5 threshold over candidates z[0..k) (the max is 0, all > -1). */
static double entmax15_threshold(double *z, ptrdiff_t k) {
    double t = -1.0;
    ptrdiff_t i, step;
    for (step = 0; step < ENTMAX15_NEWTON_STEPS && k > ENTMAX15_SORT_SIZE; step++) {
        double f = 0.0, slope = 0.0;
        for (i = 0; i < k; i++) {
            double d = z[i] - t;
            if (d > 0) {
                f += d * d;
                slope += d;
            }
        }
        if (!(f > 1.0)) break;
        t += (f - 1.0) / (2.0 * slope);
        double floor = t - ENTMAX15_PRUNE_MARGIN;
        ptrdiff_t kept = 0;
        for (i = 0; i < k; i++)
            if (z[i] > floor) z[kept++] = z[i];
        k = kept;
    }
    sort_decreasing(z, k);
    /* the package's formula on the sorted candidates; z[i] becomes tau_(i+1) */
    double cumsum = 0.0, cumsum_sq = 0.0;
    ptrdiff_t support = 0;
    for (i = 0; i < k; i++) {
        double rho = (double)(i + 1);
        cumsum += z[i];
        cumsum_sq += z[i] * z[i];
        double mean = cumsum / rho, mean_sq = cumsum_sq / rho;
        double ss = rho * (mean_sq - mean * mean);
        double delta = (1.0 - ss) / rho;
        double tau = mean - sqrt(delta > 0 ? delta : 0.0);
        support += tau <= z[i];
        z[i] = tau;
    }
    return z[support - 1];
}

static inline double entmax_prob_of(int form, double d, double power) {
    if (!(d > 0)) return 0.0;
    return form == FORM_LINEAR ? d : form == FORM_SQUARE ? d * d : pow(d, power);
}

/* The bisection of the package over candidates X[0..k) (all X above the
 * initial lower bound); returns the last midpoint and its sum of p in *sum. */
static double bisect_threshold(double *X, ptrdiff_t k, double max_scaled, double alpha_m1,
                               int form, double power, ptrdiff_t n, int n_iter, double *sum) {
    double tau_lo = max_scaled - 1.0;
    double tau_hi = max_scaled - pow(1.0 / (double)n, alpha_m1);
    double dm = tau_hi - tau_lo, tau_m = tau_lo, total = 0.0;
    ptrdiff_t i;
    for (int it = 0; it < n_iter; it++) {
        dm /= 2;
        tau_m = tau_lo + dm;
        total = 0.0;
        for (i = 0; i < k; i++) total += entmax_prob_of(form, X[i] - tau_m, power);
        if (total - 1.0 >= 0) {
            tau_lo = tau_m;
            ptrdiff_t kept = 0;
            for (i = 0; i < k; i++)
                if (X[i] > tau_lo) X[kept++] = X[i];
            k = kept;
        }
    }
    *sum = total;
    return tau_m;
}

#endif /* CSM_SPARSE_ROW_SOLVERS */

#define SK(name) CSM_SPARSE_CAT(name##_, SUF)
#define CSM_SPARSE_CAT(a, b) CSM_SPARSE_CAT2(a, b)
#define CSM_SPARSE_CAT2(a, b) a##b

/* Solves one strided row: its solution, from which sparse_prob gives each p. */
static void SK(solve_row)(const T *x, ptrdiff_t step, ptrdiff_t n, const csm_sparse_map *map,
                          double alpha, double *work, sparse_solution *s) {
    double max = -INFINITY;
    int has_nan = 0;
    ptrdiff_t j, k = 0;
    for (j = 0; j < n; j++) {
        double v = (double)x[j * step];
        if (v > max) max = v;
        has_nan |= v != v;
    }
    s->shifted = 1;
    s->shift = max;
    s->scale = 1.0;
    s->tau = 0.0;
    s->power = 1.0;
    s->norm = 1.0;
    if (has_nan || !isfinite(max)) {
        s->form = FORM_NAN;
        return;
    }
    if (map->kind == CSM_SPARSEMAX || map->kind == CSM_ENTMAX15) {
        int sparsemax = map->kind == CSM_SPARSEMAX;
        s->scale = sparsemax ? 1.0 : 0.5;
        for (j = 0; j < n; j++) {
            double z = ((double)x[j * step] - max) * s->scale;
            if (z > -1.0) work[k++] = z;
        }
        s->form = sparsemax ? FORM_LINEAR : FORM_SQUARE;
        s->tau = sparsemax ? sparsemax_threshold(work, k) : entmax15_threshold(work, k);
        return;
    }
    if (alpha == 1.0) { /* softmax */
        double sum = 0.0;
        for (j = 0; j < n; j++) sum += exp((double)x[j * step] - max);
        s->form = FORM_EXP;
        s->norm = sum;
        return;
    }
    double alpha_m1 = alpha - 1.0, power = 1.0 / alpha_m1;
    double max_scaled = max * alpha_m1, floor = max_scaled - 1.0;
    for (j = 0; j < n; j++) {
        double v = (double)x[j * step] * alpha_m1;
        if (v > floor) work[k++] = v;
    }
    s->form = power == 1.0 ? FORM_LINEAR : power == 2.0 ? FORM_SQUARE : FORM_POWER;
    s->shifted = 0;
    s->scale = alpha_m1;
    s->power = power;
    s->tau = bisect_threshold(work, k, max_scaled, alpha_m1, s->form, power, n, map->n_iter,
                              &s->norm);
}

static inline double SK(row_alpha)(const csm_sparse_map *map, ptrdiff_t r) {
    return map->kind == CSM_ENTMAX_BISECT ? map->alpha[r * map->alpha_step] : 0.0;
}

/* Writes a row's probabilities; inlined once with unit steps so that the
 * contiguous case is vectorised, and once with any steps. */
static inline void SK(write_probs)(const T *x, ptrdiff_t x_step, T *y, ptrdiff_t y_step,
                                   ptrdiff_t n, const sparse_solution *s) {
    const double shift = s->shifted ? s->shift : 0.0, scale = s->scale, tau = s->tau;
    const double norm = s->norm;
    ptrdiff_t j;
    switch (s->form) {
    case FORM_LINEAR:
        for (j = 0; j < n; j++) {
            double d = ((double)x[j * x_step] - shift) * scale - tau;
            y[j * y_step] = (T)(d > 0 ? d / norm : 0.0);
        }
        break;
    case FORM_SQUARE:
        for (j = 0; j < n; j++) {
            double d = ((double)x[j * x_step] - shift) * scale - tau;
            y[j * y_step] = (T)(d > 0 ? d * d / norm : 0.0);
        }
        break;
    default:
        for (j = 0; j < n; j++) y[j * y_step] = (T)sparse_prob(s, (double)x[j * x_step]);
    }
}

/* Copies `count` strided rows into a contiguous tile (row r at tile + r * n),
 * column by column so that rows side by side in memory share cache lines. */
static void SK(gather_tile)(const T *x, csm_rows xs, ptrdiff_t count, ptrdiff_t n, T *tile) {
    for (ptrdiff_t j = 0; j < n; j++)
        for (ptrdiff_t r = 0; r < count; r++) tile[r * n + j] = x[r * xs.row_step + j * xs.col_step];
}

static void SK(scatter_tile)(const T *tile, ptrdiff_t count, ptrdiff_t n, T *y, csm_rows ys) {
    for (ptrdiff_t j = 0; j < n; j++)
        for (ptrdiff_t r = 0; r < count; r++) y[r * ys.row_step + j * ys.col_step] = tile[r * n + j];
}

static void SK(forward_rows)(const T *x, csm_rows xs, T *y, csm_rows ys, ptrdiff_t rows,
                             ptrdiff_t n, const csm_sparse_map *map, ptrdiff_t first_row,
                             double *work) {
    for (ptrdiff_t r = 0; r < rows; r++) {
        const T *xr = x + r * xs.row_step;
        T *yr = y + r * ys.row_step;
        sparse_solution s;
        SK(solve_row)(xr, xs.col_step, n, map, SK(row_alpha)(map, first_row + r), work, &s);
        if (xs.col_step == 1 && ys.col_step == 1) SK(write_probs)(xr, 1, yr, 1, n, &s);
        else SK(write_probs)(xr, xs.col_step, yr, ys.col_step, n, &s);
    }
}

void CSM_EXPORT(SK(sparse_forward))(const T *x, csm_rows xs, T *y, csm_rows ys, ptrdiff_t rows,
                               ptrdiff_t n, const csm_sparse_map *map, double *work, T *tile) {
    if (tile == NULL || (xs.col_step == 1 && ys.col_step == 1)) {
        SK(forward_rows)(x, xs, y, ys, rows, n, map, 0, work);
        return;
    }
    const csm_rows in_tile = {n, 1};
    for (ptrdiff_t r0 = 0; r0 < rows; r0 += CSM_SPARSE_TILE_ROWS) {
        ptrdiff_t count = rows - r0 < CSM_SPARSE_TILE_ROWS ? rows - r0 : CSM_SPARSE_TILE_ROWS;
        SK(gather_tile)(x + r0 * xs.row_step, xs, count, n, tile);
        SK(forward_rows)(tile, in_tile, tile, in_tile, count, n, map, r0, work);
        SK(scatter_tile)(tile, count, n, y + r0 * ys.row_step, ys);
    }
}

/* 1 / g''(y): the weight of an output in the backward pass (the package's gppr). */
static inline double SK(backward_weight)(int kind, double y, double exponent) {
    if (!(y > 0)) return kind == CSM_ENTMAX15 ? sqrt(y) : 0.0; /* sqrt keeps a nan */
    switch (kind) {
    case CSM_SPARSEMAX: return 1.0;
    case CSM_ENTMAX15: return sqrt(y);
    default:
        if (exponent == 0.0) return 1.0;
        if (exponent == 1.0) return y;
        return exponent == 0.5 ? sqrt(y) : pow(y, exponent);
    }
}

/* One row of the backward pass; inlined per kind and for unit steps (see write_probs). */
static inline void SK(backward_row)(const T *g, ptrdiff_t g_step, const T *y, ptrdiff_t y_step,
                                    T *dx, ptrdiff_t dx_step, ptrdiff_t n, int kind,
                                    double alpha, double *alpha_grad) {
    double exponent = 2.0 - alpha;
    double weight_sum = 0.0, dot = 0.0, entropy_terms = 0.0;
    ptrdiff_t j;
    for (j = 0; j < n; j++) {
        double yv = (double)y[j * y_step];
        double w = SK(backward_weight)(kind, yv, exponent);
        weight_sum += w;
        dot += (double)g[j * g_step] * w;
        if (alpha_grad && yv > 0) entropy_terms += yv * log(yv);
    }
    double q = dot / weight_sum, alpha_m1 = alpha - 1.0, d_alpha = 0.0;
    for (j = 0; j < n; j++) {
        double yv = (double)y[j * y_step], gv = (double)g[j * g_step];
        double w = SK(backward_weight)(kind, yv, exponent);
        if (alpha_grad) {
            double skewed = w / weight_sum, shannon = yv > 0 ? yv * log(yv) : 0.0;
            d_alpha += gv * (yv - skewed) / (alpha_m1 * alpha_m1) -
                       gv * (shannon - skewed * entropy_terms) / alpha_m1;
        }
        /* (g - q) w rather than the package's g w - q w: no product pair for the
         * compiler to fuse differently in the vectorised and the strided copy */
        dx[j * dx_step] = (T)((gv - q) * w);
    }
    if (alpha_grad) *alpha_grad = d_alpha;
}

static inline void SK(backward_row_of_kind)(const T *g, ptrdiff_t g_step, const T *y,
                                            ptrdiff_t y_step, T *dx, ptrdiff_t dx_step,
                                            ptrdiff_t n, int kind, double alpha,
                                            double *alpha_grad) {
    if (g_step == 1 && y_step == 1 && dx_step == 1)
        SK(backward_row)(g, 1, y, 1, dx, 1, n, kind, alpha, alpha_grad);
    else
        SK(backward_row)(g, g_step, y, y_step, dx, dx_step, n, kind, alpha, alpha_grad);
}

static void SK(backward_rows)(const T *g, csm_rows gs, const T *y, csm_rows ys, T *dx,
                              csm_rows dxs, ptrdiff_t rows, ptrdiff_t n,
                              const csm_sparse_map *map, ptrdiff_t first_row,
                              double *alpha_grad) {
    for (ptrdiff_t r = 0; r < rows; r++) {
        const T *gr = g + r * gs.row_step;
        const T *yr = y + r * ys.row_step;
        T *dxr = dx + r * dxs.row_step;
        double *ar = alpha_grad ? alpha_grad + first_row + r : NULL;
        switch (map->kind) {
        case CSM_SPARSEMAX:
            SK(backward_row_of_kind)(gr, gs.col_step, yr, ys.col_step, dxr, dxs.col_step, n,
                                     CSM_SPARSEMAX, 0.0, NULL);
            break;
        case CSM_ENTMAX15:
            SK(backward_row_of_kind)(gr, gs.col_step, yr, ys.col_step, dxr, dxs.col_step, n,
                                     CSM_ENTMAX15, 0.0, NULL);
            break;
        default:
            SK(backward_row_of_kind)(gr, gs.col_step, yr, ys.col_step, dxr, dxs.col_step, n,
                                     CSM_ENTMAX_BISECT, SK(row_alpha)(map, first_row + r), ar);
        }
    }
}

void CSM_EXPORT(SK(sparse_backward))(const T *g, csm_rows gs, const T *y, csm_rows ys, T *dx,
                                csm_rows dxs, ptrdiff_t rows, ptrdiff_t n,
                                const csm_sparse_map *map, double *alpha_grad, T *tile) {
    if (tile == NULL || (gs.col_step == 1 && ys.col_step == 1 && dxs.col_step == 1)) {
        SK(backward_rows)(g, gs, y, ys, dx, dxs, rows, n, map, 0, alpha_grad);
        return;
    }
    const csm_rows in_tile = {n, 1};
    T *g_tile = tile, *y_tile = tile + CSM_SPARSE_TILE_ROWS * n;
    T *dx_tile = y_tile + CSM_SPARSE_TILE_ROWS * n;
    for (ptrdiff_t r0 = 0; r0 < rows; r0 += CSM_SPARSE_TILE_ROWS) {
        ptrdiff_t count = rows - r0 < CSM_SPARSE_TILE_ROWS ? rows - r0 : CSM_SPARSE_TILE_ROWS;
        SK(gather_tile)(g + r0 * gs.row_step, gs, count, n, g_tile);
        SK(gather_tile)(y + r0 * ys.row_step, ys, count, n, y_tile);
        SK(backward_rows)(g_tile, in_tile, y_tile, in_tile, dx_tile, in_tile, count, n, map, r0,
                          alpha_grad);
        SK(scatter_tile)(dx_tile, count, n, dx + r0 * dxs.row_step, dxs);
    }
}

/* The Tsallis term of p for the loss: p^alpha (p log p at alpha = 1). */
static inline double SK(tsallis_term)(int kind, double p, double alpha) {
    if (!(p > 0)) return 0.0;
    if (kind == CSM_SPARSEMAX || (kind == CSM_ENTMAX_BISECT && alpha == 2.0)) return p * p;
    if (kind == CSM_ENTMAX15 || alpha == 1.5) return p * sqrt(p);
    return alpha == 1.0 ? p * log(p) : pow(p, alpha);
}

void CSM_EXPORT(SK(sparse_loss))(const T *x, csm_rows xs, const int64_t *labels, int64_t ignore_index,
                            ptrdiff_t rows, ptrdiff_t n, const csm_sparse_map *map,
                            double grad_scale, double *loss, T *grad, csm_rows grads,
                            double *work) {
    for (ptrdiff_t r = 0; r < rows; r++) {
        const T *xr = x + r * xs.row_step;
        T *gradr = grad ? grad + r * grads.row_step : NULL;
        int64_t label = labels[r];
        ptrdiff_t j;
        if (label == ignore_index) {
            loss[r] = 0.0;
            if (gradr)
                for (j = 0; j < n; j++) gradr[j * grads.col_step] = (T)0;
            continue;
        }
        double alpha = SK(row_alpha)(map, r);
        sparse_solution s;
        SK(solve_row)(xr, xs.col_step, n, map, alpha, work, &s);
        double tsallis = 0.0, dot = 0.0;
        for (j = 0; j < n; j++) {
            double xv = (double)xr[j * xs.col_step];
            double p = sparse_prob(&s, xv);
            if (p != 0) { /* 0 * -inf would be nan */
                tsallis += SK(tsallis_term)(map->kind, p, alpha);
                dot += p * xv;
            }
            if (gradr) gradr[j * grads.col_step] = (T)(grad_scale * (j == label ? p - 1.0 : p));
        }
        double omega;
        if (map->kind == CSM_SPARSEMAX) omega = (1.0 - tsallis) / 2.0;
        else if (map->kind == CSM_ENTMAX15) omega = (1.0 - tsallis) / 0.75;
        else if (alpha == 1.0) omega = -tsallis;
        else omega = (1.0 - tsallis) / (alpha * (alpha - 1.0));
        loss[r] = s.form == FORM_NAN ? NAN : omega + dot - (double)xr[label * xs.col_step];
    }
}

#undef SK
#undef CSM_SPARSE_CAT
#undef CSM_SPARSE_CAT2
