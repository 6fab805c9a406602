// The integer fake-quantizer's inner loops (KernelSIMD.fakeQuantize, KernelSIMD.minMax) and the error sums
// (ErrorMetrics.accumulate) in AVX2, lane for lane as the Swift loops compute them.
#include "CKernels.h"
#pragma STDC FP_CONTRACT OFF

#if defined(__x86_64__)
#include "int_quantize_avx2.h"


WL_AVX2 void wl_min_max_lanes_avx2(const float *x, long n, float lo[8], float hi[8]) {
    __m256 l = _mm256_set1_ps(__builtin_inff()), h = _mm256_set1_ps(-__builtin_inff());
    for (long k = 0; k + 8 <= n; k += 8) {
        __m256 v = _mm256_loadu_ps(x + k);
        l = _mm256_min_ps(v, l);               // v < l ? v : l, exactly (minps returns l on NaN or equal)
        h = _mm256_max_ps(v, h);               // v > h ? v : h
    }
    _mm256_storeu_ps(lo, l);
    _mm256_storeu_ps(hi, h);
}

WL_AVX2 void wl_error_sums_avx2(const float *w, const float *h, long n, double sums[4], float *max_error,
                                int64_t *zeros) {
    error_sums(w, h, n, sums, max_error, zeros);
}

WL_AVX2 void wl_fake_quantize_avx2(const float *x, float *o, long n, float s, float a, float b) {
    fake_quantize(x, o, n, s, a, b);
}

/// One group of n values at x: its min/max grid, then each piece of at most piece_length values quantized
/// into o and, when original is not NULL, measured against it and merged into t (the portable path's order).
/// With lo_out, the group's range is stored there.
WL_AVX2 static inline void minmax_group(const float *x, const float *original, float *o, long n, long piece_length,
                                        int bits, int symmetric, struct wl_totals *t, float *lo_out, float *hi_out) {
    float ll[8], hl[8];
    wl_min_max_lanes_avx2(x, n, ll, hl);
    float lo, hi;
    reduce_min_max(ll, hl, x + (n & ~7L), n & 7L, &lo, &hi);
    if (lo_out) { *lo_out = lo; *hi_out = hi; }
    struct int_grid grid = int_grid_from_min_max(lo, hi, bits, symmetric);
    const float scale = grid.scale, a = grid.a, b = grid.b;
    // KernelWork.pieces: the segment in pieces of at most piece_length, each quantized then measured.
    for (long p = 0; p < n; p += piece_length) {
        const long m = (p + piece_length < n ? piece_length : n - p);
        if (scale == 0) {
            for (long k = 0; k < m; k++) o[p + k] = 0;
        } else {
            fake_quantize(x + p, o + p, m, scale, a, b);
        }
        if (original) {
            double s[4];
            float me;
            int64_t z;
            error_sums(original + p, o + p, m, s, &me, &z);
            merge_piece(t, s, me, z, m);
        }
    }
}

static void store_totals(const struct wl_totals *t, double sums[4], double *max_error, int64_t *count, int64_t *zeros) {
    sums[0] = t->t0; sums[1] = t->t1; sums[2] = t->t2; sums[3] = t->t3;
    *max_error = t->tmax;
    *count = t->count;
    *zeros = t->zeros;
}

// Batches of eight groups. Per group, the scalar steps between the vector passes (the lanes' reduction, the grid's
// division and rounding, the lane sums' ending, the Double merge) cost about as much as the passes themselves and
// sit on one dependent chain; eight groups at a time do them as vector steps across the groups (lane j = group j),
// with the same Float32/Double operations in the same order, so the numbers are those of minmax_group bit for bit.
// Taken for groups of a multiple of 8 values (no scalar tail) that are one piece each, and short enough that
// eight of them stay in L1 (WL_BATCH_MAX_GROUP).
#define WL_BATCH_MAX_GROUP 512

/// Columns of an 8 × 8 matrix stored by rows (m[8·i + l]: group i's lane l): c[l] = (m[l], m[8 + l], …, m[56 + l]).
WL_AVX2 static inline void transpose8(const float *m, __m256 c[8]) {
    __m256 r[8];
    for (int i = 0; i < 4; i++) {
        r[i] = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(m + 8 * i)), _mm_loadu_ps(m + 8 * (i + 4)), 1);
        r[i + 4] = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(m + 8 * i + 4)), _mm_loadu_ps(m + 8 * (i + 4) + 4), 1);
    }
    for (int h = 0; h < 8; h += 4) {
        __m256 t0 = _mm256_unpacklo_ps(r[h], r[h + 1]), t1 = _mm256_unpacklo_ps(r[h + 2], r[h + 3]);
        __m256 t2 = _mm256_unpackhi_ps(r[h], r[h + 1]), t3 = _mm256_unpackhi_ps(r[h + 2], r[h + 3]);
        c[h] = _mm256_shuffle_ps(t0, t1, 0x44);
        c[h + 1] = _mm256_shuffle_ps(t0, t1, 0xEE);
        c[h + 2] = _mm256_shuffle_ps(t2, t3, 0x44);
        c[h + 3] = _mm256_shuffle_ps(t2, t3, 0xEE);
    }
}

