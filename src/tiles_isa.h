/*
 * Body of one ISA build of the tiled reductions (tiles_baseline.c,
 * tiles_avx2.c, tiles_avx512.c): the storage conversions (a portable bit-exact
 * form; F16C and AVX2 where the target has them), the transposing pack for
 * rows side by side, then tiles_impl.h for float and double, whose kernels
 * take this build's exported names (kernel_list.h's CSM_EXPORT). The
 * including file has already set the target and CSM_ISA_PREFIX.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "csoftmax.h"
#include "kernel_list.h"

#if defined(__AVX2__) && defined(__F16C__)
#include <immintrin.h>
#define CSM_TILES_AVX2 1
#else
#define CSM_TILES_AVX2 0
#endif

#define CSM_TILE_INLINE static inline

CSM_TILE_INLINE ptrdiff_t csm_kind_size(int kind) {
    return kind == CSM_KIND_F64 ? 8 : kind == CSM_KIND_F32 ? 4 : 2;
}

/* ---------- scalar conversions ---------- */

CSM_TILE_INLINE float csm_bits_float(uint32_t bits) {
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

CSM_TILE_INLINE uint32_t csm_float_bits(float f) {
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    return bits;
}

/* bfloat16 is the upper half of a float32: widening is exact */
CSM_TILE_INLINE float csm_bf16_to_f32(uint16_t h) { return csm_bits_float((uint32_t)h << 16); }

/* round to nearest even; a nan becomes the quiet nan of its sign (as ml_dtypes) */
CSM_TILE_INLINE uint16_t csm_f32_to_bf16(float f) {
    uint32_t u = csm_float_bits(f);
    if (f != f) return (uint16_t)((u >> 16 & 0x8000) | 0x7fc0);
    return (uint16_t)((u + 0x7fff + (u >> 16 & 1)) >> 16);
}

#if CSM_TILES_AVX2
CSM_TILE_INLINE float csm_f16_to_f32(uint16_t h) { return _cvtsh_ss(h); }
CSM_TILE_INLINE uint16_t csm_f32_to_f16(float f) {
    return (uint16_t)_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
#else
/* exact: every float16 is a float32 */
CSM_TILE_INLINE float csm_f16_to_f32(uint16_t h) {
    const uint32_t sign = (uint32_t)(h & 0x8000) << 16, exponent = h >> 10 & 0x1f,
                   mantissa = h & 0x3ff;
    if (exponent == 0x1f) return csm_bits_float(sign | 0x7f800000 | mantissa << 13);
    if (exponent) return csm_bits_float(sign | (exponent + 112) << 23 | mantissa << 13);
    return csm_bits_float(sign | csm_float_bits((float)mantissa * 0x1p-24f));
}

/* round to nearest even, as F16C's vcvtps2ph (a nan keeps its sign and the
 * top of its payload, made quiet) */
CSM_TILE_INLINE uint16_t csm_f32_to_f16(float f) {
    const uint32_t u = csm_float_bits(f), sign = u >> 16 & 0x8000, magnitude = u & 0x7fffffff;
    if (magnitude > 0x7f800000) return (uint16_t)(sign | 0x7e00 | (magnitude >> 13 & 0x3ff));
    if (magnitude >= 0x477ff000) return (uint16_t)(sign | 0x7c00); /* rounds to inf */
    if (magnitude >= 0x38800000) {                                 /* a normal float16 */
        const uint32_t rebased = magnitude - 0x38000000;
        return (uint16_t)(sign | (rebased + 0xfff + (rebased >> 13 & 1)) >> 13);
    }
    if (magnitude <= 0x33000000) return (uint16_t)sign; /* half the least subnormal or less */
    const uint32_t exponent = magnitude >> 23, shift = 126 - exponent;
    const uint32_t significand = (magnitude & 0x7fffff) | 0x800000;
    uint32_t half = significand >> shift;
    const uint32_t rest = significand & ((1u << shift) - 1), tie = 1u << (shift - 1);
    if (rest > tie || (rest == tie && (half & 1))) half++;
    return (uint16_t)(sign | half);
}
#endif

/* ---------- vectors of 8 floats (AVX2) ---------- */
#if CSM_TILES_AVX2
/* 8 consecutive elements of `kind` (not float64) as floats */
CSM_TILE_INLINE __m256 csm_load8(const char *p, int kind) {
    if (kind == CSM_KIND_F32) return _mm256_loadu_ps((const float *)p);
    const __m128i h = _mm_loadu_si128((const __m128i *)p);
    if (kind == CSM_KIND_F16) return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

CSM_TILE_INLINE __m128i csm_to_bf16x8(__m256 v) {
    const __m256i u = _mm256_castps_si256(v);
    const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
    __m256i r = _mm256_srli_epi32(_mm256_add_epi32(u, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff))), 16);
    const __m256i quiet = _mm256_or_si256(
        _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(0x8000)), _mm256_set1_epi32(0x7fc0));
    r = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(r), _mm256_castsi256_ps(quiet),
                                             _mm256_cmp_ps(v, v, _CMP_UNORD_Q)));
    return _mm256_castsi256_si128(_mm256_permute4x64_epi64(_mm256_packus_epi32(r, r), 0x08));
}

