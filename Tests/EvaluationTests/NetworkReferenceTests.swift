import Foundation
import Testing
import WeightFormats
@testable import Evaluation

/// Whole networks assembled from architecture descriptions and PyTorch/Hugging Face weight names, against
/// numpy float64 forward passes (make_evalnet.py).
struct NetworkReferenceTests {
    func network(_ stem: String) throws -> (EvalNetwork, WeightTable) {
        let arch = try Architecture.parse(json: try Data(contentsOf: URL(fileURLWithPath: EvalFixtures.path("\(stem).json"))))
        let io = try EvalFixtures.table("\(stem)_io.safetensors")
        return (try EvalNetwork(architecture: arch, weights: try EvalFixtures.table("\(stem).safetensors"), gemm: PortableGEMM()), io)
    }

    @Test(arguments: ["mlp", "cnn"])
    func sequentialNetworkMatchesNumpy(_ stem: String) throws {
        let (net, io) = try network(stem)
        let out = try net.forward(.array(try io.array("input")))
        #expect(out.count == 1)
        expectClose(out[0], try io.array("output"), atol: 1e-5, rtol: 1e-4, stem)
    }

    @Test func substitutedWeightsChangeTheOutput() throws {
        // The compressed-model path: same architecture, one tensor's values replaced (here: zeroed).
        let arch = try Architecture.parse(json: try Data(contentsOf: URL(fileURLWithPath: EvalFixtures.path("mlp.json"))))
        let model = try ModelFile.open(EvalFixtures.path("mlp.safetensors"))
        let zeroed = WeightTable(model: model) { $0 == "fc3.weight" ? [Float](repeating: 0, count: 80) : nil }
        let x = try EvalFixtures.table("mlp_io.safetensors").array("input")
        let out = try EvalNetwork(architecture: arch, weights: zeroed, gemm: PortableGEMM()).forward(.array(x))[0]
        // With fc3's weight zero, the logits are the bias for every row: every row's softmax is identical.
        let row = Array(out.values[0..<5])
        #expect((1..<8).allSatisfy { Array(out.values[($0 * 5)..<($0 * 5 + 5)]) == row })
    }

    @Test func badDescriptionsAndWeightsGiveOneLine() throws {
        #expect(throws: EvaluationError.self) { try Architecture.parse(json: Data(#"{"kind":"rnn"}"#.utf8)) }
        #expect(throws: EvaluationError.self) { try Architecture.parse(json: Data(#"{"kind":"mlp","layers":[{"op":"jump"}]}"#.utf8)) }
        let weights = try EvalFixtures.table("mlp.safetensors")
        do {
            _ = try EvalNetwork(architecture: .sequential([LayerSpec(.linear, name: "fc9")]), weights: weights)
            Issue.record("a missing weight was accepted")
        } catch let e as EvaluationError {
            #expect(e.message.contains("fc9.weight"), "\(e.message)")
        }
        let net = try EvalNetwork(architecture: .sequential([LayerSpec(.linear, name: "fc1")]), weights: weights, gemm: PortableGEMM())
        #expect(throws: EvaluationError.self) { try net.forward(.array(EvalArray(zeros: [2, 19]))) }
        #expect(throws: EvaluationError.self) { try net.forward(.tokens(ids: [[1]], mask: [[1]], tokenTypes: nil)) }
        // A BERT description that does not fit the stored weights names the weight and both shapes.
        do {
            _ = try EvalNetwork(architecture: .bert(BertConfig(layers: 2, hidden: 16, heads: 2, intermediate: 64)),
                                weights: try EvalFixtures.table("tiny_bert/model.safetensors"))
            Issue.record("a hidden size of 16 was accepted for 32-wide weights")
        } catch let e as EvaluationError {
            #expect(e.message.contains("word_embeddings") && e.message.contains("[98, 32]"), "\(e.message)")
        }
    }

    @Test func tinyBertMatchesTheNumpyBert() throws {
        let dir = EvalFixtures.path("tiny_bert")
        let config = try BertConfig(huggingFaceConfig: try Data(contentsOf: URL(fileURLWithPath: dir + "/config.json")))
        #expect(config == BertConfig(layers: 2, hidden: 32, heads: 2, intermediate: 64))
        let net = try EvalNetwork(architecture: .bert(config), weights: try EvalFixtures.table("tiny_bert/model.safetensors"),
                                  gemm: PortableGEMM())
        let expected = try EvalFixtures.table("tiny_bert/expected.safetensors")
        let ids = EvalFixtures.intRows(try expected.array("ids")), mask = EvalFixtures.intRows(try expected.array("mask"))
        // The Swift tokenizer gives the same padded batch as `tokenizers` did for the generator.
        let tokenizer = try WordPieceTokenizer(contentsOf: dir + "/vocab.txt")
        let sentences = ["The model is small.", "Quantization of the weights!", "Hello, world: we compress BERT encoders.",
                         "Café naïve test", "我爱你 data", "unable to run on data", "x"]
        let batch = tokenizer.encodeBatch(sentences)
        #expect(batch.ids == ids && batch.mask == mask)
        let out = try net.forward(.tokens(ids: ids, mask: mask, tokenTypes: nil))
        expectClose(out[0], try expected.array("hidden"), atol: 1e-4, rtol: 1e-4, "tiny BERT last hidden state")
        expectClose(out[1], try expected.array("pooled"), atol: 1e-4, rtol: 1e-4, "tiny BERT mean pooling")
    }
}
