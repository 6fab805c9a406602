import Compression
import Foundation
import Testing
import TestSupport
import WeightFormats
@testable import TaskEval

/// The evaluator shared by `eval`, the workbench's task line and `solve --eval-data`; sentence files as data;
/// ONNX models with external data; `eval --imatrix`.
struct TaskEvaluatorTests {
    static let mlp = SwiftNetworkEvaluationTests.mlp

    func classifier() throws -> (TaskEvaluator, Model, TemporaryDirectory) {
        let dir = try TemporaryDirectory()
        let arch = try dir.write("mlp.json", text: Self.mlp)
        let model = try ModelFile.open(Fixtures.path("taskeval/classifier.onnx"))
        let e = try TaskEvaluator(model: model, setup: TaskSetup(dataPath: Fixtures.path("taskeval/classifier_data.npz"),
                                                                 architecturePath: arch, batch: 64))
        return (e, model, dir)
    }

    static func settings(_ planPath: String, _ model: Model) throws -> [LayerSettings] {
        try PlanEvaluation.resolution(try PlanEvaluation.load(planPath), for: model, strict: false).settings
    }

    /// One evaluator, many plans (the task line's use): each answer equals the generator's reference, in any
    /// order, and the reference report is the original against itself.
    @Test func oneEvaluatorMeasuresPlanAfterPlan() throws {
        let (e, model, _) = try classifier()
        let engine = Engine(model: model, scheduler: ImmediateScheduler())
        let m = try #require(try ONNXEvaluationTests.reference("classifier")["int4_g128"] as? [String: Any])
        #expect(ONNXEvaluationTests.close(e.reference.accuracyOriginal, m["accuracy_original"], 1e-12))
        #expect(e.reference.flipRate == 0 && e.reference.headline.loss == 0)
        let int4 = try Self.settings(Fixtures.path("taskeval/plan_int4_g128.json"), model)
        let empty = try Self.settings(Fixtures.path("taskeval/plan_empty.json"), model)
        for s in [int4, empty, int4] {
            let r = try e.evaluate(settings: s, engine: engine)
            if s == empty {
                #expect(r.flipRate == 0 && r.meanKL == 0 && r.accuracyCompressed == r.accuracyOriginal)
            } else {
                #expect(ONNXEvaluationTests.close(r.accuracyCompressed, m["accuracy"], 1e-12))
                #expect(ONNXEvaluationTests.close(r.flipRate, m["flip_rate"], 1e-12))
                #expect(ONNXEvaluationTests.close(r.meanKL, m["kl_mean"], 1e-5))
                let h = r.headline
                #expect(h.name == "acc" && h.loss == (m["accuracy_original"] as! Double) - (m["accuracy"] as! Double))
            }
        }
    }

