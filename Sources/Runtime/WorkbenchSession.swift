import Compression
import Dispatch
import Foundation
import TaskEval
import WeightFormats
import Workbench

/// The run loop: the only owner of the UI state and the terminal. Input and background results become
/// actions for `reduce`; the effects `reduce` returns go to the `EffectRunner`. Between frames every pending
/// event and result is reduced, then the screen is drawn once, so key repeat and bursts of results cost one
/// frame. It runs against any `TerminalDevice`, so tests drive it with a fake terminal and a synchronous
/// scheduler.
public final class WorkbenchSession {
    public let model: Model
    public let theme: Theme
    public private(set) var state: AppState
    let terminal: any TerminalDevice
    let inbox: Inbox
    public let runner: EffectRunner
    /// Latency measurement for the benchmark (`WEIGHTLAB_TRACE=<file>`): when each key-started evaluation
    /// began, and results waiting for the frame that shows them.
    let trace: LatencyTrace?
    private var keyStarted: [Int: (revision: Int, at: UInt64)] = [:]
    private var shownPending: [(layer: Int, started: UInt64)] = []

    /// Opens the state for `model` and starts its analyses and evaluations. `notice` is shown on the hint row.
    /// `plan` is the plan `settings` came from: `w` keeps its rules and notes. `taskMetric` is `--eval`, for `E`.
    public init(model: Model, settings: [LayerSettings], planPath: String?, theme: Theme, terminal: any TerminalDevice,
                plan: Plan? = nil, scheduler: any Scheduler = InboxScheduler(), notice: String? = nil,
                taskMetric: TaskMetric? = nil, importance: ImportanceMatrix? = nil, taskSetup: TaskSetup? = nil,
                taskDebounce: Double = 0.3, recoverySetup: RecoverySetup? = nil,
                trace: LatencyTrace? = LatencyTrace.fromEnvironment()) {
        self.model = model
        self.terminal = terminal
        self.theme = theme
        self.trace = trace
        let inbox = Inbox()
        self.inbox = inbox
        runner = EffectRunner(model: model, scheduler: scheduler, inbox: inbox, importance: importance,
                              taskSetup: taskSetup, taskDebounce: taskDebounce, recoverySetup: recoverySetup)
        let size = terminal.size
        var (state, effects) = AppState.start(model: model, settings: settings, themeName: theme.name,
                                              planPath: planPath, width: size.width, height: size.height)
        state.useUnicode = terminal.isUnicode
        state.basePlan = plan
        state.importancePath = importance?.path
        state.taskMetricConfig = taskMetric.map { TaskMetricConfig(command: $0.command, metricPattern: $0.metricPattern) }
        if let notice { state.message = AppState.Message(notice) }
        if let taskSetup { effects += state.startTaskLine(dataName: (taskSetup.dataPath as NSString).lastPathComponent) }
        self.state = state
        run(effects)
    }

    /// Runs until the user quits. Returns normally; the caller closes the terminal.
    public func loop() {
        draw()
        while !state.isQuitting {
            // Wait briefly for input: short while work is running so results show within a frame or two.
            step(timeoutMilliseconds: isBusy ? 4 : 50)
        }
    }

    /// One turn of the loop: every queued input event (waiting up to `timeoutMilliseconds` for the first),
    /// then every background result, then one frame if anything changed. Returns whether it drew.
    @discardableResult
    public func step(timeoutMilliseconds: Int32 = 0) -> Bool {
        var changed = false
        if let first = terminal.nextEvent(timeoutMilliseconds: timeoutMilliseconds) {
            changed = true
            dispatch(.input(first))
            // Drain whatever else is queued (held keys, mouse drags) before drawing.
            while !state.isQuitting, let more = terminal.nextEvent(timeoutMilliseconds: 0) { dispatch(.input(more)) }
        }
        for action in inbox.drain() {
            changed = true
            dispatch(action)
        }
        if changed && !state.isQuitting { draw() }
        return changed && !state.isQuitting
    }

    /// Reduces background results until none is left (with a synchronous scheduler every answer has been
    /// posted by then), then draws. For tests and batch use.
    public func settle() {
        while inbox.hasPending {
            for action in inbox.drain() { dispatch(action) }
        }
        if !state.isQuitting { draw() }
    }

    public func draw() {
        terminal.draw(view(state, width: state.width, height: state.height), theme: theme)
        guard let trace else { return }
        trace.frameDrawn()
        for p in shownPending { trace.record("key_to_result_on_screen_ms layer=\(p.layer)", since: p.started) }
        shownPending.removeAll()
    }

    public func dispatch(_ action: Action) {
        if case .input(.resize) = action { terminal.invalidate() }
        let effects = reduce(&state, action)
        if trace != nil { noteLatency(action, effects) }
        run(effects)
    }

    private func run(_ effects: [Effect]) {
        // Stale answers are reduced at once (new revisions) so no stale number is shown as settled.
        for action in runner.run(effects, focus: state.focus) { dispatch(action) }
    }

    private func noteLatency(_ action: Action, _ effects: [Effect]) {
        let now = DispatchTime.now().uptimeNanoseconds
        if case .input(.key) = action {
            for case .evaluate(let layer, _, let revision) in effects { keyStarted[layer] = (revision, now) }
        }
        if case .evaluated(let r) = action, let k = keyStarted[r.layer], k.revision == r.revision {
            keyStarted[r.layer] = nil
            shownPending.append((r.layer, k.at))
        }
    }

    /// Work is running whose results the screen waits for: poll input briefly so they show within a few
    /// milliseconds.
    public var isBusy: Bool {
        runner.analysesOutstanding > 0 || inbox.hasPending || state.records.contains { r in
            r.tensor.isFloating && !r.settings.isIdentity && r.evaluation == nil && r.analysisFailure == nil
        }
    }
}
