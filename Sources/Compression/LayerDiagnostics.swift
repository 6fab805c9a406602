import CKernels
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

    /// max |x| over the finite values of each of `rows` equal rows (0 for a row with none), with the AVX2
    /// kernel (`wl_abs_max_finite_avx2`: bit patterns compared 8 at a time, the same maximum) or the portable loop.
    static func rowMaxima(_ values: UnsafeBufferPointer<Float>, rows: Int, avx2: Bool = KernelDispatch.avx2) -> [Double] {
        let rowLength = rows == 0 ? 0 : values.count / rows
        var rowMax = [Double](repeating: 0, count: rows)
        for r in 0..<rows {
            let row = UnsafeBufferPointer(rebasing: values[(r * rowLength)..<((r + 1) * rowLength)])
            if avx2, let base = row.baseAddress {
                rowMax[r] = Double(wl_abs_max_finite_avx2(base, row.count))
                continue
            }
            var m: Float = 0
            for x in row where x.isFinite { m = max(m, abs(x)) }
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

/// Diagnostics of a tensor streamed in row pieces instead of decoded whole: each piece's 16 Ki statistics
/// blocks (merged in order they equal one `Statistics.add` of the whole tensor), its rows' maxima and, for
/// BF16, its bit-pattern counts, from which the outliers follow once the whole layer's mean and standard
/// deviation are known; other dtypes count the outliers in a second streamed pass. The result equals
/// `LayerDiagnostics.measure` of the whole tensor.
extension LayerDiagnostics {
    /// One row piece's share.
    struct Part: Sendable {
        var blocks: [Statistics] = []
        var rowMaxima: [Double] = []
        /// BF16 pattern counts (empty for other dtypes).
        var patterns: [UInt32] = []
    }

    /// The share of `values`, `rows` whole rows whose first element starts a statistics block.
    static func part(_ values: UnsafeBufferPointer<Float>, rows: Int, countingPatterns: Bool) -> Part {
        var part = Part(rowMaxima: rowMaxima(values, rows: rows),
                        patterns: [UInt32](repeating: 0, count: countingPatterns ? 1 << 16 : 0))
        part.patterns.withUnsafeMutableBufferPointer { c in
            var a = 0
            while a < values.count {
                var s = Statistics()
                s.add(UnsafeBufferPointer(rebasing: values[a..<min(values.count, a + Statistics.blockElements)]),
                      avx2: KernelDispatch.avx2, patterns: countingPatterns ? c.baseAddress : nil)
                part.blocks.append(s)
                a += Statistics.blockElements
            }
        }
        return part
    }

    /// The diagnostics from every piece's share, in row order. `countOutliers` counts the outliers of every
    /// piece for the given whole-layer statistics (called only when the parts hold no pattern counts).
    static func combine(_ parts: [Part], shape: [Int], countOutliers: (Statistics) throws -> Int) rethrows -> LayerDiagnostics {
        var merged = Statistics()
        for part in parts { for b in part.blocks { merged.merge(b) } }
        let outliers: Int
        if let first = parts.first, !first.patterns.isEmpty {
            let (mean, limit) = outlierBound(merged)
            var n = 0
            for pattern in 0..<(1 << 16) {
                let x = Float(bitPattern: UInt32(pattern) << 16)
                guard x.isFinite, abs(Double(x) - mean) > limit else { continue }
                for part in parts { n += Int(part.patterns[pattern]) }
            }
            outliers = n
        } else {
            outliers = try countOutliers(merged)
        }
        return LayerDiagnostics(statistics: merged, rowMaxima: parts.flatMap(\.rowMaxima), outliers: outliers, shape: shape)
    }

    /// Rows per streamed piece of about `elements` values that keep every piece but the last a whole number
    /// of statistics blocks; nil when a piece that small cannot (then the tensor is measured whole).
    static func streamingRows(_ shape: [Int], elements: Int = Engine.pieceElements) -> Int? {
        guard shape.count >= 2, shape[0] > 1, let n = Shape.elementCount(shape), n > 0 else { return nil }
        let rowElements = n / shape[0]
        var unit = 1
        while (unit * rowElements) % Statistics.blockElements != 0 { unit *= 2 }
        guard unit * rowElements <= 4 * elements, unit < shape[0] else { return nil }
        return max(unit, (elements / rowElements) / unit * unit)
    }

    /// `measure` of the whole of `tensor`, streamed in row pieces across the cores when `streamingRows`
    /// allows (equal result, a few megabytes instead of the whole decoded tensor).
    public static func measure(_ tensor: Tensor) throws -> LayerDiagnostics {
        guard let rowsPerPiece = streamingRows(tensor.shape) else {
            let values = try [Float](unsafeUninitializedCapacity: tensor.parameters) { buffer, count in
                try tensor.decode(0..<tensor.parameters, into: buffer)
                count = tensor.parameters
            }
            return values.withUnsafeBufferPointer { measure($0, shape: tensor.shape) }
        }
        let rows = tensor.shape[0], rowElements = tensor.parameters / rows
        let pieces = (rows + rowsPerPiece - 1) / rowsPerPiece
        let patterns = BFloat16Analysis.applies(to: tensor)
        @Sendable func each<R>(_ body: @Sendable (_ rows: Int, _ values: UnsafeBufferPointer<Float>) -> R) throws -> [R] {
            let slots = ResultSlots<R>(count: pieces)
            DispatchQueue.concurrentPerform(iterations: pieces) { p in
                let r0 = p * rowsPerPiece, r1 = min(rows, r0 + rowsPerPiece)
                let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: (r1 - r0) * rowElements)
                defer { buffer.deallocate() }
                do {
                    try tensor.decode((r0 * rowElements)..<(r1 * rowElements), into: buffer)
                    slots.set(p, body(r1 - r0, UnsafeBufferPointer(buffer)))
                } catch {
                    slots.fail(error)
                }
            }
            if let error = slots.error { throw error }
            return slots.values.map { $0! }
        }
        let parts = try each { rows, v in part(v, rows: rows, countingPatterns: patterns) }
        return try combine(parts, shape: tensor.shape) { statistics in
            try each { _, v in outliers(v, beyond: statistics) }.reduce(0, +)
        }
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
    /// Every floating tensor's diagnostics (nil for integer, bool and empty tensors): those the evaluation
    /// gathered in its own pass (`diagnose`), the rest by decoding the tensors again, several at once, each
    /// streamed in row pieces where its shape allows (`LayerDiagnostics.measure`).
    public func diagnostics() throws -> [LayerDiagnostics?] {
        let tensors = model.tensors
        let gathered = firstPassDiagnostics ?? []
        let slots = ResultSlots<LayerDiagnostics>(count: tensors.count)
        DispatchQueue.concurrentPerform(iterations: tensors.count) { i in
            let t = tensors[i]
            guard t.isFloating else { return }
            if i < gathered.count, let d = gathered[i] { slots.set(i, d); return }
            do {
                slots.set(i, try LayerDiagnostics.measure(t))
            } catch {
                slots.fail(error)
            }
        }
        if let error = slots.error { throw error }
        return slots.values
    }
}
