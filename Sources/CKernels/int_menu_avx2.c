// Many min/max integer options measured on stored BF16 in one pass (the solver's integer menu): each row is
// decoded once, each chunk's group minima and maxima are found once per group length (g64 and g128 from the
// g32 lanes), and every option quantizes and measures the chunk while it is in L1, in registers where it can.
// Every option's numbers equal wl_int_minmax_runs_bf16_avx2's bit for bit: the same Float32/Double operations
// in the same order per group and piece (int_quantize_avx2.h), only interleaved across options.
#include "CKernels.h"
#pragma STDC FP_CONTRACT OFF

#if defined(__x86_64__)
#include "int_quantize_avx2.h"
#include <stdlib.h>

/// error_sums' running state over the 64-value blocks of one piece, so that a piece can be fed chunk by chunk.
struct block_sums { __m256d acc; __m256 vmax; __m256i vzero; int64_t zc; long done; };

WL_AVX2 static inline void block_sums_start(struct block_sums *s) {
    s->acc = _mm256_setzero_pd();
    s->vmax = _mm256_setzero_ps();
    s->vzero = _mm256_setzero_si256();
    s->zc = 0;
    s->done = 0;
}

/// error_sums' loop body for 64 values w against their reconstruction under g, computed in registers with
/// fake_quantize's steps (a scale of 0 reconstructs +0, as minmax_group writes it).
WL_AVX2 static inline void block_sums_add64(struct block_sums *s, const float *w, struct int_grid g) {
    const __m256 sv = _mm256_set1_ps(g.scale), av = _mm256_set1_ps(g.a), bv = _mm256_set1_ps(g.b);
    const __m256 magic = _mm256_set1_ps(0x1.8p23f);
    const __m256 keep = _mm256_castsi256_ps(_mm256_set1_epi32(g.scale == 0 ? 0 : -1));
    const __m256 absMask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff)), zero = _mm256_setzero_ps();
    __m256 aww = _mm256_setzero_ps(), aee = aww, awh = aww, ahh = aww;
    __m256 vmax = s->vmax;
    __m256i vzero = s->vzero;
    for (long i = 0; i < 64; i += 8) {
        __m256 wf = _mm256_loadu_ps(w + i);
        __m256 t = _mm256_div_ps(wf, sv);
        t = _mm256_max_ps(av, t);
        t = _mm256_min_ps(bv, t);
        __m256 hf = _mm256_and_ps(_mm256_mul_ps(_mm256_sub_ps(_mm256_add_ps(t, magic), magic), sv), keep);
        __m256 e = _mm256_sub_ps(wf, hf);
        aww = _mm256_add_ps(aww, _mm256_mul_ps(wf, wf));
        aee = _mm256_add_ps(aee, _mm256_mul_ps(e, e));
        awh = _mm256_add_ps(awh, _mm256_mul_ps(wf, hf));
        ahh = _mm256_add_ps(ahh, _mm256_mul_ps(hf, hf));
        __m256 ae = _mm256_and_ps(e, absMask);
        vmax = _mm256_max_ps(ae, vmax);
        vzero = _mm256_sub_epi32(vzero, _mm256_castps_si256(_mm256_cmp_ps(hf, zero, _CMP_EQ_OQ)));
    }
    s->acc = add_block_sums(s->acc, aww, aee, awh, ahh);
    s->vmax = vmax;
    s->done += 64;
    if ((s->done & 0xFFFF) == 0) {
        int32_t zl[8];
        _mm256_storeu_si256((__m256i *)zl, vzero);
        for (int l = 0; l < 8; l++) s->zc += zl[l];
        vzero = _mm256_setzero_si256();
    }
    s->vzero = vzero;
}

/// error_sums' ending: the scalar tail of n < 64 values (w against h), then the lanes' zeros and maximum;
/// the piece is then merged into t.
WL_AVX2 static inline void block_sums_finish(struct block_sums *s, const float *w, const float *h, long n,
                                             long piece, struct wl_totals *t) {
    double sums[4];
    float maxErr;
    int64_t zc;
    error_sums_end(s->acc, s->vmax, s->vzero, s->zc, w, h, n, sums, &maxErr, &zc);
    merge_piece(t, sums, maxErr, zc, piece);
}

