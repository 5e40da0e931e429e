/*
 * Kernel template: included by kernels_isa.h once per element type with
 *   T   element type (float, double)      SUF  name suffix (f32, f64)
 *   VT  vector of T                        VI   integer vector of the same lane width
 * All names are static to the including ISA translation unit; kernels_isa.h puts
 * them in that ISA's table.
 *
 * Every slice takes three passes: (1) its max m and min (nan is ignored there
 * and reaches the result through the sums instead), (2) the exps of
 * scale (x - m) and their sums, (3) the output. The exps of pass 2 do not lose
 * the rounding error of x - m (see exact_shift and K(origin)), which keeps
 * float32 softmax within about 3.3 ulp.
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
#define K_WIDE CSM_CAT(csm_wide_, SUF)             /* VT's lanes as doubles */
#define K(name) CSM_CAT(name##_, SUF)             /* kernel name for this type */
#define LANES ((ptrdiff_t)V(lanes))
#define EXP_NORMAL_MIN CSM_CAT(CSM_EXP_NORMAL_MIN_, SUF)

/*
 * Sums run in T within blocks of SUM_BLOCK vectors per accumulator and in double
 * across blocks, so their error does not grow with the length of a slice.
 * (Softmax's own sums go to double sooner, see row_sum.)
 */
#define SUM_BLOCK 16

/*
 * Rows are walked UNROLL vectors at a time into UNROLL accumulators, so that
 * the exps' dependency chains overlap; the accumulators are combined in a fixed
 * order, so a row's result depends on its values and length only.
 * ROW_LOOP(n, STEP) calls STEP(offset, valid, accumulator) over a row: full
 * vectors (valid == LANES, a constant that lets STEP drop its tail masks), then
 * one partial vector. ROW_LOOP_FLUSHED also calls FLUSH() after every
 * `every` groups of UNROLL vectors, after the last group and after each vector
 * of the tail.
 */
#define UNROLL 4
#define ROW_LOOP_FLUSHED(n, STEP, FLUSH, every)                                        \
    do {                                                                               \
        ptrdiff_t i_ = 0, groups_ = 0;                                                 \
        for (; i_ + UNROLL * LANES <= (n); i_ += UNROLL * LANES) {                     \
            STEP(i_, LANES, 0);                                                        \
            STEP(i_ + LANES, LANES, 1);                                                \
            STEP(i_ + 2 * LANES, LANES, 2);                                            \
            STEP(i_ + 3 * LANES, LANES, 3);                                            \
            if (++groups_ % (every) == 0) FLUSH();                                     \
        }                                                                              \
        FLUSH();                                                                       \
        for (; i_ + LANES <= (n); i_ += LANES) {                                       \
            STEP(i_, LANES, 0);                                                        \
            FLUSH();                                                                   \
        }                                                                              \
        if (i_ < (n)) {                                                                \
            STEP(i_, (n) - i_, 0);                                                     \
            FLUSH();                                                                   \
        }                                                                              \
    } while (0)
#define NO_FLUSH() ((void)0)
#define ROW_LOOP(n, STEP) ROW_LOOP_FLUSHED(n, STEP, NO_FLUSH, 1)

CSM_INLINE VT K(combine)(const VT acc[UNROLL]) { return (acc[0] + acc[1]) + (acc[2] + acc[3]); }

CSM_INLINE VT K(load_valid)(const T *p, ptrdiff_t valid, T fill) {
    return valid == LANES ? V(load)(p) : V(loadp)(p, valid, fill);
}

CSM_INLINE void K(store_valid)(T *p, VT v, ptrdiff_t valid) {
    if (valid == LANES) V(store)(p, v);
    else V(storep)(p, v, valid);
}

/*
 * Lanes `lane_step` elements apart: 1 is a plain vector (rows, columns), larger
 * steps gather one element from each of several short rows (so that rows
 * shorter than a vector are still processed a vector at a time). Callers pass
 * a constant 1 where they can, which compiles to the plain load.
 */
