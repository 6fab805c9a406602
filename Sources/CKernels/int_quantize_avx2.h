// The integer kernels' shared inner steps (quantize_avx2.c's one-option kernels and int_menu_avx2.c's
// many-option kernel), in one place so that every caller does the same Float32/Double operations in the same
// order: the streamed menu's numbers must equal `report`'s bit for bit.
#ifndef WL_INT_QUANTIZE_AVX2_H
#define WL_INT_QUANTIZE_AVX2_H
#pragma STDC FP_CONTRACT OFF
#include <immintrin.h>
#include <stdint.h>
#define WL_AVX2 __attribute__((target("avx2")))

/// One 64-value block's lane sums added to the Double sums acc = (Σw², Σe², Σwh, Σh²) in lane order, the four
/// sums side by side in one vector (each Double lane its own chain, the same additions as one scalar chain per
/// sum): the four 8-lane Float sums transposed into eight quadruples, lane 0 first.
WL_AVX2 static inline __m256d add_block_sums(__m256d acc, __m256 aww, __m256 aee, __m256 awh, __m256 ahh) {
    __m256 t0 = _mm256_unpacklo_ps(aww, aee), t1 = _mm256_unpacklo_ps(awh, ahh);
    __m256 t2 = _mm256_unpackhi_ps(aww, aee), t3 = _mm256_unpackhi_ps(awh, ahh);
    __m256 c0 = _mm256_shuffle_ps(t0, t1, 0x44), c1 = _mm256_shuffle_ps(t0, t1, 0xEE);   // lanes 0, 1 | 4, 5
    __m256 c2 = _mm256_shuffle_ps(t2, t3, 0x44), c3 = _mm256_shuffle_ps(t2, t3, 0xEE);   // lanes 2, 3 | 6, 7
    acc = _mm256_add_pd(acc, _mm256_cvtps_pd(_mm256_castps256_ps128(c0)));
    acc = _mm256_add_pd(acc, _mm256_cvtps_pd(_mm256_castps256_ps128(c1)));
    acc = _mm256_add_pd(acc, _mm256_cvtps_pd(_mm256_castps256_ps128(c2)));
    acc = _mm256_add_pd(acc, _mm256_cvtps_pd(_mm256_castps256_ps128(c3)));
    acc = _mm256_add_pd(acc, _mm256_cvtps_pd(_mm256_extractf128_ps(c0, 1)));
    acc = _mm256_add_pd(acc, _mm256_cvtps_pd(_mm256_extractf128_ps(c1, 1)));
    acc = _mm256_add_pd(acc, _mm256_cvtps_pd(_mm256_extractf128_ps(c2, 1)));
    acc = _mm256_add_pd(acc, _mm256_cvtps_pd(_mm256_extractf128_ps(c3, 1)));
    return acc;
}

/// error_sums' ending, also the many-option kernel's: the scalar tail of n values (w against h) added to the
/// blocks' sums (acc: Σw², Σe², Σwh, Σh²), then the lanes' zeros and maximum.
WL_AVX2 static inline void error_sums_end(__m256d acc, __m256 vmax, __m256i vzero, int64_t zc, const float *w,
                                          const float *h, long n, double sums[4], float *max_error, int64_t *zeros) {
    double q[4];
    _mm256_storeu_pd(q, acc);
    double sww = q[0], see = q[1], swh = q[2], shh = q[3];
    float maxErr = 0;
    for (long a = 0; a < n; a++) {
        double wd = (double)w[a], hd = (double)h[a];
        float e = w[a] - h[a];
        float ae = __builtin_fabsf(e);
        maxErr = ae >= maxErr ? ae : maxErr;   // Swift.max(maxErr, abs(e))
        zc += h[a] == 0 ? 1 : 0;
        double ed = (double)e;
        double p;
        p = wd * wd; sww += p;
        p = ed * ed; see += p;
        p = wd * hd; swh += p;
        p = hd * hd; shh += p;
    }
    int32_t zl[8];
    float ml[8];
    _mm256_storeu_si256((__m256i *)zl, vzero);
    _mm256_storeu_ps(ml, vmax);
    for (int l = 0; l < 8; l++) zc += zl[l];
    float m = ml[0];                            // lanes are ≥ +0 and never NaN: any order gives the same max
    for (int l = 1; l < 8; l++) m = ml[l] > m ? ml[l] : m;
    maxErr = m >= maxErr ? m : maxErr;          // Swift.max(maxErr, vmax.max())
    sums[0] = sww; sums[1] = see; sums[2] = swh; sums[3] = shh;
    *max_error = maxErr;
    *zeros = zc;
}

/// error_sums fed in parts, so that one measured piece can be quantized and measured group after group while
/// each group is in cache: the blocks of 64 as they are ready (piece_sums_add), then the tail (piece_sums_end).
/// The additions are error_sums' over the whole piece, in the same order.
struct piece_sums { __m256d acc; __m256 vmax; __m256i vzero; int64_t zc; long n; };

