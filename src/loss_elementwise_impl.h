/*
 * Element-wise losses, template: binary cross-entropy with logits (weight,
 * pos_weight), sigmoid focal loss, KL divergence, and sigmoid / log_sigmoid.
 * Included by kernels_instance.h once per element type after kernels_impl.h,
 * with the same T, SUF, VT, VI.
 *
 * Layout: logits x and target t of the same shape, both contiguous, walked as
 * one flat range [lo, hi) of elements; broadcast operands (weight,
 * pos_weight) addressed on a (rows, n) grid (csm_operand). The caller cuts the
 * elements into fixed chunks (CSM_ELEM_CHUNK, independent of the thread
 * count) and sums the per-chunk totals in order, so totals do not depend on
 * the thread count.
 *
 * Everything is built from e = exp(-|x|) in (0, 1]:
 *   log1p(e)                     softplus(x) = max(x, 0) + log1p(e)
 *   r = 1 / (1 + e)              sigmoid(x) = r (x >= 0) or e r (x < 0)
 * so nothing overflows and nothing cancels at logits of any size. Accuracy:
 * vmath.h's exp and log kernels are below 1 ulp; the losses and gradients
 * stay within 1e-13 relative (float64) and a few ulp (float32) of a float64
 * reference (tests/test_losses.py); sums run in T within blocks and in
 * double across them.
 */
/* The pieces of the logistic function of x that the losses share. */
typedef struct {
    VT e;   /* exp(-|x|) */
    VT lp;  /* log1p(e) */
} K(logistic);

CSM_INLINE K(logistic) K(logistic_of)(VT x) {
    VT a = V(select)(x < 0, -x, x);
    K(logistic) l;
    l.e = V(exp)(-a);
    l.lp = V(log1p_unit)(l.e);
    return l;
}

/* sigmoid(x) and sigmoid(-x) */
CSM_INLINE void K(sigmoids)(VT x, VT e, VT *s_pos, VT *s_neg) {
    VT r = 1 / (1 + e), er = e * r;
    VI positive = x >= 0;
    *s_pos = V(select)(positive, r, er);
    *s_neg = V(select)(positive, er, r);
}

CSM_INLINE VT K(relu)(VT x) { return V(max)(x, V(splat)(0)); }

/* ---------- sigmoid and log_sigmoid ---------- */

CSM_INLINE void K(logistic_step)(const T *x, T *y, ptrdiff_t valid, int log) {
    VT xv = K(load_valid)(x, valid, 0);
    K(logistic) l = K(logistic_of)(xv);
    VT r;
    if (log) { /* -softplus(-x) = min(x, 0) - log1p(e) */
        r = V(min)(xv, V(splat)(0)) - l.lp;
    } else {
        VT s_neg;
        K(sigmoids)(xv, l.e, &r, &s_neg);
    }
    K(store_valid)(y, r, valid);
}

CSM_INLINE void K(logistic_row)(const T *x, T *y, ptrdiff_t n, int log) {
#define LOGISTIC_STEP(i, valid, u) K(logistic_step)(x + (i), y + (i), valid, log)
    ROW_LOOP(n, LOGISTIC_STEP);
#undef LOGISTIC_STEP
}

/* sigmoid (log = 0) or log_sigmoid (log = 1) of n contiguous elements; y may be x. */
static void K(logistic_rows)(const T *x, T *y, ptrdiff_t n, int log) {
    if (log) K(logistic_row)(x, y, n, 1);
    else K(logistic_row)(x, y, n, 0);
}

/* ---------- binary cross-entropy with logits ---------- */

/*
 * weight w, pos_weight q (1 where absent):
 *   loss = w (q t softplus(-x) + (1 - t) softplus(x))
 *   grad = w ((1 - t) sigmoid(x) - q t sigmoid(-x))
 * Operands are addressed on a (rows, n) grid: a row's entries are
 * data[r row_step + j col_step] with col_step 0 (one value per row) or 1.
 */
CSM_INLINE VT K(operand)(const T *p, VT value, ptrdiff_t i, ptrdiff_t valid) {
    return p ? K(load_valid)(p + i, valid, 1) : value;
}

/* The loop of every element-wise loss over a chunk of len elements:
 * STEP(i, valid, u) for elements i of [0, len), ROW_BLOCK elements at a time
 * into UNROLL accumulators acc[u]; each block's sum is added to the double
 * `total` in order, so a chunk's sum depends on its values only. */
