// Run-time dispatched AVX2 kernels for the hot loops of Sources/Compression (issue 11's 7B speed goals).
// Every function here is compiled with a per-function target attribute, so the package still builds for
// baseline x86-64 and runs anywhere; Swift calls them only when wl_cpu_has_avx2() says the CPU has AVX2.
// Each kernel performs the same IEEE operations, lane by lane and in the same order, as the Swift loop it
// replaces (no FMA: the target is "avx2" only), so results are bit-identical (CKernelsTests checks it).
#ifndef WL_CKERNELS_H
#define WL_CKERNELS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// 1 when the CPU runs AVX2 code and the OS saves the YMM registers, else 0 (always 0 off x86-64).
int wl_cpu_has_avx2(void);

/// 1 when the CPU has both AVX2 and FMA (the GEMM kernel needs both), else 0 (always 0 off x86-64).
int wl_cpu_has_avx2_fma(void);

/// Row-major C[m×n] = A[m×k]·op(B), op(B) = B[k×n] or, when b_transposed, the transpose of B[n×k];
/// C is overwritten. AVX2 + FMA 6×16 register tile over packed panels (gemm_avx2_fma.c); single-threaded
/// (Evaluation's AVX2GEMM splits rows across threads). Call only when wl_cpu_has_avx2_fma() is 1.
void wl_sgemm_avx2_fma(long m, long n, long k, const float *a, const float *b, int b_transposed, float *c);

/// Pass 1 of Statistics.scanFinite over n ≥ 8 floats (only the first 8·⌊n/8⌋ are read): per-lane min and
/// max (lanes start at x[0]; a lane takes a value only when strictly smaller/greater), per-lane Double sums
/// and per-lane zero counts. When `patterns` is not NULL, also adds 1 to patterns[bits(x) >> 16] for every
/// one of the n values (BF16 bit-pattern counts of decoded BF16 values).
void wl_stats_pass1_avx2(const float *x, long n, float lo[8], float hi[8], double sum[8], int32_t zeros[8],
                         uint32_t *patterns);

/// Pass 2 of Statistics.scanFinite: per-lane Σd, Σd², Σd³, Σd⁴ of d = Double(x) − mu over the first
/// 8·⌊n/8⌋ values (dd = d·d; d³ as dd·d, d⁴ as dd·dd).
void wl_stats_pass2_avx2(const float *x, long n, double mu, double a1[8], double a2[8], double a3[8], double a4[8]);

/// The sums of ErrorMetrics.accumulate over n values: sums[0..3] = Σw², Σ(w−ŵ)², Σwŵ, Σŵ² (blocks of 64
/// with Float32 lane sums added to Double in lane order, then a Double tail), max |w − ŵ| and exact zeros of ŵ.
void wl_error_sums_avx2(const float *w, const float *h, long n, double sums[4], float *max_error, int64_t *zeros);

/// wl_error_sums_avx2's Σw² of w against itself (the same blocks, lanes and order, so the same Double), the exact
/// zeros, and 1 in *finite when every value is finite (else w − w is NaN and the other sums carry it).
void wl_sum_squares_avx2(const float *w, long n, double *sum, int64_t *zeros, int *finite);

/// KernelSIMD.fakeQuantize: o[k] = round_half_even(clamp(x[k]/s, a, b))·s (8 lanes, then a scalar tail).
void wl_fake_quantize_avx2(const float *x, float *o, long n, float s, float a, float b);

/// KernelSIMD.minMax lane values: lo/hi lanes start at +∞/−∞ and take a value when strictly smaller/greater,
/// over the first 8·⌊n/8⌋ values.
void wl_min_max_lanes_avx2(const float *x, long n, float lo[8], float hi[8]);

