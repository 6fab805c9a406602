// AVX2 + F16C kernels for `weightlab apply` GGUF -> GGUF (issue 8's speed goal): float16 -> float32 decoding,
// the Q8_0 and Q4_0 block quantizers of GGUFBlockKernels.swift, and their decoders (GGMLLegacyBlocks.swift).
// Each performs the same IEEE operations, lane by lane, as the Swift loop it stands in for (no FMA: the target
// is "avx2,f16c" only), so the bytes and values are identical (CKernelsTests and GGUFBlockKernelTests compare
// them). Swift calls these only when wl_cpu_has_avx2_f16c() is 1.
#include "CKernels.h"

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#include <string.h>

#define WL_TARGET __attribute__((target("avx2,f16c")))

int wl_cpu_has_avx2_f16c(void) {
    __builtin_cpu_init();
    return (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("f16c")) ? 1 : 0;
}

WL_TARGET void wl_f16_to_f32_avx2(const uint16_t *x, float *o, long n) {
    long i = 0;
    for (; i + 16 <= n; i += 16) {
        __m128i a = _mm_loadu_si128((const __m128i *)(x + i));
        __m128i b = _mm_loadu_si128((const __m128i *)(x + i + 8));
        _mm256_storeu_ps(o + i, _mm256_cvtph_ps(a));
        _mm256_storeu_ps(o + i + 8, _mm256_cvtph_ps(b));
    }
    for (; i < n; i++) {
        o[i] = _cvtsh_ss(x[i]);
    }
}

// The largest |x| of a 32-value block as bits (the Swift `fastAbsMaxBits`): 1 when the block is on the fast
// path (finite, and 0 or at least 2^-100), else 0.
WL_TARGET static inline int abs_max_bits(const float *x, uint32_t *bits) {
    const __m256i magnitude = _mm256_set1_epi32(0x7FFFFFFF);
    __m256i m = _mm256_and_si256(_mm256_loadu_si256((const __m256i *)x), magnitude);
    m = _mm256_max_epi32(m, _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(x + 8)), magnitude));
    m = _mm256_max_epi32(m, _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(x + 16)), magnitude));
    m = _mm256_max_epi32(m, _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(x + 24)), magnitude));
    __m128i h = _mm_max_epi32(_mm256_castsi256_si128(m), _mm256_extracti128_si256(m, 1));
    h = _mm_max_epi32(h, _mm_shuffle_epi32(h, 0x4E));
    h = _mm_max_epi32(h, _mm_shuffle_epi32(h, 0xB1));
    uint32_t best = (uint32_t)_mm_cvtsi128_si32(h);
    *bits = best;
    return best < 0x7F800000u && (best == 0 || best >= 0x0D800000u);
}

// Float16 bits of v, round to nearest even (the Swift `halfBits` / `Float16(v)`).
WL_TARGET static inline uint16_t half_bits(float v) {
    return (uint16_t)_mm_extract_epi16(_mm_cvtps_ph(_mm_set_ss(v), _MM_FROUND_TO_NEAREST_INT), 0);
}

WL_TARGET long wl_q8_0_blocks_avx2(const float *x, uint8_t *o, long count) {
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (long b = 0; b < count; b++) {
        const float *xb = x + b * 32;
        uint8_t *ob = o + b * 34;
        uint32_t bits;
        if (!abs_max_bits(xb, &bits)) return b;
        float amax;
        memcpy(&amax, &bits, 4);
        float d = amax / 127.0f;
        float id = d == 0.0f ? 0.0f : 1.0f / d;
        uint16_t h = half_bits(d);
        memcpy(ob, &h, 2);
        __m256 vid = _mm256_set1_ps(id);
        __m256i q[4];
        for (int k = 0; k < 4; k++) {
            // roundf: t = trunc(v), r = v - t exactly, trunc(2r) is ±1 exactly when |r| >= 0.5.
            __m256 v = _mm256_mul_ps(_mm256_loadu_ps(xb + 8 * k), vid);
            __m256i t = _mm256_cvttps_epi32(v);
            __m256 r = _mm256_sub_ps(v, _mm256_cvtepi32_ps(t));
            q[k] = _mm256_add_epi32(t, _mm256_cvttps_epi32(_mm256_add_ps(r, r)));
        }
        __m256i a = _mm256_packs_epi32(q[0], q[1]);
        __m256i c = _mm256_packs_epi32(q[2], q[3]);
        __m256i bytes = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(a, c), order);
        _mm256_storeu_si256((__m256i *)(ob + 2), bytes);
    }
    return count;
}

