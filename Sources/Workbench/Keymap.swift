/// What a key can do. The reducer dispatches on these; the help screen lists them. Both come from the one
/// table in `Keymap.bindings`, so the keys the help shows are the keys that work.
public enum Command: String, CaseIterable, Sendable {
    // Navigation
    case moveUp, moveDown, first, last, pageUp, pageDown, nextPane, previousPane
    case startFilter, sortNext, sortReverse, toggleMark, markAll, clearMarks, cancel, toggleMetrics
    case sortByFile, sortByName, sortByParams, sortByBits, sortBySparsity, sortBySQNR, sortBySize
    case sortByKurtosis, sortByErrorShare, sortBySensitivity, toggleDiagnostics
    // Budget mode
    case toggleBudget, targetUp, targetDown, pinLayer
    // Tuning
    case cyclePrune, fineUp, fineDown, coarseUp, coarseDown, cycleNM
    case cycleFormat, bitsUp, bitsDown, toggleSymmetric, cycleGranularity, cycleClip, toggleApplyAll, cyclePreset
    case undo, redo, resetLayer, takeSnapshot, dropSnapshot, ruleFromFilter
    case startValue, applyValue, cancelValue, deleteValueCharacter
    // Settings pane
    case previousSetting, nextSetting, settingDown, settingUp
    // Histogram
    case toggleLogCounts, cycleZoom, toggleClipView, toggleErrorView, thresholdDown, thresholdUp
    // General
    case savePlan, writeModel, measureTask, recover, help, quit
    // Help screen and filter prompt
    case closeHelp, scrollHelpUp, scrollHelpDown, pageHelpUp, pageHelpDown, keepFilter, clearFilter, deleteFilterCharacter
    // Write-model prompt
    case confirmWrite, cancelWrite, nextContainer, deleteWriteCharacter
}

/// Where a binding applies. The first matching binding in table order wins, and the mode contexts
/// (`help`, `filter`) are the only ones consulted while their mode is on.
public enum KeyContext: String, CaseIterable, Sendable {
    case navigation = "Layers"
    case tuning = "Tuning (marked layers, or the focused one)"
    case histogram = "Histogram"
    /// Only while the histogram pane has focus.
    case histogramPane = "Histogram pane focused"
    /// Only while the settings pane has focus.
    case settingsPane = "Settings pane focused"
    case general = "General"
    /// Diagnostics columns and budget mode (consulted with the layer, tuning and general keys).
    case budget = "Diagnostics and budget mode"
    case filter = "Filter prompt"
    case value = "Value prompt (:)"
    case writePrompt = "Write-model prompt"
    case help = "This help"
}

public struct KeyBinding: Sendable {
    public var keys: [Key]
    public var command: Command
    public var help: String
    public var context: KeyContext

    public init(_ keys: [Key], _ command: Command, _ help: String, _ context: KeyContext) {
        self.keys = keys
        self.command = command
        self.help = help
        self.context = context
    }
}

public enum Keymap {
    private static func c(_ s: String) -> [Key] { s.map { Key.character($0) } }