/// IntegerQuantizer.fakeQuantize with min/max clipping, fused: `runs` runs of `run_length` values, each split
/// into groups of `group_length` (the last may be shorter), one grid per group from its min and max
/// (IntegerGrid.symmetric/asymmetric in Float32), each group quantized from `x` into `o` and, when `original`
/// is not NULL, each measured piece of a run (TensorLayout.measuringPieces: whole groups up to `piece_length`
/// values, or `piece_length` values of a longer group) measured against it as ErrorMetrics does, the pieces'
/// sums merged in order into sums (Σw², Σ(w−ŵ)², Σwŵ, Σŵ²), max_error, count and zeros.
void wl_int_minmax_runs_avx2(const float *x, const float *original, float *o, long runs, long run_length,
                             long group_length, long piece_length, int bits, int symmetric,
                             double sums[4], double *max_error, int64_t *count, int64_t *zeros);

/// make_qkx2_quants / make_qkx3_quants (given weights) of ggml-quants.c for 8·groups sub-blocks of n ≤ 32 values,
/// sub-block j at x + n·j with weights w + n·j, one sub-block per lane (kquant_search_avx2.c): levels L (n per
/// sub-block), scales[j] and the_mins[j] (−min ≥ 0) exactly as C returns them. For finite x only (C's degenerate
/// tests `max == min` and `max <= min` agree there); groups is 1 (Q4_K, Q5_K) or 2 (Q2_K).
void wl_kquant_asymmetric_avx2(const float *x, const float *w, long n, long groups, int nmax, float rmin,
                               float rdelta, int nstep, int mad, uint8_t *L, float *scales, float *the_mins);

/// make_q3_quants(16, 4, x, L, true) of ggml-quants.c (Q3_K without an importance matrix) for the 16 sub-blocks
/// of one super-block of 256 finite values, one sub-block per lane (q3k_search_avx2.c): levels L (l + 4; all 0
/// for an all-zero sub-block) and scales[j] exactly as C returns them.
void wl_q3k_search_avx2(const float *x, uint8_t *L, float *scales);

/// wl_int_minmax_runs_avx2 on little-endian BF16 values, measured against themselves (no pruning), without
/// writing the reconstruction: groups or pieces are decoded into `work` (room for wl_int_minmax_bf16_work_floats
/// floats) while they are in cache, so a piece is read once as 2-byte patterns. Also counts the values' exact
/// zeros (±0) into source_zeros. Sums equal the Float32 kernel's.
/// When lo and hi are not NULL (room for runs · ceil(run_length / group_length) floats), each group's range
/// the grid came from is stored there in order: NaN ignored, (0, 0) for a group with no number; the lanes, lane
/// order and tail of ClippingSearch.minMax on the decoded values (so the same floats, signed zeros included).
void wl_int_minmax_runs_bf16_avx2(const uint16_t *x, float *work, long runs, long run_length,
                                  long group_length, long piece_length, int bits, int symmetric,
                                  double sums[4], double *max_error, int64_t *count, int64_t *zeros,
                                  int64_t *source_zeros, float *lo, float *hi);

/// The floats of `work` wl_int_minmax_runs_bf16_avx2 needs for runs of run_length in groups of group_length,
/// measured in pieces of piece_length.
long wl_int_minmax_bf16_work_floats(long run_length, long group_length, long piece_length);

// gguf_blocks_avx2.c: `weightlab apply` GGUF -> GGUF (AVX2 + F16C; call only when wl_cpu_has_avx2_f16c() is 1).

/// 1 when the CPU has AVX2 and F16C (and the OS saves the YMM registers), else 0 (always 0 off x86-64).
int wl_cpu_has_avx2_f16c(void);

/// o[i] = the float16 x[i] widened to float32 (exact; a signalling NaN comes out quiet, as Float(Float16) does).
void wl_f16_to_f32_avx2(const uint16_t *x, float *o, long n);

/// GGUFBlockQuantizer.q8_0Blocks / q4_0Blocks: `count` blocks of 32 floats from x into 34- / 18-byte blocks at
/// o, stopping at the first block the fast path does not cover (a NaN or infinity, or a largest magnitude
/// below 2^-100 other than 0); returns the number of blocks written (count when all were).
long wl_q8_0_blocks_avx2(const float *x, uint8_t *o, long count);
long wl_q4_0_blocks_avx2(const float *x, uint8_t *o, long count);