CSM_INLINE VT K(load_lanes)(const T *p, ptrdiff_t lane_step, ptrdiff_t valid, T fill) {
    if (lane_step == 1) return K(load_valid)(p, valid, fill);
    VT v = V(splat)(fill);
    for (ptrdiff_t i = 0; i < valid; i++) v[i] = p[i * lane_step];
    return v;
}

CSM_INLINE void K(store_lanes)(T *p, ptrdiff_t lane_step, VT v, ptrdiff_t valid) {
    if (lane_step == 1) {
        K(store_valid)(p, v, valid);
        return;
    }
    for (ptrdiff_t i = 0; i < valid; i++) p[i * lane_step] = v[i];
}

/* x, with the entries whose weight b is 0 read as -inf (they add nothing). */
CSM_INLINE VT K(load_weighted)(const T *x, const T *b, ptrdiff_t lane_step, ptrdiff_t valid) {
    VT v = K(load_lanes)(x, lane_step, valid, -(T)INFINITY);
    if (b) v = V(select)(K(load_lanes)(b, lane_step, valid, 0) == 0, V(splat)(-(T)INFINITY), v);
    return v;
}

/* The exp of a vector, in the fast form when the slice's results are all normal. */
CSM_INLINE VT K(exp_of)(VT z, int normal) { return normal ? V(exp_normal)(z) : V(exp)(z); }

/* Whether every exp(scale (x - m)) of a slice with this min and max is a normal number. */
CSM_INLINE int K(exps_normal)(T min, T max, T scale) {
    return (min - max) * scale >= EXP_NORMAL_MIN;
}

/*
 * The form of a slice's exps, a constant in each inlined copy of the sums:
 * FORM_NORMAL when they are all normal numbers (the fast exp), FORM_UNIT when
 * scale is 1 (the offset exps of K(origin), or Fast2Sum without the product
 * where there is no fused multiply-add). BY_FORM(form, CALL) expands CALL(f)
 * with f the constant equal to form.
 */
#define FORM_NORMAL 1
#define FORM_UNIT 2
#define BY_FORM(form, CALL)                                                            \
    do {                                                                               \
        switch (form) {                                                                \
        case 0: CALL(0); break;                                                        \
        case FORM_NORMAL: CALL(FORM_NORMAL); break;                                    \
        case FORM_UNIT: CALL(FORM_UNIT); break;                                        \
        default: CALL(FORM_NORMAL | FORM_UNIT); break;                                 \
        }                                                                              \
    } while (0)
/* BY_FORM expanding CALL(f, z), z the constant 1 in the FORM_UNIT forms where
 * zero_base holds (no lane keeps its max: exp_from's x - base is x - 0, left out) */
#define BY_FORM_AND_BASE(form, zero_base, CALL)                                        \
    do {                                                                               \
        switch (form) {                                                                \
        case 0: CALL(0, 0); break;                                                     \
        case FORM_NORMAL: CALL(FORM_NORMAL, 0); break;                                 \
        case FORM_UNIT:                                                                \
            if (zero_base) CALL(FORM_UNIT, 1);                                         \
            else CALL(FORM_UNIT, 0);                                                   \
            break;                                                                     \
        default:                                                                       \
            if (zero_base) CALL(FORM_NORMAL | FORM_UNIT, 1);                           \
            else CALL(FORM_NORMAL | FORM_UNIT, 0);                                     \
            break;                                                                     \
        }                                                                              \
    } while (0)

