import Foundation
import Evaluation

/// One trainable tensor of a network: a Linear/Conv2d weight or bias, under its PyTorch name.
public struct TrainParameter: Sendable, Equatable {
    public let name: String
    public let shape: [Int]
    public var values: [Float]
    public init(name: String, shape: [Int], values: [Float]) {
        precondition(shape.reduce(1, *) == values.count, "\(name): \(values.count) values for shape \(shape)")
        self.name = name; self.shape = shape; self.values = values
    }
}

/// A sequential network (the evaluation module's `LayerSpec`s: MLP / small CNN) whose weights can be trained:
/// the forward pass records every layer's input on a tape and `backward` walks it in reverse with the kernels
/// of `Backward`. Forward values are the evaluation module's kernels, so a trained network evaluates exactly as
/// `SequentialNetwork` would with the same weights.
public struct TrainableNetwork: Sendable {
    public let layers: [LayerSpec]
    public var parameters: [TrainParameter]
    /// Per layer: the index of its weight and bias in `parameters` (nil for layers without them).
    let slots: [(weight: Int?, bias: Int?)]
    public let gemm: any GEMM

    /// The ops training has backward passes for.
    static let trainable: Set<LayerSpec.Op> = [.linear, .conv2d, .relu, .gelu, .tanh, .maxPool2d, .avgPool2d, .flatten]

    /// Reads the weights of every Linear/Conv2d layer from `weights` (biases when present).
    public init(layers: [LayerSpec], weights: WeightTable, gemm: any GEMM = GEMMSelection.preferred) throws {
        var params: [TrainParameter] = []
        var slots: [(weight: Int?, bias: Int?)] = []
        for (index, spec) in layers.enumerated() {
            guard Self.trainable.contains(spec.op) else {
                throw EvaluationError("layer \(index) (\(spec.op.rawValue)): training has no backward pass for this op")
            }
            guard spec.op == .linear || spec.op == .conv2d else { slots.append((nil, nil)); continue }
            guard let name = spec.name else {
                throw EvaluationError("layer \(index) (\(spec.op.rawValue)) needs a \"name\" to read its weights by")
            }
            let w = try weights.array("\(name).weight", shape: spec.op == .linear ? [-1, -1] : [-1, -1, -1, -1])
            params.append(TrainParameter(name: "\(name).weight", shape: w.shape, values: w.values))
            let wi = params.count - 1
            var bi: Int? = nil
            if weights.contains("\(name).bias") {
                let b = try weights.array("\(name).bias", shape: [w.shape[0]])
                params.append(TrainParameter(name: "\(name).bias", shape: b.shape, values: b.values))
                bi = params.count - 1
            }
            slots.append((wi, bi))
        }
        self.layers = layers
        self.parameters = params
        self.slots = slots
        self.gemm = gemm
    }

    /// A multi-layer perceptron `sizes[0]-…-sizes.last` (Linear + ReLU, no ReLU after the last; a flatten
    /// first so image inputs fit), layers named `fc1`, `fc2`, …, initialised as PyTorch's `nn.Linear` does
    /// (weights and biases uniform in ±1/√fan_in) from a seeded generator.
    public static func mlp(sizes: [Int], seed: UInt64, gemm: any GEMM = GEMMSelection.preferred) throws -> TrainableNetwork {
        guard sizes.count >= 2, sizes.allSatisfy({ $0 > 0 && $0 <= 1 << 16 }) else {
            throw EvaluationError("an MLP needs at least an input and an output size, each 1…65536 (got \(sizes))")
        }
        var layers = [LayerSpec(.flatten)]
        var arrays: [String: EvalArray] = [:]
        var rng = SeededShuffle.Generator(seed: seed)
        for i in 1..<sizes.count {
            let name = "fc\(i)"
            layers.append(LayerSpec(.linear, name: name))
            if i < sizes.count - 1 { layers.append(LayerSpec(.relu)) }
            let bound = 1 / Float(sizes[i - 1]).squareRoot()
            let draw = { (n: Int) in (0..<n).map { _ in Float(rng.unit() * 2 - 1) * bound } }
            arrays["\(name).weight"] = EvalArray(shape: [sizes[i], sizes[i - 1]], values: draw(sizes[i] * sizes[i - 1]))
            arrays["\(name).bias"] = EvalArray(shape: [sizes[i]], values: draw(sizes[i]))
        }
        return try TrainableNetwork(layers: layers, weights: WeightTable(arrays: arrays, origin: "new MLP"), gemm: gemm)
    }

    /// The weights as a table the evaluation module (and `eval`) reads.
    public var weightTable: WeightTable {
        WeightTable(arrays: Dictionary(uniqueKeysWithValues: parameters.map { ($0.name, EvalArray(shape: $0.shape, values: $0.values)) }),
                    origin: "trained weights")
    }

    /// Every layer's input, then the output: what `backward` needs.
    public struct Tape: Sendable {
        public var activations: [EvalArray]
        public var output: EvalArray { activations[activations.count - 1] }
    }

