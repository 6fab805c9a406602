// The two passes of Statistics.scanFinite (Sources/Compression/Statistics.swift) in AVX2, lane for lane.
#include "CKernels.h"
#pragma STDC FP_CONTRACT OFF

#if defined(__x86_64__)
#include <immintrin.h>
#define WL_AVX2 __attribute__((target("avx2")))

/// Pass 1's lanes (minimum, maximum, Double sum in two halves, exact zeros), shared by the Float and BF16
/// kernels so that both do the same operations per vector.
struct pass1_lanes { __m256 l, h; __m256d s0, s1; __m256i z; };

WL_AVX2 static inline struct pass1_lanes pass1_start(__m256 first) {
    struct pass1_lanes p = {first, first, _mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_si256()};
    return p;
}

WL_AVX2 static inline void pass1_add(struct pass1_lanes *p, __m256 v) {
    p->l = _mm256_min_ps(v, p->l);   // v < l ? v : l, exactly (minps returns its second operand on NaN or equal)
    p->h = _mm256_max_ps(v, p->h);   // v > h ? v : h
    p->s0 = _mm256_add_pd(p->s0, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
    p->s1 = _mm256_add_pd(p->s1, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
    p->z = _mm256_sub_epi32(p->z, _mm256_castps_si256(_mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_EQ_OQ)));
}

WL_AVX2 static inline void pass1_store(const struct pass1_lanes *p, float lo[8], float hi[8], double sum[8], int32_t zeros[8]) {
    _mm256_storeu_ps(lo, p->l);
    _mm256_storeu_ps(hi, p->h);
    _mm256_storeu_pd(sum, p->s0);
    _mm256_storeu_pd(sum + 4, p->s1);
    _mm256_storeu_si256((__m256i *)zeros, p->z);
}

/// Pass 2's lanes: Σd, Σd², Σd³, Σd⁴ of d = v − μ, lanes 0–3 in p, 4–7 in q.
struct pass2_lanes { __m256d m, p1, p2, p3, p4, q1, q2, q3, q4; };

WL_AVX2 static inline struct pass2_lanes pass2_start(double mu) {
    const __m256d z = _mm256_setzero_pd();
    struct pass2_lanes p = {_mm256_set1_pd(mu), z, z, z, z, z, z, z, z};
    return p;
}

WL_AVX2 static inline void pass2_add(struct pass2_lanes *p, __m256 v) {
    __m256d d = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)), p->m);
    __m256d e = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)), p->m);
    __m256d dd = _mm256_mul_pd(d, d), ee = _mm256_mul_pd(e, e);
    p->p1 = _mm256_add_pd(p->p1, d);
    p->q1 = _mm256_add_pd(p->q1, e);
    p->p2 = _mm256_add_pd(p->p2, dd);
    p->q2 = _mm256_add_pd(p->q2, ee);
    p->p3 = _mm256_add_pd(p->p3, _mm256_mul_pd(dd, d));
    p->q3 = _mm256_add_pd(p->q3, _mm256_mul_pd(ee, e));
    p->p4 = _mm256_add_pd(p->p4, _mm256_mul_pd(dd, dd));
    p->q4 = _mm256_add_pd(p->q4, _mm256_mul_pd(ee, ee));
}

WL_AVX2 static inline void pass2_store(const struct pass2_lanes *p, double a1[8], double a2[8], double a3[8], double a4[8]) {
    _mm256_storeu_pd(a1, p->p1); _mm256_storeu_pd(a1 + 4, p->q1);
    _mm256_storeu_pd(a2, p->p2); _mm256_storeu_pd(a2 + 4, p->q2);
    _mm256_storeu_pd(a3, p->p3); _mm256_storeu_pd(a3 + 4, p->q3);
    _mm256_storeu_pd(a4, p->p4); _mm256_storeu_pd(a4 + 4, p->q4);
}

WL_AVX2 void wl_stats_pass1_avx2(const float *x, long n, float lo[8], float hi[8], double sum[8], int32_t zeros[8],
                                 uint32_t *patterns) {
    long vectors = n / 8;
    struct pass1_lanes p = pass1_start(_mm256_set1_ps(x[0]));
    for (long k = 0; k < vectors; k++) pass1_add(&p, _mm256_loadu_ps(x + 8 * k));
    pass1_store(&p, lo, hi, sum, zeros);
    if (patterns) {
        const uint32_t *bits = (const uint32_t *)x;
        for (long i = 0; i < n; i++) patterns[bits[i] >> 16] += 1;
    }
}

WL_AVX2 void wl_stats_pass2_avx2(const float *x, long n, double mu, double a1[8], double a2[8], double a3[8],
                                 double a4[8]) {
    long vectors = n / 8;
    struct pass2_lanes p = pass2_start(mu);
    for (long k = 0; k < vectors; k++) pass2_add(&p, _mm256_loadu_ps(x + 8 * k));
    pass2_store(&p, a1, a2, a3, a4);
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
    struct pass1_lanes p = pass1_start(_mm256_castsi256_ps(_mm256_set1_epi32((int32_t)((uint32_t)x[0] << 16))));
    for (long k = 0; k < vectors; k++) pass1_add(&p, wl_bf16x8(x + 8 * k));
    pass1_store(&p, lo, hi, sum, zeros);
}

WL_AVX2 void wl_stats_bf16_pass2_avx2(const uint16_t *x, long n, double mu, double a1[8], double a2[8], double a3[8],
                                      double a4[8], uint32_t *patterns) {
    long vectors = n / 8;
    struct pass2_lanes p = pass2_start(mu);
    for (long k = 0; k < vectors; k++) {
        pass2_add(&p, wl_bf16x8(x + 8 * k));
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
    pass2_store(&p, a1, a2, a3, a4);
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
