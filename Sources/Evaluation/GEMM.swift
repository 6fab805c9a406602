import Foundation

/// Row-major single-precision matrix product `C[m×n] = A[m×k] · op(B)`, where `op(B)` is `B[k×n]` or, when
/// `bTransposed`, the transpose of `B[n×k]` (PyTorch's Linear weight layout). `C` is overwritten.
/// Conforming kernels must give the same result up to Float32 summation order.
public protocol GEMM: Sendable {
    /// What runs, for logs beside every timing ("portable SIMD, 2 threads", "OpenBLAS SkylakeX, 1 thread").
    var name: String { get }
    func multiply(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, bTransposed: Bool,
                  c: UnsafeMutablePointer<Float>)
}

extension GEMM {
    /// Array front end: `a` is m×k, `b` is k×n (or n×k when `bTransposed`).
    public func multiply(_ a: [Float], _ b: [Float], m: Int, n: Int, k: Int, bTransposed: Bool) -> [Float] {
        precondition(a.count == m * k && b.count == k * n, "GEMM operand sizes do not match m=\(m) n=\(n) k=\(k)")
        var c = [Float](repeating: 0, count: m * n)
        if m == 0 || n == 0 { return c }
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    if k == 0 { return }
                    multiply(m: m, n: n, k: k, a: pa.baseAddress!, b: pb.baseAddress!, bTransposed: bTransposed,
                             c: pc.baseAddress!)
                }
            }
        }
        return c
    }
}

/// Picks the kernel evaluations use: a BLAS found at run time when there is one, else the AVX2/FMA kernel when
/// the CPU has both, else the portable Swift kernel. `WEIGHTLAB_GEMM=portable` or `WEIGHTLAB_KERNELS=portable`
/// (the switch Compression's kernels obey) forces the portable kernel (for comparisons).
public enum GEMMSelection {
    public static let preferred: any GEMM = {
        let environment = ProcessInfo.processInfo.environment
        if environment["WEIGHTLAB_GEMM"] == "portable" || environment["WEIGHTLAB_KERNELS"] == "portable" {
            return PortableGEMM()
        }
        if let blas = BLASGEMM.load() { return blas }
        return AVX2GEMM() ?? PortableGEMM()
    }()
}
