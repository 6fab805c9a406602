import Foundation
import Testing
@testable import Compression
import WeightFormats
import TestSupport

/// Layer diagnostics against numpy (`Tests/Fixtures/make_diagnostics.py`), and the plan-dependent ones
/// (error share, sensitivity) against their definitions on the evaluated numbers.
@Suite struct LayerDiagnosticsTests {
    let model = Fixtures.path("diagnostics/model.safetensors")

    func close(_ a: Double?, _ b: Double?, rel: Double = 1e-6) -> Bool {
        guard let a, let b else { return a == nil && b == nil }
        return abs(a - b) <= rel * max(abs(b), 1e-12)
    }

    @Test func matchNumpy() throws {
        let expected = try #require(try Fixtures.json("diagnostics/expected.json") as? [String: [String: Any]])
        let m = try ModelFile.open(model)
        let plan = try Plan.parse("{\"version\": 1, \"default\": {\"quantize\": {\"format\": \"int\", \"bits\": 4, \"granularity\": \"channel\"}}}", path: "p")
        let settings = try plan.resolve(for: m.tensors)
        let evaluation = try PlanEvaluation(model: m, settings: settings)
        let diagnostics = try evaluation.diagnostics()
        #expect(diagnostics.count == m.tensors.count)
        for (i, t) in m.tensors.enumerated() {
            let ref = try #require(expected[t.name], "\(t.name) missing from expected.json")
            let d = try #require(diagnostics[i])
            #expect(close(d.kurtosis, ref["kurtosis"] as? Double), "\(t.name) kurtosis \(d.kurtosis)")
            #expect(close(d.channelSpread, ref["channel_spread"] as? Double), "\(t.name) spread \(String(describing: d.channelSpread))")
            #expect(d.outliers == ref["outliers"] as? Int, "\(t.name) outliers \(d.outliers)")
            #expect(d.count == t.parameters)
        }
        // Shares of the model's squared error add up to 1 over the layers that have error.
        let shares = evaluation.layers.compactMap { $0.errorShare(of: evaluation.totals) }
        #expect(abs(shares.reduce(0, +) - 1) < 1e-12)
        for (i, t) in m.tensors.enumerated() {
            let n = evaluation.layers[i]
            if settings[i].isIdentity {
                #expect(n.sensitivity(originalBytes: t.byteCount) == nil)
            } else {
                let saved = Double(8 * (t.byteCount - n.bytes!))
                #expect(n.sensitivity(originalBytes: t.byteCount) == n.metrics!.sumSquaredError / saved)
            }
        }
    }

    @Test func vectorsAndConstantsHaveNoSpread() {
        let zeros = [Float](repeating: 0, count: 12)
        let d = zeros.withUnsafeBufferPointer { LayerDiagnostics.measure($0, shape: [3, 4]) }
        #expect(d.channelSpread == nil && d.outliers == 0 && d.kurtosis == 0)
        let v: [Float] = [1, -2, 3]
        #expect(v.withUnsafeBufferPointer { LayerDiagnostics.measure($0, shape: [3]) }.channelSpread == nil)
    }

    /// The rows' maxima (the AVX2 kernel compares 8 at a time as bit patterns, the portable loop one by one) skip NaN and ±Inf wherever they fall, in the
    /// 8-wide part or the tail: rows of 19 values, the largest magnitude placed in the vector part, the tail,
    /// or nowhere (a row of non-finite values and zeros gives 0), with negative, subnormal and -0 values.
    @Test func rowMaximaSkipNonFiniteValues() {
        let n = Float.nan, inf = Float.infinity, tiny = Float.leastNonzeroMagnitude
        let rows: [[Float]] = [
            [1, -7.5, n, 3, inf, -inf, 2, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, -2, n],
            [0.5, n, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -inf, -9.25],
            [n, inf, -inf, -0.0, n, n, n, n, -0.0, 0, 0, 0, 0, 0, 0, 0, 0, n, inf],
            [tiny, -tiny, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -0.0, 0, 0],
        ]
        let flat = rows.flatMap { $0 }
        for avx2 in [false, KernelDispatch.avx2] {
            let got = flat.withUnsafeBufferPointer { LayerDiagnostics.rowMaxima($0, rows: rows.count, avx2: avx2) }
            #expect(got == [7.5, 9.25, 0, Double(tiny)], "avx2 \(avx2)")
        }
    }
}