    /// The keymap, in help-screen order.
    public static let bindings: [KeyBinding] = [
        KeyBinding([.up] + c("k"), .moveUp, "previous layer", .navigation),
        KeyBinding([.down] + c("j"), .moveDown, "next layer", .navigation),
        KeyBinding(c("g") + [.home], .first, "first layer", .navigation),
        KeyBinding(c("G") + [.end], .last, "last layer", .navigation),
        KeyBinding([.pageUp], .pageUp, "page up", .navigation),
        KeyBinding([.pageDown], .pageDown, "page down", .navigation),
        KeyBinding([.tab], .nextPane, "next pane (layers, histogram, settings)", .navigation),
        KeyBinding([.backTab], .previousPane, "previous pane", .navigation),
        KeyBinding(c("/"), .startFilter, "filter names (regex, as in plans)", .navigation),
        KeyBinding(c("s"), .sortNext, "sort by the next column", .navigation),
        KeyBinding(c("S"), .sortReverse, "reverse the sort", .navigation),
        KeyBinding(c("1"), .sortByFile, "file order (again: reversed)", .navigation),
        KeyBinding(c("2"), .sortByName, "sort by name", .navigation),
        KeyBinding(c("3"), .sortByParams, "sort by params, largest first", .navigation),
        KeyBinding(c("4"), .sortByBits, "sort by bits per weight, most first", .navigation),
        KeyBinding(c("5"), .sortBySparsity, "sort by pruned fraction, most first", .navigation),
        KeyBinding(c("6"), .sortBySQNR, "sort by SQNR, worst first", .navigation),
        KeyBinding(c("7"), .sortBySize, "sort by size, largest first", .navigation),
        KeyBinding(c("m"), .toggleMetrics, "show / hide MSE, max error and cosine columns", .navigation),
        KeyBinding(c(" "), .toggleMark, "mark / unmark the layer", .navigation),
        KeyBinding(c("a"), .markAll, "mark every visible layer", .navigation),
        KeyBinding(c("A"), .clearMarks, "clear marks", .navigation),
        KeyBinding([.escape], .cancel, "clear filter, message; stop task metric", .navigation),

        KeyBinding(c("p"), .cyclePrune, "prune: threshold, %, global, 2:4, rows, none", .tuning),
        KeyBinding(c("]"), .fineUp, "threshold ×1.1 / sparsity +1 %", .tuning),
        KeyBinding(c("["), .fineDown, "threshold ÷1.1 / sparsity −1 %", .tuning),
        KeyBinding(c("}"), .coarseUp, "threshold ×2 / sparsity +10 %", .tuning),
        KeyBinding(c("{"), .coarseDown, "threshold ÷2 / sparsity −10 %", .tuning),
        KeyBinding(c("n"), .cycleNM, "N:M pattern: 2:4, 1:4, 4:8", .tuning),
        KeyBinding(c("f"), .cycleFormat, "quantize: int, nf4, fp8, ggml types, k-means", .tuning),
        KeyBinding(c("+="), .bitsUp, "more bits (int 2–8) / clusters ×2", .tuning),
        KeyBinding(c("-_"), .bitsDown, "fewer bits / clusters ÷2", .tuning),
        KeyBinding(c("y"), .toggleSymmetric, "symmetric / asymmetric", .tuning),
        KeyBinding(c("c"), .cycleGranularity, "scale: tensor, channel, group 32…256", .tuning),
        KeyBinding(c("C"), .cycleClip, "clipping: minmax, p99.9, p99, mse", .tuning),
        KeyBinding(c("*"), .toggleApplyAll, "edit all shown matrices (again: vectors too)", .tuning),
        KeyBinding(c(":"), .startValue, "type a value: b 4, t 0.02, s 50%, g 128", .tuning),
        KeyBinding(c("R"), .ruleFromFilter, "plan rule: filter → focused settings", .tuning),
        KeyBinding(c("u"), .undo, "undo the last edit", .tuning),
        KeyBinding([.control("r")], .redo, "redo", .tuning),
        KeyBinding(c("r"), .resetLayer, "reset to uncompressed", .tuning),
        KeyBinding(c("b"), .takeSnapshot, "snapshot to compare with (Δ columns)", .tuning),
        KeyBinding(c("B"), .dropSnapshot, "drop the snapshot", .tuning),
        KeyBinding(c("P"), .cyclePreset, "llama.cpp preset, whole model: Q8_0, Q6_K…Q2_K", .tuning),

        KeyBinding(c("l"), .toggleLogCounts, "linear / log counts", .histogram),
        KeyBinding(c("z"), .cycleZoom, "zoom: full, ±10 %, ±1 % of max |w|", .histogram),
        KeyBinding(c("x"), .toggleClipView, "clip view to the 99.9th percentile of |w|", .histogram),
        KeyBinding(c("e"), .toggleErrorView, "histogram of the error w − ŵ", .histogram),
        KeyBinding([.left], .thresholdDown, "threshold ÷1.1 (or click/drag the bars)", .histogramPane),
        KeyBinding([.right], .thresholdUp, "threshold ×1.1", .histogramPane),

        KeyBinding([.up], .previousSetting, "select the previous setting", .settingsPane),
        KeyBinding([.down], .nextSetting, "select the next setting", .settingsPane),
        KeyBinding([.left], .settingDown, "change the selected setting (less, or cycle)", .settingsPane),
        KeyBinding([.right], .settingUp, "change the selected setting (more, or cycle)", .settingsPane),

        KeyBinding(c("w"), .savePlan, "save the plan", .general),
        KeyBinding(c("W"), .writeModel, "write the model (verified, in the background)", .general),
        KeyBinding(c("E"), .measureTask, "task metric: --eval on a temp model", .general),
        KeyBinding(c("F"), .recover, "recovery: fine-tune on --data", .general),
        KeyBinding(c("?"), .help, "this help", .general),
        KeyBinding(c("q") + [.control("c")], .quit, "quit", .general),

        KeyBinding([.enter], .keepFilter, "keep the filter", .filter),
        KeyBinding([.escape], .clearFilter, "clear the filter", .filter),
        KeyBinding([.backspace, .delete], .deleteFilterCharacter, "delete a character (other keys type)", .filter),

        KeyBinding([.enter], .applyValue, "apply to the focused, marked or * layers", .value),
        KeyBinding([.escape], .cancelValue, "cancel", .value),
        KeyBinding([.backspace, .delete], .deleteValueCharacter, "delete a character (other keys type)", .value),

        KeyBinding([.enter], .confirmWrite, "write the model there", .writePrompt),
        KeyBinding([.escape], .cancelWrite, "cancel", .writePrompt),
        KeyBinding([.tab], .nextContainer, "next container", .writePrompt),
        KeyBinding([.backspace, .delete], .deleteWriteCharacter, "delete a character (other keys type)", .writePrompt),

        KeyBinding(c("8"), .sortByKurtosis, "sort by kurtosis, highest first", .budget),
        KeyBinding(c("9"), .sortByErrorShare, "sort by share of the model's error", .budget),
        KeyBinding(c("0"), .sortBySensitivity, "sort by error per bit saved, most first", .budget),
        KeyBinding(c("d"), .toggleDiagnostics, "show / hide kurtosis, error share, err/bit", .budget),
        KeyBinding(c("T"), .toggleBudget, "budget mode: the solver sets every matrix", .budget),
        KeyBinding(c(">"), .targetUp, "budget: larger target (less error)", .budget),
        KeyBinding(c("<"), .targetDown, "budget: smaller target", .budget),
        KeyBinding(c("!"), .pinLayer, "budget: pin / unpin the focused layer", .budget),

        KeyBinding([.escape] + c("?q"), .closeHelp, "close help", .help),
        KeyBinding([.up] + c("k"), .scrollHelpUp, "scroll up", .help),
        KeyBinding([.down] + c("j"), .scrollHelpDown, "scroll down (or the mouse wheel)", .help),
        KeyBinding([.pageUp], .pageHelpUp, "page up", .help),
        KeyBinding([.pageDown], .pageHelpDown, "page down", .help),
    ]