/// Quantizes n values under g into o (minmax_group's step: zeros for a scale of 0).
WL_AVX2 static inline void quantize_into(const float *x, float *o, long n, struct int_grid g) {
    if (g.scale == 0) {
        for (long k = 0; k < n; k++) o[k] = 0;
    } else {
        fake_quantize(x, o, n, g.scale, g.a, g.b);
    }
}

/// One group of m ≤ piece_length values (one piece): quantized and measured as minmax_group does.
WL_AVX2 static inline void measure_group(const float *x, long m, struct int_grid g, float *o, struct wl_totals *t) {
    if ((m & 63) == 0) {
        struct block_sums s;
        block_sums_start(&s);
        for (long k = 0; k < m; k += 64) block_sums_add64(&s, x + k, g);
        block_sums_finish(&s, x + m, x + m, 0, m, t);
        return;
    }
    quantize_into(x, o, m, g);
    double s[4];
    float me;
    int64_t z;
    error_sums(x, o, m, s, &me, &z);
    merge_piece(t, s, me, z, m);
}

/// Four consecutive groups of 32 (128 values), each its own piece, whose error_sums is all scalar tail (one
/// Double chain per sum and group): the groups side by side, one group per lane, each lane doing its group's
/// scalar operations in its order. What does not depend on the option is done once per block for every g32
/// option: the values transposed (w[m] holds value 2m of the four groups in its low half and value 2m + 1 in
/// its high half), widened to Double (wd[i]: value i of the four groups) and their Σw² chains.
struct g32_block { __m256 w[16]; __m256d wd[32]; __m256d sww; };

WL_AVX2 static inline void g32_prepare(const float *x, struct g32_block *b) {
    __m256d sww = _mm256_setzero_pd();
    for (long i = 0; i < 32; i += 4) {
        __m128 w0 = _mm_loadu_ps(x + i), w1 = _mm_loadu_ps(x + 32 + i);
        __m128 w2 = _mm_loadu_ps(x + 64 + i), w3 = _mm_loadu_ps(x + 96 + i);
        _MM_TRANSPOSE4_PS(w0, w1, w2, w3);
        b->w[i / 2] = _mm256_set_m128(w1, w0);
        b->w[i / 2 + 1] = _mm256_set_m128(w3, w2);
        const __m128 ws[4] = {w0, w1, w2, w3};
        for (int k = 0; k < 4; k++) {
            __m256d wd = _mm256_cvtps_pd(ws[k]);
            b->wd[i + k] = wd;
            sww = _mm256_add_pd(sww, _mm256_mul_pd(wd, wd));
        }
    }
    b->sww = sww;
}

/// int_grid_from_min_max of four groups at once (bd: their (min, max) pairs): int_grid8's lanes, and keep (all
/// ones where the scale is not 0).
WL_AVX2 static inline void int_grids4(const float *bd, int bits, int symmetric, __m128 *scale, __m128 *a, __m128 *b,
                                      __m128 *keep) {
    const __m128 p0 = _mm_loadu_ps(bd), p1 = _mm_loadu_ps(bd + 4);
    const __m128 lo = _mm_shuffle_ps(p0, p1, _MM_SHUFFLE(2, 0, 2, 0)), hi = _mm_shuffle_ps(p0, p1, _MM_SHUFFLE(3, 1, 3, 1));
    __m256 s8, a8, b8;
    int_grid8(_mm256_set_m128(lo, lo), _mm256_set_m128(hi, hi), bits, symmetric, &s8, &a8, &b8);
    *scale = _mm256_castps256_ps128(s8);
    *a = _mm256_castps256_ps128(a8);
    *b = _mm256_castps256_ps128(b8);
    *keep = _mm_cmpneq_ps(*scale, _mm_setzero_ps());
}

