/*
 * One row of at least HUGE_ROW elements split over the threads, template (T,
 * SUF, VT, VI as kernels_impl.h): softmax and log_softmax (norm_huge_row),
 * logsumexp (lse_huge_row), and the softmax losses, cross-entropy with a class
 * index (and focal loss) or with probability targets (ce_huge_row,
 * ce_prob_huge_row). Included after normalize_impl.h, logsumexp_impl.h and
 * loss_softmax_impl.h, whose row passes, finishes and loss terms it uses.
 *
 * All of them cut the row into the same chunks (chunk_size: their size
 * depends on n only) and take two passes: pass A, the chunks in parallel,
 * each chunk's range and sums relative to its own max while it is in cache;
 * the chunks' parts merged in chunk order, rescaled to the row's max (an
 * online max/sum in double); pass B, the chunks in parallel again, the
 * output or gradient. The row is read from memory once before pass B and
 * results do not depend on the thread count; they are those of the row
 * kernels to their accuracy bounds.
 */
/* ---------- one huge row over threads ---------- */

/*
 * A row of at least HUGE_ROW elements (beyond the caches) is cut into chunks
 * whose size depends on n only (at most MAX_CHUNKS of them, each a whole number
 * of ROW_BLOCKs, small enough for L2). Pass A, over the chunks in parallel:
 * each chunk's own max m_k and its sums relative to m_k, read while the chunk
 * is in cache (softmax stores its exps in y). The partial (max, sums) are then
 * merged in chunk order, rescaled by exp(scale (m_k - M)): an online max/sum,
 * so the row is read from memory once before the write pass B. Results do not
 * depend on the thread count.
 */
#define HUGE_ROW CSM_HUGE_ROW
#define MAX_CHUNKS 256

typedef struct {
    T max;
    K(shift) shift;      /* the sums are of exps relative to shift (softmax) or max */
    double total, count; /* softmax: total; log, logsumexp: rest and count */
} K(chunk_part);

CSM_INLINE ptrdiff_t K(chunk_size)(ptrdiff_t n) {
    ptrdiff_t size = (n + MAX_CHUNKS - 1) / MAX_CHUNKS;
    size = size < (1 << 14) ? (1 << 14) : size;
    return (size + ROW_BLOCK - 1) / ROW_BLOCK * ROW_BLOCK;
}

/* how many chunks of `size` elements a row of n has */
CSM_INLINE ptrdiff_t K(chunk_count)(ptrdiff_t n, ptrdiff_t size) { return (n + size - 1) / size; }

/* the length of chunk k of `size` elements in a row of n */
CSM_INLINE ptrdiff_t K(chunk_len)(ptrdiff_t k, ptrdiff_t size, ptrdiff_t n) {
    return n - k * size < size ? n - k * size : size;
}

/* Whether a nan that the sums would see is in a chunk whose range is -inf:
 * row_range's max passes over nan entries. */
static int K(weighted_nan)(const T *x, const T *b, ptrdiff_t len) {
    for (ptrdiff_t i = 0; i < len; i++)
        if ((x[i] != x[i] && (!b || b[i] != 0)) || (b && b[i] != b[i])) return 1;
    return 0;
}

/* Pass A over one chunk. Chunks of all -inf add nothing (and store exps 0);
 * with a nan among them, the chunk's max is nan. */
CSM_INLINE K(chunk_part) K(chunk_pass)(const T *x, const T *b, T *y, ptrdiff_t len, T scale,
                                       int sums_only_split) {
    K(chunk_part) part = {0, {0, 0}, 0, 0};
    T min;
    K(row_range)(x, b, len, &part.max, &min);
    if (part.max == -(T)INFINITY && K(weighted_nan)(x, b, len)) part.max = (T)NAN;
    part.shift = (K(shift)){part.max, 0};
    if (!(part.max > -(T)INFINITY)) {
        if (!sums_only_split)
            for (ptrdiff_t i = 0; i < len; i++) y[i] = 0;
        return part;
    }
    const K(origin) o = K(origin_of)(V(splat)(part.max), scale);
    const int form = K(exp_form)(min, o, scale);
    if (sums_only_split) { /* the sums relative to the max */
#define CHUNK_SPLIT(f) K(row_split)(x, b, len, part.max, o, scale, f, &part.total, &part.count)
        BY_FORM(form, CHUNK_SPLIT);
#undef CHUNK_SPLIT
    } else {
        part.shift = K(origin_shift)(o, 0, form & FORM_UNIT);
#define CHUNK_SUM(f) part.total = K(row_sum)(x, y, len, o, scale, f)
        BY_FORM(form, CHUNK_SUM);
#undef CHUNK_SUM
    }
    return part;
}

