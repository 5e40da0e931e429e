/*
 * softmax and log_softmax, template (T, SUF, VT, VI as kernels_impl.h, whose
 * passes it uses): rows (norm_rows: the reduced axis last and contiguous;
 * rows shorter than SHORT_ROW a vector of rows at a time) and columns
 * (norm_cols: the reduced axis not last, up to MAX_SLICES slices side by side,
 * one per lane). A row of HUGE_ROW or more elements split over threads is in
 * huge_row_impl.h. Accuracy: float32 softmax within about 3.3 ulp (the exps
 * keep the rounding error of x - m, see kernels_impl.h).
 */
/* ---------- softmax / log_softmax ---------- */

/*
 * Slices whose output is fixed without sums: softmax of a slice holding +inf is
 * nan (inf - inf, as SciPy); a slice whose max is -inf under CSM_MASKED was fully
 * masked and gives softmax 0 and log_softmax -inf (nan if it holds nan).
 * Returns 1 and sets *fill for those.
 */
static int K(norm_fill)(T max, const T *x, ptrdiff_t step, ptrdiff_t n, int flags, T *fill) {
    if (!(flags & CSM_LOG) && max == (T)INFINITY) {
        *fill = (T)NAN;
        return 1;
    }
    if ((flags & CSM_MASKED) && max == -(T)INFINITY) {
        *fill = K(has_nan)(x, step, n) ? (T)NAN : (flags & CSM_LOG) ? -(T)INFINITY : 0;
        return 1;
    }
    return 0;
}

/* The lanes whose max makes norm_fill fill the slice. */
CSM_INLINE VI K(fill_lanes)(VT max, int flags) {
    VI lanes = {0};
    if (!(flags & CSM_LOG)) lanes |= max == (T)INFINITY;
    if (flags & CSM_MASKED) lanes |= max == -(T)INFINITY;
    return lanes;
}

/*
 * 1 / sum as a pair of T: float's hi + lo holds it to double precision, so that
 * e * hi + e * lo rounds once, where e * (float)(1 / sum) would round twice.
 */
CSM_INLINE K(pair) K(reciprocal)(double sum) {
    T hi = (T)(1 / sum);
    return (K(pair)){V(splat)(hi), V(splat)((T)(1 / sum - hi))};
}

/* Pass 3: y = e * factor (softmax, e already in y) or scale (x - m) - log_norm (log).
 * With scale < 1 (a temperature above 1), x - m of a finite x may overflow where
 * scale (x - m) does not: there x scale - m scale. (softmax needs no such care:
 * its exp rounds to 0 either way for temperatures up to the type's max / 1024,
 * and the callers take larger ones from x / t.) */
CSM_INLINE void K(finish_step)(const T *x, ptrdiff_t lane_step, T *y, ptrdiff_t y_lane_step,
                               ptrdiff_t valid, VT m, VT scale, K(pair) factor, VT log_norm,
                               int log_mode) {
    VT out;
    if (log_mode) {
        VT v = K(load_lanes)(x, lane_step, valid, 0), d = v - m;
        out = d * scale - log_norm;
        if (scale[0] < 1) {
            VI overflowed = (d == -(T)INFINITY) & (v != -(T)INFINITY);
            out = V(select)(overflowed, (v * scale - m * scale) - log_norm, out);
        }
    } else {
        VT e = K(load_lanes)(y, y_lane_step, valid, 0);
        /* double's hi alone is exact enough (lo is 0) */
        out = sizeof(T) < sizeof(double) ? e * factor.hi + e * factor.lo : e * factor.hi;
    }
    K(store_lanes)(y, y_lane_step, out, valid);
}