/// reduce_min_max of eight groups (no tails), group j in lane j: lo = lane 0, then `ll[l] < lo ? ll[l] : lo`
/// (minps(ll[l], lo)), hi = `hl[l] >= hi ? hl[l] : hi` (maxps(hi, hl[l]): equal only differs in the sign of
/// zero, and lanes are never NaN), in lane order; (0, 0) where lo > hi.
WL_AVX2 static inline void reduce_min_max8(const float *ll, const float *hl, __m256 *lo_out, __m256 *hi_out) {
    __m256 cl[8], ch[8];
    transpose8(ll, cl);
    transpose8(hl, ch);
    __m256 lo = cl[0], hi = ch[0];
    for (int l = 1; l < 8; l++) { lo = _mm256_min_ps(cl[l], lo); hi = _mm256_max_ps(hi, ch[l]); }
    const __m256 empty = _mm256_cmp_ps(lo, hi, _CMP_GT_OQ);
    *lo_out = _mm256_andnot_ps(empty, lo);
    *hi_out = _mm256_andnot_ps(empty, hi);
}

/// int_grid_from_min_max of eight ranges, lane by lane the same Float32 steps.
WL_AVX2 static inline void int_grid8(__m256 lo, __m256 hi, int bits, int symmetric, __m256 *scale, __m256 *a, __m256 *b) {
    const __m256 sign = _mm256_set1_ps(-0.0f), zero = _mm256_setzero_ps();
    if (symmetric) {
        const float qmax = (float)((1 << (bits - 1)) - 1);
        const __m256 c = _mm256_max_ps(_mm256_xor_ps(lo, sign), hi);   // hi >= -lo ? hi : -lo (never NaN)
        *scale = _mm256_div_ps(c, _mm256_set1_ps(qmax));
        *a = _mm256_set1_ps((-qmax - 1) - 0.0f);
        *b = _mm256_set1_ps(qmax - 0.0f);
    } else {
        const float levels = (float)((1 << bits) - 1);
        const __m256 l0 = _mm256_min_ps(zero, lo);                      // 0 < lo ? 0 : lo
        const __m256 h0 = _mm256_max_ps(hi, zero);                      // 0 >= hi ? 0 : hi
        const __m256 s = _mm256_div_ps(_mm256_sub_ps(h0, l0), _mm256_set1_ps(levels));
        const __m256 magic = _mm256_set1_ps(0x1.8p23f);
        __m256 z = _mm256_div_ps(_mm256_xor_ps(l0, sign), s);
        z = _mm256_sub_ps(_mm256_add_ps(z, magic), magic);
        z = _mm256_andnot_ps(_mm256_cmp_ps(s, zero, _CMP_EQ_OQ), z);   // scale == 0 ? 0 : round(−l0/scale)
        *scale = s;
        *a = _mm256_sub_ps(zero, z);
        *b = _mm256_sub_ps(_mm256_set1_ps(levels), z);
    }
}

/// One group of n (a multiple of 64) values: quantized with (s, a, b) into o as fake_quantize does and, with
/// original, measured as error_sums does (blocks of 64, their lane sums to Double in lane order), without its
/// scalar ending: the group's (Σw², Σe², Σwh, Σh²) come back, its lanes' maximum error and zeros go into vmax
/// and vzero. (Two passes over the group in L1: quantizing and measuring in one loop was slower, its longer
/// dependent chain per 8 values filling the scheduler.)
WL_AVX2 static inline __m256d quantize_measure_group(const float *x, const float *original, float *o, long n, float s,
                                                     float a, float b, __m256 *vmax, __m256i *vzero) {
    if (s == 0) {
        for (long k = 0; k < n; k += 8) _mm256_storeu_ps(o + k, _mm256_setzero_ps());
    } else {
        fake_quantize(x, o, n, s, a, b);
    }
    __m256d acc = _mm256_setzero_pd();
    if (!original) return acc;
    const __m256 absMask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff)), zero = _mm256_setzero_ps();
    __m256 m = *vmax;
    __m256i z = *vzero;
    for (long k = 0; k < n; k += 64) {
        __m256 aww = _mm256_setzero_ps(), aee = aww, awh = aww, ahh = aww;
        for (long i = k; i < k + 64; i += 8) {
            const __m256 wf = _mm256_loadu_ps(original + i), hf = _mm256_loadu_ps(o + i);
            const __m256 e = _mm256_sub_ps(wf, hf);
            aww = _mm256_add_ps(aww, _mm256_mul_ps(wf, wf));
            aee = _mm256_add_ps(aee, _mm256_mul_ps(e, e));
            awh = _mm256_add_ps(awh, _mm256_mul_ps(wf, hf));
            ahh = _mm256_add_ps(ahh, _mm256_mul_ps(hf, hf));
            m = _mm256_max_ps(_mm256_and_ps(e, absMask), m);
            z = _mm256_sub_epi32(z, _mm256_castps_si256(_mm256_cmp_ps(hf, zero, _CMP_EQ_OQ)));
        }
        acc = add_block_sums(acc, aww, aee, awh, ahh);
    }
    *vmax = m;
    *vzero = z;
    return acc;
}

