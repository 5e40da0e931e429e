/*
 * Vector math: every vector exp, log and log1p of the kernels, for both element
 * types (csm_<function>_f32 / _f64), on top of simd.h's vector plumbing.
 *
 *   csm_exp_*, csm_exp_lo_*, csm_exp_offset_* (and their _normal_ forms):
 *       below 1 ulp (float: 0.89 ulp max over every input), inf, nan and
 *       subnormal results rounded once, like libm.
 *   csm_log_f64, csm_log1p_f64 (log_softmax, logsumexp, cross-entropy):
 *       0.82 ulp max, for s > 0 normal and u > -1.
 *   csm_log_full_* and csm_log1p_unit_* (the element-wise losses): fdlibm's
 *       log kernel (musl's shorter polynomial for float, error below 2^-34
 *       before rounding), over every input: -inf at 0, nan below 0.
 *
 * Included by each ISA translation unit after its target pragma, so every
 * function here is compiled for that ISA.
 */
#ifndef CSOFTMAX_VMATH_H
#define CSOFTMAX_VMATH_H

#include <math.h>

#include "simd.h"

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

/* Cody-Waite's constants: 1 / ln2, and ln2 split so that k times the high part
 * is exact for every k the exps meet (float: 9 bits) */
#define CSM_EXP_LOG2E_f32 1.44269504088896341f
#define CSM_EXP_LN2_HI_f32 0.693359375f
#define CSM_EXP_LN2_LO_f32 -2.12194440e-4f
#define CSM_EXP_LOG2E_f64 1.4426950408889634074
#define CSM_EXP_LN2_HI_f64 6.93145751953125e-1
#define CSM_EXP_LN2_LO_f64 1.42860682030941723212e-6

/* the reduction with a shifter c: CSM_EXP_SHIFTER_f32, or that less an integer j
 * (csm_exp_offset_*) */
CSM_INLINE csm_vf32 csm_exp_reduce_by_f32(csm_vf32 x, csm_vf32 c, csm_vf32 *t) {
    *t = x * CSM_EXP_LOG2E_f32 + c;
    csm_vf32 kf = *t - c;
    csm_vf32 r = x - kf * CSM_EXP_LN2_HI_f32;
    return r - kf * CSM_EXP_LN2_LO_f32;
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
CSM_INLINE csm_vf64 csm_fma_f64(csm_vf64 a, csm_vf64 b, csm_vf64 c) {
    return (csm_vf64)_mm512_fmadd_pd((__m512d)a, (__m512d)b, (__m512d)c);
}
#elif CSM_VBYTES == 32 && defined(__FMA__)
#define CSM_FUSED_MADD 1
CSM_INLINE csm_vf32 csm_fma_f32(csm_vf32 a, csm_vf32 b, csm_vf32 c) {
    return (csm_vf32)_mm256_fmadd_ps((__m256)a, (__m256)b, (__m256)c);
}
CSM_INLINE csm_vf64 csm_fma_f64(csm_vf64 a, csm_vf64 b, csm_vf64 c) {
    return (csm_vf64)_mm256_fmadd_pd((__m256d)a, (__m256d)b, (__m256d)c);
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
    *t = x * CSM_EXP_LOG2E_f64 + c;
    csm_vf64 kf = *t - c;
    csm_vf64 r = x - kf * CSM_EXP_LN2_HI_f64;
    return r - kf * CSM_EXP_LN2_LO_f64;
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
 * lands in the exponent field. csm_exp_lo_* clamps x to [LOW, HIGH]; below
 * LOW (e^x rounds to 0, -inf included) it computes e^0 and selects 0: a
 * product that underflows costs a microcode assist on some CPUs (AMD Zen),
 * and masked softmax rows are full of -inf.
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
        x = csm_select_##SUF(low, csm_splat_##SUF(0), x);                                 \
        lo = csm_select_##SUF(low, csm_splat_##SUF(0), lo);                               \
        x = csm_select_##SUF(x > HIGH, csm_splat_##SUF(HIGH), x);                         \
        VT t, p = csm_exp_poly_##SUF(csm_exp_reduce_##SUF(x, &t) + lo);                   \
        return csm_select_##SUF(low, csm_splat_##SUF(0), csm_exp_scale_##SUF(p, t));      \
    }                                                                                     \
    CSM_INLINE VT csm_exp_normal_lo_##SUF(VT x, VT lo) {                                  \
        VT t, p = csm_exp_poly_##SUF(csm_exp_reduce_##SUF(x, &t) + lo);                   \
        return csm_exp_normal_scale_##SUF(p, t);                                          \
    }
CSM_DEFINE_EXP_SCALING(f32, csm_vf32, csm_vi32, csm_vu32, 127, 23, -150.0f, 100.0f)
CSM_DEFINE_EXP_SCALING(f64, csm_vf64, csm_vi64, csm_vu64, 1023, 52, -1100.0, 720.0)

