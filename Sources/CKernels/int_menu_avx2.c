// Many min/max integer options measured on stored BF16 in one pass (the solver's integer menu), under the
// piece definition of the integer quantizer: each run (a row) is measured in pieces of P = piece_length values
// from its start (the last one shorter); a piece holds whole groups, each fake-quantized with its own min/max
// grid (int_grid_from_min_max of ClippingSearch.minMax), and the WHOLE piece is measured as one
// ErrorMetrics(original:reconstructed:) (error_sums: blocks of 64 from the piece's start, each lane's Float32
// sums of 8 products, the block sums added to Double in lane order; then the scalar tail, the lanes' zeros and
// maximum); pieces are merged in order (merge_piece). Every option's numbers equal the one-option kernel's under
// that definition bit for bit (a NaN sum's payload aside, see IntMenuKernelTests.same).
//
// The kernel takes group lengths that divide piece_length (then every option's pieces are the same
// [k·P, (k+1)·P) of each row: a row option's P is min(P, row) too) and refuses others (returns 0: the caller
// measures each option alone). Two paths:
// - fast (the solver's menu): every group length a multiple of 32, the rows a multiple of the largest group and
//   of 64, chunks (max(1024, largest group) values) dividing P. Each row is decoded once; per chunk, KernelSIMD
//   minimum/maximum lanes once per smallest group, folded for the longer groups, eight groups' ranges at once
//   (a transposed reduction) and eight grids at once (int_grid8); then every option runs over the chunk in L1
//   as plain 64-value blocks (a g32 option switches grid after four vectors), its block sums running across the
//   piece. Σw² does not depend on the option: the first option's loop computes it (the same blocks, the same
//   Double order) into the lane its own sums leave free. The clamp and the keep mask (scale 0 → +0) are left
//   out where they provably change nothing (grids_steps: symmetric grids need neither, asymmetric ones only the
//   clamp to b), per chunk; a chunk with a group of scale 0, subnormal or infinite takes every step. Two blocks
//   are interleaved (two chains of lane sums in flight); the rounding is roundps.
//   Measured and not kept: round(w/s) from the reciprocal with an exactness check and the division as fallback
//   (in the loop or in a second pass: 5–10 % slower, the check's operations cost what the division did); the
//   maximum error skipped for chunks whose scales bound their errors below the maximum so far (1–3 %, noise).
// - generic (anything else the kernel takes: short or ragged rows and groups, groups of 8 or 16): per row, per
//   option, per piece: each group quantized into a buffer (fake_quantize_grid), then error_sums on the piece.
#include "CKernels.h"
#pragma STDC FP_CONTRACT OFF

#if defined(__x86_64__)
#include "int_quantize_avx2.h"
#include <stdlib.h>

enum { max_options = 64, chunk_floor = 1024 };

/// ClippingSearch.minMax of n values (KernelSIMD.minMax's lanes over the whole blocks of 8, then the tail).
WL_AVX2 static inline void range_of(const float *x, long n, float *lo, float *hi) {
    __m256 l = _mm256_set1_ps(__builtin_inff()), h = _mm256_set1_ps(-__builtin_inff());
    for (long k = 0; k + 8 <= n; k += 8) {
        const __m256 v = _mm256_loadu_ps(x + k);
        l = _mm256_min_ps(v, l);               // v < l ? v : l
        h = _mm256_max_ps(v, h);               // v > h ? v : h
    }
    float ll[8], hl[8];
    _mm256_storeu_ps(ll, l);
    _mm256_storeu_ps(hl, h);
    reduce_min_max(ll, hl, x + (n & ~7L), n & 7L, lo, hi);
}