/// Eight consecutive groups of g values at x (g a multiple of 64, at most piece_length and WL_BATCH_MAX_GROUP),
/// as eight minmax_group calls: grids from the lanes' ranges, quantized into o (may be NULL), measured against
/// original (may be NULL) and merged into t group after group. lanes: room for 128 floats. With lo_out, the
/// eight ranges are stored there.
WL_AVX2 static inline void minmax_batch8(const float *x, const float *original, float *o, long g, int bits,
                                         int symmetric, struct wl_totals *t, float *lanes, float *lo_out, float *hi_out) {
    for (int j = 0; j < 8; j++) wl_min_max_lanes_avx2(x + j * g, g, lanes + 8 * j, lanes + 64 + 8 * j);
    __m256 lo, hi, sv, av, bv;
    reduce_min_max8(lanes, lanes + 64, &lo, &hi);
    if (lo_out) { _mm256_storeu_ps(lo_out, lo); _mm256_storeu_ps(hi_out, hi); }
    int_grid8(lo, hi, bits, symmetric, &sv, &av, &bv);
    float sc[8], as[8], bs[8];
    _mm256_storeu_ps(sc, sv);
    _mm256_storeu_ps(as, av);
    _mm256_storeu_ps(bs, bv);
    __m256 vmax = _mm256_setzero_ps();
    __m256i vzero = _mm256_setzero_si256();
    __m256d tot = _mm256_setr_pd(t->t0, t->t1, t->t2, t->t3);
    const __m256d zd = _mm256_setzero_pd();
    for (int j = 0; j < 8; j++) {
        const __m256d acc = quantize_measure_group(x + j * g, original ? original + j * g : 0, o + j * g, g,
                                                   sc[j], as[j], bs[j], &vmax, &vzero);
        // merge_piece, t += 0.0 + s in group order, as the compiler emits it there: (0 + s) + t (the operand
        // order decides which payload a sum of two NaNs keeps).
        tot = _mm256_add_pd(_mm256_add_pd(zd, acc), tot);
    }
    if (!original) return;
    double q[4];
    _mm256_storeu_pd(q, tot);
    t->t0 = q[0]; t->t1 = q[1]; t->t2 = q[2]; t->t3 = q[3];
    // The groups' maxima and zero counts: every lane is ≥ +0 and never NaN, so one maximum over all of them is
    // the merged maximum in any order; counts add in any order.
    float ml[8];
    int32_t zl[8];
    _mm256_storeu_ps(ml, vmax);
    _mm256_storeu_si256((__m256i *)zl, vzero);
    float mx = ml[0];
    int64_t zc = 0;
    for (int l = 1; l < 8; l++) mx = ml[l] > mx ? ml[l] : mx;
    for (int l = 0; l < 8; l++) zc += zl[l];
    const double med = (double)mx;
    t->tmax = med >= t->tmax ? med : t->tmax;
    t->count += 8 * g;
    t->zeros += zc;
}

/// Whether runs of groups of group_length go in batches of eight (minmax_batch8).
static inline int batches(long run_length, long group_length, long piece_length) {
    return group_length % 64 == 0 && group_length <= WL_BATCH_MAX_GROUP && group_length <= piece_length
        && run_length >= 8 * group_length;
}

