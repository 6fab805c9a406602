import Foundation

/// The error of a reconstruction weighted by an importance matrix, the quantity ggml's imatrix quantizers
/// minimise: column c of every row counts with weight w_c (the mean squared activation of input c), so
/// errors on columns the model's inputs never excite cost nothing. Shown beside MSE and SQNR.
///
/// `mse` = Σ w_c·(x − x̂)² / n and `sqnrDB` = 10·log10(Σ w_c·x² / Σ w_c·(x − x̂)²) (∞ when exact), summed in
/// Double; pieces of a tensor (and tensors of a model) combine by adding the sums.
public struct ImportanceWeightedError: Sendable, Hashable {
    public var weightedError: Double
    public var weightedSignal: Double
    public var count: Int

    public init(weightedError: Double = 0, weightedSignal: Double = 0, count: Int = 0) {
        self.weightedError = weightedError
        self.weightedSignal = weightedSignal
        self.count = count
    }

    /// Measures `reconstructed` against `original` (rows of `weights.count` values).
    public init(original: UnsafeBufferPointer<Float>, reconstructed: UnsafeBufferPointer<Float>, weights: UnsafeBufferPointer<Float>) {
        precondition(original.count == reconstructed.count && !weights.isEmpty && original.count % weights.count == 0)
        let columns = weights.count
        var error = 0.0, signal = 0.0
        for i in 0..<original.count {
            let w = Double(weights[i % columns])
            let x = Double(original[i]), d = x - Double(reconstructed[i])
            error += w * d * d
            signal += w * x * x
        }
        self.init(weightedError: error, weightedSignal: signal, count: original.count)
    }

    public var mse: Double { count == 0 ? 0 : weightedError / Double(count) }
    public var sqnrDB: Double { weightedError == 0 ? .infinity : 10 * log10(weightedSignal / weightedError) }

    public mutating func merge(_ other: ImportanceWeightedError) {
        weightedError += other.weightedError
        weightedSignal += other.weightedSignal
        count += other.count
    }
}
