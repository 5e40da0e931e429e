/*
 * The passes every normaliser and softmax loss is built from, template:
 * included (by kernels_instance.h, before the families' *_impl.h) once per
 * element type with
 *   T   element type (float, double)      SUF  name suffix (f32, f64)
 *   VT  vector of T                        VI   integer vector of the same lane width
 * All names are static to the including ISA translation unit; kernels_isa.h puts
 * the kernels in that ISA's table.
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
/* the power of 2 whose exponent field is twice the bias: less 2^e's field, 2^-e's */
#define TWO_BIAS_POWER ((T)(sizeof(T) == sizeof(float) ? 0x1p127 : 0x1p1023))

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
    VI power = (VI)bound & exponent_bits;                  /* 2^e, bound's binade */
    VT grid = (VT)power * GRID_ULPS;                       /* a power of 2 */
    /* m / grid as a product by the power of 2 1 / grid (2^-e from the exponent
     * bits; e is far from both ends of the range wherever the shift is used):
     * the same rounded value, without a division's latency on every row */
    VT q = m * ((VT)((VI)V(splat)(TWO_BIAS_POWER) - power) * (1 / GRID_ULPS));
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

/* v's lanes as doubles (exact) */
CSM_INLINE K_WIDE K(widened)(VT v) { return V(wide_add)(V(wide_zero)(), v); }

/* shift - m to a few ulp of double: j ln2_hi is exact (fdlibm's split) and so is
 * j ln2_hi + (base - m) (Sterbenz, or j = 0) */
#define GAP_LN2_HI 6.93147180369123816490e-01
#define GAP_LN2_LO 1.90821492927058770002e-10
CSM_INLINE double K(shift_gap)(K(shift) shift, T m) {
    return (shift.j * GAP_LN2_HI + (shift.base - m)) + shift.j * GAP_LN2_LO;
}

/* shift_gap of a vector of doubles' lanes, part p (K_WIDE's) of the lanes of o
 * in the form's shift and of m; 0 where the shift is the max (its exp is 1) */
CSM_INLINE csm_vf64 K(shift_gaps)(K(origin) o, VT m, int unit, int p) {
    const int offset = unit && OFFSET_EXPS;
    csm_vf64 base = V(wide_part)(K(widened)(offset ? o.base : o.shift), p);
    csm_vf64 j = V(wide_part)(K(widened)(offset ? EXP_SHIFTER - o.c : V(splat)(0)), p);
    csm_vf64 max = V(wide_part)(K(widened)(m), p);
    csm_vf64 gap = (j * GAP_LN2_HI + (base - max)) + j * GAP_LN2_LO;
    return csm_select_f64((j != 0) | (base != max), gap, csm_splat_f64(0));
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

/* x - shift as hi + lo: the rounded difference and its rounding error (Fast2Sum) */
typedef struct {
    VT hi, lo;
} K(pair); /* a value carried as hi + lo */

CSM_INLINE K(pair) K(shifted)(VT x, VT shift) {
    VT d = x - shift;
    return (K(pair)){d, x - (d + shift)};
}

/* exp(scale (x - shift)), shift as o gives it for the form, in the fast form
 * when the slice's results are all normal */
CSM_INLINE VT K(exp_from)(VT x, K(origin) o, VT scale, int form) {
    const int normal = form & FORM_NORMAL;
    if ((form & FORM_UNIT) && OFFSET_EXPS) {
        x -= o.base;
        return normal ? V(exp_normal_offset)(x, o.c) : V(exp_offset)(x, o.c);
    }
    K(pair) z = K(shifted)(x, o.shift);
    if (form & FORM_UNIT) return normal ? V(exp_normal_lo)(z.hi, z.lo) : V(exp_lo)(z.hi, z.lo);
    VT lo = z.lo * scale;
    CSM_OPAQUE(lo); /* contracted into the exp's r + lo in one exp form only, measured */
    return normal ? V(exp_normal_scaled)(z.hi, scale, lo) : V(exp_scaled)(z.hi, scale, lo);
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
 * every row whose length is not a whole number of vectors (a slower form). */
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
 * registers ran out and the accumulators went through the stack. The same
 * sums: the counts are whole numbers. */
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
 * at a higher cost and after every four 3.3). They restart from -0, which the
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