/* Pass A over a huge row; returns the number of chunks and the row's max. */
static ptrdiff_t K(huge_row_parts)(const T *x, const T *b, T *y, ptrdiff_t n, T scale, int split,
                                   int threads, K(chunk_part) parts[MAX_CHUNKS], T *max) {
    const ptrdiff_t size = K(chunk_size)(n), chunks = K(chunk_count)(n, size);
    ptrdiff_t k;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (k = 0; k < chunks; k++) {
        ptrdiff_t start = k * size, len = K(chunk_len)(k, size, n);
        parts[k] = K(chunk_pass)(x + start, b ? b + start : NULL, split ? NULL : y + start, len,
                                 scale, split);
    }
    *max = parts[0].max;
    for (k = 1; k < chunks; k++)
        *max = isnan(parts[k].max) || parts[k].max > *max ? parts[k].max : *max;
    return chunks;
}

/* The split sums (rest, count) of a row relative to its max m, from its chunks'. */
static void K(merge_split)(const K(chunk_part) *parts, ptrdiff_t chunks, T m, T scale,
                           double *rest, double *count) {
    *rest = *count = 0;
    for (ptrdiff_t k = 0; k < chunks; k++) {
        if (parts[k].max == m) {
            *rest += parts[k].total;
            *count += parts[k].count;
        } else if (parts[k].max != -(T)INFINITY) { /* all its terms are off the max */
            *rest += (parts[k].total + parts[k].count) * exp(((double)parts[k].max - m) * scale);
        }
    }
}

static void K(norm_huge_row)(const T *x, T *y, ptrdiff_t n, T scale, int flags, int threads) {
    const int log_mode = flags & CSM_LOG;
    const ptrdiff_t size = K(chunk_size)(n);
    K(chunk_part) parts[MAX_CHUNKS];
    double weights[MAX_CHUNKS]; /* chunk k's exps are relative to its own max */
    T m, fill;
    ptrdiff_t k, chunks = K(huge_row_parts)(x, NULL, y, n, scale, log_mode, threads, parts, &m);
    int filled = K(norm_fill)(m, x, 1, n, flags, &fill);
    if (!filled && !log_mode && m == -(T)INFINITY) filled = 1, fill = (T)NAN; /* SciPy: nan */
    if (!filled && isnan(m)) filled = 1, fill = (T)NAN;
    if (filled) {
#pragma omp parallel for num_threads(threads) schedule(static)
        for (k = 0; k < n; k++) y[k] = fill;
        return;
    }
    double total = 0, shift = 0; /* a max of +inf leaves scale (x - m) nan or -inf whatever the shift */
    if (log_mode && isfinite(m)) {
        double rest, count;
        K(merge_split)(parts, chunks, m, scale, &rest, &count);
        shift = K(log_norm)(rest, count);
    } else if (!log_mode) {
        for (k = 0; k < chunks; k++) {
            weights[k] = K(shift_weight)(parts[k].shift, m, scale);
            total += parts[k].total * weights[k];
        }
    }
    VT vm = V(splat)(m), vscale = V(splat)(scale), vshift = V(splat)((T)shift);
#pragma omp parallel for num_threads(threads) schedule(static)
    for (k = 0; k < chunks; k++) {
        ptrdiff_t start = k * size, len = K(chunk_len)(k, size, n);
        const T *xk = x + start;
        T *yk = y + start;
        K(pair) factor = K(reciprocal)(log_mode ? 1 : total / weights[k]);
#define FINISH_STEP(i, valid, u) \
    K(finish_step)(xk + (i), 1, yk + (i), 1, valid, vm, vscale, factor, vshift, log_mode)
        ROW_LOOP(len, FINISH_STEP);
#undef FINISH_STEP
    }
}

static void K(lse_huge_row)(const T *x, const T *b, ptrdiff_t n, int flags, int threads,
                            T *result, T *sign) {
    K(chunk_part) parts[MAX_CHUNKS];
    T m;
    double rest, count;
    ptrdiff_t chunks = K(huge_row_parts)(x, b, NULL, n, 1, 1, threads, parts, &m);
    if (isfinite(m)) K(merge_split)(parts, chunks, m, 1, &rest, &count);
    if (!isfinite(m) || !K(lse_finish)(m, rest, count, flags, result, sign))
        K(lse_direct)(x, 1, b, 1, n, flags, result, sign);
}

/* ---------- softmax losses of one huge row ---------- */

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
    const ptrdiff_t size = K(chunk_size)(n), chunks = K(chunk_count)(n, size);
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
    const ptrdiff_t size = K(chunk_size)(n), chunks = K(chunk_count)(n, size);
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
    const ptrdiff_t size = K(chunk_size)(n), chunks = K(chunk_count)(n, size);
    ptrdiff_t k;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (k = 0; k < chunks; k++)
        K(prob_grad_row)(grad + k * size, t + k * size, w ? w + k * size : NULL,
                         K(chunk_len)(k, size, n), (T)(grad_scale * mass * weights[k] / row.sum),
                         r.keep, r.spread, (T)grad_scale);
}
