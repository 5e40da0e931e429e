/*
 * Portable SIMD layer on GCC/Clang vector extensions.
 *
 * Each ISA build sets CSM_VBYTES to its native vector width (16 bytes SSE2, 32
 * AVX2, 64 AVX-512) before including this file: GCC lowers comparisons on wider
 * than native vectors lane by lane, in scalar code. Within a build every lane is
 * computed by the same operations, so a row gives the same bits whether its
 * elements sit in a full vector or in a padded tail.
 *
 * Included by each ISA translation unit after its target pragma, so every
 * function here is compiled for that ISA.
 */
#ifndef CSOFTMAX_SIMD_H
#define CSOFTMAX_SIMD_H

#include <stdint.h>
#include <string.h>

#define CSM_INLINE static inline __attribute__((always_inline))
#ifndef CSM_VBYTES
#error "the ISA build must define CSM_VBYTES"
#endif

typedef float csm_vf32 __attribute__((vector_size(CSM_VBYTES)));
typedef int32_t csm_vi32 __attribute__((vector_size(CSM_VBYTES)));
typedef double csm_vf64 __attribute__((vector_size(CSM_VBYTES)));
typedef int64_t csm_vi64 __attribute__((vector_size(CSM_VBYTES)));
/* unsigned lanes for bit arithmetic that may carry out of the top bit: on
 * signed lanes that would be undefined in ISO C (UBSan cannot see it in vectors) */
typedef uint32_t csm_vu32 __attribute__((vector_size(CSM_VBYTES)));
typedef uint64_t csm_vu64 __attribute__((vector_size(CSM_VBYTES)));

/* Load/store/select helpers, generated for both element types. `loadp`/`storep`
 * move only the first `count` lanes (tails); the other lanes of a partial load
 * hold `fill`. */
#define CSM_DEFINE_VECTOR_OPS(T, SUF, VT, VI)                                             \
    enum { csm_lanes_##SUF = CSM_VBYTES / sizeof(T) };                                    \
    CSM_INLINE VT csm_splat_##SUF(T v) { return (VT){0} + v; }                            \
    CSM_INLINE VT csm_load_##SUF(const T *p) {                                            \
        VT v;                                                                             \
        memcpy(&v, p, sizeof v);                                                          \
        return v;                                                                         \
    }                                                                                     \
    CSM_INLINE void csm_store_##SUF(T *p, VT v) { memcpy(p, &v, sizeof v); }              \
    /* lanes of `mask` are all-ones or zero, as vector comparisons produce */             \
    CSM_INLINE VT csm_select_##SUF(VI mask, VT a, VT b) {                                 \
        return (VT)((mask & (VI)a) | (~mask & (VI)b));                                    \
    }                                                                                     \
    CSM_INLINE T csm_hmin_##SUF(VT v) {                                                   \
        T m = v[0];                                                                       \
        for (int i = 1; i < csm_lanes_##SUF; i++) m = v[i] < m ? v[i] : m;                \
        return m;                                                                         \
    }                                                                                     \
    CSM_INLINE T csm_hmax_##SUF(VT v) {                                                   \
        T m = v[0];                                                                       \
        for (int i = 1; i < csm_lanes_##SUF; i++) m = v[i] > m ? v[i] : m;                \
        return m;                                                                         \
    }                                                                                     \
    /* all-ones in the first `count` lanes: the valid part of a tail */                   \
    CSM_INLINE VI csm_first_lanes_##SUF(ptrdiff_t count) {                                \
        VI mask;                                                                          \
        for (int i = 0; i < csm_lanes_##SUF; i++) mask[i] = -(i < count);                 \
        return mask;                                                                      \
    }

CSM_DEFINE_VECTOR_OPS(float, f32, csm_vf32, csm_vi32)
CSM_DEFINE_VECTOR_OPS(double, f64, csm_vf64, csm_vi64)