/*
 * The exps are taken relative to a shift at or just above the max m: m rounded
 * up to a multiple of the ulp of every x whose exp matters (those within
 * range = SHIFT_RANGE / scale of m). x - shift then rounds with an error that
 * three operations find exactly (Fast2Sum, exact here whichever of x and shift
 * is larger, as shift is a multiple of x's ulp), where TwoSum would take six.
 * Rounding x - m alone costs exp up to 64 ulp as |x - m| nears 100 (half an ulp
 * of x - m, 2^-18 there, is a relative error of the exp): SciPy and PyTorch
 * have that error, exp(hi + lo) does not. (shift - m) scale stays below 2^-12.
 * Where |m| >= 2 range, x - m is exact for every x that matters (Sterbenz), and
 * the shift is m itself; so it is for lanes whose max is not finite.
 */
#define SHIFT_RANGE ((T)(sizeof(T) == sizeof(float) ? 128 : 1024))
/* The shift is a multiple of 4 ulp of the binade of |m| + range: shift / grid
 * then stays below 2^(mantissa bits - 1), where the rounding trick works. */
#define GRID_ULPS ((T)(sizeof(T) == sizeof(float) ? 0x1p-21 : 0x1p-50))
#define ROUNDER ((T)(sizeof(T) == sizeof(float) ? 0x1.8p23 : 0x1.8p52))

CSM_INLINE T K(shift_range)(T scale) { return scale > (T)1e-20 ? SHIFT_RANGE / scale : (T)1e22; }

/* lanes whose max is not finite or at least 2 range in magnitude: x - m is exact
 * there for every x that matters, or the slice's result does not need it */
CSM_INLINE VI K(keeps_max)(VT m, T scale) {
    return ~(m - m == 0) | (V(select)(m < 0, -m, m) >= 2 * K(shift_range)(scale));
}

CSM_INLINE VT K(exact_shift)(VT m, T scale) {
    const T range = K(shift_range)(scale);
    const VI exponent_bits = (VI)V(splat)((T)INFINITY);
    VT magnitude = V(select)(m < 0, -m, m), bound = magnitude + range;
    VT grid = (VT)((VI)bound & exponent_bits) * GRID_ULPS; /* a power of 2 */
    VT q = m / grid;                                       /* exact */
    VT q_up = (q + ROUNDER) - ROUNDER;                     /* q to an integer, */
    q_up = V(select)(q_up < q, q_up + 1, q_up);            /* upwards */
    VT shift = q_up * grid;
    return V(select)(~(shift - shift == 0) | K(keeps_max)(m, scale), m, shift);
}

/*
 * Where a slice's exps are taken from. With scale 1 (FORM_UNIT) there is a
 * cheaper way than Fast2Sum: exp(x - j ln2), j = round(m / ln2), reduces x
 * itself (csm_exp_offset_*), so no x - m is ever rounded, at no cost over a
 * plain exp (x - m costs one operation more). Lanes that keep their max
 * (keeps_max) take exp((x - m) - 0 ln2) instead, base = m: the same bits as
 * Fast2Sum gives there (its error term is 0). Rows pass base as the constant 0
 * and take such a max by Fast2Sum (with a product by 1), so that base costs
 * them nothing. (The max's own exp is no longer exp of nearly 0, which is
 * exact: softmax's mean error grows by 0.03 to 0.05 ulp, its largest stay at
 * 3.0 to 3.3 ulp over millions of randn rows, measured.)
 */
typedef struct {
    VT shift;   /* exact_shift(m), for the Fast2Sum forms */
    VT base, c; /* FORM_UNIT: exp(x - base - j ln2), c = EXP_SHIFTER - j */
} K(origin);

/* The offset exps want fused multiply-adds: without them (x86-64 baseline) their
 * reduction rounds twice more, and FORM_UNIT is Fast2Sum without the product
 * (softmax's largest error 3.3 ulp there instead of 3.7, measured). */
#if defined(__FMA__) || defined(__AVX512F__) || defined(__ARM_FEATURE_FMA)
#define OFFSET_EXPS 1
#else
#define OFFSET_EXPS 0
#endif

#define EXP_SHIFTER CSM_CAT(CSM_EXP_SHIFTER_, SUF)
#define LN2 0.693147180559945309417

