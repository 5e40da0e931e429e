/*
 * Segments-and-prefixes kernels, a template over T / SUF (segments_isa.h
 * instantiates float and double). Three parts:
 *
 * logcumsumexp: y[j] = log(sum over i <= j of exp(x[i])) along n elements,
 * for many independent lanes at once (exclusive: i < j, y[0] = -inf).
 * Layouts: any. Lanes side by side in memory (lane_step 1: the inner axis of
 * a non-last reduction) are loaded a vector at a time, blocks of
 * CSM_LCSE_BLOCK lanes walking the n elements together; lanes apart in memory
 * (rows) go a vector of rows at a time through a transposed tile of
 * CSM_LCSE_TILE elements. Arithmetic in float64 for both types: the state is
 * the running max m and t = sum of exp(x[i] - m) over the prefix less the
 * max's own term 1, so that y = m + log1p(t) is exact near 0. A new element x
 * gives e = exp(-|x - m|) (1 where x == m: equal infinities) and either
 * t += e (x <= m) or t = (t + 1) e, m = x (x > m): one exp and one log1p per
 * element. -inf prefixes stay -inf (m = -inf, t finite), +inf dominates, nan
 * propagates, as torch.logcumsumexp. Accuracy: float32 results are the
 * float64 value rounded (0.5 ulp plus the float64 error); float64 results a
 * few ulp of the running max. Each lane is computed by the same lane-wise
 * operations whatever its position, so results do not depend on layout or
 * on how the caller splits the lanes over threads.
 *
 * scatter_*: segment softmax by segment id (an unsorted index), three passes
 * in position order with per-segment accumulators (max; float64 sum of exps;
 * write). The exps carry the rounding error of x - max (exp_of_diff), so
 * float32 results stay within a few ulp, as the row kernels'.
 *
 * segment_short: segments of fewer than CSM_SHORT_SEGMENT positions, many per
 * call (a kernel call per segment would cost more than its arithmetic): the
 * same steps as the row kernels (exps relative to the max, float64 sums).
 */
#ifndef CSM_LCSE_BLOCK
#define CSM_LCSE_BLOCK 64
#endif
#ifndef CSM_LCSE_TILE
#define CSM_LCSE_TILE 32
#endif
#ifndef CSM_LCSE_AHEAD
#define CSM_LCSE_AHEAD 4
#endif

/* a vector's worth of lanes in T (half a vector of float, a whole one of double) */
typedef T CSM_CAT(lcse_lanes_, SUF) __attribute__((vector_size(csm_lanes_f64 * sizeof(T))));

/* lanes [0, count) as float64, `lane_step` apart in x: one vector load and
 * conversion where they are side by side, else through a small array (lanes
 * assembled in a vector one by one cost a store-forwarding stall each) */
CSM_INLINE csm_vf64 CSM_CAT(lcse_load_, SUF)(const T *x, ptrdiff_t lane_step, ptrdiff_t count) {
    CSM_CAT(lcse_lanes_, SUF) v;
    if (lane_step == 1 && count == csm_lanes_f64) {
        memcpy(&v, x, sizeof v);
    } else {
        T lanes[csm_lanes_f64] = {0};
        for (ptrdiff_t l = 0; l < count; l++) lanes[l] = x[l * lane_step];
        memcpy(&v, lanes, sizeof v);
    }
    return __builtin_convertvector(v, csm_vf64);
}

CSM_INLINE void CSM_CAT(lcse_store_, SUF)(T *y, ptrdiff_t lane_step, csm_vf64 value,
                                          ptrdiff_t count) {
    CSM_CAT(lcse_lanes_, SUF) v = __builtin_convertvector(value, CSM_CAT(lcse_lanes_, SUF));
    if (lane_step == 1 && count == csm_lanes_f64) {
        memcpy(y, &v, sizeof v);
        return;
    }
    T lanes[csm_lanes_f64];
    memcpy(lanes, &v, sizeof v);
    for (ptrdiff_t l = 0; l < count; l++) y[l * lane_step] = lanes[l];
}