/*
 * exp(d s + lo) with the product d s exact in the reduction (s a temperature's
 * scale): r = d s - k ln2_hi rounds once, where exp(round(d s) + lo) would
 * carry the product's rounding error, up to |d s| 2^-24 in float, into the
 * result (90 ulp at |d s| near 100). With a fused multiply-add that is one
 * operation; without, Dekker's product finds the product's error (d s and
 * k ln2_hi are then within a factor 2, so their difference is exact).
 * csm_exp_scaled_* has csm_exp_lo_*'s range handling; csm_exp_normal_scaled_*
 * is for results that are all normal numbers. Both give the same bits where
 * both apply.
 */
#define CSM_DEFINE_SCALED_EXP(SUF, VT, VI, SPLIT, LOW, HIGH)                               \
    CSM_INLINE VT csm_product_minus_##SUF(VT a, VT b, VT c) { /* a b - c, rounded once */ \
        CSM_PRODUCT_MINUS(SUF, VT, SPLIT)                                                 \
    }                                                                                     \
    CSM_INLINE VT csm_exp_reduce_scaled_##SUF(VT d, VT s, VT *t) {                        \
        const VT c = csm_splat_##SUF(CSM_EXP_SHIFTER_##SUF);                              \
        *t = d * (s * CSM_EXP_LOG2E_##SUF) + c;                                           \
        VT kf = *t - c;                                                                   \
        return csm_product_minus_##SUF(d, s, kf * CSM_EXP_LN2_HI_##SUF) -                 \
               kf * CSM_EXP_LN2_LO_##SUF;                                                 \
    }                                                                                     \
    CSM_INLINE VT csm_exp_scaled_##SUF(VT d, VT s, VT lo) {                               \
        VT z = d * s;                                                                     \
        VI low = z < LOW, high = z > HIGH; /* nan is neither */                           \
        d = csm_select_##SUF(low | high, csm_splat_##SUF(0), d);                          \
        lo = csm_select_##SUF(low | high, csm_splat_##SUF(0), lo);                        \
        VT t, p = csm_exp_poly_##SUF(csm_exp_reduce_scaled_##SUF(d, s, &t) + lo);         \
        p = csm_select_##SUF(high, csm_splat_##SUF(INFINITY), csm_exp_scale_##SUF(p, t)); \
        return csm_select_##SUF(low, csm_splat_##SUF(0), p);                              \
    }                                                                                     \
    CSM_INLINE VT csm_exp_normal_scaled_##SUF(VT d, VT s, VT lo) {                        \
        VT t, p = csm_exp_poly_##SUF(csm_exp_reduce_scaled_##SUF(d, s, &t) + lo);         \
        return csm_exp_normal_scale_##SUF(p, t);                                          \
    }
#ifdef CSM_FUSED_MADD
#define CSM_PRODUCT_MINUS(SUF, VT, SPLIT) return csm_fma_##SUF(a, b, -c);
#else
#define CSM_PRODUCT_MINUS(SUF, VT, SPLIT)                                                 \
    VT p = a * b, ca = a * SPLIT, cb = b * SPLIT;                                         \
    VT a_hi = ca - (ca - a), a_lo = a - a_hi, b_hi = cb - (cb - b), b_lo = b - b_hi;      \
    VT error = ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo;             \
    return (p - c) + error;
#endif
CSM_DEFINE_SCALED_EXP(f32, csm_vf32, csm_vi32, 4097.0f, -150.0f, 100.0f)
CSM_DEFINE_SCALED_EXP(f64, csm_vf64, csm_vi64, 134217729.0, -1100.0, 720.0)
#undef CSM_PRODUCT_MINUS

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
 * clamps x - j ln2 to csm_exp_lo_*'s range (so j = 0 gives its bits; 0 below
 * it, selected as there);
 * csm_exp_normal_offset_* is for results that are all normal numbers
 * (x - j ln2 >= CSM_EXP_NORMAL_MIN_*).
 */
#define CSM_DEFINE_OFFSET_EXP(SUF, VT, VI, LN2, LOW, HIGH)                                \
    CSM_INLINE VT csm_exp_offset_##SUF(VT x, VT c) {              \
        VT j_ln2 = (CSM_EXP_SHIFTER_##SUF - c) * LN2, low = j_ln2 + LOW;                  \
        VT high = j_ln2 + HIGH, t;                                                        \
        VI under = x < low; /* -inf included; nan passes */                               \
        x = csm_select_##SUF(under, j_ln2, x);                                            \
        x = csm_select_##SUF(x > high, high, x);                                          \
        VT p = csm_exp_poly_##SUF(csm_exp_reduce_by_##SUF(x, c, &t));               \
        return csm_select_##SUF(under, csm_splat_##SUF(0), csm_exp_scale_##SUF(p, t));    \
    }                                                                                     \
    CSM_INLINE VT csm_exp_normal_offset_##SUF(VT x, VT c) {       \
        VT t, p = csm_exp_poly_##SUF(csm_exp_reduce_by_##SUF(x, c, &t));            \
        return csm_exp_normal_scale_##SUF(p, t);                                          \
    }