WL_AVX2 static inline struct piece_sums piece_sums_start(void) {
    struct piece_sums p;
    p.acc = _mm256_setzero_pd();
    p.vmax = _mm256_setzero_ps();
    p.vzero = _mm256_setzero_si256();
    p.zc = 0;
    p.n = 0;
    return p;
}

/// The next n values of the piece (a multiple of 64, at most 2^16 between two endings or error_sums' moves of
/// the zero counts, so that no lane's count overflows), w against h: error_sums' loop.
WL_AVX2 __attribute__((always_inline)) static inline void piece_sums_add(struct piece_sums *p, const float *w, const float *h, long n) {
    const __m256 absMask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff)), zero = _mm256_setzero_ps();
    __m256 vmax = p->vmax;
    __m256i vzero = p->vzero;
    __m256d acc = p->acc;
    for (long a = 0; a < n; a += 64) {
        __m256 aww = _mm256_setzero_ps(), aee = aww, awh = aww, ahh = aww;
        for (long i = a; i < a + 64; i += 8) {
            __m256 wf = _mm256_loadu_ps(w + i), hf = _mm256_loadu_ps(h + i);
            __m256 e = _mm256_sub_ps(wf, hf);
            aww = _mm256_add_ps(aww, _mm256_mul_ps(wf, wf));
            aee = _mm256_add_ps(aee, _mm256_mul_ps(e, e));
            awh = _mm256_add_ps(awh, _mm256_mul_ps(wf, hf));
            ahh = _mm256_add_ps(ahh, _mm256_mul_ps(hf, hf));
            __m256 ae = _mm256_and_ps(e, absMask);
            vmax = _mm256_max_ps(ae, vmax);    // ae > vmax ? ae : vmax
            vzero = _mm256_sub_epi32(vzero, _mm256_castps_si256(_mm256_cmp_ps(hf, zero, _CMP_EQ_OQ)));
        }
        acc = add_block_sums(acc, aww, aee, awh, ahh);
    }
    p->acc = acc;
    p->vmax = vmax;
    p->vzero = vzero;
    p->n += n;
}

WL_AVX2 static inline void error_sums(const float *w, const float *h, long n, double sums[4], float *max_error,
                                     int64_t *zeros) {
    struct piece_sums p = piece_sums_start();
    const long blocks = n & ~63L;
    for (long a = 0; a < blocks; a += 1L << 16) {
        piece_sums_add(&p, w + a, h + a, a + (1L << 16) < blocks ? 1L << 16 : blocks - a);
        // The lanes' zero counts moved to 64 bits every 2^16 values, so that they never overflow.
        int32_t zl[8];
        _mm256_storeu_si256((__m256i *)zl, p.vzero);
        for (int l = 0; l < 8; l++) p.zc += zl[l];
        p.vzero = _mm256_setzero_si256();
    }
    error_sums_end(p.acc, p.vmax, p.vzero, p.zc, w + blocks, h + blocks, n - blocks, sums, max_error, zeros);
}

WL_AVX2 static inline void fake_quantize(const float *x, float *o, long n, float s, float a, float b) {
    const __m256 sv = _mm256_set1_ps(s), av = _mm256_set1_ps(a), bv = _mm256_set1_ps(b);
    const __m256 magic = _mm256_set1_ps(0x1.8p23f);
    long k = 0;
    for (; k + 8 <= n; k += 8) {
        __m256 t = _mm256_div_ps(_mm256_loadu_ps(x + k), sv);
        t = _mm256_max_ps(av, t);              // t < a ? a : t (maxps returns t, the second operand, on NaN)
        t = _mm256_min_ps(bv, t);              // t > b ? b : t
        _mm256_storeu_ps(o + k, _mm256_mul_ps(_mm256_sub_ps(_mm256_add_ps(t, magic), magic), sv));
    }
    for (; k < n; k++) {
        volatile float t = x[k] / s;           // volatile: keep the Float32 steps as written
        float u = a >= t ? a : t;              // Swift.max(t, a)
        u = b < u ? b : u;                     // Swift.min(u, b)
        volatile float r = u + 0x1.8p23f;
        o[k] = (r - 0x1.8p23f) * s;
    }
}

/// Swift's roundHalfEven: (x + 1.5·2²³) − 1.5·2²³ in Float32.
static inline float round_half_even(float x) {
    volatile float r = x + 0x1.8p23f;
    return r - 0x1.8p23f;
}

/// Running totals of the fused integer kernels: the merged ErrorMetrics of the pieces so far, in order.
struct wl_totals { double t0, t1, t2, t3, tmax; int64_t count, zeros; };