CSM_INLINE K(origin) K(origin_of)(VT m, T scale) {
    VI keep = K(keeps_max)(m, 1);
    VT j = (m * (T)(1 / LN2) + EXP_SHIFTER) - EXP_SHIFTER;
    return (K(origin)){K(exact_shift)(m, scale), V(select)(keep, m, V(splat)(0)),
                       EXP_SHIFTER - V(select)(keep, V(splat)(0), j)};
}

/* Lane i's exps are exp(scale (x - shift)) with shift = base + j ln2 (j = 0 in
 * the Fast2Sum forms). */
typedef struct {
    double base, j;
} K(shift);

CSM_INLINE K(shift) K(origin_shift)(K(origin) o, int i, int unit) {
    if (!unit || !OFFSET_EXPS) return (K(shift)){o.shift[i], 0};
    return (K(shift)){o.base[i], (double)(EXP_SHIFTER - o.c[i])};
}

/* shift - m to a few ulp of double: j ln2_hi is exact (fdlibm's split) and so is
 * j ln2_hi + (base - m) (Sterbenz, or j = 0) */
CSM_INLINE double K(shift_gap)(K(shift) shift, T m) {
    const double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
    return (shift.j * ln2_hi + (shift.base - m)) + shift.j * ln2_lo;
}

/* shift_gap of lane i of o (exps in the form's shift) to that lane's max m */
CSM_INLINE double K(lane_gap)(K(origin) o, int i, int form, T m) {
    return K(shift_gap)(K(origin_shift)(o, i, form & FORM_UNIT), m);
}

/* exp(scale (shift - m)), the factor from exps relative to shift to exps relative to m */
CSM_INLINE double K(shift_weight)(K(shift) shift, T m, T scale) {
    if (shift.j == 0 && shift.base == m) return 1;
    return exp(K(shift_gap)(shift, m) * scale);
}

/* The lanes of slices with these mins whose exps are all normal numbers. */
CSM_INLINE VI K(origin_normal)(K(origin) o, VT min, T scale, int unit) {
    VT shift = unit && OFFSET_EXPS ? o.base + (EXP_SHIFTER - o.c) * (T)LN2 : o.shift;
    return (min - shift) * scale >= EXP_NORMAL_MIN;
}

/* The exp form of a row (or chunk) with this min and origin (splat). */
CSM_INLINE int K(exp_form)(T min, K(origin) o, T scale) {
    const int unit = scale == 1 && (o.base[0] == 0 || !OFFSET_EXPS);
    const int normal = K(origin_normal)(o, V(splat)(min), scale, unit)[0];
    return (normal ? FORM_NORMAL : 0) | (unit ? FORM_UNIT : 0);
}

/* scale (x - shift) as hi + lo: the rounded value and the rounding error of
 * x - shift times scale (with scale == 1, a constant in each inlined copy, no
 * product). */
typedef struct {
    VT hi, lo;
} K(pair); /* a value carried as hi + lo */

CSM_INLINE K(pair) K(shifted)(VT x, VT shift, VT scale, int unit_scale) {
    VT d = x - shift;
    VT error = x - (d + shift);
    if (unit_scale) return (K(pair)){d, error};
    VT lo = error * scale;
    CSM_OPAQUE(lo); /* contracted into the exp's r + lo in one exp form only, measured */
    return (K(pair)){d * scale, lo};
}

/* exp(z.hi + z.lo), in the fast form when the slice's results are all normal */
CSM_INLINE VT K(exp_pair)(K(pair) z, int normal) {
    return normal ? V(exp_normal_lo)(z.hi, z.lo) : V(exp_lo)(z.hi, z.lo);
}