/// The generic path: the definition written out, per row, option and piece.
WL_AVX2 static int menu_generic(const uint16_t *x, long rows, long row_length, long piece_length,
                                const struct wl_int_option *options, long option_count, struct wl_totals *totals,
                                int64_t *source_zeros) {
    const long piece = piece_length < row_length ? piece_length : row_length;
    float *row = malloc(sizeof(float) * (size_t)(row_length + piece));
    if (!row) return 0;
    float *o = row + row_length;
    int64_t sz = 0;
    for (long r = 0; r < rows; r++) {
        // Counted per row: a row's zero count is below 2^31 per lane.
        sz += decode_bf16(x + r * row_length, row, row_length);
        float rlo, rhi;
        range_of(row, row_length, &rlo, &rhi);
        for (long k = 0; k < option_count; k++) {
            const long g = options[k].group_length;
            const int bits = options[k].bits, symmetric = options[k].symmetric;
            for (long p = 0; p < row_length; p += piece) {
                const long m = p + piece < row_length ? piece : row_length - p;
                if (g == 0) {
                    fake_quantize_grid(row + p, o, m, int_grid_from_min_max(rlo, rhi, bits, symmetric));
                } else {
                    for (long at = p; at < p + m; at += g) {
                        const long n = at + g < row_length ? g : row_length - at;
                        float lo, hi;
                        range_of(row + at, n, &lo, &hi);
                        fake_quantize_grid(row + at, o + (at - p), n, int_grid_from_min_max(lo, hi, bits, symmetric));
                    }
                }
                double s[4];
                float me;
                int64_t z;
                error_sums(row + p, o, m, s, &me, &z);
                merge_piece(&totals[k], s, me, z, m);
            }
        }
    }
    *source_zeros = sz;
    free(row);
    return 1;
}

/// Columns of eight rows: r[j]'s lane l goes to r[l]'s lane j.
WL_AVX2 static inline void transpose8_regs(__m256 r[8]) {
    __m256 u[8];
    for (int h = 0; h < 8; h += 4) {
        const __m256 t0 = _mm256_unpacklo_ps(r[h], r[h + 1]), t1 = _mm256_unpackhi_ps(r[h], r[h + 1]);
        const __m256 t2 = _mm256_unpacklo_ps(r[h + 2], r[h + 3]), t3 = _mm256_unpackhi_ps(r[h + 2], r[h + 3]);
        u[h] = _mm256_shuffle_ps(t0, t2, 0x44);         // columns 0 | 4 of rows h…h+3
        u[h + 1] = _mm256_shuffle_ps(t0, t2, 0xEE);     // columns 1 | 5
        u[h + 2] = _mm256_shuffle_ps(t1, t3, 0x44);     // columns 2 | 6
        u[h + 3] = _mm256_shuffle_ps(t1, t3, 0xEE);     // columns 3 | 7
    }
    for (int c = 0; c < 4; c++) {
        r[c] = _mm256_permute2f128_ps(u[c], u[c + 4], 0x20);
        r[c + 4] = _mm256_permute2f128_ps(u[c], u[c + 4], 0x31);
    }
}

/// reduce_min_max (no tail) of eight groups' lanes (lo[j], hi[j]: group j's), group j's range in lane j:
/// lo = lane 0, then `l < lo ? l : lo` (minps(l, lo)), hi = `l >= hi ? l : hi` (maxps(hi, l): the lanes are
/// never NaN, so this differs from `l > hi` only in which of two equal values it keeps, as reduce_min_max does),
/// lane after lane; (0, 0) where lo > hi (no value but NaN).
WL_AVX2 static inline void ranges8(__m256 lo[8], __m256 hi[8], float *lo_out, float *hi_out) {
    transpose8_regs(lo);
    transpose8_regs(hi);
    __m256 l = lo[0], h = hi[0];
    for (int k = 1; k < 8; k++) { l = _mm256_min_ps(lo[k], l); h = _mm256_max_ps(h, hi[k]); }
    const __m256 empty = _mm256_cmp_ps(l, h, _CMP_GT_OQ);
    _mm256_storeu_ps(lo_out, _mm256_andnot_ps(empty, l));
    _mm256_storeu_ps(hi_out, _mm256_andnot_ps(empty, h));
}

/// One option's grids for the groups of the current chunk (or row): the fake-quantizer's (scale, a, b) and keep
/// (all ones where the scale is not 0), group q at index q.
struct option_grids { float *scale, *a, *b, *keep; };

/// How much of the fake-quantizer's steps a chunk of one option needs: every step (the clamp to [a, b] and the
/// keep mask that makes a scale of 0 reconstruct +0), only the clamp to b, or neither.
enum { steps_all = 0, steps_top = 1, steps_none = 2 };

