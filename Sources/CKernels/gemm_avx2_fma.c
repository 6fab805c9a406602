// Single-precision GEMM for Sources/Evaluation (AVX2GEMM): a 6-row × 16-column register tile (12 YMM
// accumulators, two B vectors and one broadcast A value: 15 of the 16 registers) over packed panels.
// B is packed per KC×NC block into 16-column panels (zero-padded, from either layout, so the transposed form
// costs only its packing), A per 6-row strip into 6-wide columns (zero-padded), so every tile runs the one
// full-size micro-kernel; edge tiles land in a scratch tile and only their valid part is added to C.
// Compiled with a per-function target attribute and called only when wl_cpu_has_avx2_fma() says so.
// FMA rounds once per multiply-add, so results differ from the portable Swift kernel in the last bits
// (EvaluationTests compare the two with a relative tolerance).
#include "CKernels.h"
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define WL_AVX2_FMA __attribute__((target("avx2,fma")))

enum { MR = 6, NR = 16, KC = 256, NC = 512 };

/// acc(6×16) = Σ_p a[p·6 + r]·b[p·16 + j]; stored to c (row stride ldc), added to c when `accumulate`.
WL_AVX2_FMA static inline void micro_kernel(long kc, const float *a, const float *b, float *c, long ldc,
                                            int accumulate) {
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps(), c10 = _mm256_setzero_ps(),
           c11 = _mm256_setzero_ps(), c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps(),
           c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps(), c40 = _mm256_setzero_ps(),
           c41 = _mm256_setzero_ps(), c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
    for (long p = 0; p < kc; p++) {
        const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
        __m256 x;
        x = _mm256_broadcast_ss(a + 0); c00 = _mm256_fmadd_ps(x, b0, c00); c01 = _mm256_fmadd_ps(x, b1, c01);
        x = _mm256_broadcast_ss(a + 1); c10 = _mm256_fmadd_ps(x, b0, c10); c11 = _mm256_fmadd_ps(x, b1, c11);
        x = _mm256_broadcast_ss(a + 2); c20 = _mm256_fmadd_ps(x, b0, c20); c21 = _mm256_fmadd_ps(x, b1, c21);
        x = _mm256_broadcast_ss(a + 3); c30 = _mm256_fmadd_ps(x, b0, c30); c31 = _mm256_fmadd_ps(x, b1, c31);
        x = _mm256_broadcast_ss(a + 4); c40 = _mm256_fmadd_ps(x, b0, c40); c41 = _mm256_fmadd_ps(x, b1, c41);
        x = _mm256_broadcast_ss(a + 5); c50 = _mm256_fmadd_ps(x, b0, c50); c51 = _mm256_fmadd_ps(x, b1, c51);
        a += MR;
        b += NR;
    }
#define WL_STORE(row, lo, hi)                                                                                   \
    do {                                                                                                        \
        float *r = c + (row) * ldc;                                                                             \
        if (accumulate) {                                                                                       \
            lo = _mm256_add_ps(lo, _mm256_loadu_ps(r));                                                         \
            hi = _mm256_add_ps(hi, _mm256_loadu_ps(r + 8));                                                     \
        }                                                                                                       \
        _mm256_storeu_ps(r, lo);                                                                                \
        _mm256_storeu_ps(r + 8, hi);                                                                            \
    } while (0)
    WL_STORE(0, c00, c01); WL_STORE(1, c10, c11); WL_STORE(2, c20, c21);
    WL_STORE(3, c30, c31); WL_STORE(4, c40, c41); WL_STORE(5, c50, c51);
#undef WL_STORE
}

/// Packs op(B)[p0 ..< p0+kc, j0 ..< j0+nc] into ⌈nc/16⌉ panels of kc × 16 (zero-padded columns).
WL_AVX2_FMA static void pack_b(const float *b, long n, long k, int transposed, long p0, long kc, long j0, long nc,
                               float *dst) {
    for (long jp = 0; jp < nc; jp += NR) {
        const long w = nc - jp < NR ? nc - jp : NR;
        float *panel = dst + jp * kc;
        if (!transposed) {
            for (long p = 0; p < kc; p++) {
                const float *src = b + (p0 + p) * n + j0 + jp;
                float *row = panel + p * NR;
                if (w == NR) {
                    _mm256_store_ps(row, _mm256_loadu_ps(src));
                    _mm256_store_ps(row + 8, _mm256_loadu_ps(src + 8));
                } else {
                    for (long j = 0; j < NR; j++) row[j] = j < w ? src[j] : 0;
                }
            }
        } else {
            if (w < NR) memset(panel, 0, sizeof(float) * (size_t)(kc * NR));
            for (long j = 0; j < w; j++) {
                const float *src = b + (j0 + jp + j) * k + p0;   // B is n×k: column j of op(B) is row j of B
                for (long p = 0; p < kc; p++) panel[p * NR + j] = src[p];
            }
        }
    }
}

/// Packs A[i0 ..< i0+mr, p0 ..< p0+kc] (row-major, row stride k) as kc columns of 6 (zero-padded rows).
static void pack_a(const float *a, long k, long i0, long mr, long p0, long kc, float *dst) {
    if (mr < MR) memset(dst, 0, sizeof(float) * (size_t)(kc * MR));
    for (long r = 0; r < mr; r++) {
        const float *src = a + (i0 + r) * k + p0;
        for (long p = 0; p < kc; p++) dst[p * MR + r] = src[p];
    }
}

WL_AVX2_FMA void wl_sgemm_avx2_fma(long m, long n, long k, const float *a, const float *b, int b_transposed,
                                   float *c) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0) { memset(c, 0, sizeof(float) * (size_t)(m * n)); return; }
    float *packed_b = aligned_alloc(32, sizeof(float) * KC * NC);
    float *packed_a = aligned_alloc(32, sizeof(float) * KC * MR);
    float scratch[MR * NR] __attribute__((aligned(32)));
    for (long j0 = 0; j0 < n; j0 += NC) {
        const long nc = n - j0 < NC ? n - j0 : NC;
        for (long p0 = 0; p0 < k; p0 += KC) {
            const long kc = k - p0 < KC ? k - p0 : KC;
            const int accumulate = p0 > 0;
            pack_b(b, n, k, b_transposed, p0, kc, j0, nc, packed_b);
            for (long i0 = 0; i0 < m; i0 += MR) {
                const long mr = m - i0 < MR ? m - i0 : MR;
                pack_a(a, k, i0, mr, p0, kc, packed_a);
                for (long jp = 0; jp < nc; jp += NR) {
                    const long w = nc - jp < NR ? nc - jp : NR;
                    float *tile = c + i0 * n + j0 + jp;
                    if (mr == MR && w == NR) {
                        micro_kernel(kc, packed_a, packed_b + jp * kc, tile, n, accumulate);
                    } else {
                        micro_kernel(kc, packed_a, packed_b + jp * kc, scratch, NR, 0);
                        for (long r = 0; r < mr; r++)
                            for (long j = 0; j < w; j++)
                                tile[r * n + j] = accumulate ? tile[r * n + j] + scratch[r * NR + j] : scratch[r * NR + j];
                    }
                }
            }
        }
    }
    free(packed_a);
    free(packed_b);
}

#else
void wl_sgemm_avx2_fma(long m, long n, long k, const float *a, const float *b, int b_transposed, float *c) {
    (void)m; (void)n; (void)k; (void)a; (void)b; (void)b_transposed; (void)c;
    abort();   // never called: wl_cpu_has_avx2_fma() is 0 off x86-64
}
#endif
