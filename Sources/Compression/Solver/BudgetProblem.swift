import Foundation
import WeightFormats

/// A model ready for budget questions: every menu option evaluated on every layer the solver chooses for,
/// and the frontier over them. Answers for any target are then a binary search (`solve`), the whole trade-off
/// curve is `frontierPoints`, and every answer comes with the numbers `report` prints for it (through
/// `PlanEvaluation`, the one numbers model).
///
/// Which layers are solved: floating tensors of rank ≥ 2 (what a plan's default applies to) that are not
/// pinned and fit at least one option. Every other tensor keeps its base settings and its bytes are taken
/// from the budget first.
public struct BudgetProblem: Sendable {
    public let model: Model
    public let menu: SolverMenu
    public let measure: ErrorMeasure
    /// Every tensor's settings before solving: what unsolved tensors keep.
    public let baseSettings: [LayerSettings]
    public let evaluated: MenuEvaluation
    /// When the menu was estimated from row samples (`Engine.estimateMenu`) rather than evaluated exactly:
    /// the variances behind every answer's interval. Nil for exact numbers.
    public let sampling: MenuSampling?
    public var isEstimate: Bool { sampling != nil }
    /// Unsolved tensors' evaluations at their base settings (nil for solved and non-floating tensors).
    let fixed: [LayerEvaluation?]
    /// Bytes of every unsolved tensor, as the numbers model counts them.
    public let fixedBytes: Int
    /// The unsolved tensors' error in `measure`.
    public let fixedError: Double
    public let frontier: BudgetFrontier

    /// Evaluates the menu (see `Engine.evaluateMenu`) and builds the frontier. `pinned` (one per tensor,
    /// empty for none) marks tensors that keep their base settings. `imatrix` needs the engine's importance
    /// matrix. `estimate` (elements sampled per layer) estimates the menu from row samples instead
    /// (`Engine.estimateMenu`): the frontier is then an estimate with intervals (`sampling`).
    public init(model: Model, engine: Engine, menu: SolverMenu, measure: ErrorMeasure, baseSettings: [LayerSettings],
                pinned: [Bool] = [], estimate sampleElements: Int? = nil, cancel: CancellationToken = CancellationToken(),
                progress: @Sendable (Int, Int) -> Void = { _, _ in }) throws {
        precondition(baseSettings.count == model.tensors.count)
        if measure == .imatrix && engine.importance == nil {
            throw CompressionError("the error measure \"imatrix\" needs an importance matrix (give --imatrix or the plan's \"imatrix\")")
        }
        self.model = model
        self.menu = menu
        self.measure = measure
        self.baseSettings = baseSettings
        let candidates = model.tensors.indices.filter { i in
            let t = model.tensors[i]
            return t.isFloating && t.shape.count >= 2 && !(i < pinned.count && pinned[i])
                && menu.options.contains { SolverMenu.fits($0, shape: t.shape) }
        }
        if let sampleElements {
            (evaluated, sampling) = try engine.estimateMenu(menu, layers: candidates, measure: measure, sampleElements: sampleElements,
                                                            cancel: cancel, progress: progress)
        } else {
            evaluated = try engine.evaluateMenu(menu, layers: candidates, cancel: cancel, progress: progress)
            sampling = nil
        }
        // Unsolved floating tensors at their base settings.
        var settings = baseSettings
        let solvedSet = Set(candidates)
        let rest = model.tensors.indices.filter { !solvedSet.contains($0) && model.tensors[$0].isFloating }
        var restOnly = [LayerSettings](repeating: .identity, count: model.tensors.count)
        for i in rest { restOnly[i] = settings[i] }
        settings = restOnly
        let restEvaluations = try Self.evaluateRest(engine, settings, only: Set(rest), cancel: cancel)
        fixed = restEvaluations
        var bytes = 0, error = 0.0
        for (i, t) in model.tensors.enumerated() where !solvedSet.contains(i) {
            let n = LayerNumbers.evaluated(TensorInfo(t), restEvaluations[i])
            bytes += n.bytes ?? t.originalBytes
            if let e = restEvaluations[i] { error += measure.error(e) }
        }
        fixedBytes = bytes
        fixedError = error
        frontier = BudgetFrontier(options: evaluated.results.map { layer in
            layer.map { $0.map { SolverPoint(bytes: $0.size.bytes, error: measure.error($0)) } }
        })
    }

    /// The base settings of the tensors not solved, through the engine (cached ones are not recomputed).
    private static func evaluateRest(_ engine: Engine, _ settings: [LayerSettings], only: Set<Int>,
                                     cancel: CancellationToken) throws -> [LayerEvaluation?] {
        var out = [LayerEvaluation?](repeating: nil, count: settings.count)
        for i in only.sorted() {
            switch engine.outcome(layer: i, settings: settings[i], plan: settings, token: cancel, withLevels: false) {
            case .success(let e): out[i] = e.evaluation
            case .failure(let f):
                if f == Engine.cancelled { throw CancellationError() }
                throw ModelError(engine.model.path, "tensor '\(DisplayText.escaped(engine.model.tensors[i].name))': \(f.message)")
            }
        }
        return out
    }

    /// Whole-model bytes of the smallest and largest choice the menu allows.
    public var smallestBytes: Int { fixedBytes + frontier.smallestBytes }
    public var largestBytes: Int { fixedBytes + frontier.largestBytes }

    /// The budget in bytes a target asks for.
    public func budget(_ target: PlanSolve.Target) -> Int { target.bytes(parameters: model.parameters) }

