/// A fine cumulative histogram of |w| holding, per bin, the count and Σw² of the values in it, so sparsity
/// and pruning error at any threshold are answered without another pass over the weights.
///
/// Bins are log-linear: a value's bin is the top bits of its IEEE pattern (exponent and the leading
/// `mantissaBits` of the mantissa), so every bin is 1/64 of an octave wide (1.6 % relative), the same
/// resolution near 0.001 as near 10, with no range to know in advance. Thresholds on a bin edge are exact;
/// inside a bin the answer is interpolated (and marked inexact) until the engine refines it with a pass.
public struct MagnitudeHistogram: Sendable, Equatable {
    public static let mantissaBits: UInt32 = 6
    static let shift: UInt32 = 23 - mantissaBits
    static let keyCount = Int(UInt32(0x7F80_0000) >> shift)   // every finite |w|; NaN/Inf excluded

    /// Key of the first stored bin.
    public private(set) var firstKey: Int = 0
    public private(set) var counts: [Int] = []
    public private(set) var sumSquares: [Double] = []
    /// Running totals including bin i: cumulative count and Σw² below bin i's upper edge.
    private var cumulativeCounts: [Int] = []
    private var cumulativeSquares: [Double] = []

    public init() {}

    public var total: Int { cumulativeCounts.last ?? 0 }
    public var totalSquares: Double { cumulativeSquares.last ?? 0 }

    /// The lower edge of bin `key`: the smallest |w| that falls in it.
    public static func lowerEdge(key: Int) -> Float { Float(bitPattern: UInt32(key) << shift) }
    static func key(_ w: Float) -> Int { Int((w.bitPattern & 0x7FFF_FFFF) >> shift) }

    /// Builds the histogram of one chunk (NaN and ±Inf are skipped).
    public init(_ values: UnsafeBufferPointer<Float>) {
        var counts = [Int](repeating: 0, count: Self.keyCount)
        var squares = [Double](repeating: 0, count: Self.keyCount)
        var lo = Self.keyCount, hi = -1
        counts.withUnsafeMutableBufferPointer { c in
            squares.withUnsafeMutableBufferPointer { s in
                for w in values where w.isFinite {
                    let k = Self.key(w)
                    c[k] &+= 1
                    s[k] += Double(w) * Double(w)
                    if k < lo { lo = k }
                    if k > hi { hi = k }
                }
            }
        }
        guard hi >= lo else { return }
        firstKey = lo
        self.counts = Array(counts[lo...hi])
        self.sumSquares = Array(squares[lo...hi])
        accumulate()
    }

    /// A histogram from its bins (`counts` and `sumSquares` of keys `firstKey…`; the caller trims empty ends).
    init(firstKey: Int, counts: [Int], sumSquares: [Double]) {
        guard !counts.isEmpty else { return }
        self.firstKey = firstKey
        self.counts = counts
        self.sumSquares = sumSquares
        accumulate()
    }

    /// Combines histograms of disjoint chunks.
    public mutating func merge(_ o: MagnitudeHistogram) {
        guard !o.counts.isEmpty else { return }
        guard !counts.isEmpty else { self = o; return }
        let lo = min(firstKey, o.firstKey)
        let hi = max(firstKey + counts.count, o.firstKey + o.counts.count)
        var c = [Int](repeating: 0, count: hi - lo), s = [Double](repeating: 0, count: hi - lo)
        for (i, v) in counts.enumerated() { c[firstKey - lo + i] += v; s[firstKey - lo + i] += sumSquares[i] }
        for (i, v) in o.counts.enumerated() { c[o.firstKey - lo + i] += v; s[o.firstKey - lo + i] += o.sumSquares[i] }
        firstKey = lo
        counts = c
        sumSquares = s
        accumulate()
    }

    private mutating func accumulate() {
        var n = 0, q = 0.0
        cumulativeCounts = counts.map { n += $0; return n }
        cumulativeSquares = sumSquares.map { q += $0; return q }
    }

    /// What pruning `|w| < t` removes: how many values and their Σw² (the pruning error's Σ(w−ŵ)²).
    public struct Cut: Sendable, Equatable {
        public var pruned: Int
        public var prunedSquares: Double
        /// The threshold that realises the cut (for a sparsity query: the smallest kept magnitude's bin edge).
        public var threshold: Double
        /// False when the cut falls inside a bin and was interpolated.
        public var exact: Bool
    }

