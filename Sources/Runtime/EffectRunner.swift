import Compression
import Foundation
import TaskEval
import WeightFormats
import Workbench

/// Executes the reducer's effects: evaluations and analyses through the engine, histograms and jobs on the
/// scheduler's background, plan saving inline. Every answer is posted to the inbox as an action, except
/// what must be reduced before anything else (`.evaluationsStale`, returned by `run`). With an immediate or
/// manual scheduler, tests drive it synchronously.
public final class EffectRunner {
    public let model: Model
    public let engine: Engine
    let inbox: Inbox
    let scheduler: any Scheduler
    private var histogramToken = CancellationToken()
    private var jobTokens: [JobRequest: CancellationToken] = [:]
    /// The task line's evaluation (`--eval-data`), when the workbench has one.
    let taskLine: TaskLineJob?
    /// What recovery (`F`) trains on (`open --data`), when the workbench has it.
    let recoverySetup: RecoverySetup?

    /// `importance`: the engine weighs with it (ggml's imatrix quantizers, the importance-weighted error).
    /// `taskSetup`: the task line's data (`taskDebounce` seconds pass before a request starts).
    public init(model: Model, scheduler: any Scheduler, inbox: Inbox, importance: ImportanceMatrix? = nil,
                taskSetup: TaskSetup? = nil, taskDebounce: Double = 0.3, recoverySetup: RecoverySetup? = nil) {
        self.model = model
        self.recoverySetup = recoverySetup
        taskLine = taskSetup.map { TaskLineJob(setup: $0, debounce: taskDebounce) }
        self.scheduler = scheduler
        self.inbox = inbox
        engine = Engine(model: model, scheduler: scheduler, importance: importance)
    }

    /// Runs one reduce's effects. `focus` is the layer in view (its evaluation goes first). Returns the
    /// actions to reduce at once: the layers whose answers these settings made stale.
    public func run(_ effects: [Effect], focus: Int) -> [Action] {
        var requests: [EvaluationRequest] = []
        for effect in effects {
            switch effect {
            case .analyse(let layer):
                engine.analyse(layer: layer) { [inbox] layer, result in
                    switch result {
                    case .success(let a): inbox.post(.analysed(layer: layer, a))
                    case .failure(let f): inbox.post(.analysisFailed(layer: layer, message: f.message))
                    }
                }
            case .evaluate(let layer, let settings, let revision):
                requests.append(EvaluationRequest(layer: layer, settings: settings, revision: revision))
            case .histogram(let request):
                histogram(request)
            case .savePlan(let path, let text):
                // The plan is the user's to replace; the model's files never are.
                do {
                    try AtomicFile.write(text, to: path, overwrite: true, inputs: model.sourceFiles)
                    inbox.post(.planSaved(path: path))
                } catch {
                    inbox.post(.failed(message: "cannot save plan to \(path): \(ErrorText.plain(error))"))
                }
            case .job(let job):
                start(job)
            case .cancelJob(let job):
                jobTokens[job]?.cancel()
                jobTokens[job] = nil
            case .quit:
                cancelAll()
            }
        }
        guard !requests.isEmpty else { return [] }
        // One batch, so a global magnitude group whose members all change at once is resolved once.
        let stale = engine.evaluate(requests, urgent: focus) { [inbox] in inbox.post(.evaluated($0)) }
        return stale.isEmpty ? [] : [.evaluationsStale(layers: stale)]
    }

    /// Stops background work that nobody will read (on quit).
    public func cancelAll() {
        engine.cancelAnalyses()
        histogramToken.cancel()
        for token in jobTokens.values { token.cancel() }
    }

    /// Analyses asked and not answered yet.
    public var analysesOutstanding: Int { engine.analysesOutstanding }