/// int_grid_from_min_max of the ranges lo[q], hi[q] of ng groups (the arrays padded to a multiple of 8) into gr;
/// returns the steps the groups' reconstruction needs (the least of them over the groups). A step can be left
/// out when it changes no reconstruction: round(clamp(t, a, b)) = round(t) when round(t) ∈ [a, b] (a and b
/// integers; x/s and the rounding are monotonic, NaN stays NaN either way).
/// - Symmetric with a normal scale: neither step (quantize_measure_group's comment in quantize_avx2.c: every
///   |x/s| ≤ qmax·(1 + 2^-22) rounds into [−qmax, qmax] ⊂ [a, b]).
/// - Asymmetric with a normal, finite scale: only the clamp to b. The lower side holds: for lo < 0, l0 = lo,
///   z = round(−lo/s) and a = −z = round(lo/s) (division and rounding to nearest even are odd functions, and
///   |lo/s| ≤ levels·(1 + 2^-22) is far below 2^22, where adding and subtracting 1.5·2²³ rounds exactly), so
///   x ≥ lo gives round(x/s) ≥ a; for lo ≥ 0, a = +0 ≤ round(x/s). The upper side can fail (when −lo/s and
///   hi/s both round up, at ties for example), so the clamp to b stays.
/// Otherwise (a scale of 0, subnormal or infinite: all-zero, NaN or infinite groups) every step.
WL_AVX2 static inline int grids_steps(const float *lo, const float *hi, long ng, int bits, int symmetric,
                                      struct option_grids *gr) {
    const __m256 zero = _mm256_setzero_ps();
    int all_normal = 1;
    for (long q = 0; q < ng; q += 8) {
        const __m256 l = _mm256_loadu_ps(lo + q), h = _mm256_loadu_ps(hi + q);
        __m256 s, a, b;
        int_grid8(l, h, bits, symmetric, &s, &a, &b);
        _mm256_storeu_ps(gr->scale + q, s);
        _mm256_storeu_ps(gr->a + q, a);
        _mm256_storeu_ps(gr->b + q, b);
        _mm256_storeu_ps(gr->keep + q, _mm256_cmp_ps(s, zero, _CMP_NEQ_UQ));
        const __m256 normal = _mm256_and_ps(_mm256_cmp_ps(s, _mm256_set1_ps(0x1p-126f), _CMP_GE_OQ),
                                            _mm256_cmp_ps(s, _mm256_set1_ps(0x1.fffffep127f), _CMP_LE_OQ));
        const int lanes = ng - q >= 8 ? 0xFF : (1 << (ng - q)) - 1;
        if ((_mm256_movemask_ps(normal) & lanes) != lanes) all_normal = 0;
    }
    return !all_normal ? steps_all : symmetric ? steps_none : steps_top;
}

/// One option's running sums over the current piece: (Σw² (only the first option's), Σe², Σwh, Σh²) in
/// error_sums' Double order, and its lanes' maximum |e| and zero counts.
struct option_state { __m256d acc; __m256 vmax; __m256i vzero; };

/// The reconstruction of 8 values w under the grid of group q with the given steps. roundps rounds to nearest
/// even as adding and subtracting 1.5·2²³ does for every t it meets here (|t| ≤ 256 or NaN), except that it
/// keeps the sign of a zero: h may be −0 where fake_quantize writes +0, which changes none of the measured
/// numbers (e² and |e| alike, w·h and h² added to lane sums that start at +0, h == 0 alike).
WL_AVX2 static inline __attribute__((always_inline)) __m256 reconstruct(__m256 w, const struct option_grids *gr, long q,
                                                                        int steps) {
    const __m256 sv = _mm256_broadcast_ss(gr->scale + q);
    __m256 t = _mm256_div_ps(w, sv);
    if (steps == steps_all) t = _mm256_max_ps(_mm256_broadcast_ss(gr->a + q), t);   // t < a ? a : t
    if (steps != steps_none) t = _mm256_min_ps(_mm256_broadcast_ss(gr->b + q), t);  // t > b ? b : t
    __m256 h = _mm256_mul_ps(_mm256_round_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), sv);
    if (steps == steps_all) h = _mm256_and_ps(h, _mm256_broadcast_ss(gr->keep + q));
    return h;
}

