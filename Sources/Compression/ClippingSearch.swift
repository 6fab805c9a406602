/// How the range of an integer grid is chosen for one segment (tensor, row or group).
public enum ClippingSearch {
    /// Minimum and maximum of the values (0, 0 when empty). NaNs are ignored.
    public static func minMax(_ values: UnsafeBufferPointer<Float>) -> (lo: Float, hi: Float) {
        let (lo, hi) = KernelSIMD.minMax(values)
        return lo > hi ? (0, 0) : (lo, hi)
    }

    /// numpy's default percentile (`method='linear'`) computed on the values converted to Float64, exactly
    /// as `np.percentile(x.astype(np.float64), p)` does it: `q = p/100`, virtual index `h = (n−1)·q`,
    /// `a = x[floor h]`, `b = x[floor h + 1]` (both the last value when `h ≥ n−1`), `γ = h − floor h`, and
    /// numpy's `_lerp`: `a + (b−a)·γ` when `γ < 0.5`, else `b − (b−a)·(1−γ)`.
    public static func percentile(sorted x: [Double], _ p: Double) -> Double {
        let n = x.count
        guard n > 0 else { return 0 }
        let h = Double(n - 1) * (p / 100)
        if h >= Double(n - 1) { return x[n - 1] }
        if h < 0 { return x[0] }
        let i = Int(h.rounded(.down))
        let a = x[i], b = x[i + 1]
        let g = h - Double(i)
        let d = b - a
        return g >= 0.5 ? b - d * (1 - g) : a + d * g
    }

    /// Percentile clipping. Symmetric: `c = Float(percentile(|w|, p))`, then `IntegerGrid.symmetric`.
    /// Asymmetric: `lo = Float(percentile(w, 100−p))`, `hi = Float(percentile(w, p))`, then
    /// `IntegerGrid.asymmetric` (which widens the range to contain 0).
    public static func percentileGrid(_ values: UnsafeBufferPointer<Float>, bits: Int, symmetric: Bool, percentile p: Double) -> IntegerGrid {
        if symmetric {
            let sorted = values.map { Double(abs($0)) }.sorted()
            return .symmetric(bits: bits, clip: Float(percentile(sorted: sorted, p)))
        }
        let sorted = values.map { Double($0) }.sorted()
        return .asymmetric(bits: bits, lo: Float(percentile(sorted: sorted, 100 - p)), hi: Float(percentile(sorted: sorted, p)))
    }

    /// Number of clip ratios the MSE search tries.
    public static let mseCandidateCount = 81

    /// The i-th clip ratio, `Float(100 − i) / 100` in Float32: 1.00, 0.99, …, 0.20.
    public static func mseRatio(_ i: Int) -> Float { Float(100 - i) / 100 }

    /// MSE clipping search, deterministic so numpy reproduces it. Starting from the min/max range
    /// (symmetric: `absmax`; asymmetric: `[min(min,0), max(max,0)]`), try the 81 ratios
    /// `r = Float(100 − i)/100` for i = 0…80 (1.00 down to 0.20). Symmetric candidate: clip `r·absmax`;
    /// asymmetric: `[r·lo, r·hi]` (products in Float32). For each, fake-quantize the segment and sum
    /// `Double(w − ŵ)²` (the difference in Float32, squares and sum in Float64); keep the first ratio with
    /// the strictly smallest error (so ties keep the wider range).
    public static func mseGrid(_ values: UnsafeBufferPointer<Float>, bits: Int, symmetric: Bool) -> (grid: IntegerGrid, ratio: Float, error: Double) {
        let (lo, hi) = minMax(values)
        func candidate(_ i: Int) -> IntegerGrid {
            let r = mseRatio(i)
            return symmetric ? .symmetric(bits: bits, clip: r * max(-lo, hi))
                             : .asymmetric(bits: bits, lo: r * min(lo, 0), hi: r * max(hi, 0))
        }
        let full = candidate(0)
        if full.scale == 0 { return (full, 1, 0) }
        var errors = [Double](repeating: 0, count: mseCandidateCount)
        errors.withUnsafeMutableBufferPointer { e in
            KernelWork.forEach(mseCandidateCount, totalWork: values.count * mseCandidateCount) { i in
                e[i] = squaredError(values, grid: candidate(i))
            }
        }
        var best = 0
        for i in 1..<mseCandidateCount where errors[i] < errors[best] { best = i }
        return (candidate(best), mseRatio(best), errors[best])
    }

    /// `Σ Double(w − ŵ)²` for one grid, without storing ŵ.
    static func squaredError(_ values: UnsafeBufferPointer<Float>, grid: IntegerGrid) -> Double {
        var total = 0.0
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 1024) { buf in
            var a = 0
            while a < values.count {
                let b = min(a + 1024, values.count)
                let chunk = UnsafeBufferPointer(rebasing: values[a..<b])
                grid.fakeQuantize(chunk, into: buf)
                for k in 0..<(b - a) {
                    let d = Double(chunk[k] - buf[k])
                    total += d * d
                }
                a = b
            }
        }
        return total
    }
}
