/*
 * Compiles the rest of a translation unit for a given x86 target, so one source
 * file holds each ISA build without per-file compiler flags (setuptools has
 * none). Elsewhere (other architectures, other compilers) only the baseline
 * build exists.
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
#else
#define CSM_X86_TARGETS 0
#endif

#endif