    /// The forward pass with `weights` in place of the parameters' own values (the masked / fake-quantized
    /// weights during recovery; nil: the parameters themselves).
    public func forward(_ input: EvalArray, weights: [[Float]]? = nil) throws -> Tape {
        var acts = [input]
        acts.reserveCapacity(layers.count + 1)
        for (i, spec) in layers.enumerated() {
            let x = acts[i]
            let y: EvalArray
            do {
                switch spec.op {
                case .linear:
                    y = try Kernel.linear(x, weight: weight(i, weights), bias: bias(i, weights), gemm: gemm)
                case .conv2d:
                    y = try Kernel.conv2d(x, weight: weight(i, weights), bias: bias(i, weights), stride: spec.stride ?? Pair2(1),
                                          padding: spec.padding ?? Pair2(0), dilation: spec.dilation ?? Pair2(1),
                                          groups: spec.groups ?? 1, gemm: gemm)
                case .relu: y = Kernel.relu(x)
                case .gelu: y = Kernel.gelu(x)
                case .tanh: y = EvalArray(shape: x.shape, values: x.values.map { Foundation.tanh($0) })
                case .maxPool2d, .avgPool2d:
                    guard let k = spec.kernel else { throw EvaluationError("needs a \"kernel\"") }
                    y = spec.op == .maxPool2d
                        ? try Kernel.maxPool2d(x, kernel: k, stride: spec.stride, padding: spec.padding ?? Pair2(0))
                        : try Kernel.avgPool2d(x, kernel: k, stride: spec.stride, padding: spec.padding ?? Pair2(0))
                case .flatten: y = Kernel.flatten(x)
                default: throw EvaluationError("training has no backward pass for this op")
                }
            } catch let e as EvaluationError {
                throw EvaluationError("layer \(i) (\(spec.op.rawValue)\(spec.name.map { " '\($0)'" } ?? "")): \(e.message)")
            }
            acts.append(y)
        }
        return Tape(activations: acts)
    }

    /// Gradients of every parameter (same order and shapes as `parameters`) given the loss gradient with
    /// respect to the output, for the forward pass `tape` recorded with the same `weights`.
    public func backward(_ tape: Tape, outputGradient: EvalArray, weights: [[Float]]? = nil) throws -> [[Float]] {
        var grads = parameters.map { [Float](repeating: 0, count: $0.values.count) }
        var dy = outputGradient
        for i in stride(from: layers.count - 1, through: 0, by: -1) {
            let spec = layers[i], x = tape.activations[i], y = tape.activations[i + 1]
            let needInput = i > 0
            switch spec.op {
            case .linear:
                let g = try Backward.linear(x: x, weight: weight(i, weights), outputGradient: dy, gemm: gemm, inputGradient: needInput)
                grads[slots[i].weight!] = g.weight
                if let b = slots[i].bias { grads[b] = g.bias }
                dy = g.input ?? dy
            case .conv2d:
                let g = try Backward.conv2d(x: x, weight: weight(i, weights), outputGradient: dy, stride: spec.stride ?? Pair2(1),
                                            padding: spec.padding ?? Pair2(0), dilation: spec.dilation ?? Pair2(1),
                                            groups: spec.groups ?? 1, gemm: gemm, inputGradient: needInput)
                grads[slots[i].weight!] = g.weight
                if let b = slots[i].bias { grads[b] = g.bias }
                dy = g.input ?? dy
            case .relu: dy = Backward.relu(x: x, outputGradient: dy)
            case .gelu: dy = Backward.gelu(x: x, outputGradient: dy)
            case .tanh: dy = Backward.tanh(y: y, outputGradient: dy)
            case .maxPool2d:
                dy = try Backward.maxPool2d(x: x, outputGradient: dy, kernel: spec.kernel ?? Pair2(1), stride: spec.stride ?? spec.kernel ?? Pair2(1),
                                            padding: spec.padding ?? Pair2(0))
            case .avgPool2d:
                dy = try Backward.avgPool2d(x: x, outputGradient: dy, kernel: spec.kernel ?? Pair2(1), stride: spec.stride ?? spec.kernel ?? Pair2(1),
                                            padding: spec.padding ?? Pair2(0))
            case .flatten: dy = dy.reshaped(x.shape)
            default: throw EvaluationError("layer \(i) (\(spec.op.rawValue)): training has no backward pass for this op")
            }
        }
        return grads
    }

    private func weight(_ layer: Int, _ weights: [[Float]]?) -> EvalArray {
        let p = slots[layer].weight!
        return EvalArray(shape: parameters[p].shape, values: weights?[p] ?? parameters[p].values)
    }

    private func bias(_ layer: Int, _ weights: [[Float]]?) -> EvalArray? {
        guard let p = slots[layer].bias else { return nil }
        return EvalArray(shape: parameters[p].shape, values: weights?[p] ?? parameters[p].values)
    }
}