/*
 * Partial loads and stores (tails): masked moves where the ISA has them. Lane
 * loops (the portable path) go through memory: their inserts spill the vector,
 * and the vector reload of lanes stored one by one misses store forwarding;
 * rows of 17 floats took 130 ns a row with them, 45 with masked moves. Lanes
 * past `count` are not touched in memory (no fault, no write); loaded, they
 * hold `fill`.
 */
#if CSM_VBYTES == 64 && defined(__AVX512F__)
#include <immintrin.h>
#define CSM_DEFINE_PARTIAL(T, SUF, VT, S, X86_VT, MASK)                                   \
    CSM_INLINE VT csm_loadp_##SUF(const T *p, ptrdiff_t count, T fill) {                  \
        return (VT)_mm512_mask_loadu_##S(_mm512_set1_##S(fill), (MASK)((1u << count) - 1), \
                                         p);                                              \
    }                                                                                     \
    CSM_INLINE void csm_storep_##SUF(T *p, VT v, ptrdiff_t count) {                       \
        _mm512_mask_storeu_##S(p, (MASK)((1u << count) - 1), (X86_VT)v);                  \
    }
CSM_DEFINE_PARTIAL(float, f32, csm_vf32, ps, __m512, __mmask16)
CSM_DEFINE_PARTIAL(double, f64, csm_vf64, pd, __m512d, __mmask8)
#elif CSM_VBYTES == 32 && defined(__AVX__)
#include <immintrin.h>
#define CSM_DEFINE_PARTIAL(T, SUF, VT, S, X86_VT)                                         \
    CSM_INLINE VT csm_loadp_##SUF(const T *p, ptrdiff_t count, T fill) {                  \
        const VT v = (VT)_mm256_maskload_##S(p, (__m256i)csm_first_lanes_##SUF(count));   \
        return csm_select_##SUF(csm_first_lanes_##SUF(count), v, csm_splat_##SUF(fill));  \
    }                                                                                     \
    CSM_INLINE void csm_storep_##SUF(T *p, VT v, ptrdiff_t count) {                       \
        _mm256_maskstore_##S(p, (__m256i)csm_first_lanes_##SUF(count), (X86_VT)v);        \
    }
CSM_DEFINE_PARTIAL(float, f32, csm_vf32, ps, __m256)
CSM_DEFINE_PARTIAL(double, f64, csm_vf64, pd, __m256d)
#else
/* lane loops rather than a variable-length memcpy, which is a library call */
#define CSM_DEFINE_PARTIAL(T, SUF, VT)                                                    \
    CSM_INLINE VT csm_loadp_##SUF(const T *p, ptrdiff_t count, T fill) {                  \
        VT v = csm_splat_##SUF(fill);                                                     \
        for (ptrdiff_t i = 0; i < count; i++) v[i] = p[i];                                \
        return v;                                                                         \
    }                                                                                     \
    CSM_INLINE void csm_storep_##SUF(T *p, VT v, ptrdiff_t count) {                       \
        for (ptrdiff_t i = 0; i < count; i++) p[i] = v[i];                                \
    }
CSM_DEFINE_PARTIAL(float, f32, csm_vf32)
CSM_DEFINE_PARTIAL(double, f64, csm_vf64)
#endif
#undef CSM_DEFINE_PARTIAL

/* Lane i of permute(v, idx) is v[idx[i]] (0 <= idx[i] < lanes): GCC's shuffle
 * compiles to one permute instruction on AVX2 and AVX-512; clang's takes only
 * constant indices. */
#if defined(__GNUC__) && !defined(__clang__)
#define CSM_DEFINE_PERMUTE(SUF, VT, VI) \
    CSM_INLINE VT csm_permute_##SUF(VT v, VI idx) { return __builtin_shuffle(v, idx); }
#else
#define CSM_DEFINE_PERMUTE(SUF, VT, VI)                                                   \
    CSM_INLINE VT csm_permute_##SUF(VT v, VI idx) {                                       \
        VT out;                                                                           \
        for (int i = 0; i < csm_lanes_##SUF; i++) out[i] = v[idx[i]];                     \
        return out;                                                                       \
    }
