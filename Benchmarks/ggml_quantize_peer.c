/* ggml's reference quantizer on one core, the peer of `weightlab bench --quantize-only` (issue 9).
 *
 *   L=$(python3 -c "import ggml,os;print(os.path.dirname(ggml.__file__)+'/lib')")
 *   cc -O2 -o /tmp/ggml_quantize_peer Benchmarks/ggml_quantize_peer.c -L$L -lggml-base -lm -Wl,-rpath,$L
 *   /tmp/ggml_quantize_peer TYPE ROWS REPEAT     # TYPE: ggml type number (q2_K 10 … q6_K 14, iq4_nl 20, iq4_xs 23)
 *   valgrind --tool=callgrind --toggle-collect=ggml_quantize_chunk /tmp/ggml_quantize_peer 10 64 1
 *
 * Quantizes ROWS × 4096 N(0,1) float32 values with ggml_quantize_chunk of ggml-python 0.0.45's libggml-base
 * (built GGML_NATIVE=OFF, no FMA) and prints million weights per second, best of REPEAT.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

size_t ggml_quantize_chunk(int type, const float *src, void *dst, int64_t start, int64_t nrows, int64_t n_per_row,
                           const float *imatrix);

int main(int argc, char **argv) {
    int type = argc > 1 ? atoi(argv[1]) : 10;
    int64_t rows = argc > 2 ? atoll(argv[2]) : 256, n = 4096;
    int repeat = argc > 3 ? atoi(argv[3]) : 3;
    float *x = malloc(sizeof(float) * rows * n);
    uint64_t s = 0x9E3779B97F4A7C15ull;
    for (int64_t i = 0; i < rows * n; i += 2) {   /* xorshift64* → Box–Muller */
        s ^= s >> 12; s ^= s << 25; s ^= s >> 27; double u1 = ((s * 2685821657736338717ull) >> 11) * 0x1p-53 + 0x1p-60;
        s ^= s >> 12; s ^= s << 25; s ^= s >> 27; double u2 = ((s * 2685821657736338717ull) >> 11) * 0x1p-53;
        double r = sqrt(-2 * log(u1));
        x[i] = (float)(r * cos(2 * M_PI * u2)); x[i + 1] = (float)(r * sin(2 * M_PI * u2));
    }
    void *dst = calloc(rows * n, 2); /* more than any type's bytes */
    double best = 1e30;
    for (int k = 0; k < repeat; k++) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        ggml_quantize_chunk(type, x, dst, 0, rows, n, NULL);
        clock_gettime(CLOCK_MONOTONIC, &b);
        double t = (b.tv_sec - a.tv_sec) + 1e-9 * (b.tv_nsec - a.tv_nsec);
        if (t < best) best = t;
    }
    printf("type %d: %.1f M weights/s\n", type, rows * n / best / 1e6);
    return 0;
}