CSM_INLINE void K(norm_row)(const T *x, T *y, ptrdiff_t n, T scale, int flags) {
    const int log_mode = flags & CSM_LOG;
    T m, min, fill;
    K(row_range)(x, NULL, n, &m, &min);
    if (K(norm_fill)(m, x, 1, n, flags, &fill)) {
        for (ptrdiff_t i = 0; i < n; i++) y[i] = fill;
        return;
    }
    K(pair) factor = {V(splat)(0), V(splat)(0)};
    VT log_norm = V(splat)(0);
    K(origin) o = K(origin_of)(V(splat)(m), scale);
    const int form = K(exp_form)(min, o, scale);
    if (log_mode) {
        double rest, count;
#define ROW_SPLIT(f) K(row_split)(x, NULL, n, m, o, scale, f, &rest, &count)
        BY_FORM(form, ROW_SPLIT);
#undef ROW_SPLIT
        log_norm = V(splat)((T)K(log_norm)(rest, count));
    } else {
        double sum;
#define ROW_SUM(f) sum = K(row_sum)(x, y, n, o, scale, f)
        BY_FORM(form, ROW_SUM);
#undef ROW_SUM
        factor = K(reciprocal)(sum);
    }
    VT vm = V(splat)(m), vscale = V(splat)(scale);
#define FINISH_STEP(i, valid, u) \
    K(finish_step)(x + (i), 1, y + (i), 1, valid, vm, vscale, factor, log_norm, log_mode)
    ROW_LOOP(n, FINISH_STEP);
#undef FINISH_STEP
}

/*
 * Slices side by side, a vector of them at a time (one slice per lane), for the
 * columns of a non-last axis and for rows shorter than SHORT_ROW. Element j of
 * slice s sits at x[s * x_lane + j * x_step] (y likewise): columns have
 * adjacent slices (x_lane 1); short rows have adjacent elements (x_step 1) and
 * slices a row apart, gathered into vectors. Up to MAX_SLICES slices are done
 * together, row j of all of them before row j + 1, so that memory is walked in
 * contiguous runs (a 12 KB stride per vector defeats the prefetcher and TLB).
 * Short rows stored one after another take the dense path further down
 * (norm_dense_group): the same bits, a vector of rows at a time.
 */
#define SHORT_ROW (2 * LANES)
#define MAX_SLICES 1024
#define MAX_VECTORS (MAX_SLICES / LANES)
/* Short rows are gathered in smaller groups, so that all three passes over a
 * group stay in L1. */
#define SHORT_ROWS_GROUP (4 * LANES)

/*
 * SLICES_LOOP(width, STEP) calls STEP(v, valid) for each vector of slices:
 * full vectors with the constant LANES (no tail masks), then the partial one.
 */
#define SLICES_LOOP(width, STEP)                                                       \
    do {                                                                               \
        ptrdiff_t v_ = 0;                                                              \
        for (; (v_ + 1) * LANES <= (width); v_++) { STEP(v_, LANES); }                 \
        if (v_ * LANES < (width)) { STEP(v_, (width) - v_ * LANES); }                  \
    } while (0)

/* Columns: the range pass is the one that reads x from memory, a run of
 * `width` contiguous elements per row j, rows x_step apart; runs of a page or
 * less each start the hardware prefetcher afresh. The run RANGE_PREFETCH rows
 * ahead is requested while row j is read. */
#define RANGE_PREFETCH 4
CSM_INLINE void K(prefetch_run)(const T *p, ptrdiff_t len) {
    for (ptrdiff_t i = 0; i < len; i += 64 / (ptrdiff_t)sizeof(T)) __builtin_prefetch(p + i);
}

/* The range of each slice, one vector of slices per entry of `ranges`. */
CSM_INLINE void K(slices_range)(const T *x, ptrdiff_t x_step, ptrdiff_t x_lane, const T *b,
                                ptrdiff_t n, ptrdiff_t width, K(range) ranges[]) {
    ptrdiff_t vectors = (width + LANES - 1) / LANES;
    for (ptrdiff_t v = 0; v < vectors; v++) ranges[v] = K(range_init)();
    for (ptrdiff_t j = 0; j < n; j++) {
        if (x_lane == 1 && j + RANGE_PREFETCH < n)
            K(prefetch_run)(x + (j + RANGE_PREFETCH) * x_step, width);
#define RANGE_STEP(v, valid)                                                              \
    K(range_update)(&ranges[v], K(load_weighted)(x + j * x_step + (v) * LANES * x_lane,    \
                                                  b ? b + j * x_step + (v) * LANES * x_lane \
                                                    : NULL,                                \
                                                  x_lane, valid))
        SLICES_LOOP(width, RANGE_STEP);
#undef RANGE_STEP
    }
}

