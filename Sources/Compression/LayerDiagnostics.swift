import Dispatch
import WeightFormats

/// What makes a layer hard to quantize, measured on its weights (independent of any plan): heavy tails
/// (kurtosis), channels whose ranges differ widely (one scale per tensor then wastes levels on most rows),
/// and isolated outliers (one value stretches a whole group's range).
public struct LayerDiagnostics: Equatable, Sendable {
    /// Excess kurtosis of the finite values (0 for a normal distribution; `Statistics.kurtosis`).
    public var kurtosis: Double
    /// Largest over median of the rows' absolute maxima (rows of dimension 0, the output channels); nil
    /// for tensors of rank < 2 or a zero median.
    public var channelSpread: Double?
    /// Finite values farther than 6 standard deviations from the mean.
    public var outliers: Int
    /// Finite values measured.
    public var count: Int

    public init(kurtosis: Double, channelSpread: Double?, outliers: Int, count: Int) {
        self.kurtosis = kurtosis
        self.channelSpread = channelSpread
        self.outliers = outliers
        self.count = count
    }

    /// Outliers over the values measured.
    public var outlierFraction: Double { count == 0 ? 0 : Double(outliers) / Double(count) }

    /// How far beyond the mean, in standard deviations, a value counts as an outlier.
    public static let outlierSigmas = 6.0

    /// Two passes over `values` (row-major, `shape`): moments, then row maxima and outliers.
    public static func measure(_ values: UnsafeBufferPointer<Float>, shape: [Int]) -> LayerDiagnostics {
        var statistics = Statistics()
        statistics.add(values)
        let rows = shape.count >= 2 ? max(1, shape[0]) : 1
        let rowMax = rowMaxima(values, rows: rows)
        let outliers = outliers(values, beyond: statistics)
        return LayerDiagnostics(statistics: statistics, rowMaxima: rowMax, outliers: outliers, shape: shape)
    }

    /// max |x| over the finite values of each of `rows` equal rows (0 for a row with none).
    static func rowMaxima(_ values: UnsafeBufferPointer<Float>, rows: Int) -> [Double] {
        let rowLength = rows == 0 ? 0 : values.count / rows
        var rowMax = [Double](repeating: 0, count: rows)
        for r in 0..<rows {
            var m: Float = 0
            for i in (r * rowLength)..<((r + 1) * rowLength) {
                let x = values[i]
                guard x.isFinite else { continue }
                m = max(m, abs(x))
            }
            rowMax[r] = Double(m)
        }
        return rowMax
    }

    /// The `outlierSigmas` bound around the mean of `statistics`: (mean, limit).
    static func outlierBound(_ statistics: Statistics) -> (mean: Double, limit: Double) {
        (statistics.mean, outlierSigmas * statistics.std)
    }

    /// Finite values of `values` farther than `outlierSigmas` standard deviations from the mean of `statistics`.
    static func outliers(_ values: UnsafeBufferPointer<Float>, beyond statistics: Statistics) -> Int {
        let (mean, limit) = outlierBound(statistics)
        var outliers = 0
        for x in values where x.isFinite && abs(Double(x) - mean) > limit { outliers += 1 }
        return outliers
    }

    /// The diagnostics from the layer's statistics (over all its values), its rows' maxima and its outliers.
    init(statistics: Statistics, rowMaxima rowMax: [Double], outliers: Int, shape: [Int]) {
        let rows = rowMax.count
        var spread: Double? = nil
        if shape.count >= 2 && rows > 0 {
            let sorted = rowMax.sorted()
            // numpy's median: the mean of the two middle values for an even count.
            let median = rows % 2 == 1 ? sorted[rows / 2] : (sorted[rows / 2 - 1] + sorted[rows / 2]) / 2
            if median > 0 { spread = sorted[rows - 1] / median }
        }
        self.init(kurtosis: statistics.kurtosis, channelSpread: spread, outliers: outliers, count: statistics.count)
    }
}

extension LayerNumbers {
    /// This layer's share of the model's squared error (nil when either is unknown or the model is exact).
    public func errorShare(of totals: ModelTotals) -> Double? {
        guard let m = metrics, totals.metrics.sumSquaredError > 0 else { return nil }
        return m.sumSquaredError / totals.metrics.sumSquaredError
    }

    /// Squared error added per bit saved against the tensor as stored (`originalBytes`): how much accuracy
    /// each bit of this layer's compression costs. Nil when nothing is saved or the error is unknown.
    public func sensitivity(originalBytes: Int) -> Double? {
        guard let m = metrics, let bytes, originalBytes > bytes else { return nil }
        return m.sumSquaredError / Double(8 * (originalBytes - bytes))
    }
}

extension PlanEvaluation {
    /// Every floating tensor's diagnostics (nil for integer, bool and empty tensors), decoding the tensors
    /// again, several at once.
    public func diagnostics() throws -> [LayerDiagnostics?] {
        let tensors = model.tensors
        let slots = ResultSlots<LayerDiagnostics>(count: tensors.count)
        DispatchQueue.concurrentPerform(iterations: tensors.count) { i in
            let t = tensors[i]
            guard t.isFloating else { return }
            do {
                let values = try [Float](unsafeUninitializedCapacity: t.parameters) { buffer, count in
                    try t.decode(0..<t.parameters, into: buffer)
                    count = t.parameters
                }
                slots.set(i, values.withUnsafeBufferPointer { LayerDiagnostics.measure($0, shape: t.shape) })
            } catch {
                slots.fail(error)
            }
        }
        if let error = slots.error { throw error }
        return slots.values
    }
}
