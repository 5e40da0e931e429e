/*
 * Tile template: included by tiles_isa.h through instantiate_types.h once per
 * compute type (T float or double, SUF f32 or f64).
 *
 * What: softmax, log_softmax and logsumexp over axis 1 of strided (outer, n,
 * inner) operands by way of per-thread tiles (see tiles.h). A tile holds
 * whole slices in the layout the kernels get for a contiguous array: rows of
 * n with row step n (inner == 1, the row kernels), or an (n, w) block of
 * columns (inner > 1, the column kernels). Packing converts the storage type
 * to T (float16, bfloat16 and float32 widen exactly; float64 narrows to float
 * as a cast does), writes -inf where a where= mask is false and divides by
 * logsumexp's temperature; unpacking rounds T once to the output's type
 * (round to nearest even; a nan stays a nan) and writes the masked entries'
 * fixed values (softmax 0, log_softmax -inf).
 * Layouts: any steps, negative ones included; the loop order follows the
 * smaller step, and at the AVX2 level rows side by side are transposed in
 * registers.
 * Accuracy: that of the kernels on the packed values; results are bitwise
 * those of the contiguous array converted to T, rounded once to the output.
 */
#define TK_CAT_(a, b) a##_##b
#define TK_CAT(a, b) TK_CAT_(a, b)
#define TK(name) TK_CAT(name, SUF)

/* element i of a line of `kind` starting at p, `step` bytes apart, as T */
CSM_TILE_INLINE T TK(load_one)(const char *p, int kind) {
    switch (kind) {
    case CSM_KIND_F32: { float v; memcpy(&v, p, sizeof v); return (T)v; }
    case CSM_KIND_F64: { double v; memcpy(&v, p, sizeof v); return (T)v; }
    case CSM_KIND_F16: { uint16_t h; memcpy(&h, p, sizeof h); return (T)csm_f16_to_f32(h); }
    default: { uint16_t h; memcpy(&h, p, sizeof h); return (T)csm_bf16_to_f32(h); }
    }
}

CSM_TILE_INLINE void TK(store_one)(char *p, int kind, T v) {
    switch (kind) {
    case CSM_KIND_F32: { float f = (float)v; memcpy(p, &f, sizeof f); break; }
    case CSM_KIND_F64: { double d = (double)v; memcpy(p, &d, sizeof d); break; }
    case CSM_KIND_F16: { uint16_t h = csm_f32_to_f16((float)v); memcpy(p, &h, sizeof h); break; }
    default: { uint16_t h = csm_f32_to_bf16((float)v); memcpy(p, &h, sizeof h); break; }
    }
}

/* T's own storage kind and the other float type's */
#define TK_OWN_KIND (sizeof(T) == sizeof(float) ? CSM_KIND_F32 : CSM_KIND_F64)
#define TK_OTHER_KIND (sizeof(T) == sizeof(float) ? CSM_KIND_F64 : CSM_KIND_F32)

/* A contiguous run of T's own kind (copied) or of the other float type
 * (converted as a cast does) in plain loops the compiler vectorises; 0 for
 * the half types. */
CSM_TILE_INLINE int TK(pack_run_plain)(const char *src, int kind, T *dst, ptrdiff_t len) {
    if (kind == TK_OWN_KIND) {
        memcpy(dst, src, (size_t)len * sizeof(T));
    } else if (kind == TK_OTHER_KIND && sizeof(T) == sizeof(float)) {
        const double *s = (const double *)(const void *)src;
        for (ptrdiff_t i = 0; i < len; i++) dst[i] = (T)s[i];
    } else if (kind == TK_OTHER_KIND) {
        const float *s = (const float *)(const void *)src;
        for (ptrdiff_t i = 0; i < len; i++) dst[i] = (T)s[i];
    } else {
        return 0;
    }
    return 1;
}

CSM_TILE_INLINE int TK(unpack_run_plain)(const T *src, char *dst, int kind, ptrdiff_t len) {
    if (kind != TK_OWN_KIND) return 0;
    memcpy(dst, src, (size_t)len * sizeof(T));
    return 1;
}

/* Whether a line of `kind` with this step is T stored backwards, one element
 * after another (a reversed view, x[..., ::-1]): copied by a plain loop the
 * compiler vectorises with a lane reversal. */
CSM_TILE_INLINE int TK(reversed_run)(int kind, ptrdiff_t step) {
    return kind == TK_OWN_KIND && step == -(ptrdiff_t)sizeof(T);
}

/* Whether a line of `kind` with this step is T at every other element (a
 * strided view, x[..., ::2]): copied by a plain loop the compiler vectorises
 * with lane permutes. */
