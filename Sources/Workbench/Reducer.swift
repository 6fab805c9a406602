import Compression
import WeightFormats

/// Applies one action to the state and returns the work to start. Pure apart from `state`: no I/O, no
/// clocks, so every behaviour is a unit test.
///
/// Guarantees the run loop can rely on:
/// - at most one `.evaluate` per layer and at most one `.histogram` per call (a held key queues no backlog;
///   the engine also coalesces per layer);
/// - an `.evaluated` whose revision is not the layer's current one changes nothing;
/// - `.quit` is only ever emitted by the quit key.
public func reduce(_ state: inout AppState, _ action: Action) -> [Effect] {
    var effects: [Effect] = []
    switch action {
    case .input(let event):
        effects = Reducer.input(&state, event)
    case .analysed(let layer, let analysis):
        guard state.records.indices.contains(layer) else { return [] }
        var r = state.records[layer]
        r.analysis = analysis
        r.analysisFailure = nil
        state.records[layer] = r
    case .analysisFailed(let layer, let message):
        guard state.records.indices.contains(layer) else { return [] }
        state.records[layer].analysisFailure = message
        state.message = .init(DisplayText.escaped(state.records[layer].tensor.name) + ": " + message, isError: true)
    case .evaluated(let result):
        guard state.records.indices.contains(result.layer), result.revision == state.records[result.layer].revision,
              result.settings == state.records[result.layer].settings else { return [] }
        state.records[result.layer].evaluation = AppState.Evaluation(result)
        // A snapshot taken while this layer was pending gets its settled numbers.
        if var b = state.baseline, b.settings.indices.contains(result.layer), b.settings[result.layer] == result.settings {
            b.numbers[result.layer] = state.records[result.layer].numbers
            b.totals = ModelTotals(zip(state.records, b.numbers).map { ($0.0.tensor, $0.1) })
            state.baseline = b
        }
    case .evaluationsStale(let layers):
        effects = Reducer.reevaluate(&state, layers: layers)
    case .histogramReady(let request, let histogram):
        guard request == state.histogramRequested else { return [] }
        state.histogramReceived = histogram
    case .jobProgress(let p):
        if case .taskEval = p.job { return [] }   // the task line shows its own state
        if case .taskMetric = p.job, state.taskRun?.job != p.job { return [] }   // cancelled or replaced
        if case .recover = p.job, state.recoveryRun?.job != p.job { return [] }   // stopped
        state.progress = p.done >= p.total ? nil
            : AppState.Progress(done: p.done, total: p.total, label: p.phase?.label ?? p.job.label,
                                isCounted: p.phase?.isCounted ?? true)
    case .jobFinished(let job, let result):
        if case .taskEval = job {
            Reducer.taskEvaluated(&state, job, result)
            return []
        }
        if case .recover = job {
            Reducer.recoveryFinished(&state, job, result)
            return []
        }
        if case .taskMetric = job {
            guard state.taskRun?.job == job else { return [] }
            if let label = state.progress?.label, JobPhase.allCases.contains(where: { $0.label == label }) { state.progress = nil }
        }
        if state.progress?.label == job.label { state.progress = nil }
        if case .success(.menuEvaluated(let evaluated)) = result {
            effects = Reducer.menuEvaluated(&state, evaluated)
        } else {
            Reducer.finished(&state, job, result)
        }
    case .menuEstimated(let evaluated, let sampling):
        Reducer.menuEstimated(&state, evaluated, sampling)
    case .menuLayerEvaluated(let answer):
        effects = Reducer.menuLayerEvaluated(&state, answer)
    case .planSaved(let path):
        if let saved = state.pendingSave, saved.path == path {
            state.basePlan = saved.plan
            state.savedSettings = saved.settings
            state.pendingSave = nil
        }
        state.message = .init("saved plan to " + DisplayText.escaped(path))
        // Read it back and evaluate it as `report` will, so the user sees the file reproduces the screen.
        effects = [.job(.checkPlan(path: path))]
    case .failed(let message):
        state.pendingSave = nil
        state.message = .init(message, isError: true)
    }
    effects += Reducer.syncTaskLine(&state)
    effects += Reducer.estimates(for: effects, in: state)
    effects += Reducer.syncHistogram(&state)
    Reducer.keepFocusVisible(&state)
    return effects
}

