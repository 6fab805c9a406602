import Foundation
import Testing
import TestSupport
import TaskEval

/// The metrics against numpy/scipy values (Tests/Fixtures/make_taskmetrics.py, taskeval/metrics.json).
/// Pure Swift: these always run, with or without ONNX Runtime.
struct TaskMetricsTests {
    struct Case {
        let name: String, kind: String, width: Int
        let original: [Float], compressed: [Float]
        let labels: [Int64]?
        let argmaxOriginal: [Int]?
        let metrics: [String: Any]
    }

    static func cases() throws -> [Case] {
        let root = try #require(try Fixtures.json("taskeval/metrics.json") as? [String: Any])
        let list = try #require(root["cases"] as? [[String: Any]])
        return try list.map { c in
            Case(name: try #require(c["name"] as? String), kind: try #require(c["kind"] as? String),
                 width: try #require(c["width"] as? Int),
                 original: try #require(c["original"] as? [Double]).map { Float($0) },
                 compressed: try #require(c["compressed"] as? [Double]).map { Float($0) },
                 labels: (c["labels"] as? [Int])?.map { Int64($0) },
                 argmaxOriginal: c["argmax_original"] as? [Int],
                 metrics: try #require(c["metrics"] as? [String: Any]))
        }
    }

    static func close(_ a: Double?, _ b: Any?, tolerance: Double = 1e-9) -> Bool {
        guard let a, let b = b as? Double else { return false }
        return abs(a - b) <= tolerance * max(1, abs(b))
    }

    @Test func classifierMetricsMatchNumpy() throws {
        for c in try Self.cases() where c.kind == "classifier" {
            #expect(TaskMetrics.argmax(c.original, width: c.width) == c.argmaxOriginal, "\(c.name)")
            let m = c.metrics
            #expect(Self.close(TaskMetrics.accuracy(logits: c.original, width: c.width, labels: c.labels!), m["accuracy_original"]), "\(c.name)")
            #expect(Self.close(TaskMetrics.accuracy(logits: c.compressed, width: c.width, labels: c.labels!), m["accuracy"]), "\(c.name)")
            #expect(Self.close(TaskMetrics.flipRate(original: c.original, compressed: c.compressed, width: c.width), m["flip_rate"]), "\(c.name)")
            #expect(Self.close(TaskMetrics.meanKL(original: c.original, compressed: c.compressed, width: c.width), m["kl_mean"], tolerance: 1e-7), "\(c.name)")
            let sqnr = TaskMetrics.sqnr(original: c.original, compressed: c.compressed)
            if m["sqnr_db"] is NSNull { #expect(sqnr == .infinity, "\(c.name)") } else { #expect(Self.close(sqnr, m["sqnr_db"], tolerance: 1e-7), "\(c.name)") }
        }
    }

    @Test func embedderMetricsMatchNumpy() throws {
        let cases = try Self.cases().filter { $0.kind == "embedder" }
        #expect(!cases.isEmpty)
        for c in cases {
            let x = EvalTensor(shape: [c.original.count / c.width, c.width], floats: c.original)
            let y = EvalTensor(shape: x.shape, floats: c.compressed)
            let r = try TaskEvaluation.report(output: "e", original: x, compressed: y, labels: nil, kind: nil)
            #expect(r.kind == .embedder)
            #expect(Self.close(r.cosineMean, c.metrics["cosine_mean"], tolerance: 1e-7))
            #expect(Self.close(r.cosineMin, c.metrics["cosine_min"], tolerance: 1e-7))
            #expect(Self.close(r.neighbourAgreement, c.metrics["nn_agreement"]))
            #expect(Self.close(r.sqnr, c.metrics["sqnr_db"], tolerance: 1e-7))
        }
    }

    @Test func identicalOutputsGiveNoFlipsNoKLAndInfiniteSQNR() {
        let v: [Float] = [0.5, -1, 2, 3, 0, 1]
        #expect(TaskMetrics.flipRate(original: v, compressed: v, width: 3) == 0)
        #expect(TaskMetrics.meanKL(original: v, compressed: v, width: 3) == 0)
        #expect(TaskMetrics.sqnr(original: v, compressed: v) == .infinity)
    }

    @Test func batchesSplitAndJoinBack() {
        let t = EvalTensor(shape: [3, 2], int64: [1, 2, 3, 4, 5, 6])
        #expect(t.rows(1..<3) == EvalTensor(shape: [2, 2], int64: [3, 4, 5, 6]))
        #expect(EvalTensor.joined([t.rows(0..<1), t.rows(1..<3)]) == t)
    }
}
