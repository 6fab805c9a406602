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

    /// What the status line calls it while it runs.
    public var label: String {
        switch self {
        case .checkPlan: "checking plan"
        case .writeModel: "writing model, MiB"
        }
    }
}

/// How far a job has come: `done` of `total` steps (layers, tensors, solver rounds).
public struct JobProgress: Equatable, Sendable {
    public var job: JobRequest
    public var done: Int
    public var total: Int

    public init(job: JobRequest, done: Int, total: Int) {
        self.job = job
        self.done = done
        self.total = total
    }
}

/// What a finished job produced.
public enum JobResult: Equatable, Sendable {
    /// The saved plan's totals as `report` computes them.
    case planChecked(path: String, totals: ModelTotals)
    /// The model written and verified: its path, container, size and the values compared.
    case modelWritten(path: String, container: String, bytes: Int, verifiedValues: Int)
}
