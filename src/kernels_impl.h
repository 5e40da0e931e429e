/*
 * Kernel template: included by kernels_isa.h once per element type with
 *   T   element type (float, double)      SUF  name suffix (f32, f64)
 *   VT  vector of T                        VI   integer vector of the same lane width
 * All names are static to the including ISA translation unit; kernels_isa.h puts
 * them in that ISA's table.
 *
 * Every slice takes three passes: (1) its max m and min (nan is ignored there
 * and reaches the result through the sums instead), (2) the exps of
 * scale (x - m) and their sums, (3) the output.
 *   softmax      = exp(scale (x - m)) / sum
 *   log_softmax  = scale (x - m) - (log1p(rest / count) + log(count))
 *   logsumexp    = m + log1p(rest / count) + log(count)      (SciPy's split)
 * where count = sum of the weights at the max and rest = the weighted sum of
 * the other exps: keeping the max terms out of `rest` makes the log exact when
 * the other terms are tiny (log1p instead of log(1 + tiny)).
 */
#define CSM_CAT_(a, b) a##b
#define CSM_CAT(a, b) CSM_CAT_(a, b)
#define V(name) CSM_CAT(csm_##name##_, SUF)       /* vector helper for this type */
#define K(name) CSM_CAT(name##_, SUF)             /* kernel name for this type */
#define LANES ((ptrdiff_t)V(lanes))
#define EXP_NORMAL_MIN CSM_CAT(CSM_EXP_NORMAL_MIN_, SUF)

/*
 * Sums run in T within blocks of SUM_BLOCK vectors per accumulator and in double
 * across blocks, so their error does not grow with the length of a slice.
 */
#define SUM_BLOCK 16

/*
 * Rows are walked UNROLL vectors at a time into UNROLL accumulators, so that
 * the exps' dependency chains overlap; the accumulators are combined in a fixed
 * order, so a row's result depends on its values and length only.
 * ROW_LOOP(n, STEP) calls STEP(offset, valid, accumulator) over a row: full
 * vectors (valid == LANES, a constant that lets STEP drop its tail masks), then
 * one partial vector.
 */
#define UNROLL 4
#define ROW_LOOP(n, STEP)                                                              \
    do {                                                                               \
        ptrdiff_t i_ = 0;                                                              \
        for (; i_ + UNROLL * LANES <= (n); i_ += UNROLL * LANES) {                     \
            STEP(i_, LANES, 0);                                                        \
            STEP(i_ + LANES, LANES, 1);                                                \
            STEP(i_ + 2 * LANES, LANES, 2);                                            \
            STEP(i_ + 3 * LANES, LANES, 3);                                            \
        }                                                                              \
        for (; i_ + LANES <= (n); i_ += LANES) STEP(i_, LANES, 0);                     \
        if (i_ < (n)) STEP(i_, (n) - i_, 0);                                           \
    } while (0)

CSM_INLINE VT K(combine)(const VT acc[UNROLL]) { return (acc[0] + acc[1]) + (acc[2] + acc[3]); }

CSM_INLINE VT K(load_valid)(const T *p, ptrdiff_t valid, T fill) {
    return valid == LANES ? V(load)(p) : V(loadp)(p, valid, fill);
}

CSM_INLINE void K(store_valid)(T *p, VT v, ptrdiff_t valid) {
    if (valid == LANES) V(store)(p, v);
    else V(storep)(p, v, valid);
}

/* x, with the entries whose weight b is 0 read as -inf (they add nothing). */
CSM_INLINE VT K(load_weighted)(const T *x, const T *b, ptrdiff_t valid) {
    VT v = K(load_valid)(x, valid, -(T)INFINITY);
    if (b) v = V(select)(K(load_valid)(b, valid, 0) == 0, V(splat)(-(T)INFINITY), v);
    return v;
}

/* The exp of a vector, in the fast form when the slice's results are all normal. */
CSM_INLINE VT K(exp_of)(VT z, int normal) { return normal ? V(exp_normal)(z) : V(exp)(z); }

