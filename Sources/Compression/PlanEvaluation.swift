import WeightFormats

/// A plan evaluated on every layer of a model, as the shared numbers model gives it: what `weightlab report`
/// prints, what the workbench's "check the saved plan" job shows, and what tests compare the screen with.
public struct PlanEvaluation: Sendable {
    public let model: Model
    public let settings: [LayerSettings]
    /// One per tensor: the engine's answer, or the tensor as stored (integer and bool tensors).
    public let layers: [LayerNumbers]
    public let totals: ModelTotals
    /// With an importance matrix (the engine's): each tensor's importance-weighted error (nil for tensors
    /// without an entry) and the model's, all weighted sums added.
    public let importanceErrors: [ImportanceWeightedError?]
    public var importanceTotal: ImportanceWeightedError? {
        let present = importanceErrors.compactMap { $0 }
        guard !present.isEmpty else { return nil }
        return present.reduce(into: ImportanceWeightedError()) { $0.merge($1) }
    }

    /// Evaluates `settings` (one per tensor) with `engine` (a fresh one by default; the workbench passes its
    /// own, whose cache already holds most layers). `progress` gets (layers done, layers total).
    /// `diagnose` gathers every layer's diagnostics in the same pass (`diagnostics()` then decodes only
    /// what the pass did not: layers answered from the engine's cache).
    public init(model: Model, settings: [LayerSettings], engine: Engine? = nil, diagnose: Bool = false,
                cancel: CancellationToken = CancellationToken(),
                progress: @Sendable (Int, Int) -> Void = { _, _ in }) throws {
        self.model = model
        self.settings = settings
        let engine = engine ?? Engine(model: model, scheduler: ImmediateScheduler())
        let (evaluations, diagnostics) = try engine.evaluateAll(settings, diagnose: diagnose, cancel: cancel, progress: progress)
        if diagnose { firstPassDiagnostics = diagnostics }
        let tensors = model.tensors.map(TensorInfo.init)
        layers = zip(tensors, evaluations).map { LayerNumbers.evaluated($0, $1) }
        totals = ModelTotals(Array(zip(tensors, layers)))
        importanceErrors = evaluations.map { $0?.importanceError }
    }

    /// The numbers of evaluations already made (one per tensor, nil for tensors that are not evaluated), as
    /// `apply` gets them from the engine while it verifies what it wrote.
    public init(model: Model, settings: [LayerSettings], evaluations: [LayerEvaluation?]) {
        self.model = model
        self.settings = settings
        let tensors = model.tensors.map(TensorInfo.init)
        layers = zip(tensors, evaluations).map { LayerNumbers.evaluated($0, $1) }
        totals = ModelTotals(Array(zip(tensors, layers)))
        importanceErrors = evaluations.map { $0?.importanceError }
    }

    /// Loads the plan (first: a bad plan is reported before the model is read), opens the model, resolves
    /// the plan against it and evaluates it.
    /// `imatrixPath` (else the plan's `imatrix`) names an importance matrix: ggml types are quantized with it
    /// and the importance-weighted error is measured.
    public init(modelPath: String, planPath: String, strict: Bool = false, imatrixPath: String? = nil, diagnose: Bool = false,
                progress: @Sendable (Int, Int) -> Void = { _, _ in }) throws {
        var plan = try Self.load(planPath)
        let model = try ModelFile.open(modelPath)
        let importance = try ImportanceMatrix.forCommand(override: imatrixPath, plan: plan, planPath: planPath, model: model)
        if let imatrixPath { plan.imatrix = ImportanceMatrix.absolute(imatrixPath) }   // a preset's choices depend on whether there is one
        if plan.solve != nil {
            // A plan that asks for a solution is solved first (see `PlanSolving`).
            self = try Self.solved(plan, model: model, engine: Engine(model: model, scheduler: ImmediateScheduler(), importance: importance),
                                   strict: strict, progress: progress)
            return
        }
        let resolution = try Self.resolution(plan, for: model, strict: strict)
        try ImportanceRequirement.checkEntries(resolution.settings, model: model, preset: plan.preset, importance: importance)
        let engine = Engine(model: model, scheduler: ImmediateScheduler(), importance: importance)
        try self.init(model: model, settings: resolution.settings, engine: engine, diagnose: diagnose, progress: progress)
        warnings = resolution.warnings
        skipped = resolution.skipped
    }

    /// Rules of the plan that matched nothing (see `PlanResolution.warnings`); empty when built from settings.
    public internal(set) var warnings: [PlanError] = []
    /// Diagnostics gathered while evaluating (`diagnose`), nil per layer the pass did not decode.
    var firstPassDiagnostics: [LayerDiagnostics?]? = nil
    /// Tensors the plan's default or rules left alone, and why.
    public internal(set) var skipped: [PlanSkip] = []

    /// The plan at `path` resolved against `model`'s tensors.
    public static func resolve(_ path: String, for model: Model) throws -> [LayerSettings] {
        try resolve(try load(path), for: model)
    }

    // Out of line: inlining the typed-throws `Plan.load`/`resolve` into an untyped `do`/`catch` crashes the
    // Swift 6.3 optimiser (release builds only).
    @inline(never)
    public static func load(_ path: String) throws -> Plan { try Plan.load(path: path) }

    @inline(never)
    public static func resolution(_ plan: Plan, for model: Model, strict: Bool) throws -> PlanResolution {
        try refuseUnsolved(plan)
        return try plan.resolution(for: model.tensors, metadata: model.metadata, strict: strict)
    }

    @inline(never)
    static func resolve(_ plan: Plan, for model: Model) throws -> [LayerSettings] {
        try refuseUnsolved(plan)
        return try plan.resolve(for: model.tensors, metadata: model.metadata)
    }

    /// A plan with `solve` names no settings until it is solved: only `report` solves it here, so anything
    /// else that would resolve it (apply, export, the workbench) says so rather than use its default alone.
    static func refuseUnsolved(_ plan: Plan) throws {
        guard plan.solve != nil else { return }
        throw PlanError(path: plan.source, field: "solve",
                        reason: "the plan asks the solver for its settings; write them out with `weightlab solve MODEL --target-… -o PLAN` and use that plan")
    }
}
