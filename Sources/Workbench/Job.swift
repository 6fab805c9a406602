import Compression

/// Long work the runtime runs in the background with progress (`Effect.job`), answered by
/// `Action.jobProgress` while it runs and one `Action.jobFinished`. A new job of the same kind replaces a
/// running one. Writing a model and a solver run will be cases here.
public enum JobRequest: Hashable, Sendable {
    /// Read a saved plan back from its file and evaluate it on every layer, as `weightlab report` does, so
    /// the user sees that the file reproduces what the screen shows.
    case checkPlan(path: String)
    /// Write the model with `settings` (one per tensor) to `path` in `container` (a `ModelWriters` name),
    /// verified before it is put in place, as `weightlab apply` does. Progress is in MiB of the input.
    case writeModel(path: String, container: String, settings: [LayerSettings], planText: String)
    /// The task metric (`E`): write the model with `settings` to a temporary file in `container` (verified),
    /// run the user's `--eval` command on it (`metricPattern` is `--eval-metric`), delete the file.
    case taskMetric(command: String, metricPattern: String?, container: String, settings: [LayerSettings], planText: String)
    /// The task line (`--eval-data`): the compressed model with `settings` run on the evaluation data and
    /// compared with the original (TaskEval). `revision` tells apart requests for equal settings. The run loop
    /// waits a moment before starting it, so a burst of edits (each cancelling the previous job) runs once.
    case taskEval(settings: [LayerSettings], revision: Int)
    /// Budget mode: every option of the menu evaluated on every weight matrix (`Engine.evaluateMenu`: each
    /// layer decoded once), so the solver can answer any target at once.
    case evaluateMenu(SolverMenu)
    /// A row-sample estimate of `settings` on a large layer (`RowSampleEstimate`), shown marked as an
    /// estimate while the engine's exact evaluation of the same revision runs.
    case estimate(layer: Int, settings: LayerSettings, revision: Int)
    /// Recovery (`F`): the model compressed with `settings` (`planText` is the plan they save as) fine-tuned on
    /// the workbench's training data (`open --data`), as `weightlab recover` does, and its accuracy measured.
    case recover(settings: [LayerSettings], planText: String)

    /// What the status line calls it while it runs (a job with phases names each phase instead).
    public var label: String {
        switch self {
        case .checkPlan: "checking plan"
        case .writeModel: "writing model, MiB"
        case .taskMetric: JobPhase.writingTemporary.label
        case .taskEval: "task"
        case .evaluateMenu: "evaluating the menu, layers"
        case .estimate: "estimating"
        case .recover: "recovering, batches"
        }
    }
}

/// A named stage of a job with several (the task metric writes a temporary model, then evaluates it), so
/// the status line says which one runs.
public enum JobPhase: Equatable, Sendable, CaseIterable {
    case writingTemporary, evaluatingTask

    public var label: String {
        switch self {
        case .writingTemporary: "task metric: writing, MiB"
        case .evaluatingTask: "task metric: evaluating"
        }
    }

    /// Whether done/total mean anything (an evaluation command reports no progress of its own).
    public var isCounted: Bool { self == .writingTemporary }
}

/// How far a job has come: `done` of `total` steps (layers, tensors, solver rounds).
public struct JobProgress: Equatable, Sendable {
    public var job: JobRequest
    public var done: Int
    public var total: Int
    /// The stage, for a job with several.
    public var phase: JobPhase?

    public init(job: JobRequest, done: Int, total: Int, phase: JobPhase? = nil) {
        self.job = job
        self.done = done
        self.total = total
        self.phase = phase
    }
}

/// What a finished job produced.
public enum JobResult: Equatable, Sendable {
    /// The saved plan's totals as `report` computes them.
    case planChecked(path: String, totals: ModelTotals)
    /// The model written and verified: its path, container, size and the values compared.
    case modelWritten(path: String, container: String, bytes: Int, verifiedValues: Int)
    /// The user's evaluation command's number on the temporary model, as printed (`text`), and how long the
    /// command ran.
    case taskMeasured(value: Double, text: String, seconds: Double)
    /// The task line's score of a `taskEval` job's settings.
    case taskScored(TaskScore)
    /// Budget mode's menu, evaluated.
    case menuEvaluated(MenuEvaluation)
    /// A layer's row-sample estimate for a revision of its settings.
    case estimated(layer: Int, revision: Int, RowSampleEstimate)
    /// A `recover` job's accuracies and the recovered model's temporary file.
    case recovered(RecoveryScore)
}