/* Whether every exp(scale (x - m)) of a slice with this min and max is a normal number. */
CSM_INLINE int K(exps_normal)(T min, T max, T scale) {
    return (min - max) * scale >= EXP_NORMAL_MIN;
}

static int K(has_nan)(const T *x, ptrdiff_t step, ptrdiff_t n) {
    for (ptrdiff_t j = 0; j < n; j++)
        if (x[j * step] != x[j * step]) return 1;
    return 0;
}

/* ---------- pass 1: range ---------- */

typedef struct {
    VT max, min;
} K(range);

CSM_INLINE K(range) K(range_init)(void) {
    return (K(range)){V(splat)(-(T)INFINITY), V(splat)((T)INFINITY)};
}

CSM_INLINE void K(range_update)(K(range) * r, VT v) {
    r->max = V(max)(r->max, v);
    r->min = V(min)(r->min, v);
}

/* max and min of a contiguous row (weighted by b if not NULL). */
CSM_INLINE void K(row_range)(const T *x, const T *b, ptrdiff_t n, T *max, T *min) {
    K(range) acc[UNROLL];
    for (int u = 0; u < UNROLL; u++) acc[u] = K(range_init)();
#define RANGE_STEP(i, valid, u) \
    K(range_update)(&acc[u], K(load_weighted)(x + (i), b ? b + (i) : NULL, valid))
    ROW_LOOP(n, RANGE_STEP);
#undef RANGE_STEP
    for (int u = 1; u < UNROLL; u++) {
        acc[0].max = V(max)(acc[0].max, acc[u].max);
        acc[0].min = V(min)(acc[0].min, acc[u].min);
    }
    *max = V(hmax)(acc[0].max);
    *min = V(hmin)(acc[0].min);
}

/* ---------- pass 2: sums ---------- */

/* softmax: e = exp(scale (x - m)), stored; sum += e. */
CSM_INLINE void K(sum_step)(const T *x, T *y, ptrdiff_t valid, VT m, VT scale, int normal,
                            VT *sum) {
    VT e = K(exp_of)((K(load_valid)(x, valid, 0) - m) * scale, normal);
    *sum += valid == LANES ? e : V(select)(V(first_lanes)(valid), e, V(splat)(0));
    K(store_valid)(y, e, valid);
}

/* log_softmax and logsumexp: weighted exps split into the max terms (count) and
 * the others (rest). */
CSM_INLINE void K(split_step)(const T *x, const T *b, ptrdiff_t valid, VT m, VT scale, int normal,
                              VT *rest, VT *count) {
    VT v = K(load_weighted)(x, b, valid);
    VT w = b ? K(load_valid)(b, valid, 0) : V(splat)(1);
    VI in = V(first_lanes)(valid);
    VI at_max = (v == m) & in;
    VT e = K(exp_of)((v - m) * scale, normal) * w;
    *rest += V(select)(in & ~at_max, e, V(splat)(0));
    *count += V(select)(at_max, w, V(splat)(0));
}

/* Row blocks for the sums: ROW_BLOCK elements each. */
#define ROW_BLOCK (UNROLL * SUM_BLOCK * LANES)

/* Sums of a contiguous row: pass 2, in one of the two exp forms. */
CSM_INLINE double K(row_sum)(const T *x, T *y, ptrdiff_t n, T m, T scale, int normal) {
    VT vm = V(splat)(m), vscale = V(splat)(scale), acc[UNROLL];
    double total = 0;
    for (ptrdiff_t start = 0; start < n; start += ROW_BLOCK) {
        const T *xb = x + start;
        T *yb = y + start;
        for (int u = 0; u < UNROLL; u++) acc[u] = V(splat)(0);
#define SUM_STEP(i, valid, u) K(sum_step)(xb + (i), yb + (i), valid, vm, vscale, normal, &acc[u])
        ROW_LOOP(n - start < ROW_BLOCK ? n - start : ROW_BLOCK, SUM_STEP);
#undef SUM_STEP
        total += V(hsum)(K(combine)(acc));
    }
    return total;
}