#endif
CSM_DEFINE_PERMUTE(f32, csm_vf32, csm_vi32)
CSM_DEFINE_PERMUTE(f64, csm_vf64, csm_vi64)

/*
 * max(a, b) and min(a, b) keep a unless b beats it, so nan lanes of b are
 * ignored (nan reaches results through the sums instead). x86's max/min
 * instructions return their second operand when either is nan, which is that
 * rule with the operands swapped: one instruction instead of compare + blend.
 */
#if CSM_VBYTES == 64 && defined(__AVX512F__)
#define CSM_X86_VEC(w) __m512##w
#define CSM_X86_OP(op, s) _mm512_##op##_##s
#elif CSM_VBYTES == 32 && defined(__AVX__)
#define CSM_X86_VEC(w) __m256##w
#define CSM_X86_OP(op, s) _mm256_##op##_##s
#elif CSM_VBYTES == 16 && defined(__SSE2__)
#define CSM_X86_VEC(w) __m128##w
#define CSM_X86_OP(op, s) _mm_##op##_##s
#endif

#ifdef CSM_X86_OP
#include <immintrin.h>
#define CSM_DEFINE_MAX_MIN(SUF, VT, W, S)                                                 \
    CSM_INLINE VT csm_max_##SUF(VT a, VT b) {                                             \
        return (VT)CSM_X86_OP(max, S)((CSM_X86_VEC(W))b, (CSM_X86_VEC(W))a);              \
    }                                                                                     \
    CSM_INLINE VT csm_min_##SUF(VT a, VT b) {                                             \
        return (VT)CSM_X86_OP(min, S)((CSM_X86_VEC(W))b, (CSM_X86_VEC(W))a);              \
    }
#else
#define CSM_DEFINE_MAX_MIN(SUF, VT, W, S)                                                 \
    CSM_INLINE VT csm_max_##SUF(VT a, VT b) { return csm_select_##SUF(b > a, b, a); }     \
    CSM_INLINE VT csm_min_##SUF(VT a, VT b) { return csm_select_##SUF(b < a, b, a); }
#endif

CSM_DEFINE_MAX_MIN(f32, csm_vf32, , ps)
CSM_DEFINE_MAX_MIN(f64, csm_vf64, d, pd)

/* v, opaque to the optimiser: a product passed through it is rounded on its
 * own. Where the compiler may contract a * b + c, it may do so in one inlined
 * copy of a kernel and not in another (one exp form selects its argument first,
 * the other does not), and their bits would differ. */
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define CSM_OPAQUE(v) __asm__("" : "+x"(v))
#else
#define CSM_OPAQUE(v) __asm__("" : "+m"(v))
#endif

/* whether any lane of a comparison's mask is set, and how many are */
#if CSM_VBYTES == 64 && defined(__AVX512F__)
CSM_INLINE int csm_any_f32(csm_vi32 m) { return _mm512_test_epi32_mask((__m512i)m, (__m512i)m); }
CSM_INLINE int csm_any_f64(csm_vi64 m) { return _mm512_test_epi64_mask((__m512i)m, (__m512i)m); }
CSM_INLINE int csm_count_f32(csm_vi32 m) {
    return __builtin_popcount(_mm512_test_epi32_mask((__m512i)m, (__m512i)m));
}
CSM_INLINE int csm_count_f64(csm_vi64 m) {
    return __builtin_popcount(_mm512_test_epi64_mask((__m512i)m, (__m512i)m));
}
#elif CSM_VBYTES == 32 && defined(__AVX__)
CSM_INLINE int csm_any_f32(csm_vi32 m) { return _mm256_movemask_ps((__m256)m) != 0; }
CSM_INLINE int csm_any_f64(csm_vi64 m) { return _mm256_movemask_pd((__m256d)m) != 0; }
CSM_INLINE int csm_count_f32(csm_vi32 m) { return __builtin_popcount(_mm256_movemask_ps((__m256)m)); }
CSM_INLINE int csm_count_f64(csm_vi64 m) { return __builtin_popcount(_mm256_movemask_pd((__m256d)m)); }
#elif CSM_VBYTES == 16 && defined(__SSE2__)
CSM_INLINE int csm_any_f32(csm_vi32 m) { return _mm_movemask_ps((__m128)m) != 0; }
CSM_INLINE int csm_any_f64(csm_vi64 m) { return _mm_movemask_pd((__m128d)m) != 0; }
CSM_INLINE int csm_count_f32(csm_vi32 m) { return __builtin_popcount(_mm_movemask_ps((__m128)m)); }
CSM_INLINE int csm_count_f64(csm_vi64 m) { return __builtin_popcount(_mm_movemask_pd((__m128d)m)); }
#else
#define CSM_DEFINE_ANY(SUF, VI)                                                           \
    CSM_INLINE int csm_count_##SUF(VI m) {                                                \
        int count = 0;                                                                    \
        for (int i = 0; i < csm_lanes_##SUF; i++) count += m[i] != 0;                     \
        return count;                                                                     \
    }                                                                                     \
    CSM_INLINE int csm_any_##SUF(VI m) { return csm_count_##SUF(m) != 0; }
