/*
 * Softmax losses of one huge row, template: cross-entropy with a class index
 * (and focal loss) or with probability targets, for one row of at least
 * HUGE_ROW classes split over the threads in norm_huge_row's chunks (pass A:
 * each chunk's range and sums while it is in cache; the chunks merged in
 * order; pass B: the gradient), so the row is read from memory once before
 * the gradient pass and results do not depend on the thread count. Included
 * after loss_softmax_impl.h, whose row sums, terms and gradient rows it uses;
 * the loss and gradient are those of ce_rows and ce_prob_rows to their
 * accuracy (the chunks' sums are rescaled to the row's shift in double).
 */
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
    if (r->smooth && w) { /* double lanes, a vector at a time */
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
