import Compression
import WeightFormats

/// `solve --eval-data`: the task metric as the solver's check on its frontier. The solver trades weight error
/// against size; the task metric says where quality actually becomes unusable, so the plans near the target
/// are run on data and the smallest one whose task loss stays within `maxDrop` can be chosen.
public enum CheckedSolve {
    /// One plan checked on the task.
    public struct Point: Sendable {
        public let solution: BudgetSolution
        public let report: TaskReport
        /// The solution at the target itself (else a frontier vertex below it).
        public let isTarget: Bool

        public var bytes: Int { solution.totals.bytesCompressed }
        /// What the compression lost on the task (`TaskReport.headline`), nil for an output-SQNR-only task.
        public var loss: Double? { report.headline.loss }
    }

    public struct Outcome: Sendable {
        /// Every point checked, smallest first.
        public let points: [Point]
        /// The index in `points` of the plan chosen: with a drop, the smallest within it (nil when even the
        /// target's plan loses more); without one, the target's.
        public let chosen: Int?
    }

    /// Checks `solution` (the answer at the target) and frontier vertices below it. With `maxDrop`, a
    /// bisection over the vertices below the target for the smallest whose loss is at most `maxDrop` (the
    /// task loss grows as the size shrinks; each point it visits is measured, at most `limit` of them).
    /// Without, the target and the vertices nearest to 90 %, 75 % and 50 % of its size.
    public static func run(problem: BudgetProblem, solution: BudgetSolution, evaluator: TaskEvaluator, engine: Engine,
                           maxDrop: Double?, limit: Int = 12, cancel: CancellationToken = CancellationToken()) throws -> Outcome {
        let targetBytes = solution.totals.bytesCompressed
        let below = problem.frontierPoints.indices.filter { problem.frontierPoints[$0].bytes < targetBytes }
        var cache: [Int: Point] = [:]   // by vertex; the target is -1
        func check(_ vertex: Int) throws -> Point {
            if let p = cache[vertex] { return p }
            let s = vertex < 0 ? solution : problem.vertex(vertex)
            let p = Point(solution: s, report: try evaluator.evaluate(settings: s.settings, engine: engine, cancel: cancel),
                          isTarget: vertex < 0)
            cache[vertex] = p
            return p
        }
        let target = try check(-1)
        var chosenVertex: Int?? = .some(-1)
        if let maxDrop {
            guard target.loss != nil else {
                throw EvalError("--max-drop needs a task with a loss (accuracy, flips or cosine); this model's output is judged by SQNR only")
            }
            if target.loss! > maxDrop {
                chosenVertex = .none
            } else {
                // Smallest index in `below` that is within the drop; `below.count` stands for the target.
                var lo = 0, hi = below.count, steps = 0
                while lo < hi && steps < limit {
                    let mid = (lo + hi) / 2
                    if try check(below[mid]).loss! <= maxDrop { hi = mid } else { lo = mid + 1 }
                    steps += 1
                }
                chosenVertex = .some(hi < below.count ? below[hi] : -1)
                // A bisection cut short by `limit` keeps the smallest point measured within the drop.
                if lo < hi, let best = cache.filter({ $0.value.loss! <= maxDrop }).min(by: { $0.value.bytes < $1.value.bytes }) {
                    chosenVertex = .some(best.key)
                }
            }
        } else {
            for fraction in [0.9, 0.75, 0.5] {
                let want = Double(targetBytes) * fraction
                if let v = below.min(by: { abs(Double(problem.frontierPoints[$0].bytes) - want) < abs(Double(problem.frontierPoints[$1].bytes) - want) }) {
                    _ = try check(v)
                }
            }
        }
        let ordered = cache.sorted { $0.value.bytes != $1.value.bytes ? $0.value.bytes < $1.value.bytes : $0.key < $1.key }
        let chosen = chosenVertex.flatMap { v in ordered.firstIndex { $0.key == v } }
        return Outcome(points: ordered.map(\.value), chosen: chosen)
    }
}