/// The reducer's parts, split by concern across `Reducer+*.swift`.
enum Reducer {
    /// A job's answer becomes a message.
    static func finished(_ state: inout AppState, _ job: JobRequest, _ result: Result<JobResult, EvaluationFailure>) {
        if case .estimate = job {
            // Kept only for the revision it was made for, and only until the exact answer is in.
            if case .success(.estimated(let layer, let revision, let e)) = result, state.records.indices.contains(layer),
               state.records[layer].revision == revision, state.records[layer].evaluation == nil {
                state.records[layer].sampleEstimate = e
            }
            return
        }
        switch result {
        case .success(.planChecked(let path, let t)):
            let m = t.metrics
            state.message = .init("saved plan to " + DisplayText.escaped(path) + " · report: " + Format.bytes(t.bytesCompressed)
                                  + " · " + Format.fixed(t.bitsPerWeight, 2) + " bits/w · sparsity " + Format.percent(m.sparsity)
                                  + " · SQNR " + Format.sqnr(m.sqnrDB) + (m.sqnrDB.isFinite ? " dB" : ""))
        case .success(.modelWritten(let path, let container, let bytes, let values)):
            state.message = .init("wrote " + DisplayText.escaped(path) + " (" + container + ", " + Format.bytes(bytes)
                                  + ") · verified: \(values) values equal the reconstruction bit for bit")
        case .success(.taskMeasured(let value, let text, let seconds)):
            measured(&state, job, value: value, text: text, seconds: seconds)
        case .success(.menuEvaluated):
            break   // handled by `menuEvaluated`, which returns effects
        case .success(.estimated), .success(.taskScored), .success(.recovered):
            break
        case .failure(let f):
            if case .taskMetric = job { state.taskRun = nil }
            if case .evaluateMenu = job { state.budget = nil }
            state.message = .init((job.label == JobPhase.writingTemporary.label ? "task metric" : job.label) + ": " + f.message,
                                  isError: true)
        }
    }

    static func input(_ state: inout AppState, _ event: InputEvent) -> [Effect] {
        switch event {
        case .resize(let w, let h):
            state.width = max(0, w)
            state.height = max(0, h)
            return []
        case .mouse(let m):
            return mouse(&state, m)
        case .key(let key):
            state.message = nil
            if state.isConfirmingQuit {
                state.isConfirmingQuit = false
                if Keymap.command(for: key, in: state) == .quit {
                    state.isQuitting = true
                    return [.quit]
                }
            }
            if state.showHelp { return helpKey(&state, key) }
            if state.isEditingFilter { return filterKey(&state, key) }
            if state.isEditingValue {
                if let command = Keymap.command(for: key, in: state) { return run(&state, command) }
                if case .character(let ch) = key, !ch.isNewline { state.valueText.append(ch) }
                return []
            }
            if state.writePrompt != nil { return writePromptKey(&state, key) }
            guard let command = Keymap.command(for: key, in: state) else { return [] }
            return run(&state, command)
        }
    }