CSM_DEFINE_ANY(f32, csm_vi32)
CSM_DEFINE_ANY(f64, csm_vi64)
#endif

/*
 * Sums in double: csm_wide_* holds a vector's lanes as doubles (two native
 * vectors for float, kept in registers, where one vector twice as wide would
 * go through memory). csm_hsum_* adds lanes pairwise in a fixed order, so a
 * sum depends only on the lanes.
 */
CSM_INLINE double csm_hsum_f64(csm_vf64 v) {
    for (int width = csm_lanes_f64 / 2; width > 0; width /= 2)
        for (int i = 0; i < width; i++) v[i] += v[i + width];
    return v[0];
}

typedef csm_vf64 csm_wide_f64;
CSM_INLINE csm_wide_f64 csm_wide_zero_f64(void) { return csm_splat_f64(0); }
CSM_INLINE csm_wide_f64 csm_wide_add_f64(csm_wide_f64 w, csm_vf64 v) { return w + v; }
CSM_INLINE double csm_wide_lane_f64(csm_wide_f64 w, int i) { return w[i]; }
CSM_INLINE double csm_hsum_wide_f64(csm_wide_f64 w) { return csm_hsum_f64(w); }

typedef struct {
    csm_vf64 low, high; /* lanes 0 .. L/2 - 1 and L/2 .. L - 1 */
} csm_wide_f32;
CSM_INLINE csm_wide_f32 csm_wide_zero_f32(void) {
    return (csm_wide_f32){csm_splat_f64(0), csm_splat_f64(0)};
}
/* GCC converts half vectors a few lanes at a time; the intrinsics take one
 * instruction per half */
