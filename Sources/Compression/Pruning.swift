/// A magnitude cut: zero every value with `|w| < threshold`, and also the first `tiesPruned` values (in flat
/// index order) with `|w| == threshold`. This is how "zero the k smallest magnitudes, ties broken by index"
/// is applied without sorting (torch's `l1_unstructured` / `global_unstructured` with a stable order).
public struct MagnitudeCut: Hashable, Sendable {
    public var threshold: Float
    public var tiesPruned: Int

    public init(threshold: Float, tiesPruned: Int) {
        self.threshold = threshold
        self.tiesPruned = tiesPruned
    }

    /// Prunes nothing.
    public static let none = MagnitudeCut(threshold: 0, tiesPruned: 0)
}

/// What pruning did to one tensor.
public struct PruneOutcome: Hashable, Sendable {
    /// Values set to zero by the pruning rule (some may have been zero already).
    public var pruned: Int
    /// Rows of dimension 0 removed (row pruning only).
    public var prunedRows: Int

    public init(pruned: Int = 0, prunedRows: Int = 0) {
        self.pruned = pruned
        self.prunedRows = prunedRows
    }
}

/// Pruning kernels (DESIGN.md §5). All of them write zeros in place into a Float buffer in row-major order.
/// Magnitudes compare as exact floats; NaNs count as the largest magnitudes.
public enum Pruning {
    /// `floor(s·n)`, the number of values (or rows) a target sparsity `s` removes; `s` is clamped to [0, 1].
    public static func pruneCount(sparsity s: Double, of n: Int) -> Int {
        guard s.isFinite, n > 0 else { return 0 }
        let k = (min(max(s, 0), 1) * Double(n)).rounded(.down)
        return min(n, Int(k))
    }

    /// Keeps `|w| >= t` and zeros `|w| < t` (compared in Double). Returns the number of values zeroed.
    @discardableResult
    public static func applyThreshold(_ values: UnsafeMutableBufferPointer<Float>, threshold t: Double) -> Int {
        guard t > 0 else { return 0 }
        var pruned = 0
        for i in values.indices {
            let drop = Double(abs(values[i])) < t
            pruned &+= drop ? 1 : 0
            values[i] = drop ? 0 : values[i]
        }
        return pruned
    }

    /// Zeros the `floor(s·n)` smallest magnitudes, ties broken by index. Returns the number zeroed.
    @discardableResult
    public static func applySparsity(_ values: UnsafeMutableBufferPointer<Float>, sparsity s: Double) -> Int {
        let cut = magnitudeCut(UnsafeBufferPointer(values), pruning: pruneCount(sparsity: s, of: values.count))
        return apply(cut, to: values)
    }

    /// The cut that removes exactly the `k` smallest magnitudes of `values` (ties by index).
    public static func magnitudeCut(_ values: UnsafeBufferPointer<Float>, pruning k: Int) -> MagnitudeCut {
        globalMagnitudeCuts([values], pruning: k)[0]
    }

    /// One threshold across several tensors (torch `global_unstructured` with L1 importance): the cuts that
    /// together remove the `floor(s·N)` smallest magnitudes of the concatenation, ties broken by
    /// concatenation index (earlier tensors first).
    public static func globalMagnitudeCuts(_ tensors: [UnsafeBufferPointer<Float>], sparsity s: Double) -> [MagnitudeCut] {
        let total = tensors.reduce(0) { $0 + $1.count }
        return globalMagnitudeCuts(tensors, pruning: pruneCount(sparsity: s, of: total))
    }

    /// Zeros the `floor(s·N)` smallest magnitudes over the concatenation of `tensors`, in place.
    public static func applyGlobalMagnitude(_ tensors: [UnsafeMutableBufferPointer<Float>], sparsity s: Double) -> [Int] {
        let cuts = globalMagnitudeCuts(tensors.map { UnsafeBufferPointer($0) }, sparsity: s)
        return zip(cuts, tensors).map { apply($0, to: $1) }
    }

    /// Cuts removing the `k` smallest magnitudes over the concatenation (a two-pass radix selection on the
    /// magnitudes' bit patterns, which order like the magnitudes themselves).
    public static func globalMagnitudeCuts(_ tensors: [UnsafeBufferPointer<Float>], pruning k: Int) -> [MagnitudeCut] {
        let total = tensors.reduce(0) { $0 + $1.count }
        guard k > 0, total > 0 else { return tensors.map { _ in .none } }
        if k >= total {
            // Everything goes: a cut above every finite magnitude, ties covering the rest.
            return tensors.map { MagnitudeCut(threshold: .infinity, tiesPruned: $0.count) }
        }
        // Pass 1: the high 16 bits of the k-th smallest magnitude.
        var high = [Int](repeating: 0, count: 1 << 15)
        high.withUnsafeMutableBufferPointer { h in
            for t in tensors { for v in t { h[Int((v.bitPattern & 0x7fff_ffff) >> 16)] &+= 1 } }
        }
        var rank = k - 1          // 0-based rank of the k-th smallest
        var hiBits = 0
        while rank >= high[hiBits] { rank -= high[hiBits]; hiBits += 1 }
        // Pass 2: the low 16 bits, among values sharing those high bits.
        var low = [Int](repeating: 0, count: 1 << 16)
        let hb = UInt32(hiBits)
        low.withUnsafeMutableBufferPointer { l in
            for t in tensors {
                for v in t {
                    let m = v.bitPattern & 0x7fff_ffff
                    if m >> 16 == hb { l[Int(m & 0xffff)] &+= 1 }
                }
            }
        }
        var loBits = 0
        while rank >= low[loBits] { rank -= low[loBits]; loBits += 1 }
        let cutBits = hb << 16 | UInt32(loBits)
        // `rank` values equal to the cut precede the k-th one: rank + 1 ties are pruned, in index order.
        var ties = rank + 1
        return tensors.map { t in
            var equal = 0
            for v in t where v.bitPattern & 0x7fff_ffff == cutBits { equal += 1 }
            let mine = min(ties, equal)
            ties -= mine
            return MagnitudeCut(threshold: Float(bitPattern: cutBits), tiesPruned: mine)
        }
    }

