/// Adam (Kingma & Ba 2015) with PyTorch's defaults and bias correction: m ← β1·m + (1−β1)·g,
/// v ← β2·v + (1−β2)·g², w ← w − lr·m̂/(√v̂ + ε), where m̂ = m/(1−β1ᵗ), v̂ = v/(1−β2ᵗ).
public struct Adam: Sendable {
    public var learningRate: Float
    public var beta1: Float = 0.9
    public var beta2: Float = 0.999
    public var epsilon: Float = 1e-8
    public private(set) var step = 0
    var m: [[Float]]
    var v: [[Float]]

    public init(sizes: [Int], learningRate: Float = 1e-3) {
        self.learningRate = learningRate
        m = sizes.map { [Float](repeating: 0, count: $0) }
        v = m
    }

    /// One step over every parameter: `parameters[i]` moves along `gradients[i]`.
    public mutating func update(_ parameters: inout [TrainParameter], gradients: [[Float]]) {
        step += 1
        let c1 = 1 - Float(Double(beta1).power(step)), c2 = 1 - Float(Double(beta2).power(step))
        let (b1, b2, lr, eps) = (beta1, beta2, learningRate, epsilon)
        for p in parameters.indices {
            gradients[p].withUnsafeBufferPointer { g in
                m[p].withUnsafeMutableBufferPointer { m in
                    v[p].withUnsafeMutableBufferPointer { v in
                        parameters[p].values.withUnsafeMutableBufferPointer { w in
                            for i in 0..<w.count {
                                m[i] = b1 * m[i] + (1 - b1) * g[i]
                                v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i]
                                w[i] -= lr * (m[i] / c1) / ((v[i] / c2).squareRoot() + eps)
                            }
                        }
                    }
                }
            }
        }
    }
}

extension Double {
    /// `self` to an integer power (Foundation's `pow` in one place, so the optimiser's bias correction reads plainly).
    func power(_ n: Int) -> Double {
        var r = 1.0
        for _ in 0..<n { r *= self }
        return r
    }
}
