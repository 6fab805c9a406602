import Foundation
import Testing
import WeightFormats
@testable import Compression

/// The one-pass BF16 analysis (statistics + a table of bit patterns) must equal the general two-pass analysis
/// bit for bit: the same statistics, the same integer counts and the same Σw² in every magnitude bin. The
/// two-pass analysis is itself checked against numpy (HistogramTests, StatisticsTests).
struct BFloat16AnalysisTests {
    /// A BF16 tensor of `values` (their high halves: BF16 by truncation), little- or big-endian.
    func tensor(_ values: [Float], shape: [Int]? = nil, bigEndian: Bool = false) throws -> Tensor {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(2 * values.count)
        for v in values {
            let h = UInt16(v.bitPattern >> 16)
            bytes += bigEndian ? [UInt8(h >> 8), UInt8(h & 0xFF)] : [UInt8(h & 0xFF), UInt8(h >> 8)]
        }
        return try Tensor(name: "w", dtype: .bfloat16, shape: shape ?? [values.count], data: MemorySource(bytes),
                          byteOrder: bigEndian ? .big : .little)
    }

    func normal(_ n: Int, mean: Float, std: Float, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0..<n).map { _ in
            let u = Float(Double(rng.next() >> 11) / 9007199254740992 + 1e-12), v = Float(Double(rng.next() >> 11) / 9007199254740992)
            return mean + std * (-2 * Foundation.log(u)).squareRoot() * Foundation.cos(2 * .pi * v)
        }
    }

    func expectSame(_ t: Tensor) throws {
        #expect(BFloat16Analysis.applies(to: t))
        let one = try LayerAnalysis.analyse(t)
        let two = try LayerAnalysis.analyseInTwoPasses(t)
        #expect(one.statistics == two.statistics)
        #expect(one.values == two.values)
        #expect(one.magnitudes == two.magnitudes)
        #expect(one.magnitudes.sumSquares == two.magnitudes.sumSquares)
    }

    /// Several chunks (so both workers and the chunk-ordered merge of statistics take part), 7B-like scale.
    @Test func normalWeightsOverManyChunks() throws {
        try expectSame(try tensor(normal(3 * TensorScan.chunkElements + 1234, mean: 0, std: 0.02, seed: 1), shape: nil))
    }

    @Test func offsetMeanAndWideRange() throws {
        var v = normal(300_000, mean: 5, std: 3, seed: 2)
        v[17] = 1e30
        v[99] = -3e-38            // subnormal in BF16 after truncation
        v[1000] = 0
        v[1001] = -0.0
        try expectSame(try tensor(v))
    }

    @Test func nonFiniteValuesAreSkippedAlike() throws {
        var v = normal(270_000, mean: 0, std: 1, seed: 3)
        v[5] = .nan
        v[6] = .infinity
        v[262_200] = -.infinity
        try expectSame(try tensor(v))
        try expectSame(try tensor([.nan, .infinity, -.infinity]))
    }

    @Test func bigEndianAndConstantTensors() throws {
        try expectSame(try tensor(normal(5000, mean: -1, std: 0.5, seed: 4), bigEndian: true))
        try expectSame(try tensor([Float](repeating: 0.25, count: 4096)))
        try expectSame(try tensor([1]))
    }

    /// Decoding BF16 either byte order gives the same floats.
    @Test func bigEndianDecodesLikeLittleEndian() throws {
        let v = normal(1000, mean: 0, std: 1, seed: 5)
        var a = [Float](repeating: 0, count: v.count), b = a
        try a.withUnsafeMutableBufferPointer { try tensor(v).decode(0..<v.count, into: $0) }
        try b.withUnsafeMutableBufferPointer { try tensor(v, bigEndian: true).decode(0..<v.count, into: $0) }
        #expect(a == b)
        #expect(a.map(\.bitPattern) == v.map { $0.bitPattern & 0xFFFF_0000 })
    }
}