/* The exp form of a group of slices with these origins: FORM_UNIT whenever
 * scale is 1 (base takes the lanes that keep their max), the fast exp only if
 * every slice has only normal exps. */
CSM_INLINE int K(slices_form)(const K(range) ranges[],
                              const K(origin) origins[], ptrdiff_t width, T scale) {
    const int unit = scale == 1 ? FORM_UNIT : 0;
    for (ptrdiff_t v = 0; v * LANES < width; v++) {
        VI normal = K(origin_normal)(origins[v], ranges[v].min, scale, unit);
        if (V(any)(~normal & V(first_lanes)(width - v * LANES))) return unit;
    }
    return FORM_NORMAL | unit;
}

/* shift_weight of each of `width` slices with these origins and maxes, a vector
 * of doubles at a time: a libm exp per slice costs short rows a sixth of their
 * time (csm_exp_f64 is within 1 ulp of double; a weight of 1 stays exact).
 * Whole vectors are written (weights has room for them). */
CSM_INLINE void K(slices_weights)(const K(origin) origins[],
                                  const VT maxes[], ptrdiff_t width, T scale,
                                  int unit, double weights[]) {
    for (ptrdiff_t v = 0; v * LANES < width; v++)
        for (int p = 0; p < V(wide_parts); p++) {
            csm_vf64 w = csm_exp_f64(K(shift_gaps)(origins[v], maxes[v], unit, p) * scale);
            memcpy(weights + v * LANES + p * csm_lanes_f64, &w, sizeof w);
        }
}

/* slices_sums' step: vector v of slices (its first `valid` lanes), rows j0 to
 * j1 - 1, their terms added in T, then into the slices' double totals (and
 * counts, log_mode) */
CSM_INLINE void K(slices_sums_step)(const T *x, const T *b, ptrdiff_t x_step, ptrdiff_t x_lane,
                                    T *y, ptrdiff_t y_step, ptrdiff_t y_lane, ptrdiff_t j0,
                                    ptrdiff_t j1, ptrdiff_t v, ptrdiff_t valid, VT max,
                                    K(origin) o, VT vscale, int form, int log_mode,
                                    K_WIDE *totals, K_WIDE *counts) {
    VT total = V(splat)(-(T)0), count = V(splat)(-(T)0);
    for (ptrdiff_t j = j0; j < j1; j++) {
        const T *xv = x + j * x_step + v * LANES * x_lane;
        if (log_mode)
            K(split_step)(xv, b ? b + j * x_step + v * LANES * x_lane : NULL, x_lane, valid, max,
                          o, vscale, form, &total, &count);
        else
            K(sum_step)(xv, x_lane, y + j * y_step + v * LANES * y_lane, y_lane, valid, o,
                        vscale, form, &total);
    }
    *totals = V(wide_add)(*totals, total);
    if (log_mode) *counts = V(wide_add)(*counts, count);
}

/*
 * Pass 2 of norm_slices and lse_slices: softmax stores the exps in y and sums
 * them into totals; log_softmax and logsumexp split them (weighted by b, which
 * shares x's layout, if not NULL) into totals (rest) and counts. Sums are in
 * double lanes: a slice's few terms would otherwise round in T at every one.
 */
