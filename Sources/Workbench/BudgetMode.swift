import Compression
import Foundation
import WeightFormats

/// Budget mode (`T`): the solver chooses every layer's settings from a menu and the user moves the target
/// size (`>` `<`) along the frontier; pinned layers (`!`) keep their settings. The menu is evaluated once
/// in the background (`JobRequest.evaluateMenu`); after that a key press is a walk along the frontier and a
/// copy of cached answers into the records, with no engine work on the key path.
public struct BudgetState: Equatable, Sendable {
    public var menu: SolverMenu
    /// The menu's answers per layer, once the job has finished.
    public var evaluated: MenuEvaluation?
    /// Layers that keep their settings (by layer index).
    public var pinned: Set<Int> = []
    /// The frontier over the evaluated, unpinned layers, and which of them each of its layers is.
    public var frontier: BudgetFrontier?
    public var frontierLayers: [Int] = []
    /// The frontier vertex the plan is at.
    public var vertex = 0
    /// The menu estimated from row samples, shown (marked as an estimate) until `evaluated` arrives; each
    /// layer's exact answers replace its estimates here as they are delivered (`delivered`).
    public var estimated: MenuEvaluation?
    public var sampling: MenuSampling?
    /// The exact answers delivered so far, layer by layer, while the menu job runs.
    public var delivered: MenuDelivery?

    public init(menu: SolverMenu) { self.menu = menu }

    /// Frontier vertices a `>` or `<` moves: about one fortieth of the way, at least one.
    public var step: Int { max(1, (frontier?.count ?? 1) / 40) }

    /// `layer`'s diagnostics, measured when the menu job decoded it.
    func diagnostics(layer: Int) -> LayerDiagnostics? {
        if evaluated == nil, let delivered, let k = delivered.layers.firstIndex(of: layer) { return delivered.diagnostics[k] }
        guard let evaluated, let k = evaluated.layers.firstIndex(of: layer) else { return nil }
        return evaluated.diagnostics[k]
    }

    /// The menu's answer for `layer` and option `j` (nil when the option does not fit, or not evaluated).
    func answer(layer: Int, option j: Int) -> LayerEvaluation? {
        guard let evaluated, let k = evaluated.layers.firstIndex(of: layer) else { return nil }
        return evaluated.results[k][j]
    }
}

extension AppState {
    /// The default menu for the model open: ggml types when its tensors are ggml blocks (a GGUF model),
    /// integer groups otherwise.
    var defaultSolverMenu: SolverMenu {
        records.contains { if case .ggml = $0.tensor.dtype { return true }; return false } ? .ggml : .integer
    }
}

/// Whole-model points of the frontier for the plot: bits per weight and SQNR at each vertex (the error
/// measure is the squared error, so the SQNR of a vertex follows from its error and the model's signal).
public struct BudgetCurve: Equatable, Sendable {
    public var points: [(x: Double, y: Double)]
    public static func == (a: BudgetCurve, b: BudgetCurve) -> Bool {
        a.points.count == b.points.count && zip(a.points, b.points).allSatisfy { $0.x == $1.x && $0.y == $1.y }
    }

    /// The curve for `budget` in `state`: the layers off the frontier count at their current numbers.
    init(_ budget: BudgetState, _ state: AppState) {
        guard let f = budget.frontier else { points = []; return }
        let on = Set(budget.frontierLayers)
        var fixedBytes = 0, fixedError = 0.0, signal = 0.0, parameters = 0
        for (i, r) in state.records.enumerated() {
            parameters += r.tensor.parameters
            signal += r.numbers.metrics?.sumSquares ?? 0
            guard !on.contains(i) else { continue }
            fixedBytes += r.numbers.bytes ?? r.tensor.bytes
            fixedError += r.numbers.metrics?.sumSquaredError ?? 0
        }
        points = zip(f.bytes, f.errors).map { bytes, error in
            let e = fixedError + max(0, error)
            return (Double((fixedBytes + bytes) * 8) / Double(max(1, parameters)), e > 0 ? 10 * log10(signal / e) : .infinity)
        }
    }
}

