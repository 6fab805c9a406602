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
        guard state.layers.indices.contains(layer) else { return [] }
        state.analyses[layer] = analysis
        state.analysisErrors[layer] = nil
    case .analysisFailed(let layer, let message):
        guard state.layers.indices.contains(layer) else { return [] }
        state.analysisErrors[layer] = message
        state.message = .init(DisplayText.escaped(state.layers[layer].name) + ": " + message, isError: true)
    case .evaluated(let result):
        guard state.layers.indices.contains(result.layer), result.revision == state.revisions[result.layer],
              result.settings == state.settings[result.layer] else { return [] }
        state.evaluations[result.layer] = AppState.Evaluation(result)
    case .histogramReady(let request, let histogram):
        guard request == state.histogramRequested else { return [] }
        state.histogramReceived = histogram
    case .progress(let done, let total, let label):
        state.progress = done >= total ? nil : AppState.Progress(done: done, total: total, label: label)
    case .planSaved(let path):
        state.message = .init("saved plan to " + DisplayText.escaped(path))
    case .failed(let message):
        state.message = .init(message, isError: true)
    }
    effects += Reducer.syncHistogram(&state)
    Reducer.keepFocusVisible(&state)
    return effects
}

/// The reducer's parts, split by concern across `Reducer+*.swift`.
enum Reducer {
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
            if state.showHelp { return helpKey(&state, key) }
            if state.isEditingFilter { return filterKey(&state, key) }
            guard let command = Keymap.command(for: key, in: state) else { return [] }
            return run(&state, command)
        }
    }

    /// Runs one command of the keymap.
    static func run(_ state: inout AppState, _ command: Command) -> [Effect] {
        switch command {
        case .moveUp: move(&state, by: -1)
        case .moveDown: move(&state, by: 1)
        case .first: move(&state, by: -state.layers.count)
        case .last: move(&state, by: state.layers.count)
        case .pageUp: move(&state, by: -Layout(width: state.width, height: state.height).tableRows)
        case .pageDown: move(&state, by: Layout(width: state.width, height: state.height).tableRows)
        case .nextPane: state.pane = AppState.Pane(rawValue: (state.pane.rawValue + 1) % 3)!
        case .previousPane: state.pane = AppState.Pane(rawValue: (state.pane.rawValue + 2) % 3)!
        case .startFilter: state.isEditingFilter = true
        case .sortNext:
            let all = AppState.SortColumn.allCases
            state.sort = all[(state.sort.rawValue + 1) % all.count]
        case .sortReverse: state.sortDescending.toggle()
        case .toggleMark:
            if state.marked.contains(state.focus) { state.marked.remove(state.focus) } else { state.marked.insert(state.focus) }
        case .markAll: state.marked.formUnion(state.visibleLayers.filter { state.layers[$0].isFloating })
        case .clearMarks: state.marked.removeAll()
        case .cancel: setFilter(&state, "")

        case .cyclePrune, .fineUp, .fineDown, .coarseUp, .coarseDown, .cycleNM, .cycleFormat, .bitsUp, .bitsDown,
             .toggleSymmetric, .cycleGranularity, .cycleClip, .thresholdUp, .thresholdDown:
            return tune(&state, command)
        case .toggleApplyAll:
            state.applyToAll.toggle()
            state.message = .init(state.applyToAll ? "edits apply to every layer (* to stop)" : "edits apply to the marked or focused layer")

        case .toggleLogCounts: state.logCounts.toggle()
        case .cycleZoom: state.zoom = AppState.Zoom(rawValue: (state.zoom.rawValue + 1) % AppState.Zoom.allCases.count)!
        case .toggleClipView: state.clipToPercentile.toggle()
        case .toggleErrorView: state.showError.toggle()

        case .savePlan:
            return [.savePlan(path: state.planPath ?? AppState.defaultPlanPath, text: state.planText)]
        case .help:
            state.showHelp = true
            state.helpScroll = 0
        case .quit:
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

    /// The plan that reproduces the current settings, as file text.
    public var planText: String {
        Plan.from(settings: layers.indices.map {
            (tensor: (name: layers[$0].name, dtype: layers[$0].dtype, shape: layers[$0].shape), settings: settings[$0])
        }).jsonText()
    }
}
