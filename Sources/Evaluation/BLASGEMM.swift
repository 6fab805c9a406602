import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A BLAS `sgemm` found at run time with `dlopen` — never a link-time dependency, so weightlab builds and runs
/// without one. Searched: `$WEIGHTLAB_BLAS` (a path), then `libopenblas.so.0`, `libopenblas.so`,
/// `libblas.so.3`, `libblas.so`. Both LP64 (`cblas_sgemm`, `scipy_cblas_sgemm`) and ILP64
/// (`scipy_cblas_sgemm64_`, the library numpy's wheel bundles; `cblas_sgemm64_`) symbol sets are accepted.
/// The library is pinned to one thread when it can be: on a shared 2-core machine BLAS threads slow small
/// products down (distillation_options.md §3.1).
public final class BLASGEMM: GEMM, @unchecked Sendable {
    private typealias SGEMM32 = @convention(c) (Int32, Int32, Int32, Int32, Int32, Int32, Float,
                                                UnsafePointer<Float>?, Int32, UnsafePointer<Float>?, Int32, Float,
                                                UnsafeMutablePointer<Float>?, Int32) -> Void
    private typealias SGEMM64 = @convention(c) (Int64, Int64, Int64, Int64, Int64, Int64, Float,
                                                UnsafePointer<Float>?, Int64, UnsafePointer<Float>?, Int64, Float,
                                                UnsafeMutablePointer<Float>?, Int64) -> Void
    private enum Entry { case lp64(SGEMM32), ilp64(SGEMM64) }

    private let entry: Entry
    private let handle: UnsafeMutableRawPointer
    public let name: String
    public let path: String

    // CBLAS enum values (fixed by the CBLAS standard).
    private static let rowMajor = 101, noTrans = 111, trans = 112

    private init(handle: UnsafeMutableRawPointer, entry: Entry, name: String, path: String) {
        self.handle = handle
        self.entry = entry
        self.name = name
        self.path = path
    }

    deinit { dlclose(handle) }

    /// The first BLAS that loads and has an `sgemm`, or nil (the caller falls back to `PortableGEMM`).
    public static func load(environment: [String: String] = ProcessInfo.processInfo.environment) -> BLASGEMM? {
        var candidates = ["libopenblas.so.0", "libopenblas.so", "libblas.so.3", "libblas.so"]
        if let explicit = environment["WEIGHTLAB_BLAS"], !explicit.isEmpty { candidates.insert(explicit, at: 0) }
        for path in candidates {
            if let blas = open(path) { return blas }
        }
        return nil
    }

    /// Opens one library by path or soname; nil when it does not load or has no known `sgemm` symbol.
    public static func open(_ path: String) -> BLASGEMM? {
        guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else { return nil }
        func symbol(_ names: [String]) -> UnsafeMutableRawPointer? {
            for n in names { if let s = dlsym(handle, n) { return s } }
            return nil
        }
        let entry: Entry
        let ilp64: Bool
        if let s = symbol(["cblas_sgemm", "scipy_cblas_sgemm"]) {
            entry = .lp64(unsafeBitCast(s, to: SGEMM32.self)); ilp64 = false
        } else if let s = symbol(["scipy_cblas_sgemm64_", "cblas_sgemm64_"]) {
            entry = .ilp64(unsafeBitCast(s, to: SGEMM64.self)); ilp64 = true
        } else {
            dlclose(handle)
            return nil
        }
        // One thread: set through whichever setter the library exports.
        if ilp64, let s = symbol(["scipy_openblas_set_num_threads64_", "openblas_set_num_threads64_"]) {
            unsafeBitCast(s, to: (@convention(c) (Int64) -> Void).self)(1)
        } else if let s = symbol(["openblas_set_num_threads", "scipy_openblas_set_num_threads"]) {
            unsafeBitCast(s, to: (@convention(c) (Int32) -> Void).self)(1)
        }
        var core = "unknown core"
        if let s = symbol(["openblas_get_corename", "scipy_openblas_get_corename", "scipy_openblas_get_corename64_"]),
           let c = unsafeBitCast(s, to: (@convention(c) () -> UnsafePointer<CChar>?).self)() {
            core = String(cString: c)
        }
        let file = (path as NSString).lastPathComponent
        return BLASGEMM(handle: handle, entry: entry, name: "BLAS \(file) (\(ilp64 ? "ILP64" : "LP64"), core \(core), 1 thread)",
                        path: path)
    }

    public func multiply(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, bTransposed: Bool,
                         c: UnsafeMutablePointer<Float>) {
        if m == 0 || n == 0 { return }
        if k == 0 { c.update(repeating: 0, count: m * n); return }
        let tb = bTransposed ? Self.trans : Self.noTrans
        let ldb = bTransposed ? k : n
        switch entry {
        case .lp64(let f):
            // An LP64 BLAS takes 32-bit sizes: anything larger goes to the portable kernel rather than overflow.
            guard max(m, n, k, m * k, k * n, m * n) <= Int(Int32.max) else {
                PortableGEMM().multiply(m: m, n: n, k: k, a: a, b: b, bTransposed: bTransposed, c: c)
                return
            }
            f(Int32(Self.rowMajor), Int32(Self.noTrans), Int32(tb), Int32(m), Int32(n), Int32(k), 1, a, Int32(k),
              b, Int32(ldb), 0, c, Int32(n))
        case .ilp64(let f):
            f(Int64(Self.rowMajor), Int64(Self.noTrans), Int64(tb), Int64(m), Int64(n), Int64(k), 1, a, Int64(k),
              b, Int64(ldb), 0, c, Int64(n))
        }
    }
}
