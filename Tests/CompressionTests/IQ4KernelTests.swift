import Foundation
import Testing
@testable import Compression

/// IQ4_NL / IQ4_XS through the AVX2 kernels (`wl_iq4_scale_search_avx2`, `wl_iq4_pack_avx2`) against the
/// portable Swift search, which the ggml-python fixtures check (KQuantReferenceTests): the bytes must be
/// equal for every input, with and without importance weights. The inputs reach the kernels' edges: values
/// on and around the table's integers and half-way points (ties), beyond both ends, ±0, NaN and ±∞, tiny,
/// subnormal and huge magnitudes (overflowing products), all-zero and near-zero sub-blocks, one value per
/// sub-block, and importance weights with zeros. Skipped on CPUs without AVX2.
struct IQ4KernelTests {
    /// A 256-value super-block of `kind` (0..<15) from seed `seed`.
    static func block(kind: Int, seed: UInt64) -> [Float] {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        func next() -> UInt64 { state ^= state << 13; state ^= state >> 7; state ^= state << 17; return state }
        func unit() -> Float { Float(next() >> 40) / Float(1 << 24) }
        func normal() -> Float {
            let u1 = max(Double(unit()), 1e-7), u2 = Double(unit())
            return Float((-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * .pi * u2))
        }
        return (0..<256).map { i in
            let g = normal()
            switch kind {
            case 0: return g
            case 1: return g * g * g * (unit() < 0.02 ? 100 : 1)                  // heavy-tailed
            case 2: return (i / 32) % 3 == 0 ? 0 : g                                // all-zero sub-blocks
            case 3: return g * 1e-17                                                 // around GROUP_MAX_EPS
            case 4: return g * 1e-30                                                 // tiny (weights underflow)
            case 5: return g * 1e30                                                  // huge (weights overflow)
            case 6: return (g * 8).rounded() / 4                                     // quarter steps (ties)
            case 7: return Float(Int(next() % 241) - 127) + [0, 0.5, -0.5][Int(next() % 3)]  // table integers ± ½
            case 8: return [Float.nan, .infinity, -.infinity, g][Int(next() % 4)] * (i % 7 == 0 ? 1 : 0) + (i % 7 == 0 ? 0 : g)
            case 9: return i % 32 == 5 ? g : 0                                        // one value per sub-block
            case 10: return i % 2 == 0 ? -0.0 : 0                                     // signed zeros
            case 11: return Float(bitPattern: UInt32(next() % 0x80_0000)) * (i % 2 == 0 ? 1 : -1)  // subnormal
            case 12: return abs(g) + 0.5                                              // positive only
            case 13: return i % 32 == 0 ? (i % 64 == 0 ? 127 : -113) : (g * 40).rounded()  // the ends exactly
            default: return Float(bitPattern: UInt32(truncatingIfNeeded: next()))      // any bit pattern
            }
        }
    }

    @Test(.enabled(if: KernelDispatch.cpuHasAVX2), arguments: 0..<15)
    func kernelBytesEqualPortableBytes(_ kind: Int) {
        for seed in UInt64(1)...40 {
            let x = Self.block(kind: kind, seed: seed &* 31 &+ UInt64(kind))
            let importance: [Float] = (0..<256).map { i in
                i % 11 == 0 ? 0 : Float((i * 7919 + Int(seed)) % 1000) / 97
            }
            for weighted in [false, true] {
                for (superBlock, size) in [(32, 18), (256, 136)] {
                    var a = [UInt8](repeating: 0xAA, count: 8 * size), p = [UInt8](repeating: 0x55, count: 8 * size)
                    x.withUnsafeBufferPointer { xs in
                        importance.withUnsafeBufferPointer { qs in
                            for b in 0..<(256 / superBlock) {
                                let xb = xs.baseAddress! + b * superBlock
                                let qb = weighted ? qs.baseAddress! + b * superBlock : nil
                                a.withUnsafeMutableBytes { GGMLKQuantizer.iq4(xb, qb, $0.baseAddress! + b * size,
                                                                              superBlock: superBlock, avx2: true) }
                                p.withUnsafeMutableBytes { GGMLKQuantizer.iq4(xb, qb, $0.baseAddress! + b * size,
                                                                              superBlock: superBlock, avx2: false) }
                            }
                        }
                    }
                    let n = 256 / superBlock * size
                    #expect(Array(a[..<n]) == Array(p[..<n]),
                            "kind \(kind), seed \(seed), \(superBlock == 32 ? "IQ4_NL" : "IQ4_XS"), weighted \(weighted)")
                }
            }
        }
    }
}