    /// Runs one command of the keymap.
    static func run(_ state: inout AppState, _ command: Command) -> [Effect] {
        switch command {
        case .moveUp: move(&state, by: -1)
        case .moveDown: move(&state, by: 1)
        case .first: move(&state, by: -state.records.count)
        case .last: move(&state, by: state.records.count)
        case .pageUp: move(&state, by: -Layout(width: state.width, height: state.height).tableRows)
        case .pageDown: move(&state, by: Layout(width: state.width, height: state.height).tableRows)
        case .nextPane: state.pane = AppState.Pane(rawValue: (state.pane.rawValue + 1) % 3)!
        case .previousPane: state.pane = AppState.Pane(rawValue: (state.pane.rawValue + 2) % 3)!
        case .startFilter: state.isEditingFilter = true
        case .sortNext:
            // `s` cycles the table's own columns; the diagnostics sorts have their keys (8, 9, 0).
            let all = AppState.SortColumn.cycled
            setSort(&state, all[((all.firstIndex(of: state.sort) ?? -1) + 1) % all.count], descending: state.sortDescending)
        case .toggleMetrics: state.showMetrics.toggle()
        case .toggleDiagnostics: state.showDiagnostics.toggle()
        case .toggleBudget: return toggleBudget(&state)
        case .targetUp: return moveTarget(&state, up: true)
        case .targetDown: return moveTarget(&state, up: false)
        case .pinLayer: return togglePin(&state)
        case .sortReverse: setSort(&state, state.sort, descending: !state.sortDescending)
        case .sortByFile, .sortByName, .sortByParams, .sortByBits, .sortBySparsity, .sortBySQNR, .sortBySize,
             .sortByKurtosis, .sortByErrorShare, .sortBySensitivity:
            let column = Keymap.sortColumn(command)!
            // The column's key again reverses; a new column starts with its most telling end first (largest
            // sizes, lowest SQNR) as `S` would have to find otherwise.
            let descending = column == state.sort ? !state.sortDescending : [.params, .bits, .sparsity, .size, .kurtosis, .errorShare, .sensitivity].contains(column)
            setSort(&state, column, descending: descending)
        case .toggleMark:
            if state.marked.contains(state.focus) { state.marked.remove(state.focus) } else { state.marked.insert(state.focus) }
        case .markAll: state.marked.formUnion(state.visibleLayers.filter { state.records[$0].tensor.isFloating })
        case .clearMarks: state.marked.removeAll()
        case .cancel:
            setFilter(&state, "")
            return cancelTaskMetric(&state) + cancelRecovery(&state)

        case .cyclePrune, .fineUp, .fineDown, .coarseUp, .coarseDown, .cycleNM, .cycleFormat, .bitsUp, .bitsDown,
             .toggleSymmetric, .cycleGranularity, .cycleClip, .thresholdUp, .thresholdDown:
            return tune(&state, command)
        case .cyclePreset:
            return applyNextPreset(&state)
        case .previousSetting, .nextSetting, .settingDown, .settingUp:
            return settingsPaneKey(&state, command)
        case .startValue:
            state.isEditingValue = true
            state.valueText = ""
        case .cancelValue:
            state.isEditingValue = false
        case .deleteValueCharacter:
            if !state.valueText.isEmpty { state.valueText.removeLast() }
        case .applyValue:
            state.isEditingValue = false
            return typedValue(&state, state.valueText)
        case .ruleFromFilter:
            return ruleFromFilter(&state)
        case .undo, .redo, .resetLayer, .takeSnapshot, .dropSnapshot:
            return history(&state, command)
        case .toggleApplyAll:
            if !state.applyToAll {
                state.applyToAll = true
                state.message = .init("edits apply to every shown matrix (rank ≥ 2, as a plan's default); * again adds vectors and biases")
            } else if !state.applyIncludesVectors {
                state.applyIncludesVectors = true
                state.message = .init("edits apply to every shown layer, vectors and biases too; * again stops")
            } else {
                state.applyToAll = false
                state.applyIncludesVectors = false
                state.message = .init("edits apply to the marked or focused layer")
            }

        case .toggleLogCounts: state.logCounts.toggle()
        case .cycleZoom: state.zoom = AppState.Zoom(rawValue: (state.zoom.rawValue + 1) % AppState.Zoom.allCases.count)!
        case .toggleClipView: state.clipToPercentile.toggle()
        case .toggleErrorView: state.showError.toggle()

        case .savePlan:
            let path = state.planPath ?? AppState.defaultPlanPath
            let plan = state.planToSave
            state.pendingSave = AppState.PendingSave(path: path, plan: plan, settings: state.records.map(\.settings))
            return [.savePlan(path: path, text: plan.jsonText())]
        case .measureTask:
            return measureTask(&state)
        case .recover:
            return toggleRecovery(&state)
        case .writeModel, .confirmWrite, .cancelWrite, .nextContainer, .deleteWriteCharacter:
            return writeModel(&state, command)
        case .help:
            state.showHelp = true
            state.helpScroll = 0
        case .quit:
            if state.hasUnsavedEdits {
                state.isConfirmingQuit = true
                state.message = .init("unsaved edits: q again quits without saving, w saves, any other key goes on", isError: true)
                return []
            }
            state.isQuitting = true
            return [.quit]

        case .closeHelp: state.showHelp = false
        case .scrollHelpUp: scrollHelp(&state, by: -1)
        case .scrollHelpDown: scrollHelp(&state, by: 1)
        case .pageHelpUp: scrollHelp(&state, by: -HelpView.visibleRows(height: state.height))
        case .pageHelpDown: scrollHelp(&state, by: HelpView.visibleRows(height: state.height))
        case .keepFilter: state.isEditingFilter = false
        case .clearFilter:
            state.isEditingFilter = false
            setFilter(&state, "")
        case .deleteFilterCharacter:
            var f = state.filter
            if !f.isEmpty { f.removeLast() }
            setFilter(&state, f)
        }
        return []
    }

    /// A new sort: the order is taken now and kept while editing, and the view jumps to the top, where the
    /// layers the sort was chosen to find are.
    static func setSort(_ state: inout AppState, _ column: AppState.SortColumn, descending: Bool) {
        state.sort = column
        state.sortDescending = descending
        state.sortOrder = nil
        state.sortOrder = state.liveOrder(Array(state.records.indices))
        state.scroll = 0
        if let first = state.visibleLayers.first { state.focus = first }
    }

    /// Scrolls the help screen, clamped to its text.
    static func scrollHelp(_ state: inout AppState, by delta: Int) {
        let limit = HelpView.maxScroll(width: state.width, height: state.height, unicode: state.useUnicode)
        state.helpScroll = max(0, min(limit, state.helpScroll + delta))
    }

    static func helpKey(_ state: inout AppState, _ key: Key) -> [Effect] {
        guard let command = Keymap.command(for: key, in: state) else { return [] }
        return run(&state, command)
    }

    /// While the filter prompt is open, printable characters are typed into it.
    static func filterKey(_ state: inout AppState, _ key: Key) -> [Effect] {
        if let command = Keymap.command(for: key, in: state) { return run(&state, command) }
        if case .character(let ch) = key, !ch.isNewline {
            setFilter(&state, state.filter + String(ch))
        }
        return []
    }
}

extension AppState {
    /// Where `w` saves when no `--plan` path was given (the run loop resolves it against the working directory).
    public static let defaultPlanPath = "weightlab-plan.json"

    /// The plan `w` writes: the opened plan with the edits since as few general rules (`Plan.saving`).
    public var planToSave: Plan {
        Plan.saving(records.map {
            (tensor: (name: $0.tensor.name, dtype: $0.tensor.dtype, shape: $0.tensor.shape), settings: $0.settings)
        }, over: basePlan)
    }

    /// The plan that reproduces the current settings, as file text.
    public var planText: String { planToSave.jsonText() }
}
