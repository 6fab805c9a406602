// Q3_K's sub-block search without an importance matrix, make_q3_quants(16, 4, x, L, true) of ggml-quants.c,
// for the 16 sub-blocks of a super-block: one sub-block per AVX2 lane, two groups of 8 lanes.
//
// Why lanes across sub-blocks: the coordinate descent of make_q3_quants is serial within a sub-block (each
// value's move is tested against the sums left by the previous value), so one sub-block at a time is bound
// by the latency of that chain (a divide, a rounding, products and a compare per value). With one sub-block
// per lane, step i handles value i of every sub-block, so each lane performs exactly C's Float32 operations
// in C's order (unfused: the target is "avx2" only, and FP_CONTRACT is off). C's branches (slx > 0,
// new_l != L[i], the acceptance test) are per-lane masks; a lane whose pass moved nothing stops, as C's
// `break` does, and a group's passes run until none of its lanes moves (at most five). Most steps move no
// lane, and a cheap test (q3_bounds) shows it for most lanes without dividing: only a step where some lane is
// not sure runs C's exact step, behind a branch, so the sums stay out of the dependency chain.
// `nearest_int` is C's own bit trick (add 1.5·2²³, keep the low 23 bits, subtract 2²²), so quotients that
// overflow its range wrap exactly as in C. For finite input only (the caller checks; NaN/±∞ take Swift).
#include "CKernels.h"
#pragma STDC FP_CONTRACT OFF

#if defined(__x86_64__)
#include <immintrin.h>
#define WL_AVX2 __attribute__((target("avx2")))

/// MAX(-4, MIN(3, nearest_int(f))) as a Float (exact: a small integer).
WL_AVX2 static inline __m256 q3_level(__m256 f) {
    __m256i bits = _mm256_castps_si256(_mm256_add_ps(f, _mm256_set1_ps(12582912.0f)));
    __m256i l = _mm256_sub_epi32(_mm256_and_si256(bits, _mm256_set1_epi32(0x7fffff)), _mm256_set1_epi32(0x400000));
    return _mm256_cvtepi32_ps(_mm256_max_epi32(_mm256_set1_epi32(-4), _mm256_min_epi32(_mm256_set1_epi32(3), l)));
}

/// The window (lo·slx, hi·slx) that num − l·slx must lie in for C's new level to be surely l: (−0.49, 0.49)
/// inside, so |num/slx − l| < 0.4901 even after the rounding of l·slx, of the subtraction and of C's quotient
/// (with a subnormal slx the rounded bounds are integers of its units that still keep the quotient within
/// 0.5); (−0.49, 8) for l = 3 and (−8, 0.49) for l = −4, where C clamps (the quotient stays below 12, far from
/// where nearest_int wraps; if 8·slx overflows, num/slx ≤ FLT_MAX/slx < 8 anyway). The comparisons are strict
/// and ordered, so NaN or an infinite num is never sure.
WL_AVX2 static inline void q3_bounds(__m256 l, __m256 *lo, __m256 *hi) {
    *lo = _mm256_blendv_ps(_mm256_set1_ps(-0.49f), _mm256_set1_ps(-8.0f), _mm256_cmp_ps(l, _mm256_set1_ps(-4.0f), _CMP_EQ_OQ));
    *hi = _mm256_blendv_ps(_mm256_set1_ps(0.49f), _mm256_set1_ps(8.0f), _mm256_cmp_ps(l, _mm256_set1_ps(3.0f), _CMP_EQ_OQ));
}

/// The 8×8 transpose of r[0..7]: afterwards lane k of r[i] is what lane i of r[k] was.
WL_AVX2 static inline void q3_transpose8(__m256 r[8]) {
    __m256 t[8], u[8];
    for (int k = 0; k < 4; k++) {
        t[2 * k] = _mm256_unpacklo_ps(r[2 * k], r[2 * k + 1]);
        t[2 * k + 1] = _mm256_unpackhi_ps(r[2 * k], r[2 * k + 1]);
    }
    for (int k = 0; k < 2; k++) {
        u[4 * k] = _mm256_shuffle_ps(t[4 * k], t[4 * k + 2], 0x44);
        u[4 * k + 1] = _mm256_shuffle_ps(t[4 * k], t[4 * k + 2], 0xEE);
        u[4 * k + 2] = _mm256_shuffle_ps(t[4 * k + 1], t[4 * k + 3], 0x44);
        u[4 * k + 3] = _mm256_shuffle_ps(t[4 * k + 1], t[4 * k + 3], 0xEE);
    }
    for (int k = 0; k < 4; k++) {
        r[k] = _mm256_permute2f128_ps(u[k], u[k + 4], 0x20);
        r[k + 4] = _mm256_permute2f128_ps(u[k], u[k + 4], 0x31);
    }
}