#define ELEM_BLOCKS(len, STEP, acc, total)                                                   \
    for (ptrdiff_t start_ = 0; start_ < (len); start_ += ROW_BLOCK) {                       \
        const ptrdiff_t block_ = (len) - start_ < ROW_BLOCK ? (len) - start_ : ROW_BLOCK;   \
        for (int u_ = 0; u_ < UNROLL; u_++) (acc)[u_] = V(splat)(0);                         \
        ROW_LOOP(block_, STEP);                                                              \
        (total) += V(hsum)(K(combine)(acc));                                                 \
    }

/* One vector of elements from offset i: the loss into *acc (and loss + i), the
 * gradient times scale into grad + i. */
CSM_INLINE void K(bce_step)(const T *x, const T *t, const T *w, VT wv, const T *q, VT qv,
                            ptrdiff_t i, ptrdiff_t valid, VT scale, T *loss, T *grad, int has_w,
                            int has_q, VT *acc) {
    VT xv = K(load_valid)(x + i, valid, 0);
    VT tv = K(load_valid)(t + i, valid, 0);
    K(logistic) l = K(logistic_of)(xv);
    VT pos = has_q ? V(rounded)(K(operand)(q, qv, i, valid) * tv) : tv;
    VT neg = 1 - tv;
    VT v = V(rounded)(neg * (K(relu)(xv) + l.lp)) + V(rounded)(pos * (K(relu)(-xv) + l.lp));
    VT wt = has_w ? K(operand)(w, wv, i, valid) : V(splat)(1);
    if (has_w) v = V(rounded)(v * wt);
    if (valid != LANES) v = V(select)(V(first_lanes)(valid), v, V(splat)(0));
    *acc += v;
    if (loss) K(store_valid)(loss + i, v, valid);
    if (grad) {
        VT sp, sn;
        K(sigmoids)(xv, l.e, &sp, &sn);
        VT g = neg * sp - pos * sn;
        if (has_w) g *= wt;
        K(store_valid)(grad + i, g * scale, valid);
    }
}

CSM_INLINE double K(bce_segment)(const T *x, const T *t, const T *w, VT wv, const T *q, VT qv,
                                 ptrdiff_t len, VT scale, T *loss, T *grad, int has_w,
                                 int has_q) {
    VT acc[UNROLL];
    double total = 0;
#define BCE_STEP(i, valid, u)                                                                  \
    K(bce_step)(x, t, w, wv, q, qv, start_ + (i), valid, scale, loss, grad, has_w, has_q, &acc[u])
    ELEM_BLOCKS(len, BCE_STEP, acc, total);
#undef BCE_STEP
    return total;
}

static double K(bce_segment_any)(const T *x, const T *t, const T *w, VT wv, int has_w,
                                 const T *q, VT qv, int has_q, ptrdiff_t len, VT scale,
                                 T *loss, T *grad) {
    if (grad) {
        if (has_w && has_q) return K(bce_segment)(x, t, w, wv, q, qv, len, scale, loss, grad, 1, 1);
        if (has_w) return K(bce_segment)(x, t, w, wv, NULL, wv, len, scale, loss, grad, 1, 0);
        if (has_q) return K(bce_segment)(x, t, NULL, wv, q, qv, len, scale, loss, grad, 0, 1);
        return K(bce_segment)(x, t, NULL, wv, NULL, qv, len, scale, loss, grad, 0, 0);
    }
    if (has_w && has_q) return K(bce_segment)(x, t, w, wv, q, qv, len, scale, loss, NULL, 1, 1);
    if (has_w) return K(bce_segment)(x, t, w, wv, NULL, wv, len, scale, loss, NULL, 1, 0);
    if (has_q) return K(bce_segment)(x, t, NULL, wv, q, qv, len, scale, loss, NULL, 0, 1);
    return K(bce_segment)(x, t, NULL, wv, NULL, qv, len, scale, loss, NULL, 0, 0);
}

/* An operand's entries for row r from column j: a pointer (col_step 1) or a value. */
CSM_INLINE const T *K(operand_row)(const csm_operand *o, ptrdiff_t r, ptrdiff_t j, VT *value) {
    const T *base = (const T *)o->data + r * o->row_step;
    if (o->col_step) return base + j;
    *value = V(splat)(*base);
    return NULL;
}