    /// The least-error choice within `target` for the whole model; an error names the smallest size the
    /// menu reaches when the target is below it.
    ///
    /// With `refine` (the default) a target between two frontier points is also solved on a grid of byte
    /// cells (`ByteGridSolver`; at most `refineWork` layer × cell steps, at least 65 536 cells) and the better
    /// of the two answers is kept. When the grid is one byte per cell that answer is the exact optimum.
    public func solve(_ target: PlanSolve.Target, refine: Bool = true, refineWork: Int = 1 << 24) throws -> BudgetSolution {
        let refineCells = max(1 << 16, refineWork / max(1, frontier.options.count))
        let budget = self.budget(target) - fixedBytes
        guard var s = frontier.solve(budget: budget) else {
            let bpw = Double(smallestBytes) * 8 / Double(max(1, model.parameters))
            throw CompressionError("the target (\(target.text)) is below the smallest size this menu reaches: \(smallestBytes) bytes, \(String(format: "%.3f", bpw)) bits per weight")
        }
        let unit = max(1, (budget + refineCells - 1) / refineCells)
        if refine && s.gap > 0, let exact = ByteGridSolver.solve(options: frontier.options, budget: budget, unit: unit) {
            if exact.error < s.error {
                s.choice = exact.choice
                s.error = exact.error
                s.bytes = exact.bytes
            }
            // One byte per cell: nothing within the budget has less error.
            if unit == 1 { s.lowerBound = s.error }
        }
        return solution(choice: s.choice, lowerBound: s.lowerBound + fixedError)
    }

    /// The choice at frontier vertex `t` (exact for its own size).
    public func vertex(_ t: Int) -> BudgetSolution {
        solution(choice: frontier.choice(prefix: t), lowerBound: frontier.errors[t] + fixedError)
    }

    /// Whole-model (bytes, error in the measure) at every frontier vertex.
    public var frontierPoints: [(bytes: Int, error: Double)] {
        zip(frontier.bytes, frontier.errors).map { ($0 + fixedBytes, $1 + fixedError) }
    }

    /// Every tensor's settings and numbers for a choice (option index per solved layer).
    public func solution(choice: [Int], lowerBound: Double) -> BudgetSolution {
        var settings = baseSettings
        var evaluations = fixed
        var error = fixedError
        for (k, layer) in evaluated.layers.enumerated() {
            settings[layer] = menu.options[choice[k]]
            let e = evaluated.results[k][choice[k]]!
            evaluations[layer] = e
            error += measure.error(e)
        }
        return BudgetSolution(choice: choice, error: error, lowerBound: min(lowerBound, error),
                              evaluation: PlanEvaluation(model: model, settings: settings, evaluations: evaluations))
    }
}

/// One answer of the solver: each tensor's settings, the predicted numbers (`evaluation.totals` is what
/// `report` prints for the written plan) and how close to the optimum it is known to be.
public struct BudgetSolution: Sendable {
    /// Option index per solved layer (`BudgetProblem.evaluated.layers`).
    public let choice: [Int]
    /// Total error in the problem's measure, and a lower bound on the optimum at this budget.
    public let error: Double
    public let lowerBound: Double
    public let evaluation: PlanEvaluation

    public var settings: [LayerSettings] { evaluation.settings }
    public var totals: ModelTotals { evaluation.totals }
    /// How far from optimal the answer can be, as a fraction of its error (0 at a frontier vertex).
    public var gapFraction: Double { error > 0 ? max(0, error - lowerBound) / error : 0 }

    /// An ordinary plan that resolves to these settings on the same model.
    public func plan(note: String? = nil) -> Plan {
        var plan = Plan.from(settings: evaluation.model.tensors.enumerated().map { i, t in
            (tensor: (name: t.name, dtype: t.dtype, shape: t.shape), settings: evaluation.settings[i])
        })
        plan.note = note
        return plan
    }
}

/// One point of the trade-off curve, as `weightlab sweep` lists it.
public struct SweepPoint: Sendable {
    /// The frontier vertex (`BudgetProblem.vertex`).
    public let vertex: Int
    public let totals: ModelTotals
    /// Total error in the problem's measure.
    public let error: Double
    /// For an estimated menu (`BudgetProblem.sampling`): the half-widths of the intervals of `error` and of
    /// the total squared error (nil when exact).
    public var errorHalfWidth: Double? = nil
    public var squaredErrorHalfWidth: Double? = nil

    /// The interval of the total SQNR (dB) from the squared error's interval (the signal as estimated);
    /// nil when exact.
    public var sqnrInterval: ClosedRange<Double>? { squaredErrorHalfWidth.map(totals.sqnrInterval) }
}

extension ModelTotals {
    /// The SQNR (dB) interval when the total squared error is an estimate known to ± `halfWidth` (the
    /// signal taken as estimated).
    public func sqnrInterval(squaredErrorHalfWidth halfWidth: Double) -> ClosedRange<Double> {
        let m = metrics
        func db(_ e: Double) -> Double { e > 0 ? 10 * log10(m.sumSquares / e) : .infinity }
        return db(m.sumSquaredError + halfWidth)...db(max(0, m.sumSquaredError - halfWidth))
    }
}

extension BudgetProblem {
    /// Frontier vertices from the smallest to the largest, at most `limit` of them (evenly spaced over the
    /// vertices, both ends kept) when a limit is given.
    public func sweep(limit: Int? = nil) -> [SweepPoint] {
        let n = frontier.count
        var picks = Array(0..<n)
        if let limit, limit >= 2, n > limit {
            picks = Array(Set((0..<limit).map { Int((Double($0) * Double(n - 1) / Double(limit - 1)).rounded()) })).sorted()
        }
        return picks.map { t in
            let s = vertex(t)
            return SweepPoint(vertex: t, totals: s.totals, error: s.error,
                              errorHalfWidth: sampling?.halfWidth(choice: s.choice),
                              squaredErrorHalfWidth: sampling?.halfWidth(choice: s.choice, squared: true))
        }
    }
}
