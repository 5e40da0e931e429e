/*
 * logsumexp, template (T, SUF, VT, VI as kernels_impl.h, whose passes it
 * uses): m + log1p(rest / count) + log(count) over rows (lse_rows) and columns
 * (lse_cols), with weights b and the sign of a signed result; slices whose
 * stable form is not finite take SciPy's plain formula (lse_direct). A row of
 * HUGE_ROW or more elements split over threads is in huge_row_impl.h.
 * Accuracy (tests/test_accuracy.py): float64 results within a relative 1e-14
 * of a long-double reference; log1p(rest / count) keeps the terms off the max
 * exact when they are tiny (logsumexp([0, -40]) to the last bit).
 */
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

/* lse_finish of an unweighted slice without sign from its log_norm */
CSM_INLINE int K(lse_plain_finish)(T m, double log_norm, T *result) {
    double out = log_norm + (double)m;
    if (!isfinite(m) || !isfinite(out) || !isfinite((T)out)) return 0;
    *result = (T)out;
    return 1;
}

/* logsumexp of slices laid out as in norm_slices (b shares x's layout): results
 * to result[s] (and sign[s]). */
static void K(lse_slices)(const T *x, ptrdiff_t x_step, ptrdiff_t x_lane, const T *b,
                          T *result, T *sign, ptrdiff_t n, ptrdiff_t width, int flags) {
    const ptrdiff_t vectors = (width + LANES - 1) / LANES;
    K(range) ranges[MAX_VECTORS];
    K(slices_range)(x, x_step, x_lane, b, n, width, ranges);
    VT maxes[MAX_VECTORS];
    K(origin) origins[MAX_VECTORS];
    K_WIDE rest[MAX_VECTORS], count[MAX_VECTORS];
    for (ptrdiff_t v = 0; v < vectors; v++) {
        maxes[v] = ranges[v].max;
        origins[v] = K(origin_of)(ranges[v].max, 1);
        rest[v] = count[v] = V(wide_zero)();
    }
    /* slices with a non-finite max give nan sums here and are redone by lse_direct */
#define LSE_SUMS(form, zero_base)                                                           \
    K(slices_sums)(x, b, x_step, x_lane, NULL, 0, 0, n, width, maxes, origins, 1, form,         \
                   CSM_LOG, zero_base, rest, count)
    const int form = K(slices_form)(ranges, origins, width, 1);
    BY_FORM_AND_BASE(form, K(bases_zero)(origins, width), LSE_SUMS);
#undef LSE_SUMS
    /* unweighted sums without signs (counts >= 1, rest >= 0): log1p(rest / count)
     * + log(count) + m of lse_finish, a vector at a time */
    double norms[MAX_SLICES];
    const int plain = !b && !(flags & CSM_RETURN_SIGN);
    if (plain) K(slices_log_norms)(rest, count, maxes, origins, width, 1, form, norms);
    double weights[MAX_SLICES];
    if (!plain) K(slices_weights)(origins, maxes, width, 1, form & FORM_UNIT, weights);
    for (ptrdiff_t s = 0; s < width; s++) {
        T *sign_s = sign ? sign + s : NULL;
        T m = maxes[s / LANES][s % LANES];
        int done;
        if (plain) {
            done = K(lse_plain_finish)(m, norms[s], result + s);
        } else {
            double rest_s = V(wide_lane)(rest[s / LANES], s % LANES) * weights[s];
            double count_s = V(wide_lane)(count[s / LANES], s % LANES);
            done = isfinite(m) && K(lse_finish)(m, rest_s, count_s, flags, result + s, sign_s);
        }
        if (!done)
            K(lse_direct)(x + s * x_lane, x_step, b ? b + s * x_lane : NULL, x_step, n, flags,
                          result + s, sign_s);
    }
}

/* logsumexp of the dense groups of a run of short rows with row step n, without
 * b or signs (norm_dense_rows' passes; lse_slices' bits); returns the number of
 * rows done (a multiple of LANES). */
static ptrdiff_t K(lse_dense_rows)(const T *x, T *result, ptrdiff_t rows, ptrdiff_t n,
                                   int flags) {
    VI row_of[SHORT_ROW];
    if (rows < LANES) return 0;
    K(dense_row_map)(n, row_of);
    ptrdiff_t r = 0;
    for (; r + LANES <= rows; r += LANES) {
        const T *xg = x + r * n;
        K(dense_sums_of) g;
        if (!K(dense_group_sums)(xg, NULL, n, row_of, 1, CSM_LOG, &g)) {
            K(lse_slices)(xg, 1, n, NULL, result + r, NULL, n, LANES, flags);
            continue;
        }
        double norms[LANES];
        K(slices_log_norms)(&g.totals, &g.counts, &g.max, &g.origin, LANES, 1, g.form, norms);
        for (ptrdiff_t l = 0; l < LANES; l++)
            if (!K(lse_plain_finish)(g.max[l], norms[l], result + r + l))
                K(lse_direct)(xg + l * n, 1, NULL, 1, n, flags, result + r + l, NULL);
    }
    return r;
}

static void K(lse_rows)(const T *x, ptrdiff_t x_row_step, const T *b, T *result, T *sign,
                        ptrdiff_t rows, ptrdiff_t n, int flags) {
    if (n < SHORT_ROW) {
        ptrdiff_t r = 0;
        if (n > 0 && x_row_step == n && !b && !(flags & CSM_RETURN_SIGN))
            r = K(lse_dense_rows)(x, result, rows, n, flags);
        for (; r < rows; r += SHORT_ROWS_GROUP)
            K(lse_slices)(x + r * x_row_step, 1, x_row_step, b ? b + r * x_row_step : NULL,
                          result + r, sign ? sign + r : NULL, n,
                          rows - r < SHORT_ROWS_GROUP ? rows - r : SHORT_ROWS_GROUP, flags);
        return;
    }
    for (ptrdiff_t r = 0; r < rows; r++) {
        const T *xr = x + r * x_row_step;
        const T *br = b ? b + r * x_row_step : NULL;
        T *sign_r = sign ? sign + r : NULL;
        T m, min;
        double rest = 0, count = 0;
        K(row_range)(xr, br, n, &m, &min);
        if (isfinite(m)) {
            const K(origin) o = K(origin_of)(V(splat)(m), 1);
#define ROW_SPLIT(form) K(row_split)(xr, br, n, m, o, 1, form, &rest, &count)
            BY_FORM(K(exp_form)(min, o, 1), ROW_SPLIT);
#undef ROW_SPLIT
        }
        if (!isfinite(m) || !K(lse_finish)(m, rest, count, flags, result + r, sign_r))
            K(lse_direct)(xr, 1, br, 1, n, flags, result + r, sign_r);
    }
}

static void K(lse_cols)(const T *x, ptrdiff_t x_step, const T *b, T *result, T *sign,
                        ptrdiff_t n, ptrdiff_t width, int flags) {
    for (ptrdiff_t c = 0; c < width; c += MAX_SLICES)
        K(lse_slices)(x + c, x_step, 1, b ? b + c : NULL, result + c, sign ? sign + c : NULL, n,
                      width - c < MAX_SLICES ? width - c : MAX_SLICES, flags);
}
