/*
 * Portable SIMD layer on GCC/Clang vector extensions: the vector types, loads
 * and stores (whole and partial), masks, select, max/min, horizontal sums in
 * double and the optimisation barrier. The vector math (exp, log) is vmath.h.
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
        VI lane; /* constant: one comparison, not a lane-by-lane build */                 \
        for (int i = 0; i < csm_lanes_##SUF; i++) lane[i] = i;                            \
        return lane < (VI){0} + (int)(count < csm_lanes_##SUF ? count : csm_lanes_##SUF); \
    }

CSM_DEFINE_VECTOR_OPS(float, f32, csm_vf32, csm_vi32)
CSM_DEFINE_VECTOR_OPS(double, f64, csm_vf64, csm_vi64)

/*
 * Partial loads and stores (tails): masked moves where the ISA has them. Lane
 * loops (the portable path) go through memory: their inserts spill the vector,
 * and the vector reload of lanes stored one by one misses store forwarding.
 * Lanes
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

/* The optimisation barrier: v, opaque to the optimiser, so a product passed
 * through it is rounded on its own. Where the compiler may contract a * b + c,
 * it may do so in one inlined copy of a kernel and not in another (one exp
 * form selects its argument first, the other does not; the loss-only path and
 * the loss+gradient path), and their bits would differ. csm_rounded_* is the
 * same barrier as an expression. */
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define CSM_OPAQUE(v) __asm__("" : "+v"(v))
#else
#define CSM_OPAQUE(v) __asm__("" : "+m"(v))
#endif
CSM_INLINE csm_vf32 csm_rounded_f32(csm_vf32 v) {
    CSM_OPAQUE(v);
    return v;
}
CSM_INLINE csm_vf64 csm_rounded_f64(csm_vf64 v) {
    CSM_OPAQUE(v);
    return v;
}

/* a comparison's mask as bits (lane i in bit i); whether any lane is set, how many are */
#if CSM_VBYTES == 64 && defined(__AVX512F__)
CSM_INLINE unsigned csm_bits_f32(csm_vi32 m) { return _mm512_test_epi32_mask((__m512i)m, (__m512i)m); }
CSM_INLINE unsigned csm_bits_f64(csm_vi64 m) { return _mm512_test_epi64_mask((__m512i)m, (__m512i)m); }
#elif CSM_VBYTES == 32 && defined(__AVX__)
CSM_INLINE unsigned csm_bits_f32(csm_vi32 m) { return _mm256_movemask_ps((__m256)m); }
CSM_INLINE unsigned csm_bits_f64(csm_vi64 m) { return _mm256_movemask_pd((__m256d)m); }
#elif CSM_VBYTES == 16 && defined(__SSE2__)
CSM_INLINE unsigned csm_bits_f32(csm_vi32 m) { return _mm_movemask_ps((__m128)m); }
CSM_INLINE unsigned csm_bits_f64(csm_vi64 m) { return _mm_movemask_pd((__m128d)m); }
#else
#define CSM_DEFINE_BITS(SUF, VI)                                                          \
    CSM_INLINE unsigned csm_bits_##SUF(VI m) {                                            \
        unsigned bits = 0;                                                                \
        for (int i = 0; i < csm_lanes_##SUF; i++) bits |= (unsigned)(m[i] != 0) << i;     \
        return bits;                                                                      \
    }
CSM_DEFINE_BITS(f32, csm_vi32)
CSM_DEFINE_BITS(f64, csm_vi64)
#endif
CSM_INLINE int csm_any_f32(csm_vi32 m) { return csm_bits_f32(m) != 0; }
CSM_INLINE int csm_any_f64(csm_vi64 m) { return csm_bits_f64(m) != 0; }
CSM_INLINE int csm_count_f32(csm_vi32 m) { return __builtin_popcount(csm_bits_f32(m)); }
CSM_INLINE int csm_count_f64(csm_vi64 m) { return __builtin_popcount(csm_bits_f64(m)); }

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
/* a wide value's lanes as vectors of doubles: part p holds lanes
 * p csm_lanes_f64 .. (p + 1) csm_lanes_f64 - 1 */
#define csm_wide_parts_f64 1
CSM_INLINE csm_vf64 csm_wide_part_f64(csm_wide_f64 w, int p) {
    (void)p;
    return w;
}

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
#define csm_wide_parts_f32 2
CSM_INLINE csm_vf64 csm_wide_part_f32(csm_wide_f32 w, int p) { return p ? w.high : w.low; }
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
/* a wide value's lanes in the element type, each rounded once */
CSM_INLINE csm_vf64 csm_narrow_wide_f64(csm_wide_f64 w) { return w; }
CSM_INLINE csm_vf32 csm_narrow_wide_f32(csm_wide_f32 w) { return csm_narrow_f32(w.low, w.high); }
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


#endif
