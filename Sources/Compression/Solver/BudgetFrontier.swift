/// The whole trade-off between bytes and error for a set of layers, each with its own options (a
/// multiple-choice knapsack), found in one sort (reference: export_and_solver.md, Algorithm H).
///
/// Every layer starts at its cheapest hull vertex. Each hull step ("increment") buys some error back for some
/// bytes; all steps of all layers are sorted by error saved per byte, best first. Taking any prefix of that
/// order is an exact optimum at its own size (Everett: it minimises error + λ·bytes for a range of λ), so the
/// prefixes are the vertices of the model's frontier. A budget between two vertices takes the lower one, then
/// fills greedily with further steps that still fit; the answer is then at most `gap` from the optimum
/// (the linear relaxation bounds it from below).
public struct BudgetFrontier: Equatable, Sendable {
    /// One hull step of one layer.
    public struct Increment: Hashable, Sendable {
        public let layer: Int
        /// Option indices (into the layer's options) before and after the step.
        public let from: Int, to: Int
        /// Extra bytes (> 0) and error saved (> 0).
        public let bytes: Int
        public let errorSaved: Double
        public var slope: Double { errorSaved / Double(bytes) }
    }

    /// A choice of one option per layer for a budget, and how good it is known to be.
    public struct Solution: Equatable, Sendable {
        /// Option index per layer.
        public var choice: [Int]
        public var bytes: Int
        public var error: Double
        /// A lower bound on the best error any choice within the budget can reach.
        public var lowerBound: Double
        /// The frontier vertex the solution starts from (steps taken in sorted order).
        public var prefix: Int
        /// `error − lowerBound`: how far from the optimum this answer can be (0 at a frontier vertex).
        public var gap: Double { max(0, error - lowerBound) }
    }

    public let options: [[SolverPoint?]]
    public let hulls: [LayerHull]
    /// All steps, best error saved per byte first (ties: layer, then the layer's own order).
    public let increments: [Increment]
    /// Frontier vertices: bytes and error after taking the first `t` increments (`t` = 0…count).
    public let bytes: [Int]
    public let errors: [Double]

    /// `options[layer][option]`; every layer needs at least one option that fits (non-nil, finite error).
    public init(options: [[SolverPoint?]]) {
        self.options = options
        hulls = options.map(LayerHull.init)
        precondition(hulls.allSatisfy { !$0.vertices.isEmpty }, "every layer needs an option that fits")
        var steps: [(increment: Increment, step: Int)] = []
        for (layer, hull) in hulls.enumerated() {
            for k in hull.vertices.indices.dropFirst() {
                let a = options[layer][hull.vertices[k - 1]]!, b = options[layer][hull.vertices[k]]!
                steps.append((Increment(layer: layer, from: hull.vertices[k - 1], to: hull.vertices[k],
                                        bytes: b.bytes - a.bytes, errorSaved: a.error - b.error), k))
            }
        }
        steps.sort { x, y in
            let (p, q) = (x.increment.slope, y.increment.slope)
            if p != q { return p > q }
            if x.increment.layer != y.increment.layer { return x.increment.layer < y.increment.layer }
            return x.step < y.step
        }
        increments = steps.map(\.increment)
        var s = 0, first: [Double] = []
        for (layer, hull) in hulls.enumerated() {
            let p = options[layer][hull.vertices[0]]!
            s += p.bytes
            first.append(p.error)
        }
        var total = LayerErrorTotal(first)
        var bytes = [s], errors = [total.value]
        bytes.reserveCapacity(increments.count + 1)
        errors.reserveCapacity(increments.count + 1)
        for inc in increments {
            s += inc.bytes
            total.set(inc.layer, options[inc.layer][inc.to]!.error)
            bytes.append(s)
            errors.append(total.value)
        }
        self.bytes = bytes
        self.errors = errors
    }

    /// Frontier vertices (`increments.count + 1` of them).
    public var count: Int { bytes.count }
    public var smallestBytes: Int { bytes[0] }
    public var largestBytes: Int { bytes[bytes.count - 1] }

    /// The last vertex within `budget` (binary search), or nil when even the cheapest choice exceeds it.
    public func prefix(within budget: Int) -> Int? {
        guard budget >= bytes[0] else { return nil }
        var lo = 0, hi = bytes.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if bytes[mid] <= budget { lo = mid } else { hi = mid - 1 }
        }
        return lo
    }

    /// Every layer's option at vertex `t`.
    public func choice(prefix t: Int) -> [Int] {
        var choice = hulls.map { $0.vertices[0] }
        for inc in increments[0..<t] { choice[inc.layer] = inc.to }
        return choice
    }

    /// The best choice this frontier gives within `budget`: the last vertex within it, then every further step
    /// (in sorted order, each layer's in its own order) that still fits. Nil when the budget is below the
    /// cheapest choice.
    public func solve(budget: Int) -> Solution? {
        guard let t = prefix(within: budget) else { return nil }
        var choice = self.choice(prefix: t)
        var used = bytes[t]
        for inc in increments[t...] where choice[inc.layer] == inc.from && used + inc.bytes <= budget {
            choice[inc.layer] = inc.to
            used += inc.bytes
        }
        let error = LayerErrorTotal(choice.indices.map { options[$0][choice[$0]]!.error }).value
        let bound = t < increments.count ? errors[t] - increments[t].slope * Double(budget - bytes[t]) : errors[t]
        return Solution(choice: choice, bytes: used, error: error, lowerBound: min(bound, error), prefix: t)
    }
}

/// The sum of every layer's error as a pairwise tree of the current values, so that each frontier vertex's total
/// is the sum of its own layers' errors (rounded relative to that total), not a running total: subtracting each
/// step's saving from the cheapest vertex's large error left a residue of its rounding (about 10⁻¹⁶ of it), so
/// the near-exact end of the frontier showed an SQNR of ~160 dB that moved with the last digits of the errors.
struct LayerErrorTotal {
    private var tree: [Double]
    private let leaves: Int

    init(_ errors: [Double]) {
        leaves = max(1, errors.count)
        tree = [Double](repeating: 0, count: 2 * leaves)
        for (i, e) in errors.enumerated() { tree[leaves + i] = e }
        for i in stride(from: leaves - 1, through: 1, by: -1) { tree[i] = tree[2 * i] + tree[2 * i + 1] }
    }

    /// Every leaf lies under node 1 (each node above the first has its parent at half its index).
    var value: Double { tree[1] }

    mutating func set(_ layer: Int, _ error: Double) {
        var i = leaves + layer
        tree[i] = error
        i /= 2
        while i >= 1 {
            tree[i] = tree[2 * i] + tree[2 * i + 1]
            i /= 2
        }
    }
}
