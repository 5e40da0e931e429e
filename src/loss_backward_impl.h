/*
 * NLL and the softmax backward passes, template: nll_loss over given
 * log-probabilities, and the gradients of softmax and log_softmax from their
 * output. Included by kernels_instance.h once per element type after
 * kernels_impl.h, with the same T, SUF, VT, VI.
 *
 * Layouts: nll_rows takes any (outer, C, inner) strides; the backward passes
 * take rows (contiguous entries, rows apart) or up to CSM_BWD_COLS adjacent
 * columns (the sums vectorised across columns).
 *
 * Accuracy: nll is exact (one product per row); the backward sums run in T
 * within blocks of SUM_BLOCK vectors and in double across them, so their
 * error does not grow with the row's length.
 */

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

/* ---------- softmax / log_softmax backward ---------- */

/*
 * y = softmax(x):      dx = y (g - sum(g y))
 * y = log_softmax(x):  dx = g - exp(y) sum(g)
 * Sums run in T within blocks and in double across them; out may alias g or y
 * (each element is read before it is written).
 */
CSM_INLINE void K(bwd_sum_step)(const T *g, const T *y, ptrdiff_t valid, int log, VT *acc) {
    VT gv = K(load_valid)(g, valid, 0);
    *acc += log ? gv : V(rounded)(gv * K(load_valid)(y, valid, 0));
}

CSM_INLINE double K(bwd_row_sum)(const T *g, const T *y, ptrdiff_t n, int log) {
    VT acc[UNROLL];
    double total = 0;
    for (ptrdiff_t start = 0; start < n; start += ROW_BLOCK) {
        ptrdiff_t block = n - start < ROW_BLOCK ? n - start : ROW_BLOCK;
        const T *gb = g + start, *yb = y + start;
        for (int u = 0; u < UNROLL; u++) acc[u] = V(splat)(0);
#define BWD_SUM_STEP(i, valid, u) K(bwd_sum_step)(gb + (i), yb + (i), valid, log, &acc[u])
        ROW_LOOP(block, BWD_SUM_STEP);
#undef BWD_SUM_STEP
        total += V(hsum)(K(combine)(acc));
    }
    return total;
}

CSM_INLINE void K(bwd_write_step)(const T *g, const T *y, T *out, ptrdiff_t valid, VT s,
                                   int log) {
    VT gv = K(load_valid)(g, valid, 0);
    VT yv = K(load_valid)(y, valid, 0);
    K(store_valid)(out, log ? gv - V(exp)(yv) * s : yv * (gv - s), valid);
}

CSM_INLINE void K(bwd_row_write)(const T *g, const T *y, T *out, ptrdiff_t n, T sum, int log) {
    VT s = V(splat)(sum);
#define BWD_WRITE_STEP(i, valid, u) K(bwd_write_step)(g + (i), y + (i), out + (i), valid, s, log)
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
                              : V(rounded)(g_ * K(load_valid)(y + k * y_step + v * LANES, valid, 0));
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
