/// The error of a reconstruction weighted by an importance matrix, the quantity ggml's imatrix quantizers
/// minimise: column c of every row counts with weight w_c (the mean squared activation of input c), so
/// errors on columns the model's inputs never excite cost nothing. Shown beside MSE and SQNR.
///
/// `mse` = Σ w_c·(x − x̂)² / n and `sqnrDB` = 10·log10(Σ w_c·x² / Σ w_c·(x − x̂)²) (∞ when exact), in Double.
public struct ImportanceWeightedError: Sendable, Hashable {
    public var mse: Double
    public var sqnrDB: Double

    public init(mse: Double, sqnrDB: Double) {
        self.mse = mse
        self.sqnrDB = sqnrDB
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
        mse = original.isEmpty ? 0 : error / Double(original.count)
        sqnrDB = error == 0 ? .infinity : 10 * log10(signal / error)
    }
}

import Foundation