CSM_INLINE void K(row_split)(const T *x, const T *b, ptrdiff_t n, T m, T scale, int normal,
                             double *rest, double *count) {
    VT vm = V(splat)(m), vscale = V(splat)(scale), rest_acc[UNROLL], count_acc[UNROLL];
    *rest = *count = 0;
    for (ptrdiff_t start = 0; start < n; start += ROW_BLOCK) {
        const T *xb = x + start, *bb = b ? b + start : NULL;
        for (int u = 0; u < UNROLL; u++) rest_acc[u] = count_acc[u] = V(splat)(0);
#define SPLIT_STEP(i, valid, u)                                                              \
    K(split_step)(xb + (i), bb ? bb + (i) : NULL, valid, vm, vscale, normal, &rest_acc[u], \
                  &count_acc[u])
        ROW_LOOP(n - start < ROW_BLOCK ? n - start : ROW_BLOCK, SPLIT_STEP);
#undef SPLIT_STEP
        *rest += V(hsum)(K(combine)(rest_acc));
        *count += V(hsum)(K(combine)(count_acc));
    }
}

/* log(count + rest), exact when rest is tiny next to count */
CSM_INLINE double K(log_norm)(double rest, double count) {
    return log1p(rest / count) + log(count);
}

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

/* Pass 3: y = e * factor (softmax, e already in y) or scale (x - m) - shift (log). */
CSM_INLINE void K(finish_step)(const T *x, T *y, ptrdiff_t valid, VT m, VT scale, VT factor,
                               VT shift, int log_mode) {
    VT out = log_mode ? (K(load_valid)(x, valid, 0) - m) * scale - shift
                      : K(load_valid)(y, valid, 0) * factor;
    K(store_valid)(y, out, valid);
}

CSM_INLINE void K(norm_row)(const T *x, T *y, ptrdiff_t n, T scale, int flags) {
    const int log_mode = flags & CSM_LOG;
    T m, min, fill;
    K(row_range)(x, NULL, n, &m, &min);
    if (K(norm_fill)(m, x, 1, n, flags, &fill)) {
        for (ptrdiff_t i = 0; i < n; i++) y[i] = fill;
        return;
    }
    int normal = K(exps_normal)(min, m, scale);
    VT factor = V(splat)(0), shift = V(splat)(0);
    if (log_mode) {
        double rest, count;
        if (normal) K(row_split)(x, NULL, n, m, scale, 1, &rest, &count);
        else K(row_split)(x, NULL, n, m, scale, 0, &rest, &count);
        shift = V(splat)((T)K(log_norm)(rest, count));
    } else {
        double sum = normal ? K(row_sum)(x, y, n, m, scale, 1) : K(row_sum)(x, y, n, m, scale, 0);
        factor = V(splat)((T)(1 / sum));
    }
    VT vm = V(splat)(m), vscale = V(splat)(scale);
#define FINISH_STEP(i, valid, u) \
    K(finish_step)(x + (i), y + (i), valid, vm, vscale, factor, shift, log_mode)
    ROW_LOOP(n, FINISH_STEP);
#undef FINISH_STEP
}

static void K(norm_rows)(const T *x, ptrdiff_t x_row_step, T *y, ptrdiff_t y_row_step,
                         ptrdiff_t rows, ptrdiff_t n, T scale, int flags) {
    const int masked = flags & CSM_MASKED;
    for (ptrdiff_t r = 0; r < rows; r++) {
        const T *xr = x + r * x_row_step;
        T *yr = y + r * y_row_step;
        /* separate calls, so that each inlined copy knows its mode */
        if (flags & CSM_LOG) K(norm_row)(xr, yr, n, scale, CSM_LOG | masked);
        else K(norm_row)(xr, yr, n, scale, masked);
    }
}

/* The range of a block of `valid` side-by-side slices, one per lane. */
CSM_INLINE K(range) K(col_range)(const T *x, ptrdiff_t x_step, const T *b, ptrdiff_t b_step,
                                 ptrdiff_t n, ptrdiff_t valid) {
    K(range) r = K(range_init)();
    for (ptrdiff_t j = 0; j < n; j++)
        K(range_update)(&r, K(load_weighted)(x + j * x_step, b ? b + j * b_step : NULL, valid));
    return r;
}