CSM_INLINE csm_wide_f32 csm_wide_add_f32(csm_wide_f32 w, csm_vf32 v) {
#if CSM_VBYTES == 64 && defined(__AVX512F__)
    __m512 x = (__m512)v;
    w.low += (csm_vf64)_mm512_cvtps_pd(_mm512_castps512_ps256(x));
    w.high += (csm_vf64)_mm512_cvtps_pd((__m256)_mm512_extractf64x4_pd((__m512d)x, 1));
#elif CSM_VBYTES == 32 && defined(__AVX__)
    __m256 x = (__m256)v;
    w.low += (csm_vf64)_mm256_cvtps_pd(_mm256_castps256_ps128(x));
    w.high += (csm_vf64)_mm256_cvtps_pd(_mm256_extractf128_ps(x, 1));
#elif CSM_VBYTES == 16 && defined(__SSE2__)
    __m128 x = (__m128)v;
    w.low += (csm_vf64)_mm_cvtps_pd(x);
    w.high += (csm_vf64)_mm_cvtps_pd(_mm_movehl_ps(x, x));
#else
    for (int i = 0; i < csm_lanes_f64; i++) {
        w.low[i] += v[i];
        w.high[i] += v[i + csm_lanes_f64];
    }
#endif
    return w;
}
CSM_INLINE double csm_wide_lane_f32(csm_wide_f32 w, int i) {
    return i < csm_lanes_f64 ? w.low[i] : w.high[i - csm_lanes_f64];
}
/* two vectors of doubles as one vector of floats, each rounded once */
CSM_INLINE csm_vf32 csm_narrow_f32(csm_vf64 low, csm_vf64 high) {
#if CSM_VBYTES == 64 && defined(__AVX512F__)
    __m512d lo_half = _mm512_castpd256_pd512((__m256d)_mm512_cvtpd_ps((__m512d)low));
    return (csm_vf32)_mm512_insertf64x4(lo_half, (__m256d)_mm512_cvtpd_ps((__m512d)high), 1);
#elif CSM_VBYTES == 32 && defined(__AVX__)
    __m256 lo_half = _mm256_castps128_ps256(_mm256_cvtpd_ps((__m256d)low));
    return (csm_vf32)_mm256_insertf128_ps(lo_half, _mm256_cvtpd_ps((__m256d)high), 1);
#elif CSM_VBYTES == 16 && defined(__SSE2__)
    return (csm_vf32)_mm_movelh_ps(_mm_cvtpd_ps((__m128d)low), _mm_cvtpd_ps((__m128d)high));
#else
    csm_vf32 v;
    for (int i = 0; i < csm_lanes_f64; i++) {
        v[i] = (float)low[i];
        v[i + csm_lanes_f64] = (float)high[i];
    }
    return v;
#endif
}
/* 1 / w as hi + lo in the element type: hi = 1 / w rounded, lo = 1 / w - hi
 * rounded (0 for double); the bits of the same scalar operations */
CSM_INLINE void csm_wide_reciprocal_f64(csm_wide_f64 w, csm_vf64 *hi, csm_vf64 *lo) {
    *hi = 1 / w;
    *lo = csm_splat_f64(0);
}
CSM_INLINE void csm_wide_reciprocal_f32(csm_wide_f32 w, csm_vf32 *hi, csm_vf32 *lo) {
    csm_vf64 r_low = 1 / w.low, r_high = 1 / w.high;
    *hi = csm_narrow_f32(r_low, r_high);
    csm_wide_f32 hi_wide = csm_wide_add_f32(csm_wide_zero_f32(), *hi); /* exact */
    *lo = csm_narrow_f32(r_low - hi_wide.low, r_high - hi_wide.high);
}
/* the first pairwise step adds lane i and lane i + L/2: low + high */
CSM_INLINE double csm_hsum_wide_f32(csm_wide_f32 w) { return csm_hsum_f64(w.low + w.high); }
CSM_INLINE double csm_hsum_f32(csm_vf32 v) {
    return csm_hsum_wide_f32(csm_wide_add_f32(csm_wide_zero_f32(), v));
}

/*
 * exp: Cody-Waite range reduction x = k ln2 + r, |r| <= ln2/2, a polynomial for
 * e^r, then scaling by 2^k. float32 uses a degree-6 polynomial 1 + r + r^2 P(r)
 * fitted for relative error on |r| <= ln2/2 (0.08 ulp in exact arithmetic; 0.89
 * ulp max measured over every float input as csm_exp_poly_f32 evaluates it, one
 * fused multiply-add less than Cephes' degree 7); float64 a degree-13 Taylor
 * polynomial (truncation < 1e-17 on |r| <= ln2/2, below 1 ulp overall).
 *
 * The argument comes as hi + lo, lo a correction far below hi's last bit (the
 * rounding error of a subtraction before the exp, say): lo joins the reduced
 * argument r, where it is no longer lost. csm_exp_* (x alone) is lo = 0.
 *
 * csm_exp_reduce_* returns r and leaves in *t a float whose low bits hold k.
 * csm_exp_lo_* is right over the whole range: it applies 2^k as two factors
 * 2^(k/2) 2^(k - k/2), so results that underflow into subnormals or overflow to
 * inf are rounded once, like libm; inputs are clamped to a range wide enough for
 * both, and nan passes through. csm_exp_normal_lo_* is the fast form for slices
 * whose results are all normal numbers (x >= CSM_EXP_NORMAL_MIN_*, as in a
 * softmax, where x <= 0): 2^k goes straight into the exponent bits. Both give
 * the same bits where both apply, so a kernel may pick either per slice.
 */
