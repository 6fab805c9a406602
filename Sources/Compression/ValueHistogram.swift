import WeightFormats

/// Counts of values in `bins` equal-width bins over [lo, hi] — what the workbench draws. Values outside the
/// range are counted as `below`/`above` (the clipped view says how many it hides); NaN and ±Inf are skipped.
public struct ValueHistogram: Sendable, Equatable {
    public let lo: Double
    public let hi: Double
    public private(set) var counts: [Int]
    public private(set) var below = 0
    public private(set) var above = 0

    public init(bins: Int, lo: Double, hi: Double) {
        precondition(bins > 0)
        self.lo = lo
        self.hi = hi > lo ? hi : lo + 1
        counts = [Int](repeating: 0, count: bins)
    }

    public var binWidth: Double { (hi - lo) / Double(counts.count) }
    public func lowerEdge(_ i: Int) -> Double { lo + Double(i) * binWidth }

    /// Adds a chunk. The last bin is closed: `hi` itself lands in it, like numpy.histogram.
    public mutating func add(_ values: UnsafeBufferPointer<Float>) {
        let n = counts.count
        let scale = Double(n) / (hi - lo)
        let (l, h) = (lo, hi)
        var below = 0, above = 0
        counts.withUnsafeMutableBufferPointer { c in
            for w in values where w.isFinite {
                let x = Double(w)
                if x < l { below += 1; continue }
                if x > h { above += 1; continue }
                c[min(n - 1, Int((x - l) * scale))] += 1
            }
        }
        self.below += below
        self.above += above
    }

    public mutating func merge(_ o: ValueHistogram) {
        precondition(o.counts.count == counts.count && o.lo == lo && o.hi == hi)
        for i in counts.indices { counts[i] += o.counts[i] }
        below += o.below
        above += o.above
    }
}

extension TensorScan {
    /// The fine magnitude histogram of a tensor (one pass, split across cores).
    public static func magnitudeHistogram(_ tensor: Tensor, cancelled: @Sendable () -> Bool = { false }) throws -> MagnitudeHistogram {
        try reduce(tensor, initial: MagnitudeHistogram(), cancelled: cancelled,
                   partial: { _, v in MagnitudeHistogram(v) }, merge: { $0.merge($1) })
    }

    /// A value histogram of a tensor over [lo, hi].
    public static func valueHistogram(_ tensor: Tensor, bins: Int, lo: Double, hi: Double,
                                      cancelled: @Sendable () -> Bool = { false }) throws -> ValueHistogram {
        let empty = ValueHistogram(bins: bins, lo: lo, hi: hi)
        return try reduce(tensor, initial: empty, cancelled: cancelled,
                          partial: { _, v in var h = empty; h.add(v); return h }, merge: { $0.merge($1) })
    }
}