CSM_INLINE void K(slices_sums)(const T *x, const T *b, ptrdiff_t x_step, ptrdiff_t x_lane, T *y,
                               ptrdiff_t y_step, ptrdiff_t y_lane, ptrdiff_t n, ptrdiff_t width,
                               const VT maxes[MAX_VECTORS],
                               const K(origin) origins[MAX_VECTORS], T scale, int form,
                               int log_mode, int zero_base, K_WIDE totals[MAX_VECTORS],
                               K_WIDE counts[MAX_VECTORS]) {
    VT vscale = V(splat)(scale);
    /* zero_base (BY_FORM_AND_BASE): no slice keeps its max, so x - 0 is left out */
#define ORIGIN(v) \
    (zero_base ? (K(origin)){origins[v].shift, V(splat)(0), origins[v].c} : origins[v])
    /* two rows at a time: their terms are added in T, then in double */
    for (ptrdiff_t j0 = 0; j0 < n; j0 += 2) {
        const ptrdiff_t j1 = n - j0 < 2 ? n : j0 + 2;
#define SUMS_STEP(v, valid)                                                                    \
    K(slices_sums_step)(x, b, x_step, x_lane, y, y_step, y_lane, j0, j1, v, valid, maxes[v],   \
                        ORIGIN(v), vscale, form, log_mode, &totals[v], &counts[v])
        SLICES_LOOP(width, SUMS_STEP);
#undef SUMS_STEP
    }
#undef ORIGIN
}

/* Whether no slice keeps its max: every base is 0 (lanes past width, whose max
 * is -inf, are left out) */
CSM_INLINE int K(bases_zero)(const K(origin) origins[], ptrdiff_t width) {
    for (ptrdiff_t v = 0; v * LANES < width; v++) {
        VI keeps = origins[v].base != 0;
        if (width - v * LANES < LANES) keeps &= V(first_lanes)(width - v * LANES);
        if (V(any)(keeps)) return 0;
    }
    return 1;
}

/*
 * log_norm(rest, count) of each slice from its sums, rest taken back to the
 * slice's max (slices_weights): a vector of doubles at a time rather than
 * libm's log1p once per slice, which dominates short rows. Counts are
 * positive and mostly 1. norms gets whole vectors of slices (lanes past width
 * 0).
 */
CSM_INLINE void K(slices_log_norms)(const K_WIDE totals[], const K_WIDE counts[],
                                    const VT maxes[], const K(origin) origins[],
                                    ptrdiff_t width, T scale, int form, double norms[]) {
    double weights[MAX_SLICES];
    K(slices_weights)(origins, maxes, width, scale, form & FORM_UNIT, weights);
    for (ptrdiff_t v = 0; v * LANES < width; v++)
        for (int p = 0; p < V(wide_parts); p++) {
            const ptrdiff_t s0 = v * LANES + p * csm_lanes_f64;
            csm_vi64 in = csm_first_lanes_f64(width - s0);
            csm_vf64 weight;
            memcpy(&weight, weights + s0, sizeof weight);
            /* lanes past width: rest 0 and count 1, as an empty slice's */
            csm_vf64 rest = csm_select_f64(in, V(wide_part)(totals[v], p) * weight,
                                           csm_splat_f64(0));
            csm_vf64 count = csm_select_f64(in, V(wide_part)(counts[v], p), csm_splat_f64(1));
            csm_vf64 norm = csm_log1p_f64(rest / count);
            if (csm_any_f64(count != 1)) norm += csm_log1p_f64(count - 1);
            memcpy(norms + s0, &norm, sizeof norm);
        }
}

/* Pass 3's inputs per slice from its sums: softmax's factor 1 / total,
 * log_softmax's log_norm. */
CSM_INLINE void K(slices_outputs)(const K_WIDE totals[],
                                  const K_WIDE counts[], const VT maxes[],
                                  const K(origin) origins[], ptrdiff_t width,
                                  T scale, int form, int log_mode, K(pair) factor[],
                                  VT log_norm[]) {
    for (ptrdiff_t v = 0; v * LANES < width; v++) {
        factor[v].hi = factor[v].lo = log_norm[v] = V(splat)(0);
        /* a vector at a time (lanes past width divide by 0, unread) */
        if (!log_mode) V(wide_reciprocal)(totals[v], &factor[v].hi, &factor[v].lo);
    }
    if (!log_mode) return;
    double norms[MAX_SLICES]; /* whole vectors of slices */
    K(slices_log_norms)(totals, counts, maxes, origins, width, scale, form, norms);
    for (ptrdiff_t v = 0; v * LANES < width; v++) {
        K_WIDE w;
        memcpy(&w, norms + v * LANES, sizeof w);
        log_norm[v] = V(narrow_wide)(w);
    }
}

