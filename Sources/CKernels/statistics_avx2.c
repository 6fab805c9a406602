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

// The same two passes on little-endian BF16 patterns, decoded lane for lane as ElementDecoder does (the
// pattern in the high half of a float): the statistics scan of a BF16 layer reads its stored bytes, 2 a value
// and a block in L1, instead of a decoded Float copy. Lane i of vector k is value 8k+i as in the float
// kernels, so every lane sum is the same. The pattern counts ride in pass 2: its loop is bound by the latency
// of its Double sums and the counts by loads and stores, so together they cost little more than pass 2 alone.
#if defined(__x86_64__)
WL_AVX2 static inline __m256 wl_bf16x8(const uint16_t *p) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p)), 16));
}

WL_AVX2 void wl_stats_bf16_pass1_avx2(const uint16_t *x, long n, float lo[8], float hi[8], double sum[8],
                                      int32_t zeros[8]) {
    long vectors = n / 8;
    __m256 l = _mm256_castsi256_ps(_mm256_set1_epi32((int32_t)((uint32_t)x[0] << 16))), h = l, zero = _mm256_setzero_ps();
    __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
    __m256i z = _mm256_setzero_si256();
    for (long k = 0; k < vectors; k++) {
        __m256 v = wl_bf16x8(x + 8 * k);
        l = _mm256_min_ps(v, l);
        h = _mm256_max_ps(v, h);
        s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
        s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
        z = _mm256_sub_epi32(z, _mm256_castps_si256(_mm256_cmp_ps(v, zero, _CMP_EQ_OQ)));
    }
    _mm256_storeu_ps(lo, l);
    _mm256_storeu_ps(hi, h);
    _mm256_storeu_pd(sum, s0);
    _mm256_storeu_pd(sum + 4, s1);
    _mm256_storeu_si256((__m256i *)zeros, z);
}

WL_AVX2 void wl_stats_bf16_pass2_avx2(const uint16_t *x, long n, double mu, double a1[8], double a2[8], double a3[8],
                                      double a4[8], uint32_t *patterns) {
    long vectors = n / 8;
    __m256d m = _mm256_set1_pd(mu);
    __m256d p1 = _mm256_setzero_pd(), p2 = p1, p3 = p1, p4 = p1;
    __m256d q1 = _mm256_setzero_pd(), q2 = q1, q3 = q1, q4 = q1;
    for (long k = 0; k < vectors; k++) {
        __m256 v = wl_bf16x8(x + 8 * k);
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
        if (patterns) {
            uint64_t a, b;
            __builtin_memcpy(&a, x + 8 * k, 8);
            __builtin_memcpy(&b, x + 8 * k + 4, 8);
            patterns[a & 0xFFFF] += 1; patterns[(a >> 16) & 0xFFFF] += 1;
            patterns[(a >> 32) & 0xFFFF] += 1; patterns[a >> 48] += 1;
            patterns[b & 0xFFFF] += 1; patterns[(b >> 16) & 0xFFFF] += 1;
            patterns[(b >> 32) & 0xFFFF] += 1; patterns[b >> 48] += 1;
        }
    }
    if (patterns) for (long i = 8 * vectors; i < n; i++) patterns[x[i]] += 1;
    _mm256_storeu_pd(a1, p1); _mm256_storeu_pd(a1 + 4, q1);
    _mm256_storeu_pd(a2, p2); _mm256_storeu_pd(a2 + 4, q2);
    _mm256_storeu_pd(a3, p3); _mm256_storeu_pd(a3 + 4, q3);
    _mm256_storeu_pd(a4, p4); _mm256_storeu_pd(a4 + 4, q4);
}
#else
void wl_stats_bf16_pass1_avx2(const uint16_t *x, long n, float lo[8], float hi[8], double sum[8], int32_t zeros[8]) {
    (void)x; (void)n; (void)lo; (void)hi; (void)sum; (void)zeros;
}
void wl_stats_bf16_pass2_avx2(const uint16_t *x, long n, double mu, double a1[8], double a2[8], double a3[8], double a4[8],
                              uint32_t *patterns) {
    (void)x; (void)n; (void)mu; (void)a1; (void)a2; (void)a3; (void)a4; (void)patterns;
}
#endif
