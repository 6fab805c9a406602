import Foundation
import WeightFormats

/// A layer's error estimated from a sample of its rows, shown while the exact evaluation of a large layer
/// with slow settings (ggml's K-quant searches) still runs: settings that act within rows give every row
/// its own error and signal, so a few hundred rows chosen at random tell the whole layer's SQNR to within an
/// interval, in milliseconds.
///
/// Rows are drawn without replacement by a seeded generator (SplitMix64), so the same layer and seed give
/// the same rows and the same numbers. The SQNR is a ratio estimate (Σ error / Σ signal over the sampled
/// rows); its interval is the normal interval of that ratio with the finite-population correction
/// (`z` = 3.5, as Student's t for small samples), widened by a relative 1e-9 so that a sample of every row contains the exact
/// value despite a different summation order.
public struct RowSampleEstimate: Sendable, Equatable {
    /// Rows measured, of `rows`.
    public var rowsSampled: Int
    public var rows: Int
    /// The sampled rows' sums scaled to the whole layer (`maxAbsError` is the sample's, a lower bound).
    public var metrics: ErrorMetrics
    /// The estimated SQNR (dB) and its interval.
    public var sqnrDB: Double { metrics.sqnrDB }
    public var sqnrInterval: ClosedRange<Double>
    /// The estimated MSE's interval.
    public var mseInterval: ClosedRange<Double>

    /// The default seed (any fixed value: the point is that it is fixed).
    public static let seed: UInt64 = 0x5EED_0F_20_26
    /// The interval's half-width in standard errors for a large sample (99.95 % for normal errors: per-row
    /// errors are heavy-tailed, a row with an outlier weight costs many times another, so the normal
    /// interval is widened); small samples get Student's t in its place (Cornish–Fisher: z + (z³ + z)/(4·df)).
    public static let z = 3.5
    /// Elements sampled by default (a K-quant search takes some 10 ms over this many), and the fewest rows.
    public static let sampleElements = 1 << 18
    public static let minimumRows = 32

    /// `count` distinct row indices out of `rows`, ascending, drawn by a partial Fisher–Yates shuffle.
    public static func sampleRows(rows: Int, count: Int, seed: UInt64 = seed) -> [Int] {
        let k = max(0, min(rows, count))
        var state = seed
        func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        var swapped: [Int: Int] = [:]   // a sparse permutation of 0..<rows
        var picked: [Int] = []
        picked.reserveCapacity(k)
        for i in 0..<k {
            let j = i + Int(next() % UInt64(rows - i))
            let vj = swapped[j] ?? j, vi = swapped[i] ?? i
            swapped[j] = vi
            picked.append(vj)
        }
        return picked.sorted()
    }

    /// Whether `settings` on `shape` can be estimated from rows: a matrix (rank 2; a row of a higher-rank
    /// tensor evaluated alone need not match its evaluation in the tensor), every step acting within rows
    /// (as the engine's row pieces), at least two rows, and something quantized.
    public static func applies(_ settings: LayerSettings, shape: [Int]) -> Bool {
        guard settings.quantize != .none, shape.count == 2, shape[0] > 1 else { return false }
        return Engine.rowsPerPiece(settings, shape: shape, pieceElements: Engine.pieceElements) != nil
    }

    /// Estimates `settings` on a layer of `shape` from about `sampleElements` elements' worth of rows;
    /// `row(r, buffer)` fills the buffer with row `r` (a slice of dimension 0); `importance` (one weight per
    /// column) quantizes ggml types as the engine does with an imatrix. Nil when the settings do not act
    /// within rows (`applies`).
    public static func estimate(_ settings: LayerSettings, shape: [Int], originalDType: DType = .float32,
                                sampleElements: Int = sampleElements, seed: UInt64 = seed,
                                importance: [Float]? = nil, cancelled: () -> Bool = { false },
                                row: (Int, UnsafeMutableBufferPointer<Float>) throws -> Void) throws -> RowSampleEstimate? {
        guard applies(settings, shape: shape) else { return nil }
        let rows = shape[0]
        let rowElements = shape.dropFirst().reduce(1, *)
        let n = min(rows, max(minimumRows, sampleElements / max(1, rowElements)))
        let picked = sampleRows(rows: rows, count: n, seed: seed)
        let rowShape = [1] + shape.dropFirst()
        var perRow: [ErrorMetrics] = []
        perRow.reserveCapacity(n)
        var buffer = [Float](repeating: 0, count: rowElements)
        for r in picked {
            if cancelled() { throw CancellationError() }
            try buffer.withUnsafeMutableBufferPointer { try row(r, $0) }
            let e = try buffer.withUnsafeBufferPointer { v in
                try Engine.withOptional(importance) {
                    try LayerEvaluator.evaluate(settings, shape: rowShape, values: v, originalDType: originalDType, importance: $0)
                }
            }
            perRow.append(e.metrics)
        }
        return RowSampleEstimate(perRow: perRow, rows: rows)
    }