/* one element into the state (m, t) */
CSM_INLINE void CSM_CAT(lcse_update_, SUF)(csm_vf64 x, csm_vf64 *m, csm_vf64 *t) {
    csm_vf64 diff = x - *m;
    csm_vi64 above = x > *m;
    csm_vf64 e = csm_exp_f64(csm_select_f64(diff > 0, -diff, diff)); /* nan stays nan */
    e = csm_select_f64(x == *m, csm_splat_f64(1), e);
    *t = csm_select_f64(above, (*t + 1) * e, *t + e);
    *m = csm_select_f64(above, x, *m);
}

CSM_INLINE csm_vf64 CSM_CAT(lcse_value_, SUF)(csm_vf64 m, csm_vf64 t) {
    return m + csm_log1p_f64(t);
}

/* one element into the state; returns the output for it (inclusive or exclusive) */
CSM_INLINE csm_vf64 CSM_CAT(lcse_step_, SUF)(csm_vf64 v, csm_vf64 *m, csm_vf64 *t, int exclusive) {
    csm_vf64 before = CSM_CAT(lcse_value_, SUF)(*m, *t);
    CSM_CAT(lcse_update_, SUF)(v, m, t);
    return exclusive ? before : CSM_CAT(lcse_value_, SUF)(*m, *t);
}

/* Lanes side by side in memory (x_lane_step 1): blocks of CSM_LCSE_BLOCK lanes,
 * a vector at a time, element after element. */
static void CSM_CAT(lcse_side_by_side_, SUF)(const T *x, ptrdiff_t x_step, T *y,
                                             ptrdiff_t y_lane_step, ptrdiff_t y_step,
                                             ptrdiff_t n, ptrdiff_t lanes, int exclusive) {
    enum { L = csm_lanes_f64, GROUPS = CSM_LCSE_BLOCK / csm_lanes_f64 };
    csm_vf64 m[GROUPS], t[GROUPS];
    for (ptrdiff_t first = 0; first < lanes; first += CSM_LCSE_BLOCK) {
        ptrdiff_t block = lanes - first < CSM_LCSE_BLOCK ? lanes - first : CSM_LCSE_BLOCK;
        ptrdiff_t groups = (block + L - 1) / L;
        const T *xb = x + first;
        T *yb = y + first * y_lane_step;
        for (ptrdiff_t g = 0; g < groups; g++) {
            m[g] = csm_splat_f64(-INFINITY);
            t[g] = csm_splat_f64(0);
        }
        for (ptrdiff_t j = 0; j < n; j++) {
            /* element j + CSM_LCSE_AHEAD of the block, whose line the hardware
             * prefetcher would not fetch (rows a page or more apart) */
            if (j + CSM_LCSE_AHEAD < n)
                for (ptrdiff_t l = 0; l < block; l += 64 / (ptrdiff_t)sizeof(T))
                    __builtin_prefetch(xb + (j + CSM_LCSE_AHEAD) * x_step + l);
            for (ptrdiff_t g = 0; g < groups; g++) {
                ptrdiff_t count = block - g * L < L ? block - g * L : L;
                csm_vf64 v = CSM_CAT(lcse_load_, SUF)(xb + g * L + j * x_step, 1, count);
                CSM_CAT(lcse_store_, SUF)(yb + g * L * y_lane_step + j * y_step, y_lane_step,
                                          CSM_CAT(lcse_step_, SUF)(v, &m[g], &t[g], exclusive),
                                          count);
            }
        }
    }
}

/* Lanes apart in memory (rows): a vector of lanes at a time, CSM_LCSE_TILE
 * elements of each copied into a transposed tile, scanned there, and the
 * results copied back: each lane is read and written along its own stride. */
