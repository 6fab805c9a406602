import Foundation

/// The shape of a BERT-style encoder (BERT, MiniLM, …): what `config.json` of a Hugging Face BERT says, plus
/// the weight-name prefix (`""` for a bare `BertModel`, `"bert."` inside a task model).
public struct BertConfig: Codable, Sendable, Equatable {
    public var layers: Int
    public var hidden: Int
    public var heads: Int
    public var intermediate: Int
    public var layerNormEps: Float
    /// `"gelu"` (erf) or `"gelu_new"` / `"gelu_pytorch_tanh"` (tanh approximation).
    public var activation: String
    public var prefix: String

    public init(layers: Int, hidden: Int, heads: Int, intermediate: Int, layerNormEps: Float = 1e-12,
                activation: String = "gelu", prefix: String = "") {
        self.layers = layers; self.hidden = hidden; self.heads = heads; self.intermediate = intermediate
        self.layerNormEps = layerNormEps; self.activation = activation; self.prefix = prefix
    }

    enum CodingKeys: String, CodingKey { case layers, hidden, heads, intermediate, layerNormEps, activation, prefix }

    /// The architecture description's form: `layerNormEps`, `activation` and `prefix` may be left out (BERT's
    /// defaults, as `init(layers:…)` has them).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(layers: try c.decode(Int.self, forKey: .layers), hidden: try c.decode(Int.self, forKey: .hidden),
                  heads: try c.decode(Int.self, forKey: .heads), intermediate: try c.decode(Int.self, forKey: .intermediate),
                  layerNormEps: try c.decodeIfPresent(Float.self, forKey: .layerNormEps) ?? 1e-12,
                  activation: try c.decodeIfPresent(String.self, forKey: .activation) ?? "gelu",
                  prefix: try c.decodeIfPresent(String.self, forKey: .prefix) ?? "")
    }

    /// Reads a Hugging Face BERT `config.json` (`num_hidden_layers`, `hidden_size`, `num_attention_heads`,
    /// `intermediate_size`, `layer_norm_eps`, `hidden_act`).
    public init(huggingFaceConfig data: Data, prefix: String = "") throws {
        guard let o = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw EvaluationError("config.json is not a JSON object")
        }
        func int(_ k: String) throws -> Int {
            guard let v = o[k] as? Int else { throw EvaluationError("config.json: no integer \"\(k)\"") }
            return v
        }
        self.init(layers: try int("num_hidden_layers"), hidden: try int("hidden_size"),
                  heads: try int("num_attention_heads"), intermediate: try int("intermediate_size"),
                  layerNormEps: Float((o["layer_norm_eps"] as? Double) ?? 1e-12),
                  activation: (o["hidden_act"] as? String) ?? "gelu", prefix: prefix)
    }
}

/// A BERT encoder's forward pass with post-LayerNorm blocks, reading weights by Hugging Face names
/// (`embeddings.word_embeddings.weight`, `encoder.layer.{i}.attention.self.query.weight`, …).
public struct BertEncoder: Sendable {
    /// A Linear layer with its weight transposed once at load (`[in, out]`): every forward pass then multiplies
    /// without `PortableGEMM` transposing the weight again (5 % of the samples in a profile of the MiniLM benchmark;
    /// 2 % less CPU time measured, Benchmarks/README.md).
    struct Dense: Sendable {
        let inputs: Int, outputs: Int
        let transposed: [Float]
        let b: EvalArray

        init(w: EvalArray, b: EvalArray) {
            let (out, inp) = (w.shape[0], w.shape[1])
            var t = [Float](repeating: 0, count: out * inp)
            for o in 0..<out { for i in 0..<inp { t[i * out + o] = w.values[o * inp + i] } }
            (inputs, outputs, transposed, self.b) = (inp, out, t, b)
        }
    }
    struct Norm: Sendable { let gamma: EvalArray; let beta: EvalArray }
    struct Block: Sendable {
        let query: Dense, key: Dense, value: Dense, attentionOut: Dense
        let attentionNorm: Norm
        let intermediate: Dense, output: Dense
        let outputNorm: Norm
    }
    public let config: BertConfig
    public let gemm: any GEMM
    let words: EvalArray, positions: EvalArray, tokenTypes: EvalArray
    let embeddingNorm: Norm
    let blocks: [Block]

