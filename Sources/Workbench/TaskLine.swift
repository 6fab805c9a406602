import Compression

/// One plan's task metric as the task line shows it (built by the runtime from TaskEval's report, so this
/// module needs no evaluation code): the headline number, its spelling, the original model's value.
public struct TaskScore: Equatable, Sendable {
    /// Short name of the headline metric: `acc` (accuracy with labels), `agree` (share of predictions that
    /// did not flip), `cos` (mean embedding cosine) or `out` (output SQNR).
    public var name: String
    public var value: Double
    /// The value as shown (`85.2%`, `0.9013`, `31.2 dB`).
    public var text: String
    /// The original model's value as shown, when the metric has one (accuracy).
    public var original: String?
    /// The secondary metrics, for the message line (`flip 1.5% · KL 0.0123`).
    public var details: String

    public init(name: String, value: Double, text: String, original: String? = nil, details: String = "") {
        self.name = name
        self.value = value
        self.text = text
        self.original = original
        self.details = details
    }
}

/// The built-in task metric beside the weight totals (`open --eval-data D`): recomputed in the background
/// whenever the settings on screen change (the run loop debounces: a newer request cancels an older one
/// before it starts), with the previous plan's value kept for comparison.
public struct TaskLine: Equatable, Sendable {
    /// A plan's settings and their score.
    public struct Measured: Equatable, Sendable {
        public var settings: [LayerSettings]
        public var score: TaskScore
    }

    /// What the data is called on screen (its file name).
    public var dataName: String
    /// The settings the newest job was asked for (nil before the first request).
    public var requested: [LayerSettings]?
    /// The job in flight, if any.
    public var job: JobRequest?
    /// Counts requests, so asking again for settings measured before is a new job.
    public var revision = 0
    /// The newest result and the one before it (of other settings): the task line compares them.
    public var latest: Measured?
    public var prior: Measured?
    /// The last job's failure, shown until the next result.
    public var failure: String?

    public init(dataName: String) { self.dataName = dataName }

    /// The score of `settings`, if the newest result is theirs.
    public func score(for settings: [LayerSettings]) -> TaskScore? {
        latest?.settings == settings ? latest?.score : nil
    }
}

extension Reducer {
    /// After every reduce: when the settings on screen differ from those last requested, the running task
    /// job is cancelled and a new one asked for. Settings measured last need no job.
    static func syncTaskLine(_ state: inout AppState) -> [Effect] {
        guard var line = state.taskLine else { return [] }
        let settings = state.records.map(\.settings)
        guard line.requested != settings else { return [] }
        var effects: [Effect] = []
        if let running = line.job { effects.append(.cancelJob(running)) }
        line.requested = settings
        line.job = nil
        if line.latest?.settings != settings {
            line.revision += 1
            let job = JobRequest.taskEval(settings: settings, revision: line.revision)
            line.job = job
            effects.append(.job(job))
        }
        state.taskLine = line
        return effects
    }

    /// A task job's answer: the newest value (the one it replaces becomes the comparison), or its failure.
    static func taskEvaluated(_ state: inout AppState, _ job: JobRequest, _ result: Result<JobResult, EvaluationFailure>) {
        guard var line = state.taskLine, line.job == job, case .taskEval(let settings, _) = job else { return }
        line.job = nil
        switch result {
        case .success(.taskScored(let score)):
            if let latest = line.latest, latest.settings != settings { line.prior = latest }
            line.latest = TaskLine.Measured(settings: settings, score: score)
            line.failure = nil
        case .success:
            break
        case .failure(let f):
            line.failure = f.message
            state.message = .init("task line (" + line.dataName + "): " + f.message, isError: true)
        }
        state.taskLine = line
    }
}

extension AppState {
    /// The first task job, for the settings the workbench opens with (`reduce` asks for later ones itself).
    public mutating func startTaskLine(dataName: String) -> [Effect] {
        taskLine = TaskLine(dataName: dataName)
        return Reducer.syncTaskLine(&self)
    }
}