static void CSM_CAT(lcse_tiled_, SUF)(const T *x, ptrdiff_t x_lane_step, ptrdiff_t x_step,
                                      T *y, ptrdiff_t y_lane_step, ptrdiff_t y_step,
                                      ptrdiff_t n, ptrdiff_t lanes, int exclusive) {
    enum { L = csm_lanes_f64 };
    csm_vf64 in[CSM_LCSE_TILE], out[CSM_LCSE_TILE];
    for (ptrdiff_t first = 0; first < lanes; first += L) {
        ptrdiff_t count = lanes - first < L ? lanes - first : L;
        csm_vf64 m = csm_splat_f64(-INFINITY), t = csm_splat_f64(0);
        for (ptrdiff_t j0 = 0; j0 < n; j0 += CSM_LCSE_TILE) {
            ptrdiff_t chunk = n - j0 < CSM_LCSE_TILE ? n - j0 : CSM_LCSE_TILE;
            if (count < L) memset(in, 0, sizeof in);
            for (ptrdiff_t l = 0; l < count; l++) {
                const T *src = x + (first + l) * x_lane_step + j0 * x_step;
                for (ptrdiff_t k = 0; k < chunk; k++) in[k][l] = (double)src[k * x_step];
            }
            for (ptrdiff_t k = 0; k < chunk; k++)
                out[k] = CSM_CAT(lcse_step_, SUF)(in[k], &m, &t, exclusive);
            for (ptrdiff_t l = 0; l < count; l++) {
                T *dst = y + (first + l) * y_lane_step + j0 * y_step;
                for (ptrdiff_t k = 0; k < chunk; k++) dst[k * y_step] = (T)out[k][l];
            }
        }
    }
}

void CSM_EXPORT(CSM_CAT(logcumsumexp_, SUF))(const T *x, ptrdiff_t x_lane_step, ptrdiff_t x_step,
                                        T *y, ptrdiff_t y_lane_step, ptrdiff_t y_step,
                                        ptrdiff_t n, ptrdiff_t lanes, int exclusive) {
    if (x_lane_step == 1)
        CSM_CAT(lcse_side_by_side_, SUF)(x, x_step, y, y_lane_step, y_step, n, lanes, exclusive);
    else
        CSM_CAT(lcse_tiled_, SUF)(x, x_lane_step, x_step, y, y_lane_step, y_step, n, lanes,
                                  exclusive);
}

/*
 * Segment softmax by segment id (an unsorted index): three passes in position
 * order over a (positions, inner) slice with per-segment accumulators, so any
 * order of ids works with memory O(segments x inner). peak: the segment max;
 * total: the sum of exp(x - peak) in float64; then the write. Position order
 * fixes the summation order: results do not depend on the caller's threads.
 */
void CSM_EXPORT(CSM_CAT(scatter_max_, SUF))(const T *x, ptrdiff_t step, ptrdiff_t positions,
                                       ptrdiff_t inner, const int64_t *index, T *peak) {
    if (inner == 1) { /* one head: no inner loop */
        for (ptrdiff_t i = 0; i < positions; i++) {
            T v = x[i * step], *p = peak + index[i];
            if (v > *p) *p = v;
        }
        return;
    }
    for (ptrdiff_t i = 0; i < positions; i++) {
        const T *row = x + i * step;
        T *p = peak + index[i] * inner;
        for (ptrdiff_t h = 0; h < inner; h++)
            if (row[h] > p[h]) p[h] = row[h];
    }
}

/* exp(a - b) lane by lane as exp(d + error) (vmath.h's csm_exp_lo: the low
 * part added in the range reduction), d = a - b rounded and error its
 * rounding error (TwoSum, exact). exp(d) alone carries |d| 2^-24 of relative
 * error into a float32 result (17 ulp at d = -30), where the row kernels keep
 * a few ulp. */
CSM_INLINE VT CSM_CAT(exp_of_diff_, SUF)(VT a, VT b) {
    VT d = a - b, back = d - a, error = (a - (d - back)) + (-b - back);
    return CSM_CAT(csm_exp_lo_, SUF)(d, error);
}

/* v[i] = exp(v[i] - m[i]) (exp_of_diff); 1 where v[i] == m[i] with
 * equal_is_one (equal infinities) */
