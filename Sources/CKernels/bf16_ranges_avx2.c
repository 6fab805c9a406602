// The workbench's grid to draw on stored BF16 (StoredBFloat16Levels.swift): each group's min/max read straight
// from the 2-byte patterns, with the lanes and lane order of ClippingSearch.minMax, so the grids found from
// them are the ones IntCodec.levels finds on the decoded values.
#include "CKernels.h"
#pragma STDC FP_CONTRACT OFF

#if defined(__x86_64__)
#include <immintrin.h>
#define WL_AVX2 __attribute__((target("avx2")))

WL_AVX2 void wl_bf16_group_ranges_avx2(const uint16_t *x, long runs, long run_length, long group_length,
                                       float *lo_out, float *hi_out) {
    long g = 0;
    for (long r = 0; r < runs; r++) {
        for (long j = 0; j < run_length; j += group_length, g++) {
            const uint16_t *p = x + r * run_length + j;
            const long n = (j + group_length < run_length ? group_length : run_length - j);
            // KernelSIMD.minMax: eight lanes (minps/maxps keep the lane on NaN or equal), then lane 0…7, then the tail.
            __m256 l = _mm256_set1_ps(__builtin_inff()), h = _mm256_set1_ps(-__builtin_inff());
            long k = 0;
            for (; k + 8 <= n; k += 8) {
                __m256 v = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(p + k))), 16));
                l = _mm256_min_ps(v, l);
                h = _mm256_max_ps(v, h);
            }
            float ll[8], hl[8];
            _mm256_storeu_ps(ll, l);
            _mm256_storeu_ps(hl, h);
            float lo = ll[0], hi = hl[0];
            for (int q = 1; q < 8; q++) { lo = ll[q] < lo ? ll[q] : lo; hi = hl[q] >= hi ? hl[q] : hi; }
            for (; k < n; k++) {
                uint32_t bits = (uint32_t)p[k] << 16;
                float v;
                __builtin_memcpy(&v, &bits, 4);
                lo = v < lo ? v : lo;            // Swift.min(lo, v)
                hi = v >= hi ? v : hi;           // Swift.max(hi, v)
            }
            if (lo > hi) { lo = 0; hi = 0; }
            lo_out[g] = lo;
            hi_out[g] = hi;
        }
    }
}

#else
void wl_bf16_group_ranges_avx2(const uint16_t *x, long runs, long run_length, long group_length,
                               float *lo_out, float *hi_out) {
    (void)x; (void)runs; (void)run_length; (void)group_length; (void)lo_out; (void)hi_out;
}
#endif
