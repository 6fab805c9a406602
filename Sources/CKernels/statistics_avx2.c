// The two passes of Statistics.scanFinite (Sources/Compression/Statistics.swift) in AVX2, lane for lane.
#include "CKernels.h"
#pragma STDC FP_CONTRACT OFF

#if defined(__x86_64__)
#include <immintrin.h>
#define WL_AVX2 __attribute__((target("avx2")))

WL_AVX2 void wl_stats_pass1_avx2(const float *x, long n, float lo[8], float hi[8], double sum[8], int32_t zeros[8],
                                 uint32_t *patterns) {
    long vectors = n / 8;
    __m256 l = _mm256_set1_ps(x[0]), h = l, zero = _mm256_setzero_ps();
    __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
    __m256i z = _mm256_setzero_si256();
    for (long k = 0; k < vectors; k++) {
        __m256 v = _mm256_loadu_ps(x + 8 * k);
        l = _mm256_min_ps(v, l);   // v < l ? v : l, exactly (minps returns its second operand on NaN or equal)
        h = _mm256_max_ps(v, h);   // v > h ? v : h
        s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
        s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
        z = _mm256_sub_epi32(z, _mm256_castps_si256(_mm256_cmp_ps(v, zero, _CMP_EQ_OQ)));
    }
    _mm256_storeu_ps(lo, l);
    _mm256_storeu_ps(hi, h);
    _mm256_storeu_pd(sum, s0);
    _mm256_storeu_pd(sum + 4, s1);
    _mm256_storeu_si256((__m256i *)zeros, z);
    if (patterns) {
        const uint32_t *bits = (const uint32_t *)x;
        for (long i = 0; i < n; i++) patterns[bits[i] >> 16] += 1;
    }
}

WL_AVX2 void wl_stats_pass2_avx2(const float *x, long n, double mu, double a1[8], double a2[8], double a3[8],
                                 double a4[8]) {
    long vectors = n / 8;
    __m256d m = _mm256_set1_pd(mu);
    __m256d p1 = _mm256_setzero_pd(), p2 = p1, p3 = p1, p4 = p1;   // lanes 0–3
    __m256d q1 = _mm256_setzero_pd(), q2 = q1, q3 = q1, q4 = q1;   // lanes 4–7
    for (long k = 0; k < vectors; k++) {
        __m256 v = _mm256_loadu_ps(x + 8 * k);
        __m256d d = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)), m);
        __m256d e = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)), m);
        __m256d dd = _mm256_mul_pd(d, d), ee = _mm256_mul_pd(e, e);
        p1 = _mm256_add_pd(p1, d);
        q1 = _mm256_add_pd(q1, e);
        p2 = _mm256_add_pd(p2, dd);
        q2 = _mm256_add_pd(q2, ee);
        p3 = _mm256_add_pd(p3, _mm256_mul_pd(dd, d));
        q3 = _mm256_add_pd(q3, _mm256_mul_pd(ee, e));
        p4 = _mm256_add_pd(p4, _mm256_mul_pd(dd, dd));
        q4 = _mm256_add_pd(q4, _mm256_mul_pd(ee, ee));
    }
    _mm256_storeu_pd(a1, p1); _mm256_storeu_pd(a1 + 4, q1);
    _mm256_storeu_pd(a2, p2); _mm256_storeu_pd(a2 + 4, q2);
    _mm256_storeu_pd(a3, p3); _mm256_storeu_pd(a3 + 4, q3);
    _mm256_storeu_pd(a4, p4); _mm256_storeu_pd(a4 + 4, q4);
}

#else
// Never called off x86-64 (wl_cpu_has_avx2() is 0); defined so the package links everywhere.
void wl_stats_pass1_avx2(const float *x, long n, float lo[8], float hi[8], double sum[8], int32_t zeros[8],
                         uint32_t *patterns) { (void)x; (void)n; (void)lo; (void)hi; (void)sum; (void)zeros; (void)patterns; }
void wl_stats_pass2_avx2(const float *x, long n, double mu, double a1[8], double a2[8], double a3[8], double a4[8]) {
    (void)x; (void)n; (void)mu; (void)a1; (void)a2; (void)a3; (void)a4;
}
#endif
