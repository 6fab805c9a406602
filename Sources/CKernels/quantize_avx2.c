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

WL_AVX2 void wl_sum_squares_avx2(const float *w, long n, double *sum, int64_t *zeros, int *finite) {
    const __m256 zero = _mm256_setzero_ps();
    const __m256i exponent = _mm256_set1_epi32(0x7f800000);
    __m256i vzero = _mm256_setzero_si256(), special = _mm256_setzero_si256();
    double acc = 0;
    int64_t zc = 0;
    long a = 0;
    for (; a + 64 <= n; a += 64) {
        __m256 aww = _mm256_setzero_ps();
        for (long i = a; i < a + 64; i += 8) {
            const __m256 wf = _mm256_loadu_ps(w + i);
            aww = _mm256_add_ps(aww, _mm256_mul_ps(wf, wf));
            vzero = _mm256_sub_epi32(vzero, _mm256_castps_si256(_mm256_cmp_ps(wf, zero, _CMP_EQ_OQ)));
            special = _mm256_or_si256(special, _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_castps_si256(wf), exponent), exponent));
        }
        float l[8];
        _mm256_storeu_ps(l, aww);
        for (int k = 0; k < 8; k++) acc += (double)l[k];
        if (((a + 64) & 0xFFFF) == 0) {
            int32_t zl[8];
            _mm256_storeu_si256((__m256i *)zl, vzero);
            for (int k = 0; k < 8; k++) zc += zl[k];
            vzero = _mm256_setzero_si256();
        }
    }
    int all_finite = _mm256_testz_si256(special, special);
    for (; a < n; a++) {
        const double wd = (double)w[a];
        double p = wd * wd;
        acc += p;
        zc += w[a] == 0 ? 1 : 0;
        uint32_t bits;
        __builtin_memcpy(&bits, w + a, 4);
        if ((bits & 0x7f800000u) == 0x7f800000u) all_finite = 0;
    }
    int32_t zl[8];
    _mm256_storeu_si256((__m256i *)zl, vzero);
    for (int k = 0; k < 8; k++) zc += zl[k];
    *sum = acc;
    *zeros = zc;
    *finite = all_finite;
}

WL_AVX2 void wl_fake_quantize_avx2(const float *x, float *o, long n, float s, float a, float b) {
    fake_quantize(x, o, n, s, a, b);
}

/// One group of n values at x: its min/max grid (IntegerQuantizer.grid(for:)); with lo_out, the group's range
/// is stored there.
WL_AVX2 static inline struct int_grid group_grid(const float *x, long n, int bits, int symmetric, float *lo_out,
                                                 float *hi_out) {
    float ll[8], hl[8];
    wl_min_max_lanes_avx2(x, n, ll, hl);
    float lo, hi;
    reduce_min_max(ll, hl, x + (n & ~7L), n & 7L, &lo, &hi);
    if (lo_out) { *lo_out = lo; *hi_out = hi; }
    return int_grid_from_min_max(lo, hi, bits, symmetric);
}

/// The values of one measured piece (IntegerQuantizer's measuring pieces): whole groups up to piece_length
/// values, or piece_length values of one longer group.
static inline long piece_span(long group_length, long piece_length) {
    return group_length >= piece_length ? piece_length : piece_length / group_length * group_length;
}

/// One run of n values at x in groups of g, the portable path's steps: each group's grid, each measured piece
/// quantized into o group by group and, when original is not NULL, measured against it and merged into t in
/// order. With lo_out, the groups' ranges are stored there in order.
WL_AVX2 static inline void measure_piece(const float *original, const float *o, long n, struct wl_totals *t) {
    double s[4];
    float me;
    int64_t z;
    error_sums(original, o, n, s, &me, &z);
    merge_piece(t, s, me, z, n);
}

