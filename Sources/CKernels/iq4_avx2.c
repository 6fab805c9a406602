// IQ4_NL / IQ4_XS (issue 9): the 16-scale search and the final level choice of ggml's
// quantize_row_iq4_nl_impl (ntry = 7) in AVX2, bit-exact with it and with GGMLKQuantizer's Swift loops.
//
// Levels without the binary search: a value a (already multiplied by the trial's inverse scale) is clamped
// to [-127, 113], the ends of kvalues_iq4nl; its bucket b = (trunc(a) + 127) >> 4 (16-wide buckets from -127)
// holds at most one table value above the bucket's start, so the two table values around a are either
// (A[b], M[b]) or (M[b], C[b]), chosen by a >= M[b]. The final choice is best_index_int8's own comparison,
// `a - lower < upper - a` (ties go to the upper value), on the same Float operands. Truncation equals floor
// except for negative non-integers, which then land one bucket up; no table value lies in (s - 1, s) below
// a negative bucket start s, so that bucket's pair is still the right one. NaN takes the upper end (min_ps
// returns its second operand), as the search does; ±inf and values beyond the ends clamp to them.
//
// The scale search puts the 16 trial scales in lanes (the first trial, then itry = -7...7), so each lane's
// sums Σ(w·q)·x and Σ(w·q)·q start at 0 and run over j = 0...31 in C's order with C's unfused operations.
#include "CKernels.h"
#pragma STDC FP_CONTRACT OFF

#if defined(__x86_64__)
#include <immintrin.h>
#define WL_AVX2 __attribute__((target("avx2")))

#define IQ4_BIG 1000.0f
/// Per bucket b (start -127 + 16b): the index of the largest table value <= the start (T), that value (A),
/// the next two table values (M, C; IQ4_BIG past the end). Bucket 15 holds only 113.
static const int32_t iq4_T[16] = {0, 0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15};
static const float iq4_A[16] = {-127, -127, -104, -83, -65, -49, -35, -22, 1, 13, 25, 38, 53, 69, 89, 113};
static const float iq4_M[16] = {-104, -104, -83, -65, -49, -35, -22, -10, 13, 25, 38, 53, 69, 89, 113, IQ4_BIG};
static const float iq4_C[16] = {-83, -83, -65, -49, -35, -22, -10, 1, 25, 38, 53, 69, 89, 113, IQ4_BIG, IQ4_BIG};

typedef struct {
    __m256 alo, ahi, mlo, mhi, clo, chi;
} iq4_tables;

WL_AVX2 static inline iq4_tables iq4_load_tables(void) {
    iq4_tables t = {_mm256_loadu_ps(iq4_A), _mm256_loadu_ps(iq4_A + 8), _mm256_loadu_ps(iq4_M),
                    _mm256_loadu_ps(iq4_M + 8), _mm256_loadu_ps(iq4_C), _mm256_loadu_ps(iq4_C + 8)};
    return t;
}

/// A 16-entry lookup: entries 0-7 from lo, 8-15 from hi (sel's sign bit = bit 3 of the index).
WL_AVX2 static inline __m256 iq4_lookup(__m256 lo, __m256 hi, __m256i b, __m256 sel) {
    return _mm256_blendv_ps(_mm256_permutevar8x32_ps(lo, b), _mm256_permutevar8x32_ps(hi, b), sel);
}

/// For 8 values a: the clamped value, the bucket, and the lower/upper table values around it; returns the
/// `a >= M` mask through *ge and whether C picks the lower value through *lt.
WL_AVX2 static inline __m256 iq4_nearest(const iq4_tables *t, __m256 a, __m256i *bucket, __m256 *ge, __m256 *lt) {
    const __m256 top = _mm256_set1_ps(113.0f), bottom = _mm256_set1_ps(-127.0f);
    __m256 ac = _mm256_max_ps(_mm256_min_ps(a, top), bottom);   // NaN -> 113
    __m256i b = _mm256_srli_epi32(_mm256_add_epi32(_mm256_cvttps_epi32(ac), _mm256_set1_epi32(127)), 4);
    __m256 sel = _mm256_castsi256_ps(_mm256_slli_epi32(b, 28));
    __m256 A = iq4_lookup(t->alo, t->ahi, b, sel);
    __m256 M = iq4_lookup(t->mlo, t->mhi, b, sel);
    __m256 C = iq4_lookup(t->clo, t->chi, b, sel);
    __m256 g = _mm256_cmp_ps(ac, M, _CMP_GE_OQ);
    __m256 lower = _mm256_blendv_ps(A, M, g), upper = _mm256_blendv_ps(M, C, g);
    *lt = _mm256_cmp_ps(_mm256_sub_ps(ac, lower), _mm256_sub_ps(upper, ac), _CMP_LT_OQ);
    *ge = g;
    *bucket = b;
    return _mm256_blendv_ps(upper, lower, *lt);
}

