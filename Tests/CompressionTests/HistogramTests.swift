import Foundation
import Testing
import TestSupport
import WeightFormats
@testable import Compression

/// Histograms against numpy (`make_statistics.py` → statistics/histograms.json).
struct HistogramTests {
    static let cases = ["normal", "offset_mean", "laplace_sparse", "heavy_tailed", "with_nonfinite"]

    func reference(_ name: String) throws -> [String: Any] {
        let all = try #require(try Fixtures.json("statistics/histograms.json") as? [String: Any])
        return try #require(all[name] as? [String: Any])
    }

    func tensor(_ name: String) throws -> Tensor {
        let source = try FileSource(path: Fixtures.path("statistics/\(name).f32"))
        return try Tensor(name: name, dtype: .float32, shape: [Int(source.size / 4)], data: source)
    }

    func close(_ a: Double, _ b: Double, _ rel: Double) -> Bool { abs(a - b) <= rel * max(abs(b), 1e-300) }

    /// At bin edges the cumulative histogram answers exactly what numpy counts.
    @Test(arguments: cases)
    func thresholdCutsAtBinEdgesAreExact(_ name: String) throws {
        let ref = try reference(name)
        let h = try TensorScan.magnitudeHistogram(try tensor(name))
        #expect(close(h.totalSquares, ref["total_squares"] as! Double, 1e-12))
        for c in ref["cuts"] as! [[String: Any]] {
            let cut = h.cut(threshold: c["threshold"] as! Double)
            #expect(cut.exact)
            #expect(cut.pruned == c["pruned"] as? Int, "t=\(c["threshold"]!)")
            #expect(close(cut.prunedSquares, c["pruned_squares"] as! Double, 1e-12), "t=\(c["threshold"]!)")
        }
    }

    /// A sparsity target prunes exactly floor(s·n) values; the error inside the last bin is interpolated.
    @Test(arguments: cases)
    func sparsityCutsCountExactly(_ name: String) throws {
        let ref = try reference(name)
        let h = try TensorScan.magnitudeHistogram(try tensor(name))
        for c in ref["sparsity"] as! [[String: Any]] {
            let cut = h.cut(sparsity: c["sparsity"] as! Double)
            #expect(cut.pruned == c["pruned"] as? Int)
            #expect(close(cut.prunedSquares, c["pruned_squares"] as! Double, 0.02), "s=\(c["sparsity"]!)")
        }
    }

    @Test(arguments: cases)
    func percentileWithinABin(_ name: String) throws {
        let ref = try reference(name)
        let h = try TensorScan.magnitudeHistogram(try tensor(name))
        #expect(close(h.percentile(99), ref["p99"] as! Double, 0.016))
    }

    @Test(arguments: cases)
    func valueHistogramMatchesNumpy(_ name: String) throws {
        let ref = try reference(name)
        let t = try tensor(name)
        let s = try TensorScan.statistics(t)
        let h = try TensorScan.valueHistogram(t, bins: 50, lo: s.min, hi: s.max)
        #expect(h.counts == ref["bins50"] as! [Int])
        #expect(h.below == 0 && h.above == 0)
    }

    @Test func chunkedHistogramsMergeToTheWhole() throws {
        let t = try tensor("heavy_tailed")
        let whole = try TensorScan.reduce(t, initial: MagnitudeHistogram(), chunkElements: 1 << 30,
                                          partial: { _, v in MagnitudeHistogram(v) }, merge: { $0.merge($1) })
        let pieces = try TensorScan.reduce(t, initial: MagnitudeHistogram(), chunkElements: 333,
                                           partial: { _, v in MagnitudeHistogram(v) }, merge: { $0.merge($1) })
        #expect(whole.counts == pieces.counts && whole.firstKey == pieces.firstKey)
        #expect(zip(whole.sumSquares, pieces.sumSquares).allSatisfy { close($0, $1, 1e-12) })
    }
}
