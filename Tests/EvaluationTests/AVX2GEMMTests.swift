import Foundation
import Testing
@testable import Evaluation

/// The AVX2/FMA kernel against the portable Swift kernel on random shapes, including every edge of its 6×16
/// register tile and 256-deep k blocks, in both B layouts. FMA rounds once per multiply-add and the summation
/// order differs, so elements are compared relative to Σ|a|·|b| of their dot product (1e-5 of it), which is the
/// scale of Float32 rounding error and far below any indexing or packing mistake.
struct AVX2GEMMTests {
    /// A small deterministic generator (64-bit LCG) so failures reproduce.
    struct Generator {
        var state: UInt64
        mutating func next() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(state >> 40) / Float(1 << 24) * 2 - 1
        }
        mutating func below(_ n: Int) -> Int { _ = next(); return Int(state >> 33) % n }
    }

    static let shapes: [(m: Int, n: Int, k: Int)] = [
        (1, 1, 1), (6, 16, 1), (5, 15, 7), (7, 17, 3), (12, 32, 256), (13, 33, 257), (6, 512, 513),
        (64, 520, 300), (3, 1, 600), (1, 1000, 40), (100, 10, 784), (31, 47, 129),
    ]

    @Test func matchesPortableKernelOnRandomShapes() throws {
        guard let fast = AVX2GEMM(threads: 1) else { return }   // CPU without AVX2/FMA: nothing to compare
        let portable = PortableGEMM(threads: 1)
        var g = Generator(state: 0x5eed)
        var shapes = Self.shapes
        for _ in 0..<12 { shapes.append((1 + g.below(70), 1 + g.below(90), 1 + g.below(600))) }
        for (m, n, k) in shapes {
            let a = (0..<(m * k)).map { _ in g.next() }
            let b = (0..<(k * n)).map { _ in g.next() }
            let bt = (0..<(n * k)).map { i in b[(i % k) * n + i / k] }   // bt[j][p] = b[p][j]
            // Σ|a_ip|·|b_pj| per element: the scale the rounding error of a dot product grows with.
            let scale = portable.multiply(a.map(abs), b.map(abs), m: m, n: n, k: k, bTransposed: false)
            let expected = portable.multiply(a, b, m: m, n: n, k: k, bTransposed: false)
            for transposed in [false, true] {
                let c = fast.multiply(a, transposed ? bt : b, m: m, n: n, k: k, bTransposed: transposed)
                let worst = c.indices.max { abs(c[$0] - expected[$0]) / scale[$0] < abs(c[$1] - expected[$1]) / scale[$1] }!
                #expect(abs(c[worst] - expected[worst]) <= 1e-5 * scale[worst],
                        "m=\(m) n=\(n) k=\(k) transposed=\(transposed): element \(worst) is \(c[worst]), portable \(expected[worst])")
            }
        }
    }

    @Test func rowBandsGiveTheSingleThreadResult() throws {
        guard let one = AVX2GEMM(threads: 1), let bands = AVX2GEMM(threads: 3, parallelThreshold: 0) else { return }
        var g = Generator(state: 7)
        for (m, n, k) in [(50, 37, 260), (7, 16, 5), (2, 3, 4)] {
            let a = (0..<(m * k)).map { _ in g.next() }, b = (0..<(k * n)).map { _ in g.next() }
            for transposed in [false, true] {
                // Each row's sums run the same operations in either split, so the results are bit-identical.
                #expect(one.multiply(a, b, m: m, n: n, k: k, bTransposed: transposed)
                        == bands.multiply(a, b, m: m, n: n, k: k, bTransposed: transposed), "m=\(m) n=\(n) k=\(k)")
            }
        }
    }

    @Test func emptyInnerDimensionGivesZeros() throws {
        guard let fast = AVX2GEMM() else { return }
        #expect(fast.multiply([], [], m: 2, n: 3, k: 0, bTransposed: true) == [0, 0, 0, 0, 0, 0])
    }
}