WL_AVX2 static void minmax_run(const float *x, const float *original, float *o, long n, long g, long piece_length,
                               int bits, int symmetric, struct wl_totals *t, float *lo_out, float *hi_out) {
    long k = 0;
    if (g > piece_length) {
        for (long j = 0; j < n; j += g, k++) {
            const long m = j + g < n ? g : n - j;
            const struct int_grid grid = group_grid(x + j, m, bits, symmetric, lo_out ? lo_out + k : 0, hi_out ? hi_out + k : 0);
            for (long p = j; p < j + m; p += piece_length) {
                const long q = p + piece_length < j + m ? piece_length : j + m - p;
                fake_quantize_grid(x + p, o + p, q, grid);
                if (original) measure_piece(original + p, o + p, q, t);
            }
        }
        return;
    }
    const long span = piece_span(g, piece_length);
    for (long p0 = 0; p0 < n; p0 += span) {
        const long p1 = p0 + span < n ? p0 + span : n;
        for (long j = p0; j < p1; j += g, k++) {
            const long m = j + g < p1 ? g : p1 - j;
            const struct int_grid grid = group_grid(x + j, m, bits, symmetric, lo_out ? lo_out + k : 0, hi_out ? hi_out + k : 0);
            fake_quantize_grid(x + j, o + j, m, grid);
        }
        if (original) measure_piece(original + p0, o + p0, p1 - p0, t);
    }
}

static void store_totals(const struct wl_totals *t, double sums[4], double *max_error, int64_t *count, int64_t *zeros) {
    sums[0] = t->t0; sums[1] = t->t1; sums[2] = t->t2; sums[3] = t->t3;
    *max_error = t->tmax;
    *count = t->count;
    *zeros = t->zeros;
}

// Batches of eight groups. Per group, the scalar steps between the vector passes (the lanes' reduction, the grid's
// division and rounding) cost about as much as the passes themselves and sit on one dependent chain; eight groups
// at a time do them as vector steps across the groups (lane j = group j), with the same Float32 operations in the
// same order, and each group's blocks go into its piece's running sums (piece_sums), so the numbers are
// minmax_run's bit for bit. Taken for groups of a multiple of 64 values (no scalar tails in the lanes, and the
// blocks of 64 never straddle two groups) no longer than a piece and short enough that eight of them stay in L1
// (WL_BATCH_MAX_GROUP); see batches().
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


/// One group of n (a multiple of 64) values: quantized with (s, a, b) into o as fake_quantize does and, with
/// original, its blocks added to the piece's sums p. (Two passes over the group in L1: quantizing and measuring
/// in one loop was slower, its longer dependent chain per 8 values filling the scheduler.)
/// `unclamped`: the clamp to [a, b] changes nothing, so it is left out. That holds for a symmetric grid of
/// the group's own range with a normal scale s = fl(c/qmax), c = max(−lo, hi) ≥ |x|: |x/s| ≤ qmax·(1 + 2^-22)
/// rounds into [−qmax, qmax] ⊂ [a, b] (a NaN passes either way; with a subnormal scale the quotient can
/// exceed qmax, so those groups clamp).
/// `scratch`: o is only measured, never handed back, so unclamped groups round with roundps (one step instead of
/// adding and subtracting 1.5·2^23). Both round half to even; they differ only in the sign of a zero (roundps
/// keeps −0 for −0.5 ≤ t < 0), and a zero's sign changes none of the sums: the lane sums start at +0 and
/// x + (±0) = x for x ≠ −0, e = w − (±0) differs only as ±0, whose square and magnitude are +0, and both count
/// as zeros.
WL_AVX2 __attribute__((always_inline)) static inline void quantize_measure_group(const float *x, const float *original, float *o, long n, float s,
                                                  float a, float b, int unclamped, int scratch, struct piece_sums *p) {
    if (s == 0) {
        for (long k = 0; k < n; k += 8) _mm256_storeu_ps(o + k, _mm256_setzero_ps());
    } else if (unclamped && scratch) {
        const __m256 sv = _mm256_set1_ps(s);
        for (long k = 0; k < n; k += 8) {
            const __m256 t = _mm256_div_ps(_mm256_loadu_ps(x + k), sv);
            _mm256_storeu_ps(o + k, _mm256_mul_ps(_mm256_round_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), sv));
        }
    } else if (unclamped) {
        const __m256 sv = _mm256_set1_ps(s), magic = _mm256_set1_ps(0x1.8p23f);
        for (long k = 0; k < n; k += 8) {
            const __m256 t = _mm256_div_ps(_mm256_loadu_ps(x + k), sv);
            _mm256_storeu_ps(o + k, _mm256_mul_ps(_mm256_sub_ps(_mm256_add_ps(t, magic), magic), sv));
        }
    } else {
        fake_quantize(x, o, n, s, a, b);
    }
    if (original) piece_sums_add(p, original, o, n);
}