CSM_INLINE void K(norm_slices)(const T *x, ptrdiff_t x_step, ptrdiff_t x_lane, T *y,
                               ptrdiff_t y_step, ptrdiff_t y_lane, ptrdiff_t n, ptrdiff_t width,
                               T scale, int flags) {
    const int log_mode = flags & CSM_LOG;
    const ptrdiff_t vectors = (width + LANES - 1) / LANES;
    K(range) ranges[MAX_VECTORS];
    K(slices_range)(x, x_step, x_lane, NULL, n, width, ranges);
    /* decided before any write: y may be x; slice by slice only where a vector
     * compare finds such a max (per-slice checks cost slices of a few
     * elements much of their time) */
    int filled[MAX_SLICES], any_filled = 0;
    T fill[MAX_SLICES];
    for (ptrdiff_t v = 0; v < vectors; v++)
        any_filled |= V(any)(K(fill_lanes)(ranges[v].max, flags) &
                             V(first_lanes)(width - v * LANES));
    for (ptrdiff_t s = 0; any_filled && s < width; s++)
        filled[s] = K(norm_fill)(ranges[s / LANES].max[s % LANES], x + s * x_lane, x_step, n,
                                 flags, &fill[s]);

    K_WIDE totals[MAX_VECTORS], counts[MAX_VECTORS];
    for (ptrdiff_t v = 0; v < vectors; v++) totals[v] = counts[v] = V(wide_zero)();
    VT maxes[MAX_VECTORS];
    K(origin) origins[MAX_VECTORS];
    for (ptrdiff_t v = 0; v < vectors; v++) {
        maxes[v] = ranges[v].max;
        origins[v] = K(origin_of)(ranges[v].max, scale);
    }
#define SLICES_SUMS(form, zero_base)                                                         \
    K(slices_sums)(x, NULL, x_step, x_lane, y, y_step, y_lane, n, width, maxes, origins,        \
                   scale, form, log_mode, zero_base, totals, counts)
    const int form = K(slices_form)(ranges, origins, width, scale);
    BY_FORM_AND_BASE(form, K(bases_zero)(origins, width), SLICES_SUMS);
#undef SLICES_SUMS

    K(pair) factor[MAX_VECTORS];
    VT log_norm[MAX_VECTORS];
    K(slices_outputs)(totals, counts, maxes, origins, width, scale, form, log_mode, factor,
                      log_norm);
    VT vscale = V(splat)(scale);
    for (ptrdiff_t j = 0; j < n; j++) {
#define FINISH_STEP(v, valid)                                                             \
    K(finish_step)(x + j * x_step + (v) * LANES * x_lane, x_lane,                         \
                   y + j * y_step + (v) * LANES * y_lane, y_lane, valid, ranges[v].max,   \
                   vscale, factor[v], log_norm[v], log_mode)
        SLICES_LOOP(width, FINISH_STEP);
#undef FINISH_STEP
    }
    for (ptrdiff_t s = 0; any_filled && s < width; s++)
        if (filled[s])
            for (ptrdiff_t j = 0; j < n; j++) y[s * y_lane + j * y_step] = fill[s];
}

/* norm_slices with the mode as a constant in each inlined copy */
CSM_INLINE void K(norm_slices_by_mode)(const T *x, ptrdiff_t x_step, ptrdiff_t x_lane, T *y,
                                       ptrdiff_t y_step, ptrdiff_t y_lane, ptrdiff_t n,
                                       ptrdiff_t width, T scale, int flags) {
    const int masked = flags & CSM_MASKED;
    if (flags & CSM_LOG)
        K(norm_slices)(x, x_step, x_lane, y, y_step, y_lane, n, width, scale, CSM_LOG | masked);
    else K(norm_slices)(x, x_step, x_lane, y, y_step, y_lane, n, width, scale, masked);
}

