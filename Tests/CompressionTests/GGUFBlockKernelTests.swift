import Testing
@testable import Compression
import WeightFormats

/// The vector Q8_0/Q4_0 kernels write the same bytes as ggml's element-by-element reference blocks (themselves
/// checked against gguf-py in GGUFBlockQuantizerTests), on random blocks and on the cases the kernel handles
/// specially: ±0 blocks, ties of +x and −x, tiny and huge magnitudes, subnormals, NaN and infinities, exact
/// halves; and its float16 conversion equals `Float16(_:)`.
struct GGUFBlockKernelTests {
    /// Blocks of 32 values: random scales, with special values sprinkled in.
    static func blocks() -> [Float] {
        let specials: [Float] = [0, -0.0, .nan, .infinity, -.infinity, 1e-40, -1e-40, 1e-30, 7.888609e-31,
                                 Float.leastNonzeroMagnitude, 3.4e38, -3.4e38, 0.5, -0.5, 65504, 65520, 1e-5]
        var out: [Float] = []
        var seed: UInt32 = 7
        func next() -> UInt32 { seed = seed &* 1_664_525 &+ 1_013_904_223; return seed }
        for b in 0..<6000 {
            let scale = Float(sign: .plus, exponent: Int(next() % 240) - 120, significand: 1)
            var block = (0..<32).map { _ in Float(Int32(bitPattern: next())) / 2_147_483_648 * scale }
            switch b % 8 {
            case 0: block[Int(next() % 32)] = specials[Int(next()) % specials.count]
            case 1: block = block.map { _ in Float(Int(next() % 64)) / 2 - 16 }       // halves, ties of ±max
            case 2: block = (0..<32).map { _ in next() & 1 == 0 ? 0 : -0.0 }
            case 3: let m = block.max()!; block[Int(next() % 32)] = -m; block[Int(next() % 32)] = m
            default: break
            }
            out += block
        }
        return out
    }

    @Test(arguments: [GGMLType.q8_0, GGMLType.q4_0])
    func kernelMatchesReference(type: GGMLType) {
        let x = Self.blocks()
        let fast = x.withUnsafeBufferPointer { GGUFBlockQuantizer.quantize($0, type: type) }
        var reference = [UInt8](repeating: 0, count: fast.count)
        x.withUnsafeBufferPointer { xs in
            reference.withUnsafeMutableBytes { o in
                for b in 0..<(xs.count / 32) {
                    let block = UnsafeBufferPointer(rebasing: xs[(b * 32)..<(b * 32 + 32)])
                    let bytes = UnsafeMutableRawBufferPointer(rebasing: o[(b * type.typeSize)..<((b + 1) * type.typeSize)])
                    if type == .q8_0 { GGUFBlockQuantizer.q8_0Reference(block, bytes) } else { GGUFBlockQuantizer.q4_0Reference(block, bytes) }
                }
            }
        }
        let firstDifference = zip(fast, reference).enumerated().first { $0.element.0 != $0.element.1 }?.offset
        #expect(firstDifference == nil, "\(type.name): first different byte \(firstDifference ?? -1)")
    }

    @Test func halfBitsEqualsFloat16() {
        // Every float16 boundary region: steps of 2^-13 ulp cover the rounding bits around every half value.
        var bits: UInt32 = 0, wrong: [Float] = []
        while bits < 0x7F80_0000 {
            for v in [Float(bitPattern: bits), -Float(bitPattern: bits)] where GGUFBlockQuantizer.halfBits(v) != Float16(v).bitPattern {
                wrong.append(v)
            }
            bits &+= 0x0FFF   // coprime with 2^13: lands on ties, just-below and just-above patterns in every binade
        }
        #expect(wrong.isEmpty, "first: \(wrong.prefix(5))")
    }
}

/// The AVX2 + F16C Q8_0/Q4_0 block kernels (gguf_blocks_avx2.c) against the Swift vector loops, on the same
/// blocks as above (NaN, infinities, tiny blocks go to the reference path from either).
struct GGUFBlockAVX2Tests {
    @Test(.enabled(if: GGUFBlockQuantizer.vectorBlocks), arguments: [GGMLType.q8_0, GGMLType.q4_0])
    func kernelMatchesSwiftLoops(type: GGMLType) {
        let x = GGUFBlockKernelTests.blocks()
        let blocks = x.count / 32
        var c = [UInt8](repeating: 0, count: blocks * type.typeSize), swift = c
        x.withUnsafeBufferPointer { xs in
            for (out, vector) in [(0, true), (1, false)] {
                var bytes = [UInt8](repeating: 0xAA, count: blocks * type.typeSize)
                bytes.withUnsafeMutableBytes { o in
                    if type == .q8_0 { GGUFBlockQuantizer.q8_0Blocks(xs.baseAddress!, o.baseAddress!, count: blocks, vector: vector) }
                    else { GGUFBlockQuantizer.q4_0Blocks(xs.baseAddress!, o.baseAddress!, count: blocks, vector: vector) }
                }
                if out == 0 { c = bytes } else { swift = bytes }
            }
        }
        let firstDifference = zip(c, swift).enumerated().first { $0.element.0 != $0.element.1 }?.offset
        #expect(firstDifference == nil, "\(type.name): first different byte \(firstDifference ?? -1)")
    }
}
