import WeightFormats

/// A plan's `solve` section answered on a model: the problem (menu evaluated on every solved layer) and the
/// least-error settings within the target. `report` of a plan with `solve` and `weightlab solve` both come
/// here, so the two print the same numbers.
public enum PlanSolving {
    /// `menu` (else the plan's, else the model family's default) evaluated with `engine`; the plan's default,
    /// rules and pins give what pinned and unsolved tensors keep. `estimate` (elements sampled per layer)
    /// estimates the menu from row samples instead (`BudgetProblem.sampling`).
    public static func problem(_ plan: Plan, model: Model, engine: Engine, menu: SolverMenu? = nil, strict: Bool = false,
                               estimate: Int? = nil, cancel: CancellationToken = CancellationToken(),
                               progress: @Sendable (Int, Int) -> Void = { _, _ in }) throws -> (problem: BudgetProblem, resolution: PlanResolution) {
        let solve = plan.solve ?? PlanSolve(target: .bitsPerWeight(16))
        let (resolution, pinned) = try base(plan, model: model, strict: strict)
        let problem = try BudgetProblem(model: model, engine: engine, menu: menu ?? solve.menu ?? .default(for: model),
                                        measure: solve.error, baseSettings: resolution.settings, pinned: pinned,
                                        estimate: estimate, cancel: cancel, progress: progress)
        return (problem, resolution)
    }

    // Out of line: typed throws inlined into an untyped do/catch crash the Swift 6.3 optimiser.
    @inline(never)
    static func base(_ plan: Plan, model: Model, strict: Bool) throws -> (resolution: PlanResolution, pinned: [Bool]) {
        try plan.solveBase(for: model.tensors.map { ($0.name, $0.dtype, $0.shape) }, metadata: model.metadata, strict: strict)
    }
}

extension PlanEvaluation {
    /// The settings a plan with `solve` resolves to on `model`, evaluated (the solver's prediction is what
    /// the engine measures: the same evaluations).
    static func solved(_ plan: Plan, model: Model, engine: Engine, strict: Bool,
                       progress: @Sendable (Int, Int) -> Void) throws -> PlanEvaluation {
        let (problem, resolution) = try PlanSolving.problem(plan, model: model, engine: engine, strict: strict, progress: progress)
        var evaluation = try problem.solve(plan.solve!.target).evaluation
        evaluation.warnings = resolution.warnings
        evaluation.skipped = resolution.skipped
        return evaluation
    }
}