static double K(bce_range)(const T *x, const T *t, ptrdiff_t lo, ptrdiff_t hi,
                           const csm_elem_params *p, T *loss, T *grad) {
    const ptrdiff_t n = p->n;
    const int has_w = p->weight.data != NULL, has_q = p->pos_weight.data != NULL;
    VT scale = V(splat)((T)p->grad_scale);
    double total = 0;
    for (ptrdiff_t i = lo; i < hi;) {
        ptrdiff_t r = i / n, j = i - r * n, len = n - j < hi - i ? n - j : hi - i;
        VT wv = V(splat)(1), qv = V(splat)(1);
        const T *w = has_w ? K(operand_row)(&p->weight, r, j, &wv) : NULL;
        const T *q = has_q ? K(operand_row)(&p->pos_weight, r, j, &qv) : NULL;
        total += K(bce_segment_any)(x + i, t + i, w, wv, has_w, q, qv, has_q, len, scale,
                                    loss ? loss + i : NULL, grad ? grad + i : NULL);
        i += len;
    }
    return total;
}

/* ---------- sigmoid focal loss (torchvision) ---------- */

/*
 * u = 1 - p_t = t sigmoid(-x) + (1 - t) sigmoid(x), ce = BCE(x, t):
 *   loss = alpha_t ce u^gamma
 *   grad = alpha_t (((1 - t) sigmoid(x) - t sigmoid(-x)) u^gamma
 *                   + ce gamma u^(gamma - 1) sigmoid(x) sigmoid(-x) (1 - 2t))
 * with alpha_t = alpha t + (1 - alpha)(1 - t), or 1 for alpha < 0.
 * power: 0 (gamma = 0), 1, 2, or 3 for any other gamma (exp(gamma log u)).
 */
/* One vector of elements from offset i, as bce_step. */
CSM_INLINE void K(sfocal_step)(const T *x, const T *t, ptrdiff_t i, ptrdiff_t valid, T gamma,
                               T alpha, int use_alpha, int power, VT scale, T *loss, T *grad,
                               VT *acc) {
    VT xv = K(load_valid)(x + i, valid, 0);
    VT tv = K(load_valid)(t + i, valid, 0);
    K(logistic) l = K(logistic_of)(xv);
    VT sp, sn;
    K(sigmoids)(xv, l.e, &sp, &sn);
    VT neg = 1 - tv;
    VT ce = V(rounded)(neg * (K(relu)(xv) + l.lp)) + V(rounded)(tv * (K(relu)(-xv) + l.lp));
    VT q = V(rounded)(tv * sn) + V(rounded)(neg * sp);
    VT qg, dq; /* u^gamma, gamma u^(gamma - 1) */
    if (power == 0) {
        qg = V(splat)(1);
        dq = V(splat)(0);
    } else if (power == 1) {
        qg = q;
        dq = V(splat)(1);
    } else if (power == 2) {
        qg = V(rounded)(q * q);
        dq = 2 * q;
    } else {
        qg = V(exp)(V(rounded)(gamma * V(log_full)(q)));
        dq = V(select)(q > 0, gamma * qg / V(select)(q > 0, q, V(splat)(1)), V(splat)(0));
    }
    VT v = V(rounded)(ce * qg);
    VT at = V(splat)(1);
    if (use_alpha) {
        at = V(rounded)(alpha * tv) + V(rounded)((1 - alpha) * neg);
        v = V(rounded)(at * v);
    }
    if (valid != LANES) v = V(select)(V(first_lanes)(valid), v, V(splat)(0));
    *acc += v;
    if (loss) K(store_valid)(loss + i, v, valid);
    if (grad) {
        VT g = (neg * sp - tv * sn) * qg;
        /* sp sn first: it is 0 where ce is huge, and ce dq alone may overflow */
        if (power != 0) g += ce * ((sp * sn) * dq) * (1 - 2 * tv);
        if (use_alpha) g *= at;
        K(store_valid)(grad + i, g * scale, valid);
    }
}

CSM_INLINE double K(sfocal_chunk)(const T *x, const T *t, ptrdiff_t len, T gamma, T alpha,
                                  int use_alpha, int power, VT scale, T *loss, T *grad) {
    VT acc[UNROLL];
    double total = 0;
#define SFOCAL_STEP(i, valid, u)                                                               \
    K(sfocal_step)(x, t, start_ + (i), valid, gamma, alpha, use_alpha, power, scale, loss, grad, \
                   &acc[u])
    ELEM_BLOCKS(len, SFOCAL_STEP, acc, total);
#undef SFOCAL_STEP
    return total;
}

