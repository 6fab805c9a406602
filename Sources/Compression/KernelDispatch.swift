import CKernels
import Foundation

/// Which implementation the hot loops run: the AVX2 kernels of the CKernels target when the CPU has AVX2
/// (checked once at run time, so one binary serves baseline x86-64 too), else the portable Swift loops.
/// Both give bit-identical results (the same IEEE operations lane by lane; CKernelsTests compares them).
/// `WEIGHTLAB_KERNELS=portable` in the environment forces the Swift loops (for measuring the difference).
enum KernelDispatch {
    static let avx2: Bool = {
        if ProcessInfo.processInfo.environment["WEIGHTLAB_KERNELS"] == "portable" { return false }
        return wl_cpu_has_avx2() != 0
    }()

    /// Whether the CPU itself has AVX2 (tests compare both paths only where both exist).
    static let cpuHasAVX2: Bool = wl_cpu_has_avx2() != 0
}