/*
 * LANES short rows stored one after another (row step n < SHORT_ROW) are n whole
 * vectors: their exps and outputs are computed on those, each lane given its
 * row's origin by a permutation (lane l of vector k is in row
 * row_of[k][l] = (k LANES + l) / n). Only the max and the sums take a row per
 * lane. Each row's results are norm_slices', bit for bit (same operations in the
 * same order), without its lane-by-lane stores.
 */
CSM_INLINE void K(dense_row_map)(ptrdiff_t n, VI row_of[SHORT_ROW]) {
    /* element i = k LANES + l is in row i / n: counted, not divided (a division
     * per element took a third of a (1, 10) call) */
    ptrdiff_t row = 0, column = 0;
    for (ptrdiff_t k = 0; k < n; k++)
        for (ptrdiff_t l = 0; l < LANES; l++) {
            row_of[k][l] = row;
            if (++column == n) column = 0, row++;
        }
}

/* Pass 2 of a dense group: softmax stores its exps in `terms` (y); log_softmax
 * stores the terms of rest there and those of count in `at_max` (split_step).
 * zero_base: as BY_FORM_AND_BASE gives it. */
CSM_INLINE void K(dense_exps)(const T *x, T *terms, T *at_max, ptrdiff_t n,
                              const VI row_of[SHORT_ROW], VT m, K(origin) o, T scale,
                              int form, int log_mode, int zero_base) {
    VT vscale = V(splat)(scale);
    for (ptrdiff_t k = 0; k < n; k++) {
        VI rows = row_of[k];
        K(origin) ok = {V(permute)(o.shift, rows),
                        zero_base ? V(splat)(0) : V(permute)(o.base, rows),
                        V(permute)(o.c, rows)};
        VT xk = V(load)(x + k * LANES);
        VT e = K(exp_from)(xk, ok, vscale, form);
        if (log_mode) {
            VI top = xk == V(permute)(m, rows);
            V(store)(terms + k * LANES, V(select)(top, V(splat)(0), e));
            V(store)(at_max + k * LANES, V(select)(top, V(splat)(1), V(splat)(0)));
        } else {
            V(store)(terms + k * LANES, e);
        }
    }
}

/* The sums of LANES dense rows of terms, added in slices_sums' order */
CSM_INLINE K_WIDE K(dense_sums)(const T *terms, ptrdiff_t n) {
    K_WIDE sums = V(wide_zero)();
    for (ptrdiff_t j0 = 0; j0 < n; j0 += 2) {
        VT two = V(splat)(-(T)0);
        for (ptrdiff_t j = j0; j < n && j < j0 + 2; j++)
            two += K(load_lanes)(terms + j, n, LANES, 0);
        sums = V(wide_add)(sums, two);
    }
    return sums;
}

/* Passes 1 and 2 of a dense group, as norm_slices and lse_slices take them */
typedef struct {
    VT max;
    K(origin) origin;
    int form;
    K_WIDE totals, counts; /* softmax: totals; log: rest and counts */
} K(dense_sums_of);

/* Returns 0, having written nothing, if a row's max is not finite (norm_fill's
 * and lse_direct's rows, left to the slice kernels). Softmax's exps go to y,
 * the log modes' terms to buffers (x may be y, and pass 3 reads x). */
CSM_INLINE int K(dense_group_sums)(const T *x, T *y, ptrdiff_t n, const VI row_of[SHORT_ROW],
                                   T scale, int log_mode, K(dense_sums_of) *g) {
    K(range) range[1];
    K(slices_range)(x, 1, n, NULL, n, LANES, range);
    VT m = g->max = range[0].max;
    if (V(any)(m - m != 0)) return 0;
    K(origin) o = g->origin = K(origin_of)(m, scale);
    const int form = g->form = K(slices_form)(range, &o, LANES, scale);
    T terms[LANES * SHORT_ROW], at_max[LANES * SHORT_ROW];
    T *sums_of = log_mode ? terms : y;
#define DENSE_EXPS(form, zero_base) \
    K(dense_exps)(x, sums_of, at_max, n, row_of, m, o, scale, form, log_mode, zero_base)
    BY_FORM_AND_BASE(form, K(bases_zero)(&o, LANES), DENSE_EXPS);
#undef DENSE_EXPS
    g->totals = K(dense_sums)(sums_of, n);
    g->counts = log_mode ? K(dense_sums)(at_max, n) : V(wide_zero)();
    return 1;
}

