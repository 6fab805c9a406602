import CKernels
import Foundation

/// The AVX2 + FMA GEMM of the CKernels target (`wl_sgemm_avx2_fma`: a 6×16 register tile over packed panels),
/// split across threads by row bands the way `PortableGEMM` is. Swift compiles `PortableGEMM` for the x86-64
/// baseline (SSE2, no FMA), which left the MiniLM encoder and the training epoch just outside their 2× goals
/// (Benchmarks/README.md); this kernel is chosen at run time only where the CPU has both AVX2 and FMA.
/// Results match `PortableGEMM` up to summation order and FMA's single rounding (EvaluationTests compare them).
public struct AVX2GEMM: GEMM {
    public var parallelThreshold: Int
    public var threads: Int

    /// Whether this CPU runs the kernel (AVX2 and FMA); `WEIGHTLAB_KERNELS` is not consulted here.
    public static let cpuSupported: Bool = wl_cpu_has_avx2_fma() != 0

    /// nil when the CPU lacks AVX2 or FMA.
    public init?(threads: Int = ProcessInfo.processInfo.activeProcessorCount, parallelThreshold: Int = 1 << 22) {
        guard Self.cpuSupported else { return nil }
        self.threads = max(1, threads)
        self.parallelThreshold = parallelThreshold
    }

    public var name: String { "AVX2/FMA 6×16 tile (up to \(threads) thread\(threads == 1 ? "" : "s"))" }

    public func multiply(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, bTransposed: Bool,
                         c: UnsafeMutablePointer<Float>) {
        if m == 0 || n == 0 { return }
        if k == 0 { c.update(repeating: 0, count: m * n); return }
        let transposed: Int32 = bTransposed ? 1 : 0
        let bands = (m * n * k >= parallelThreshold && threads > 1) ? min(threads, (m + 5) / 6) : 1
        if bands == 1 {
            wl_sgemm_avx2_fma(m, n, k, a, b, transposed, c)
            return
        }
        // Bands are whole 6-row tiles; each writes only its own rows of C, and A and B are read-only meanwhile.
        let per = ((m + bands - 1) / bands + 5) / 6 * 6
        nonisolated(unsafe) let (sa, sb, sc) = (a, b, c)
        DispatchQueue.concurrentPerform(iterations: bands) { t in
            let lo = t * per, hi = min(m, lo + per)
            if lo < hi { wl_sgemm_avx2_fma(hi - lo, n, k, sa + lo * k, sb, transposed, sc + lo * n) }
        }
    }
}
