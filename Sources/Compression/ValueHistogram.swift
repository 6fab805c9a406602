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
    ///
    /// Branch-free, with four interleaved copies of the counts: consecutive weights often fall in the same
    /// bin, and one array would make every increment wait for the previous one's store.
    public mutating func add(_ values: UnsafeBufferPointer<Float>) {
        let n = counts.count
        guard let p = values.baseAddress, !values.isEmpty else { return }
        let scale = Double(n) / (hi - lo)
        let (l, h) = (lo, hi)
        let last = Double(n - 1)
        var below = 0, above = 0
        var lanes = [Int](repeating: 0, count: 4 * n)
        lanes.withUnsafeMutableBufferPointer { c in
            let base = c.baseAddress!
            @inline(__always) func one(_ w: Float, _ lane: UnsafeMutablePointer<Int>) {
                let x = Double(w)
                let inside = x >= l && x <= h                       // false for NaN and ±Inf
                below &+= (x < l && x > -.infinity) ? 1 : 0
                above &+= (x > h && x < .infinity) ? 1 : 0
                let t = inside ? Swift.min((x - l) * scale, last) : 0
                lane[Int(t)] &+= inside ? 1 : 0
            }
            var i = 0
            let count = values.count
            while i + 4 <= count {
                one(p[i], base)
                one(p[i + 1], base + n)
                one(p[i + 2], base + 2 * n)
                one(p[i + 3], base + 3 * n)
                i += 4
            }
            while i < count { one(p[i], base); i += 1 }
        }
        for b in 0..<n { counts[b] += lanes[b] + lanes[n + b] + lanes[2 * n + b] + lanes[3 * n + b] }
        self.below += below
        self.above += above
    }

    /// Adds `count` copies of `w`, binned exactly as `add(_:)` bins it (the same Double arithmetic), so a
    /// histogram built from a table of distinct values equals the one built value by value.
    mutating func add(_ w: Float, count: Int) {
        let n = counts.count
        let scale = Double(n) / (hi - lo)
        let x = Double(w)
        if x >= lo && x <= hi {
            counts[Int(Swift.min((x - lo) * scale, Double(n - 1)))] += count
        } else if x < lo && x > -.infinity {
            below += count
        } else if x > hi && x < .infinity {
            above += count
        }
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