/// The grids of a batch of eight groups, each group's (scale, a, b).
struct batch_grids { float scale[8], a[8], b[8]; };

/// A batch's grids from its groups' lanes (lanes[8·j…]: group j's min lanes, lanes[64 + 8·j…]: its max lanes), as
/// group_grid finds them; with lo_out, the eight ranges are stored there.
WL_AVX2 static inline void batch_grids(const float *lanes, int bits, int symmetric, struct batch_grids *bg,
                                       float *lo_out, float *hi_out) {
    __m256 lo, hi, sv, av, bv;
    reduce_min_max8(lanes, lanes + 64, &lo, &hi);
    if (lo_out) { _mm256_storeu_ps(lo_out, lo); _mm256_storeu_ps(hi_out, hi); }
    int_grid8(lo, hi, bits, symmetric, &sv, &av, &bv);
    _mm256_storeu_ps(bg->scale, sv);
    _mm256_storeu_ps(bg->a, av);
    _mm256_storeu_ps(bg->b, bv);
}

/// Where the measured pieces end among a run's groups: after group k (0-based in its run of `groups`) when a piece
/// holds `per` groups.
static inline int ends_piece(long k, long groups, long per) {
    return (k + 1) % per == 0 || k + 1 == groups;
}

/// Eight consecutive groups of g values at x with their grids: quantized into o and, with original, measured into
/// the running piece p, which is merged into t after each group whose bit is set in `ends`.
WL_AVX2 __attribute__((always_inline)) static inline void batch_quantize(const float *x, const float *original, float *o, long g, int symmetric,
                                          const struct batch_grids *bg, int scratch, struct piece_sums *p,
                                          unsigned ends, struct wl_totals *t) {
    for (int j = 0; j < 8; j++) {
        quantize_measure_group(x + j * g, original ? original + j * g : 0, o + j * g, g, bg->scale[j], bg->a[j], bg->b[j],
                               symmetric && bg->scale[j] >= 0x1p-126f && bg->scale[j] <= 0x1.fffffep127f, scratch, p);
        if (original && (ends >> j & 1)) piece_sums_end(p, 0, 0, 0, t);
    }
}

/// decode_bf16 of one group of n (a multiple of 8) values with its KernelSIMD.minMax lanes (lo, hi) on the way.
WL_AVX2 static inline __m256i decode_bf16_lanes(const uint16_t *x, float *out, long n, float *lo, float *hi,
                                                __m256i vz) {
    const __m256 zero = _mm256_setzero_ps();
    __m256 l = _mm256_set1_ps(__builtin_inff()), h = _mm256_set1_ps(-__builtin_inff());
    for (long k = 0; k < n; k += 8) {
        const __m256 v = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(x + k))), 16));
        _mm256_storeu_ps(out + k, v);
        vz = _mm256_sub_epi32(vz, _mm256_castps_si256(_mm256_cmp_ps(v, zero, _CMP_EQ_OQ)));
        l = _mm256_min_ps(v, l);
        h = _mm256_max_ps(v, h);
    }
    _mm256_storeu_ps(lo, l);
    _mm256_storeu_ps(hi, h);
    return vz;
}

