/*
 * Compiles the rest of a translation unit for a given x86 target, so one source
 * file holds each ISA build without per-file compiler flags (setuptools has
 * none). Elsewhere (other architectures, other compilers) only the baseline
 * build exists.
 *
 * Each level's instruction-set extensions are listed once, below: its builds'
 * compile target (CSM_AVX2_TARGET, CSM_AVX512_TARGET) and dispatch.c's runtime
 * check both come from the list, so the CPU is checked for every feature the
 * compiler may use.
 */
#ifndef CSOFTMAX_ISA_TARGET_H
#define CSOFTMAX_ISA_TARGET_H

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define CSM_X86_TARGETS 1
#define CSM_PRAGMA(text) _Pragma(#text)
#if defined(__clang__)
#define CSM_TARGET_BEGIN(isa) \
    CSM_PRAGMA(clang attribute push(__attribute__((target(isa))), apply_to = function))
#define CSM_TARGET_END CSM_PRAGMA(clang attribute pop)
#else
#define CSM_TARGET_BEGIN(isa) CSM_PRAGMA(GCC push_options) CSM_PRAGMA(GCC target(isa))
#define CSM_TARGET_END CSM_PRAGMA(GCC pop_options)
#endif

/* x86-64-v3 and x86-64-v4: LIST(X) calls X(feature) for each feature. */
#define CSM_AVX2_FEATURES(X) \
    X(avx) X(avx2) X(fma) X(bmi) X(bmi2) X(lzcnt) X(popcnt) X(f16c) X(movbe)
#define CSM_AVX512_FEATURES(X) \
    CSM_AVX2_FEATURES(X) X(avx512f) X(avx512bw) X(avx512dq) X(avx512vl)

/* A list as the target string "avx,avx2,...,sse2" (sse2, which each of them
 * implies, closes the comma-separated list). */
#define CSM_TARGET_NAME(feature) #feature ","
#define CSM_AVX2_TARGET CSM_AVX2_FEATURES(CSM_TARGET_NAME) "sse2"
#define CSM_AVX512_TARGET CSM_AVX512_FEATURES(CSM_TARGET_NAME) "sse2"
#else
#define CSM_X86_TARGETS 0
#endif

#endif