#define CSM_EXP_NORMAL_MIN_f32 (-87.0f)
#define CSM_EXP_NORMAL_MIN_f64 (-708.0)
/* adding it rounds to an integer held in the low bits */
#define CSM_EXP_SHIFTER_f32 0x1.8p23f
#define CSM_EXP_SHIFTER_f64 0x1.8p52

/* the reduction with a shifter c: CSM_EXP_SHIFTER_f32, or that less an integer j
 * (csm_exp_offset_*) */
CSM_INLINE csm_vf32 csm_exp_reduce_by_f32(csm_vf32 x, csm_vf32 c, csm_vf32 *t) {
    *t = x * 1.44269504088896341f + c;
    csm_vf32 kf = *t - c;
    csm_vf32 r = x - kf * 0.693359375f; /* ln2 high part: 9 bits, so kf * it is exact */
    return r - kf * -2.12194440e-4f;    /* ln2 low part */
}

CSM_INLINE csm_vf32 csm_exp_reduce_f32(csm_vf32 x, csm_vf32 *t) {
    return csm_exp_reduce_by_f32(x, csm_splat_f32(CSM_EXP_SHIFTER_f32), t);
}

/* a b + c rounded once, spelled out where the error bound depends on it (the
 * compiler contracts a * b + c only when it optimises enough: not at -O1) */
#if CSM_VBYTES == 64 && defined(__AVX512F__)
#define CSM_FUSED_MADD 1
CSM_INLINE csm_vf32 csm_fma_f32(csm_vf32 a, csm_vf32 b, csm_vf32 c) {
    return (csm_vf32)_mm512_fmadd_ps((__m512)a, (__m512)b, (__m512)c);
}
#elif CSM_VBYTES == 32 && defined(__FMA__)
#define CSM_FUSED_MADD 1
CSM_INLINE csm_vf32 csm_fma_f32(csm_vf32 a, csm_vf32 b, csm_vf32 c) {
    return (csm_vf32)_mm256_fmadd_ps((__m256)a, (__m256)b, (__m256)c);
}
#endif

/* With fused multiply-adds, Horner's scheme all the way down: 0.89 ulp max over
 * every float input, where 1 + r + r^2 P(r) gives 0.99 for one operation more.
 * Without them (x86-64 baseline), p r + 1 would round twice: 1.13 ulp, where
 * 1 + r + r^2 P(r) keeps within 1.1. */
CSM_INLINE csm_vf32 csm_exp_poly_f32(csm_vf32 r) {
    csm_vf32 p = csm_splat_f32(0x1.685afcp-10f);
    p = p * r + 0x1.12478ep-7f;
    p = p * r + 0x1.555bd0p-5f;
    p = p * r + 0x1.55547ep-3f;
    p = p * r + 0x1.fffff8p-2f;
#ifdef CSM_FUSED_MADD
    p = csm_fma_f32(p, r, csm_splat_f32(1));
    return csm_fma_f32(p, r, csm_splat_f32(1));
#else
    return p * (r * r) + r + 1.0f;
#endif
}

CSM_INLINE csm_vf64 csm_exp_reduce_by_f64(csm_vf64 x, csm_vf64 c, csm_vf64 *t) {
    *t = x * 1.4426950408889634074 + c;
    csm_vf64 kf = *t - c;
    csm_vf64 r = x - kf * 6.93145751953125e-1;
    return r - kf * 1.42860682030941723212e-6;
}

CSM_INLINE csm_vf64 csm_exp_reduce_f64(csm_vf64 x, csm_vf64 *t) {
    return csm_exp_reduce_by_f64(x, csm_splat_f64(CSM_EXP_SHIFTER_f64), t);
}

CSM_INLINE csm_vf64 csm_exp_poly_f64(csm_vf64 r) {
    csm_vf64 p = csm_splat_f64(1.0 / 6227020800.0); /* 1/13! */
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    return p * (r * r) + r + 1.0;
}

