// ggml's asymmetric scale search (make_qkx2_quants / make_qkx3_quants of ggml-quants.c) for the sub-blocks of
// a K-quant super-block, one sub-block per AVX2 lane (Q4_K/Q5_K: 8 sub-blocks of 32 = one group of lanes;
// Q2_K: 16 of 16 = two groups, interleaved so the two groups' add chains overlap).
//
// Why lanes across sub-blocks: every sum of the search runs over one sub-block, left to right from its first
// value, and C's order is what makes the bytes equal to ggml's. With one sub-block per lane, step i of the
// loop handles value i of every sub-block, so each lane performs exactly C's Float32 operations in C's order
// (unfused: the target is "avx2" only, and FP_CONTRACT is off), while eight sub-blocks advance at once. C's
// branches (D > 0, this_min > 0, cur_error < best_error) become per-lane masks; `nearest_int` is C's own bit
// trick (add 1.5·2²³, keep the low 23 bits, subtract 2²²), so even out-of-range values wrap exactly as in C.
#include "CKernels.h"
#pragma STDC FP_CONTRACT OFF

#if defined(__x86_64__)
#include <immintrin.h>
#define WL_AVX2 __attribute__((target("avx2")))

/// MAX(0, MIN(nmax, nearest_int(f))) as a Float (exact: a small integer).
WL_AVX2 static inline __m256 kq_level(__m256 f, __m256i top) {
    __m256i bits = _mm256_castps_si256(_mm256_add_ps(f, _mm256_set1_ps(12582912.0f)));
    __m256i l = _mm256_sub_epi32(_mm256_and_si256(bits, _mm256_set1_epi32(0x7fffff)), _mm256_set1_epi32(0x400000));
    return _mm256_cvtepi32_ps(_mm256_max_epi32(_mm256_setzero_si256(), _mm256_min_epi32(top, l)));
}

/// C's error term: w·f(s·l + m − x), f = fabsf (mad) or the square.
WL_AVX2 static inline __m256 kq_error(__m256 s, __m256 l, __m256 m, __m256 x, __m256 w, int mad) {
    __m256 diff = _mm256_sub_ps(_mm256_add_ps(_mm256_mul_ps(s, l), m), x);
    diff = mad ? _mm256_and_ps(diff, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff))) : _mm256_mul_ps(diff, diff);
    return _mm256_mul_ps(w, diff);
}

#define KQ_MAX_N 32

