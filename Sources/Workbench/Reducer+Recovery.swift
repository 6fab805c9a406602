import Compression
import WeightFormats

/// What a recovery measured (built by the runtime from Training's report, so this module needs no training
/// code): top-1 accuracy of the original, the compressed and the recovered model on the evaluation data, the
/// plan's compressed size, and the recovered model's file (temporary, kept for the user to copy).
public struct RecoveryScore: Equatable, Sendable {
    public var original: Double
    public var compressed: Double
    public var recovered: Double
    public var bytesCompressed: Int
    public var output: String
    public var seconds: Double

    public init(original: Double, compressed: Double, recovered: Double, bytesCompressed: Int, output: String, seconds: Double) {
        self.original = original
        self.compressed = compressed
        self.recovered = recovered
        self.bytesCompressed = bytesCompressed
        self.output = output
        self.seconds = seconds
    }

    /// `recovered: acc 87.1% (original 87.8%, compressed 44.4%) · 100.0 KiB`, beside the totals.
    public var summary: String {
        "recovered: acc " + Format.percent(recovered) + " (original " + Format.percent(original) + ", compressed "
            + Format.percent(compressed) + ") · " + Format.bytes(bytesCompressed)
    }
}

/// The recovery job in flight and the settings it was started for (later edits do not change what it trains).
public struct RecoveryRun: Equatable, Sendable {
    public var job: JobRequest
    public var settings: [LayerSettings]
}

/// The last recovery's numbers and the settings they belong to: shown while those settings are on screen.
public struct RecoveredPlan: Equatable, Sendable {
    public var settings: [LayerSettings]
    public var score: RecoveryScore
}

extension Reducer {
    /// `F`: fine-tune the settings on screen on the training data in the background; `F` again stops it.
    static func toggleRecovery(_ state: inout AppState) -> [Effect] {
        if state.recoveryRun != nil { return cancelRecovery(&state) }
        let settings = state.records.map(\.settings)
        let job = JobRequest.recover(settings: settings, planText: state.planText)
        state.recoveryRun = RecoveryRun(job: job, settings: settings)
        state.message = .init("recovery: fine-tuning the plan on screen in the background (F or Esc stops)")
        return [.job(job)]
    }

    /// `F` while recovering, or Esc: stops the recovery (nothing when none runs).
    static func cancelRecovery(_ state: inout AppState) -> [Effect] {
        guard let run = state.recoveryRun else { return [] }
        state.recoveryRun = nil
        if state.progress?.label == run.job.label { state.progress = nil }
        state.message = .init("recovery stopped")
        return [.cancelJob(run.job)]
    }

    /// The recovery's answer: its numbers kept for its settings, or its failure on the message line.
    static func recoveryFinished(_ state: inout AppState, _ job: JobRequest, _ result: Result<JobResult, EvaluationFailure>) {
        guard let run = state.recoveryRun, run.job == job else { return }
        state.recoveryRun = nil
        if state.progress?.label == job.label { state.progress = nil }
        switch result {
        case .success(.recovered(let score)):
            state.recovered = RecoveredPlan(settings: run.settings, score: score)
            state.message = .init(score.summary + " (" + Format.fixed(score.seconds, 1) + " s) · recovered model: "
                                  + DisplayText.escaped(score.output))
        case .success:
            break
        case .failure(let f):
            state.message = .init("recovery: " + f.message, isError: true)
        }
    }
}

extension AppState {
    /// The last recovery's numbers, when they are of the settings on screen.
    public var currentRecovery: RecoveryScore? {
        recovered?.settings == records.map(\.settings) ? recovered?.score : nil
    }
}