/*
 * From the reduced argument's polynomial p and t (k in its low bits) to e^x,
 * for both element types. csm_exp_scale_*: p 2^k as two factors, so that a
 * result below the normal range or above the max rounds once.
 * csm_exp_normal_scale_*: for normal results, t shifted by the mantissa width
 * lands in the exponent field. csm_exp_lo_* clamps x to [LOW, HIGH].
 */
#define CSM_DEFINE_EXP_SCALING(SUF, VT, VI, VU, BIAS, MANTISSA, LOW, HIGH)                \
    CSM_INLINE VT csm_exp_scale_##SUF(VT p, VT t) {                                       \
        VI k = (VI)t - (VI)csm_splat_##SUF(CSM_EXP_SHIFTER_##SUF);                        \
        VI k_half = k >> 1;                                                               \
        VT scale_1 = (VT)((k_half + BIAS) << MANTISSA);                                   \
        VT scale_2 = (VT)((k - k_half + BIAS) << MANTISSA);                               \
        return p * scale_1 * scale_2;                                                     \
    }                                                                                     \
    CSM_INLINE VT csm_exp_normal_scale_##SUF(VT p, VT t) {                                \
        return (VT)((VU)p + ((VU)t << MANTISSA));                                         \
    }                                                                                     \
    CSM_INLINE VT csm_exp_lo_##SUF(VT x, VT lo) {                                         \
        VI low = x < LOW; /* -inf included, whose lo may be nan */                        \
        x = csm_select_##SUF(low, csm_splat_##SUF(LOW), x);                               \
        lo = csm_select_##SUF(low, csm_splat_##SUF(0), lo);                               \
        x = csm_select_##SUF(x > HIGH, csm_splat_##SUF(HIGH), x);                         \
        VT t, p = csm_exp_poly_##SUF(csm_exp_reduce_##SUF(x, &t) + lo);                   \
        return csm_exp_scale_##SUF(p, t);                                                 \
    }                                                                                     \
    CSM_INLINE VT csm_exp_normal_lo_##SUF(VT x, VT lo) {                                  \
        VT t, p = csm_exp_poly_##SUF(csm_exp_reduce_##SUF(x, &t) + lo);                   \
        return csm_exp_normal_scale_##SUF(p, t);                                          \
    }
CSM_DEFINE_EXP_SCALING(f32, csm_vf32, csm_vi32, csm_vu32, 127, 23, -150.0f, 100.0f)
CSM_DEFINE_EXP_SCALING(f64, csm_vf64, csm_vi64, csm_vu64, 1023, 52, -1100.0, 720.0)

/* lo = -0: adding -0 folds away, where adding +0 would not (it turns -0 into +0) */
#define CSM_DEFINE_PLAIN_EXP(SUF, VT)                                                     \
    CSM_INLINE VT csm_exp_##SUF(VT x) { return csm_exp_lo_##SUF(x, -csm_splat_##SUF(0)); } \
    CSM_INLINE VT csm_exp_normal_##SUF(VT x) {                                            \
        return csm_exp_normal_lo_##SUF(x, -csm_splat_##SUF(0));                           \
    }
CSM_DEFINE_PLAIN_EXP(f32, csm_vf32)
CSM_DEFINE_PLAIN_EXP(f64, csm_vf64)


/*
 * exp(x - j ln2) for an integer j, passed as c = CSM_EXP_SHIFTER_* - j: x itself
 * is reduced, r = x - k ln2 as in csm_exp_*, and j comes off k in the exponent
 * (c stands in for the shifter in both places), so this costs no operation over
 * a plain exp. Nothing is rounded before the exp, where x - m would be: a
 * softmax takes its exps relative to j ln2 near its max m (kernels_impl.h).
 * For |x| up to a few hundred, k ln2_lo stays within 0.01 ulp. csm_exp_offset_*
 * clamps x - j ln2 to csm_exp_lo_*'s range (so j = 0 gives its bits);
 * csm_exp_normal_offset_* is for results that are all normal numbers
 * (x - j ln2 >= CSM_EXP_NORMAL_MIN_*).
 */