CSM_INLINE void CSM_CAT(exp_diff_in_place_, SUF)(T *v, const T *m, ptrdiff_t count,
                                                 int equal_is_one) {
    const ptrdiff_t lanes = CSM_CAT(csm_lanes_, SUF);
    for (ptrdiff_t k = 0; k < count; k += lanes) {
        const ptrdiff_t valid = count - k < lanes ? count - k : lanes;
        VT a = valid == lanes ? CSM_CAT(csm_load_, SUF)(v + k)
                              : CSM_CAT(csm_loadp_, SUF)(v + k, valid, 0);
        VT b = valid == lanes ? CSM_CAT(csm_load_, SUF)(m + k)
                              : CSM_CAT(csm_loadp_, SUF)(m + k, valid, 0);
        VT e = CSM_CAT(exp_of_diff_, SUF)(a, b);
        if (equal_is_one) e = CSM_CAT(csm_select_, SUF)(a == b, CSM_CAT(csm_splat_, SUF)(1), e);
        if (valid == lanes) CSM_CAT(csm_store_, SUF)(v + k, e);
        else CSM_CAT(csm_storep_, SUF)(v + k, e, valid);
    }
}

void CSM_EXPORT(CSM_CAT(scatter_exp_sum_, SUF))(const T *x, ptrdiff_t step, ptrdiff_t positions,
                                           ptrdiff_t inner, const int64_t *index,
                                           const T *peak, double *total, T *exps,
                                           int keep_exps, int flags) {
    T peaks[CSM_SCATTER_BLOCK]; /* the peaks of the entries in hand */
    for (ptrdiff_t start = 0; start < positions; start += CSM_SCATTER_BLOCK) {
        ptrdiff_t stop = positions - start < CSM_SCATTER_BLOCK ? positions : start + CSM_SCATTER_BLOCK;
        T *block = keep_exps ? exps + start * inner : exps;
        if (inner == 1) { /* one head: x and the peaks gathered, then vectors */
            for (ptrdiff_t i = start; i < stop; i++) {
                block[i - start] = x[i * step];
                peaks[i - start] = peak[index[i]];
            }
            CSM_CAT(exp_diff_in_place_, SUF)(block, peaks, stop - start,
                                             flags & CSM_SCATTER_EQUAL_IS_ONE);
            for (ptrdiff_t i = start; i < stop; i++) total[index[i]] += block[i - start];
            continue;
        }
        /* several heads: as many positions at a time as their peaks fill the
         * buffer (rows of more heads than that, one at a time against their
         * peaks in place) */
        const ptrdiff_t chunk = inner <= CSM_SCATTER_BLOCK ? CSM_SCATTER_BLOCK / inner : 1;
        for (ptrdiff_t first = start; first < stop; first += chunk) {
            const ptrdiff_t count = stop - first < chunk ? stop - first : chunk;
            T *ec = block + (first - start) * inner; /* may be x itself (y is x) */
            for (ptrdiff_t i = 0; i < count; i++) {
                const T *row = x + (first + i) * step, *p = peak + index[first + i] * inner;
                for (ptrdiff_t h = 0; h < inner; h++) ec[i * inner + h] = row[h];
                if (inner > CSM_SCATTER_BLOCK)
                    CSM_CAT(exp_diff_in_place_, SUF)(ec, p, inner,
                                                     flags & CSM_SCATTER_EQUAL_IS_ONE);
                else
                    for (ptrdiff_t h = 0; h < inner; h++) peaks[i * inner + h] = p[h];
            }
            if (inner <= CSM_SCATTER_BLOCK)
                CSM_CAT(exp_diff_in_place_, SUF)(ec, peaks, count * inner,
                                                 flags & CSM_SCATTER_EQUAL_IS_ONE);
            for (ptrdiff_t i = 0; i < count; i++) {
                double *sum = total + index[first + i] * inner;
                for (ptrdiff_t h = 0; h < inner; h++) sum[h] += ec[i * inner + h];
            }
        }
    }
}