WL_AVX2 float wl_iq4_scale_search_avx2(const float *x, const float *weight, float max) {
    float ids[16] __attribute__((aligned(32)));
    float d = -max / -127.0f;                    // C: -max/values[0]
    ids[0] = 1 / d;
    for (int itry = -7; itry <= 7; itry++) ids[itry + 8] = (float)(itry + -127) / max;
    const iq4_tables t = iq4_load_tables();
    const __m256 id0 = _mm256_load_ps(ids), id1 = _mm256_load_ps(ids + 8);
    __m256 sqx0 = _mm256_setzero_ps(), sq20 = sqx0, sqx1 = sqx0, sq21 = sqx0;
    for (int j = 0; j < 32; j++) {
        const __m256 xj = _mm256_set1_ps(x[j]), wj = _mm256_set1_ps(weight[j]);
        __m256i b;
        __m256 ge, lt;
        __m256 q0 = iq4_nearest(&t, _mm256_mul_ps(id0, xj), &b, &ge, &lt);
        __m256 q1 = iq4_nearest(&t, _mm256_mul_ps(id1, xj), &b, &ge, &lt);
        __m256 wq0 = _mm256_mul_ps(wj, q0), wq1 = _mm256_mul_ps(wj, q1);
        sqx0 = _mm256_add_ps(sqx0, _mm256_mul_ps(wq0, xj));
        sq20 = _mm256_add_ps(sq20, _mm256_mul_ps(wq0, q0));
        sqx1 = _mm256_add_ps(sqx1, _mm256_mul_ps(wq1, xj));
        sq21 = _mm256_add_ps(sq21, _mm256_mul_ps(wq1, q1));
    }
    float sqx[16] __attribute__((aligned(32))), sq2[16] __attribute__((aligned(32)));
    _mm256_store_ps(sqx, sqx0); _mm256_store_ps(sqx + 8, sqx1);
    _mm256_store_ps(sq2, sq20); _mm256_store_ps(sq2 + 8, sq21);
    d = sq2[0] > 0 ? sqx[0] / sq2[0] : 0.f;
    float best = d * sqx[0];
    for (int k = 1; k < 16; k++) {
        if (sq2[k] > 0 && sqx[k] * sqx[k] > best * sq2[k]) {
            d = sqx[k] / sq2[k];
            best = d * sqx[k];
        }
    }
    return d;
}

WL_AVX2 void wl_iq4_pack_avx2(const float *x, float id, uint8_t qs[16]) {
    const iq4_tables t = iq4_load_tables();
    const __m256i tlo = _mm256_loadu_si256((const __m256i *)iq4_T), thi = _mm256_loadu_si256((const __m256i *)(iq4_T + 8));
    const __m256 idv = _mm256_set1_ps(id);
    int32_t L[32] __attribute__((aligned(32)));
    for (int k = 0; k < 32; k += 8) {
        __m256i b;
        __m256 ge, lt;
        (void)iq4_nearest(&t, _mm256_mul_ps(idv, _mm256_loadu_ps(x + k)), &b, &ge, &lt);
        __m256i sel = _mm256_slli_epi32(b, 28);
        __m256i T = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(_mm256_permutevar8x32_epi32(tlo, b)),
                                                          _mm256_castsi256_ps(_mm256_permutevar8x32_epi32(thi, b)),
                                                          _mm256_castsi256_ps(sel)));
        // index = T + (a >= M) + (upper chosen); the masks are -1 where true.
        __m256i idx = _mm256_sub_epi32(T, _mm256_castps_si256(ge));
        idx = _mm256_add_epi32(_mm256_add_epi32(idx, _mm256_set1_epi32(1)), _mm256_castps_si256(lt));
        _mm256_store_si256((__m256i *)(L + k), idx);
    }
    for (int j = 0; j < 16; j++) qs[j] = (uint8_t)(L[j] | L[j + 16] << 4);
}

#else
float wl_iq4_scale_search_avx2(const float *x, const float *weight, float max) {
    (void)x; (void)weight; (void)max;
    return 0;
}
void wl_iq4_pack_avx2(const float *x, float id, uint8_t qs[16]) {
    (void)x; (void)id; (void)qs;
}
#endif
