import Foundation
import Testing
@testable import Compression
import WeightFormats

/// Q2_K, Q4_K and Q5_K run their sub-block scale searches in an AVX2 kernel (one sub-block per lane) when the
/// CPU has AVX2, and in portable Swift otherwise (or with `WEIGHTLAB_KERNELS=portable`). Both must give ggml's
/// bytes: each path is checked against the committed ggml fixtures (kquants/, from ggml-python's
/// `ggml_quantize_chunk`), and the two paths against each other on inputs chosen to reach every branch of
/// the search (ties, constant and all-zero sub-blocks, one value per sub-block, tiny, subnormal and huge
/// values, NaN/±∞, importance weights with zeros and 1e-30).
@Suite struct KQuantKernelPathTests {
    typealias Block = (UnsafePointer<Float>, UnsafePointer<Float>?, UnsafeMutableRawPointer, Bool) -> Void
    static var quantizers: [(GGMLType, Block)] { [(.q2_K, GGMLKQuantizer.q2K), (.q4_K, GGMLKQuantizer.q4K), (.q5_K, GGMLKQuantizer.q5K)] }

    /// Blocks of `x` (rows of `rowLength`), with `importance` (one weight per column) when given.
    static func quantize(_ x: [Float], rowLength: Int, importance: [Float]?, type: GGMLType, _ block: Block, kernels: Bool) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: x.count / 256 * type.typeSize)
        let qw = importance ?? []
        x.withUnsafeBufferPointer { xp in
            qw.withUnsafeBufferPointer { wp in
                out.withUnsafeMutableBytes { o in
                    for b in 0..<(x.count / 256) {
                        block(xp.baseAddress! + 256 * b, importance == nil ? nil : wp.baseAddress! + (256 * b) % rowLength,
                              o.baseAddress! + type.typeSize * b, kernels)
                    }
                }
            }
        }
        return out
    }

    @Test(.enabled(if: KernelDispatch.cpuHasAVX2), arguments: [true, false])
    func bothPathsGiveGGMLsFixtureBytes(_ kernels: Bool) throws {
        var checked = 0
        for entry in KQuantReference.cases {
            guard let (type, block) = Self.quantizers.first(where: { $0.0.name == entry["type"] as? String }) else { continue }
            let shape = entry["shape"] as! [Int]
            guard shape[1] % 256 == 0 else { continue }
            let x = try KQuantReference.floats("inputs/\(entry["input"] as! String).bin")
            let importance = try (entry["imatrix"] as? String).map { try KQuantReference.floats("inputs/" + $0) }
            let expected = try KQuantReference.bytes("outputs/" + (entry["bytes"] as! String))
            let got = Self.quantize(x, rowLength: shape[1], importance: importance, type: type, block, kernels: kernels)
            #expect(got == expected, "\(entry["bytes"]!) kernels: \(kernels)")
            checked += 1
        }
        #expect(checked == 42)
    }

    /// Seeded inputs of 8 super-blocks each, one kind per seed family.
    static func input(kind: Int, seed: UInt64) -> [Float] {
        var state = (seed &+ UInt64(kind) &* 7919) &* 0x9E37_79B9_7F4A_7C15 | 1
        func next() -> UInt64 { state ^= state << 13; state ^= state >> 7; state ^= state << 17; return state }
        func unit() -> Float { Float(next() >> 40) / Float(1 << 24) }
        func normal() -> Float { (unit() + unit() + unit() + unit() - 2) * 1.7 }
        return (0..<2048).map { i in
            let sub16 = i / 16
            switch kind {
            case 0: return normal()
            case 1: return normal() / max(0.02, unit() * unit())                             // heavy tails
            case 2: return sub16 % 3 == 0 ? 0 : normal()                                     // all-zero sub-blocks
            case 3: return normal() * [1e-7, 1e-20, 1e-38, 1e-44][i / 512]                   // tiny and subnormal
            case 4: return normal() * [1e6, 1e20, 1e36, 3e38][i / 512]                       // huge (sums overflow)
            case 5: return Float(Int(next() % 33) - 16) * 0.25                               // quarter-step ties
            case 6: return Float(Int(next() % 7) - 3)                                        // integers
            case 7: return i % 16 == 0 ? normal() : 0                                        // one value per sub-block
            case 8: return Float(sub16 % 5) - 2 + (i / 32 % 2 == 0 ? 0 : 0.5)                // constant sub-blocks
            case 9: return unit() + 0.1                                                      // positive only
            case 10: return -unit() - 0.1                                                    // negative only
            case 11:                                                                        // NaN and ±∞
                let r = next() % 200
                return r == 0 ? .nan : (r == 1 ? .infinity : (r == 2 ? -.infinity : normal()))
            default: return normal() * Float(1 << (sub16 % 12))                              // mixed magnitudes
            }
        }
    }

    static func importance(seed: UInt64) -> [Float] {
        var state = seed &* 0x2545_F491_4F6C_DD1D | 1
        return (0..<1024).map { i in
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            if seed % 2 == 1 && (40..<56).contains(i) { return 0 }
            if seed % 2 == 1 && i == 300 { return 1e-30 }
            return Float(state >> 40) / Float(1 << 24) * 5 + 1e-3
        }
    }

    @Test(.enabled(if: KernelDispatch.cpuHasAVX2))
    func avx2AndPortablePathsAgree() {
        for (type, block) in Self.quantizers {
            for kind in 0...12 {
                for seed: UInt64 in 1...3 {
                    let x = Self.input(kind: kind, seed: seed)
                    for importance in [nil, Self.importance(seed: seed)] {
                        let a = Self.quantize(x, rowLength: 1024, importance: importance, type: type, block, kernels: true)
                        let p = Self.quantize(x, rowLength: 1024, importance: importance, type: type, block, kernels: false)
                        #expect(a == p, "\(type.name) kind \(kind) seed \(seed) importance \(importance != nil)")
                    }
                }
            }
        }
    }
}