/// error_sums' loop body for one vector: w against h added to the block's lane sums, the lanes' max |e| and zeros.
#define MEASURE8(w, h, aww, aee, awh, ahh)                                                            \
    do {                                                                                             \
        const __m256 e_ = _mm256_sub_ps(w, h);                                                       \
        if (with_w) aww = _mm256_add_ps(aww, _mm256_mul_ps(w, w));                                   \
        aee = _mm256_add_ps(aee, _mm256_mul_ps(e_, e_));                                             \
        awh = _mm256_add_ps(awh, _mm256_mul_ps(w, h));                                               \
        ahh = _mm256_add_ps(ahh, _mm256_mul_ps(h, h));                                               \
        vmax = _mm256_max_ps(_mm256_and_ps(e_, absMask), vmax);   /* ae > vmax ? ae : vmax */        \
        vzero = _mm256_sub_epi32(vzero, _mm256_castps_si256(_mm256_cmp_ps(h, zero, _CMP_EQ_OQ)));   \
    } while (0)

/// error_sums' blocks of 64 over n values of a chunk (a multiple of 64) against their reconstruction under the
/// option's grids (group of value i: i >> shift), added to st. Two blocks at a time, their vectors interleaved
/// (two independent chains of lane sums in flight; their Double sums still added block after block). `with_w`:
/// also Σw² (into the lane the option's sums leave free).
WL_AVX2 static inline __attribute__((always_inline)) void chunk_sums(const float *c, long n, const struct option_grids *gr,
                                                                     int shift, int steps, int with_w,
                                                                     struct option_state *st) {
    const __m256 zero = _mm256_setzero_ps();
    const __m256 absMask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256d acc = st->acc;
    __m256 vmax = st->vmax;
    __m256i vzero = st->vzero;
    long k = 0;
    for (; k + 128 <= n; k += 128) {
        const long q0 = k >> shift, q1 = (k + 32) >> shift, q2 = (k + 64) >> shift, q3 = (k + 96) >> shift;
        __m256 aww = zero, aee = zero, awh = zero, ahh = zero;
        __m256 bww = zero, bee = zero, bwh = zero, bhh = zero;
        for (int i = 0; i < 8; i++) {
            const __m256 w = _mm256_loadu_ps(c + k + 8 * i), v = _mm256_loadu_ps(c + k + 64 + 8 * i);
            const __m256 h = reconstruct(w, gr, i < 4 ? q0 : q1, steps);
            const __m256 g = reconstruct(v, gr, i < 4 ? q2 : q3, steps);
            MEASURE8(w, h, aww, aee, awh, ahh);
            MEASURE8(v, g, bww, bee, bwh, bhh);
        }
        acc = add_block_sums(acc, aww, aee, awh, ahh);
        acc = add_block_sums(acc, bww, bee, bwh, bhh);
    }
    for (; k < n; k += 64) {
        const long q0 = k >> shift, q1 = (k + 32) >> shift;
        __m256 aww = zero, aee = zero, awh = zero, ahh = zero;
        for (int i = 0; i < 8; i++) {
            const __m256 w = _mm256_loadu_ps(c + k + 8 * i);
            const __m256 h = reconstruct(w, gr, i < 4 ? q0 : q1, steps);
            MEASURE8(w, h, aww, aee, awh, ahh);
        }
        acc = add_block_sums(acc, aww, aee, awh, ahh);
    }
    st->acc = acc;
    st->vmax = vmax;
    st->vzero = vzero;
}

WL_AVX2 static void chunk_sums_any(const float *c, long n, const struct option_grids *gr, int shift, int steps,
                                   int with_w, struct option_state *st) {
    switch (steps * 2 + (with_w != 0)) {
    case 0: chunk_sums(c, n, gr, shift, steps_all, 0, st); break;
    case 1: chunk_sums(c, n, gr, shift, steps_all, 1, st); break;
    case 2: chunk_sums(c, n, gr, shift, steps_top, 0, st); break;
    case 3: chunk_sums(c, n, gr, shift, steps_top, 1, st); break;
    case 4: chunk_sums(c, n, gr, shift, steps_none, 0, st); break;
    default: chunk_sums(c, n, gr, shift, steps_none, 1, st); break;
    }
}

