/*
 * Fused linear cross-entropy's gradient, template (included by
 * kernels_instance.h after kernels_impl.h, with the same T, SUF, VT, VI).
 *
 * A tile of logits (rows of n classes, starting at class first_class of a
 * vocabulary of p->vocabulary, possibly soft-capped) whose every row's final
 * log-sum-exp L is known (the whole vocabulary's, not the tile's) becomes, in
 * place, the gradient of the reduced loss with respect to the uncapped logits:
 *   g_j = s ((1 + 2 z L) p_j - eps / V - (1 - eps) [j == y]) (1 - (x_j / cap)^2)
 * with p_j = exp(x_j - L), s the reduction's scale, z the z-loss weight, eps
 * the label smoothing and the last factor only with a cap. Rows labelled
 * ignore_index become 0. One pass: the tile is the only buffer, so the
 * caller needs no second tile for the gradient.
 *
 * exp(x - L) is taken as exp(x - shift) exp(shift - L), shift as the
 * normalisers choose it for a row max of L (K(origin_of)): x - L is never
 * rounded, the first factor is a vector exp, the second one double exp per
 * row. Accuracy: p_j within 2 ulp of exp(x_j - L).
 */
#include "loss.h" /* csm_lce_params */

CSM_INLINE void K(lce_grad_step)(T *x, ptrdiff_t valid, K(origin) o, int form, VT factor,
                                 VT offset, VT cap, int capped) {
    VT v = K(load_valid)(x, valid, 0);
    VT g = factor * K(exp_from)(v, o, V(splat)(1), form) - offset;
    if (capped) {
        VT c = v / cap;
        g *= V(splat)(1) - c * c;
    }
    K(store_valid)(x, g, valid);
}

CSM_INLINE void K(lce_grad_row)(T *x, ptrdiff_t n, K(origin) o, int form, T factor, T offset,
                                T cap, int capped) {
    VT vf = V(splat)(factor), voff = V(splat)(offset), vcap = V(splat)(cap);
#define LCE_GRAD_STEP(i, valid, u) K(lce_grad_step)(x + (i), valid, o, form, vf, voff, vcap, capped)
    ROW_LOOP(n, LCE_GRAD_STEP);
#undef LCE_GRAD_STEP
}

static void K(lce_grad_rows)(T *x, ptrdiff_t row_step, ptrdiff_t rows, ptrdiff_t n, const T *lse,
                             const int64_t *labels, ptrdiff_t first_class,
                             const csm_lce_params *p) {
    const double s = p->grad_scale;
    const T offset = (T)(s * p->smoothing / p->vocabulary), hit = (T)(s * (1 - p->smoothing));
    const int capped = p->cap > 0;
    for (ptrdiff_t r = 0; r < rows; r++) {
        T *xr = x + r * row_step;
        if (labels[r] == p->ignore_index) {
            memset(xr, 0, (size_t)n * sizeof(T));
            continue;
        }
        const T m = lse[r];
        const K(origin) o = K(origin_of)(V(splat)(m), 1);
        const int form = K(exp_form)((T)-INFINITY, o, 1); /* the clamping form */
        const double a = s * (1 + 2 * p->z_loss * m);
        const T factor = (T)(a * exp(K(lane_gap)(o, 0, form, m)));
        const ptrdiff_t y = labels[r] - first_class;
        const int has_target = y >= 0 && y < n;
        const T x_y = has_target ? xr[y] : 0;
#define LCE_GRAD_ROW(f)                                                                   \
    do {                                                                                  \
        if (capped) K(lce_grad_row)(xr, n, o, f, factor, offset, (T)p->cap, 1);          \
        else K(lce_grad_row)(xr, n, o, f, factor, offset, 1, 0);                         \
    } while (0)
        BY_FORM(form, LCE_GRAD_ROW);
#undef LCE_GRAD_ROW
        if (has_target) { /* the target's term, from its logit saved above */
            T g = factor * K(exp_from)(V(splat)(x_y), o, V(splat)(1), form)[0] - offset - hit;
            if (capped) {
                const T c = x_y / (T)p->cap;
                g *= 1 - c * c;
            }
            xr[y] = g;
        }
    }
}
