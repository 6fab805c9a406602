import Foundation
import Testing
import TestSupport
import TaskEval

/// `eval --arch`: the classifier fixture's weights (read from its ONNX file by weightlab's reader) run by the
/// pure-Swift module as the MLP they are, original and int4 g128, against what the generator measured with
/// Python onnxruntime + numpy (taskeval/reference.json). Needs no onnxruntime, so it always runs.
struct SwiftNetworkEvaluationTests {
    static let mlp = #"{"kind": "mlp", "layers": [{"op": "linear", "name": "fc1"}, {"op": "relu"}, {"op": "linear", "name": "fc2"}]}"#

    @Test func classifierWeightsRunAsAnMLPMatchTheReference() throws {
        let dir = try TemporaryDirectory()
        let arch = try dir.write("mlp.json", text: Self.mlp)
        let r = try TaskEvaluation.runSwift(modelPath: Fixtures.path("taskeval/classifier.onnx"),
                                            planPath: Fixtures.path("taskeval/plan_int4_g128.json"),
                                            dataPath: Fixtures.path("taskeval/classifier_data.npz"),
                                            architecturePath: arch, batch: 64)
        let m = try #require(try ONNXEvaluationTests.reference("classifier")["int4_g128"] as? [String: Any])
        #expect(r.kind == .classifier && r.samples == 200 && r.output == "output")
        #expect(ONNXEvaluationTests.close(r.accuracyOriginal, m["accuracy_original"], 1e-12))
        #expect(ONNXEvaluationTests.close(r.accuracyCompressed, m["accuracy"], 1e-12))
        #expect(ONNXEvaluationTests.close(r.flipRate, m["flip_rate"], 1e-12))
        #expect(ONNXEvaluationTests.close(r.meanKL, m["kl_mean"], 1e-5))
        #expect(ONNXEvaluationTests.close(r.sqnr, m["sqnr_db"], 1e-3))
    }

    @Test func aBadArchitectureOrMismatchedDataIsOneLine() throws {
        let dir = try TemporaryDirectory()
        let missing = try dir.write("bad.json", text: #"{"kind": "mlp", "layers": [{"op": "linear", "name": "nope"}]}"#)
        #expect(throws: EvalError.self) {
            _ = try TaskEvaluation.runSwift(modelPath: Fixtures.path("taskeval/classifier.onnx"),
                                            planPath: Fixtures.path("taskeval/plan_empty.json"),
                                            dataPath: Fixtures.path("taskeval/classifier_data.npz"), architecturePath: missing)
        }
        let arch = try dir.write("mlp.json", text: Self.mlp)
        #expect(throws: EvalError.self) {   // an embedder's token ids are not the MLP's one float array
            _ = try TaskEvaluation.runSwift(modelPath: Fixtures.path("taskeval/classifier.onnx"),
                                            planPath: Fixtures.path("taskeval/plan_empty.json"),
                                            dataPath: Fixtures.path("taskeval/embedder_data.npz"), architecturePath: arch)
        }
    }
}