void CSM_EXPORT(CSM_CAT(scatter_write_, SUF))(const T *x, ptrdiff_t step, T *y, ptrdiff_t positions,
                                         ptrdiff_t inner, const int64_t *index, const T *peak,
                                         const double *total, int flags) {
    if (inner == 1 && !(flags & CSM_SCATTER_LOG)) { /* one head, softmax: y holds the exps */
        for (ptrdiff_t i = 0; i < positions; i++) y[i] = (T)(y[i] * total[index[i]]);
        return;
    }
    for (ptrdiff_t i = 0; i < positions; i++) {
        const double *s = total + index[i] * inner;
        T *out = y + i * inner;
        if (flags & CSM_SCATTER_LOG) {
            const T *row = x + i * step, *p = peak + index[i] * inner;
            for (ptrdiff_t h = 0; h < inner; h++) {
                T shifted = row[h] - p[h];
                /* x - max = -inf stays -inf, as the row kernels give it beside a +inf */
                out[h] = shifted == -INFINITY ? shifted : (T)((double)shifted - s[h]);
            }
        } else {
            for (ptrdiff_t h = 0; h < inner; h++) out[h] = (T)(out[h] * s[h]);
        }
    }
}

/*
 * Short segments (fewer than CSM_SHORT_SEGMENT positions), where a kernel
 * call per segment would cost more than its arithmetic: groups of up to
 * CSM_SHORT_GROUP consecutive ones (and CSM_SHORT_CHUNK entries) at a time.
 * softmax and log_softmax take the row kernels' steps: exps relative to the
 * max (the rounding error of x - max carried in, exp_of_diff), summed in
 * float64, then y = e (1 / sum) rounded once (the reciprocal as a pair
 * hi + lo, as the row kernels scale) or (x - max) - log(sum). Each step runs
 * over the whole group before the next, so that the segments' latencies (a
 * max across lanes, a sum, a division) overlap. One head with contiguous positions goes a vector
 * of positions at a time; several heads a vector of heads at a time, position
 * after position. Lanes past a segment's end (or its last head) load -inf
 * for the max, add 0 to the sums and are not stored.
 */
#define SV(op) CSM_CAT(csm_##op##_, SUF) /* simd.h and vmath.h on VT */
#define SK(name) CSM_CAT(name##_, SUF)    /* a function of this template */

/* every lane the max of v's lanes (a tree of permutes; where nan meets a
 * number either may win, and the segment gives nan either way) */
CSM_INLINE VT SK(short_lanes_max)(VT v) {
    for (int width = SV(lanes) / 2; width > 0; width /= 2) {
        __typeof__(((VI){0})[0]) lane[SV(lanes)]; /* built in an array: a constant vector */
        for (int i = 0; i < SV(lanes); i++) lane[i] = i ^ width;
        VI other;
        memcpy(&other, lane, sizeof other);
        v = SV(max)(v, SV(permute)(v, other));
    }
    return v;
}

/* count (1 .. lanes) entries from p; the other lanes -inf */
CSM_INLINE VT SK(short_load)(const T *p, ptrdiff_t count) {
    return count == SV(lanes) ? SV(load)(p) : SV(loadp)(p, count, -INFINITY);
}

/* count (1 .. lanes) lanes of v to p. Without AVX-512 a tail goes out lane by
 * lane: AVX2's masked store is microcoded on AMD, and a load of what it wrote
 * waits for it to retire. */
CSM_INLINE void SK(short_store)(T *p, VT v, ptrdiff_t count) {
#if CSM_VBYTES == 64
    SV(storep)(p, v, count);
#else
    if (count == SV(lanes)) {
        SV(store)(p, v);
        return;
    }
    T lane[SV(lanes)];
    SV(store)(lane, v);
    for (ptrdiff_t i = 0; i < count; i++) p[i] = lane[i];
#endif
}

/* exp(v - peak) (exp_of_diff) in the first `valid` lanes, 0 in the others:
 * the padding's exp(-inf) would underflow, which costs a microcode assist on
 * some CPUs */
CSM_INLINE VT SK(short_exp)(VT v, VT peak, ptrdiff_t valid) {
    VI live = SV(first_lanes)(valid);
    if (valid < SV(lanes)) v = SV(select)(live, v, peak);
    VT e = SK(exp_of_diff)(v, peak);
    return valid < SV(lanes) ? SV(select)(live, e, SV(splat)(0)) : e;
}

/* A segment's (or a vector of heads') max and what finishes it: softmax scales
 * the exps by 1 / sum = hi + lo, log_softmax subtracts log(sum) from x - max. */
typedef struct {
    VT peak, hi, lo, log_sum;
} SK(short_norm);