CSM_TILE_INLINE int TK(every_other_run)(int kind, ptrdiff_t step) {
    return kind == TK_OWN_KIND && step == 2 * (ptrdiff_t)sizeof(T);
}

/* dst[i * dst_step] = src line element i, for i < len */
static void TK(pack_line)(const char *src, ptrdiff_t step, int kind, T *dst, ptrdiff_t dst_step,
                          ptrdiff_t len) {
    if (dst_step == 1 && step == csm_kind_size(kind) &&
        TK(pack_contiguous)(src, kind, dst, len))
        return;
    if (dst_step == 1 && TK(reversed_run)(kind, step)) {
        for (ptrdiff_t i = 0; i < len; i++) memcpy(dst + i, src - i * (ptrdiff_t)sizeof(T), sizeof(T));
        return;
    }
    if (dst_step == 1 && TK(every_other_run)(kind, step)) {
        for (ptrdiff_t i = 0; i < len; i++) memcpy(dst + i, src + 2 * i * sizeof(T), sizeof(T));
        return;
    }
    switch (kind) { /* the kind outside the loops, so that each loop is plain */
    case CSM_KIND_F32:
        for (ptrdiff_t i = 0; i < len; i++) dst[i * dst_step] = TK(load_one)(src + i * step, CSM_KIND_F32);
        break;
    case CSM_KIND_F64:
        for (ptrdiff_t i = 0; i < len; i++) dst[i * dst_step] = TK(load_one)(src + i * step, CSM_KIND_F64);
        break;
    case CSM_KIND_F16:
        for (ptrdiff_t i = 0; i < len; i++) dst[i * dst_step] = TK(load_one)(src + i * step, CSM_KIND_F16);
        break;
    default:
        for (ptrdiff_t i = 0; i < len; i++) dst[i * dst_step] = TK(load_one)(src + i * step, CSM_KIND_BF16);
        break;
    }
}

/* dst line element i = src[i * src_step], rounded to the line's kind, for i < len */
static void TK(unpack_line)(const T *src, ptrdiff_t src_step, char *dst, ptrdiff_t step, int kind,
                            ptrdiff_t len) {
    if (src_step == 1 && step == csm_kind_size(kind) &&
        TK(unpack_contiguous)(src, dst, kind, len))
        return;
    if (src_step == 1 && TK(reversed_run)(kind, step)) {
        for (ptrdiff_t i = 0; i < len; i++) memcpy(dst - i * (ptrdiff_t)sizeof(T), src + i, sizeof(T));
        return;
    }
    if (src_step == 1 && TK(every_other_run)(kind, step)) {
        for (ptrdiff_t i = 0; i < len; i++) memcpy(dst + 2 * i * sizeof(T), src + i, sizeof(T));
        return;
    }
    switch (kind) {
    case CSM_KIND_F32:
        for (ptrdiff_t i = 0; i < len; i++) TK(store_one)(dst + i * step, CSM_KIND_F32, src[i * src_step]);
        break;
    case CSM_KIND_F64:
        for (ptrdiff_t i = 0; i < len; i++) TK(store_one)(dst + i * step, CSM_KIND_F64, src[i * src_step]);
        break;
    case CSM_KIND_F16:
        for (ptrdiff_t i = 0; i < len; i++) TK(store_one)(dst + i * step, CSM_KIND_F16, src[i * src_step]);
        break;
    default:
        for (ptrdiff_t i = 0; i < len; i++) TK(store_one)(dst + i * step, CSM_KIND_BF16, src[i * src_step]);
        break;
    }
}

/* Whether a block's lines follow one another in memory without a gap (a
 * contiguous array's rows): the block is then one run of na * nb elements. */
CSM_TILE_INLINE int TK(one_run)(ptrdiff_t step_a, ptrdiff_t step_b, int kind, ptrdiff_t nb) {
    return step_b == csm_kind_size(kind) && step_a == nb * step_b;
}

/* tile[a * nb + b] = element (a, b) of src (steps in bytes), walking src along
 * its smaller step */
static void TK(pack_block)(const char *src, ptrdiff_t step_a, ptrdiff_t step_b, int kind, T *tile,
                           ptrdiff_t na, ptrdiff_t nb) {
    if (TK(one_run)(step_a, step_b, kind, nb)) {
        TK(pack_line)(src, step_b, kind, tile, 1, na * nb);
        return;
    }
    if (na == 1 || (nb > 1 && csm_step_magnitude(step_b) <= csm_step_magnitude(step_a))) {
        for (ptrdiff_t a = 0; a < na; a++) TK(pack_line)(src + a * step_a, step_b, kind, tile + a * nb, 1, nb);
        return;
    }
    ptrdiff_t b = TK(pack_across)(src, step_a, step_b, kind, tile, na, nb);
    for (; b < nb; b++) TK(pack_line)(src + b * step_b, step_a, kind, tile + b, nb, na);
}