/// Whether groups of group_length go in batches of eight: a multiple of 64 values, no longer than a piece, eight
/// of them small enough to stay in L1 with their reconstruction, and either dividing the runs (then batches cross
/// run boundaries) or eight of them in a run.
static inline int batches(long run_length, long group_length, long piece_length) {
    return group_length % 64 == 0 && group_length <= WL_BATCH_MAX_GROUP && group_length <= piece_length
        && (run_length % group_length == 0 || run_length >= 8 * group_length);
}

/// The runs' groups as stretches of consecutive whole groups that batches can take across run boundaries:
/// every group of every run when the groups divide the runs, else each run's whole groups (its shorter last
/// group follows on its own).
static inline long stretch_groups(long runs, long run_length, long group_length, long *stretches) {
    if (run_length % group_length == 0) { *stretches = 1; return runs * (run_length / group_length); }
    *stretches = runs;
    return run_length / group_length;
}

/// The piece ends among batch b's eight groups (bit j: after group 8b + j of the stretch).
static inline unsigned batch_ends(long b, long run_groups, long per) {
    unsigned ends = 0;
    for (int j = 0; j < 8; j++) ends |= (unsigned)ends_piece((8 * b + j) % run_groups, run_groups, per) << j;
    return ends;
}

/// A run's shorter last group of n < g values at x (quantized into o, measured against original): the end of its
/// run, so of its piece.
WL_AVX2 static inline void last_group(const float *x, const float *original, float *o, long n, int bits, int symmetric,
                                      struct piece_sums *p, struct wl_totals *t, float *lo_out, float *hi_out) {
    const struct int_grid grid = group_grid(x, n, bits, symmetric, lo_out, hi_out);
    fake_quantize_grid(x, o, n, grid);
    if (!original) return;
    const long blocks = n & ~63L;
    piece_sums_add(p, original, o, blocks);
    piece_sums_end(p, original + blocks, o + blocks, n - blocks, t);
}

WL_AVX2 void wl_int_minmax_runs_avx2(const float *x, const float *original, float *o, long runs, long run_length,
                                     long group_length, long piece_length, int bits, int symmetric,
                                     double sums[4], double *max_error, int64_t *count, int64_t *zeros) {
    struct wl_totals t = {0, 0, 0, 0, 0, 0, 0};
    if (batches(run_length, group_length, piece_length)) {
        const long g = group_length, per = piece_span(g, piece_length) / g;
        const long run_groups = (run_length + g - 1) / g;
        long stretches;
        const long whole = stretch_groups(runs, run_length, g, &stretches);
        const long stride = stretches == 1 ? 0 : run_length;
        float lanes[2][128];
        struct batch_grids bg[2];
        struct piece_sums p = piece_sums_start();
        for (long r = 0; r < stretches; r++) {
            const long base = r * stride, nb = whole / 8;
            // Each batch's grids are found one batch ahead, so their latency hides behind the quantizing before.
            for (int j = 0; j < 8 && nb > 0; j++) wl_min_max_lanes_avx2(x + base + j * g, g, lanes[0] + 8 * j, lanes[0] + 64 + 8 * j);
            if (nb > 0) batch_grids(lanes[0], bits, symmetric, &bg[0], 0, 0);
            for (long b = 0; b < nb; b++) {
                const long at = base + 8 * b * g;
                if (b + 1 < nb) {
                    float *ln = lanes[(b + 1) & 1];
                    for (int j = 0; j < 8; j++) wl_min_max_lanes_avx2(x + at + (8 + j) * g, g, ln + 8 * j, ln + 64 + 8 * j);
                    batch_grids(ln, bits, symmetric, &bg[(b + 1) & 1], 0, 0);
                }
                batch_quantize(x + at, original ? original + at : 0, o + at, g, symmetric, &bg[b & 1], 0, &p,
                               batch_ends(b, run_groups, per), &t);
            }
            // The groups after the last batch, then a shorter last group.
            for (long i = 8 * nb; i < whole; i++) {
                const long at = base + i * g;
                const struct int_grid grid = group_grid(x + at, g, bits, symmetric, 0, 0);
                quantize_measure_group(x + at, original ? original + at : 0, o + at, g, grid.scale, grid.a, grid.b, 0, 0, &p);
                if (original && ends_piece(i % run_groups, run_groups, per)) piece_sums_end(&p, 0, 0, 0, &t);
            }
            if (stretches > 1) {
                const long at = base + whole * g;
                last_group(x + at, original ? original + at : 0, o + at, run_length - whole * g, bits, symmetric, &p, &t, 0, 0);
            }
        }
    } else {
        for (long r = 0; r < runs; r++) {
            const long start = r * run_length;
            minmax_run(x + start, original ? original + start : 0, o + start, run_length, group_length, piece_length,
                       bits, symmetric, &t, 0, 0);
        }
    }
    store_totals(&t, sums, max_error, count, zeros);
}