/// decode_bf16 of n (a multiple of 8) values with KernelSIMD.minMax's lanes of all of them on the way.
WL_AVX2 static inline int64_t decode_row_lanes(const uint16_t *x, float *out, long n, __m256 *lo, __m256 *hi) {
    const __m256 zero = _mm256_setzero_ps();
    __m256i vz = _mm256_setzero_si256();
    __m256 l = _mm256_set1_ps(__builtin_inff()), h = _mm256_set1_ps(-__builtin_inff());
    for (long k = 0; k < n; k += 8) {
        const __m256 v = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(x + k))), 16));
        _mm256_storeu_ps(out + k, v);
        vz = _mm256_sub_epi32(vz, _mm256_castps_si256(_mm256_cmp_ps(v, zero, _CMP_EQ_OQ)));
        l = _mm256_min_ps(v, l);
        h = _mm256_max_ps(v, h);
    }
    *lo = l;
    *hi = h;
    int32_t zl[8];
    _mm256_storeu_si256((__m256i *)zl, vz);
    int64_t z = 0;
    for (int k = 0; k < 8; k++) z += zl[k];
    return z;
}

static inline int log2_of(long g) { int s = 0; while ((1L << s) < g) s++; return s; }

/// The fast path (see the top of the file); returns 0 when out of memory.
WL_AVX2 static int menu_fast(const uint16_t *x, long rows, long row_length, long piece_length,
                             const struct wl_int_option *options, long option_count, long smallest, long largest,
                             struct wl_totals *totals, int64_t *source_zeros) {
    const long chunk = largest > chunk_floor ? largest : chunk_floor;
    // Distinct group lengths, ascending (powers of two from `smallest` to `largest`).
    long lengths[16];
    int nlengths = 0, length_of[max_options];
    for (long g = smallest; g && g <= largest; g *= 2) {
        int used = 0;
        for (long k = 0; k < option_count; k++) used |= options[k].group_length == g;
        if (used) lengths[nlengths++] = g;
    }
    int channel = 0;
    for (long k = 0; k < option_count; k++) {
        length_of[k] = -1;
        if (options[k].group_length == 0) { channel = 1; continue; }
        for (int d = 0; d < nlengths; d++) if (lengths[d] == options[k].group_length) length_of[k] = d;
    }
    const long nsub = smallest ? chunk / smallest : 0;     // subgroups per chunk
    const long ngmax = nsub + 8;                          // groups per chunk, padded
    float *row = aligned_alloc(32, sizeof(float) * (size_t)((row_length + 7) & ~7L));
    __m256 *lanes = aligned_alloc(32, sizeof(__m256) * (size_t)(2 * nsub + 2));
    float *ranges = malloc(sizeof(float) * (size_t)(2 * (nlengths + 1) * ngmax));
    float *grids = malloc(sizeof(float) * (size_t)(4 * option_count * ngmax));
    struct option_state *st = aligned_alloc(32, sizeof(struct option_state) * (size_t)option_count);
    if (!row || !lanes || !ranges || !grids || !st) { free(row); free(lanes); free(ranges); free(grids); free(st); return 0; }
    struct option_grids gr[max_options];
    int steps[max_options];
    for (long k = 0; k < option_count; k++) {
        float *b = grids + 4 * k * ngmax;
        gr[k] = (struct option_grids){b, b + ngmax, b + 2 * ngmax, b + 3 * ngmax};
        st[k].vmax = _mm256_setzero_ps();
        st[k].vzero = _mm256_setzero_si256();
    }
    for (long i = 0; i < 2 * (nlengths + 1) * ngmax; i++) ranges[i] = 0;
    int64_t sz = 0;
    for (long r = 0; r < rows; r++) {
        __m256 rl, rh;
        sz += decode_row_lanes(x + r * row_length, row, row_length, &rl, &rh);
        if (channel) {
            // ClippingSearch.minMax of the row (no tail: the row is a multiple of 64), one grid per row option.
            float ll[8], hl[8], lr[8] = {0}, hr[8] = {0};
            _mm256_storeu_ps(ll, rl);
            _mm256_storeu_ps(hl, rh);
            reduce_min_max(ll, hl, row, 0, &lr[0], &hr[0]);
            for (long k = 0; k < option_count; k++) {
                if (options[k].group_length != 0) continue;
                steps[k] = grids_steps(lr, hr, 1, options[k].bits, options[k].symmetric, &gr[k]);
            }
        }
        for (long j = 0; j < row_length; j += chunk) {
            const float *c = row + j;
            const long n = j + chunk < row_length ? chunk : row_length - j;
            if (j % piece_length == 0) {
                for (long k = 0; k < option_count; k++) st[k].acc = _mm256_setzero_pd();
            }
            if (nlengths) {
                // KernelSIMD.minMax's lanes per subgroup of the smallest length, then per length each group's
                // lanes folded from its subgroups' in order (the same first-found extremes as one scan), eight
                // groups' ranges at a time.
                const long ns = n / smallest;
                for (long s = 0; s < ns; s++) {
                    __m256 l = _mm256_set1_ps(__builtin_inff()), h = _mm256_set1_ps(-__builtin_inff());
                    for (long i = s * smallest; i < (s + 1) * smallest; i += 8) {
                        const __m256 v = _mm256_loadu_ps(c + i);
                        l = _mm256_min_ps(v, l);
                        h = _mm256_max_ps(v, h);
                    }
                    lanes[2 * s] = l;
                    lanes[2 * s + 1] = h;
                }
                for (int d = 0; d < nlengths; d++) {
                    const long per = lengths[d] / smallest, ng = n / lengths[d];
                    float *lo = ranges + 2 * d * ngmax, *hi = lo + ngmax;
                    for (long q0 = 0; q0 < ng; q0 += 8) {
                        __m256 bl[8], bh[8];
                        for (int j8 = 0; j8 < 8; j8++) {
                            const long q = q0 + j8;
                            if (q >= ng) { bl[j8] = _mm256_setzero_ps(); bh[j8] = bl[j8]; continue; }
                            __m256 l = lanes[2 * q * per], h = lanes[2 * q * per + 1];
                            for (long s = 1; s < per; s++) {
                                l = _mm256_min_ps(lanes[2 * (q * per + s)], l);
                                h = _mm256_max_ps(lanes[2 * (q * per + s) + 1], h);
                            }
                            bl[j8] = l;
                            bh[j8] = h;
                        }
                        ranges8(bl, bh, lo + q0, hi + q0);
                    }
                }
                for (long k = 0; k < option_count; k++) {
                    if (length_of[k] < 0) continue;
                    const long ng = n / options[k].group_length;
                    const float *lo = ranges + 2 * length_of[k] * ngmax;
                    steps[k] = grids_steps(lo, lo + ngmax, ng, options[k].bits, options[k].symmetric, &gr[k]);
                }
            }
            for (long k = 0; k < option_count; k++) {
                const long g = options[k].group_length;
                chunk_sums_any(c, n, &gr[k], g ? log2_of(g) : 62, steps[k], k == 0, &st[k]);
            }
            const long piece_start = j - j % piece_length;
            const long piece_end = piece_start + piece_length < row_length ? piece_start + piece_length : row_length;
            if (j + n == piece_end) {
                // The piece's ending (error_sums_end without a tail: the maxima and zeros are taken at the end,
                // merged in any order), then merge_piece.
                double w[4];
                _mm256_storeu_pd(w, st[0].acc);
                for (long k = 0; k < option_count; k++) {
                    double q[4];
                    _mm256_storeu_pd(q, st[k].acc);
                    q[0] = w[0];
                    int32_t zl[8];
                    _mm256_storeu_si256((__m256i *)zl, st[k].vzero);
                    int64_t z = 0;
                    for (int l = 0; l < 8; l++) z += zl[l];
                    st[k].vzero = _mm256_setzero_si256();
                    merge_piece(&totals[k], q, 0, z, piece_end - piece_start);
                }
            }
        }
    }
    for (long k = 0; k < option_count; k++) {
        // Every lane is ≥ +0 and never NaN: the pieces' maxima merged equal the largest lane.
        float ml[8];
        _mm256_storeu_ps(ml, st[k].vmax);
        float m = 0;
        for (int l = 0; l < 8; l++) m = ml[l] > m ? ml[l] : m;
        totals[k].tmax = (double)m;
    }
    *source_zeros = sz;
    free(row); free(lanes); free(ranges); free(grids); free(st);
    return 1;
}

