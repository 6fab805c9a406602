import Foundation

/// A histogram resampled to screen columns: each source bin's count is shared among the columns its range
/// overlaps, in proportion to the overlap. The same code serves a fetched histogram (512 bins over the
/// shown range) and the open-time one restricted to a zoomed range while the fetched one is on its way.
struct HistogramColumns: Equatable {
    var counts: [Double]
    var lo: Double
    var hi: Double
    /// Counts outside [lo, hi].
    var below: Double
    var above: Double

    init(counts source: [Int], sourceLo: Double, sourceHi: Double, sourceBelow: Int = 0, sourceAbove: Int = 0,
         columns: Int, lo: Double, hi: Double) {
        self.lo = lo
        self.hi = hi
        counts = [Double](repeating: 0, count: max(1, columns))
        below = Double(sourceBelow)
        above = Double(sourceAbove)
        guard !source.isEmpty, hi > lo, sourceHi > sourceLo else { return }
        let n = counts.count
        let binWidth = (sourceHi - sourceLo) / Double(source.count)
        let columnWidth = (hi - lo) / Double(n)
        for (k, c) in source.enumerated() where c > 0 {
            let a = sourceLo + Double(k) * binWidth, b = a + binWidth
            let count = Double(c)
            // Parts outside the shown range.
            if a < lo { below += count * (min(b, lo) - a) / binWidth }
            if b > hi { above += count * (b - max(a, hi)) / binWidth }
            let s = max(a, lo), e = min(b, hi)
            guard e > s else { continue }
            var col = max(0, min(n - 1, Int(((s - lo) / columnWidth).rounded(.down))))
            while col < n {
                let cs = lo + Double(col) * columnWidth, ce = cs + columnWidth
                let overlap = min(e, ce) - max(s, cs)
                if overlap > 0 { counts[col] += count * overlap / binWidth }
                if ce >= e { break }
                col += 1
            }
        }
    }

    /// The column holding value `v`, or nil outside the range.
    func column(of v: Double) -> Int? {
        guard v >= lo, v <= hi else { return nil }
        return min(counts.count - 1, Int(((v - lo) / (hi - lo) * Double(counts.count)).rounded(.down)))
    }

    /// The value at a column's centre.
    func value(at column: Int) -> Double {
        lo + (Double(column) + 0.5) / Double(counts.count) * (hi - lo)
    }

    /// Bar heights in eighths of a row for `rows` rows: linear or log1p-scaled counts, and any non-empty
    /// column at least one eighth so a lone outlier stays visible.
    func heights(rows: Int, log: Bool) -> [Int] {
        let top = counts.max() ?? 0
        guard top > 0 else { return counts.map { _ in 0 } }
        let full = Double(rows * 8)
        return counts.map { c in
            guard c > 0 else { return 0 }
            let f = log ? Foundation.log1p(c) / Foundation.log1p(top) : c / top
            return max(1, min(rows * 8, Int((f * full).rounded())))
        }
    }
}