/// BF16 → Float32 (the high half of the bit pattern) of n values, 8 at a time; returns the exact zeros (±0).
WL_AVX2 static inline int64_t decode_bf16(const uint16_t *x, float *out, long n) {
    const __m256 zero = _mm256_setzero_ps();
    __m256i vz = _mm256_setzero_si256();
    long k = 0;
    int64_t z = 0;
    for (; k + 8 <= n; k += 8) {
        __m256i w = _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(x + k))), 16);
        __m256 v = _mm256_castsi256_ps(w);
        _mm256_storeu_ps(out + k, v);
        vz = _mm256_sub_epi32(vz, _mm256_castps_si256(_mm256_cmp_ps(v, zero, _CMP_EQ_OQ)));
    }
    int32_t zl[8];
    _mm256_storeu_si256((__m256i *)zl, vz);
    for (int l = 0; l < 8; l++) z += zl[l];
    for (; k < n; k++) {
        uint32_t bits = (uint32_t)x[k] << 16;
        float v;
        __builtin_memcpy(&v, &bits, 4);
        out[k] = v;
        z += v == 0 ? 1 : 0;
    }
    return z;
}

/// ClippingSearch.minMax from KernelSIMD.minMax's lanes (ll, hl), reduced in lane order, then the scalar tail
/// of `tail` values at x; (0, 0) when lo > hi (no value but NaN).
static inline void reduce_min_max(const float ll[8], const float hl[8], const float *x, long tail, float *lo_out,
                                  float *hi_out) {
    float lo = ll[0], hi = hl[0];
    for (int l = 1; l < 8; l++) { lo = ll[l] < lo ? ll[l] : lo; hi = hl[l] >= hi ? hl[l] : hi; }
    for (long k = 0; k < tail; k++) {
        float v = x[k];
        lo = v < lo ? v : lo;            // Swift.min(lo, v)
        hi = v >= hi ? v : hi;           // Swift.max(hi, v)
    }
    if (lo > hi) { lo = 0; hi = 0; }
    *lo_out = lo;
    *hi_out = hi;
}

/// One group's grid as the fake-quantizer uses it: t = x/scale clamped to [a, b], rounded, times scale.
struct int_grid { float scale, a, b; };

/// IntegerGrid.symmetric / .asymmetric of a min/max range, in Float32.
static inline struct int_grid int_grid_from_min_max(float lo, float hi, int bits, int symmetric) {
    struct int_grid g;
    if (symmetric) {
        float qmax = (float)((1 << (bits - 1)) - 1);
        float nlo = -lo;
        float c = hi >= nlo ? hi : nlo;  // Swift.max(-lo, hi)
        g.scale = c / qmax;
        g.a = (-qmax - 1) - 0.0f;
        g.b = qmax - 0.0f;
    } else {
        float l0 = 0 < lo ? 0 : lo;      // Swift.min(lo, 0)
        float h0 = 0 >= hi ? 0 : hi;     // Swift.max(hi, 0)
        float levels = (float)((1 << bits) - 1);
        g.scale = (h0 - l0) / levels;
        float zero = g.scale == 0 ? 0 : round_half_even(-l0 / g.scale);
        g.a = 0 - zero;
        g.b = levels - zero;
    }
    return g;
}

/// int_grid_from_min_max of eight ranges, lane by lane the same Float32 steps (the ranges are never NaN, so each
/// select below equals its scalar form, signed zeros included).
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

/// Merges one piece's error_sums into the running totals (ErrorMetrics' `+`, in order).
static inline void merge_piece(struct wl_totals *t, const double s[4], float max_error, int64_t zeros, long n) {
    // ErrorMetrics(original:reconstructed:) starts from 0; the parts are then merged in order.
    t->t0 += 0.0 + s[0]; t->t1 += 0.0 + s[1]; t->t2 += 0.0 + s[2]; t->t3 += 0.0 + s[3];
    double med = (double)max_error;
    t->tmax = med >= t->tmax ? med : t->tmax;
    t->count += n;
    t->zeros += zeros;
}

/// The piece's last `tail` (< 64) values, w against h, then the piece merged into t (error_sums, then
/// merge_piece).
WL_AVX2 static inline void piece_sums_end(struct piece_sums *p, const float *w, const float *h, long tail,
                                          struct wl_totals *t) {
    double s[4];
    float me;
    int64_t z;
    error_sums_end(p->acc, p->vmax, p->vzero, p->zc, w, h, tail, s, &me, &z);
    merge_piece(t, s, me, z, p->n + tail);
    *p = piece_sums_start();
}

/// Quantizes n values under g into o: zeros for a scale of 0 (IntegerGrid.fakeQuantize's step), else
/// fake_quantize.
WL_AVX2 static inline void fake_quantize_grid(const float *x, float *o, long n, struct int_grid g) {
    if (g.scale == 0) {
        for (long k = 0; k < n; k++) o[k] = 0;
    } else {
        fake_quantize(x, o, n, g.scale, g.a, g.b);
    }
}

#endif