/// One g32 option on a prepared block: quantize_into's values (a scale of 0 reconstructs +0) and
/// error_sums' scalar chains for each of the four groups, then the four pieces merged in order.
WL_AVX2 static inline void measure_groups32x4(const struct g32_block *blk, const float *bd, int bits, int symmetric,
                                              struct wl_totals *t) {
    __m128 s4, a4, b4, k4;
    int_grids4(bd, bits, symmetric, &s4, &a4, &b4, &k4);
    const __m256 sv = _mm256_set_m128(s4, s4), av = _mm256_set_m128(a4, a4), bv = _mm256_set_m128(b4, b4);
    const __m256 keep = _mm256_set_m128(k4, k4);
    const __m256 magic = _mm256_set1_ps(0x1.8p23f), zero = _mm256_setzero_ps();
    const __m256 absMask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256d see = _mm256_setzero_pd(), swh = see, shh = see;
    __m256 me = _mm256_setzero_ps();
    __m256i zc = _mm256_setzero_si256();
    // The Float32 steps first (their long division chains overlap), then the Double chains.
    __m256 hs[16], es[16];
    for (int m = 0; m < 16; m++) {
        const __m256 w = blk->w[m];
        __m256 q = _mm256_div_ps(w, sv);
        q = _mm256_max_ps(av, q);
        q = _mm256_min_ps(bv, q);
        const __m256 h = _mm256_and_ps(_mm256_mul_ps(_mm256_sub_ps(_mm256_add_ps(q, magic), magic), sv), keep);
        const __m256 e = _mm256_sub_ps(w, h);
        me = _mm256_max_ps(_mm256_and_ps(e, absMask), me);   // ae >= maxErr ? ae : maxErr (equal: same value)
        zc = _mm256_sub_epi32(zc, _mm256_castps_si256(_mm256_cmp_ps(h, zero, _CMP_EQ_OQ)));
        hs[m] = h;
        es[m] = e;
    }
    for (int m = 0; m < 16; m++) {
        // Value 2m, then value 2m + 1, of each group.
        const __m256 h = hs[m], e = es[m];
        __m256d hd = _mm256_cvtps_pd(_mm256_castps256_ps128(h)), ed = _mm256_cvtps_pd(_mm256_castps256_ps128(e));
        __m256d wd = blk->wd[2 * m];
        see = _mm256_add_pd(see, _mm256_mul_pd(ed, ed));
        swh = _mm256_add_pd(swh, _mm256_mul_pd(wd, hd));
        shh = _mm256_add_pd(shh, _mm256_mul_pd(hd, hd));
        hd = _mm256_cvtps_pd(_mm256_extractf128_ps(h, 1));
        ed = _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1));
        wd = blk->wd[2 * m + 1];
        see = _mm256_add_pd(see, _mm256_mul_pd(ed, ed));
        swh = _mm256_add_pd(swh, _mm256_mul_pd(wd, hd));
        shh = _mm256_add_pd(shh, _mm256_mul_pd(hd, hd));
    }
    double a[4], b[4], c[4], d[4];
    float ml[8];
    int32_t zl[8];
    _mm256_storeu_pd(a, blk->sww); _mm256_storeu_pd(b, see); _mm256_storeu_pd(c, swh); _mm256_storeu_pd(d, shh);
    _mm256_storeu_ps(ml, me);
    _mm256_storeu_si256((__m256i *)zl, zc);
    for (int j = 0; j < 4; j++) {
        const double s[4] = {a[j], b[j], c[j], d[j]};
        // A group's values 2m and 2m + 1 went to lanes j and j + 4: the larger error (both ≥ +0, never NaN: any
        // order gives the same maximum) and the sum of the zero counts. error_sums' ending: its lanes' maximum
        // is +0 (no block of 64), max(+0, maxErr) = maxErr.
        const float mj = ml[j + 4] > ml[j] ? ml[j + 4] : ml[j];
        merge_piece(t, s, mj, zl[j] + zl[j + 4], 32);
    }
}

