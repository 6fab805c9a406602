import Foundation
import Testing
import TestSupport
import Evaluation
@testable import Training

/// The torch references of Tests/Fixtures/make_training_kernels.py.
struct TorchReference: Decodable {
    struct Array: Decodable {
        let shape: [Int]
        let values: [Float]
        var eval: EvalArray { EvalArray(shape: shape, values: values) }
    }
    struct Case: Decodable {
        let name: String
        let inputs: [Array]
        let dy: Array
        let y: Array
        let grads: [Array]
        let stride: [Int]?
        let padding: [Int]?
        let dilation: [Int]?
        let groups: Int?
        let kernel: [Int]?
        func pair(_ v: [Int]?) -> Pair2 { v.map { Pair2($0[0], $0[1]) } ?? Pair2(1) }
    }
    struct Losses: Decodable {
        let logits: Array
        let labels: [Int]
        let teacher: Array
        let cross_entropy: Double
        let cross_entropy_grad: Array
        let alpha: Double
        let temperature: Double
        let distillation: Double
        let distillation_grad: Array
    }
    struct AdamCase: Decodable {
        let initial: Array
        let gradients: [Array]
        let lr: Float
        let after: Array
    }
    let kernels: [Case]
    let losses: Losses
    let adam: AdamCase

    static func load() throws -> TorchReference {
        try JSONDecoder().decode(TorchReference.self, from: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("training/kernels.json"))))
    }
}

func maxError(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count, "\(a.count) vs \(b.count) values")
    return zip(a, b).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
}

/// The forward and backward of one reference case through the training module's kernels: (y, gradients).
func run(_ c: TorchReference.Case, inputs: [EvalArray], dy: EvalArray) throws -> (EvalArray, [[Float]]) {
    let gemm = PortableGEMM(threads: 1)
    switch c.name {
    case "linear":
        let y = try Kernel.linear(inputs[0], weight: inputs[1], bias: inputs[2], gemm: gemm)
        let g = try Backward.linear(x: inputs[0], weight: inputs[1], outputGradient: dy, gemm: gemm)
        return (y, [g.input!.values, g.weight, g.bias])
    case "conv2d", "conv2d_groups":
        let y = try Kernel.conv2d(inputs[0], weight: inputs[1], bias: inputs[2], stride: c.pair(c.stride), padding: c.pair(c.padding),
                                  dilation: c.pair(c.dilation), groups: c.groups ?? 1, gemm: gemm)
        let g = try Backward.conv2d(x: inputs[0], weight: inputs[1], outputGradient: dy, stride: c.pair(c.stride), padding: c.pair(c.padding),
                                    dilation: c.pair(c.dilation), groups: c.groups ?? 1, gemm: gemm)
        return (y, [g.input!.values, g.weight, g.bias])
    case "relu": return (Kernel.relu(inputs[0]), [Backward.relu(x: inputs[0], outputGradient: dy).values])
    case "gelu": return (Kernel.gelu(inputs[0]), [Backward.gelu(x: inputs[0], outputGradient: dy).values])
    case "tanh":
        let y = EvalArray(shape: inputs[0].shape, values: inputs[0].values.map { Foundation.tanh($0) })
        return (y, [Backward.tanh(y: y, outputGradient: dy).values])
    case "max_pool2d":
        let y = try Kernel.maxPool2d(inputs[0], kernel: c.pair(c.kernel), stride: c.pair(c.stride), padding: c.pair(c.padding))
        return (y, [try Backward.maxPool2d(x: inputs[0], outputGradient: dy, kernel: c.pair(c.kernel), stride: c.pair(c.stride), padding: c.pair(c.padding)).values])
    case "avg_pool2d":
        let y = try Kernel.avgPool2d(inputs[0], kernel: c.pair(c.kernel), stride: c.pair(c.stride), padding: c.pair(c.padding))
        return (y, [try Backward.avgPool2d(x: inputs[0], outputGradient: dy, kernel: c.pair(c.kernel), stride: c.pair(c.stride), padding: c.pair(c.padding)).values])
    default:
        Issue.record("unknown case \(c.name)")
        return (dy, [])
    }
}

@Suite struct BackwardKernelTests {
    /// Every backward kernel equals torch autograd's gradients on the committed tiny shapes.
    @Test func gradientsEqualTorch() throws {
        let ref = try TorchReference.load()
        #expect(ref.kernels.count == 8)
        for c in ref.kernels {
            let (y, grads) = try run(c, inputs: c.inputs.map(\.eval), dy: c.dy.eval)
            #expect(y.shape == c.y.shape, "\(c.name) output shape")
            #expect(maxError(y.values, c.y.values) < 1e-5, "\(c.name) forward")
            #expect(grads.count == c.grads.count, "\(c.name) gradient count")
            for (i, (g, t)) in zip(grads, c.grads).enumerated() {
                #expect(maxError(g, t.values) < 2e-5, "\(c.name) gradient \(i): \(maxError(g, t.values))")
            }
        }
    }