/// The values a general-path call of wl_int_minmax_runs_bf16_avx2 decodes at a time: a piece, or a whole group
/// longer than a piece (its grid needs all of it).
static inline long decoded_span(long run_length, long group_length, long piece_length) {
    const long span = group_length > piece_length ? group_length : piece_span(group_length, piece_length);
    return span < run_length ? span : run_length;
}

long wl_int_minmax_bf16_work_floats(long run_length, long group_length, long piece_length) {
    return batches(run_length, group_length, piece_length) ? 24 * group_length
                                                           : 2 * decoded_span(run_length, group_length, piece_length);
}

WL_AVX2 void wl_int_minmax_runs_bf16_avx2(const uint16_t *x, float *work, long runs, long run_length,
                                          long group_length, long piece_length, int bits, int symmetric,
                                          double sums[4], double *max_error, int64_t *count, int64_t *zeros,
                                          int64_t *source_zeros, float *lo_out, float *hi_out) {
    struct wl_totals t = {0, 0, 0, 0, 0, 0, 0};
    int64_t sz = 0;
    const long g = group_length;
    const long run_groups = (run_length + g - 1) / g;
    if (batches(run_length, group_length, piece_length)) {
        const long per = piece_span(g, piece_length) / g;
        long stretches;
        const long whole = stretch_groups(runs, run_length, g, &stretches);
        const long stride = stretches == 1 ? 0 : run_length;
        const long groups_per_stretch = stretches == 1 ? runs * run_groups : run_groups;
        // Two batches of decoded values (this one and the next) and this one's reconstruction.
        float *values[2] = {work, work + 8 * g}, *o = work + 16 * g;
        float lanes[2][128];
        struct batch_grids bg[2];
        struct piece_sums p = piece_sums_start();
        for (long r = 0; r < stretches; r++) {
            const long base = r * stride, nb = whole / 8, first = r * groups_per_stretch;
            __m256i vz = _mm256_setzero_si256();   // per batch below 2^31 a lane; added up per batch
            // Each batch is decoded and its grids found one batch ahead, so their latency hides behind the
            // quantizing before.
            for (int j = 0; j < 8 && nb > 0; j++) vz = decode_bf16_lanes(x + base + j * g, values[0] + j * g, g, lanes[0] + 8 * j, lanes[0] + 64 + 8 * j, vz);
            if (nb > 0) batch_grids(lanes[0], bits, symmetric, &bg[0], lo_out ? lo_out + first : 0, hi_out ? hi_out + first : 0);
            for (long b = 0; b < nb; b++) {
                const long at = base + 8 * b * g;
                int32_t zl[8];
                _mm256_storeu_si256((__m256i *)zl, vz);
                for (int l = 0; l < 8; l++) sz += zl[l];
                vz = _mm256_setzero_si256();
                if (b + 1 < nb) {
                    const int nx = (int)((b + 1) & 1);
                    for (int j = 0; j < 8; j++) vz = decode_bf16_lanes(x + at + (8 + j) * g, values[nx] + j * g, g, lanes[nx] + 8 * j, lanes[nx] + 64 + 8 * j, vz);
                    batch_grids(lanes[nx], bits, symmetric, &bg[nx], lo_out ? lo_out + first + 8 * (b + 1) : 0,
                                hi_out ? hi_out + first + 8 * (b + 1) : 0);
                }
                batch_quantize(values[b & 1], values[b & 1], o, g, symmetric, &bg[b & 1], 1, &p, batch_ends(b, run_groups, per), &t);
            }
            // The groups after the last batch, then a shorter last group. Zeros are counted per group: each
            // group's count is below 2^31, the total in 64 bits.
            for (long i = 8 * nb; i < whole; i++) {
                sz += decode_bf16(x + base + i * g, values[0], g);
                const struct int_grid grid = group_grid(values[0], g, bits, symmetric, lo_out ? lo_out + first + i : 0,
                                                        hi_out ? hi_out + first + i : 0);
                quantize_measure_group(values[0], values[0], o, g, grid.scale, grid.a, grid.b, 0, 1, &p);
                if (ends_piece(i % run_groups, run_groups, per)) piece_sums_end(&p, 0, 0, 0, &t);
            }
            if (stretches > 1) {
                const long n = run_length - whole * g;
                sz += decode_bf16(x + base + whole * g, values[0], n);
                last_group(values[0], values[0], o, n, bits, symmetric, &p, &t, lo_out ? lo_out + first + whole : 0,
                           hi_out ? hi_out + first + whole : 0);
            }
        }
    } else {
        // A piece (or a group longer than a piece) at a time, decoded, then minmax_run's steps on it.
        const long span = decoded_span(run_length, group_length, piece_length);
        float *values = work, *o = work + span;
        long k = 0;   // the group's index, for the ranges
        for (long r = 0; r < runs; r++) {
            for (long j = 0; j < run_length; j += span) {
                const long n = j + span < run_length ? span : run_length - j;
                // Counted per piece: each piece's zero count is below 2^31, the total in 64 bits.
                sz += decode_bf16(x + r * run_length + j, values, n);
                minmax_run(values, values, o, n, g, piece_length, bits, symmetric, &t, lo_out ? lo_out + k : 0,
                           hi_out ? hi_out + k : 0);
                k += (n + g - 1) / g;
            }
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
void wl_sum_squares_avx2(const float *w, long n, double *sum, int64_t *zeros, int *finite) {
    (void)w; (void)n; (void)sum; (void)zeros; (void)finite;
}
void wl_error_sums_avx2(const float *w, const float *h, long n, double sums[4], float *max_error, int64_t *zeros) {
    (void)w; (void)h; (void)n; (void)sums; (void)max_error; (void)zeros;
}
void wl_int_minmax_runs_avx2(const float *x, const float *original, float *o, long runs, long run_length,
                             long group_length, long piece_length, int bits, int symmetric,
                             double sums[4], double *max_error, int64_t *count, int64_t *zeros) {
    (void)x; (void)original; (void)o; (void)runs; (void)run_length; (void)group_length; (void)piece_length;
    (void)bits; (void)symmetric; (void)sums; (void)max_error; (void)count; (void)zeros;
}
long wl_int_minmax_bf16_work_floats(long run_length, long group_length, long piece_length) {
    (void)run_length; (void)piece_length;
    return 2 * group_length;
}
void wl_int_minmax_runs_bf16_avx2(const uint16_t *x, float *work, long runs, long run_length,
                                  long group_length, long piece_length, int bits, int symmetric,
                                  double sums[4], double *max_error, int64_t *count, int64_t *zeros,
                                  int64_t *source_zeros, float *lo_out, float *hi_out) {
    (void)lo_out; (void)hi_out; (void)x; (void)work; (void)runs; (void)run_length; (void)group_length; (void)piece_length;
    (void)bits; (void)symmetric; (void)sums; (void)max_error; (void)count; (void)zeros; (void)source_zeros;
}
#endif
