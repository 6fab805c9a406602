/// The exact answer for a budget by dynamic programming over a grid of bytes (Algorithm D of
/// export_and_solver.md): the refine step after the frontier, and the oracle the frontier is tested against.
///
/// Each option costs ⌈bytes / unit⌉ cells, so a choice that fits the grid fits the budget; with `unit` 1 the
/// answer is the exact optimum. Time is layers × options × cells, memory one option index per layer and cell.
public enum ByteGridSolver {
    public struct Solution: Equatable, Sendable {
        /// Option index per layer.
        public var choice: [Int]
        public var bytes: Int
        public var error: Double
    }

    /// Most cells the table may have (layers × cells), so a careless unit cannot exhaust memory.
    public static let maximumCells = 1 << 28

    /// The least total error within `budget` bytes, one option per layer (nil marks an option that does not
    /// fit); nil when nothing fits or the table would exceed `maximumCells`.
    public static func solve(options: [[SolverPoint?]], budget: Int, unit: Int = 1) -> Solution? {
        precondition(unit >= 1)
        guard budget >= 0 else { return nil }
        let cells = budget / unit + 1
        guard cells.multipliedReportingOverflow(by: max(1, options.count)).partialValue <= maximumCells,
              cells <= maximumCells else { return nil }
        // best[b]: least error of the layers so far within b cells.
        var best = [Double](repeating: 0, count: cells)
        var next = [Double](repeating: 0, count: cells)
        var argmin = [UInt16](repeating: .max, count: options.count * cells)
        for (i, layer) in options.enumerated() {
            let fitting = layer.indices.compactMap { j -> (j: Int, cost: Int, error: Double)? in
                guard let p = layer[j], p.error.isFinite, p.bytes >= 0, j < Int(UInt16.max) else { return nil }
                return (j, (p.bytes + unit - 1) / unit, p.error)
            }
            // Option by option over every cell (a straight loop the optimiser keeps in registers).
            best.withUnsafeBufferPointer { f in
                next.withUnsafeMutableBufferPointer { g in
                    argmin.withUnsafeMutableBufferPointer { a in
                        let row = a.baseAddress! + i * cells
                        for b in 0..<cells { g[b] = .infinity }
                        for o in fitting where o.cost < cells {
                            let arg = UInt16(o.j), c = o.cost, e = o.error
                            for b in c..<cells {
                                let v = f[b - c] + e
                                if v < g[b] { g[b] = v; row[b] = arg }
                            }
                        }
                    }
                }
            }
            swap(&best, &next)
        }
        guard best[cells - 1].isFinite else { return nil }
        var choice = [Int](repeating: 0, count: options.count)
        var b = cells - 1, bytes = 0, error = 0.0
        for i in options.indices.reversed() {
            let j = Int(argmin[i * cells + b])
            let p = options[i][j]!
            choice[i] = j
            bytes += p.bytes
            error += p.error
            b -= (p.bytes + unit - 1) / unit
        }
        return Solution(choice: choice, bytes: bytes, error: error)
    }
}
