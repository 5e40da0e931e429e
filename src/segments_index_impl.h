/*
 * Scans of a segment index (int64 ids, one per position), compiled once per
 * ISA build (segments_isa.h): a vector of ids at a time, where the Cython
 * loops they replace compared one id at a time.
 *
 * index_offsets: a sorted index becomes a CSR pointer in one pass. Ids change
 * at few positions (once per segment), so a block of ids is first compared
 * with the block one position on; only a block holding a change (or a
 * decrease) is walked id by id.
 * index_summary: the checks of an unsorted index, its first negative id and
 * its largest.
 */
#define INDEX_BLOCK (4 * csm_lanes_f64) /* ids compared per step */

/* Block [i, i + INDEX_BLOCK) of ids (and the one after it) holds no change. */
CSM_INLINE int index_block_constant(const int64_t *index, ptrdiff_t i) {
    csm_vi64 changed = {0};
    for (ptrdiff_t k = 0; k < INDEX_BLOCK; k += csm_lanes_f64) {
        csm_vi64 here, next;
        memcpy(&here, index + i + k, sizeof here);
        memcpy(&next, index + i + k + 1, sizeof next);
        changed |= here != next;
    }
    return !csm_any_f64(changed);
}

int CSM_EXPORT(index_offsets)(const int64_t *index, ptrdiff_t n, int64_t *offsets,
                              ptrdiff_t segments) {
    int64_t filled = 0, previous = 0; /* offsets[0 .. filled] are set */
    ptrdiff_t i = 0;
    offsets[0] = 0;
    while (i < n) {
        /* a whole block of the current id: nothing to fill */
        if (i + INDEX_BLOCK < n && index[i] == previous && index_block_constant(index, i)) {
            i += INDEX_BLOCK;
            continue;
        }
        ptrdiff_t stop = i + INDEX_BLOCK < n ? i + INDEX_BLOCK : n;
        for (; i < stop; i++) {
            int64_t v = index[i];
            if (v < previous || v >= segments) return 0; /* a negative first id too */
            previous = v;
            while (filled < v) offsets[++filled] = i;
        }
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