/// The estimated frontier for the pane while the exact menu runs: the curve over the estimated, unpinned
/// layers (others at their current numbers) and the widest SQNR half-interval over its points, in dB.
public struct EstimatedCurve: Equatable, Sendable {
    public var curve: BudgetCurve
    public var sqnrHalfWidth: Double

    init?(_ budget: BudgetState, _ state: AppState) {
        guard let estimated = budget.estimated, let sampling = budget.sampling else { return nil }
        var probe = budget
        probe.evaluated = estimated
        var layers: [Int] = [], indices: [Int] = [], options: [[SolverPoint?]] = []
        for (k, layer) in estimated.layers.enumerated() where !budget.pinned.contains(layer) {
            let points = estimated.results[k].map { $0.map { SolverPoint(bytes: $0.size.bytes, error: $0.metrics.sumSquaredError) } }
            guard points.contains(where: { $0 != nil }) else { continue }
            layers.append(layer)
            indices.append(k)
            options.append(points)
        }
        let frontier = BudgetFrontier(options: options)
        probe.frontier = frontier
        probe.frontierLayers = layers
        curve = BudgetCurve(probe, state)
        // Each vertex's squared-error interval, through the model's signal, as dB.
        let variance = indices.map { sampling.squaredErrorVariance[$0] }
        let part = MenuSampling(rowsSampled: [], rows: [], errorVariance: variance, squaredErrorVariance: variance, z: sampling.z)
        var widest = 0.0
        for (t, error) in frontier.errors.enumerated() where error > 0 {
            let h = part.halfWidth(choice: frontier.choice(prefix: t))
            let low = max(error - h, error * 1e-12)
            widest = max(widest, 10 * log10((error + h) / low) / 2)
        }
        sqnrHalfWidth = widest
    }
}

extension Reducer {
    /// `T`: turns budget mode on (evaluating the menu in the background) or off (the settings stay).
    static func toggleBudget(_ state: inout AppState) -> [Effect] {
        if state.budget != nil {
            state.budget = nil
            state.message = .init("budget mode off; the layers keep the settings the solver chose")
            return []
        }
        let menu = state.defaultSolverMenu
        state.budget = BudgetState(menu: menu)
        state.message = .init("budget mode: evaluating \(menu.options.count) options on every matrix…")
        return [.job(.evaluateMenu(menu))]
    }

    /// The row-sampled estimate arrived before the exact answers: kept for the pane (the layers' settings
    /// wait for exact numbers).
    static func menuEstimated(_ state: inout AppState, _ estimated: MenuEvaluation, _ sampling: MenuSampling) {
        guard var budget = state.budget, budget.menu == estimated.menu, budget.evaluated == nil else { return }
        (budget.estimated, budget.sampling) = budget.delivered?.replacing(in: (estimated, sampling)) ?? (estimated, sampling)
        state.budget = budget
        state.message = .init("budget mode: the frontier is estimated from row samples (~); exact numbers follow")
    }

    /// One layer's exact answers arrived while the menu job runs: they replace that layer's estimates, so the
    /// estimated frontier (and its interval) is drawn from the mix; once every layer is in, the menu is
    /// evaluated (`menuEvaluated`) and the layers follow the frontier.
    static func menuLayerEvaluated(_ state: inout AppState, _ answer: MenuLayerAnswer) -> [Effect] {
        guard var budget = state.budget, budget.menu == answer.menu, budget.evaluated == nil else { return [] }
        var delivered = budget.delivered.flatMap { $0.layers == answer.layers ? $0 : nil } ?? MenuDelivery(menu: answer.menu, layers: answer.layers)
        delivered.add(answer)
        budget.delivered = delivered
        if let estimated = budget.estimated, let sampling = budget.sampling {
            (budget.estimated, budget.sampling) = delivered.replacing(in: (estimated, sampling))
        }
        state.budget = budget
        guard let complete = delivered.complete else { return [] }
        return menuEvaluated(&state, complete)
    }

