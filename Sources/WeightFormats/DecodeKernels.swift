import CKernels
import Foundation

/// Whether the reader's hottest decoders (float16, Q8_0 and Q4_0 blocks) run the AVX2 + F16C kernels of the
/// CKernels target (gguf_blocks_avx2.c): checked once at run time, so one binary serves baseline x86-64 too.
/// The kernels give the same values as the Swift loops (the same conversions and products; the float16
/// widening is exact either way). `WEIGHTLAB_KERNELS=portable` forces the Swift loops, as for Compression.
public enum DecodeKernels {
    public static let enabled: Bool = {
        if ProcessInfo.processInfo.environment["WEIGHTLAB_KERNELS"] == "portable" { return false }
        return wl_cpu_has_avx2_f16c() != 0
    }()

    /// Whether the CPU itself has AVX2 and F16C (tests compare both paths only where both exist).
    public static let cpuHasAVX2F16C: Bool = wl_cpu_has_avx2_f16c() != 0
}
