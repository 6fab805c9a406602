import Foundation
import Testing
@testable import Compression
import WeightFormats

/// Q3_K without an importance matrix runs `make_q3_quants` for its 16 sub-blocks in an AVX2 kernel (one
/// sub-block per lane, `wl_q3k_search_avx2`) when the CPU has AVX2 and the super-block is finite, and in
/// portable Swift otherwise (or with `WEIGHTLAB_KERNELS=portable`). Both must give ggml's bytes: each path is
/// checked against the committed ggml fixtures (kquants/, from ggml-python's `ggml_quantize_chunk`), and the
/// two paths against each other on inputs that reach every branch of the coordinate descent (several passes,
/// ties, both signs of a sub-block's largest magnitude, tiny positive sums whose quotient wraps in
/// `nearest_int`, all-zero and one-value sub-blocks, tiny/subnormal/huge values, NaN/±∞, any bit pattern).
@Suite struct Q3KKernelPathTests {
    static var block: KQuantKernelPathTests.Block { GGMLKQuantizer.q3K }

    @Test(.enabled(if: KernelDispatch.cpuHasAVX2), arguments: [true, false])
    func bothPathsGiveGGMLsFixtureBytes(_ kernels: Bool) throws {
        var checked = 0
        for entry in KQuantReference.cases where entry["type"] as? String == "Q3_K" {
            let shape = entry["shape"] as! [Int]
            let x = try KQuantReference.floats("inputs/\(entry["input"] as! String).bin")
            let importance = try (entry["imatrix"] as? String).map { try KQuantReference.floats("inputs/" + $0) }
            let expected = try KQuantReference.bytes("outputs/" + (entry["bytes"] as! String))
            let got = KQuantKernelPathTests.quantize(x, rowLength: shape[1], importance: importance, type: .q3_K,
                                                    Self.block, kernels: kernels)
            #expect(got == expected, "\(entry["bytes"]!) kernels: \(kernels)")
            checked += 1
        }
        #expect(checked == 14)
    }

    /// Kinds 0…12 are KQuantKernelPathTests' inputs; these add Q3_K's own corner cases (8 super-blocks each).
    static func input(kind: Int, seed: UInt64) -> [Float] {
        if kind <= 12 { return KQuantKernelPathTests.input(kind: kind, seed: seed) }
        var state = (seed &+ UInt64(kind) &* 104_729) &* 0x9E37_79B9_7F4A_7C15 | 1
        func next() -> UInt64 { state ^= state << 13; state ^= state >> 7; state ^= state << 17; return state }
        func unit() -> Float { Float(next() >> 40) / Float(1 << 24) }
        func normal() -> Float { (unit() + unit() + unit() + unit() - 2) * 1.7 }
        return (0..<2048).map { i in
            let sub16 = i / 16
            switch kind {
            case 13: return [1, -1, 0.5, -0.5][Int(next() % 4)]                                  // both signs of the max
            case 14: return Float(Int(next() % 7) - 3) * (sub16 % 2 == 0 ? 1 : 0.37)              // {0, ±1, ±2, ±3}
            case 15: return (Float(Int(next() % 17) - 8) + 0.5) * Float(sub16 % 4 + 1) * 0.125   // scaled half-steps
            case 16:                                                                             // near-cancelling sums
                return i % 16 == 0 ? 4 : (i % 2 == 0 ? 1 : -1) * (0.9 + unit() * 1e-3)
            case 17: return normal() * (i % 16 < 2 ? 50 : 1)                                     // two large values
            case 18: return Float(bitPattern: UInt32(truncatingIfNeeded: next()))                 // any bit pattern
            case 19:                                                                             // any finite pattern
                let f = Float(bitPattern: UInt32(truncatingIfNeeded: next()))
                return f.isFinite ? f : 1
            case 20: return next() % 10 == 0 ? normal() : 0                                      // 90 % zeros
            case 21: return normal() * [1e-13, 1e-15, 2e-15, 1e-16][i / 512]                     // around GROUP_MAX_EPS
            default: return Float(sub16 % 3) - 1                                                  // constant sub-blocks
            }
        }
    }

    @Test(.enabled(if: KernelDispatch.cpuHasAVX2))
    func avx2AndPortablePathsAgree() {
        var differing: [String] = []
        for kind in 0...22 {
            for seed: UInt64 in 1...8 {
                let x = Self.input(kind: kind, seed: seed)
                let a = KQuantKernelPathTests.quantize(x, rowLength: 1024, importance: nil, type: .q3_K, Self.block, kernels: true)
                let p = KQuantKernelPathTests.quantize(x, rowLength: 1024, importance: nil, type: .q3_K, Self.block, kernels: false)
                if a != p { differing.append("kind \(kind) seed \(seed)") }
            }
        }
        #expect(differing.isEmpty, "\(differing)")
    }
}