    @Test func aCancelledEvaluationStopsWithCancellationError() throws {
        let (e, model, _) = try classifier()
        let token = CancellationToken()
        token.cancel()
        #expect(throws: CancellationError.self) {
            _ = try e.evaluate(settings: try Self.settings(Fixtures.path("taskeval/plan_int4_g128.json"), model),
                               engine: Engine(model: model, scheduler: ImmediateScheduler()), cancel: token)
        }
    }

    /// The bundled sentences encode to the ids Hugging Face's `tokenizers` gives with the same tokenizer.json
    /// (taskeval/sentence_tokens.json): `# ` lines skipped, padded to the longest, `token_type_ids` zero.
    @Test func bundledSentencesEncodeAsHuggingFaceTokenizersDoes() throws {
        struct Ref: Decodable { let count: Int; let ids: [[Int64]]; let mask: [[Int64]] }
        let ref = try JSONDecoder().decode(Ref.self, from: try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("taskeval/sentence_tokens.json"))))
        let tokenizer = try TaskEvaluator.tokenizer(Fixtures.path("evalnet/tiny_bert/tokenizer.json"), model: try ModelFile.open(Fixtures.path("evalnet/tiny_bert/model.safetensors")))
        let data = try EvalData.sentences(Fixtures.repositoryRoot + "/Examples/eval/sentences.txt", tokenizer: tokenizer)
        #expect(data.samples == ref.count && ref.count >= 300)
        let width = ref.ids[0].count
        #expect(data.inputs["input_ids"] == EvalTensor(shape: [ref.count, width], int64: ref.ids.flatMap { $0 }))
        #expect(data.inputs["attention_mask"] == EvalTensor(shape: [ref.count, width], int64: ref.mask.flatMap { $0 }))
        #expect(data.inputs["token_type_ids"]?.floats.allSatisfy { $0 == 0 } == true)
    }

    /// A sentence file through the pure-Swift BERT encoder, the tokenizer found beside the model: the empty
    /// plan keeps every embedding (cosine 1), int4 does not.
    @Test func sentenceFileRunsThroughTheSwiftEncoder() throws {
        let dir = try TemporaryDirectory()
        let arch = try dir.write("bert.json", text: #"{"kind": "bert", "layers": 2, "hidden": 32, "heads": 2, "intermediate": 64}"#)
        let text = try dir.write("s.txt", text: "# a comment\nthe cat sat\n\nhello world\na dog ran home\nthe sun is warm\n")
        let model = Fixtures.path("evalnet/tiny_bert/model.safetensors")
        let same = try TaskEvaluation.runSwift(modelPath: model, planPath: Fixtures.path("taskeval/plan_empty.json"),
                                               dataPath: text, architecturePath: arch)
        #expect(same.kind == .embedder && same.samples == 4 && same.sqnr == .infinity)
        #expect(abs(same.cosineMin! - 1) < 1e-6 && same.neighbourAgreement == 1, "\(same)")
        let plan = try dir.write("int2.json", text: #"{"version": 1, "default": {"quantize": {"format": "int", "bits": 2, "granularity": "channel"}}}"#)
        let int2 = try TaskEvaluation.runSwift(modelPath: model, planPath: plan, dataPath: text, architecturePath: arch)
        #expect(int2.cosineMean! < 1 && int2.headline.name == "cos" && int2.headline.loss! > 0)
        // No tokenizer beside the model and none given: one line saying how to give it.
        let lone = dir.path + "/lone.safetensors"
        try FileManager.default.copyItem(atPath: model, toPath: lone)
        #expect(throws: EvalError.self) {
            _ = try TaskEvaluation.runSwift(modelPath: lone, planPath: Fixtures.path("taskeval/plan_empty.json"),
                                            dataPath: text, architecturePath: arch)
        }
    }

    /// An ONNX model whose initializers live in an external data file (written by onnx's own
    /// `save_model(save_as_external_data=True)`): eval accepts it and measures what the generator measured on
    /// the same weights; the hidden compressed copy written beside the data is gone afterwards.
    @Test(.enabled(if: ONNXEvaluationTests.available, "needs python3 with onnxruntime"))
    func externalDataModelMatchesTheReference() throws {
        let dir = Fixtures.path("taskeval_external")
        let before = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        let r = try TaskEvaluation.runONNX(modelPath: dir + "/classifier.onnx", planPath: Fixtures.path("taskeval/plan_int4_g128.json"),
                                           dataPath: Fixtures.path("taskeval/classifier_data.npz"), batch: 64)
        let m = try #require(try ONNXEvaluationTests.reference("classifier")["int4_g128"] as? [String: Any])
        #expect(ONNXEvaluationTests.close(r.accuracyOriginal, m["accuracy_original"], 1e-12))
        #expect(ONNXEvaluationTests.close(r.accuracyCompressed, m["accuracy"], 1e-12))
        #expect(ONNXEvaluationTests.close(r.flipRate, m["flip_rate"], 1e-12))
        #expect(ONNXEvaluationTests.close(r.meanKL, m["kl_mean"], 1e-5))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == before)
    }
}