WL_AVX2 void wl_int_minmax_runs_avx2(const float *x, const float *original, float *o, long runs, long run_length,
                                     long group_length, long piece_length, int bits, int symmetric,
                                     double sums[4], double *max_error, int64_t *count, int64_t *zeros) {
    struct wl_totals t = {0, 0, 0, 0, 0, 0, 0};
    const int batched = batches(run_length, group_length, piece_length);
    float lanes[128];
    for (long r = 0; r < runs; r++) {
        long j = 0;
        if (batched) {
            for (; j + 8 * group_length <= run_length; j += 8 * group_length) {
                const long start = r * run_length + j;
                minmax_batch8(x + start, original ? original + start : 0, o + start, group_length, bits, symmetric, &t,
                              lanes, 0, 0);
            }
        }
        for (; j < run_length; j += group_length) {
            const long start = r * run_length + j;
            const long n = (j + group_length < run_length ? group_length : run_length - j);
            minmax_group(x + start, original ? original + start : 0, o + start, n, piece_length, bits, symmetric, &t, 0, 0);
        }
    }
    store_totals(&t, sums, max_error, count, zeros);
}

long wl_int_minmax_bf16_work_floats(long run_length, long group_length) {
    const long g = group_length < run_length ? group_length : run_length;
    return batches(run_length, group_length, group_length) ? 16 * g : 2 * g;
}

WL_AVX2 void wl_int_minmax_runs_bf16_avx2(const uint16_t *x, float *work, long runs, long run_length,
                                          long group_length, long piece_length, int bits, int symmetric,
                                          double sums[4], double *max_error, int64_t *count, int64_t *zeros,
                                          int64_t *source_zeros, float *lo_out, float *hi_out) {
    struct wl_totals t = {0, 0, 0, 0, 0, 0, 0};
    const long g = group_length < run_length ? group_length : run_length;
    const int batched = batches(run_length, group_length, piece_length);
    float *values = work, *o = work + g;
    float lanes[128];
    int64_t sz = 0;
    long k = 0;   // the group's index, for the ranges
    for (long r = 0; r < runs; r++) {
        long j = 0;
        if (batched) {
            for (; j + 8 * group_length <= run_length; j += 8 * group_length, k += 8) {
                // Counted per batch: each batch's zero count is below 2^31, the total in 64 bits.
                sz += decode_bf16(x + r * run_length + j, work, 8 * group_length);
                minmax_batch8(work, work, work + 8 * group_length, group_length, bits, symmetric, &t, lanes,
                              lo_out ? lo_out + k : 0, hi_out ? hi_out + k : 0);
            }
        }
        for (; j < run_length; j += group_length, k++) {
            const long start = r * run_length + j;
            const long n = (j + group_length < run_length ? group_length : run_length - j);
            // Counted per group: each group's zero count is below 2^31, the total in 64 bits.
            sz += decode_bf16(x + start, values, n);
            minmax_group(values, values, o, n, piece_length, bits, symmetric, &t,
                                lo_out ? lo_out + k : 0, hi_out ? hi_out + k : 0);
        }
    }
    store_totals(&t, sums, max_error, count, zeros);
    *source_zeros = sz;
}

#else
void wl_fake_quantize_avx2(const float *x, float *o, long n, float s, float a, float b) {
    (void)x; (void)o; (void)n; (void)s; (void)a; (void)b;
}
void wl_min_max_lanes_avx2(const float *x, long n, float lo[8], float hi[8]) { (void)x; (void)n; (void)lo; (void)hi; }
void wl_error_sums_avx2(const float *w, const float *h, long n, double sums[4], float *max_error, int64_t *zeros) {
    (void)w; (void)h; (void)n; (void)sums; (void)max_error; (void)zeros;
}
void wl_int_minmax_runs_avx2(const float *x, const float *original, float *o, long runs, long run_length,
                             long group_length, long piece_length, int bits, int symmetric,
                             double sums[4], double *max_error, int64_t *count, int64_t *zeros) {
    (void)x; (void)original; (void)o; (void)runs; (void)run_length; (void)group_length; (void)piece_length;
    (void)bits; (void)symmetric; (void)sums; (void)max_error; (void)count; (void)zeros;
}
long wl_int_minmax_bf16_work_floats(long run_length, long group_length) { (void)run_length; return 2 * group_length; }
void wl_int_minmax_runs_bf16_avx2(const uint16_t *x, float *work, long runs, long run_length,
                                  long group_length, long piece_length, int bits, int symmetric,
                                  double sums[4], double *max_error, int64_t *count, int64_t *zeros,
                                  int64_t *source_zeros, float *lo_out, float *hi_out) {
    (void)lo_out; (void)hi_out; (void)x; (void)work; (void)runs; (void)run_length; (void)group_length; (void)piece_length;
    (void)bits; (void)symmetric; (void)sums; (void)max_error; (void)count; (void)zeros; (void)source_zeros;
}
#endif