WL_TARGET long wl_q4_0_blocks_avx2(const float *x, uint8_t *o, long count) {
    const __m256 half8 = _mm256_set1_ps(8.5f);
    const __m256i fifteen = _mm256_set1_epi32(15);
    for (long b = 0; b < count; b++) {
        const float *xb = x + b * 32;
        uint8_t *ob = o + b * 18;
        uint32_t bits;
        if (!abs_max_bits(xb, &bits)) return b;
        // The signed value of largest magnitude, the first on ties (+x and -x, or +0 and -0).
        float best = 0.0f;
        for (int j = 0; j < 32; j++) {
            uint32_t u;
            memcpy(&u, xb + j, 4);
            if ((u & 0x7FFFFFFFu) == bits) { best = xb[j]; break; }
        }
        float d = best / -8.0f;
        float id = d == 0.0f ? 0.0f : 1.0f / d;
        uint16_t h = half_bits(d);
        memcpy(ob, &h, 2);
        __m256 vid = _mm256_set1_ps(id);
        __m256i q[4];
        for (int k = 0; k < 4; k++) {
            __m256 v = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(xb + 8 * k), vid), half8);
            q[k] = _mm256_min_epi32(_mm256_cvttps_epi32(v), fifteen);
        }
        // Element j in the low nibble, element j + 16 in the high nibble.
        __m256i lo = _mm256_or_si256(q[0], _mm256_slli_epi32(q[2], 4));
        __m256i hi = _mm256_or_si256(q[1], _mm256_slli_epi32(q[3], 4));
        __m256i w = _mm256_permute4x64_epi64(_mm256_packus_epi32(lo, hi), 0xD8);
        __m128i bytes = _mm_packus_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
        _mm_storeu_si128((__m128i *)(ob + 2), bytes);
    }
    return count;
}

WL_TARGET void wl_q8_0_decode_avx2(const uint8_t *b, float *o, long blocks) {
    for (long k = 0; k < blocks; k++) {
        const uint8_t *bb = b + k * 34;
        uint16_t h;
        memcpy(&h, bb, 2);
        __m256 d = _mm256_set1_ps(_cvtsh_ss(h));
        for (int j = 0; j < 4; j++) {
            __m256i q = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(bb + 2 + 8 * j)));
            _mm256_storeu_ps(o + k * 32 + 8 * j, _mm256_mul_ps(_mm256_cvtepi32_ps(q), d));
        }
    }
}

WL_TARGET void wl_q4_0_decode_avx2(const uint8_t *b, float *o, long blocks) {
    const __m256i eight = _mm256_set1_epi32(8);
    const __m256i nibble = _mm256_set1_epi32(0x0F);
    for (long k = 0; k < blocks; k++) {
        const uint8_t *bb = b + k * 18;
        uint16_t h;
        memcpy(&h, bb, 2);
        __m256 d = _mm256_set1_ps(_cvtsh_ss(h));
        for (int j = 0; j < 2; j++) {
            __m256i v = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(bb + 2 + 8 * j)));
            __m256i lo = _mm256_sub_epi32(_mm256_and_si256(v, nibble), eight);
            __m256i hi = _mm256_sub_epi32(_mm256_srli_epi32(v, 4), eight);
            _mm256_storeu_ps(o + k * 32 + 8 * j, _mm256_mul_ps(d, _mm256_cvtepi32_ps(lo)));
            _mm256_storeu_ps(o + k * 32 + 16 + 8 * j, _mm256_mul_ps(d, _mm256_cvtepi32_ps(hi)));
        }
    }
}

#else

int wl_cpu_has_avx2_f16c(void) { return 0; }
void wl_f16_to_f32_avx2(const uint16_t *x, float *o, long n) { (void)x; (void)o; (void)n; }
long wl_q8_0_blocks_avx2(const float *x, uint8_t *o, long count) { (void)x; (void)o; (void)count; return 0; }
long wl_q4_0_blocks_avx2(const float *x, uint8_t *o, long count) { (void)x; (void)o; (void)count; return 0; }
void wl_q8_0_decode_avx2(const uint8_t *b, float *o, long blocks) { (void)b; (void)o; (void)blocks; }
void wl_q4_0_decode_avx2(const uint8_t *b, float *o, long blocks) { (void)b; (void)o; (void)blocks; }

#endif
