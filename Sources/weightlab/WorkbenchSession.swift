import Compression
import Dispatch
import Foundation
import Terminal
import WeightFormats
import Workbench

/// The run loop: the only owner of the UI state and the terminal, on the main thread. Input and background
/// results become actions for `reduce`; the effects `reduce` returns are executed here (evaluations by the
/// engine, analyses and histograms on a background queue, plan saving). Between frames every pending event
/// and result is reduced, then the screen is drawn once, so key repeat and bursts of results cost one frame.
final class WorkbenchSession {
    let model: Model
    let engine: Engine
    let screen: TerminalScreen
    let theme: Theme
    var state: AppState
    let inbox = Inbox()
    /// Analyses run one layer at a time (each split across cores), in the order the reducer asked.
    let analysisQueue = DispatchQueue(label: "weightlab.analysis", qos: .userInitiated)
    let histogramQueue = DispatchQueue(label: "weightlab.histogram", qos: .userInitiated)
    let globalQueue = DispatchQueue(label: "weightlab.global-pruning", qos: .userInitiated)
    /// Analyses started and not yet answered (the state counts progress itself; this only sets the pace).
    private var analysesPending = 0
    private var histogramToken = CancellationToken()
    /// Latency measurement for the benchmark (`WEIGHTLAB_TRACE=<file>`): when each key-started evaluation
    /// began, and results waiting for the frame that shows them.
    let trace = LatencyTrace.fromEnvironment()
    private var keyStarted: [Int: (revision: Int, at: UInt64)] = [:]
    private var shownPending: [(layer: Int, started: UInt64)] = []

    init(model: Model, settings: [LayerSettings], planPath: String?, theme: Theme, screen: TerminalScreen) {
        self.model = model
        self.screen = screen
        self.theme = theme
        engine = Engine(model: model, scheduler: InboxScheduler(inbox: inbox))
        let size = screen.size
        var (state, effects) = AppState.start(model: model, settings: settings, themeName: theme.name,
                                              planPath: planPath, width: size.width, height: size.height)
        state.useUnicode = screen.isUnicode
        self.state = state
        run(effects)
    }

    /// Runs until the user quits. Returns normally; the caller closes the screen.
    func loop() {
        draw()
        while !state.isQuitting {
            // Wait briefly for input: short while work is running so results show within a frame or two.
            let busy = analysesPending > 0 || inbox.hasPending || awaitingEngine
            var changed = false
            if let first = screen.nextEvent(timeoutMilliseconds: busy ? 4 : 50) {
                changed = true
                dispatch(.input(first))
                // Drain whatever else is queued (held keys, mouse drags) before drawing.
                while !state.isQuitting, let more = screen.nextEvent(timeoutMilliseconds: 0) { dispatch(.input(more)) }
            }
            for action in inbox.drain() {
                changed = true
                dispatch(action)
                switch action {
                case .analysed, .analysisFailed: analysesPending -= 1
                default: break
                }
            }
            if changed && !state.isQuitting { draw() }
        }
    }

    func draw() {
        screen.draw(view(state, width: state.width, height: state.height), theme: theme)
        guard let trace else { return }
        trace.frameDrawn()
        for p in shownPending { trace.record("key_to_result_on_screen_ms layer=\(p.layer)", since: p.started) }
        shownPending.removeAll()
    }

