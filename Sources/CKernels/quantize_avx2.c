// The integer fake-quantizer's inner loops (KernelSIMD.fakeQuantize, KernelSIMD.minMax) and the error sums
// (ErrorMetrics.accumulate) in AVX2, lane for lane as the Swift loops compute them.
#include "CKernels.h"
#pragma STDC FP_CONTRACT OFF

#if defined(__x86_64__)
#include <immintrin.h>
#define WL_AVX2 __attribute__((target("avx2")))

WL_AVX2 void wl_fake_quantize_avx2(const float *x, float *o, long n, float s, float a, float b) {
    const __m256 sv = _mm256_set1_ps(s), av = _mm256_set1_ps(a), bv = _mm256_set1_ps(b);
    const __m256 magic = _mm256_set1_ps(0x1.8p23f);
    long k = 0;
    for (; k + 8 <= n; k += 8) {
        __m256 t = _mm256_div_ps(_mm256_loadu_ps(x + k), sv);
        t = _mm256_blendv_ps(t, av, _mm256_cmp_ps(t, av, _CMP_LT_OQ));
        t = _mm256_blendv_ps(t, bv, _mm256_cmp_ps(t, bv, _CMP_GT_OQ));
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

WL_AVX2 void wl_min_max_lanes_avx2(const float *x, long n, float lo[8], float hi[8]) {
    __m256 l = _mm256_set1_ps(__builtin_inff()), h = _mm256_set1_ps(-__builtin_inff());
    for (long k = 0; k + 8 <= n; k += 8) {
        __m256 v = _mm256_loadu_ps(x + k);
        l = _mm256_blendv_ps(l, v, _mm256_cmp_ps(v, l, _CMP_LT_OQ));
        h = _mm256_blendv_ps(h, v, _mm256_cmp_ps(v, h, _CMP_GT_OQ));
    }
    _mm256_storeu_ps(lo, l);
    _mm256_storeu_ps(hi, h);
}

WL_AVX2 void wl_error_sums_avx2(const float *w, const float *h, long n, double sums[4], float *max_error,
                                int64_t *zeros) {
    double sww = 0, see = 0, swh = 0, shh = 0;
    const __m256 absMask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff)), zero = _mm256_setzero_ps();
    __m256 vmax = _mm256_setzero_ps();
    __m256i vzero = _mm256_setzero_si256();
    int64_t zc = 0;
    float maxErr = 0;
    long a = 0;
    float lanes[4][8] __attribute__((aligned(32)));
    while (a + 64 <= n) {
        __m256 aww = _mm256_setzero_ps(), aee = aww, awh = aww, ahh = aww;
        for (long i = a; i < a + 64; i += 8) {
            __m256 wf = _mm256_loadu_ps(w + i), hf = _mm256_loadu_ps(h + i);
            __m256 e = _mm256_sub_ps(wf, hf);
            aww = _mm256_add_ps(aww, _mm256_mul_ps(wf, wf));
            aee = _mm256_add_ps(aee, _mm256_mul_ps(e, e));
            awh = _mm256_add_ps(awh, _mm256_mul_ps(wf, hf));
            ahh = _mm256_add_ps(ahh, _mm256_mul_ps(hf, hf));
            __m256 ae = _mm256_and_ps(e, absMask);
            vmax = _mm256_blendv_ps(vmax, ae, _mm256_cmp_ps(ae, vmax, _CMP_GT_OQ));
            vzero = _mm256_sub_epi32(vzero, _mm256_castps_si256(_mm256_cmp_ps(hf, zero, _CMP_EQ_OQ)));
        }
        _mm256_store_ps(lanes[0], aww);
        _mm256_store_ps(lanes[1], aee);
        _mm256_store_ps(lanes[2], awh);
        _mm256_store_ps(lanes[3], ahh);
        for (int l = 0; l < 8; l++) {
            sww += (double)lanes[0][l]; see += (double)lanes[1][l];
            swh += (double)lanes[2][l]; shh += (double)lanes[3][l];
        }
        a += 64;
        if ((a & 0xFFFF) == 0) {
            int32_t zl[8];
            _mm256_storeu_si256((__m256i *)zl, vzero);
            for (int l = 0; l < 8; l++) zc += zl[l];
            vzero = _mm256_setzero_si256();
        }
    }
    for (; a < n; a++) {
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

#else
void wl_fake_quantize_avx2(const float *x, float *o, long n, float s, float a, float b) {
    (void)x; (void)o; (void)n; (void)s; (void)a; (void)b;
}
void wl_min_max_lanes_avx2(const float *x, long n, float lo[8], float hi[8]) { (void)x; (void)n; (void)lo; (void)hi; }
void wl_error_sums_avx2(const float *w, const float *h, long n, double sums[4], float *max_error, int64_t *zeros) {
    (void)w; (void)h; (void)n; (void)sums; (void)max_error; (void)zeros;
}
#endif
