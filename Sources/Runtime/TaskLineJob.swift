import Compression
import Foundation
import TaskEval
import WeightFormats
import Workbench

/// The workbench's task line (`open --eval-data`): the settings on screen run on the evaluation data by
/// TaskEval's evaluator (prepared once: the data and the original model's outputs), scored as the line shows it.
final class TaskLineJob: @unchecked Sendable {
    let setup: TaskSetup
    /// How long a request waits before it starts: a newer request cancels it meanwhile, so a held key or a
    /// burst of edits costs one evaluation, not one per edit.
    let debounce: Double
    private let lock = NSLock()
    private var evaluator: TaskEvaluator?

    init(setup: TaskSetup, debounce: Double) {
        self.setup = setup
        self.debounce = debounce
    }

    func run(settings: [LayerSettings], model: Model, engine: Engine, token: CancellationToken) -> Result<JobResult, EvaluationFailure> {
        var waited = 0.0
        while waited < debounce {
            if token.isCancelled { return .failure(EvaluationFailure(message: "cancelled")) }
            let step = min(0.02, debounce - waited)
            Thread.sleep(forTimeInterval: step)
            waited += step
        }
        do {
            let evaluator = try prepared(model: model, token: token)
            if token.isCancelled { throw CancellationError() }
            let report = try evaluator.evaluate(settings: settings, engine: engine, cancel: token)
            return .success(.taskScored(Self.score(report)))
        } catch let e as EvalError {
            return .failure(EvaluationFailure(message: e.message))
        } catch let e as ModelError {
            return .failure(EvaluationFailure(message: e.description))
        } catch {
            return .failure(EvaluationFailure(message: ErrorText.plain(error)))
        }
    }

    /// The evaluator, made by the first job that needs it (the original model runs once per session).
    func prepared(model: Model, token: CancellationToken) throws -> TaskEvaluator {
        try lock.withLock {
            if let evaluator { return evaluator }
            let made = try TaskEvaluator(model: model, setup: setup, cancel: token)
            evaluator = made
            return made
        }
    }

    /// The task line's spelling of a report: its headline metric, the original's value and the rest.
    static func score(_ r: TaskReport) -> TaskScore {
        func percent(_ v: Double) -> String { Workbench.Format.percent(v) }
        var details: [String] = []
        if let f = r.flipRate { details.append("flip " + percent(f)) }
        if let k = r.meanKL { details.append("KL " + Workbench.Format.fixed(k, 4)) }
        if let m = r.cosineMin { details.append("min cos " + Workbench.Format.fixed(m, 4)) }
        if let n = r.neighbourAgreement { details.append("NN " + percent(n)) }
        details.append("out SQNR " + Workbench.Format.sqnr(r.sqnr) + (r.sqnr.isFinite ? " dB" : ""))
        let h = r.headline
        let text: String
        switch h.name {
        case "cos": text = Workbench.Format.fixed(h.value, 4)
        case "out": text = Workbench.Format.sqnr(h.value) + (h.value.isFinite ? " dB" : "")
        default: text = percent(h.value)
        }
        return TaskScore(name: h.name, value: h.value, text: text, original: r.accuracyOriginal.map(percent),
                         details: details.joined(separator: " · "))
    }
}
