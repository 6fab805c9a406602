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
WL_AVX2 static inline void minmax_group(const float *x, const float *original, float *o, long n, long piece_length,
                                        int bits, int symmetric, struct wl_totals *t) {
    float ll[8], hl[8];
    wl_min_max_lanes_avx2(x, n, ll, hl);
    float lo, hi;
    reduce_min_max(ll, hl, x + (n & ~7L), n & 7L, &lo, &hi);
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

WL_AVX2 void wl_int_minmax_runs_avx2(const float *x, const float *original, float *o, long runs, long run_length,
                                     long group_length, long piece_length, int bits, int symmetric,
                                     double sums[4], double *max_error, int64_t *count, int64_t *zeros) {
    struct wl_totals t = {0, 0, 0, 0, 0, 0, 0};
    for (long r = 0; r < runs; r++) {
        for (long j = 0; j < run_length; j += group_length) {
            const long start = r * run_length + j;
            const long n = (j + group_length < run_length ? group_length : run_length - j);
            minmax_group(x + start, original ? original + start : 0, o + start, n, piece_length, bits, symmetric, &t);
        }
    }
    store_totals(&t, sums, max_error, count, zeros);
}

WL_AVX2 void wl_int_minmax_runs_bf16_avx2(const uint16_t *x, float *work, long runs, long run_length,
                                          long group_length, long piece_length, int bits, int symmetric,
                                          double sums[4], double *max_error, int64_t *count, int64_t *zeros,
                                          int64_t *source_zeros) {
    struct wl_totals t = {0, 0, 0, 0, 0, 0, 0};
    const long g = group_length < run_length ? group_length : run_length;
    float *values = work, *o = work + g;
    int64_t sz = 0;
    for (long r = 0; r < runs; r++) {
        for (long j = 0; j < run_length; j += group_length) {
            const long start = r * run_length + j;
            const long n = (j + group_length < run_length ? group_length : run_length - j);
            // Counted per group: each group's zero count is below 2^31, the total in 64 bits.
            sz += decode_bf16(x + start, values, n);
            minmax_group(values, values, o, n, piece_length, bits, symmetric, &t);
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
void wl_int_minmax_runs_bf16_avx2(const uint16_t *x, float *work, long runs, long run_length,
                                  long group_length, long piece_length, int bits, int symmetric,
                                  double sums[4], double *max_error, int64_t *count, int64_t *zeros,
                                  int64_t *source_zeros) {
    (void)x; (void)work; (void)runs; (void)run_length; (void)group_length; (void)piece_length;
    (void)bits; (void)symmetric; (void)sums; (void)max_error; (void)count; (void)zeros; (void)source_zeros;
}
#endif
