import Foundation
import Testing
import WeightFormats
@testable import Compression

/// The statistics scan on stored BF16 patterns (`Statistics.add(bfloat16:patterns:)`, the AVX2 kernels
/// `wl_stats_bf16_pass1_avx2`/`pass2` that decode as they go) against the portable scan of the decoded floats:
/// every statistic and every pattern count equal bit for bit, on edge patterns (NaN, ±∞, subnormals, ±0,
/// all-equal blocks) and lengths around the 8-lane vector and the 16 Ki block, and whole layer analyses equal
/// to the general two-pass analysis (itself checked against numpy). Skipped without AVX2 (portable path only).
struct StoredBFloat16StatisticsTests {
    static let lengths = [1, 2, 7, 8, 9, 15, 16, 17, 1000, 16_383, 16_384, 16_385, 16_391, 40_000]

    /// Edge patterns mixed into seeded values: quiet and signalling NaNs of both signs, ±∞, the smallest and
    /// largest subnormals, ±0, the largest finite, the smallest normal.
    static let edges: [UInt16] = [0x7FC0, 0xFFC0, 0x7F81, 0xFF81, 0x7F80, 0xFF80, 0x0001, 0x8001, 0x007F, 0x807F,
                                  0x0000, 0x8000, 0x7F7F, 0xFF7F, 0x0080, 0x8080]

    static func patterns(_ n: Int, seed: UInt64, edges: Bool) -> [UInt16] {
        AVX2KernelTests.values(n, seed: seed, offset: seed % 2 == 0 ? 0 : 2.5).enumerated().map { i, v in
            edges && i % 97 == 13 ? Self.edges[(i / 97) % Self.edges.count] : UInt16(v.bitPattern >> 16)
        }
    }

    func bits(_ s: Statistics) -> [UInt64] {
        [s.min.bitPattern, s.max.bitPattern, s.mean.bitPattern, s.m2.bitPattern, s.m3.bitPattern, s.m4.bitPattern,
         UInt64(s.count), UInt64(s.zeros), UInt64(s.nans), UInt64(s.infinities)]
    }

    /// The stored scan and the portable float scan of `stored`, each with its own pattern table.
    func expectEqualScans(_ stored: [UInt16], _ what: String) {
        let floats = stored.map { Float(bitPattern: UInt32($0) << 16) }
        var countsS = [UInt32](repeating: 0, count: 1 << 16), countsP = countsS
        var s = Statistics(), p = Statistics()
        stored.withUnsafeBufferPointer { b in countsS.withUnsafeMutableBufferPointer { s.add(bfloat16: b, patterns: $0.baseAddress!) } }
        floats.withUnsafeBufferPointer { b in countsP.withUnsafeMutableBufferPointer { p.add(b, avx2: false, patterns: $0.baseAddress) } }
        #expect(bits(s) == bits(p), "\(what)")
        #expect(countsS == countsP, "\(what)")
        #expect(countsS.reduce(0) { $0 + Int($1) } == stored.count, "\(what)")
    }

    @Test(.enabled(if: KernelDispatch.cpuHasAVX2), arguments: lengths)
    func storedScanEqualsThePortableScan(_ n: Int) {
        expectEqualScans(Self.patterns(n, seed: UInt64(n), edges: false), "n = \(n), finite")
        expectEqualScans(Self.patterns(n, seed: UInt64(n) + 1, edges: true), "n = \(n), with edge patterns")
        expectEqualScans([UInt16](repeating: 0x3E80, count: n), "n = \(n), all equal (0.25)")
        expectEqualScans([UInt16](repeating: 0x8000, count: n), "n = \(n), all −0")
        expectEqualScans((0..<n).map { UInt16(truncatingIfNeeded: $0 % 2 == 0 ? 0x0001 : 0x8003) }, "n = \(n), subnormals")
    }

    @Test(.enabled(if: KernelDispatch.cpuHasAVX2))
    func onlyNonFiniteAndTinyInputs() {
        expectEqualScans([0x7FC0], "one NaN")
        expectEqualScans([0x7F80, 0xFF80, 0x7FC0], "±∞ and NaN")
        expectEqualScans([0x3F80, 0x7F80, 0x3F80, 0x3F80, 0x3F80, 0x3F80, 0x3F80, 0x3F80, 0x3F80], "∞ in the first vector")
        expectEqualScans([0x3F80, 0x3F80, 0x3F80, 0x3F80, 0x3F80, 0x3F80, 0x3F80, 0x3F80, 0xFF80], "−∞ in the tail")
        expectEqualScans([], "empty")
    }

    /// Whole layer analyses: the stored path, the portable float path and the general two-pass analysis agree
    /// (several chunks, so workers claiming chunks in any order still merge them in order).
    @Test(.enabled(if: KernelDispatch.cpuHasAVX2), arguments: [1, 9, 16_391, 2 * TensorScan.chunkElements + 4097])
    func layerAnalysesAgree(_ n: Int) throws {
        let stored = Self.patterns(n, seed: 77 &+ UInt64(n), edges: true)
        let bytes = stored.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
        let t = try Tensor(name: "w", dtype: .bfloat16, shape: [n], data: MemorySource(bytes))
        #expect(BFloat16Analysis.readsStored(t, avx2: true))
        let fast = try BFloat16Analysis.analyse(t, stored: true, cancelled: { false })
        let portable = try BFloat16Analysis.analyse(t, stored: false, cancelled: { false })
        let general = try LayerAnalysis.analyseInTwoPasses(t)
        #expect(fast == portable)
        #expect(fast == general)
        #expect(fast.magnitudes.sumSquares == general.magnitudes.sumSquares)
    }

    @Test func bigEndianAndNoAVX2TakeTheDecodedPath() throws {
        let t = try Tensor(name: "w", dtype: .bfloat16, shape: [4], data: MemorySource([0, 0x3F, 0, 0x40, 0, 0, 0x80, 0x3F]),
                           byteOrder: .big)
        #expect(!BFloat16Analysis.readsStored(t, avx2: true))
        let little = try Tensor(name: "w", dtype: .bfloat16, shape: [4], data: MemorySource([0, 0x3F, 0, 0x40, 0, 0, 0x80, 0x3F]))
        #expect(!BFloat16Analysis.readsStored(little, avx2: false))
    }

    @Test func cancellationStopsTheStoredScan() throws {
        let t = try Tensor(name: "w", dtype: .bfloat16, shape: [3 * TensorScan.chunkElements],
                           data: MemorySource([UInt8](repeating: 0x3F, count: 6 * TensorScan.chunkElements)))
        #expect(throws: CancellationError.self) { try BFloat16Analysis.analyse(t, cancelled: { true }) }
    }
}