/* Whether every lane of a block has only normal exps (the fast form for all). */
CSM_INLINE int K(block_normal)(K(range) r, ptrdiff_t valid, T scale) {
    for (ptrdiff_t lane = 0; lane < valid; lane++)
        if (!K(exps_normal)(r.min[lane], r.max[lane], scale)) return 0;
    return 1;
}

/* totals[lane] += v[lane], in double */
CSM_INLINE void K(add_lanes)(double totals[LANES], VT v) {
    for (int lane = 0; lane < LANES; lane++) totals[lane] += v[lane];
}

/* One block of up to LANES side-by-side slices, vectorised across them. */
CSM_INLINE void K(norm_col_block)(const T *x, ptrdiff_t x_step, T *y, ptrdiff_t y_step,
                                  ptrdiff_t n, ptrdiff_t valid, T scale, int flags) {
    const int log_mode = flags & CSM_LOG;
    K(range) r = K(col_range)(x, x_step, NULL, 0, n, valid);
    int normal = K(block_normal)(r, valid, scale);
    /* decided before any write: y may be x */
    int filled[LANES];
    T fill[LANES];
    for (ptrdiff_t lane = 0; lane < valid; lane++)
        filled[lane] = K(norm_fill)(r.max[lane], x + lane, x_step, n, flags, &fill[lane]);
    VT vscale = V(splat)(scale);
    double sum[LANES] = {0}, rest[LANES] = {0}, count[LANES] = {0};
    for (ptrdiff_t j0 = 0; j0 < n; j0 += SUM_BLOCK) {
        VT block_sum = V(splat)(0), block_rest = V(splat)(0), block_count = V(splat)(0);
        for (ptrdiff_t j = j0; j < n && j < j0 + SUM_BLOCK; j++) {
            const T *xj = x + j * x_step;
            if (log_mode)
                K(split_step)(xj, NULL, valid, r.max, vscale, normal, &block_rest, &block_count);
            else K(sum_step)(xj, y + j * y_step, valid, r.max, vscale, normal, &block_sum);
        }
        K(add_lanes)(sum, block_sum);
        K(add_lanes)(rest, block_rest);
        K(add_lanes)(count, block_count);
    }
    VT factor, shift;
    for (int lane = 0; lane < LANES; lane++) {
        factor[lane] = (T)(1 / sum[lane]);
        shift[lane] = (T)K(log_norm)(rest[lane], count[lane]);
    }
    for (ptrdiff_t j = 0; j < n; j++)
        K(finish_step)(x + j * x_step, y + j * y_step, valid, r.max, vscale, factor, shift,
                       log_mode);
    for (ptrdiff_t lane = 0; lane < valid; lane++)
        if (filled[lane])
            for (ptrdiff_t j = 0; j < n; j++) y[j * y_step + lane] = fill[lane];
}

static void K(norm_cols)(const T *x, ptrdiff_t x_step, T *y, ptrdiff_t y_step, ptrdiff_t n,
                         ptrdiff_t width, T scale, int flags) {
    ptrdiff_t c;
    for (c = 0; c + LANES <= width; c += LANES)
        K(norm_col_block)(x + c, x_step, y + c, y_step, n, LANES, scale, flags);
    if (c < width) K(norm_col_block)(x + c, x_step, y + c, y_step, n, width - c, scale, flags);
}

/* ---------- logsumexp ---------- */

/*
 * The plain log(sum b exp(x)), for slices whose stable form is not finite
 * (a +-inf or all -inf max, weights that cancel at the max, overflow): SciPy
 * defines those results by this formula, entries with b == 0 included.
 */
static void K(lse_direct)(const T *x, ptrdiff_t step, const T *b, ptrdiff_t b_step,
                          ptrdiff_t n, int flags, T *result, T *sign) {
    double total = 0;
    for (ptrdiff_t j = 0; j < n; j++)
        total += (b ? (double)b[j * b_step] : 1.0) * exp((double)x[j * step]);
    if (flags & CSM_RETURN_SIGN) {
        *result = (T)log(fabs(total));
        *sign = (T)(total > 0 ? 1.0 : total < 0 ? -1.0 : total == 0 ? 0.0 : NAN);
    } else {
        *result = (T)log(total);
    }
}

