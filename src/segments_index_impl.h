/*
 * Scans of a segment index (int64 ids, one per position), compiled once per
 * ISA build (segments_isa.h): a vector of ids at a time, where the Cython
 * loops they replace compared one id at a time.
 *
 * index_offsets: a sorted index becomes a CSR pointer in one pass. Ids change
 * at few positions (once per segment): a block of ids is compared with the
 * block one position on, and only the changes found (bits of the comparison
 * masks) fill offsets.
 * index_summary: the checks of an unsorted index, its first negative id and
 * its largest.
 */
#define INDEX_VECTORS 4                             /* vectors of ids compared per step */
#define INDEX_BLOCK (INDEX_VECTORS * csm_lanes_f64) /* ids compared per step */

/* Ids [i, i + INDEX_BLOCK] against the next ones: the positions j whose next id
 * differs from id j, bit j - i of *changed; whether any next id is smaller. */
CSM_INLINE int index_block_decreases(const int64_t *index, ptrdiff_t i, uint64_t *changed) {
    csm_vi64 decreased = {0};
    uint64_t bits = 0;
    for (int k = 0; k < INDEX_VECTORS; k++) {
        csm_vi64 here, next;
        memcpy(&here, index + i + k * csm_lanes_f64, sizeof here);
        memcpy(&next, index + i + k * csm_lanes_f64 + 1, sizeof next);
        decreased |= next < here;
        bits |= (uint64_t)csm_bits_f64(here != next) << (k * csm_lanes_f64);
    }
    *changed = bits;
    return csm_any_f64(decreased);
}

int CSM_EXPORT(index_offsets)(const int64_t *index, ptrdiff_t n, int64_t *offsets,
                              ptrdiff_t segments) {
    int64_t filled = 0; /* offsets[0 .. filled] are set */
    offsets[0] = 0;
    if (n == 0) {
        while (filled < segments) offsets[++filled] = 0;
        return 1;
    }
    if (index[0] < 0 || index[0] >= segments) return 0;
    while (filled < index[0]) offsets[++filled] = 0;
    ptrdiff_t i = 0;
    for (; i + INDEX_BLOCK < n; i += INDEX_BLOCK) {
        uint64_t changed;
        if (index_block_decreases(index, i, &changed)) return 0;
        for (; changed; changed &= changed - 1) {
            ptrdiff_t start = i + 1 + __builtin_ctzll(changed); /* a segment starts here */
            int64_t v = index[start];
            if (v >= segments) return 0;
            while (filled < v) offsets[++filled] = start;
        }
    }
    for (i = i + 1; i < n; i++) {
        int64_t v = index[i];
        if (v < index[i - 1] || v >= segments) return 0;
        while (filled < v) offsets[++filled] = i;
    }
    while (filled < segments) offsets[++filled] = n;
    return 1;
}

void CSM_EXPORT(index_summary)(const int64_t *index, ptrdiff_t n, ptrdiff_t *negative,
                               int64_t *top) {
    csm_vi64 high = {0};
    high -= 1;
    ptrdiff_t i = 0;
    for (; i + INDEX_BLOCK <= n; i += INDEX_BLOCK) {
        csm_vi64 below = {0}, block_high = high;
        for (ptrdiff_t k = 0; k < INDEX_BLOCK; k += csm_lanes_f64) {
            csm_vi64 v;
            memcpy(&v, index + i + k, sizeof v);
            csm_vi64 above = v > block_high;
            block_high = (above & v) | (~above & block_high);
            below |= v < 0;
        }
        if (csm_any_f64(below)) break; /* the walk below finds the position */
        high = block_high;
    }
    int64_t largest = -1;
    for (int l = 0; l < csm_lanes_f64; l++) largest = high[l] > largest ? high[l] : largest;
    *negative = -1;
    for (; i < n; i++) {
        if (index[i] < 0) {
            *negative = i;
            break;
        }
        largest = index[i] > largest ? index[i] : largest;
    }
    *top = largest;
}

#undef INDEX_BLOCK
#undef INDEX_VECTORS
