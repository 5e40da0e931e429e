/*
 * Sampling template: included by sampling_isa.h once per element type with
 *   T   element type (float, double)      SUF  name suffix (f32, f64)
 *   VT  vector of T                        VI   integer vector of the same lane width
 *
 * sample_row draws from softmax(x / temperature) restricted by top_k, then
 * top_p, then min_p, with the semantics of Hugging Face transformers' logits
 * warpers, in a few passes over the row and no sort of the whole row:
 *   1. the max m (and whether a logit is nan or +inf);
 *   2. e_i = exp((x_i - m) / temperature) into the workspace, and their sum Z;
 *   3. only with top_k or top_p: a histogram of d_i = m - x_i over buckets of
 *      the float bits of d (64 buckets per octave, monotone in x), with counts
 *      and, for top_p, the mass of e per bucket. Scanning it from the max down
 *      finds the bucket holding the k-th token or the one where the mass
 *      reaches top_p Z; only the tokens of that bucket (and those above it,
 *      for top_k) are gathered and sorted (rows of up to CSM_SORT_WHOLE_ROW
 *      tokens skip the histogram and sort them all). The kept set is then
 *      every token whose (x_i, i) is at least a threshold key in
 *      lexicographic order:
 *      top_k keeps every tie of the k-th value; top_p keeps the most probable
 *      tokens while the mass before them (in the order of a stable ascending
 *      sort, so among equal logits the higher index first) is below top_p
 *      times the top_k set's mass, which always keeps the max;
 *   4. min_p keeps tokens with e_i >= min_p * e_max (e_max = exp(0) = 1);
 *   5. the draws, by inverse CDF over the kept tokens of positive weight: with
 *      replacement, the uniforms times the kept mass, sorted, are matched in
 *      one pass over the row (stopping at the largest); without replacement
 *      (or with more draws than tokens) a list of the kept tokens with their
 *      cumulative weights, searched per uniform, or scanned in sequence over
 *      the tokens not drawn yet (torch.multinomial's draws in turn). With
 *      top_k the kept tokens are the sorted candidates themselves, and the
 *      draws run over them in that order.
 * Weights are the element type's exps (stored in the workspace), summed in
 * double; thresholds compare logits exactly. Log-probabilities are
 * (x_i - m) / temperature - log(kept mass), in double, rounded once to T.
 * Layouts: any element step along the row (the caller gives each row's start).
 *
 * top_logprobs_row: the same max, sum and histogram, the k best sorted
 * (equal logits by increasing index). gumbel_logits_row: (x + g) / tau with g
 * = -log(-log(u)), u from a SplitMix64 hash of (key, row, column), so the
 * noise does not depend on tau, on hard or on the thread count.
 */
#ifndef CSOFTMAX_SAMPLING_SHARED
#define CSOFTMAX_SAMPLING_SHARED

/* a token of a row: logit (or cumulative weight in the draw list), weight, index */
typedef struct csm_candidate {
    double x;
    double w;
    int64_t i;
} csm_candidate;

/* d = m - x in buckets of the float bits of d shifted right by this: 64 per
 * octave; every d >= 256 shares the last bucket (float bits of 256 >> 17) */
#define CSM_BUCKET_SHIFT 17
#define CSM_LAST_BUCKET 8640
#define CSM_BUCKETS (CSM_LAST_BUCKET + 1)
/* rows up to this long skip the histogram: every token is a candidate (a
 * sort of a few hundred costs less than clearing the buckets) */
#define CSM_SORT_WHOLE_ROW 256

typedef struct csm_sample_work {
    csm_candidate *cand; /* n: candidates, then the draw list */
    double *mass;        /* CSM_BUCKETS */
    void *e;             /* n elements of the row's type */
    int32_t *count;      /* CSM_BUCKETS */
} csm_sample_work;

static inline size_t csm_sample_work_size(ptrdiff_t n) {
    return (size_t)n * (sizeof(csm_candidate) + sizeof(double)) +
           CSM_BUCKETS * (sizeof(double) + sizeof(int32_t));
}