WL_AVX2 int wl_int_menu_bf16_avx2(const uint16_t *x, long rows, long row_length, long piece_length,
                                  const struct wl_int_option *options, long option_count,
                                  struct wl_int_result *results, int64_t *source_zeros) {
    if (option_count < 1 || option_count > max_options || rows < 0 || row_length < 1 || piece_length < 1) return 0;
    long smallest = 0, largest = 0;
    int fast = row_length % 64 == 0;
    for (long k = 0; k < option_count; k++) {
        const long g = options[k].group_length;
        if (options[k].bits < 2 || options[k].bits > 8 || g < 0) return 0;
        if (g == 0) continue;
        if (piece_length % g != 0) return 0;             // pieces of whole groups, the same for every option
        if (g % 32 != 0 || (g & (g - 1)) != 0) fast = 0;
        smallest = smallest == 0 || g < smallest ? g : smallest;
        largest = g > largest ? g : largest;
    }
    const long chunk = largest > chunk_floor ? largest : chunk_floor;
    if (largest && row_length % largest != 0) fast = 0;
    if (piece_length % chunk != 0) fast = 0;
    struct wl_totals totals[max_options];
    for (long k = 0; k < option_count; k++) totals[k] = (struct wl_totals){0, 0, 0, 0, 0, 0, 0};
    const int done = fast ? menu_fast(x, rows, row_length, piece_length, options, option_count, smallest, largest, totals, source_zeros)
                          : menu_generic(x, rows, row_length, piece_length, options, option_count, totals, source_zeros);
    if (!done) return 0;
    for (long k = 0; k < option_count; k++) {
        struct wl_int_result *res = &results[k];
        res->sums[0] = totals[k].t0; res->sums[1] = totals[k].t1; res->sums[2] = totals[k].t2; res->sums[3] = totals[k].t3;
        res->max_error = totals[k].tmax;
        res->count = totals[k].count;
        res->zeros = totals[k].zeros;
    }
    return 1;
}