/* element (a, b) of dst = tile[a * nb + b], the inverse of pack_block */
static void TK(unpack_block)(const T *tile, char *dst, ptrdiff_t step_a, ptrdiff_t step_b,
                             int kind, ptrdiff_t na, ptrdiff_t nb) {
    if (TK(one_run)(step_a, step_b, kind, nb)) {
        TK(unpack_line)(tile, 1, dst, step_b, kind, na * nb);
        return;
    }
    if (na == 1 || (nb > 1 && csm_step_magnitude(step_b) <= csm_step_magnitude(step_a))) {
        for (ptrdiff_t a = 0; a < na; a++) TK(unpack_line)(tile + a * nb, 1, dst + a * step_a, step_b, kind, nb);
        return;
    }
    ptrdiff_t b = TK(unpack_across)(tile, dst, step_a, step_b, kind, na, nb);
    for (; b < nb; b++) TK(unpack_line)(tile + b, nb, dst + b * step_b, step_a, kind, na);
}

/* tile[a * nb + b] = fill where mask element (a, b) is 0. A select, not a
 * branch: a random mask would mispredict a branch on every few elements. */
static void TK(mask_block)(const char *mask, ptrdiff_t step_a, ptrdiff_t step_b, T *tile,
                           ptrdiff_t na, ptrdiff_t nb, T fill) {
    for (ptrdiff_t a = 0; a < na; a++) {
        const char *m = mask + a * step_a;
        T *t = tile + a * nb;
        if (step_b == 1)
            for (ptrdiff_t b = 0; b < nb; b++) t[b] = m[b] ? t[b] : fill;
        else
            for (ptrdiff_t b = 0; b < nb; b++) t[b] = m[b * step_b] ? t[b] : fill;
    }
}

/* x / divisor in T, as NumPy's x.astype(T) / T(divisor) */
static void TK(divide_block)(T *tile, ptrdiff_t len, T divisor) {
    for (ptrdiff_t i = 0; i < len; i++) tile[i] = tile[i] / divisor;
}

/* The packed input of one tile: (na, nb) elements of x (and b) at these
 * offsets, masked and divided. Steps a and b are the operand's (outer, n)
 * steps for rows, (n, inner) steps for columns. */
typedef struct {
    ptrdiff_t na, nb;
    int rows; /* a runs over outer (rows), else over n (columns) */
} TK(tile_shape);

CSM_TILE_INLINE ptrdiff_t TK(step_a)(const csm_tile_operand *op, int rows) {
    return rows ? op->outer_step : op->n_step;
}

CSM_TILE_INLINE ptrdiff_t TK(step_b)(const csm_tile_operand *op, int rows) {
    return rows ? op->n_step : op->inner_step;
}

CSM_TILE_INLINE ptrdiff_t TK(offset)(const csm_tile_operand *op, ptrdiff_t o, ptrdiff_t c) {
    return o * op->outer_step + c * op->inner_step;
}

static void TK(pack_operand)(const csm_tile_operand *op, ptrdiff_t o, ptrdiff_t c, TK(tile_shape) s,
                             T *tile) {
    TK(pack_block)(op->data + TK(offset)(op, o, c), TK(step_a)(op, s.rows), TK(step_b)(op, s.rows),
                   op->kind, tile, s.na, s.nb);
}

static void TK(apply_mask)(const csm_tiled *call, ptrdiff_t o, ptrdiff_t c, TK(tile_shape) s,
                           T *tile, T fill) {
    const csm_tile_operand *m = &call->mask;
    TK(mask_block)(m->data + TK(offset)(m, o, c), TK(step_a)(m, s.rows), TK(step_b)(m, s.rows),
                   tile, s.na, s.nb, fill);
}

/* Whether the kernels can write a tile's output into y itself: T side by side
 * along b (the tile's contiguous axis), aligned, lines and slices a whole
 * number of T apart. */
CSM_TILE_INLINE int TK(writes_in_place)(const csm_tile_operand *y, int rows) {
    const ptrdiff_t size = (ptrdiff_t)sizeof(T);
    return y->kind == TK_OWN_KIND && TK(step_b)(y, rows) == size &&
           TK(step_a)(y, rows) % size == 0 && y->outer_step % size == 0 &&
           (uintptr_t)y->data % sizeof(T) == 0;
}