#define CSM_DEFINE_OFFSET_EXP(SUF, VT, LN2, LOW, HIGH)                                    \
    CSM_INLINE VT csm_exp_offset_##SUF(VT x, VT c) {              \
        VT j_ln2 = (CSM_EXP_SHIFTER_##SUF - c) * LN2, low = j_ln2 + LOW;                  \
        VT high = j_ln2 + HIGH, t;                                                        \
        x = csm_select_##SUF(x < low, low, x); /* -inf included; nan passes */            \
        x = csm_select_##SUF(x > high, high, x);                                          \
        VT p = csm_exp_poly_##SUF(csm_exp_reduce_by_##SUF(x, c, &t));               \
        return csm_exp_scale_##SUF(p, t);                                                 \
    }                                                                                     \
    CSM_INLINE VT csm_exp_normal_offset_##SUF(VT x, VT c) {       \
        VT t, p = csm_exp_poly_##SUF(csm_exp_reduce_by_##SUF(x, c, &t));            \
        return csm_exp_normal_scale_##SUF(p, t);                                          \
    }
CSM_DEFINE_OFFSET_EXP(f32, csm_vf32, 0.693147180559945309f, -150.0f, 100.0f)
CSM_DEFINE_OFFSET_EXP(f64, csm_vf64, 0.693147180559945309, -1100.0, 720.0)

/*
 * log(s) + c for lanes s > 0 of double (nan and +inf pass through), c a small
 * correction: s = 2^k (1 + f) with 1 + f in [sqrt(1/2), sqrt(2)), and
 *   log(1 + f) = 2 atanh(t) = f - (f^2/2 - t (f^2/2 + R)),  t = f / (2 + f),
 *   R = sum over i >= 1 of 2 t^(2i) / (2i + 1)
 * (2t = f - t f), so that f, exact, carries the result and the rounded terms are
 * small. |t| <= 0.172: ten terms of R leave a relative error below 1e-19.
 * csm_log1p_f64(u), u > -1: s = 1 + u rounded, whose rounding error (exact)
 * joins as c / s. 0.82 ulp max measured (4M inputs from 2^-60 to 2^30, small
 * integers; AVX2 and x86-64 baseline, -O3 and -O1).
 */
CSM_INLINE csm_vf64 csm_log_plus_f64(csm_vf64 s, csm_vf64 c) {
    const double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
    const uint64_t sqrt_half_bits = 0x3fe6a09e667f3bcdULL; /* sqrt(1/2), rounded */
    /* 1 + f = s / 2^k, its bits moved so that k changes at sqrt(1/2) */
    csm_vu64 bits = (csm_vu64)s + (0x3ff0000000000000ULL - sqrt_half_bits);
    csm_vf64 k = (csm_vf64)((bits >> 52) | 0x4330000000000000ULL) - (0x1p52 + 1023);
    csm_vf64 f = (csm_vf64)((bits & 0x000fffffffffffffULL) + sqrt_half_bits) - 1;
    csm_vf64 t = f / (2 + f), z = t * t, half_f2 = 0.5 * f * f;
    csm_vf64 r = csm_splat_f64(2.0 / 21);
    for (int i = 9; i >= 1; i--) r = r * z + 2.0 / (2 * i + 1);
    r *= z;
    csm_vf64 small = t * (half_f2 + r) + (k * ln2_lo + c);
    csm_vf64 out = k * ln2_hi - ((half_f2 - small) - f);
    return csm_select_f64(s - s != 0, s, out); /* nan, +inf */
}
CSM_INLINE csm_vf64 csm_log1p_f64(csm_vf64 u) {
    csm_vf64 s = 1 + u;
    return csm_log_plus_f64(s, (u - (s - 1)) / s);
}
CSM_INLINE csm_vf64 csm_log_f64(csm_vf64 s) { return csm_log_plus_f64(s, csm_splat_f64(0)); }

#endif
