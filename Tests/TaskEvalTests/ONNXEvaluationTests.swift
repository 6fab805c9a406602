import Foundation
import Testing
import TestSupport
import TaskEval

/// Original and compressed ONNX models run in ONNX Runtime on the committed data, compared with what the
/// generator measured with Python onnxruntime + numpy (taskeval/reference.json). Skipped when onnxruntime
/// is not installed.
struct ONNXEvaluationTests {
    static var available: Bool { ORTLibraryTests.available }

    static func reference(_ model: String) throws -> [String: Any] {
        let root = try #require(try Fixtures.json("taskeval/reference.json") as? [String: Any])
        return try #require(root[model] as? [String: Any])
    }

    static func close(_ a: Double?, _ b: Any?, _ tolerance: Double) -> Bool {
        guard let a, let b = b as? Double else { return false }
        return abs(a - b) <= tolerance
    }

    @Test(.enabled(if: ONNXEvaluationTests.available, "needs python3 with onnxruntime"))
    func sessionOutputsEqualPythonONNXRuntime() throws {
        let lib = try ORTLibrary.load()
        let session = try ORTSession(library: lib, path: Fixtures.path("taskeval/classifier.onnx"))
        #expect(session.inputNames == ["x"] && session.outputNames == ["logits"])
        let data = try EvalData.load(Fixtures.path("taskeval/classifier_data.npz"))
        let out = try session.run(["x": data.inputs["x"]!.rows(0..<4)])
        let expected = try #require(Self.reference("classifier")["logits_first_rows"] as? [Double])
        let got = try #require(out["logits"]).floats
        #expect(got.count == expected.count)
        #expect(zip(got, expected).allSatisfy { abs(Double($0) - $1) <= 1e-5 })

        let embedder = try ORTSession(library: lib, path: Fixtures.path("taskeval/embedder.onnx"))
        let ids = try EvalData.load(Fixtures.path("taskeval/embedder_data.npz"))
        let e = try embedder.run(["input_ids": ids.inputs["input_ids"]!.rows(0..<3)])
        let eExpected = try #require(Self.reference("embedder")["embedding_first_rows"] as? [Double])
        #expect(zip(try #require(e["embedding"]).floats, eExpected).allSatisfy { abs(Double($0) - $1) <= 1e-5 })
    }

    /// A real third-party graph (LSTM, If, a scalar int64 input) through the same slots.
    @Test(.enabled(if: ONNXEvaluationTests.available, "needs python3 with onnxruntime"))
    func sileroVADOutputsEqualPythonONNXRuntime() throws {
        let session = try ORTSession(library: try ORTLibrary.load(), path: Fixtures.path("onnx/silero_vad_16k_op15.onnx"))
        #expect(session.inputNames == ["input", "state", "sr"])
        let tone = (0..<512).map { Float(0.3 * sin(2 * Double.pi * 440 * Double($0) / 16000)) }
        let out = try session.run(["input": EvalTensor(shape: [1, 512], floats: tone),
                                   "state": EvalTensor(shape: [2, 1, 128], floats: Array(repeating: 0, count: 256)),
                                   "sr": EvalTensor(shape: [], int64: [16000])])
        let ref = try Self.reference("silero_vad")
        let expected = try #require(ref["output"] as? [Double]), state = try #require(ref["stateN_first"] as? [Double])
        let got = try #require(out["output"]), gotState = try #require(out["stateN"])
        #expect(got.shape == [1, 1] && gotState.shape == (ref["stateN_shape"] as? [Int]))
        #expect(zip(got.floats, expected).allSatisfy { abs(Double($0) - $1) <= 1e-5 })
        #expect(zip(gotState.floats.prefix(16), state).allSatisfy { abs(Double($0) - $1) <= 1e-5 })
    }

    @Test(.enabled(if: ONNXEvaluationTests.available, "needs python3 with onnxruntime"))
    func classifierUnderInt4MatchesReference() throws {
        let r = try TaskEvaluation.runONNX(modelPath: Fixtures.path("taskeval/classifier.onnx"),
                                           planPath: Fixtures.path("taskeval/plan_int4_g128.json"),
                                           dataPath: Fixtures.path("taskeval/classifier_data.npz"), batch: 64)
        let m = try #require(Self.reference("classifier")["int4_g128"] as? [String: Any])
        #expect(r.kind == .classifier && r.samples == 200 && r.output == "logits")
        #expect(Self.close(r.accuracyOriginal, m["accuracy_original"], 1e-12))
        #expect(Self.close(r.accuracyCompressed, m["accuracy"], 1e-12))
        #expect(Self.close(r.flipRate, m["flip_rate"], 1e-12))
        #expect(Self.close(r.meanKL, m["kl_mean"], 1e-5))
        #expect(Self.close(r.sqnr, m["sqnr_db"], 1e-3))
    }

    @Test(.enabled(if: ONNXEvaluationTests.available, "needs python3 with onnxruntime"))
    func emptyPlanFlipsNothing() throws {
        let r = try TaskEvaluation.runONNX(modelPath: Fixtures.path("taskeval/classifier.onnx"),
                                           planPath: Fixtures.path("taskeval/plan_empty.json"),
                                           dataPath: Fixtures.path("taskeval/classifier_data.npz"))
        #expect(r.flipRate == 0 && r.meanKL == 0 && r.sqnr == .infinity)
        #expect(r.accuracyCompressed == r.accuracyOriginal)
    }

    @Test(.enabled(if: ONNXEvaluationTests.available, "needs python3 with onnxruntime"))
    func embedderUnderInt4MatchesReference() throws {
        let r = try TaskEvaluation.runONNX(modelPath: Fixtures.path("taskeval/embedder.onnx"),
                                           planPath: Fixtures.path("taskeval/plan_int4_g128.json"),
                                           dataPath: Fixtures.path("taskeval/embedder_data.npz"))
        let m = try #require(Self.reference("embedder")["int4_g128"] as? [String: Any])
        #expect(r.kind == .embedder && r.samples == 100)
        #expect(Self.close(r.cosineMean, m["cosine_mean"], 1e-5))
        #expect(Self.close(r.cosineMin, m["cosine_min"], 1e-5))
        #expect(Self.close(r.neighbourAgreement, m["nn_agreement"], 1e-12))
        #expect(Self.close(r.sqnr, m["sqnr_db"], 1e-3))
    }

    @Test func dataLoadsWithoutLabelsAndRefusesANonNpz() throws {
        let data = try EvalData.load(Fixtures.path("taskeval/embedder_data.npz"))
        #expect(data.samples == 100 && data.labels == nil)
        #expect(throws: (any Error).self) { _ = try EvalData.load(Fixtures.path("taskeval/plan_empty.json")) }
    }
}