    /// Central finite differences of L = Σ dy ⊙ f(inputs) in Double-accumulated Float, against the analytic
    /// gradients, for every kernel and every input (points where a nudge crosses ReLU's kink or changes a pooling maximum are skipped).
    @Test func gradientsMatchFiniteDifferences() throws {
        let ref = try TorchReference.load()
        for c in ref.kernels {
            let inputs = c.inputs.map(\.eval)
            let dy = c.dy.eval
            let (_, grads) = try run(c, inputs: inputs, dy: dy)
            func loss(_ xs: [EvalArray]) throws -> Double {
                let (y, _) = try run(c, inputs: xs, dy: dy)
                return zip(y.values, dy.values).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            }
            let h: Float = 1e-2
            var checked = 0
            for (k, x) in inputs.enumerated() {
                for i in stride(from: 0, to: x.count, by: max(1, x.count / 12)) {
                    var plus = inputs, minus = inputs
                    plus[k].values[i] += h
                    minus[k].values[i] -= h
                    if c.name == "relu" || c.name == "max_pool2d" {
                        // A nudge across a kink (ReLU at 0, a change of the window's maximum) has no derivative:
                        // the analytic gradient differs on the two sides, so the point is skipped.
                        let (_, gp) = try run(c, inputs: plus, dy: dy), (_, gm) = try run(c, inputs: minus, dy: dy)
                        if gp[k] != gm[k] { continue }
                    }
                    let numeric = (try loss(plus) - loss(minus)) / Double(2 * h)
                    let analytic = Double(grads[k][i])
                    #expect(abs(numeric - analytic) <= 2e-2 * max(1, abs(analytic)), "\(c.name) input \(k)[\(i)]: numeric \(numeric), analytic \(analytic)")
                    checked += 1
                }
            }
            #expect(checked > 0, "\(c.name): nothing checked")
        }
    }

    @Test func lossesEqualTorch() throws {
        let l = try TorchReference.load().losses
        let ce = Loss.crossEntropy(logits: l.logits.values, classes: 5, labels: ArraySlice(l.labels))
        #expect(abs(ce.loss - l.cross_entropy) < 1e-5)
        #expect(maxError(ce.gradient, l.cross_entropy_grad.values) < 1e-6)
        let kd = Loss.distillation(student: l.logits.values, teacher: l.teacher.values, classes: 5, labels: ArraySlice(l.labels),
                                   settings: Distillation(alpha: l.alpha, temperature: l.temperature))
        #expect(abs(kd.loss - l.distillation) < 1e-5)
        #expect(maxError(kd.gradient, l.distillation_grad.values) < 1e-6)
    }

    /// The losses' gradients by finite differences in Double (the losses accumulate in Double).
    @Test func lossGradientsMatchFiniteDifferences() throws {
        let l = try TorchReference.load().losses
        let settings = Distillation(alpha: l.alpha, temperature: l.temperature)
        let analytic = Loss.distillation(student: l.logits.values, teacher: l.teacher.values, classes: 5, labels: ArraySlice(l.labels), settings: settings)
        for i in 0..<l.logits.values.count {
            var p = l.logits.values, m = p
            p[i] += 1e-2; m[i] -= 1e-2
            let numeric = (Loss.distillation(student: p, teacher: l.teacher.values, classes: 5, labels: ArraySlice(l.labels), settings: settings).loss
                - Loss.distillation(student: m, teacher: l.teacher.values, classes: 5, labels: ArraySlice(l.labels), settings: settings).loss) / 2e-2
            #expect(abs(numeric - Double(analytic.gradient[i])) < 1e-3, "logit \(i)")
        }
    }

    @Test func adamEqualsTorch() throws {
        let a = try TorchReference.load().adam
        var params = [TrainParameter(name: "w", shape: a.initial.shape, values: a.initial.values)]
        var adam = Adam(sizes: [a.initial.values.count], learningRate: a.lr)
        for g in a.gradients { adam.update(&params, gradients: [g.values]) }
        #expect(maxError(params[0].values, a.after.values) < 1e-6)
    }

    @Test func shuffleIsSeededAndAPermutation() {
        let a = SeededShuffle.order(count: 100, seed: 3, epoch: 0)
        #expect(a == SeededShuffle.order(count: 100, seed: 3, epoch: 0))
        #expect(a != SeededShuffle.order(count: 100, seed: 3, epoch: 1))
        #expect(a.sorted() == Array(0..<100))
        let b = SeededShuffle.batches(a, size: 32)
        #expect(b.map(\.count) == [32, 32, 32, 4])
    }

    /// A network's backward equals the chained kernels: gradient check of a whole small CNN's parameters.
    @Test func networkGradientsMatchFiniteDifferences() throws {
        let layers = [LayerSpec(.conv2d, name: "c", stride: Pair2(1), padding: Pair2(1)), LayerSpec(.relu),
                      LayerSpec(.maxPool2d, kernel: Pair2(2)), LayerSpec(.flatten), LayerSpec(.linear, name: "fc")]
        var rng = SeededShuffle.Generator(seed: 1)
        func random(_ shape: [Int]) -> EvalArray { EvalArray(shape: shape, values: (0..<shape.reduce(1, *)).map { _ in Float(rng.unit() * 2 - 1) }) }
        let table = WeightTable(arrays: ["c.weight": random([2, 1, 3, 3]), "c.bias": random([2]), "fc.weight": random([3, 8]), "fc.bias": random([3])])
        let net = try TrainableNetwork(layers: layers, weights: table, gemm: PortableGEMM(threads: 1))
        let x = random([2, 1, 4, 4])
        let labels = ArraySlice([0, 2])
        func loss(_ n: TrainableNetwork) throws -> Double {
            Loss.crossEntropy(logits: try n.forward(x).output.values, classes: 3, labels: labels).loss
        }
        let tape = try net.forward(x)
        let l = Loss.crossEntropy(logits: tape.output.values, classes: 3, labels: labels)
        let grads = try net.backward(tape, outputGradient: EvalArray(shape: tape.output.shape, values: l.gradient))
        for p in net.parameters.indices {
            for i in stride(from: 0, to: net.parameters[p].values.count, by: 3) {
                var a = net, b = net
                a.parameters[p].values[i] += 1e-2
                b.parameters[p].values[i] -= 1e-2
                let numeric = (try loss(a) - loss(b)) / 2e-2
                #expect(abs(numeric - Double(grads[p][i])) < 2e-3, "\(net.parameters[p].name)[\(i)]")
            }
        }
    }
}
