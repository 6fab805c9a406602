import Foundation
import Compression
import Evaluation

/// How long and how fast to train.
public struct TrainingOptions: Sendable, Equatable {
    public var epochs: Int
    public var batchSize: Int
    public var learningRate: Float
    public var seed: UInt64
    public init(epochs: Int = 1, batchSize: Int = 64, learningRate: Float = 1e-3, seed: UInt64 = 0) {
        self.epochs = epochs; self.batchSize = batchSize; self.learningRate = learningRate; self.seed = seed
    }
}

/// Where a training run is, for progress lines and the workbench.
public struct TrainingProgress: Sendable, Equatable {
    public var epoch: Int
    public var epochs: Int
    public var batch: Int
    public var batches: Int
    public var meanLoss: Double
    public var fraction: Double { Double(epoch * batches + batch) / Double(max(1, epochs * batches)) }
}

/// Mini-batch training with Adam: seeded shuffling each epoch, the constraints (masks, fake quantization)
/// applied to the forward weights and to the gradients, masks re-applied after every step, and either plain
/// cross-entropy or distillation from cached teacher logits.
public struct Trainer: Sendable {
    public var network: TrainableNetwork
    /// Per parameter index: its mask / QAT setting (absent: trained freely).
    public var constraints: [Int: WeightConstraint]
    public var optimizer: Adam
    public let options: TrainingOptions

    public init(network: TrainableNetwork, constraints: [Int: WeightConstraint] = [:], options: TrainingOptions) {
        self.network = network
        self.constraints = constraints
        self.options = options
        optimizer = Adam(sizes: network.parameters.map(\.values.count), learningRate: options.learningRate)
        for (i, c) in constraints { c.applyMask(&self.network.parameters[i].values) }
    }

    /// The weights the forward pass uses now (each parameter through its constraint).
    public func effectiveWeights() throws -> [[Float]] {
        try network.parameters.indices.map { i in
            try constraints[i].map { try $0.effective(network.parameters[i].values) } ?? network.parameters[i].values
        }
    }

    /// Logits of every sample under the effective weights, in batches.
    public func logits(_ data: TrainingSet, batchSize: Int = 256) throws -> [Float] {
        let w = try effectiveWeights()
        var out: [Float] = []
        for b in SeededShuffle.batches(Array(0..<data.count), size: batchSize) {
            out += try network.forward(data.batch(b).x, weights: w).output.values
        }
        return out
    }

    /// Top-1 accuracy on `data` under the effective weights.
    public func accuracy(_ data: TrainingSet) throws -> Double {
        Self.accuracy(logits: try logits(data), labels: data.labels)
    }

    public static func accuracy(logits: [Float], labels: [Int]) -> Double {
        guard !labels.isEmpty, logits.count % labels.count == 0 else { return .nan }
        let width = logits.count / labels.count
        var right = 0
        for (r, y) in labels.enumerated() {
            var best = 0
            for j in 1..<width where logits[r * width + j] > logits[r * width + best] { best = j }
            if best == y { right += 1 }
        }
        return Double(right) / Double(labels.count)
    }

    /// Runs `options.epochs` epochs over `data`. `teacher`: the teacher's logits for every sample of `data`
    /// (cached once), used with `distillation`. `progress` is called after every batch and returns false to
    /// stop (cancel); the return value is the last epoch's mean loss.
    @discardableResult
    public mutating func train(_ data: TrainingSet, teacher: [Float]? = nil, distillation: Distillation? = nil,
                               progress: (TrainingProgress) -> Bool = { _ in true }) throws -> Double {
        guard data.count > 0 else { throw EvaluationError("no training samples") }
        var mean = 0.0
        for epoch in 0..<options.epochs {
            let batches = SeededShuffle.batches(SeededShuffle.order(count: data.count, seed: options.seed, epoch: epoch),
                                                size: options.batchSize)
            var total = 0.0
            for (k, indices) in batches.enumerated() {
                total += try step(data, indices, teacher: teacher, distillation: distillation)
                mean = total / Double(k + 1)
                if !progress(TrainingProgress(epoch: epoch, epochs: options.epochs, batch: k + 1, batches: batches.count, meanLoss: mean)) {
                    throw CancellationError()
                }
            }
        }
        return mean
    }

    /// One optimiser step on one mini-batch; returns its loss.
    mutating func step(_ data: TrainingSet, _ indices: ArraySlice<Int>, teacher: [Float]?, distillation: Distillation?) throws -> Double {
        let (x, labels) = data.batch(indices)
        let w = try effectiveWeights()
        let tape = try network.forward(x, weights: w)
        let out = tape.output
        guard out.rank == 2 else { throw EvaluationError("the network's output \(out.shape) is not [batch, classes]") }
        let classes = out.shape[1]
        if let bad = labels.first(where: { $0 >= classes }) {
            throw EvaluationError("label \(bad) is outside the network's \(classes) classes")
        }
        let loss: LossValue
        if let teacher, let distillation {
            var t: [Float] = []
            t.reserveCapacity(out.count)
            for i in indices { t += teacher[(i * classes)..<((i + 1) * classes)] }
            loss = Loss.distillation(student: out.values, teacher: t, classes: classes, labels: labels, settings: distillation)
        } else {
            loss = Loss.crossEntropy(logits: out.values, classes: classes, labels: labels)
        }
        var grads = try network.backward(tape, outputGradient: EvalArray(shape: out.shape, values: loss.gradient), weights: w)
        for (i, c) in constraints { c.gradient(&grads[i]) }
        optimizer.update(&network.parameters, gradients: grads)
        for (i, c) in constraints { c.applyMask(&network.parameters[i].values) }
        return loss.loss
    }
}
