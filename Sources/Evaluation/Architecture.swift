import Foundation

/// An explicit architecture description: the only way a network is assembled (no graph is ever executed).
/// JSON forms:
/// `{"kind": "sequential", "layers": [{"op": "linear", "name": "fc1"}, {"op": "relu"}, …]}` (MLP / small CNN) and
/// `{"kind": "bert", "layers": 6, "hidden": 384, "heads": 12, "intermediate": 1536, "layerNormEps": 1e-12,
///   "activation": "gelu", "prefix": ""}`.
public enum Architecture: Sendable, Equatable {
    case sequential([LayerSpec])
    case bert(BertConfig)

    /// Parses the JSON description; one error line on anything malformed.
    public static func parse(json data: Data) throws -> Architecture {
        struct Kind: Decodable { let kind: String }
        struct Layers: Decodable { let layers: [LayerSpec] }
        do {
            let kind = try JSONDecoder().decode(Kind.self, from: data).kind
            switch kind {
            case "sequential", "mlp", "cnn": return .sequential(try JSONDecoder().decode(Layers.self, from: data).layers)
            case "bert": return .bert(try JSONDecoder().decode(BertConfig.self, from: data))
            default: throw EvaluationError("architecture kind \"\(kind)\" is not one of sequential, mlp, cnn, bert")
            }
        } catch let e as EvaluationError {
            throw e
        } catch {
            throw EvaluationError("architecture description: \(error)")
        }
    }
}

/// What a network is run on: a dense array (MLP/CNN) or padded token ids with their attention mask (BERT).
public enum EvalInput: Sendable {
    case array(EvalArray)
    case tokens(ids: [[Int]], mask: [[Int]], tokenTypes: [[Int]]?)
}

/// The evaluation module's entry point: a network assembled from weights and an architecture description.
/// `forward` returns the output tensors — a sequential network's output; a BERT encoder's last hidden state
/// [batch, seq, hidden] followed by its mean-pooled embedding [batch, hidden].
public struct EvalNetwork: Sendable {
    public enum Body: Sendable {
        case sequential(SequentialNetwork)
        case bert(BertEncoder)
    }
    public let body: Body

    public init(architecture: Architecture, weights: WeightTable, gemm: any GEMM = GEMMSelection.preferred) throws {
        switch architecture {
        case .sequential(let layers): body = .sequential(try SequentialNetwork(layers: layers, weights: weights, gemm: gemm))
        case .bert(let config): body = .bert(try BertEncoder(config: config, weights: weights, gemm: gemm))
        }
    }

    public func forward(_ input: EvalInput) throws -> [EvalArray] {
        switch (body, input) {
        case (.sequential(let net), .array(let x)):
            return [try net.forward(x)]
        case (.bert(let enc), .tokens(let ids, let mask, let types)):
            let hidden = try enc.forward(ids: ids, mask: mask, tokenTypes: types)
            return [hidden, try Kernel.meanPool(hidden, mask: mask)]
        case (.sequential, .tokens):
            throw EvaluationError("a sequential network takes an array input, not token ids")
        case (.bert, .array):
            throw EvaluationError("a BERT encoder takes token ids, not an array")
        }
    }
}
