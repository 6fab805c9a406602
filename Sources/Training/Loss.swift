import Foundation

/// A loss over a batch of logits [rows × classes] and the gradient with respect to the logits.
public struct LossValue: Sendable {
    /// Mean over the batch (PyTorch's `reduction="mean"` / KL's `"batchmean"`).
    public var loss: Double
    public var gradient: [Float]
}

/// The settings of knowledge distillation: loss α·T²·KL(softmax(z_t/T) ‖ softmax(z_s/T)) + (1−α)·CE(z_s, y)
/// (Hinton et al. 2015; the T² keeps the soft term's gradient on the scale of the hard one).
public struct Distillation: Sendable, Equatable {
    public var alpha: Double
    public var temperature: Double
    public init(alpha: Double, temperature: Double) {
        self.alpha = alpha
        self.temperature = temperature
    }
}

public enum Loss {
    /// Mean softmax cross-entropy against integer labels; the gradient is (softmax − one-hot)/rows.
    public static func crossEntropy(logits: [Float], classes: Int, labels: ArraySlice<Int>) -> LossValue {
        let rows = labels.count
        var grad = [Float](repeating: 0, count: logits.count)
        var total = 0.0
        for (r, label) in labels.enumerated() {
            let lp = logSoftmax(logits, row: r, width: classes, temperature: 1)
            total -= lp[label]
            for j in 0..<classes {
                grad[r * classes + j] = Float((exp(lp[j]) - (j == label ? 1 : 0)) / Double(rows))
            }
        }
        return LossValue(loss: total / Double(max(1, rows)), gradient: grad)
    }

    /// The distillation loss of `settings` with cached teacher logits; its gradient with respect to the
    /// student's logits is α·T·(softmax(z_s/T) − softmax(z_t/T))/rows + (1−α)·the cross-entropy's.
    public static func distillation(student: [Float], teacher: [Float], classes: Int, labels: ArraySlice<Int>,
                                    settings: Distillation) -> LossValue {
        let rows = labels.count
        let (a, t) = (settings.alpha, settings.temperature)
        let hard = crossEntropy(logits: student, classes: classes, labels: labels)
        var grad = hard.gradient.map { Float(1 - a) * $0 }
        var kl = 0.0
        for r in 0..<rows {
            let ls = logSoftmax(student, row: r, width: classes, temperature: t)
            let lt = logSoftmax(teacher, row: r, width: classes, temperature: t)
            for j in 0..<classes {
                let pt = exp(lt[j])
                kl += pt * (lt[j] - ls[j])
                grad[r * classes + j] += Float(a * t * (exp(ls[j]) - pt) / Double(rows))
            }
        }
        let loss = a * t * t * kl / Double(max(1, rows)) + (1 - a) * hard.loss
        return LossValue(loss: loss, gradient: grad)
    }

    /// log-softmax of row `row` of `z`/T, in Double.
    static func logSoftmax(_ z: [Float], row: Int, width: Int, temperature: Double) -> [Double] {
        let slice = z[(row * width)..<((row + 1) * width)].map { Double($0) / temperature }
        let m = slice.max() ?? 0
        let lse = m + log(slice.reduce(0.0) { $0 + exp($1 - m) })
        return slice.map { $0 - lse }
    }
}