/// The Q8_0 (x = q·d) and Q4_0 (x = d·(q − 8)) decoders of `blocks` blocks from b into o (32 floats each).
void wl_q8_0_decode_avx2(const uint8_t *b, float *o, long blocks);
void wl_q4_0_decode_avx2(const uint8_t *b, float *o, long blocks);

/// IQ4 (iq4_avx2.c): the scale search of ggml's quantize_row_iq4_nl_impl (ntry = 7) for one 32-value block
/// whose largest-magnitude value `max` is not below GROUP_MAX_EPS: the 16 trial scales (1/(max/127), then
/// (itry - 127)/max for itry = -7...7) scored with weights `weight`, C's sums in C's order; returns the scale d.
float wl_iq4_scale_search_avx2(const float *x, const float *weight, float max);

/// IQ4: qs[j] = L[j] | L[j+16] << 4 with L[j] = best_index_int8(16, kvalues_iq4nl, id*x[j]), 32 values.
void wl_iq4_pack_avx2(const float *x, float id, uint8_t qs[16]);

// writeback.c: AtomicFile's early writeback.

/// Starts writing [offset, offset + length) of fd's dirty pages to the disk without waiting (Linux's
/// sync_file_range with SYNC_FILE_RANGE_WRITE; 0 and nothing elsewhere). The final fsync then finds most of a
/// large output already on its way, so writing overlaps computing instead of following it.
int wl_start_writeback(int fd, long long offset, long long length);

// int_menu_avx2.c: many min/max integer options on stored BF16 in one pass (the solver's integer menu).

/// One option of wl_int_menu_bf16_avx2: b-bit integers, symmetric or not, one grid per group of
/// `group_length` along the row, or per row when group_length is 0.
struct wl_int_option { int32_t bits; int32_t symmetric; int64_t group_length; };

/// One option's numbers, as wl_int_minmax_runs_bf16_avx2 returns them.
struct wl_int_result { double sums[4]; double max_error; int64_t count; int64_t zeros; };

/// wl_int_minmax_runs_bf16_avx2 for every option at once on `rows` rows of `row_length` little-endian BF16 values
/// (for group options the runs are the rows; for row options too), measured in the integer quantizer's pieces
/// (TensorLayout.measuringPieces with piece_length): each row is decoded once, each chunk's group ranges found
/// once per group length, and every option quantizes and measures the chunk while it is in L1, each piece's Σw²
/// computed once for all. results[k] equals wl_int_minmax_runs_bf16_avx2's numbers for option k bit for bit (a
/// NaN sum's payload aside); source_zeros counts the values' exact zeros. Returns 0 (and does nothing) when a
/// group length does not divide piece_length (then options would not share their pieces), bits are outside
/// 2…8, there are more than 64 options, or no memory; then call the one-option kernel per option.
int wl_int_menu_bf16_avx2(const uint16_t *x, long rows, long row_length, long piece_length,
                          const struct wl_int_option *options, long option_count,
                          struct wl_int_result *results, int64_t *source_zeros);

/// The largest |x| among the finite values of x[0..<n] (+0 when there is none): the layer diagnostics' row
/// maxima, compared 8 at a time as bit patterns (call only when AVX2 is available).
float wl_abs_max_finite_avx2(const float *x, long n);

// statistics_avx2.c, BF16: the statistics scan of a BF16 layer on its stored little-endian patterns.

/// wl_stats_pass1_avx2 (without pattern counts) on the n ≥ 1 floats that the BF16 patterns x decode to
/// (pattern << 16), over the first 8·⌊n/8⌋; every lane equals the float kernel's.
void wl_stats_bf16_pass1_avx2(const uint16_t *x, long n, float lo[8], float hi[8], double sum[8], int32_t zeros[8]);

/// wl_stats_pass2_avx2 on the floats that the BF16 patterns x decode to; when `patterns` is not NULL, also adds
/// 1 to patterns[x[i]] for every one of the n values.
void wl_stats_bf16_pass2_avx2(const uint16_t *x, long n, double mu, double a1[8], double a2[8], double a3[8],
                              double a4[8], uint32_t *patterns);

#ifdef __cplusplus
}
#endif
#endif