    /// The command `key` runs in `state`, or nil. While help is shown only `.help` bindings apply; while the
    /// filter is edited only `.filter` bindings (other characters are typed into the filter by the reducer).
    public static func command(for key: Key, in state: AppState) -> Command? {
        let contexts: [KeyContext]
        if state.showHelp {
            contexts = [.help]
        } else if state.isEditingFilter {
            contexts = [.filter]
        } else if state.isEditingValue {
            contexts = [.value]
        } else if state.writePrompt != nil {
            contexts = [.writePrompt]
        } else {
            contexts = (state.pane == .histogram ? [.histogramPane] : state.pane == .settings ? [.settingsPane] : [])
                + [.navigation, .tuning, .histogram, .general, .budget]
        }
        for context in contexts {
            if let b = bindings.first(where: { $0.context == context && $0.keys.contains(key) }) { return b.command }
        }
        return nil
    }

    /// The column a direct sort key picks.
    static func sortColumn(_ command: Command) -> AppState.SortColumn? {
        switch command {
        case .sortByFile: .file
        case .sortByName: .name
        case .sortByParams: .params
        case .sortByBits: .bits
        case .sortBySparsity: .sparsity
        case .sortBySQNR: .sqnr
        case .sortBySize: .size
        case .sortByKurtosis: .kurtosis
        case .sortByErrorShare: .errorShare
        case .sortBySensitivity: .sensitivity
        default: nil
        }
    }

    /// How a key is written on the help screen.
    public static func label(_ key: Key) -> String {
        switch key {
        case .character(" "): "Space"
        case .character(let ch): String(ch)
        case .control(let ch): "Ctrl-" + String(ch).uppercased()
        case .up: "↑"
        case .down: "↓"
        case .left: "←"
        case .right: "→"
        case .pageUp: "PgUp"
        case .pageDown: "PgDn"
        case .home: "Home"
        case .end: "End"
        case .enter: "Enter"
        case .escape: "Esc"
        case .tab: "Tab"
        case .backTab: "S-Tab"
        case .backspace: "Bksp"
        case .delete: "Del"
        case .function(let n): "F\(n)"
        }
    }

    /// ASCII spellings for terminals without Unicode.
    public static func asciiLabel(_ key: Key) -> String {
        switch key {
        case .up: "Up"
        case .down: "Down"
        case .left: "Left"
        case .right: "Right"
        default: label(key)
        }
    }
}