static double K(sfocal_range)(const T *x, const T *t, ptrdiff_t lo, ptrdiff_t hi,
                              const csm_elem_params *p, T *loss, T *grad) {
    const T gamma = (T)p->gamma, alpha = (T)p->alpha;
    const int use_alpha = p->alpha >= 0;
    const int power = p->gamma == 0 ? 0 : p->gamma == 1 ? 1 : p->gamma == 2 ? 2 : 3;
    VT scale = V(splat)((T)p->grad_scale);
    x += lo, t += lo;
    loss = loss ? loss + lo : NULL;
    grad = grad ? grad + lo : NULL;
    ptrdiff_t len = hi - lo;
#define SFOCAL_CASE(P)                                                                     \
    return grad ? (use_alpha ? K(sfocal_chunk)(x, t, len, gamma, alpha, 1, P, scale, loss, grad) \
                             : K(sfocal_chunk)(x, t, len, gamma, alpha, 0, P, scale, loss, grad)) \
                : (use_alpha ? K(sfocal_chunk)(x, t, len, gamma, alpha, 1, P, scale, loss, NULL) \
                             : K(sfocal_chunk)(x, t, len, gamma, alpha, 0, P, scale, loss, NULL))
    switch (power) {
    case 0: SFOCAL_CASE(0);
    case 1: SFOCAL_CASE(1);
    case 2: SFOCAL_CASE(2);
    default: SFOCAL_CASE(3);
    }
#undef SFOCAL_CASE
}

/* ---------- KL divergence (torch.nn.functional.kl_div) ---------- */

/*
 * input x (log-probabilities), target t:
 *   log_target = 0: loss = t log t - t x (0 log 0 = 0), grad = -t
 *   log_target = 1: loss = exp(t) (t - x),               grad = -exp(t)
 */
/* One vector of elements from offset i, as bce_step. */
CSM_INLINE void K(kl_step)(const T *x, const T *t, ptrdiff_t i, ptrdiff_t valid, int log_target,
                           VT scale, T *loss, T *grad, VT *acc) {
    VT xv = K(load_valid)(x + i, valid, 0);
    VT tv = K(load_valid)(t + i, valid, 0);
    VT p, v;
    if (log_target) {
        p = V(exp)(tv);
        v = V(rounded)(p * (tv - xv));
    } else {
        p = tv;
        VT tlogt = V(select)(tv == 0, V(splat)(0), V(rounded)(tv * V(log_full)(tv)));
        v = tlogt - V(rounded)(tv * xv);
    }
    if (valid != LANES) v = V(select)(V(first_lanes)(valid), v, V(splat)(0));
    *acc += v;
    if (loss) K(store_valid)(loss + i, v, valid);
    if (grad) K(store_valid)(grad + i, -p * scale, valid);
}

CSM_INLINE double K(kl_chunk)(const T *x, const T *t, ptrdiff_t len, int log_target, VT scale,
                              T *loss, T *grad) {
    VT acc[UNROLL];
    double total = 0;
#define KL_STEP(i, valid, u) \
    K(kl_step)(x, t, start_ + (i), valid, log_target, scale, loss, grad, &acc[u])
    ELEM_BLOCKS(len, KL_STEP, acc, total);
#undef KL_STEP
    return total;
}

static double K(kl_range)(const T *x, const T *t, ptrdiff_t lo, ptrdiff_t hi,
                          const csm_elem_params *p, T *loss, T *grad) {
    VT scale = V(splat)((T)p->grad_scale);
    x += lo, t += lo;
    loss = loss ? loss + lo : NULL;
    ptrdiff_t len = hi - lo;
    if (grad) {
        grad += lo;
        return p->kind == CSM_KL_LOG ? K(kl_chunk)(x, t, len, 1, scale, loss, grad)
                                     : K(kl_chunk)(x, t, len, 0, scale, loss, grad);
    }
    return p->kind == CSM_KL_LOG ? K(kl_chunk)(x, t, len, 1, scale, loss, NULL)
                                 : K(kl_chunk)(x, t, len, 0, scale, loss, NULL);
}

/* Elements [lo, hi) of an element-wise loss (p->kind); returns their loss sum in
 * double; writes the losses (if loss) and the gradient times p->grad_scale (if grad). */
static double K(elem_loss)(const T *x, const T *t, ptrdiff_t lo, ptrdiff_t hi,
                           const csm_elem_params *p, T *loss, T *grad) {
    switch (p->kind) {
    case CSM_BCE: return K(bce_range)(x, t, lo, hi, p, loss, grad);
    case CSM_SIGMOID_FOCAL: return K(sfocal_range)(x, t, lo, hi, p, loss, grad);
    default: return K(kl_range)(x, t, lo, hi, p, loss, grad);
    }
}
