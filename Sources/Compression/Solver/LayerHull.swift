/// One option of one layer as the solver sees it: what it costs and what it loses.
public struct SolverPoint: Hashable, Sendable {
    /// Stored bytes of the layer under this option (the size model's `CompressedSize.bytes`).
    public var bytes: Int
    /// The layer's error under this option, in the chosen measure (additive across layers).
    public var error: Double

    public init(bytes: Int, error: Double) {
        self.bytes = bytes
        self.error = error
    }
}

/// A layer's options reduced to the ones a budget solver can ever prefer: the lower convex hull of
/// (bytes, error). Options that cost more without losing less are dominated, and options above the hull are
/// never the answer of any Lagrangian trade (Everett), so the frontier is built from hull steps only.
///
/// The hull runs from the cheapest option to the most accurate: bytes strictly increase, error strictly
/// decreases, and the error saved per extra byte strictly decreases from one step to the next, so a layer's
/// steps are always worth taking in order.
public struct LayerHull: Equatable, Sendable {
    /// Indices into the layer's options, cheapest first.
    public let vertices: [Int]

    /// The hull of `options` (nil marks an option that does not fit the layer; non-finite errors are
    /// skipped too). Ties in bytes keep the smaller error, then the earlier option, so the result does not
    /// depend on anything but the numbers and their order.
    public init(_ options: [SolverPoint?]) {
        let candidates = options.indices.filter { options[$0].map { $0.error.isFinite && $0.bytes >= 0 } ?? false }
            .sorted { a, b in
                let p = options[a]!, q = options[b]!
                if p.bytes != q.bytes { return p.bytes < q.bytes }
                if p.error != q.error { return p.error < q.error }
                return a < b
            }
        var hull: [Int] = []
        for k in candidates {
            let p = options[k]!
            // Pareto: more bytes must buy strictly less error.
            if let last = hull.last, p.error >= options[last]!.error { continue }
            // Lower convex hull (monotone chain): drop a middle point on or above the chord.
            while hull.count >= 2 {
                let a = options[hull[hull.count - 2]]!, b = options[hull[hull.count - 1]]!
                let cross = Double(b.bytes - a.bytes) * (p.error - a.error) - (b.error - a.error) * Double(p.bytes - a.bytes)
                if cross <= 0 { hull.removeLast() } else { break }
            }
            hull.append(k)
        }
        vertices = hull
    }
}
