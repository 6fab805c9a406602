import Foundation

/// The dependency-free GEMM: a 4-row × 8-column SIMD register tile over blocks of `k` (4 × SIMD8 accumulators
/// plus the B row fit the 16 vector registers of the x86-64 baseline, which 4 × SIMD16 overflowed: 7 % less CPU
/// time on the MiniLM benchmark, Benchmarks/README.md), split across threads
/// by row bands when the product is big enough to pay for the hand-off (small products stay on the caller's
/// thread: on a shared 2-core machine extra threads slow small operations down).
public struct PortableGEMM: GEMM {
    /// Products with fewer multiply-adds than this run single-threaded.
    public var parallelThreshold: Int
    public var threads: Int

    public init(threads: Int = ProcessInfo.processInfo.activeProcessorCount, parallelThreshold: Int = 1 << 22) {
        self.threads = max(1, threads)
        self.parallelThreshold = parallelThreshold
    }

    public var name: String { "portable SIMD8 4×8 tile (up to \(threads) thread\(threads == 1 ? "" : "s"))" }

    public func multiply(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, bTransposed: Bool,
                         c: UnsafeMutablePointer<Float>) {
        if m == 0 || n == 0 { return }
        if k == 0 { c.update(repeating: 0, count: m * n); return }
        // A transposed B is copied once into k×n so both layouts share the one streaming kernel; the copy is
        // O(nk) against O(mnk) work.
        var transposedCopy: [Float] = []
        if bTransposed {
            transposedCopy = [Float](repeating: 0, count: k * n)
            transposedCopy.withUnsafeMutableBufferPointer { t in
                for j in 0..<n { for p in 0..<k { t[p * n + j] = b[j * k + p] } }
            }
        }
        let bands = (m * n * k >= parallelThreshold && threads > 1) ? min(threads, (m + 3) / 4) : 1
        let run: (UnsafePointer<Float>) -> Void = { bk in
            if bands == 1 {
                Self.rows(0..<m, n: n, k: k, a: a, b: bk, c: c)
            } else {
                let per = ((m + bands - 1) / bands + 3) / 4 * 4
                // Each band writes only its own rows of C; A and B are read-only while the bands run.
                nonisolated(unsafe) let (sa, sb, sc) = (a, bk, c)
                DispatchQueue.concurrentPerform(iterations: bands) { t in
                    let lo = t * per, hi = min(m, lo + per)
                    if lo < hi { Self.rows(lo..<hi, n: n, k: k, a: sa, b: sb, c: sc) }
                }
            }
        }
        if bTransposed { transposedCopy.withUnsafeBufferPointer { run($0.baseAddress!) } } else { run(b) }
    }

    private static let kBlock = 256

    /// Rows `range` of C = A·B with B k×n, all row-major.
    private static func rows(_ range: Range<Int>, n: Int, k: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                             c: UnsafeMutablePointer<Float>) {
        for i in range { (c + i * n).update(repeating: 0, count: n) }
        let wide = n / 8 * 8
        var k0 = 0
        while k0 < k {
            let k1 = min(k, k0 + kBlock)
            var i = range.lowerBound
            while i + 4 <= range.upperBound {
                tile4(i, k0..<k1, n: n, wide: wide, k: k, a: a, b: b, c: c)
                i += 4
            }
            while i < range.upperBound {
                tile1(i, k0..<k1, n: n, wide: wide, k: k, a: a, b: b, c: c)
                i += 1
            }
            k0 = k1
        }
    }

    @inline(__always)
    private static func load(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }

    @inline(__always)
    private static func store(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
    }

    private static func tile4(_ i: Int, _ ks: Range<Int>, n: Int, wide: Int, k: Int, a: UnsafePointer<Float>,
                              b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>) {
        let a0 = a + i * k, a1 = a0 + k, a2 = a1 + k, a3 = a2 + k
        let c0 = c + i * n, c1 = c0 + n, c2 = c1 + n, c3 = c2 + n
        var j = 0
        while j < wide {
            var s0 = load(c0 + j), s1 = load(c1 + j), s2 = load(c2 + j), s3 = load(c3 + j)
            for p in ks {
                let bv = load(b + p * n + j)
                s0 += a0[p] * bv; s1 += a1[p] * bv; s2 += a2[p] * bv; s3 += a3[p] * bv
            }
            store(s0, c0 + j); store(s1, c1 + j); store(s2, c2 + j); store(s3, c3 + j)
            j += 8
        }
        if wide < n {
            for p in ks {
                let row = b + p * n
                let x0 = a0[p], x1 = a1[p], x2 = a2[p], x3 = a3[p]
                for jj in wide..<n {
                    let bv = row[jj]
                    c0[jj] += x0 * bv; c1[jj] += x1 * bv; c2[jj] += x2 * bv; c3[jj] += x3 * bv
                }
            }
        }
    }

    private static func tile1(_ i: Int, _ ks: Range<Int>, n: Int, wide: Int, k: Int, a: UnsafePointer<Float>,
                              b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>) {
        let a0 = a + i * k, c0 = c + i * n
        var j = 0
        while j < wide {
            var s0 = load(c0 + j)
            for p in ks { s0 += a0[p] * load(b + p * n + j) }
            store(s0, c0 + j)
            j += 8
        }
        if wide < n {
            for p in ks {
                let row = b + p * n, x0 = a0[p]
                for jj in wide..<n { c0[jj] += x0 * row[jj] }
            }
        }
    }
}
