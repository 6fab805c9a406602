import CKernels
import Testing
@testable import WeightFormats

/// The reader's AVX2 + F16C decoders (gguf_blocks_avx2.c) against its Swift loops, which the GGUF fixture
/// tests check against gguf-py: every float16 bit pattern widens to the same float32 bits as the table, and
/// Q8_0 / Q4_0 blocks of random bytes (every code, scales of every kind: subnormal, huge, ±0, ∞, NaN) decode
/// to the same bits. Skipped on CPUs without AVX2 and F16C, where only the Swift loops run.
struct DecodeKernelTests {
    @Test(.enabled(if: DecodeKernels.cpuHasAVX2F16C))
    func everyFloat16WidensAsTheTable() {
        let patterns = (0...UInt16.max).map { $0 }
        // An odd count, so the scalar tail runs too.
        let n = patterns.count - 3
        var fast = [Float](repeating: 1, count: n)
        patterns.withUnsafeBufferPointer { p in fast.withUnsafeMutableBufferPointer { wl_f16_to_f32_avx2(p.baseAddress!, $0.baseAddress!, n) } }
        let wrong = (0..<n).filter { fast[$0].bitPattern != Float16Table.values[$0].bitPattern }
        #expect(wrong.isEmpty, "first: \(wrong.prefix(5).map { String($0, radix: 16) })")
    }

    @Test(.enabled(if: DecodeKernels.cpuHasAVX2F16C), arguments: [(34, 8), (18, 2)])
    func blocksDecodeAsTheSwiftLoops(typeSize: Int, id: Int) {
        let blocks = 5000
        var seed: UInt32 = 3
        func next() -> UInt32 { seed = seed &* 1_664_525 &+ 1_013_904_223; return seed }
        let specialScales: [UInt16] = [0x0000, 0x8000, 0x0001, 0x03FF, 0x7BFF, 0x7C00, 0xFC00, 0x7E00, 0x7D01, 0x3C00]
        var bytes = (0..<(blocks * typeSize)).map { _ in UInt8(truncatingIfNeeded: next() >> 24) }
        for b in stride(from: 0, to: blocks, by: 3) {
            let d = specialScales[Int(next() >> 8) % specialScales.count]
            bytes[b * typeSize] = UInt8(d & 0xFF)
            bytes[b * typeSize + 1] = UInt8(d >> 8)
        }
        var fast = [Float](repeating: 0, count: blocks * 32), swift = fast
        bytes.withUnsafeBytes { raw in
            let src = raw.baseAddress!
            fast.withUnsafeMutableBufferPointer { o in
                if id == 8 { wl_q8_0_decode_avx2(src.assumingMemoryBound(to: UInt8.self), o.baseAddress!, blocks) }
                else { wl_q4_0_decode_avx2(src.assumingMemoryBound(to: UInt8.self), o.baseAddress!, blocks) }
            }
            swift.withUnsafeMutableBufferPointer { o in
                for b in 0..<blocks {
                    if id == 8 { LegacyBlocks.q8_0(src + b * typeSize, o.baseAddress! + b * 32) }
                    else { LegacyBlocks.q4_0(src + b * typeSize, o.baseAddress! + b * 32) }
                }
            }
        }
        let wrong = (0..<fast.count).filter { fast[$0].bitPattern != swift[$0].bitPattern }
        #expect(wrong.isEmpty, "first: \(wrong.prefix(5))")
    }
}