/// Non-negative floats order as their bit patterns do, so the largest |x| is the largest pattern without the
/// sign bit among those below +Inf's (NaN and ±Inf count as +0), in any order.
WL_AVX2 float wl_abs_max_finite_avx2(const float *x, long n) {
    const __m256i magnitude = _mm256_set1_epi32(0x7fffffff), inf = _mm256_set1_epi32(0x7f800000);
    __m256i m = _mm256_setzero_si256();
    long k = 0;
    for (; k + 8 <= n; k += 8) {
        __m256i a = _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(x + k)), magnitude);
        m = _mm256_max_epi32(m, _mm256_and_si256(a, _mm256_cmpgt_epi32(inf, a)));
    }
    int32_t lanes[8];
    _mm256_storeu_si256((__m256i *)lanes, m);
    int32_t best = 0;
    for (int l = 0; l < 8; l++) best = lanes[l] > best ? lanes[l] : best;
    for (; k < n; k++) {
        int32_t a;
        __builtin_memcpy(&a, x + k, 4);
        a &= 0x7fffffff;
        if (a < 0x7f800000 && a > best) best = a;
    }
    float r;
    __builtin_memcpy(&r, &best, 4);
    return r;
}

#else
float wl_abs_max_finite_avx2(const float *x, long n) {
    (void)x; (void)n;
    return 0;
}

int wl_int_menu_bf16_avx2(const uint16_t *x, long rows, long row_length, long piece_length,
                          const struct wl_int_option *options, long option_count,
                          struct wl_int_result *results, int64_t *source_zeros) {
    (void)x; (void)rows; (void)row_length; (void)piece_length; (void)options; (void)option_count; (void)results;
    (void)source_zeros;
    return 0;
}
#endif
