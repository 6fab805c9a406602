import Foundation
import Testing
import TestSupport
import WeightFormats
@testable import Compression

/// Statistics against numpy (float64) and scipy.stats.kurtosis on the data `make_statistics.py` wrote.
struct StatisticsTests {
    static let cases = ["normal", "offset_mean", "laplace_sparse", "heavy_tailed", "with_nonfinite", "single"]

    func reference(_ name: String) throws -> [String: Any] {
        let all = try #require(try Fixtures.json("statistics/expected.json") as? [String: Any])
        return try #require(all[name] as? [String: Any])
    }

    func tensor(_ name: String) throws -> Tensor {
        let source = try FileSource(path: Fixtures.path("statistics/\(name).f32"))
        return try Tensor(name: name, dtype: .float32, shape: [Int(source.size / 4)], data: source)
    }

    func expectClose(_ a: Double, _ b: Double, rel: Double = 1e-9, _ what: String) {
        let tol = rel * max(abs(b), 1e-12)
        #expect(abs(a - b) <= tol, "\(what): \(a) vs reference \(b)")
    }

    func check(_ s: Statistics, against ref: [String: Any]) {
        #expect(s.count == ref["count"] as? Int)
        #expect(s.nans == ref["nan"] as? Int)
        #expect(s.infinities == ref["inf"] as? Int)
        expectClose(s.min, ref["min"] as! Double, "min")
        expectClose(s.max, ref["max"] as! Double, "max")
        expectClose(s.absmax, ref["absmax"] as! Double, "absmax")
        expectClose(s.mean, ref["mean"] as! Double, rel: 1e-9, "mean")
        expectClose(s.std, ref["std"] as! Double, rel: 1e-9, "std")
        expectClose(s.kurtosis, ref["kurtosis"] as! Double, rel: 1e-7, "kurtosis")
        expectClose(s.zeroFraction, ref["zero_fraction"] as! Double, "zero fraction")
    }

    @Test(arguments: cases)
    func oneChunkMatchesNumpy(_ name: String) throws {
        let t = try tensor(name)
        var s = Statistics()
        try t.forEachChunk(elements: t.parameters) { _, v in s.add(v) }
        check(s, against: try reference(name))
    }

    /// Many small chunks reduced on several threads must merge to the same numbers.
    @Test(arguments: cases)
    func parallelChunksMatchNumpy(_ name: String) throws {
        let t = try tensor(name)
        let s = try TensorScan.reduce(t, initial: Statistics(), chunkElements: 997,
                                      partial: { _, v in var s = Statistics(); s.add(v); return s },
                                      merge: { $0.merge($1) })
        check(s, against: try reference(name))
    }

    @Test func emptyStatisticsAreZero() {
        let s = Statistics()
        #expect(s.count == 0 && s.absmax == 0 && s.std == 0 && s.zeroFraction == 0)
    }

    @Test func cancellationStopsTheScan() throws {
        let t = try tensor("normal")
        #expect(throws: CancellationError.self) {
            _ = try TensorScan.reduce(t, initial: 0, chunkElements: 1000, cancelled: { true },
                                      partial: { _, v in v.count }, merge: { $0 += $1 })
        }
    }
}
