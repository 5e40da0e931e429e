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
 * write). Accuracy as the row kernels' uncompensated form (a few ulp).
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

CSM_INLINE void CSM_CAT(exp_in_place_, SUF)(T *v, ptrdiff_t count) {
    ptrdiff_t k;
    for (k = 0; k + CSM_CAT(csm_lanes_, SUF) <= count; k += CSM_CAT(csm_lanes_, SUF))
        CSM_CAT(csm_store_, SUF)(v + k, CSM_CAT(csm_exp_, SUF)(CSM_CAT(csm_load_, SUF)(v + k)));
    if (k < count)
        CSM_CAT(csm_storep_, SUF)(v + k, CSM_CAT(csm_exp_, SUF)(CSM_CAT(csm_loadp_, SUF)(v + k, count - k, 0)),
                                  count - k);
}

void CSM_EXPORT(CSM_CAT(scatter_exp_sum_, SUF))(const T *x, ptrdiff_t step, ptrdiff_t positions,
                                           ptrdiff_t inner, const int64_t *index,
                                           const T *peak, double *total, T *exps,
                                           int keep_exps, int flags) {
    for (ptrdiff_t start = 0; start < positions; start += CSM_SCATTER_BLOCK) {
        ptrdiff_t stop = positions - start < CSM_SCATTER_BLOCK ? positions : start + CSM_SCATTER_BLOCK;
        T *block = keep_exps ? exps + start * inner : exps;
        T *e = block;
        if (inner == 1) {
            for (ptrdiff_t i = start; i < stop; i++) {
                T v = x[i * step], m = peak[index[i]];
                block[i - start] = (flags & CSM_SCATTER_EQUAL_IS_ONE) && v == m ? 0 : v - m;
            }
            CSM_CAT(exp_in_place_, SUF)(block, stop - start);
            for (ptrdiff_t i = start; i < stop; i++) total[index[i]] += block[i - start];
            continue;
        }
        for (ptrdiff_t i = start; i < stop; i++, e += inner) {
            const T *row = x + i * step, *p = peak + index[i] * inner;
            for (ptrdiff_t h = 0; h < inner; h++)
                e[h] = (flags & CSM_SCATTER_EQUAL_IS_ONE) && row[h] == p[h] ? 0 : row[h] - p[h];
        }
        CSM_CAT(exp_in_place_, SUF)(block, (stop - start) * inner);
        e = block;
        for (ptrdiff_t i = start; i < stop; i++, e += inner) {
            double *sum = total + index[i] * inner;
            for (ptrdiff_t h = 0; h < inner; h++) sum[h] += e[h];
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
 * Short segments (fewer than CSM_SHORT_SEGMENT positions), many per call: the
 * entries of consecutive segments, up to CSM_SHORT_CHUNK at a time, are
 * shifted by their segment's max into a scratch array, exponentiated there as
 * one vector run, summed per segment in float64 and written out. The same
 * arithmetic as the row kernels' (exps relative to the max, float64 sums) for
 * a fraction of a kernel call's set-up per segment.
 */
/* logsumexp of one short segment's head: m + log1p(the other terms), the
 * terms exps in float64 (libm), so that results near 0 stay exact as the
 * kernels' are; x == m counts 1 (equal infinities) */
static T CSM_CAT(short_lse_, SUF)(const T *x, ptrdiff_t step, ptrdiff_t n, T m) {
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

/* segment_short's chunk [s, end) of one head (inner == 1): the same steps
 * without the loops over heads */
static void CSM_CAT(short_chunk_one_head_, SUF)(const T *x, ptrdiff_t step, T *y,
                                                ptrdiff_t y_step, const int64_t *offsets,
                                                ptrdiff_t s, ptrdiff_t end, T *scratch,
                                                T *peak, int flags) {
    ptrdiff_t base = offsets[s];
    for (ptrdiff_t r = s; r < end; r++) {
        ptrdiff_t a = offsets[r], b = offsets[r + 1];
        T m = -INFINITY;
        for (ptrdiff_t i = a; i < b; i++) m = x[i * step] > m ? x[i * step] : m;
        peak[r - s] = m;
        if (flags & CSM_SHORT_LSE) {
            y[r] = CSM_CAT(short_lse_, SUF)(x + a * step, step, b - a, m);
            continue;
        }
        for (ptrdiff_t i = a; i < b; i++) scratch[i - base] = x[i * step] - m;
    }
    if (flags & CSM_SHORT_LSE) return;
    CSM_CAT(exp_in_place_, SUF)(scratch, offsets[end] - base);
    for (ptrdiff_t r = s; r < end; r++) {
        ptrdiff_t a = offsets[r], b = offsets[r + 1];
        const T *e = scratch + (a - base);
        double sum = 0;
        for (ptrdiff_t i = 0; i < b - a; i++) sum += e[i];
        if (flags & CSM_SHORT_LOG) {
            double log_sum = log(sum);
            for (ptrdiff_t i = a; i < b; i++) {
                T shifted = x[i * step] - peak[r - s];
                y[i * y_step] = shifted == -INFINITY ? shifted : (T)((double)shifted - log_sum);
            }
        } else {
            double scale = 1 / sum;
            for (ptrdiff_t i = 0; i < b - a; i++) y[(a + i) * y_step] = (T)(e[i] * scale);
        }
    }
}

ptrdiff_t CSM_EXPORT(CSM_CAT(segment_short_, SUF))(const T *x, ptrdiff_t step, T *y, ptrdiff_t y_step,
                                              ptrdiff_t inner, const int64_t *offsets,
                                              ptrdiff_t first, ptrdiff_t last, int flags) {
    T scratch[CSM_SHORT_CHUNK], peak[CSM_SHORT_CHUNK];
    double sums[CSM_SHORT_CHUNK]; /* per head of one segment */
    ptrdiff_t s = first;
    while (s < last) {
        /* the chunk: segments [s, end) */
        ptrdiff_t end = s, used = 0;
        while (end < last) {
            ptrdiff_t n = offsets[end + 1] - offsets[end];
            if (n >= CSM_SHORT_SEGMENT || used + n * inner > CSM_SHORT_CHUNK) break;
            used += n * inner;
            end++;
        }
        if (end == s) return s; /* a long segment */
        if (inner == 1) {
            CSM_CAT(short_chunk_one_head_, SUF)(x, step, y, y_step, offsets, s, end, scratch, peak,
                                                flags);
            s = end;
            continue;
        }
        ptrdiff_t base = offsets[s], k = 0;
        for (ptrdiff_t r = s; r < end; r++) {
            ptrdiff_t a = offsets[r], b = offsets[r + 1];
            T *m = peak + (a - base) * inner; /* the segment's max, per head */
            for (ptrdiff_t h = 0; h < inner; h++) m[h] = -INFINITY;
            for (ptrdiff_t i = a; i < b; i++)
                for (ptrdiff_t h = 0; h < inner; h++)
                    if (x[i * step + h] > m[h]) m[h] = x[i * step + h];
            if (flags & CSM_SHORT_LSE) {
                for (ptrdiff_t h = 0; h < inner; h++)
                    y[r * inner + h] = CSM_CAT(short_lse_, SUF)(x + a * step + h, step, b - a, m[h]);
                continue;
            }
            for (ptrdiff_t i = a; i < b; i++)
                for (ptrdiff_t h = 0; h < inner; h++, k++) scratch[k] = x[i * step + h] - m[h];
        }
        if (flags & CSM_SHORT_LSE) {
            s = end;
            continue;
        }
        CSM_CAT(exp_in_place_, SUF)(scratch, k);
        for (ptrdiff_t r = s; r < end; r++) {
            ptrdiff_t a = offsets[r], b = offsets[r + 1];
            const T *m = peak + (a - base) * inner;
            /* heads innermost: each loop runs along contiguous entries */
            for (ptrdiff_t h = 0; h < inner; h++) sums[h] = 0;
            for (ptrdiff_t i = a; i < b; i++)
                for (ptrdiff_t h = 0; h < inner; h++) sums[h] += scratch[(i - base) * inner + h];
            if (flags & CSM_SHORT_LOG) {
                for (ptrdiff_t h = 0; h < inner; h++) sums[h] = log(sums[h]);
                for (ptrdiff_t i = a; i < b; i++)
                    for (ptrdiff_t h = 0; h < inner; h++) {
                        T shifted = x[i * step + h] - m[h];
                        /* x - max = -inf stays -inf, as the row kernels give it beside a +inf */
                        y[i * y_step + h] = shifted == -INFINITY ? shifted
                                                                 : (T)((double)shifted - sums[h]);
                    }
            } else {
                for (ptrdiff_t h = 0; h < inner; h++) sums[h] = 1 / sums[h];
                for (ptrdiff_t i = a; i < b; i++)
                    for (ptrdiff_t h = 0; h < inner; h++)
                        y[i * y_step + h] = (T)(scratch[(i - base) * inner + h] * sums[h]);
            }
        }
        s = end;
    }
    return s;
}