    /// Applies a cut in place. Returns the number of values zeroed.
    @discardableResult
    public static func apply(_ cut: MagnitudeCut, to values: UnsafeMutableBufferPointer<Float>) -> Int {
        if cut.threshold == .infinity {
            let n = min(cut.tiesPruned, values.count)
            for i in 0..<n { values[i] = 0 }
            return n
        }
        let t = cut.threshold.bitPattern & 0x7fff_ffff
        var pruned = 0
        var ties = cut.tiesPruned
        for i in values.indices {
            let m = values[i].bitPattern & 0x7fff_ffff
            if m < t {
                values[i] = 0
                pruned += 1
            } else if m == t && ties > 0 {
                values[i] = 0
                pruned += 1
                ties -= 1
            }
        }
        return pruned
    }

    /// N:M semi-structured pruning: in every run of `m` consecutive values along the last dimension keep the
    /// `n` largest magnitudes (ties keep the earlier index) and zero the rest. The last dimension must be a
    /// multiple of `m` (the caller checks; see `LayerEvaluator.validate`). Returns the number zeroed.
    @discardableResult
    public static func applyNM(_ values: UnsafeMutableBufferPointer<Float>, shape: [Int], n: Int, m: Int) -> Int {
        let layout = TensorLayout(shape: shape)
        precondition(m > 0 && n >= 0 && n <= m && layout.lastDimension % m == 0, "\(n):\(m) needs a last dimension divisible by \(m)")
        precondition(values.count == layout.count)
        if n == m { return 0 }
        var pruned = 0
        // Ranks are computed from a copy of each run's magnitudes, before any zero is written.
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: m) { mags in
            var g = 0
            while g < values.count {
                for i in 0..<m { mags[i] = values[g + i].bitPattern & 0x7fff_ffff }
                for i in 0..<m {
                    var beaten = 0
                    for j in 0..<m where mags[j] > mags[i] || (mags[j] == mags[i] && j < i) { beaten += 1 }
                    if beaten >= n { values[g + i] = 0; pruned += 1 }
                }
                g += m
            }
        }
        return pruned
    }

    /// The L1 (`Σ|w|`) or L2 (`sqrt(Σw²)`) norm of every row of dimension 0, in Double.
    public static func rowNorms(_ values: UnsafeBufferPointer<Float>, shape: [Int], norm: RowNorm) -> [Double] {
        let layout = TensorLayout(shape: shape)
        precondition(values.count == layout.count)
        return (0..<layout.rows).map { r in
            var s = 0.0
            let base = r * layout.rowLength
            switch norm {
            case .l1: for i in 0..<layout.rowLength { s += Double(abs(values[base + i])) }
            case .l2: for i in 0..<layout.rowLength { let v = Double(values[base + i]); s += v * v }
            }
            return norm == .l2 ? s.squareRoot() : s
        }
    }

    /// The rows (of dimension 0) that row pruning removes: the `floor(s·rows)` smallest norms, ties by index
    /// (torch `ln_structured(dim=0)`, except that the count is floored). Sorted ascending.
    public static func rowsToPrune(_ values: UnsafeBufferPointer<Float>, shape: [Int], norm: RowNorm, sparsity s: Double) -> [Int] {
        let norms = rowNorms(values, shape: shape, norm: norm)
        let k = pruneCount(sparsity: s, of: norms.count)
        guard k > 0 else { return [] }
        let order = norms.indices.sorted { norms[$0] < norms[$1] || (norms[$0] == norms[$1] && $0 < $1) }
        return order.prefix(k).sorted()
    }

    /// Zeros whole rows of dimension 0 with the smallest norms. Returns the rows removed.
    @discardableResult
    public static func applyRows(_ values: UnsafeMutableBufferPointer<Float>, shape: [Int], norm: RowNorm, sparsity s: Double) -> [Int] {
        let rows = rowsToPrune(UnsafeBufferPointer(values), shape: shape, norm: norm, sparsity: s)
        let len = TensorLayout(shape: shape).rowLength
        for r in rows { for i in r * len ..< (r + 1) * len { values[i] = 0 } }
        return rows
    }

    /// Applies any per-layer method in place. `.globalMagnitude` must have been resolved by the caller
    /// (into a cut or threshold over all selected tensors); here it falls back to this tensor alone.
    @discardableResult
    public static func apply(_ method: PruneMethod, to values: UnsafeMutableBufferPointer<Float>, shape: [Int]) -> PruneOutcome {
        switch method {
        case .none:
            return PruneOutcome()
        case .threshold(let t):
            return PruneOutcome(pruned: applyThreshold(values, threshold: t))
        case .sparsity(let s), .globalMagnitude(let s):
            return PruneOutcome(pruned: applySparsity(values, sparsity: s))
        case .nm(let n, let m):
            return PruneOutcome(pruned: applyNM(values, shape: shape, n: n, m: m))
        case .rows(let norm, let s):
            let rows = applyRows(values, shape: shape, norm: norm, sparsity: s)
            return PruneOutcome(pruned: rows.count * TensorLayout(shape: shape).rowLength, prunedRows: rows.count)
        }
    }
}
