import Foundation
import WeightFormats
import Compression
import Evaluation

/// A `TaskRunner` over the pure-Swift evaluation module: a network assembled from a model's weights and an
/// explicit architecture description (never a graph from the file). This is how models that are not ONNX —
/// safetensors, PyTorch, Keras… — are run on data: original and compressed weights through the same kernels.
public struct SwiftNetworkRunner: TaskRunner {
    let network: EvalNetwork
    let architecture: Architecture
    /// A sequential network's one input: the data's array of that name.
    let arrayInput: String?

    /// Token inputs of an encoder, as the `.npz` names them (Hugging Face's names).
    static let tokenInputs = ["input_ids", "attention_mask", "token_type_ids"]

    /// `arrayInput`: for a sequential network, the name of the data array it reads.
    public init(architecture: Architecture, weights: WeightTable, arrayInput: String?) throws {
        self.architecture = architecture
        self.arrayInput = arrayInput
        do {
            network = try EvalNetwork(architecture: architecture, weights: weights)
        } catch let e as EvaluationError {
            throw EvalError("\(weights.origin): \(e.message)")
        }
    }

    public var inputNames: [String] {
        switch architecture {
        case .sequential: [arrayInput ?? "input"]
        case .bert: Array(Self.tokenInputs.prefix(2))
        }
    }

    /// A sequential network's output; an encoder's mean-pooled embedding first (the one the metrics judge),
    /// then its last hidden state.
    public var outputNames: [String] {
        switch architecture {
        case .sequential: ["output"]
        case .bert: ["embedding", "last_hidden_state"]
        }
    }

    public func run(_ inputs: [String: EvalTensor]) throws -> [String: EvalTensor] {
        do {
            switch architecture {
            case .sequential:
                let name = inputNames[0]
                guard let x = inputs[name], case .float(let v) = x.values else {
                    throw EvalError("input '\(DisplayText.escaped(name))' must be a floating array")
                }
                let y = try network.forward(.array(EvalArray(shape: x.shape, values: v)))[0]
                return ["output": EvalTensor(shape: y.shape, floats: y.values)]
            case .bert:
                guard let ids = inputs["input_ids"], let mask = inputs["attention_mask"] else {
                    throw EvalError("an encoder needs the arrays input_ids and attention_mask")
                }
                let types = inputs["token_type_ids"]
                let out = try network.forward(.tokens(ids: Self.rows(ids), mask: Self.rows(mask),
                                                      tokenTypes: try types.map(Self.rows)))
                return ["embedding": EvalTensor(shape: out[1].shape, floats: out[1].values),
                        "last_hidden_state": EvalTensor(shape: out[0].shape, floats: out[0].values)]
            }
        } catch let e as EvaluationError {
            throw EvalError(e.message)
        }
    }

    /// A `[samples, tokens]` integer array as rows of Int.
    static func rows(_ t: EvalTensor) throws -> [[Int]] {
        guard t.shape.count == 2, case .int64(let v) = t.values else {
            throw EvalError("token arrays must be integer arrays of shape [samples, tokens], not \(t.shape)")
        }
        let width = t.shape[1]
        return (0..<t.shape[0]).map { r in v[r * width ..< (r + 1) * width].map { Int($0) } }
    }
}

extension TaskEvaluation {
    /// The whole `eval` for any model the readers open, run by the pure-Swift module: the plan applied as
    /// `apply --to safetensors` does (the engine's reconstruction, into a temporary file), then the original
    /// and the compressed weights run through the network `architecturePath` describes.
    public static func runSwift(modelPath: String, planPath: String, dataPath: String, architecturePath: String,
                                kind: TaskReport.Kind? = nil, batch: Int? = nil, imatrix: String? = nil,
                                tokenizer: String? = nil) throws -> TaskReport {
        try run(modelPath: modelPath, planPath: planPath, imatrix: imatrix,
                setup: TaskSetup(dataPath: dataPath, architecturePath: architecturePath, tokenizerPath: tokenizer, kind: kind, batch: batch))
    }
}