CSM_DEFINE_OFFSET_EXP(f32, csm_vf32, csm_vi32, 0.693147180559945309f, -150.0f, 100.0f)
CSM_DEFINE_OFFSET_EXP(f64, csm_vf64, csm_vi64, 0.693147180559945309, -1100.0, 720.0)

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

/*
 * The element-wise losses' log: fdlibm's kernel k ln2 + log(1 + f) for f in
 * [sqrt(1/2) - 1, sqrt(2) - 1] (float: musl's shorter polynomial, error <
 * 2^-34), csm_log1p_unit_*(e) = log1p(e) for e in [0, 1] (nan passes through:
 * f = e exactly below sqrt(2) - 1, else 1 + e = 2 (1 + f) with f = (e - 1) / 2),
 * and csm_log_full_*(u) = log(u) over every input: -inf at 0, nan below 0 and
 * at nan, inf at inf, subnormals scaled up first. The reduction is musl's:
 * 1 + f = the significand scaled into [sqrt(1/2), sqrt(2)), its bits moved by
 * ADJUST so that the exponent changes at sqrt(1/2).
 */
#define CSM_DEFINE_LOG_FULL(T, SUF, VT, VI, TINY, UPSCALE, UPSCALE_BITS, ADJUST, MANTISSA,    \
                            BIAS, MANTISSA_MASK, SQRT_HALF_BITS)                              \
    CSM_INLINE VT csm_log_kernel_##SUF(VT f, VT k) {                                          \
        const int single = sizeof(T) == 4;                                                    \
        VT s = f / (2 + f), z = s * s, w = z * z, t1, t2;                                     \
        if (single) {                                                                         \
            t1 = w * ((T)0.40000972152f + w * (T)0.24279078841f);                             \
            t2 = z * ((T)0.66666662693f + w * (T)0.28498786688f);                             \
        } else {                                                                              \
            t1 = w * ((T)3.999999999940941908e-01 +                                           \
                      w * ((T)2.222219843214978396e-01 + w * (T)1.531383769920937332e-01));   \
            t2 = z * ((T)6.666666666666735130e-01 +                                           \
                      w * ((T)2.857142874366239149e-01 +                                      \
                           w * ((T)1.818357216161805012e-01 + w * (T)1.479819860511658591e-01))); \
        }                                                                                     \
        const T ln2_hi = single ? (T)6.9313812256e-01f : (T)6.93147180369123816490e-01;       \
        const T ln2_lo = single ? (T)9.0580006145e-06f : (T)1.90821492927058770002e-10;       \
        VT hfsq = (T)0.5 * f * f;                                                             \
        return k * ln2_hi - ((hfsq - (s * (hfsq + t1 + t2) + k * ln2_lo)) - f);               \
    }                                                                                         \
    CSM_INLINE VT csm_log1p_unit_##SUF(VT e) {                                                \
        VI big = e > (T)0.41421356237309503;                                                  \
        VT f = csm_select_##SUF(big, (e - 1) * (T)0.5, e);                                    \
        return csm_log_kernel_##SUF(f, csm_select_##SUF(big, csm_splat_##SUF(1),              \
                                                        csm_splat_##SUF(0)));                 \
    }                                                                                         \
    CSM_INLINE VT csm_log_full_##SUF(VT u) {                                                  \
        VI tiny = u < (TINY);                                                                 \
        VT scaled = csm_select_##SUF(tiny, u * (UPSCALE), u);                                 \
        VT k_adj = csm_select_##SUF(tiny, csm_splat_##SUF(-(UPSCALE_BITS)), csm_splat_##SUF(0)); \
        VI bits = (VI)scaled, k_int;                                                          \
        bits += ADJUST;                                                                       \
        k_int = (bits >> (MANTISSA)) - (BIAS);                                                \
        bits = (bits & (MANTISSA_MASK)) + (SQRT_HALF_BITS);                                   \
        VT f = (VT)bits - 1;                                                                  \
        VT result = csm_log_kernel_##SUF(f, __builtin_convertvector(k_int, VT) + k_adj);      \
        VT special = csm_select_##SUF(u == 0, csm_splat_##SUF(-(T)INFINITY),                  \
                                      csm_select_##SUF(u == (T)INFINITY, u,                   \
                                                       csm_splat_##SUF((T)NAN)));             \
        return csm_select_##SUF((u > 0) & (u < (T)INFINITY), result, special);                \
    }
CSM_DEFINE_LOG_FULL(float, f32, csm_vf32, csm_vi32, (float)1.17549435e-38f, (float)0x1p25f, 25,
                    0x3f800000 - 0x3f3504f3, 23, 0x7f, 0x007fffff, 0x3f3504f3)
CSM_DEFINE_LOG_FULL(double, f64, csm_vf64, csm_vi64, (double)2.2250738585072014e-308,
                    (double)0x1p54, 54, (int64_t)(0x3ff00000 - 0x3fe6a09e) << 32, 52, 0x3ff,
                    (int64_t)0x000fffffffffffff, (int64_t)0x3fe6a09e << 32)

#endif
