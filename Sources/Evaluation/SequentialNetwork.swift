import Foundation

/// One step of a sequential (MLP / small CNN) network as written in an architecture description. Weighted
/// steps name their PyTorch module (`"fc1"` reads `fc1.weight` and `fc1.bias`); the bias is optional.
public struct LayerSpec: Codable, Sendable, Equatable {
    public enum Op: String, Codable, Sendable {
        case linear, conv2d, relu, gelu, geluTanh = "gelu_tanh", tanh, layerNorm = "layer_norm", softmax
        case maxPool2d = "max_pool2d", avgPool2d = "avg_pool2d", flatten
    }
    public var op: Op
    public var name: String?
    public var kernel: Pair2?
    public var stride: Pair2?
    public var padding: Pair2?
    public var dilation: Pair2?
    public var groups: Int?
    public var eps: Float?

    public init(_ op: Op, name: String? = nil, kernel: Pair2? = nil, stride: Pair2? = nil, padding: Pair2? = nil,
                dilation: Pair2? = nil, groups: Int? = nil, eps: Float? = nil) {
        self.op = op; self.name = name; self.kernel = kernel; self.stride = stride; self.padding = padding
        self.dilation = dilation; self.groups = groups; self.eps = eps
    }
}

/// An MLP or small CNN: the layers in order, each weight read once when the network is assembled.
public struct SequentialNetwork: Sendable {
    struct Step: Sendable {
        let spec: LayerSpec
        let weight: EvalArray?
        let bias: EvalArray?
    }
    let steps: [Step]
    public let gemm: any GEMM

    public init(layers: [LayerSpec], weights: WeightTable, gemm: any GEMM) throws {
        self.gemm = gemm
        steps = try layers.enumerated().map { index, spec in
            let needsWeight: Bool = [.linear, .conv2d, .layerNorm].contains(spec.op)
            guard needsWeight else { return Step(spec: spec, weight: nil, bias: nil) }
            guard let name = spec.name else {
                throw EvaluationError("layer \(index) (\(spec.op.rawValue)) needs a \"name\" to read its weights by")
            }
            let weight = try weights.array("\(name).weight", shape: spec.op == .linear ? [-1, -1] : nil)
            let bias = weights.contains("\(name).bias") ? try weights.array("\(name).bias", shape: [-1]) : nil
            if spec.op == .conv2d && weight.rank != 4 {
                throw EvaluationError("layer \(index): conv2d weight '\(name).weight' has shape \(weight.shape), not 4-D")
            }
            return Step(spec: spec, weight: weight, bias: bias)
        }
    }

    /// Runs every layer on `input` ([batch, features] for an MLP, [batch, channels, h, w] for a CNN).
    public func forward(_ input: EvalArray) throws -> EvalArray {
        var x = input
        for (index, step) in steps.enumerated() {
            do { x = try apply(step, x) } catch let e as EvaluationError {
                throw EvaluationError("layer \(index) (\(step.spec.op.rawValue)\(step.spec.name.map { " '\($0)'" } ?? "")): \(e.message)")
            }
        }
        return x
    }

    private func apply(_ step: Step, _ x: EvalArray) throws -> EvalArray {
        let s = step.spec
        switch s.op {
        case .linear: return try Kernel.linear(x, weight: step.weight!, bias: step.bias, gemm: gemm)
        case .conv2d:
            return try Kernel.conv2d(x, weight: step.weight!, bias: step.bias, stride: s.stride ?? Pair2(1),
                                     padding: s.padding ?? Pair2(0), dilation: s.dilation ?? Pair2(1),
                                     groups: s.groups ?? 1, gemm: gemm)
        case .relu: return Kernel.relu(x)
        case .gelu: return Kernel.gelu(x)
        case .geluTanh: return Kernel.geluTanh(x)
        case .tanh: return EvalArray(shape: x.shape, values: x.values.map { Foundation.tanh($0) })
        case .softmax: return Kernel.softmax(x)
        case .layerNorm:
            let beta = step.bias ?? EvalArray(zeros: step.weight!.shape)
            return try Kernel.layerNorm(x, gamma: step.weight!, beta: beta, eps: s.eps ?? 1e-5)
        case .maxPool2d, .avgPool2d:
            guard let k = s.kernel else { throw EvaluationError("needs a \"kernel\"") }
            return s.op == .maxPool2d
                ? try Kernel.maxPool2d(x, kernel: k, stride: s.stride, padding: s.padding ?? Pair2(0))
                : try Kernel.avgPool2d(x, kernel: k, stride: s.stride, padding: s.padding ?? Pair2(0))
        case .flatten: return Kernel.flatten(x)
        }
    }
}