WL_AVX2 static inline __attribute__((always_inline)) void
kq_search(const int G, const float *x, const float *w, long n, int nmax, float rmin, float rdelta, int nstep, int mad,
          uint8_t *L, float *scales, float *the_mins) {
    __m256 xt[2][KQ_MAX_N], wt[2][KQ_MAX_N], lf[2][KQ_MAX_N], best[2][KQ_MAX_N];
    __m256 mn[2], mx[2], sw[2], sx[2], scale[2], berr[2], deg[2];
    const __m256 zero = _mm256_setzero_ps();
    const __m256i top = _mm256_set1_epi32(nmax);
    const __m256i index = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32((int)n));
    for (int g = 0; g < G; g++) {
        const float *xg = x + 8 * n * g, *wg = w + 8 * n * g;
        for (long i = 0; i < n; i++) {
            xt[g][i] = _mm256_i32gather_ps(xg + i, index, 4);
            wt[g][i] = _mm256_i32gather_ps(wg + i, index, 4);
        }
        // min = max = x[0]; sum_w = w[0]; sum_x = sum_w*x[0]; then C's first loop.
        mn[g] = xt[g][0]; mx[g] = xt[g][0];
        sw[g] = wt[g][0]; sx[g] = _mm256_mul_ps(wt[g][0], xt[g][0]);
        for (long i = 1; i < n; i++) {
            mn[g] = _mm256_min_ps(xt[g][i], mn[g]);   // x < min ? x : min
            mx[g] = _mm256_max_ps(xt[g][i], mx[g]);   // x > max ? x : max
            sw[g] = _mm256_add_ps(sw[g], wt[g][i]);
            sx[g] = _mm256_add_ps(sx[g], _mm256_mul_ps(wt[g][i], xt[g][i]));
        }
        mn[g] = _mm256_blendv_ps(mn[g], zero, _mm256_cmp_ps(mn[g], zero, _CMP_GT_OQ));
        deg[g] = _mm256_cmp_ps(mx[g], mn[g], _CMP_EQ_OQ);
        __m256 iscale = _mm256_div_ps(_mm256_set1_ps((float)nmax), _mm256_sub_ps(mx[g], mn[g]));
        scale[g] = _mm256_div_ps(_mm256_set1_ps(1.0f), iscale);
        __m256 e = zero;
        for (long i = 0; i < n; i++) {
            __m256 l = kq_level(_mm256_mul_ps(iscale, _mm256_sub_ps(xt[g][i], mn[g])), top);
            best[g][i] = l;
            e = _mm256_add_ps(e, kq_error(scale[g], l, mn[g], xt[g][i], wt[g][i], mad));
        }
        berr[g] = e;
    }
    if (nstep >= 1) {
        for (int is = 0; is <= nstep; is++) {
            const __m256 num = _mm256_set1_ps(rmin + rdelta * (float)is + (float)nmax);
            __m256 iscale[2], sl[2], sl2[2], sxl[2];
            for (int g = 0; g < G; g++) {
                iscale[g] = _mm256_div_ps(num, _mm256_sub_ps(mx[g], mn[g]));
                sl[g] = zero; sl2[g] = zero; sxl[g] = zero;
            }
            for (long i = 0; i < n; i++) {
                for (int g = 0; g < G; g++) {
                    __m256 l = kq_level(_mm256_mul_ps(iscale[g], _mm256_sub_ps(xt[g][i], mn[g])), top);
                    lf[g][i] = l;
                    __m256 wl = _mm256_mul_ps(wt[g][i], l);
                    sl[g] = _mm256_add_ps(sl[g], wl);
                    sl2[g] = _mm256_add_ps(sl2[g], _mm256_mul_ps(wl, l));
                    sxl[g] = _mm256_add_ps(sxl[g], _mm256_mul_ps(wl, xt[g][i]));
                }
            }
            __m256 ts[2], tm[2], ok[2];
            int any = 0;
            for (int g = 0; g < G; g++) {
                __m256 D = _mm256_sub_ps(_mm256_mul_ps(sw[g], sl2[g]), _mm256_mul_ps(sl[g], sl[g]));
                ok[g] = _mm256_andnot_ps(deg[g], _mm256_cmp_ps(D, zero, _CMP_GT_OQ));
                any |= _mm256_movemask_ps(ok[g]);
                ts[g] = _mm256_div_ps(_mm256_sub_ps(_mm256_mul_ps(sw[g], sxl[g]), _mm256_mul_ps(sx[g], sl[g])), D);
                tm[g] = _mm256_div_ps(_mm256_sub_ps(_mm256_mul_ps(sl2[g], sx[g]), _mm256_mul_ps(sl[g], sxl[g])), D);
                __m256 positive = _mm256_cmp_ps(tm[g], zero, _CMP_GT_OQ);
                tm[g] = _mm256_blendv_ps(tm[g], zero, positive);
                ts[g] = _mm256_blendv_ps(ts[g], _mm256_div_ps(sxl[g], sl2[g]), positive);
            }
            if (!any) continue;
            __m256 e[2] = {zero, zero};
            for (long i = 0; i < n; i++) {
                for (int g = 0; g < G; g++) {
                    e[g] = _mm256_add_ps(e[g], kq_error(ts[g], lf[g][i], tm[g], xt[g][i], wt[g][i], mad));
                }
            }
            for (int g = 0; g < G; g++) {
                __m256 accept = _mm256_and_ps(ok[g], _mm256_cmp_ps(e[g], berr[g], _CMP_LT_OQ));
                if (!_mm256_movemask_ps(accept)) continue;
                for (long i = 0; i < n; i++) best[g][i] = _mm256_blendv_ps(best[g][i], lf[g][i], accept);
                berr[g] = _mm256_blendv_ps(berr[g], e[g], accept);
                scale[g] = _mm256_blendv_ps(scale[g], ts[g], accept);
                mn[g] = _mm256_blendv_ps(mn[g], tm[g], accept);
            }
        }
    }
    for (int g = 0; g < G; g++) {
        __m256 s = _mm256_blendv_ps(scale[g], zero, deg[g]);
        __m256 m = _mm256_xor_ps(mn[g], _mm256_set1_ps(-0.0f));   // *the_min = -min
        _mm256_storeu_ps(scales + 8 * g, s);
        _mm256_storeu_ps(the_mins + 8 * g, m);
        uint8_t *Lg = L + 8 * n * g;
        for (long i = 0; i < n; i++) {
            int32_t lanes[8];
            _mm256_storeu_si256((__m256i *)lanes, _mm256_cvttps_epi32(_mm256_andnot_ps(deg[g], best[g][i])));
            for (int k = 0; k < 8; k++) Lg[n * k + i] = (uint8_t)lanes[k];
        }
    }
}

WL_AVX2 void wl_kquant_asymmetric_avx2(const float *x, const float *w, long n, long groups, int nmax, float rmin,
                                       float rdelta, int nstep, int mad, uint8_t *L, float *scales, float *the_mins) {
    if (n < 1 || n > KQ_MAX_N) return;
    if (groups == 2) {
        kq_search(2, x, w, n, nmax, rmin, rdelta, nstep, mad, L, scales, the_mins);
    } else {
        for (long g = 0; g < groups; g++) {
            kq_search(1, x + 8 * n * g, w + 8 * n * g, n, nmax, rmin, rdelta, nstep, mad, L + 8 * n * g, scales + 8 * g,
                      the_mins + 8 * g);
        }
    }
}

#else
void wl_kquant_asymmetric_avx2(const float *x, const float *w, long n, long groups, int nmax, float rmin,
                               float rdelta, int nstep, int mad, uint8_t *L, float *scales, float *the_mins) {
    (void)x; (void)w; (void)n; (void)groups; (void)nmax; (void)rmin; (void)rdelta; (void)nstep; (void)mad;
    (void)L; (void)scales; (void)the_mins;
}
#endif