    func histogram(_ request: HistogramRequest) {
        histogramToken.cancel()
        let token = CancellationToken()
        histogramToken = token
        scheduler.background { [engine, inbox] in
            if token.isCancelled { return }
            let errorSettings: LayerSettings?
            switch request.kind {
            case .values: errorSettings = nil
            case .error(let s): errorSettings = s
            }
            do {
                let h = try engine.histogram(layer: request.layer, error: errorSettings, lo: request.lo, hi: request.hi,
                                             bins: request.bins, token: token)
                inbox.post(.histogramReady(request, h))
            } catch is CancellationError {
            } catch {
                inbox.post(.failed(message: "histogram: \(ErrorText.plain(error))"))
            }
        }
    }

    /// Starts `job` in the background, replacing a running job of the same request.
    func start(_ job: JobRequest) {
        jobTokens[job]?.cancel()
        if case .taskEval = job {
            // One task line job at a time: the newest settings replace any still waiting or running.
            for (other, token) in jobTokens { if case .taskEval = other { token.cancel(); jobTokens[other] = nil } }
        }
        if case .taskMetric = job {
            // One task metric at a time: the newest settings replace any still running.
            for (other, token) in jobTokens { if case .taskMetric = other { token.cancel(); jobTokens[other] = nil } }
        }
        if case .recover = job {
            // One recovery at a time.
            for (other, token) in jobTokens { if case .recover = other { token.cancel(); jobTokens[other] = nil } }
        }
        let token = CancellationToken()
        jobTokens[job] = token
        scheduler.background { [engine, inbox, model, taskLine, recoverySetup] in
            let result: Result<JobResult, EvaluationFailure>
            switch job {
            case .checkPlan(let path):
                result = PlanCheck.run(path: path, model: model, engine: engine, token: token) { done, total in
                    inbox.post(.jobProgress(JobProgress(job: job, done: done, total: total)))
                }
            case .writeModel(let path, let container, let settings, let planText):
                result = ModelWrite.run(path: path, container: container, settings: settings, planText: planText,
                                        model: model, engine: engine, token: token) { p in
                    // Writing, then verifying: each counts half, in MiB of the input.
                    let total = max(1, p.bytesTotal >> 20) * 2
                    let done = (p.phase == .writing ? 0 : total / 2) + Int(Double(p.bytesDone) / Double(max(1, p.bytesTotal)) * Double(total / 2))
                    inbox.post(.jobProgress(JobProgress(job: job, done: min(done, total - 1), total: total)))
                }
            case .estimate(let layer, let settings, let revision):
                do {
                    if let e = try engine.estimate(layer: layer, settings: settings, token: token) {
                        result = .success(.estimated(layer: layer, revision: revision, e))
                    } else {
                        result = .failure(EvaluationFailure(message: "no estimate for these settings"))
                    }
                } catch {
                    result = .failure(EvaluationFailure(message: ErrorText.plain(error)))
                }
            case .taskMetric(let command, let pattern, let container, let settings, let planText):
                result = TaskMetricJob.run(command: command, metricPattern: pattern, container: container, settings: settings,
                                           planText: planText, model: model, engine: engine, token: token) { p in
                    inbox.post(.jobProgress(p.progress(of: job)))
                }
            case .taskEval(let settings, _):
                guard let taskLine else {
                    result = .failure(EvaluationFailure(message: "no evaluation data: open the workbench with --eval-data"))
                    break
                }
                result = taskLine.run(settings: settings, model: model, engine: engine, token: token)
            case .recover(_, let planText):
                result = RecoveryJob.run(planText: planText, setup: recoverySetup, model: model, token: token) { p in
                    inbox.post(.jobProgress(JobProgress(job: job, done: p.epoch * p.batches + p.batch, total: p.epochs * p.batches)))
                }
            case .evaluateMenu(let menu):
                // The row-sampled estimate first (a fraction of the time), then the exact menu.
                if let (estimated, sampling) = MenuJob.estimate(menu: menu, model: model, engine: engine, token: token) {
                    inbox.post(.menuEstimated(estimated, sampling))
                }
                result = MenuJob.run(menu: menu, model: model, engine: engine, token: token, progress: { done, total in
                    inbox.post(.jobProgress(JobProgress(job: job, done: done, total: total)))
                }, layerDone: { answer in
                    // Each layer's exact answers as soon as they are in: they replace its estimates on screen.
                    if !token.isCancelled { inbox.post(.menuLayerEvaluated(answer)) }
                })
            }
            if token.isCancelled { return }
            inbox.post(.jobFinished(job, result))
        }
    }
}