/*
 * Finishes one slice from its max m, rest and count (SciPy's split), where m is
 * finite. Returns 0 when the slice needs lse_direct instead.
 */
static int K(lse_finish)(T m, double rest, double count, int flags, T *result, T *sign) {
    double s = rest == 0 ? rest : rest / count;
    double sgn = (s + 1 > 0 ? 1.0 : s + 1 < 0 ? -1.0 : 0.0) *
                 (count > 0 ? 1.0 : count < 0 ? -1.0 : 0.0);
    if (s < -1) s = -s - 2;
    double out = log1p(s) + log(fabs(count)) + (double)m;
    if (!(flags & CSM_RETURN_SIGN) && sgn < 0) out = NAN;
    if (!isfinite(out) || !isfinite((T)out)) return 0;
    *result = (T)out;
    if (flags & CSM_RETURN_SIGN) *sign = (T)sgn;
    return 1;
}

static void K(lse_rows)(const T *x, ptrdiff_t x_row_step, const T *b, ptrdiff_t b_row_step,
                        T *result, T *sign, ptrdiff_t rows, ptrdiff_t n, int flags) {
    for (ptrdiff_t r = 0; r < rows; r++) {
        const T *xr = x + r * x_row_step;
        const T *br = b ? b + r * b_row_step : NULL;
        T *sign_r = sign ? sign + r : NULL;
        T m, min;
        double rest = 0, count = 0;
        K(row_range)(xr, br, n, &m, &min);
        if (isfinite(m)) {
            if (K(exps_normal)(min, m, 1)) K(row_split)(xr, br, n, m, 1, 1, &rest, &count);
            else K(row_split)(xr, br, n, m, 1, 0, &rest, &count);
        }
        if (!isfinite(m) || !K(lse_finish)(m, rest, count, flags, result + r, sign_r))
            K(lse_direct)(xr, 1, br, 1, n, flags, result + r, sign_r);
    }
}

CSM_INLINE void K(lse_col_block)(const T *x, ptrdiff_t x_step, const T *b, ptrdiff_t b_step,
                                 T *result, T *sign, ptrdiff_t n, ptrdiff_t valid, int flags) {
    K(range) r = K(col_range)(x, x_step, b, b_step, n, valid);
    int normal = K(block_normal)(r, valid, 1);
    VT one = V(splat)(1);
    double rest[LANES] = {0}, count[LANES] = {0};
    /* lanes with a non-finite max give nan sums here and are redone by lse_direct */
    for (ptrdiff_t j0 = 0; j0 < n; j0 += SUM_BLOCK) {
        VT block_rest = V(splat)(0), block_count = V(splat)(0);
        for (ptrdiff_t j = j0; j < n && j < j0 + SUM_BLOCK; j++)
            K(split_step)(x + j * x_step, b ? b + j * b_step : NULL, valid, r.max, one, normal,
                          &block_rest, &block_count);
        K(add_lanes)(rest, block_rest);
        K(add_lanes)(count, block_count);
    }
    for (ptrdiff_t lane = 0; lane < valid; lane++) {
        T *sign_lane = sign ? sign + lane : NULL;
        T m = r.max[lane];
        if (!isfinite(m) || !K(lse_finish)(m, rest[lane], count[lane], flags, result + lane,
                                           sign_lane))
            K(lse_direct)(x + lane, x_step, b ? b + lane : NULL, b_step, n, flags, result + lane,
                          sign_lane);
    }
}

static void K(lse_cols)(const T *x, ptrdiff_t x_step, const T *b, ptrdiff_t b_step, T *result,
                        T *sign, ptrdiff_t n, ptrdiff_t width, int flags) {
    ptrdiff_t c;
    for (c = 0; c + LANES <= width; c += LANES)
        K(lse_col_block)(x + c, x_step, b ? b + c : NULL, b_step, result + c,
                         sign ? sign + c : NULL, n, LANES, flags);
    if (c < width)
        K(lse_col_block)(x + c, x_step, b ? b + c : NULL, b_step, result + c,
                         sign ? sign + c : NULL, n, width - c, flags);
}