    /// Values with `|w| < t`, answered in O(log bins).
    public func cut(threshold t: Double) -> Cut {
        guard !counts.isEmpty, t > 0 else { return Cut(pruned: 0, prunedSquares: 0, threshold: max(t, 0), exact: true) }
        let tf = Float(t)
        guard tf.isFinite else { return Cut(pruned: total, prunedSquares: totalSquares, threshold: t, exact: true) }
        let k = Self.key(tf) - firstKey
        if k < 0 { return Cut(pruned: 0, prunedSquares: 0, threshold: t, exact: true) }
        if k >= counts.count { return Cut(pruned: total, prunedSquares: totalSquares, threshold: t, exact: true) }
        let belowCount = k > 0 ? cumulativeCounts[k - 1] : 0
        let belowSquares = k > 0 ? cumulativeSquares[k - 1] : 0
        let lower = Double(Self.lowerEdge(key: firstKey + k))
        if lower == t || counts[k] == 0 {
            return Cut(pruned: belowCount, prunedSquares: belowSquares, threshold: t, exact: true)
        }
        // Inside a bin: assume values spread evenly across it.
        let upper = Double(Self.lowerEdge(key: firstKey + k + 1))
        let f = (t - lower) / (upper - lower)
        let part = Int((Double(counts[k]) * f).rounded())
        return Cut(pruned: belowCount + part,
                   prunedSquares: belowSquares + sumSquares[k] * Self.squareShare(lower, t, upper),
                   threshold: t, exact: false)
    }

    /// The cut that prunes the `floor(s·n)` smallest magnitudes (n = finite values).
    public func cut(sparsity s: Double) -> Cut {
        let target = Int((max(0, min(1, s)) * Double(total)).rounded(.down))
        guard target > 0, !counts.isEmpty else { return Cut(pruned: 0, prunedSquares: 0, threshold: 0, exact: true) }
        // First bin whose cumulative count reaches the target.
        var lo = 0, hi = counts.count - 1
        while lo < hi {
            let mid = (lo + hi) / 2
            if cumulativeCounts[mid] >= target { hi = mid } else { lo = mid + 1 }
        }
        let belowCount = lo > 0 ? cumulativeCounts[lo - 1] : 0
        let belowSquares = lo > 0 ? cumulativeSquares[lo - 1] : 0
        let need = target - belowCount
        let upperEdge = Double(Self.lowerEdge(key: firstKey + lo + 1))
        if need == counts[lo] {
            return Cut(pruned: target, prunedSquares: cumulativeSquares[lo], threshold: upperEdge, exact: true)
        }
        // Part of a bin: take the smaller values' share of Σw² (evenly spread, same as the threshold case).
        let f = Double(need) / Double(counts[lo])
        let lower = Double(Self.lowerEdge(key: firstKey + lo))
        let t = lower + f * (upperEdge - lower)
        return Cut(pruned: target,
                   prunedSquares: belowSquares + sumSquares[lo] * Self.squareShare(lower, t, upperEdge),
                   threshold: t, exact: false)
    }

    /// For values spread evenly over [a, b): the share of their Σw² that lies below t.
    static func squareShare(_ a: Double, _ t: Double, _ b: Double) -> Double {
        let den = b * b * b - a * a * a
        return den > 0 ? (t * t * t - a * a * a) / den : 0
    }

    /// The p-th percentile (0…100) of |w|, interpolated inside its bin (±1.6 %).
    public func percentile(_ p: Double) -> Double {
        guard total > 0 else { return 0 }
        let rank = max(0, min(1, p / 100)) * Double(total)
        var lo = 0, hi = counts.count - 1
        while lo < hi {
            let mid = (lo + hi) / 2
            if Double(cumulativeCounts[mid]) >= rank { hi = mid } else { lo = mid + 1 }
        }
        let below = Double(lo > 0 ? cumulativeCounts[lo - 1] : 0)
        let a = Double(Self.lowerEdge(key: firstKey + lo)), b = Double(Self.lowerEdge(key: firstKey + lo + 1))
        let f = counts[lo] == 0 ? 0 : (rank - below) / Double(counts[lo])
        return a + max(0, min(1, f)) * (b - a)
    }
}