/// The `evaluateMenu` job: every option on every weight matrix (floating, rank ≥ 2, some option fits).
enum MenuJob {
    static func run(menu: SolverMenu, model: Model, engine: Engine, token: CancellationToken,
                    progress: @escaping @Sendable (Int, Int) -> Void,
                    layerDone: @escaping @Sendable (MenuLayerAnswer) -> Void = { _ in }) -> Result<JobResult, EvaluationFailure> {
        do {
            let layers = layers(menu, model)
            return .success(.menuEvaluated(try engine.evaluateMenu(menu, layers: layers, cancel: token, progress: progress) { k, results, diagnostics in
                layerDone(MenuLayerAnswer(menu: menu, layers: layers, index: k, results: results, diagnostics: diagnostics))
            }))
        } catch {
            return .failure(EvaluationFailure(message: ErrorText.plain(error)))
        }
    }
}

extension MenuJob {
    static func layers(_ menu: SolverMenu, _ model: Model) -> [Int] {
        model.tensors.indices.filter { i in
            let t = model.tensors[i]
            return t.isFloating && t.shape.count >= 2 && menu.options.contains { SolverMenu.fits($0, shape: t.shape) }
        }
    }

    /// The menu estimated from row samples (`Engine.estimateMenu`, squared error as budget mode measures
    /// it); nil when cancelled or unreadable (the exact pass then says why).
    static func estimate(menu: SolverMenu, model: Model, engine: Engine, token: CancellationToken) -> (MenuEvaluation, MenuSampling)? {
        try? engine.estimateMenu(menu, layers: layers(menu, model), measure: .mse, cancel: token)
    }
}

/// The `checkPlan` job: the saved file read back and evaluated on every layer, as `report` does.
enum PlanCheck {
    static func run(path: String, model: Model, engine: Engine, token: CancellationToken,
                    progress: @escaping @Sendable (Int, Int) -> Void) -> Result<JobResult, EvaluationFailure> {
        do {
            let settings = try PlanEvaluation.resolve(path, for: model)
            let evaluation = try PlanEvaluation(model: model, settings: settings, engine: engine, cancel: token,
                                                progress: progress)
            return .success(.planChecked(path: path, totals: evaluation.totals))
        } catch {
            return .failure(EvaluationFailure(message: ErrorText.plain(error)))
        }
    }
}

/// The `writeModel` job: `weightlab apply` from the workbench, with the engine that already holds the plan's
/// global groups. The message names the path and the verification; any failure leaves no file.
enum ModelWrite {
    static func run(path: String, container: String, settings: [LayerSettings], planText: String, model: Model,
                    engine: Engine, token: CancellationToken,
                    progress: @escaping @Sendable (ApplyProgress) -> Void) -> Result<JobResult, EvaluationFailure> {
        do {
            let o = try ModelApply.run(model: model, settings: settings, planText: planText, output: path,
                                       container: container, overwrite: false, verify: true, numbers: false,
                                       engine: engine, cancel: token, progress: progress)
            return .success(.modelWritten(path: path, container: o.container, bytes: o.bytesWritten, verifiedValues: o.verifiedValues))
        } catch let e as ModelError {
            return .failure(EvaluationFailure(message: e.description))
        } catch {
            return .failure(EvaluationFailure(message: String(describing: error)))
        }
    }
}