static inline csm_sample_work csm_sample_work_parts(void *work, ptrdiff_t n) {
    csm_sample_work w;
    char *p = (char *)work;
    w.cand = (csm_candidate *)p;
    p += (size_t)n * sizeof(csm_candidate);
    w.mass = (double *)p;
    p += CSM_BUCKETS * sizeof(double);
    w.e = p;
    p += (size_t)n * sizeof(double);
    w.count = (int32_t *)p;
    return w;
}

/* bucket of d = m - x >= 0 (+inf and nan in the last one): monotone in d */
static inline int csm_bucket(float d) {
    uint32_t bits;
    memcpy(&bits, &d, sizeof bits);
    bits >>= CSM_BUCKET_SHIFT;
    return bits < CSM_LAST_BUCKET ? (int)bits : CSM_LAST_BUCKET;
}

/* whether a ranks before b: larger logit first, equal logits by index */
static inline int csm_ranks_before(const csm_candidate *a, const csm_candidate *b,
                                   int low_index_first) {
    if (a->x != b->x) return a->x > b->x;
    return low_index_first ? a->i < b->i : a->i > b->i;
}

static void csm_sift_down(csm_candidate *c, ptrdiff_t root, ptrdiff_t end,
                          int low_index_first) {
    for (;;) {
        ptrdiff_t child = 2 * root + 1;
        if (child >= end) return;
        if (child + 1 < end && csm_ranks_before(&c[child], &c[child + 1], low_index_first))
            child++;
        if (!csm_ranks_before(&c[root], &c[child], low_index_first)) return;
        csm_candidate swap = c[root];
        c[root] = c[child];
        c[child] = swap;
        root = child;
    }
}

/* heap sort into rank order (no allocation, n log n whatever the keys) */
static void csm_sort_candidates(csm_candidate *c, ptrdiff_t n, int low_index_first) {
    for (ptrdiff_t start = n / 2 - 1; start >= 0; start--)
        csm_sift_down(c, start, n, low_index_first);
    for (ptrdiff_t end = n - 1; end > 0; end--) {
        csm_candidate swap = c[0];
        c[0] = c[end];
        c[end] = swap;
        csm_sift_down(c, 0, end, low_index_first);
    }
}

