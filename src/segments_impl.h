/*
 * Running log-sum-exp (logcumsumexp), a template over T / SUF (the including
 * file defines them; segments_isa.h instantiates float and double).
 *
 * What: y[j] = log(sum over i <= j of exp(x[i])) along n elements, for many
 * independent lanes at once (exclusive: i < j, y[0] = -inf).
 * Layouts: any. A lane is one slice; lanes advance `lane_step` apart and are
 * processed a vector at a time, so the column layout (lane_step 1: the inner
 * axis of a non-last reduction) loads whole vectors, and the row layout
 * (lane_step = row length) gathers one element of each of a vector of rows.
 * Blocks of CSM_LCSE_BLOCK lanes keep their state in registers / L1 while
 * walking the n elements, so every cache line fetched is used in full.
 * Arithmetic (float64 for both types): the state is the running max m and
 * t = sum of exp(x[i] - m) over the prefix less the max's own term 1, so that
 * y = m + log1p(t) is exact near 0. A new element x gives e = exp(-|x - m|)
 * (1 where x == m: equal infinities) and either t += e (x <= m) or
 * t = (t + 1) e, m = x (x > m): one exp and one log1p per element. -inf
 * prefixes stay -inf (m = -inf, t finite), +inf dominates, nan propagates, as
 * torch.logcumsumexp.
 * Accuracy: float32 results are the float64 value rounded (0.5 ulp plus the
 * float64 error); float64 results a few ulp, growing like the running sum's
 * rounding (n eps relative on t at worst).
 * Each lane is computed by the same lane-wise operations whatever its
 * position in a vector, so results do not depend on layout or thread split.
 */
#ifndef CSM_LCSE_BLOCK
#define CSM_LCSE_BLOCK 64
#endif
#ifndef CSM_LCSE_STREAMS
#define CSM_LCSE_STREAMS 16
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

static void CSM_CAT(logcumsumexp_, SUF)(const T *x, ptrdiff_t x_lane_step, ptrdiff_t x_step,
                                        T *y, ptrdiff_t y_lane_step, ptrdiff_t y_step,
                                        ptrdiff_t n, ptrdiff_t lanes, int exclusive) {
    enum { L = csm_lanes_f64, GROUPS = CSM_LCSE_BLOCK / csm_lanes_f64 };
    csm_vf64 m[GROUPS], t[GROUPS];
    /* lanes apart in memory are separate streams: fewer of them at a time */
    ptrdiff_t widest = x_lane_step == 1 ? CSM_LCSE_BLOCK : CSM_LCSE_STREAMS;
    for (ptrdiff_t first = 0; first < lanes; first += widest) {
        ptrdiff_t block = lanes - first < widest ? lanes - first : widest;
        ptrdiff_t groups = (block + L - 1) / L;
        const T *xb = x + first * x_lane_step;
        T *yb = y + first * y_lane_step;
        for (ptrdiff_t g = 0; g < groups; g++) {
            m[g] = csm_splat_f64(-INFINITY);
            t[g] = csm_splat_f64(0);
        }
        for (ptrdiff_t j = 0; j < n; j++) {
            /* side-by-side lanes: element j + CSM_LCSE_AHEAD of the block, whose
             * line the hardware prefetcher would not fetch (rows a page or more apart) */
            if (x_lane_step == 1 && j + CSM_LCSE_AHEAD < n)
                for (ptrdiff_t l = 0; l < block; l += 64 / (ptrdiff_t)sizeof(T))
                    __builtin_prefetch(xb + (j + CSM_LCSE_AHEAD) * x_step + l);
            for (ptrdiff_t g = 0; g < groups; g++) {
                ptrdiff_t count = block - g * L < L ? block - g * L : L;
                const T *xp = xb + g * L * x_lane_step + j * x_step;
                T *yp = yb + g * L * y_lane_step + j * y_step;
                csm_vf64 v = CSM_CAT(lcse_load_, SUF)(xp, x_lane_step, count);
                if (exclusive) {
                    csm_vf64 before = CSM_CAT(lcse_value_, SUF)(m[g], t[g]);
                    CSM_CAT(lcse_update_, SUF)(v, &m[g], &t[g]);
                    CSM_CAT(lcse_store_, SUF)(yp, y_lane_step, before, count);
                } else {
                    CSM_CAT(lcse_update_, SUF)(v, &m[g], &t[g]);
                    CSM_CAT(lcse_store_, SUF)(yp, y_lane_step, CSM_CAT(lcse_value_, SUF)(m[g], t[g]),
                                              count);
                }
            }
        }
    }
}
