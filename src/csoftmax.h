/*
 * csoftmax C core: the kernel table shared by the ISA builds and the Cython layer.
 *
 * Every kernel works on one of two layouts of a (outer, n, inner) view, where n is
 * the reduced axis:
 *   rows: inner == 1 and each slice is contiguous; `rows` slices `row_step`
 *         elements apart.
 *   cols: `width` slices that sit side by side in memory (stride 1 across them),
 *         element j of each slice `step` elements after element j - 1.
 * logsumexp's weights b (or NULL) share x's layout and strides. Rows shorter
 * than two vectors are processed a vector of rows at a time.
 * Strides are in elements. Kernels never fail and never allocate: Python has
 * validated everything before the call, and kernels run without the GIL.
 * Pointers may alias (in-place softmax), so none is marked restrict.
 */
#ifndef CSOFTMAX_H
#define CSOFTMAX_H

#include <stddef.h>

/* flags */
#define CSM_LOG 1          /* log_softmax instead of softmax */
#define CSM_MASKED 2       /* a slice whose max is -inf was fully masked: softmax 0, log_softmax -inf */
#define CSM_RETURN_SIGN 4  /* logsumexp: a negative sum gives (log|s|, -1) instead of nan */

/* ISA levels, in increasing order of capability */
#define CSM_ISA_BASELINE 0
#define CSM_ISA_AVX2 1
#define CSM_ISA_AVX512 2
#define CSM_ISA_COUNT 3

/* Rows at least this long are split over threads (norm_huge_row, lse_huge_row);
 * equal to HUGE_ROW in kernels_impl.h. */
#define CSM_HUGE_ROW (1 << 16)

#define CSM_DECLARE_KERNELS(T, SUF)                                                        \
    void (*norm_rows_##SUF)(const T *x, ptrdiff_t x_row_step, T *y, ptrdiff_t y_row_step,  \
                            ptrdiff_t rows, ptrdiff_t n, T scale, int flags);              \
    void (*norm_cols_##SUF)(const T *x, ptrdiff_t x_step, T *y, ptrdiff_t y_step,          \
                            ptrdiff_t n, ptrdiff_t width, T scale, int flags);             \
    void (*lse_rows_##SUF)(const T *x, ptrdiff_t x_row_step, const T *b, T *result,        \
                           T *sign, ptrdiff_t rows, ptrdiff_t n, int flags);               \
    void (*lse_cols_##SUF)(const T *x, ptrdiff_t x_step, const T *b, T *result, T *sign,   \
                           ptrdiff_t n, ptrdiff_t width, int flags);               \
    /* one row of n >= CSM_HUGE_ROW elements, split over `threads` OpenMP threads */    \
    void (*norm_huge_row_##SUF)(const T *x, T *y, ptrdiff_t n, T scale, int flags,       \
                                int threads);                                            \
    void (*lse_huge_row_##SUF)(const T *x, const T *b, ptrdiff_t n, int flags,           \
                               int threads, T *result, T *sign);                         \
    void (*exp_##SUF)(const T *x, T *y, ptrdiff_t n); /* elementwise, for tests */

typedef struct csm_kernel_table {
    const char *name;
    CSM_DECLARE_KERNELS(float, f32)
    CSM_DECLARE_KERNELS(double, f64)
    /* log_softmax's and logsumexp's log1p (simd.h), elementwise over u >= 0, for tests */
    void (*log1p_f64)(const double *u, double *y, ptrdiff_t n);
} csm_kernel_table;

/* One table per ISA build; NULL where that build is not available on this platform. */
const csm_kernel_table *csm_table_baseline(void);
const csm_kernel_table *csm_table_avx2(void);
const csm_kernel_table *csm_table_avx512(void);

/* 1 if the level was compiled in and the running CPU (and OS) supports it. */
int csm_isa_usable(int level);
/* 1 if the level was compiled in at all. */
int csm_isa_compiled(int level);
/* The table for a level (NULL if not usable). */
const csm_kernel_table *csm_isa_table(int level);

#endif