    /// The menu's answers arrived: build the frontier and start from the vertex nearest the current size.
    static func menuEvaluated(_ state: inout AppState, _ evaluated: MenuEvaluation) -> [Effect] {
        guard var budget = state.budget, budget.menu == evaluated.menu else { return [] }
        // Already built from the layers' answers as they were delivered (the same numbers).
        guard budget.evaluated != evaluated else { return [] }
        budget.evaluated = evaluated
        budget.estimated = nil
        budget.sampling = nil
        budget.delivered = nil
        state.budget = budget
        rebuildFrontier(&state, keepingBytes: state.totals.totals.bytesCompressed)
        state.message = .init("budget mode: > and < move the target, ! pins the focused layer")
        return applyBudget(&state)
    }

    /// `>` / `<`: the next or previous frontier step.
    static func moveTarget(_ state: inout AppState, up: Bool) -> [Effect] {
        guard var budget = state.budget, let f = budget.frontier else {
            state.message = .init(state.budget == nil ? "budget mode is off (T turns it on)" : "the menu is still being evaluated")
            return []
        }
        budget.vertex = max(0, min(f.count - 1, budget.vertex + (up ? budget.step : -budget.step)))
        state.budget = budget
        return applyBudget(&state)
    }

    /// `!`: pins or unpins the focused layer; the frontier is rebuilt at the same size.
    static func togglePin(_ state: inout AppState) -> [Effect] {
        guard var budget = state.budget, budget.evaluated != nil else {
            state.message = .init("budget mode is off (T turns it on)")
            return []
        }
        let layer = state.focus
        if budget.pinned.contains(layer) { budget.pinned.remove(layer) } else { budget.pinned.insert(layer) }
        state.budget = budget
        rebuildFrontier(&state, keepingBytes: state.totals.totals.bytesCompressed)
        return applyBudget(&state)
    }

    /// The frontier over the evaluated layers that are not pinned, at the vertex whose whole-model size is
    /// the largest within `bytes` (else the smallest).
    static func rebuildFrontier(_ state: inout AppState, keepingBytes bytes: Int) {
        guard var budget = state.budget, let evaluated = budget.evaluated else { return }
        var layers: [Int] = [], options: [[SolverPoint?]] = []
        for (k, layer) in evaluated.layers.enumerated() where !budget.pinned.contains(layer) {
            let points = evaluated.results[k].map { $0.map { SolverPoint(bytes: $0.size.bytes, error: $0.metrics.sumSquaredError) } }
            guard points.contains(where: { $0 != nil }) else { continue }
            layers.append(layer)
            options.append(points)
        }
        let frontier = BudgetFrontier(options: options)
        let onFrontier = Set(layers)
        let fixed = state.records.enumerated().reduce(0) { $0 + (onFrontier.contains($1.offset) ? 0 : ($1.element.numbers.bytes ?? $1.element.tensor.bytes)) }
        budget.frontier = frontier
        budget.frontierLayers = layers
        budget.vertex = frontier.prefix(within: bytes - fixed) ?? 0
        state.budget = budget
    }

    /// Gives every frontier layer its option at the current vertex, with the menu's answer as its numbers
    /// (the engine is told too, so its plan agrees; it answers from its cache).
    static func applyBudget(_ state: inout AppState) -> [Effect] {
        guard let budget = state.budget, let f = budget.frontier else { return [] }
        let choice = f.choice(prefix: budget.vertex)
        var effects: [Effect] = []
        var records = state.records   // one assignment: the totals are recomputed once
        for (k, layer) in budget.frontierLayers.enumerated() {
            let settings = budget.menu.options[choice[k]]
            guard records[layer].settings != settings else { continue }
            records[layer].edit(settings)
            let revision = records[layer].revision
            if let e = budget.answer(layer: layer, option: choice[k]) {
                records[layer].evaluation = AppState.Evaluation(EvaluationResult(layer: layer, settings: settings, revision: revision, outcome: .success(e)))
            }
            effects.append(.evaluate(layer: layer, settings: settings, revision: revision))
        }
        state.records = records
        return effects
    }
}