/* Rows [first, first + count) (inner == 1) or column-block tasks. */
void CSM_EXPORT(TK(norm_tiled))(const csm_kernel_table *k, const csm_tiled *call,
                                ptrdiff_t first, ptrdiff_t count, T *tile, int row_threads) {
    const ptrdiff_t n = call->n, inner = call->inner;
    const T scale = (T)call->scale;
    const T fill = call->flags & CSM_LOG ? -(T)INFINITY : 0;
    const int rows = inner == 1;
    const ptrdiff_t per_tile = rows ? csm_tile_rows(call, sizeof(T)) : 1;
    const ptrdiff_t width = rows ? 1 : csm_tile_width(n, inner, sizeof(T));
    const ptrdiff_t blocks = (inner + width - 1) / width;
    for (ptrdiff_t task = first; task < first + count; task += per_tile) {
        ptrdiff_t o = rows ? task : task / blocks, c = rows ? 0 : task % blocks * width;
        TK(tile_shape) s = {rows ? (first + count - task < per_tile ? first + count - task : per_tile) : n,
                            rows ? n : (inner - c < width ? inner - c : width), rows};
        TK(pack_operand)(&call->x, o, c, s, tile);
        if (call->mask.data) TK(apply_mask)(call, o, c, s, tile, -(T)INFINITY);
        /* The kernels write y itself where its lines are T side by side (and no
         * mask fill follows), else the tile (csm_tile_separate_output: its
         * second half), unpacked after. */
        const csm_tile_operand *y = &call->y;
        char *y_at = y->data + TK(offset)(y, o, c);
        const int direct = !call->mask.data && TK(writes_in_place)(y, rows);
        T *out = direct ? (T *)(void *)y_at
                 : csm_tile_separate_output(call, sizeof(T)) ? tile + (rows ? per_tile : width) * n : tile;
        const ptrdiff_t out_step = direct ? TK(step_a)(y, rows) / (ptrdiff_t)sizeof(T) : s.nb;
        if (!rows)
            k->TK(norm_cols)(tile, s.nb, out, out_step, n, s.nb, scale, call->flags);
        else if (n < CSM_HUGE_ROW)
            k->TK(norm_rows)(tile, n, out, out_step, s.na, n, scale, call->flags);
        else
            for (ptrdiff_t r = 0; r < s.na; r++)
                k->TK(norm_huge_row)(tile + r * n, out + r * out_step, n, scale, call->flags,
                                     row_threads);
        if (direct) continue;
        if (call->mask.data) TK(apply_mask)(call, o, c, s, out, fill);
        TK(unpack_block)(out, y_at, TK(step_a)(y, rows), TK(step_b)(y, rows), y->kind, s.na, s.nb);
    }
}

void CSM_EXPORT(TK(lse_tiled))(const csm_kernel_table *k, const csm_tiled *call,
                               ptrdiff_t first, ptrdiff_t count, T *tile, T *result, T *sign,
                               int row_threads) {
    const ptrdiff_t n = call->n, inner = call->inner;
    const int rows = inner == 1;
    const ptrdiff_t per_tile = rows ? csm_tile_rows(call, sizeof(T)) : 1;
    const ptrdiff_t width = rows ? 1 : csm_tile_width(n, inner, sizeof(T));
    const ptrdiff_t blocks = (inner + width - 1) / width;
    T *weights = call->b.data ? tile + (rows ? per_tile * n : n * width) : NULL;
    for (ptrdiff_t task = first; task < first + count; task += per_tile) {
        ptrdiff_t o = rows ? task : task / blocks, c = rows ? 0 : task % blocks * width;
        TK(tile_shape) s = {rows ? (first + count - task < per_tile ? first + count - task : per_tile) : n,
                            rows ? n : (inner - c < width ? inner - c : width), rows};
        TK(pack_operand)(&call->x, o, c, s, tile);
        if (call->divisor != 1) TK(divide_block)(tile, s.na * s.nb, (T)call->divisor);
        if (call->mask.data) TK(apply_mask)(call, o, c, s, tile, -(T)INFINITY);
        if (weights) TK(pack_operand)(&call->b, o, c, s, weights);
        T *res = result + o * inner + c;
        T *sgn = sign ? sign + o * inner + c : NULL;
        if (!rows)
            k->TK(lse_cols)(tile, s.nb, weights, res, sgn, n, s.nb, call->flags);
        else if (n < CSM_HUGE_ROW)
            k->TK(lse_rows)(tile, n, weights, res, sgn, s.na, n, call->flags);
        else
            for (ptrdiff_t r = 0; r < s.na; r++)
                k->TK(lse_huge_row)(tile + r * n, weights ? weights + r * n : NULL, n, call->flags,
                                    row_threads, res + r, sgn ? sgn + r : NULL);
    }
}

#undef TK
#undef TK_OWN_KIND
#undef TK_OTHER_KIND
#undef TK_CAT
#undef TK_CAT_