    func dispatch(_ action: Action) {
        if case .input(.resize) = action { screen.invalidate() }
        let effects = reduce(&state, action)
        if trace != nil { noteLatency(action, effects) }
        run(effects)
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

    func run(_ effects: [Effect]) {
        for effect in effects {
            switch effect {
            case .analyse(let layer):
                analyse(layer)
            case .evaluate(let layer, let settings, let revision):
                let urgent = layer == state.focus
                let deliver: @Sendable (EvaluationResult) -> Void = { [inbox] in inbox.post(.evaluated($0)) }
                if case .globalMagnitude = settings.prune {
                    // One threshold across every layer of the group, as `report` computes it: resolve the
                    // group's cuts (once per group; the engine caches them) before evaluating.
                    let all = state.settings
                    globalQueue.async { [engine, inbox] in
                        do {
                            try engine.prepareGlobalCuts(all)
                        } catch {
                            inbox.post(.failed(message: "global pruning: \(error)"))
                        }
                        engine.evaluate(layer: layer, settings: settings, revision: revision, urgent: urgent, deliver: deliver)
                    }
                } else {
                    engine.evaluate(layer: layer, settings: settings, revision: revision, urgent: urgent, deliver: deliver)
                }
            case .histogram(let request):
                histogram(request)
            case .savePlan(let path, let text):
                do {
                    try PlanFileWriter.write(text, to: path)
                    inbox.post(.planSaved(path: path))
                } catch {
                    inbox.post(.failed(message: "cannot save plan to \(path): \(error)"))
                }
            case .quit:
                state.isQuitting = true
            }
        }
    }

    func analyse(_ layer: Int) {
        analysesPending += 1
        let tensor = model.tensors[layer]
        analysisQueue.async { [inbox] in
            do {
                let a = try LayerAnalysis.analyse(tensor)
                inbox.post(.analysed(layer: layer, a))
            } catch let e as ModelError {
                inbox.post(.analysisFailed(layer: layer, message: e.reason))
            } catch {
                inbox.post(.analysisFailed(layer: layer, message: String(describing: error)))
            }
        }
    }

    func histogram(_ request: HistogramRequest) {
        histogramToken.cancel()
        let token = CancellationToken()
        histogramToken = token
        histogramQueue.async { [engine, inbox] in
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
                inbox.post(.failed(message: "histogram: \(error)"))
            }
        }
    }

    /// Some layer waits for the engine: poll input briefly so its result shows within a few milliseconds.
    var awaitingEngine: Bool {
        state.layers.indices.contains { i in
            state.layers[i].isFloating && !state.settings[i].isIdentity && state.currentEvaluation(i) == nil
                && state.analysisErrors[i] == nil
        }
    }
}

/// Appends timing lines to a file for `Benchmarks/workbench_latency.sh`; off unless WEIGHTLAB_TRACE is set.
final class LatencyTrace {
    let handle: FileHandle
    let processStart: UInt64
    private var framesDrawn = 0

    static func fromEnvironment() -> LatencyTrace? {
        guard let path = ProcessInfo.processInfo.environment["WEIGHTLAB_TRACE"], !path.isEmpty else { return nil }
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        guard let h = FileHandle(forWritingAtPath: path) else { return nil }
        return LatencyTrace(handle: h)
    }

    init(handle: FileHandle) {
        self.handle = handle
        processStart = LatencyTrace.launchTime
    }

    /// Set as early as `main` runs (see `Open.run`).
    nonisolated(unsafe) static var launchTime = DispatchTime.now().uptimeNanoseconds

    func frameDrawn() {
        framesDrawn += 1
        if framesDrawn == 1 { record("first_frame_ms", since: processStart) }
    }

    func record(_ what: String, since start: UInt64) {
        let ms = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
        handle.write(Data(String(format: "%@ %.2f\n", what, ms).utf8))
    }
}

/// Actions posted from background threads, drained by the run loop on the main thread.
final class Inbox: @unchecked Sendable {
    private let lock = NSLock()
    private var actions: [Action] = []

    func post(_ action: Action) { lock.withLock { actions.append(action) } }
    var hasPending: Bool { lock.withLock { !actions.isEmpty } }
    func drain() -> [Action] { lock.withLock { defer { actions.removeAll() }; return actions } }
}

/// The engine computes on its concurrent queue and delivers results by posting them to the inbox.
struct InboxScheduler: Scheduler {
    let inbox: Inbox
    let work = DispatchScheduler()
    func background(_ job: @escaping @Sendable () -> Void) { work.background(job) }
    func deliver(_ job: @escaping @Sendable () -> Void) { job() }
}

/// Writes a plan next to its destination and renames it into place: a crash never leaves half a plan, an
/// existing file is replaced atomically, and nothing is ever written to a model.
enum PlanFileWriter {
    static func write(_ text: String, to path: String) throws {
        let dir = (path as NSString).deletingLastPathComponent
        let tmp = (dir.isEmpty ? "." : dir) + "/.weightlab-plan-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        var ok = false
        defer { if !ok { unlink(tmp) } }
        let bytes = Array(text.utf8)
        var done = 0
        while done < bytes.count {
            let n = bytes[done...].withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR { continue }; close(fd); throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
            done += n
        }
        guard fsync(fd) == 0, close(fd) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        guard rename(tmp, path) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        ok = true
    }
}
