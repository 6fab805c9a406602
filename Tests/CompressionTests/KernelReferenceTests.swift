import Foundation
import Testing
@testable import Compression
import WeightFormats
import TestSupport

/// Every case of `compression/reference.json`: prune and/or quantize with `LayerEvaluator`, then compare the
/// reconstruction (bit for bit), the metrics (1e-4 relative, SQNR 1e-3 dB) and the size (exact bits).
@Suite struct KernelReferenceTests {
    static func run(_ filter: (CompressionReference.Case) -> Bool) throws -> Int {
        var checked = 0
        for c in CompressionReference.cases where filter(c) {
            let w = try CompressionReference.input(c.input)
            let expected = try CompressionReference.floats("outputs/\(c.id).bin")
            var got = [Float](repeating: .nan, count: w.count)
            let ev = try w.withUnsafeBufferPointer { wp in
                try got.withUnsafeMutableBufferPointer { gp in
                    try LayerEvaluator.evaluate(c.settings, shape: c.shape, values: wp, reconstruction: gp)
                }
            }
            let bad = CompressionReference.mismatches(got, expected)
            #expect(bad.isEmpty, "case \(c.id) \(c.settings): \(bad.count) values differ, first at \(bad.first.map { "\($0): \(got[$0]) vs \(expected[$0])" } ?? "")")
            let m = c.metrics
            let ref = { (k: String) in (m[k] as! NSNumber).doubleValue }
            #expect(CompressionReference.close(ev.metrics.mse, ref("mse")), "case \(c.id) mse \(ev.metrics.mse) vs \(ref("mse"))")
            if let s = m["sqnr_db"] as? NSNumber {
                #expect(Swift.abs(ev.metrics.sqnrDB - s.doubleValue) <= 1e-3, "case \(c.id) SQNR \(ev.metrics.sqnrDB) vs \(s)")
            } else {
                #expect(ev.metrics.sqnrDB == .infinity, "case \(c.id) SQNR \(ev.metrics.sqnrDB) vs +inf")
            }
            #expect(CompressionReference.close(ev.metrics.maxAbsError, ref("max_abs_error")), "case \(c.id) max abs error")
            #expect(CompressionReference.close(ev.metrics.cosineSimilarity, ref("cosine")), "case \(c.id) cosine")
            #expect(CompressionReference.close(ev.metrics.sparsity, ref("sparsity")), "case \(c.id) sparsity")
            #expect(CompressionReference.close(ev.metrics.sumSquares, ref("sum_squares")), "case \(c.id) Σw²")
            #expect(ev.metrics.count == w.count)
            #expect(ev.zerosAfterPruning == c.zerosAfterPruning, "case \(c.id) zeros after pruning")
            #expect(ev.pruning.prunedRows == c.prunedRows, "case \(c.id) pruned rows")
            #expect(ev.size.bits == c.sizeBits, "case \(c.id) \(c.settings): size \(ev.size.bits) bits vs \(c.sizeBits)")
            #expect(ev.size.encoding.hasPrefix(c.encodingPrefix) || (c.encodingPrefix == "blocks" && ev.size.encoding.hasSuffix("blocks")),
                    "case \(c.id) encoding \(ev.size.encoding) vs \(c.encodingPrefix)")
            checked += 1
        }
        return checked
    }

    @Test func referenceFileIsPresent() {
        #expect(CompressionReference.cases.count > 200)
    }

    @Test func pruningMatchesNumpy() throws {
        #expect(try Self.run { $0.quantKind == "none" } >= 17)
    }

    @Test func integerQuantizationMatchesNumpy() throws {
        #expect(try Self.run { $0.quantKind == "int" && $0.pruneKind == "none" } >= 160)
    }

    @Test func nf4MatchesNumpy() throws {
        #expect(try Self.run { $0.quantKind == "nf4" && $0.pruneKind == "none" } == 8)
    }

    @Test func fp8MatchesMLDtypes() throws {
        #expect(try Self.run { $0.quantKind == "fp8" && $0.pruneKind == "none" } == 16)
    }

    @Test func ggufReconstructionMatchesGGUFPy() throws {
        #expect(try Self.run { $0.quantKind == "gguf" && $0.pruneKind == "none" } == 20)
    }

    @Test func pruneThenQuantizeMatchesNumpy() throws {
        #expect(try Self.run { $0.quantKind != "none" && $0.pruneKind != "none" } == 8)
    }
}