/// KernelSIMD.minMax's lanes over the whole blocks of 8 among n values.
WL_AVX2 static inline void block_lanes(const float *x, long n, __m256 *lo, __m256 *hi) {
    __m256 l = _mm256_set1_ps(__builtin_inff()), h = _mm256_set1_ps(-__builtin_inff());
    for (long k = 0; k + 8 <= n; k += 8) {
        __m256 v = _mm256_loadu_ps(x + k);
        l = _mm256_min_ps(v, l);
        h = _mm256_max_ps(v, h);
    }
    *lo = l;
    *hi = h;
}

enum { max_options = 64, max_lengths = 8 };

WL_AVX2 int wl_int_menu_bf16_avx2(const uint16_t *x, long rows, long row_length, long piece_length,
                                  const struct wl_int_option *options, long option_count,
                                  struct wl_int_result *results, int64_t *source_zeros) {
    if (option_count < 1 || option_count > max_options || rows < 0 || row_length < 1 || piece_length < 64) return 0;
    // The distinct group lengths (each a multiple of the smallest, a multiple of 8), the chunk they divide.
    long lengths[max_lengths];
    int length_of[max_options];
    int nlengths = 0, channel = 0;
    long chunk = 64;
    for (long k = 0; k < option_count; k++) {
        const long g = options[k].group_length;
        if (options[k].bits < 2 || options[k].bits > 8) return 0;
        length_of[k] = -1;
        if (g == 0) { channel = 1; continue; }
        if (g < 8 || (g & 7) != 0 || g > piece_length) return 0;
        int d = 0;
        while (d < nlengths && lengths[d] != g) d++;
        if (d == nlengths) {
            if (nlengths == max_lengths) return 0;
            lengths[nlengths++] = g;
        }
        length_of[k] = d;
        if (g > chunk) chunk = g;
    }
    if (chunk % 64 != 0 || piece_length % chunk != 0) return 0;
    long smallest = chunk;
    for (int d = 0; d < nlengths; d++) smallest = lengths[d] < smallest ? lengths[d] : smallest;
    for (int d = 0; d < nlengths; d++) if (chunk % lengths[d] != 0 || lengths[d] % smallest != 0) return 0;

    const long subgroups = chunk / smallest;
    float *row = malloc(sizeof(float) * (size_t)(row_length + chunk));
    __m256 *lanes = aligned_alloc(32, sizeof(__m256) * (size_t)(2 * subgroups));   // a multiple of 32 bytes
    float *bounds = malloc(sizeof(float) * (size_t)(2 * nlengths * (chunk / 8 + 1)));
    // The chunk's g32 blocks, prepared once for every g32 option (when there is one and a chunk holds 128).
    int g32 = 0;
    for (long k = 0; k < option_count; k++) g32 |= options[k].group_length == 32;
    const long nblocks = g32 ? chunk / 128 : 0;
    struct g32_block *blocks = nblocks ? aligned_alloc(32, sizeof(struct g32_block) * (size_t)nblocks) : NULL;
    if (!row || !lanes || !bounds || (nblocks && !blocks)) { free(row); free(lanes); free(bounds); free(blocks); return 0; }
    float *o = row + row_length;
    struct wl_totals totals[max_options];
    struct block_sums running[max_options];
    struct int_grid row_grid[max_options];
    for (long k = 0; k < option_count; k++) totals[k] = (struct wl_totals){0, 0, 0, 0, 0, 0, 0};
    int64_t sz = 0;
    for (long r = 0; r < rows; r++) {
        const uint16_t *xr = x + r * row_length;
        sz += decode_bf16(xr, row, row_length);
        if (channel) {
            // minmax_group on the whole row: its lanes, then the tail.
            __m256 l, h;
            float ll[8], hl[8], lo, hi;
            block_lanes(row, row_length, &l, &h);
            _mm256_storeu_ps(ll, l);
            _mm256_storeu_ps(hl, h);
            reduce_min_max(ll, hl, row + (row_length & ~7L), row_length & 7L, &lo, &hi);
            for (long k = 0; k < option_count; k++) {
                if (options[k].group_length != 0) continue;
                row_grid[k] = int_grid_from_min_max(lo, hi, options[k].bits, options[k].symmetric);
            }
        }
        for (long j = 0; j < row_length; j += chunk) {
            const float *c = row + j;
            const long n = j + chunk < row_length ? chunk : row_length - j;
            if (nlengths) {
                const long ns = (n + smallest - 1) / smallest;
                for (long s = 0; s < ns; s++) {
                    const long a = s * smallest, b = a + smallest < n ? a + smallest : n;
                    block_lanes(c + a, b - a, &lanes[2 * s], &lanes[2 * s + 1]);
                }
                // Each group's lanes folded from its subgroups' in order (the same first-found extremes as one
                // scan), then reduced with the group's tail: ClippingSearch.minMax of the group.
                for (int d = 0; d < nlengths; d++) {
                    const long g = lengths[d], per = g / smallest;
                    float *bd = bounds + 2 * d * (chunk / 8 + 1);
                    for (long q = 0, o0 = 0; o0 < n; q++, o0 += g) {
                        const long m = o0 + g < n ? g : n - o0;
                        __m256 l = _mm256_set1_ps(__builtin_inff()), h = _mm256_set1_ps(-__builtin_inff());
                        const long s0 = o0 / smallest, s1 = (o0 + m + smallest - 1) / smallest;
                        for (long s = s0; s < s1 && s < s0 + per; s++) {
                            l = _mm256_min_ps(lanes[2 * s], l);
                            h = _mm256_max_ps(lanes[2 * s + 1], h);
                        }
                        float ll[8], hl[8];
                        _mm256_storeu_ps(ll, l);
                        _mm256_storeu_ps(hl, h);
                        reduce_min_max(ll, hl, c + o0 + (m & ~7L), m & 7L, &bd[2 * q], &bd[2 * q + 1]);
                    }
                }
            }
            for (long o0 = 0; o0 + 128 <= (nblocks ? n : 0); o0 += 128) g32_prepare(c + o0, &blocks[o0 / 128]);
            for (long k = 0; k < option_count; k++) {
                const long g = options[k].group_length;
                struct wl_totals *t = &totals[k];
                if (g == 0) {
                    // One grid per row, measured in pieces of piece_length (a multiple of the chunk).
                    struct block_sums *s = &running[k];
                    if (j % piece_length == 0) block_sums_start(s);
                    const long full = n & ~63L;
                    for (long i = 0; i < full; i += 64) block_sums_add64(s, c + i, row_grid[k]);
                    const long piece_start = j - j % piece_length;
                    const long piece_end = piece_start + piece_length < row_length ? piece_start + piece_length : row_length;
                    if (j + n == piece_end) {
                        const long tail = n - full;
                        quantize_into(c + full, o, tail, row_grid[k]);
                        block_sums_finish(s, c + full, o, tail, piece_end - piece_start, t);
                    }
                    continue;
                }
                const float *bd = bounds + 2 * length_of[k] * (chunk / 8 + 1);
                long q = 0, o0 = 0;
                if (g == 32 && nblocks) {
                    for (; o0 + 128 <= n; o0 += 128, q += 4)
                        measure_groups32x4(&blocks[o0 / 128], bd + 2 * q, options[k].bits, options[k].symmetric, t);
                }
                for (; o0 < n; o0 += g, q++) {
                    const long m = o0 + g < n ? g : n - o0;
                    struct int_grid grid = int_grid_from_min_max(bd[2 * q], bd[2 * q + 1], options[k].bits, options[k].symmetric);
                    measure_group(c + o0, m, grid, o, t);
                }
            }
        }
    }
    for (long k = 0; k < option_count; k++) {
        struct wl_int_result *res = &results[k];
        res->sums[0] = totals[k].t0; res->sums[1] = totals[k].t1; res->sums[2] = totals[k].t2; res->sums[3] = totals[k].t3;
        res->max_error = totals[k].tmax;
        res->count = totals[k].count;
        res->zeros = totals[k].zeros;
    }
    *source_zeros = sz;
    free(row);
    free(lanes);
    free(bounds);
    free(blocks);
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