static inline uint64_t csm_splitmix64(uint64_t z) {
    z += 0x9E3779B97F4A7C15u;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

/* standard Gumbel noise of element (row, column) for a key */
static inline double csm_gumbel(uint64_t key, uint64_t row, uint64_t column) {
    uint64_t h = csm_splitmix64(csm_splitmix64(key ^ csm_splitmix64(row)) + column);
    double u = ((double)(h >> 11) + 0.5) * 0x1p-53; /* in (0, 1) */
    return -log(-log(u));
}

/* index of the first cumulative weight above target among list[0 .. count) */
static inline ptrdiff_t csm_first_above(const csm_candidate *list, ptrdiff_t count,
                                        double target) {
    ptrdiff_t lo = 0, hi = count - 1;
    while (lo < hi) {
        ptrdiff_t mid = lo + (hi - lo) / 2;
        if (list[mid].x > target)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* without replacement: the token of the not yet drawn ones (weight > 0; drawn
 * ones are negated) whose running weight first exceeds target, else the last */
static inline ptrdiff_t csm_draw_remaining(csm_candidate *list, ptrdiff_t count,
                                           double target) {
    double running = 0;
    ptrdiff_t last = -1;
    for (ptrdiff_t t = 0; t < count; t++) {
        if (list[t].w <= 0) continue;
        running += list[t].w;
        last = t;
        if (target < running) return t;
    }
    return last;
}

/* the first bucket at which the running count reaches k */
static int smp_bucket_of_rank(const int32_t *count, ptrdiff_t k) {
    ptrdiff_t running = 0;
    int b = 0;
    for (; b < CSM_LAST_BUCKET; b++) {
        running += count[b];
        if (running >= k) break;
    }
    return b;
}

/* top_p over sorted tokens: keeps them while the mass before them is below
 * target; returns how many (at least one) */
static ptrdiff_t smp_nucleus(const csm_candidate *sorted, ptrdiff_t count, double before,
                             double target) {
    ptrdiff_t t = 0;
    while (t < count && before < target) before += sorted[t++].w;
    return t > 0 ? t : 1;
}

#endif /* CSOFTMAX_SAMPLING_SHARED */

#define S_CAT_(a, b) a##b
#define S_CAT(a, b) S_CAT_(a, b)
#define SV(name) S_CAT(csm_##name##_, SUF) /* vector helper for this type */
#define SK(name) S_CAT(name##_, SUF)       /* function name for this type */
#define SLANES ((ptrdiff_t)SV(lanes))

/* `count` lanes of a row from element i on (the others hold fill) */
static inline VT SK(smp_load)(const T *x, ptrdiff_t i, ptrdiff_t step, ptrdiff_t count,
                              T fill) {
    if (step == 1) return count == SLANES ? SV(load)(x + i) : SV(loadp)(x + i, count, fill);
    VT v = SV(splat)(fill);
    for (ptrdiff_t j = 0; j < count; j++) v[j] = x[(i + j) * step];
    return v;
}

/* max of a row; *not_finite set when a logit is nan or +inf */
static T SK(smp_row_max)(const T *x, ptrdiff_t n, ptrdiff_t step, int *not_finite) {
    VT mx = SV(splat)(-INFINITY);
    VI bad = (VI){0};
    for (ptrdiff_t i = 0; i < n; i += SLANES) {
        ptrdiff_t count = n - i < SLANES ? n - i : SLANES;
        VT v = SK(smp_load)(x, i, step, count, -INFINITY);
        mx = SV(max)(mx, v);
        bad |= (v != v) | (v == INFINITY);
    }
    *not_finite = SV(any)(bad);
    return SV(hmax)(mx);
}

/* e[i] = exp((x_i - m) / temperature); returns their sum */
static double SK(smp_exps)(const T *x, ptrdiff_t n, ptrdiff_t step, T m, T temperature, T *e) {
    const VT vm = SV(splat)(m), vt = SV(splat)(temperature);
    double sum = 0;
    ptrdiff_t i = 0;
    for (; i + SLANES <= n; i += SLANES) {
        VT ev = SV(exp)((SK(smp_load)(x, i, step, SLANES, 0) - vm) / vt);
        SV(store)(e + i, ev);
        sum += SV(hsum)(ev);
    }
    if (i < n) {
        VT ev = SV(exp)((SK(smp_load)(x, i, step, n - i, -INFINITY) - vm) / vt);
        SV(storep)(e + i, ev, n - i);
        sum += SV(hsum)(ev); /* the fill lanes add exp(-inf) = 0 */
    }
    return sum;
}

/* counts of the tokens per bucket of m - x; given mass, the sums of e and
 * counts of the tokens of positive weight only */
static void SK(smp_histogram)(const T *x, ptrdiff_t n, ptrdiff_t step, T m, const T *e,
                              int32_t *count, double *mass) {
    memset(count, 0, CSM_BUCKETS * sizeof *count);
    if (mass) memset(mass, 0, CSM_BUCKETS * sizeof *mass);
    for (ptrdiff_t i = 0; i < n; i++) {
        int b = csm_bucket((float)(m - x[i * step]));
        if (mass) {
            count[b] += e[i] > 0;
            mass[b] += e[i];
        } else {
            count[b]++;
        }
    }
}

/* the tokens whose bucket is in [lo, hi], in index order */
static ptrdiff_t SK(smp_gather)(const T *x, ptrdiff_t n, ptrdiff_t step, T m, const T *e,
                                int lo, int hi, csm_candidate *cand) {
    ptrdiff_t count = 0;
    for (ptrdiff_t i = 0; i < n; i++) {
        T xi = x[i * step];
        int b = csm_bucket((float)(m - xi));
        if (b >= lo && b <= hi) cand[count++] = (csm_candidate){xi, e[i], i};
    }
    return count;
}

/* candidates (in index order) that hold the k best tokens and their ties */
static ptrdiff_t SK(smp_top_candidates)(const T *x, ptrdiff_t n, ptrdiff_t step, T m,
                                        const T *e, ptrdiff_t k, csm_sample_work *w) {
    int last = CSM_LAST_BUCKET;
    if (n > CSM_SORT_WHOLE_ROW) {
        SK(smp_histogram)(x, n, step, m, e, w->count, NULL);
        last = smp_bucket_of_rank(w->count, k);
    }
    return SK(smp_gather)(x, n, step, m, e, 0, last, w->cand);
}

/* the threshold key (*xb, *icut) of the tokens top_k and top_p keep. With
 * top_k, returns how many of the sorted candidates at the start of w->cand
 * those are (else 0). With top_p alone, also the kept tokens' mass and count
 * of positive weights (else *mass = -1). */
static ptrdiff_t SK(smp_threshold)(const T *x, ptrdiff_t n, ptrdiff_t step, T m, double total,
                                   const csm_sample_filter *f, csm_sample_work *w, double *xb,
                                   int64_t *icut, double *mass, ptrdiff_t *positive) {
    const int by_k = f->top_k > 0 && f->top_k < n, by_p = f->top_p < 1;
    const T *e = (const T *)w->e;
    *xb = -INFINITY;
    *icut = 0;
    *mass = -1;
    if (by_k) {
        const ptrdiff_t count = SK(smp_top_candidates)(x, n, step, m, e, f->top_k, w);
        csm_sort_candidates(w->cand, count, 0);
        ptrdiff_t kept = f->top_k;
        *xb = w->cand[kept - 1].x; /* ties of the k-th value are kept */
        while (kept < count && w->cand[kept].x == *xb) kept++;
        if (!by_p) return kept;
        double kept_mass = 0;
        for (ptrdiff_t t = 0; t < kept; t++) kept_mass += w->cand[t].w;
        kept = smp_nucleus(w->cand, kept, 0, f->top_p * kept_mass);
        *xb = w->cand[kept - 1].x;
        *icut = w->cand[kept - 1].i;
        return kept;
    }
    if (by_p) {
        const double target = f->top_p * total;
        double before = 0;
        int b = 0; /* the boundary bucket; short rows: every token a candidate */
        ptrdiff_t count;
        if (n > CSM_SORT_WHOLE_ROW) {
            SK(smp_histogram)(x, n, step, m, e, w->count, w->mass);
            for (; b < CSM_BUCKETS; b++) {
                if (w->count[b] > 0 && before + w->mass[b] >= target) break;
                before += w->mass[b];
            }
            if (b == CSM_BUCKETS) return 0; /* the target is the whole mass (rounding) */
            count = SK(smp_gather)(x, n, step, m, e, b, b, w->cand);
        } else {
            count = SK(smp_gather)(x, n, step, m, e, 0, CSM_LAST_BUCKET, w->cand);
        }
        csm_sort_candidates(w->cand, count, 0);
        const ptrdiff_t kept = smp_nucleus(w->cand, count, before, target);
        *xb = w->cand[kept - 1].x;
        *icut = w->cand[kept - 1].i;
        *positive = 0;
        for (int above = 0; above < b; above++) *positive += w->count[above];
        for (ptrdiff_t t = 0; t < kept; t++) {
            before += w->cand[t].w;
            *positive += w->cand[t].w > 0;
        }
        *mass = before;
    }
    return 0;
}

/* whether token i is kept: its key at least (xb, icut) and its weight min_e */
static inline int SK(smp_kept)(const T *x, ptrdiff_t step, const T *e, ptrdiff_t i, double xb,
                               int64_t icut, double min_e) {
    if (!(e[i] > 0 && e[i] >= min_e)) return 0;
    const double xi = x[i * step];
    return xi > xb || (xi == xb && i >= icut);
}

/* the draw list: kept tokens of positive weight, cumulative weight in .x;
 * from the first `sorted` candidates when top_k chose them, else from the row */
static ptrdiff_t SK(smp_draw_list)(const T *x, ptrdiff_t n, ptrdiff_t step, const T *e,
                                   csm_candidate *cand, ptrdiff_t sorted, double xb,
                                   int64_t icut, double min_e, double *mass) {
    ptrdiff_t kept = 0;
    double running = 0;
    if (sorted > 0) { /* in place: kept <= t */
        for (ptrdiff_t t = 0; t < sorted; t++) {
            const double w = cand[t].w;
            if (w > 0 && w >= min_e) {
                running += w;
                cand[kept++] = (csm_candidate){running, w, cand[t].i};
            }
        }
    } else {
        for (ptrdiff_t i = 0; i < n; i++)
            if (SK(smp_kept)(x, step, e, i, xb, icut, min_e)) {
                running += e[i];
                cand[kept++] = (csm_candidate){running, e[i], i};
            }
    }
    *mass = running;
    return kept;
}

/* draws with replacement in one pass over the row: the targets u_j mass in
 * decreasing order at the start of cand, each given the first kept token whose
 * running weight exceeds it (the draw list's choice, without writing it) */
static ptrdiff_t SK(smp_stream_draws)(const T *x, ptrdiff_t n, ptrdiff_t step, const T *e,
                                      csm_candidate *cand, double xb, int64_t icut,
                                      double min_e, const csm_sample_draws *d, double *mass,
                                      ptrdiff_t known_kept) {
    /* *mass: in, the kept mass where known (the total when nothing is
     * filtered, top_p's own sum) with its count known_kept, else -1; out, the
     * kept mass */
    const int filtered = xb > -INFINITY || min_e > 0;
    ptrdiff_t kept = known_kept;
    double total = *mass;
    if (total < 0) {
        total = 0;
        kept = 0;
        for (ptrdiff_t i = 0; i < n; i++)
            if (SK(smp_kept)(x, step, e, i, xb, icut, min_e)) {
                total += e[i];
                kept++;
            }
    }
    *mass = total;
    if (kept == 0) return 0;
    for (ptrdiff_t j = 0; j < d->num_samples; j++)
        cand[j] = (csm_candidate){d->uniforms[j] * total, 0, j};
    csm_sort_candidates(cand, d->num_samples, 1);
    ptrdiff_t next = d->num_samples - 1, last = 0;
    double running = 0;
    for (ptrdiff_t i = 0; i < n && next >= 0; i++)
        if (filtered ? SK(smp_kept)(x, step, e, i, xb, icut, min_e) : e[i] > 0) {
            running += e[i];
            last = i;
            for (; next >= 0 && cand[next].x < running; next--) d->index[cand[next].i] = i;
        }
    for (; next >= 0; next--) d->index[cand[next].i] = last; /* rounding at the top */
    return kept;
}

/* the sum and count of the weights e_i > 0 with e_i >= min_e */
static double SK(smp_mass_above)(const T *e, ptrdiff_t n, T min_e, ptrdiff_t *count) {
    const VT zero = SV(splat)(0), low = SV(splat)(min_e);
    double sum = 0;
    ptrdiff_t kept = 0, i = 0;
    for (; i + SLANES <= n; i += SLANES) {
        const VT v = SV(load)(e + i);
        const VI in = (v > zero) & (v >= low);
        sum += SV(hsum)(SV(select)(in, v, zero));
        kept += SV(count)(in);
    }
    for (; i < n; i++)
        if (e[i] > 0 && e[i] >= min_e) {
            sum += e[i];
            kept++;
        }
    *count = kept;
    return sum;
}

int64_t CSM_EXPORT(SK(sample_row))(const T *x, ptrdiff_t n, ptrdiff_t step,
                              const csm_sample_filter *f, const csm_sample_draws *d,
                              void *work) {
    csm_sample_work w = csm_sample_work_parts(work, n);
    T *e = (T *)w.e;
    int not_finite;
    const T m = SK(smp_row_max)(x, n, step, &not_finite);
    if (not_finite) return CSM_SAMPLE_NOT_FINITE;
    if (m == -INFINITY) return CSM_SAMPLE_NO_MASS;
    const double total = SK(smp_exps)(x, n, step, m, (T)f->temperature, e);
    double xb, mass;
    int64_t icut;
    ptrdiff_t kept = 0;
    const ptrdiff_t sorted = SK(smp_threshold)(x, n, step, m, total, f, &w, &xb, &icut, &mass,
                                               &kept);
    const double min_e = f->min_p * SV(exp)(SV(splat)(0))[0]; /* min_p times the max's e */
    if (d->with_replacement && sorted == 0 && d->num_samples <= n) {
        if (xb == -INFINITY && min_e <= 0) { /* nothing filtered */
            mass = total;
            kept = 0;
            for (ptrdiff_t i = 0; i < n; i++) kept += e[i] > 0;
        } else if (xb == -INFINITY) { /* min_p alone */
            T low = (T)min_e; /* the least T >= min_e: the same test as smp_kept's */
            if ((double)low < min_e)
                low = sizeof(T) == sizeof(float) ? (T)nextafterf((float)low, INFINITY)
                                                 : (T)nextafter((double)low, INFINITY);
            mass = SK(smp_mass_above)(e, n, low, &kept);
        } else if (min_e > 0) {
            mass = -1;
        }
        kept = SK(smp_stream_draws)(x, n, step, e, w.cand, xb, icut, min_e, d, &mass, kept);
        if (kept == 0) return CSM_SAMPLE_NO_MASS;
    } else {
        kept = SK(smp_draw_list)(x, n, step, e, w.cand, sorted, xb, icut, min_e, &mass);
        if (kept == 0) return CSM_SAMPLE_NO_MASS;
        if (!d->with_replacement && kept < d->num_samples) return kept;
        double remaining = mass;
        for (ptrdiff_t j = 0; j < d->num_samples; j++) {
            ptrdiff_t t;
            if (d->with_replacement) {
                t = csm_first_above(w.cand, kept, d->uniforms[j] * mass);
            } else {
                t = csm_draw_remaining(w.cand, kept, d->uniforms[j] * remaining);
                remaining -= w.cand[t].w;
                w.cand[t].w = -w.cand[t].w;
            }
            d->index[j] = w.cand[t].i;
        }
    }
    if (d->logprob) {
        const double log_mass = log(mass);
        T *logprob = (T *)d->logprob;
        for (ptrdiff_t j = 0; j < d->num_samples; j++)
            logprob[j] = (T)(((double)x[d->index[j] * step] - (double)m) / f->temperature -
                             log_mass);
    }
    return kept;
}

void CSM_EXPORT(SK(top_logprobs_row))(const T *x, ptrdiff_t n, ptrdiff_t step, double temperature,
                                 ptrdiff_t k, T *values, int64_t *indices, void *work) {
    csm_sample_work w = csm_sample_work_parts(work, n);
    int not_finite;
    const T m = SK(smp_row_max)(x, n, step, &not_finite);
    T *e = (T *)w.e;
    const double log_total = log(SK(smp_exps)(x, n, step, m, (T)temperature, e));
    const ptrdiff_t count = SK(smp_top_candidates)(x, n, step, m, e, k, &w);
    csm_sort_candidates(w.cand, count, 1);
    for (ptrdiff_t t = 0; t < k; t++) {
        values[t] = (T)((w.cand[t].x - (double)m) / temperature - log_total);
        indices[t] = w.cand[t].i;
    }
}

void CSM_EXPORT(SK(gumbel_logits_row))(const T *x, ptrdiff_t n, ptrdiff_t step, T *y,
                                  ptrdiff_t y_step, uint64_t key, uint64_t row, double tau) {
    const T t = (T)tau;
    for (ptrdiff_t i = 0; i < n; i++)
        y[i * y_step] = (x[i * step] + (T)csm_gumbel(key, row, (uint64_t)i)) / t;
}

#undef S_CAT_
#undef S_CAT
#undef SV
#undef SK
#undef SLANES