/* exp(scale (x - shift)), shift as o gives it for the form */
CSM_INLINE VT K(exp_from)(VT x, K(origin) o, VT scale, int form) {
    if (!(form & FORM_UNIT) || !OFFSET_EXPS)
        return K(exp_pair)(K(shifted)(x, o.shift, scale, form & FORM_UNIT), form & FORM_NORMAL);
    x -= o.base;
    return form & FORM_NORMAL ? V(exp_normal_offset)(x, o.c) : V(exp_offset)(x, o.c);
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

/* range_update with the first `valid` lanes of v: the tail's fill (-inf) is
 * kept out of the min, which would otherwise choose the clamping exp form for
 * every row whose length is not a whole number of vectors (1.6x the time). */
CSM_INLINE void K(range_update_valid)(K(range) * r, VT v, ptrdiff_t valid) {
    r->max = V(max)(r->max, v);
    r->min = V(min)(r->min, valid == LANES ? v : V(select)(V(first_lanes)(valid), v,
                                                           V(splat)((T)INFINITY)));
}

/* max and min of a contiguous row (weighted by b if not NULL). */
CSM_INLINE void K(row_range)(const T *x, const T *b, ptrdiff_t n, T *max, T *min) {
    K(range) acc[UNROLL];
    for (int u = 0; u < UNROLL; u++) acc[u] = K(range_init)();
#define RANGE_STEP(i, valid, u)                                                             \
    K(range_update_valid)(&acc[u], K(load_weighted)(x + (i), b ? b + (i) : NULL, 1, valid), \
                          valid)
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

/* softmax: e = exp(scale (x - shift)), stored; sum += e. Lanes `lane_step` apart
 * in both x and y (the short-row path has y's in y_lane_step). The shift as o
 * gives it for the form. */
CSM_INLINE void K(sum_step)(const T *x, ptrdiff_t lane_step, T *y, ptrdiff_t y_lane_step,
                            ptrdiff_t valid, K(origin) o, VT scale, int form, VT *sum) {
    VT e = K(exp_from)(K(load_lanes)(x, lane_step, valid, 0), o, scale, form);
    *sum += valid == LANES ? e : V(select)(V(first_lanes)(valid), e, V(splat)(0));
    K(store_lanes)(y, y_lane_step, e, valid);
}

/* log_softmax and logsumexp: weighted exps split into the max terms (count) and
 * the others (rest). */
CSM_INLINE void K(split_step)(const T *x, const T *b, ptrdiff_t lane_step, ptrdiff_t valid, VT m,
                              K(origin) o, VT scale, int form, VT *rest, VT *count) {
    VT v = K(load_weighted)(x, b, lane_step, valid);
    VT w = b ? K(load_lanes)(b, lane_step, valid, 0) : V(splat)(1);
    VI in = V(first_lanes)(valid);
    VI at_max = (v == m) & in;
    VT e = K(exp_from)(v, o, scale, form) * w;
    *rest += V(select)(in & ~at_max, e, V(splat)(0));
    *count += V(select)(at_max, w, V(splat)(0));
}

/* split_step of a row without weights, the max terms counted as lanes: with a
 * vector of counts beside each of the rest's UNROLL accumulators, AVX2's 16
 * registers ran out and the accumulators went through the stack (a fifth of
 * logsumexp's time, perf). The same sums: the counts are whole numbers. */
CSM_INLINE void K(split_count_step)(const T *x, ptrdiff_t valid, VT m, K(origin) o, VT scale,
                                    int form, VT *rest, ptrdiff_t *hits) {
    VT v = K(load_valid)(x, valid, -(T)INFINITY);
    VI in = V(first_lanes)(valid);
    VI at_max = (v == m) & in;
    *rest += V(select)(in & ~at_max, K(exp_from)(v, o, scale, form), V(splat)(0));
    *hits += V(count)(at_max);
}

/* Row blocks for the sums: ROW_BLOCK elements each. */
#define ROW_BLOCK (UNROLL * SUM_BLOCK * LANES)

/*
 * Sums of a contiguous row for softmax: pass 2, in one exp form. A running sum
 * in T would round at up to half an ulp of the whole sum per term (the terms
 * near the max are close to 1), an error of every output of a softmax: the
 * accumulators go to double as two pairs after every two terms each (about
 * 2.7 ulp max error of the softmax, where flushing after every term gives 2.2
 * for 15% more time and after every four 3.3). They restart from -0, which the
 * first add folds away.
 */
CSM_INLINE void K(clear)(VT acc[UNROLL]) {
    for (int u = 0; u < UNROLL; u++) acc[u] = V(splat)(-(T)0);
}

/* total + acc, the accumulators added in T as two pairs; clears them */
CSM_INLINE K_WIDE K(flush_pairs)(K_WIDE total, VT acc[UNROLL]) {
    total = V(wide_add)(V(wide_add)(total, acc[0] + acc[1]), acc[2] + acc[3]);
    K(clear)(acc);
    return total;
}

#define SUM_FLUSH_EVERY 2

CSM_INLINE double K(row_sum)(const T *x, T *y, ptrdiff_t n, K(origin) o, T scale, int form) {
    VT vscale = V(splat)(scale), acc[UNROLL];
    if (form & FORM_UNIT) o.base = V(splat)(0); /* a constant: x - 0 folds away */
    K_WIDE total = V(wide_zero)();
    K(clear)(acc);
#define SUM_STEP(i, valid, u) \
    K(sum_step)(x + (i), 1, y + (i), 1, valid, o, vscale, form, &acc[u])
#define SUM_FLUSH() (total = K(flush_pairs)(total, acc))
    ROW_LOOP_FLUSHED(n, SUM_STEP, SUM_FLUSH, SUM_FLUSH_EVERY);
#undef SUM_STEP
#undef SUM_FLUSH
    return V(hsum_wide)(total);
}

/* rest of the exps relative to shift, brought back to m in double */
CSM_INLINE double K(rest_from_shift)(double rest, T m, K(shift) shift, T scale) {
    return rest * K(shift_weight)(shift, m, scale);
}

/* The split sums of a row, with the exps taken relative to shift and the rest
 * returned relative to m. */
CSM_INLINE void K(row_split)(const T *x, const T *b, ptrdiff_t n, T m, K(origin) o, T scale,
                             int form, double *rest, double *count) {
    VT vm = V(splat)(m), vscale = V(splat)(scale);
    if (form & FORM_UNIT) o.base = V(splat)(0);
    VT rest_acc[UNROLL], count_acc[UNROLL];
    *rest = *count = 0;
    for (ptrdiff_t start = 0; start < n; start += ROW_BLOCK) {
        const T *xb = x + start, *bb = b ? b + start : NULL;
        const ptrdiff_t len = n - start < ROW_BLOCK ? n - start : ROW_BLOCK;
        for (int u = 0; u < UNROLL; u++) rest_acc[u] = count_acc[u] = V(splat)(0);
        if (b) {
#define SPLIT_STEP(i, valid, u)                                                              \
    K(split_step)(xb + (i), bb + (i), 1, valid, vm, o, vscale, form, &rest_acc[u], &count_acc[u])
            ROW_LOOP(len, SPLIT_STEP);
#undef SPLIT_STEP
            *count += V(hsum)(K(combine)(count_acc));
        } else {
            ptrdiff_t hits = 0;
#define SPLIT_COUNT_STEP(i, valid, u) \
    K(split_count_step)(xb + (i), valid, vm, o, vscale, form, &rest_acc[u], &hits)
            ROW_LOOP(len, SPLIT_COUNT_STEP);
#undef SPLIT_COUNT_STEP
            *count += (double)hits;
        }
        *rest += V(hsum)(K(combine)(rest_acc));
    }
    *rest = K(rest_from_shift)(*rest, m, K(origin_shift)(o, 0, form & FORM_UNIT), scale);
}

/* log(count + rest), exact when rest is tiny next to count */
CSM_INLINE double K(log_norm)(double rest, double count) {
    return count == 1 ? log1p(rest) : log1p(rest / count) + log(count);
}

/* ---------- elementwise exp (exposed for testing its accuracy) ---------- */

static void K(exp_array)(const T *x, T *y, ptrdiff_t n) {
    ptrdiff_t i;
    for (i = 0; i + LANES <= n; i += LANES) V(store)(y + i, V(exp)(V(load)(x + i)));
    if (i < n) V(storep)(y + i, V(exp)(V(loadp)(x + i, n - i, 0)), n - i);
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

/*
 * 1 / sum as a pair of T: float's hi + lo holds it to double precision, so that
 * e * hi + e * lo rounds once, where e * (float)(1 / sum) would round twice.
 */
CSM_INLINE K(pair) K(reciprocal)(double sum) {
    T hi = (T)(1 / sum);
    return (K(pair)){V(splat)(hi), V(splat)((T)(1 / sum - hi))};
}

/* Pass 3: y = e * factor (softmax, e already in y) or scale (x - m) - log_norm (log). */
CSM_INLINE void K(finish_step)(const T *x, ptrdiff_t lane_step, T *y, ptrdiff_t y_lane_step,
                               ptrdiff_t valid, VT m, VT scale, K(pair) factor, VT log_norm,
                               int log_mode) {
    VT out;
    if (log_mode) {
        out = (K(load_lanes)(x, lane_step, valid, 0) - m) * scale - log_norm;
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
 * (norm_dense_group): the same bits in 0.5x (softmax) to 0.7x (log) the time.
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
        for (ptrdiff_t i = 0; i < LANES && v * LANES + i < width; i++)
            if (!normal[i]) return unit;
    }
    return FORM_NORMAL | unit;
}

/* shift_weight of each of `width` slices with these origins and maxes, a vector
 * of doubles at a time: a libm exp per slice costs short rows a sixth of their
 * time (csm_exp_f64 is within 1 ulp of double; a weight of 1 stays exact) */
CSM_INLINE void K(slices_weights)(const K(origin) origins[],
                                  const VT maxes[], ptrdiff_t width, T scale,
                                  int unit, double weights[]) {
    for (ptrdiff_t s0 = 0; s0 < width; s0 += csm_lanes_f64) {
        csm_vf64 gap = csm_splat_f64(0);
        for (ptrdiff_t s = s0; s < width && s < s0 + csm_lanes_f64; s++) {
            K(shift) shift = K(origin_shift)(origins[s / LANES], s % LANES, unit);
            T m = maxes[s / LANES][s % LANES];
            if (shift.j != 0 || shift.base != m) gap[s - s0] = K(shift_gap)(shift, m) * scale;
        }
        csm_vf64 w = csm_exp_f64(gap);
        for (ptrdiff_t s = s0; s < width && s < s0 + csm_lanes_f64; s++) weights[s] = w[s - s0];
    }
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
    /* zero_base (BY_FORM_AND_BASE): x - 0 left out, 4% of the time of columns */
#define ORIGIN(v) \
    (zero_base ? (K(origin)){origins[v].shift, V(splat)(0), origins[v].c} : origins[v])
    /* two rows at a time: their terms are added in T, then in double */
    for (ptrdiff_t j0 = 0; j0 < n; j0 += 2) {
        const ptrdiff_t j1 = n - j0 < 2 ? n : j0 + 2;
#define SUMS_STEP(v, valid)                                                                    \
    do {                                                                                       \
        VT total = V(splat)(-(T)0), count = V(splat)(-(T)0);                                   \
        for (ptrdiff_t j = j0; j < j1; j++) {                                                  \
            const T *xv = x + j * x_step + (v) * LANES * x_lane;                               \
            if (log_mode)                                                                      \
                K(split_step)(xv, b ? b + j * x_step + (v) * LANES * x_lane : NULL, x_lane,    \
                              valid, maxes[v], ORIGIN(v), vscale, form, &total, &count);     \
            else                                                                               \
                K(sum_step)(xv, x_lane, y + j * y_step + (v) * LANES * y_lane, y_lane, valid,  \
                            ORIGIN(v), vscale, form, &total);                                  \
        }                                                                                      \
        totals[v] = V(wide_add)(totals[v], total);                                             \
        if (log_mode) counts[v] = V(wide_add)(counts[v], count);                               \
    } while (0)
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
 * slice's max (slices_weights): a vector of doubles at a time, where libm's
 * log1p per slice cost short rows half their time (measured). Counts are
 * positive and mostly 1.
 */
CSM_INLINE void K(slices_log_norms)(const K_WIDE totals[], const K_WIDE counts[],
                                    const VT maxes[], const K(origin) origins[],
                                    ptrdiff_t width, T scale, int form, double norms[]) {
    double weights[MAX_SLICES];
    K(slices_weights)(origins, maxes, width, scale, form & FORM_UNIT, weights);
    for (ptrdiff_t s0 = 0; s0 < width; s0 += csm_lanes_f64) {
        csm_vf64 rest = csm_splat_f64(0), count = csm_splat_f64(1);
        for (ptrdiff_t s = s0; s < width && s < s0 + csm_lanes_f64; s++) {
            rest[s - s0] = V(wide_lane)(totals[s / LANES], s % LANES) * weights[s];
            count[s - s0] = V(wide_lane)(counts[s / LANES], s % LANES);
        }
        csm_vf64 norm = csm_log1p_f64(rest / count);
        if (csm_any_f64(count != 1)) norm += csm_log1p_f64(count - 1);
        for (ptrdiff_t s = s0; s < width && s < s0 + csm_lanes_f64; s++) norms[s] = norm[s - s0];
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
    double norms[MAX_SLICES];
    K(slices_log_norms)(totals, counts, maxes, origins, width, scale, form, norms);
    for (ptrdiff_t s = 0; s < width; s++) log_norm[s / LANES][s % LANES] = (T)norms[s];
}

CSM_INLINE void K(norm_slices)(const T *x, ptrdiff_t x_step, ptrdiff_t x_lane, T *y,
                               ptrdiff_t y_step, ptrdiff_t y_lane, ptrdiff_t n, ptrdiff_t width,
                               T scale, int flags) {
    const int log_mode = flags & CSM_LOG;
    const ptrdiff_t vectors = (width + LANES - 1) / LANES;
    K(range) ranges[MAX_VECTORS];
    K(slices_range)(x, x_step, x_lane, NULL, n, width, ranges);
    /* decided before any write: y may be x */
    int filled[MAX_SLICES];
    T fill[MAX_SLICES];
    for (ptrdiff_t s = 0; s < width; s++)
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
    for (ptrdiff_t s = 0; s < width; s++)
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
    const ptrdiff_t size = K(chunk_size)(n), chunks = (n + size - 1) / size;
    ptrdiff_t k;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (k = 0; k < chunks; k++) {
        ptrdiff_t start = k * size, len = n - start < size ? n - start : size;
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
        ptrdiff_t start = k * size, len = n - start < size ? n - start : size;
        const T *xk = x + start;
        T *yk = y + start;
        K(pair) factor = K(reciprocal)(log_mode ? 1 : total / weights[k]);
#define FINISH_STEP(i, valid, u) \
    K(finish_step)(xk + (i), 1, yk + (i), 1, valid, vm, vscale, factor, vshift, log_mode)
        ROW_LOOP(len, FINISH_STEP);
#undef FINISH_STEP
    }
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

static void K(lse_cols)(const T *x, ptrdiff_t x_step, const T *b, T *result, T *sign,
                        ptrdiff_t n, ptrdiff_t width, int flags) {
    for (ptrdiff_t c = 0; c < width; c += MAX_SLICES)
        K(lse_slices)(x + c, x_step, 1, b ? b + c : NULL, result + c, sign ? sign + c : NULL, n,
                      width - c < MAX_SLICES ? width - c : MAX_SLICES, flags);
}