/* one output vector from e (softmax) or x - max (log_softmax) */
CSM_INLINE VT SK(short_output)(const SK(short_norm) *norm, VT v, int log_output) {
    if (!log_output) return v * norm->hi + v * norm->lo;
    /* x - max = -inf stays -inf, as the row kernels give it beside a +inf */
    return SV(select)(v == -INFINITY, v, v - norm->log_sum);
}

/* One head, contiguous positions: segments [first, first + count), their
 * sums each one lane's total. The exps (log_softmax: x - max) go to `exps`
 * (the group's positions from its first, a vector of slack after them) by
 * whole vectors, each segment's after the one before: lanes past a
 * segment's end are overwritten by the next segment's and never read back.
 * The output goes out the same way, by whole vectors, where they end within
 * the group (x is read no more by then, so y may be x); the last lanes of the
 * group lane by lane. */
static void SK(short_rows)(const T *x, T *y, const int64_t *offsets, ptrdiff_t first,
                           ptrdiff_t count, int log_output, T *exps) {
    const ptrdiff_t lanes = SV(lanes);
    SK(short_norm) norm[CSM_SHORT_GROUP];
    CSM_CAT(csm_wide_, SUF) sums[CSM_SHORT_GROUP];
    const int64_t *bounds = offsets + first;
    const ptrdiff_t base = bounds[0], end = bounds[count];
    for (ptrdiff_t g = 0; g < count; g++) {
        VT m = SV(splat)(-INFINITY);
        for (ptrdiff_t i = bounds[g]; i < bounds[g + 1]; i += lanes) {
            ptrdiff_t valid = bounds[g + 1] - i < lanes ? bounds[g + 1] - i : lanes;
            m = SV(max)(m, SK(short_load)(x + i, valid));
        }
        norm[g].peak = SK(short_lanes_max)(m);
    }
    for (ptrdiff_t g = 0; g < count; g++) {
        CSM_CAT(csm_wide_, SUF) sum = SV(wide_zero)();
        for (ptrdiff_t i = bounds[g]; i < bounds[g + 1]; i += lanes) {
            ptrdiff_t valid = bounds[g + 1] - i < lanes ? bounds[g + 1] - i : lanes;
            VT v = SK(short_load)(x + i, valid), shifted = v - norm[g].peak;
            VT e = SK(short_exp)(v, norm[g].peak, valid);
            sum = SV(wide_add)(sum, e);
            SV(store)(exps + (i - base), log_output ? shifted : e);
        }
        sums[g] = sum;
    }
    for (ptrdiff_t g = 0; g < count; g++) {
        double total = SV(hsum_wide)(sums[g]);
        if (log_output) {
            norm[g].log_sum = SV(splat)((T)log(total));
        } else {
            T hi = (T)(1 / total);
            norm[g].hi = SV(splat)(hi);
            norm[g].lo = SV(splat)((T)(1 / total - hi));
        }
    }
    for (ptrdiff_t g = 0; g < count; g++) {
        for (ptrdiff_t i = bounds[g]; i < bounds[g + 1]; i += lanes) {
            VT v = SK(short_output)(&norm[g], SV(load)(exps + (i - base)), log_output);
            if (i + lanes <= end)
                SV(store)(y + i, v);
            else
                SK(short_store)(y + i, v, end - i);
        }
    }
}

/* Several heads (or positions apart): segments [first, first + count), heads
 * [0, heads), positions `step` apart in x and y_step in y; a vector of heads at
 * a time, its sums one per lane. */