WL_AVX2 void wl_q3k_search_avx2(const float *x, uint8_t *L, float *scales) {
    // Lane k of xt[g][i] is value i of sub-block 8g + k. pt/qt: each value's w·x·l and w·l·l for its current
    // level (the terms C subtracts from the sums; the same products C computes).
    __m256 xt[2][16], wt[2][16], wxt[2][16], lt[2][16], pt[2][16], qt[2][16], lo[2][16], hi[2][16];
    __m256 sumlx[2], suml2[2], active[2], zeroLane[2];
    const __m256 zero = _mm256_setzero_ps();
    for (int g = 0; g < 2; g++) {
        const float *xg = x + 128 * g;
        __m256 amax = zero, max = zero;
        for (int h = 0; h < 2; h++) {
            __m256 *r = &xt[g][8 * h];
            for (int k = 0; k < 8; k++) r[k] = _mm256_loadu_ps(xg + 16 * k + 8 * h);
            q3_transpose8(r);
        }
        for (int i = 0; i < 16; i++) {
            __m256 v = xt[g][i];
            __m256 ax = _mm256_and_ps(v, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff)));
            __m256 bigger = _mm256_cmp_ps(ax, amax, _CMP_GT_OQ);   // if (ax > amax) { amax = ax; max = x[i]; }
            amax = _mm256_blendv_ps(amax, ax, bigger);
            max = _mm256_blendv_ps(max, v, bigger);
        }
        zeroLane[g] = _mm256_cmp_ps(amax, _mm256_set1_ps(1e-15f), _CMP_LT_OQ);   // amax < GROUP_MAX_EPS
        max = _mm256_blendv_ps(max, _mm256_set1_ps(1.0f), zeroLane[g]);
        const __m256 iscale = _mm256_div_ps(_mm256_set1_ps(-4.0f), max);        // -nmax / max
        __m256 slx = zero, sl2 = zero;
        for (int i = 0; i < 16; i++) {
            __m256 v = xt[g][i];
            __m256 l = q3_level(_mm256_mul_ps(iscale, v));
            __m256 w = _mm256_mul_ps(v, v);
            __m256 wx = _mm256_mul_ps(w, v);
            __m256 p = _mm256_mul_ps(wx, l), q = _mm256_mul_ps(_mm256_mul_ps(w, l), l);
            wt[g][i] = w; wxt[g][i] = wx; lt[g][i] = l; pt[g][i] = p; qt[g][i] = q;
            q3_bounds(l, &lo[g][i], &hi[g][i]);
            slx = _mm256_add_ps(slx, p);    // sumlx += w*x[i]*l
            sl2 = _mm256_add_ps(sl2, q);    // suml2 += w*l*l
        }
        sumlx[g] = slx; suml2[g] = sl2;
        active[g] = _mm256_xor_ps(zeroLane[g], _mm256_castsi256_ps(_mm256_set1_epi32(-1)));
    }
    for (int g = 0; g < 2; g++) {
        // Values after the group's last move of a pass were checked against each active lane's final sums and
        // kept their levels; in the next pass, until some lane moves, they would be checked against the same
        // sums and levels again, so the pass may stop after that last move (any move reopens the whole pass).
        int end = 16;
        for (int itry = 0; itry < 5; itry++) {
            if (!_mm256_movemask_ps(active[g])) break;
            __m256 changed = zero;
            int last = -1;
            for (int i = 0; i < end; i++) {
                const __m256 sx = sumlx[g], s2 = suml2[g];
                const __m256 slx = _mm256_sub_ps(sx, pt[g][i]);                 // sumlx - w*x[i]*L[i]
                const __m256 sl2 = _mm256_sub_ps(s2, qt[g][i]);                 // suml2 - w*L[i]*L[i]
                const __m256 num = _mm256_mul_ps(xt[g][i], sl2);                // x[i] * sl2
                // A lane surely keeps its level when num/slx lies within (lo, hi) of L[i] (see q3_bounds):
                // then C computes new_l == L[i] and moves nothing. Any other lane (a move, a value near a
                // rounding boundary, tiny or huge sums, NaN) is stepped exactly as C steps it, below.
                const __m256 d = _mm256_sub_ps(num, _mm256_mul_ps(lt[g][i], slx));
                const __m256 sure = _mm256_and_ps(_mm256_cmp_ps(d, _mm256_mul_ps(lo[g][i], slx), _CMP_GT_OQ),
                                                  _mm256_cmp_ps(d, _mm256_mul_ps(hi[g][i], slx), _CMP_LT_OQ));
                const __m256 pos = _mm256_cmp_ps(slx, zero, _CMP_GT_OQ);     // if (slx > 0)
                if (__builtin_expect(!_mm256_movemask_ps(_mm256_andnot_ps(sure, _mm256_and_ps(active[g], pos))), 1)) {
                    continue;
                }
                __m256 nl = q3_level(_mm256_div_ps(num, slx));                 // nearest_int(x[i]*sl2/slx), clamped
                __m256 np = _mm256_mul_ps(wxt[g][i], nl);
                __m256 nq = _mm256_mul_ps(_mm256_mul_ps(wt[g][i], nl), nl);
                __m256 nslx = _mm256_add_ps(slx, np), nsl2 = _mm256_add_ps(sl2, nq);
                __m256 ok = _mm256_and_ps(active[g], pos);
                ok = _mm256_and_ps(ok, _mm256_cmp_ps(nl, lt[g][i], _CMP_NEQ_OQ));
                ok = _mm256_and_ps(ok, _mm256_cmp_ps(nsl2, zero, _CMP_GT_OQ));
                // slx*slx*suml2 > sumlx*sumlx*sl2
                ok = _mm256_and_ps(ok, _mm256_cmp_ps(_mm256_mul_ps(_mm256_mul_ps(nslx, nslx), s2),
                                                     _mm256_mul_ps(_mm256_mul_ps(sx, sx), nsl2), _CMP_GT_OQ));
                if (!_mm256_movemask_ps(ok)) continue;
                sumlx[g] = _mm256_blendv_ps(sx, nslx, ok);
                suml2[g] = _mm256_blendv_ps(s2, nsl2, ok);
                lt[g][i] = _mm256_blendv_ps(lt[g][i], nl, ok);
                pt[g][i] = _mm256_blendv_ps(pt[g][i], np, ok);
                qt[g][i] = _mm256_blendv_ps(qt[g][i], nq, ok);
                q3_bounds(lt[g][i], &lo[g][i], &hi[g][i]);
                changed = _mm256_or_ps(changed, ok);
                last = i;
                end = 16;
            }
            active[g] = _mm256_and_ps(active[g], changed);
            end = last + 1;
        }
    }
    for (int g = 0; g < 2; g++) {
        // suml2 > 0 ? sumlx/suml2 : 0, and 0 for an all-zero sub-block.
        __m256 s = _mm256_and_ps(_mm256_div_ps(sumlx[g], suml2[g]), _mm256_cmp_ps(suml2[g], zero, _CMP_GT_OQ));
        _mm256_storeu_ps(scales + 8 * g, _mm256_andnot_ps(zeroLane[g], s));
        const __m256i keep = _mm256_xor_si256(_mm256_castps_si256(zeroLane[g]), _mm256_set1_epi32(-1));
        uint8_t *Lg = L + 128 * g;
        // L[i] += nmax as bytes: transposed back, lane i of row k is level i of sub-block 8g + k; the low byte
        // of each 32-bit lane is gathered into the low 8 bytes.
        const __m256i low = _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                             0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
        const __m256i join = _mm256_setr_epi32(0, 4, 0, 0, 0, 0, 0, 0);
        for (int h = 0; h < 2; h++) {
            __m256 r[8];
            for (int i = 0; i < 8; i++) {
                __m256i l = _mm256_add_epi32(_mm256_cvttps_epi32(lt[g][8 * h + i]), _mm256_set1_epi32(4));
                r[i] = _mm256_castsi256_ps(_mm256_and_si256(l, keep));
            }
            q3_transpose8(r);
            for (int k = 0; k < 8; k++) {
                __m256i b = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(_mm256_castps_si256(r[k]), low), join);
                _mm_storel_epi64((__m128i *)(Lg + 16 * k + 8 * h), _mm256_castsi256_si128(b));
            }
        }
    }
}

#else
void wl_q3k_search_avx2(const float *x, uint8_t *L, float *scales) {
    (void)x; (void)L; (void)scales;
}
#endif