CSM_TILE_INLINE void csm_store8(char *p, int kind, __m256 v) {
    if (kind == CSM_KIND_F32) _mm256_storeu_ps((float *)p, v);
    else if (kind == CSM_KIND_F16)
        _mm_storeu_si128((__m128i *)p, _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    else _mm_storeu_si128((__m128i *)p, csm_to_bf16x8(v));
}

/* the 8x8 transpose of v, in place */
CSM_TILE_INLINE void csm_transpose8(__m256 v[8]) {
    __m256 t[8], s[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(v[i], v[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(v[i], v[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        s[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
        s[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xee);
        s[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        s[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xee);
    }
    for (int i = 0; i < 4; i++) {
        v[i] = _mm256_permute2f128_ps(s[i], s[i + 4], 0x20);
        v[i + 4] = _mm256_permute2f128_ps(s[i], s[i + 4], 0x31);
    }
}

/* floats from a contiguous run of `kind` (not float64); returns 0 if not handled */
static int csm_pack_run_f32(const char *src, int kind, float *dst, ptrdiff_t len) {
    if (kind == CSM_KIND_F64) return 0;
    ptrdiff_t i = 0;
    const ptrdiff_t size = csm_kind_size(kind);
    for (; i + 8 <= len; i += 8) _mm256_storeu_ps(dst + i, csm_load8(src + i * size, kind));
    for (; i < len; i++)
        dst[i] = kind == CSM_KIND_F32 ? ((const float *)(const void *)src)[i]
                 : kind == CSM_KIND_F16 ? csm_f16_to_f32(((const uint16_t *)(const void *)src)[i])
                                        : csm_bf16_to_f32(((const uint16_t *)(const void *)src)[i]);
    return 1;
}

static int csm_unpack_run_f32(const float *src, char *dst, int kind, ptrdiff_t len) {
    if (kind == CSM_KIND_F64) return 0;
    ptrdiff_t i = 0;
    const ptrdiff_t size = csm_kind_size(kind);
    for (; i + 8 <= len; i += 8) csm_store8(dst + i * size, kind, _mm256_loadu_ps(src + i));
    for (; i < len; i++) {
        if (kind == CSM_KIND_F32) memcpy(dst + i * size, src + i, sizeof(float));
        else {
            const uint16_t h = kind == CSM_KIND_F16 ? csm_f32_to_f16(src[i]) : csm_f32_to_bf16(src[i]);
            memcpy(dst + i * size, &h, sizeof h);
        }
    }
    return 1;
}

/* one element of `kind` (not float64) at p as a float, and back (rounded once) */
CSM_TILE_INLINE float csm_one_f32(const char *p, int kind) {
    uint16_t h;
    float f;
    if (kind == CSM_KIND_F32) {
        memcpy(&f, p, sizeof f);
        return f;
    }
    memcpy(&h, p, sizeof h);
    return kind == CSM_KIND_F16 ? csm_f16_to_f32(h) : csm_bf16_to_f32(h);
}

CSM_TILE_INLINE void csm_put_f32(char *p, int kind, float f) {
    if (kind == CSM_KIND_F32) {
        memcpy(p, &f, sizeof f);
        return;
    }
    const uint16_t h = kind == CSM_KIND_F16 ? csm_f32_to_f16(f) : csm_f32_to_bf16(f);
    memcpy(p, &h, sizeof h);
}

/* ---------- vectors of 4 doubles (AVX2), float64 storage only ---------- */
CSM_TILE_INLINE __m256d csm_load4(const char *p, int kind) {
    (void)kind;
    return _mm256_loadu_pd((const double *)(const void *)p);
}

CSM_TILE_INLINE void csm_store4(char *p, int kind, __m256d v) {
    (void)kind;
    _mm256_storeu_pd((double *)(void *)p, v);
}

CSM_TILE_INLINE double csm_one_f64(const char *p, int kind) {
    double d;
    (void)kind;
    memcpy(&d, p, sizeof d);
    return d;
}

CSM_TILE_INLINE void csm_put_f64(char *p, int kind, double d) {
    (void)kind;
    memcpy(p, &d, sizeof d);
}

/* the 4x4 transpose of v, in place */
CSM_TILE_INLINE void csm_transpose4(__m256d v[4]) {
    const __m256d t0 = _mm256_unpacklo_pd(v[0], v[1]), t1 = _mm256_unpackhi_pd(v[0], v[1]);
    const __m256d t2 = _mm256_unpacklo_pd(v[2], v[3]), t3 = _mm256_unpackhi_pd(v[2], v[3]);
    v[0] = _mm256_permute2f128_pd(t0, t2, 0x20);
    v[1] = _mm256_permute2f128_pd(t1, t3, 0x20);
    v[2] = _mm256_permute2f128_pd(t0, t2, 0x31);
    v[3] = _mm256_permute2f128_pd(t1, t3, 0x31);
}

/*
 * pack_across_SUF: tile[a * nb + b] for the LANES x LANES blocks of a source
 * whose a step is one element (rows side by side), a transpose in registers
 * per block; unpack_across_SUF the inverse. Both return the b done for every
 * a (a multiple of LANES; 0 where `kind` is not TAKES or there are fewer than
 * LANES rows). Rows past the last whole block go element by element.
 */
#define CSM_DEFINE_ACROSS(SUF, T, VT, LANES, TAKES, LOAD, STORE, TILE_LOAD, TILE_STORE,        \
                          TRANSPOSE)                                                          \
    static ptrdiff_t csm_pack_across_##SUF(const char *src, ptrdiff_t step_a, ptrdiff_t step_b, \
                                           int kind, T *tile, ptrdiff_t na, ptrdiff_t nb) {   \
        if (!(TAKES) || step_a != csm_kind_size(kind) || na < (LANES)) return 0;             \
        const ptrdiff_t done = nb - nb % (LANES);                                             \
        for (ptrdiff_t b = 0; b < done; b += (LANES)) {                                       \
            ptrdiff_t a = 0;                                                                  \
            for (; a + (LANES) <= na; a += (LANES)) {                                         \
                VT v[LANES];                                                                  \
                for (int k = 0; k < (LANES); k++)                                             \
                    v[k] = LOAD(src + (b + k) * step_b + a * step_a, kind);                   \
                TRANSPOSE(v);                                                                 \
                for (int i = 0; i < (LANES); i++) TILE_STORE(tile + (a + i) * nb + b, v[i]);  \
            }                                                                                 \
            for (; a < na; a++)                                                               \
                for (ptrdiff_t k = b; k < b + (LANES); k++)                                   \
                    tile[a * nb + k] = csm_one_##SUF(src + k * step_b + a * step_a, kind);    \
        }                                                                                     \
        return done;                                                                          \
    }                                                                                         \
    static ptrdiff_t csm_unpack_across_##SUF(const T *tile, char *dst, ptrdiff_t step_a,      \
                                             ptrdiff_t step_b, int kind, ptrdiff_t na,        \
                                             ptrdiff_t nb) {                                  \
        if (!(TAKES) || step_a != csm_kind_size(kind) || na < (LANES)) return 0;             \
        const ptrdiff_t done = nb - nb % (LANES);                                             \
        for (ptrdiff_t b = 0; b < done; b += (LANES)) {                                       \
            ptrdiff_t a = 0;                                                                  \
            for (; a + (LANES) <= na; a += (LANES)) {                                         \
                VT v[LANES];                                                                  \
                for (int i = 0; i < (LANES); i++) v[i] = TILE_LOAD(tile + (a + i) * nb + b);  \
                TRANSPOSE(v);                                                                 \
                for (int k = 0; k < (LANES); k++)                                             \
                    STORE(dst + (b + k) * step_b + a * step_a, kind, v[k]);                   \
            }                                                                                 \
            for (; a < na; a++)                                                               \
                for (ptrdiff_t k = b; k < b + (LANES); k++)                                   \
                    csm_put_##SUF(dst + k * step_b + a * step_a, kind, tile[a * nb + k]);     \
        }                                                                                     \
        return done;                                                                          \
    }
CSM_DEFINE_ACROSS(f32, float, __m256, 8, kind != CSM_KIND_F64, csm_load8, csm_store8,
                  _mm256_loadu_ps, _mm256_storeu_ps, csm_transpose8)
CSM_DEFINE_ACROSS(f64, double, __m256d, 4, kind == CSM_KIND_F64, csm_load4, csm_store4,
                  _mm256_loadu_pd, _mm256_storeu_pd, csm_transpose4)
#undef CSM_DEFINE_ACROSS
#endif

/* ---------- per compute type: the fast paths, or none ---------- */

/* Contiguous runs: AVX2's conversions for float (float32, float16, bfloat16),
 * else tiles_impl.h's plain loops (T's own type copied, the other float type
 * converted as a cast does) */
#if CSM_TILES_AVX2
#define pack_contiguous_f32 csm_pack_run_f32
#define unpack_contiguous_f32 csm_unpack_run_f32
#else
#define pack_contiguous_f32 pack_run_plain_f32
#define unpack_contiguous_f32 unpack_run_plain_f32
#endif
#define pack_contiguous_f64 pack_run_plain_f64
#define unpack_contiguous_f64 unpack_run_plain_f64

/* The transposing packs of rows side by side: AVX2's 8x8 float and 4x4
 * double transposes, else none (0 columns done: every line goes through
 * pack_line's loops) */
#define CSM_NO_ACROSS(...) ((ptrdiff_t)0)
#if CSM_TILES_AVX2
#define pack_across_f32 csm_pack_across_f32
#define unpack_across_f32 csm_unpack_across_f32
#define pack_across_f64 csm_pack_across_f64
#define unpack_across_f64 csm_unpack_across_f64
#else
#define pack_across_f32 CSM_NO_ACROSS
#define unpack_across_f32 CSM_NO_ACROSS
#define pack_across_f64 CSM_NO_ACROSS
#define unpack_across_f64 CSM_NO_ACROSS
#endif

/* the kernels' prototypes, which their definitions must match */
CSM_KERNEL_LIST(CSM_DECLARE_EXPORTED, CSM_ISA_PREFIX, float, f32)
CSM_KERNEL_LIST(CSM_DECLARE_EXPORTED, CSM_ISA_PREFIX, double, f64)

#define CSM_TEMPLATE "tiles_impl.h"
#include "instantiate_types.h"