    /// The estimate from the metrics of `perRow.count` rows sampled out of `rows`.
    init(perRow: [ErrorMetrics], rows: Int) {
        let n = perRow.count
        self.rows = rows
        rowsSampled = n
        var sum = ErrorMetrics()
        for m in perRow { sum.merge(m) }
        let scale = Double(rows) / Double(max(1, n))
        var total = sum
        total.sumSquares *= scale
        total.sumSquaredError *= scale
        total.sumProducts *= scale
        total.sumSquaresReconstructed *= scale
        total.count = Int((Double(sum.count) * scale).rounded())
        total.zeros = Int((Double(sum.zeros) * scale).rounded())
        metrics = total

        let fpc = max(0, 1 - Double(n) / Double(max(1, rows)))
        let meanSignal = sum.sumSquares / Double(max(1, n))
        let meanError = sum.sumSquaredError / Double(max(1, n))
        let ratio = sum.sumSquares > 0 ? sum.sumSquaredError / sum.sumSquares : 0
        var ratioVar = 0.0, errorVar = 0.0
        if n > 1 {
            for m in perRow {
                let d = m.sumSquaredError - ratio * m.sumSquares
                ratioVar += d * d
                let e = m.sumSquaredError - meanError
                errorVar += e * e
            }
            ratioVar /= Double(n - 1)
            errorVar /= Double(n - 1)
        }
        let df = Double(max(1, n - 1))
        let t = Self.z + (Self.z * Self.z * Self.z + Self.z) / (4 * df)
        let ratioHalf = meanSignal > 0 ? t * (fpc * ratioVar / Double(n)).squareRoot() / meanSignal : 0
        let slack = 1e-9
        let lo = max(0, (ratio - ratioHalf) * (1 - slack)), hi = (ratio + ratioHalf) * (1 + slack)
        func db(_ r: Double) -> Double { r > 0 ? -10 * log10(r) : .infinity }
        if sum.sumSquaredError == 0 && ratioHalf == 0 {
            sqnrInterval = Double.infinity...Double.infinity
        } else {
            sqnrInterval = db(hi)...db(lo)
        }
        let elements = Double(max(1, total.count))
        let errorHalf = t * (fpc * errorVar / Double(n)).squareRoot() * Double(rows)
        let totalError = total.sumSquaredError
        mseInterval = max(0, (totalError - errorHalf) * (1 - slack)) / elements...(totalError + errorHalf) * (1 + slack) / elements
    }
}

extension Engine {
    /// A row-sample estimate of `settings` on `layer` (nil when the settings need the whole tensor).
    public func estimate(layer: Int, settings: LayerSettings, sampleElements: Int = RowSampleEstimate.sampleElements,
                         token: CancellationToken = CancellationToken()) throws -> RowSampleEstimate? {
        let tensor = model.tensors[layer]
        guard RowSampleEstimate.applies(settings, shape: tensor.shape) else { return nil }
        let rowElements = tensor.parameters / max(1, tensor.shape[0])
        return try RowSampleEstimate.estimate(settings, shape: tensor.shape, originalDType: tensor.dtype,
                                              sampleElements: sampleElements, importance: try importanceWeights(tensor),
                                              cancelled: { token.isCancelled }) { r, buffer in
            try tensor.decode((r * rowElements)..<((r + 1) * rowElements), into: buffer)
        }
    }
}