/* One dense group of softmax or log_softmax; returns 0 as dense_group_sums */
CSM_INLINE int K(norm_dense_group)(const T *x, T *y, ptrdiff_t n, const VI row_of[SHORT_ROW],
                                   T scale, int flags) {
    const int log_mode = flags & CSM_LOG;
    K(dense_sums_of) g;
    if (!K(dense_group_sums)(x, y, n, row_of, scale, log_mode, &g)) return 0;
    K(pair) factor[1];
    VT log_norm[1];
    K(slices_outputs)(&g.totals, &g.counts, &g.max, &g.origin, LANES, scale, g.form, log_mode,
                      factor, log_norm);
    VT vscale = V(splat)(scale);
    for (ptrdiff_t k = 0; k < n; k++) {
        VI rows = row_of[k];
        K(pair) f = {V(permute)(factor[0].hi, rows), V(permute)(factor[0].lo, rows)};
        K(finish_step)(x + k * LANES, 1, y + k * LANES, 1, LANES, V(permute)(g.max, rows),
                       vscale, f, V(permute)(log_norm[0], rows), log_mode);
    }
    return 1;
}

/* The dense groups of a run of short rows with row step n; returns the number
 * of rows done (a multiple of LANES). */
static ptrdiff_t K(norm_dense_rows)(const T *x, T *y, ptrdiff_t rows, ptrdiff_t n, T scale,
                                    int flags) {
    const int masked = flags & CSM_MASKED;
    VI row_of[SHORT_ROW];
    if (rows < LANES) return 0;
    K(dense_row_map)(n, row_of);
    ptrdiff_t r = 0;
    for (; r + LANES <= rows; r += LANES) {
        const T *xg = x + r * n;
        T *yg = y + r * n;
        const int done = flags & CSM_LOG
                             ? K(norm_dense_group)(xg, yg, n, row_of, scale, CSM_LOG | masked)
                             : K(norm_dense_group)(xg, yg, n, row_of, scale, masked);
        if (!done) K(norm_slices_by_mode)(xg, 1, n, yg, 1, n, n, LANES, scale, flags);
    }
    return r;
}

static void K(norm_rows)(const T *x, ptrdiff_t x_row_step, T *y, ptrdiff_t y_row_step,
                         ptrdiff_t rows, ptrdiff_t n, T scale, int flags) {
    const int masked = flags & CSM_MASKED;
    if (n < SHORT_ROW) {
        ptrdiff_t r = 0;
        if (n > 0 && x_row_step == n && y_row_step == n)
            r = K(norm_dense_rows)(x, y, rows, n, scale, flags);
        for (; r < rows; r += SHORT_ROWS_GROUP)
            K(norm_slices_by_mode)(x + r * x_row_step, 1, x_row_step, y + r * y_row_step, 1,
                                   y_row_step, n,
                                   rows - r < SHORT_ROWS_GROUP ? rows - r : SHORT_ROWS_GROUP,
                                   scale, flags);
        return;
    }
    for (ptrdiff_t r = 0; r < rows; r++) {
        const T *xr = x + r * x_row_step;
        T *yr = y + r * y_row_step;
        /* separate calls, so that each inlined copy knows its mode */
        if (flags & CSM_LOG) K(norm_row)(xr, yr, n, scale, CSM_LOG | masked);
        else K(norm_row)(xr, yr, n, scale, masked);
    }
}

static void K(norm_cols)(const T *x, ptrdiff_t x_step, T *y, ptrdiff_t y_step, ptrdiff_t n,
                         ptrdiff_t width, T scale, int flags) {
    for (ptrdiff_t c = 0; c < width; c += MAX_SLICES)
        K(norm_slices_by_mode)(x + c, x_step, 1, y + c, y_step, 1, n,
                               width - c < MAX_SLICES ? width - c : MAX_SLICES, scale, flags);
}
