import Compression
import WeightFormats

/// The user's evaluation command as `weightlab MODEL --eval 'CMD {}' [--eval-metric REGEX]` gave it (checked
/// by the runtime's `TaskMetric` when the workbench opens).
public struct TaskMetricConfig: Equatable, Sendable {
    public var command: String
    public var metricPattern: String?

    public init(command: String, metricPattern: String? = nil) {
        self.command = command
        self.metricPattern = metricPattern
    }
}

/// The task-metric job in flight, with what is recorded once its number arrives: the label and the totals
/// the plan had when `E` was pressed (the settings written are those, not later edits').
public struct TaskRun: Equatable, Sendable {
    public var job: JobRequest
    public var label: String
    public var settings: [LayerSettings]
    public var totals: ModelTotals
}

/// One plan measured with the task metric: what it is called (its plan file when saved, else "unsaved #n"),
/// its size and SQNR (the numbers model's totals) and the metric, so two plans can be compared.
public struct MeasuredPlan: Equatable, Sendable {
    public var label: String
    public var settings: [LayerSettings]
    public var bytes: Int
    public var sqnrDB: Double
    public var metric: Double
    /// The metric as the command printed it.
    public var metricText: String

    /// `label 1.2 MiB 31.2 dB task 5.33`, for the message line.
    public var summary: String {
        label + " " + Format.bytes(bytes) + " " + Format.sqnr(sqnrDB) + (sqnrDB.isFinite ? " dB" : "") + " task " + metricText
    }
}

extension Reducer {
    /// `E`: apply the settings on screen to a temporary file and run the `--eval` command on it, in the
    /// background. A task metric already running is cancelled first (the newest settings win).
    static func measureTask(_ state: inout AppState) -> [Effect] {
        guard let config = state.taskMetricConfig else {
            state.message = .init("task metric: open with --eval 'CMD {}' ({} is the model file), e.g. --eval 'llama-perplexity -m {} -f wiki.txt'",
                                  isError: true)
            return []
        }
        var effects = cancelTaskMetric(&state, quietly: true)
        let model = state.modelPath ?? state.modelName
        let container = model.hasSuffix(".gguf") ? GGUFModelWriter.name : SafetensorsModelWriter.name
        let settings = state.records.map(\.settings)
        let job = JobRequest.taskMetric(command: config.command, metricPattern: config.metricPattern, container: container,
                                        settings: settings, planText: state.planText)
        let label: String
        if let plan = state.planPath, !state.hasUnsavedEdits {
            label = DisplayText.escaped(plan)
        } else {
            label = "unsaved #\(state.measuredPlans.filter { $0.label.hasPrefix("unsaved #") }.count + 1)"
        }
        state.taskRun = TaskRun(job: job, label: label, settings: settings, totals: state.totals.totals)
        state.message = .init("task metric of " + label + ": writing a temporary " + container + " model, then running --eval (Esc stops)")
        effects.append(.job(job))
        return effects
    }

    /// Esc: stops a running task metric (nothing when none runs).
    static func cancelTaskMetric(_ state: inout AppState, quietly: Bool = false) -> [Effect] {
        guard let run = state.taskRun else { return [] }
        state.taskRun = nil
        if let label = state.progress?.label, JobPhase.allCases.contains(where: { $0.label == label }) { state.progress = nil }
        if !quietly { state.message = .init("task metric of " + run.label + " stopped") }
        return [.cancelJob(run.job)]
    }

    /// The number arrived: recorded with the plan's totals, and every measured plan listed for comparison.
    static func measured(_ state: inout AppState, _ job: JobRequest, value: Double, text: String, seconds: Double) {
        guard let run = state.taskRun, run.job == job else { return }
        state.taskRun = nil
        let plan = MeasuredPlan(label: run.label, settings: run.settings, bytes: run.totals.bytesCompressed,
                                sqnrDB: run.totals.metrics.sqnrDB, metric: value, metricText: text)
        // Measuring the same plan again replaces its line.
        state.measuredPlans.removeAll { $0.label == plan.label || $0.settings == plan.settings }
        state.measuredPlans.append(plan)
        let others = state.measuredPlans.dropLast().suffix(3).reversed().map(\.summary)
        state.message = .init("task " + text + " (" + Format.fixed(seconds, 1) + " s) · " + plan.summary
                              + (others.isEmpty ? "" : " · vs " + others.joined(separator: " · ")))
    }
}

extension AppState {
    /// The task metric of the settings on screen, when they were measured.
    public var currentTaskMetric: MeasuredPlan? {
        let settings = records.map(\.settings)
        return measuredPlans.last { $0.settings == settings }
    }
}