static void SK(short_heads)(const T *x, ptrdiff_t step, T *y, ptrdiff_t y_step,
                            const int64_t *offsets, ptrdiff_t first, ptrdiff_t count,
                            ptrdiff_t heads, int log_output) {
    const ptrdiff_t lanes = SV(lanes);
    SK(short_norm) norm[CSM_SHORT_GROUP];
    CSM_CAT(csm_wide_, SUF) sums[CSM_SHORT_GROUP];
    const int64_t *bounds = offsets + first;
    for (ptrdiff_t h = 0; h < heads; h += lanes) {
        ptrdiff_t valid = heads - h < lanes ? heads - h : lanes;
        for (ptrdiff_t g = 0; g < count; g++) {
            VT m = SV(splat)(-INFINITY);
            for (ptrdiff_t i = bounds[g]; i < bounds[g + 1]; i++)
                m = SV(max)(m, SK(short_load)(x + i * step + h, valid));
            norm[g].peak = m;
        }
        for (ptrdiff_t g = 0; g < count; g++) {
            CSM_CAT(csm_wide_, SUF) sum = SV(wide_zero)();
            for (ptrdiff_t i = bounds[g]; i < bounds[g + 1]; i++) {
                VT e = SK(short_exp)(SK(short_load)(x + i * step + h, valid), norm[g].peak,
                                     valid);
                sum = SV(wide_add)(sum, e);
                if (!log_output) SK(short_store)(y + i * y_step + h, e, valid);
            }
            sums[g] = sum;
        }
        for (ptrdiff_t g = 0; g < count; g++) {
            if (log_output) {
                for (int l = 0; l < lanes; l++)
                    norm[g].log_sum[l] = (T)log(SV(wide_lane)(sums[g], l));
            } else {
                SV(wide_reciprocal)(sums[g], &norm[g].hi, &norm[g].lo);
            }
        }
        for (ptrdiff_t g = 0; g < count; g++) {
            for (ptrdiff_t i = bounds[g]; i < bounds[g + 1]; i++) {
                VT v = log_output ? SK(short_load)(x + i * step + h, valid) - norm[g].peak
                                  : SK(short_load)(y + i * y_step + h, valid);
                SK(short_store)(y + i * y_step + h, SK(short_output)(&norm[g], v, log_output),
                                valid);
            }
        }
    }
}

/* logsumexp of one short segment's head: m + log1p(the other terms), the
 * terms exps in float64 (libm), so that results near 0 stay exact as the
 * kernels' are; x == m counts 1 (equal infinities) */
static T SK(short_lse)(const T *x, ptrdiff_t step, ptrdiff_t n) {
    T m = -INFINITY;
    for (ptrdiff_t i = 0; i < n; i++) m = x[i * step] > m ? x[i * step] : m;
    double others = 0;
    int max_seen = 0;
    for (ptrdiff_t i = 0; i < n; i++) {
        T v = x[i * step];
        if (v == m) {
            others += max_seen;
            max_seen = 1;
        } else {
            others += exp((double)v - (double)m);
        }
    }
    return n == 0 ? -INFINITY : (T)((double)m + log1p(others));
}

ptrdiff_t CSM_EXPORT(SK(segment_short))(const T *x, ptrdiff_t step, T *y, ptrdiff_t y_step,
                                        ptrdiff_t inner, const int64_t *offsets, ptrdiff_t first,
                                        ptrdiff_t last, int flags) {
    const int log_output = flags & CSM_SHORT_LOG;
    T exps[CSM_SHORT_CHUNK + CSM_VBYTES / sizeof(T)];
    ptrdiff_t s = first;
    while (s < last) {
        /* the group: segments [s, end) */
        ptrdiff_t end = s, entries = 0;
        while (end < last && end - s < CSM_SHORT_GROUP) {
            ptrdiff_t n = offsets[end + 1] - offsets[end];
            if (n >= CSM_SHORT_SEGMENT || entries + n * inner > CSM_SHORT_CHUNK) break;
            entries += n * inner;
            end++;
        }
        if (end == s) break; /* a long segment */
        if (flags & CSM_SHORT_LSE) {
            for (ptrdiff_t r = s; r < end; r++)
                for (ptrdiff_t h = 0; h < inner; h++)
                    y[r * inner + h] = SK(short_lse)(x + offsets[r] * step + h, step,
                                                     offsets[r + 1] - offsets[r]);
        } else if (inner == 1 && step == 1 && y_step == 1) {
            SK(short_rows)(x, y, offsets, s, end - s, log_output, exps);
        } else {
            SK(short_heads)(x, step, y, y_step, offsets, s, end - s, inner, log_output);
        }
        s = end;
    }
    return s;
}

#undef SV
#undef SK