    public init(config: BertConfig, weights: WeightTable, gemm: any GEMM) throws {
        guard config.heads > 0, config.hidden % config.heads == 0, config.layers >= 0 else {
            throw EvaluationError("BERT: hidden \(config.hidden) is not a multiple of \(config.heads) heads")
        }
        self.config = config
        self.gemm = gemm
        let p = config.prefix, h = config.hidden, f = config.intermediate
        func dense(_ name: String, _ out: Int, _ inp: Int) throws -> Dense {
            Dense(w: try weights.array("\(p)\(name).weight", shape: [out, inp]),
                  b: try weights.array("\(p)\(name).bias", shape: [out]))
        }
        func norm(_ name: String) throws -> Norm {
            Norm(gamma: try weights.array("\(p)\(name).weight", shape: [h]), beta: try weights.array("\(p)\(name).bias", shape: [h]))
        }
        words = try weights.array("\(p)embeddings.word_embeddings.weight", shape: [-1, h])
        positions = try weights.array("\(p)embeddings.position_embeddings.weight", shape: [-1, h])
        tokenTypes = try weights.array("\(p)embeddings.token_type_embeddings.weight", shape: [-1, h])
        embeddingNorm = try norm("embeddings.LayerNorm")
        blocks = try (0..<config.layers).map { i in
            let l = "encoder.layer.\(i)"
            return Block(query: try dense("\(l).attention.self.query", h, h), key: try dense("\(l).attention.self.key", h, h),
                         value: try dense("\(l).attention.self.value", h, h),
                         attentionOut: try dense("\(l).attention.output.dense", h, h),
                         attentionNorm: try norm("\(l).attention.output.LayerNorm"),
                         intermediate: try dense("\(l).intermediate.dense", f, h), output: try dense("\(l).output.dense", h, f),
                         outputNorm: try norm("\(l).output.LayerNorm"))
        }
    }

    /// The vocabulary size the word embeddings hold.
    public var vocabularySize: Int { words.shape[0] }

    /// Last hidden state [batch, seq, hidden] for rectangular (padded) `ids`; `mask` marks real tokens with 1;
    /// token types default to 0.
    public func forward(ids: [[Int]], mask: [[Int]], tokenTypes types: [[Int]]? = nil) throws -> EvalArray {
        let b = ids.count, s = ids.first?.count ?? 0
        guard ids.allSatisfy({ $0.count == s }), mask.count == b, mask.allSatisfy({ $0.count == s }),
              types.map({ $0.count == b && $0.allSatisfy { $0.count == s } }) ?? true else {
            throw EvaluationError("BERT: ids, mask and token types must all be [\(b)][\(s)]")
        }
        guard s <= positions.shape[0] else {
            throw EvaluationError("BERT: sequence of \(s) tokens is longer than the \(positions.shape[0]) positions")
        }
        let h = config.hidden
        let flatIDs = ids.flatMap { $0 }
        var x = try Kernel.embedding(flatIDs, table: words)
        let pos = try Kernel.embedding((0..<b).flatMap { _ in Array(0..<s) }, table: positions)
        let typ = try Kernel.embedding(types?.flatMap { $0 } ?? [Int](repeating: 0, count: b * s), table: tokenTypes)
        for i in 0..<x.count { x.values[i] += pos.values[i] + typ.values[i] }
        x = try layerNorm(x.reshaped([b, s, h]), embeddingNorm)
        for block in blocks {
            let q = try linear(x, block.query), k = try linear(x, block.key), v = try linear(x, block.value)
            let context = try Kernel.attention(q: q, k: k, v: v, heads: config.heads, mask: mask, gemm: gemm)
            x = try layerNorm(add(try linear(context, block.attentionOut), x), block.attentionNorm)
            var inner = try linear(x, block.intermediate)
            inner = config.activation == "gelu" ? Kernel.gelu(inner) : Kernel.geluTanh(inner)
            x = try layerNorm(add(try linear(inner, block.output), x), block.outputNorm)
        }
        return x
    }

    /// Mean-pooled sentence embeddings [batch, hidden] (sentence-transformers' pooling over real tokens).
    public func embed(ids: [[Int]], mask: [[Int]]) throws -> EvalArray {
        try Kernel.meanPool(try forward(ids: ids, mask: mask), mask: mask)
    }

    private func linear(_ x: EvalArray, _ d: Dense) throws -> EvalArray {
        guard x.shape.last == d.inputs else { throw EvaluationError("linear: input \(x.shape) does not fit \(d.inputs) inputs") }
        let rows = d.inputs == 0 ? 0 : x.count / d.inputs
        var y = gemm.multiply(x.values, d.transposed, m: rows, n: d.outputs, k: d.inputs, bTransposed: false)
        Kernel.addRowVector(&y, d.b.values)
        return EvalArray(shape: Array(x.shape.dropLast()) + [d.outputs], values: y)
    }
    private func layerNorm(_ x: EvalArray, _ n: Norm) throws -> EvalArray {
        try Kernel.layerNorm(x, gamma: n.gamma, beta: n.beta, eps: config.layerNormEps)
    }
    private func add(_ a: EvalArray, _ b: EvalArray) -> EvalArray {
        var r = a
        for i in 0..<r.count { r.values[i] += b.values[i] }
        return r
    }
}
