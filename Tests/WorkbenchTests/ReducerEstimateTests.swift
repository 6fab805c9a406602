@testable import Compression
import Foundation
import Testing
import TestSupport
import WeightFormats
@testable import Workbench

/// The row-sample estimate: a large layer's evaluation comes with an estimate job; its answer is shown as an
/// estimate ("~", dimmed, with its interval) for the revision it was made for, until the exact answer.
@Suite struct ReducerEstimateTests {
    static func state() -> AppState {
        AppState(modelName: "m.gguf", layers: [TensorInfo(name: "blk.0.ffn_up.weight", dtype: .float16, shape: [4096, 256]),
                                               TensorInfo(name: "blk.0.attn_k.weight", dtype: .float16, shape: [64, 256])])
    }

    /// A real estimate of `settings` on synthetic rows of the big layer.
    static func estimate(_ settings: LayerSettings) throws -> RowSampleEstimate {
        try #require(try RowSampleEstimate.estimate(settings, shape: [4096, 256]) { r, row in
            for c in 0..<row.count { row[c] = Float(sin(Double(r * 256 + c) * 0.37)) * 0.02 }
        })
    }

    func estimateJobs(_ effects: [Effect]) -> [JobRequest] {
        effects.compactMap { if case .job(let j) = $0, case .estimate = j { j } else { nil } }
    }

    @Test func largeLayerGetsAnEstimateJobSmallOneDoesNot() {
        var s = Self.state()
        let effects = reduce(&s, .input(.key(.character("P"))))   // preset Q8_0 on every matrix
        let jobs = estimateJobs(effects)
        #expect(jobs == [.estimate(layer: 0, settings: s.records[0].settings, revision: s.records[0].revision)])
        var small = Self.state()
        small.estimateThreshold = Int.max
        #expect(estimateJobs(reduce(&small, .input(.key(.character("P"))))).isEmpty)
    }

    @Test func estimateShowsUntilTheExactAnswer() throws {
        var s = Self.state()
        _ = reduce(&s, .input(.key(.character("P"))))
        let settings = s.records[0].settings, revision = s.records[0].revision
        let e = try Self.estimate(settings)
        let job = JobRequest.estimate(layer: 0, settings: settings, revision: revision)
        // An estimate for an older revision changes nothing.
        _ = reduce(&s, .jobFinished(job, .success(.estimated(layer: 0, revision: revision - 1, e))))
        #expect(s.records[0].numbers.sampleInterval == nil)

        _ = reduce(&s, .jobFinished(job, .success(.estimated(layer: 0, revision: revision, e))))
        let n = s.records[0].numbers
        #expect(n.status == .estimate && n.sqnr == e.sqnrDB && n.sampleInterval == e.sqnrInterval)
        let (text, role) = LayerTable.value("SQNR dB", info: s.records[0].tensor, settings: settings, numbers: n)
        #expect(text == "~" + Format.sqnr(e.sqnrDB) && role == .inactive)
        #expect(WorkbenchTotals.of(s).unsettled >= 1)
        #expect(s.message == nil || s.message?.isError == false)

        // The exact answer replaces it; a late estimate is then ignored.
        var exact = e.metrics
        exact.sumSquaredError *= 1.01
        let evaluation = LayerEvaluation(metrics: exact, size: SizeModel.size(settings, shape: [4096, 256], originalDType: .float16),
                                         pruning: PruneOutcome(), zerosAfterPruning: 0, clustering: nil)
        _ = reduce(&s, .evaluated(EvaluationResult(layer: 0, settings: settings, revision: revision, outcome: .success(evaluation), levels: nil)))
        #expect(s.records[0].numbers.status == .exact && s.records[0].numbers.sampleInterval == nil)
        #expect(s.records[0].numbers.sqnr == exact.sqnrDB)
        _ = reduce(&s, .jobFinished(job, .success(.estimated(layer: 0, revision: revision, e))))
        #expect(s.records[0].numbers.status == .exact)
        // A failed estimate is silent.
        _ = reduce(&s, .jobFinished(job, .failure(EvaluationFailure(message: "x"))))
        #expect(s.message?.isError != true)
    }

    @Test func anEditDropsTheEstimate() throws {
        var s = Self.state()
        _ = reduce(&s, .input(.key(.character("P"))))
        let settings = s.records[0].settings, revision = s.records[0].revision
        _ = reduce(&s, .jobFinished(.estimate(layer: 0, settings: settings, revision: revision),
                                    .success(.estimated(layer: 0, revision: revision, try Self.estimate(settings)))))
        #expect(s.records[0].numbers.sampleInterval != nil)
        _ = reduce(&s, .input(.key(.character("P"))))   // the next preset: a new revision
        #expect(s.records[0].numbers.sampleInterval == nil && s.records[0].sampleEstimate == nil)
    }
}
