import Compression

/// Everything that can change the app state: user input and the answers to effects. The run loop turns
/// terminal events and background results into actions and passes them to `reduce`, on the main queue.
public enum Action: Sendable {
    case input(InputEvent)
    /// Answer to `Effect.analyse`.
    case analysed(layer: Int, LayerAnalysis)
    /// `Effect.analyse` could not read the layer.
    case analysisFailed(layer: Int, message: String)
    /// Answer to `Effect.evaluate` (dropped unless its revision is the layer's current one).
    case evaluated(EvaluationResult)
    /// Answer to `Effect.histogram` (dropped unless the pane still wants that request).
    case histogramReady(HistogramRequest, ValueHistogram)
    /// The engine found these layers' answers stale: a settings change moved another member into or out of
    /// their global magnitude group. They are evaluated again.
    case evaluationsStale(layers: [Int])
    /// Progress of `Effect.job`; `done == total` ends the progress display.
    case jobProgress(JobProgress)
    /// Answer to `Effect.job`: its result, or why it failed.
    case jobFinished(JobRequest, Result<JobResult, EvaluationFailure>)
    /// Budget mode's menu estimated from row samples, posted by the `evaluateMenu` job before its exact
    /// answers: the frontier drawn as an estimate until they arrive.
    case menuEstimated(MenuEvaluation, MenuSampling)
    /// One layer of budget mode's menu evaluated exactly, posted by the `evaluateMenu` job as each layer is
    /// done: it replaces that layer's estimates; the last one completes the menu.
    case menuLayerEvaluated(MenuLayerAnswer)
    /// Answer to `Effect.savePlan`.
    case planSaved(path: String)
    /// Any effect that failed; shown as a transient error message.
    case failed(message: String)
}
