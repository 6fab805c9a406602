import Foundation
import Compression
import WeightFormats

/// Settings edits: which layers an edit applies to, how each key changes a layer's settings (see
/// `SettingsCycle`), and the evaluate effects that follow.
extension Reducer {
    /// The layers an edit applies to: with `*` every shown floating layer of rank ≥ 2 (vectors too after a
    /// second `*`), else the marked ones, else the focused one. The focused layer comes first so its
    /// evaluation starts first.
    static func targets(_ state: AppState) -> [Int] {
        let candidates: [Int]
        if state.applyToAll {
            candidates = state.visibleLayers.sorted().filter { state.applyIncludesVectors || state.records[$0].tensor.shape.count >= 2 }
        } else if !state.marked.isEmpty {
            candidates = state.marked.sorted()
        } else {
            candidates = [state.focus]
        }
        let floating = candidates.filter { state.records.indices.contains($0) && state.records[$0].tensor.isFloating }
        return floating.contains(state.focus) ? [state.focus] + floating.filter { $0 != state.focus } : floating
    }

    /// The settings pane's arrows: ↑/↓ select a setting line, ←/→ run the key that line names.
    static func settingsPaneKey(_ state: inout AppState, _ command: Command) -> [Effect] {
        guard state.records.indices.contains(state.focus) else { return [] }
        let lines = SettingsPane.lines(state.records[state.focus].settings)
        switch command {
        case .previousSetting: state.settingsRow = max(0, min(lines.count - 1, state.settingsRow - 1))
        case .nextSetting: state.settingsRow = max(0, min(lines.count - 1, state.settingsRow + 1))
        case .settingDown, .settingUp:
            let row = max(0, min(lines.count - 1, state.settingsRow))
            guard lines.indices.contains(row) else { return [] }
            let up = command == .settingUp
            let run: Command?
            switch lines[row].key {
            case "p": run = .cyclePrune
            case "[ ]": run = up ? .fineUp : .fineDown
            case "n": run = .cycleNM
            case "f": run = .cycleFormat
            case "+ -": run = up ? .bitsUp : .bitsDown
            case "y": run = .toggleSymmetric
            case "c": run = .cycleGranularity
            case "C": run = .cycleClip
            default: run = nil
            }
            guard let run, lines[row].active else {
                state.message = .init(lines[row].label + " has nothing to change here: choose " + (row < 2 ? "a pruning method (p)" : "a format (f)") + " first")
                return []
            }
            return tune(&state, run)
        default: break
        }
        return []
    }

    static func tune(_ state: inout AppState, _ command: Command) -> [Effect] {
        // A filter that matches nothing hides the focused layer; an edit would change a layer the table no
        // longer shows (marks and `*` say which layers they mean, so they still apply).
        if state.marked.isEmpty, !state.visibleLayers.contains(state.focus) {
            state.message = .init("no layer name contains “" + DisplayText.escaped(state.filter) + "”: Esc clears the filter",
                                  isError: true)
            return []
        }
        // ← → in the histogram pane move a threshold or target; with nothing to move, say so.
        if command == .thresholdUp || command == .thresholdDown, state.records.indices.contains(state.focus) {
            switch state.records[state.focus].settings.prune {
            case .none:
                state.message = .init("no pruning to adjust: p chooses a pruning method (threshold, sparsity, …)")
                return []
            case .nm(let n, let m):
                state.message = .init("\(n):\(m) has no threshold to move: n cycles the pattern, p the method")
                return []
            default: break
            }
        }
        var targets = targets(state)
        // An amount key on a member of a global magnitude group moves the group's target: every layer with
        // that target, not the focused one alone (which would split it off). Marks still edit what they mark.
        let amountKeys: Set<Command> = [.fineUp, .fineDown, .coarseUp, .coarseDown, .thresholdUp, .thresholdDown]
        if amountKeys.contains(command), !state.applyToAll, state.marked.isEmpty, state.records.indices.contains(state.focus),
           case .globalMagnitude(let sp) = state.records[state.focus].settings.prune {
            targets = [state.focus] + state.records.indices.filter {
                $0 != state.focus && state.records[$0].tensor.isFloating && state.records[$0].settings.prune == .globalMagnitude(sparsity: sp)
            }
        }
        guard !targets.isEmpty else {
            let focused = state.records.indices.contains(state.focus) ? state.records[state.focus].tensor : nil
            let name = focused.map { DisplayText.escaped($0.name) } ?? "layer"
            state.message = .init(name + " is " + (focused?.dtype.withArticle ?? "a non-floating")
                                  + " tensor: it is not compressed", isError: true)
            return []
        }
        let transform = { (settings: LayerSettings, layer: AppState.Layer, analysis: LayerAnalysis?) -> LayerSettings in
            switch command {
            case .cyclePrune: SettingsCycle.nextPrune(settings, layer: layer, analysis: analysis)
            case .fineUp, .thresholdUp: SettingsCycle.adjustAmount(settings, factor: 1.1, step: 0.01, analysis: analysis)
            case .fineDown, .thresholdDown: SettingsCycle.adjustAmount(settings, factor: 1 / 1.1, step: -0.01, analysis: analysis)
            case .coarseUp: SettingsCycle.adjustAmount(settings, factor: 2, step: 0.1, analysis: analysis)
            case .coarseDown: SettingsCycle.adjustAmount(settings, factor: 0.5, step: -0.1, analysis: analysis)
            case .cycleNM: SettingsCycle.nextNM(settings, layer: layer)
            case .cycleFormat: SettingsCycle.nextFormat(settings, layer: layer)
            case .bitsUp: SettingsCycle.adjustBits(settings, up: true)
            case .bitsDown: SettingsCycle.adjustBits(settings, up: false)
            case .toggleSymmetric: SettingsCycle.toggleSymmetric(settings)
            case .cycleGranularity: SettingsCycle.nextGranularity(settings, layer: layer)
            case .cycleClip: SettingsCycle.nextClip(settings)
            default: settings
            }
        }
        // Cycling keys step the lead layer (the focused one, else the first target) and the others follow
        // it where the result fits them, so `*` then `f` makes every layer int8 instead of moving each one
        // a step along its own cycle (which left a mix of formats). Relative keys (bits, amounts) stay per layer.
        let lead = targets[0]
        let leadRecord = state.records[lead]
        let leadNew = transform(leadRecord.settings, leadRecord.tensor, leadRecord.analysis)
        let aspect = leadNew == leadRecord.settings ? nil : SettingsCycle.Aspect(command)
        var skipped: [(name: String, reason: String)] = []
        let effects = edit(&state, layers: targets) { settings, layer, analysis in
            guard let aspect else { return transform(settings, layer, analysis) }
            // A layer the lead's choice does not fit keeps its settings rather than wander along its own cycle.
            if let followed = SettingsCycle.follow(settings, lead: leadNew, aspect: aspect, layer: layer, analysis: analysis) {
                return followed
            }
            skipped.append((layer.name, SettingsCycle.misfit(lead: leadNew, aspect: aspect, layer: layer)))
            return settings
        }
        if !skipped.isEmpty, let aspect { state.message = skipMessage(leadNew, aspect, skipped) }
        return effects
    }

    /// "2:4 skipped conv1.weight, conv2.weight, … (4 layers kept their settings): <why>", so no target is
    /// left behind silently.
    static func skipMessage(_ lead: LayerSettings, _ aspect: SettingsCycle.Aspect,
                            _ skipped: [(name: String, reason: String)]) -> AppState.Message {
        let choice = (aspect == .prune ? SettingsText.prune(lead.prune) : SettingsText.quantize(lead.quantize)) ?? "none"
        let names = skipped.prefix(3).map { DisplayText.escaped($0.name) }.joined(separator: ", ") + (skipped.count > 3 ? ", …" : "")
        let count = skipped.count == 1 ? "kept its settings" : "\(skipped.count) layers kept their settings"
        let why = DisplayText.escaped(skipped[0].name) + ": " + skipped[0].reason
        return .init("\(choice) skipped \(names) (\(count); \(why))", isError: true)
    }

    /// Applies `transform` to each of `layers`. A layer whose settings change gets a new revision (so any
    /// answer still on its way is dropped) and one `.evaluate` (for identity too: the engine keeps the plan,
    /// and a layer leaving a global magnitude group changes the group). Layers the edit does not change are
    /// left alone: a key held at a limit costs nothing. The records are replaced in one assignment, so the
    /// totals are recomputed once.
    static func edit(_ state: inout AppState, layers: [Int],
                     _ transform: (LayerSettings, AppState.Layer, LayerAnalysis?) -> LayerSettings) -> [Effect] {
        var effects: [Effect] = []
        var records = state.records
        for i in layers {
            let new = transform(records[i].settings, records[i].tensor, records[i].analysis)
            guard new != records[i].settings else { continue }
            records[i].edit(new)
            effects.append(.evaluate(layer: i, settings: new, revision: records[i].revision))
        }
        if !effects.isEmpty {
            state.undoStack.append(state.records.map(\.settings))
            if state.undoStack.count > 500 { state.undoStack.removeFirst() }
            state.redoStack.removeAll()
            state.records = records
        }
        return effects
    }

    /// `R`: the filter becomes a plan rule giving every layer it shows the focused layer's settings. The rule
    /// joins the plan `w` saves (after the plan's own rules), and the shown layers take the settings now,
    /// so the screen and the saved plan agree. Refused with no filter, or when the settings do not fit a
    /// layer the rule would match (the plan could not be loaded then).
    static func ruleFromFilter(_ state: inout AppState) -> [Effect] {
        guard !state.filter.isEmpty else {
            state.message = .init("R needs a filter: / then a pattern (a regular expression, as in plans)", isError: true)
            return []
        }
        guard state.records.indices.contains(state.focus), state.records[state.focus].tensor.isFloating else { return [] }
        let settings = state.records[state.focus].settings
        let shown = state.visibleLayers.filter { state.records[$0].tensor.isFloating }
        // The workbench filter ignores case; the rule does too when that changes what it matches.
        var pattern = state.filter
        if Plan.patternProblem(pattern) != nil { pattern = Plan.escapedName(pattern) }
        let sensitive = (try? Regex(pattern)).map { r in shown.allSatisfy { state.records[$0].tensor.name.contains(r) } } ?? false
        if !sensitive { pattern = "(?i)" + pattern }
        for i in shown {
            let shape = state.records[i].tensor.shape
            var misfit = settings.quantize.codec?.misfit(shape)?.reason
            if case .nm(_, let m) = settings.prune, (shape.last ?? 1) % m != 0 { misfit = "last dimension \(shape.last ?? 1) is not a multiple of \(m)" }
            if let misfit {
                state.message = .init("no rule: " + DisplayText.escaped(state.records[i].tensor.name) + ": " + misfit, isError: true)
                return []
            }
        }
        var plan = state.basePlan ?? Plan.saving(state.records.map {
            (tensor: (name: $0.tensor.name, dtype: $0.tensor.dtype, shape: $0.tensor.shape), settings: $0.settings)
        }, over: nil)
        plan.rules.append(PlanRule(match: pattern, prune: settings.prune, quantize: settings.quantize))
        state.basePlan = plan
        let effects = edit(&state, layers: shown) { _, _, _ in settings }
        state.message = .init("rule added: \"" + DisplayText.escaped(pattern) + "\" → " + SettingsText.summary(settings)
                              + " (\(shown.count) layers); w saves it")
        return effects
    }

    /// The value prompt: `b 4` (integer bits), `t 0.02` (one absolute threshold), `s 50%` or `s 0.5` (target
    /// sparsity; a global or row target keeps its method), `g 128` (group size of int or NF4) for the
    /// edit's targets. Layers the value does not fit keep their settings and are named.
    static func typedValue(_ state: inout AppState, _ text: String) -> [Effect] {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        let letters = trimmed.prefix { $0.isLetter }
        var number = trimmed.dropFirst(letters.count).trimmingCharacters(in: .whitespaces)
        let percent = number.hasSuffix("%")
        if percent { number.removeLast() }
        let usage = "type b 4 (bits), t 0.02 (threshold), s 50% (sparsity) or g 128 (group)"
        guard let value = Double(number), value.isFinite else {
            state.message = .init("“" + DisplayText.escaped(text) + "”: " + usage, isError: true)
            return []
        }
        let targets = targets(state)
        guard !targets.isEmpty else { return [] }
        var transform: (LayerSettings, AppState.Layer) -> LayerSettings?
        switch letters {
        case "b", "bits":
            guard value == value.rounded(), (2...8).contains(Int(value)) else {
                state.message = .init("bits are 2 to 8", isError: true)
                return []
            }
            transform = { s, _ in
                var s = s
                if case .int(_, let sym, let g, let c) = s.quantize {
                    s.quantize = .int(bits: Int(value), symmetric: sym, granularity: g, clip: c)
                } else {
                    s.quantize = .int(bits: Int(value), symmetric: true, granularity: .channel, clip: .minmax)
                }
                return s
            }
        case "t", "threshold":
            guard value >= 0 else {
                state.message = .init("a threshold is ≥ 0", isError: true)
                return []
            }
            transform = { s, _ in var s = s; s.prune = .threshold(value); return s }
        case "s", "sparsity":
            let sp = percent || value > 1 ? value / 100 : value
            guard (0..<1).contains(sp) else {
                state.message = .init("a sparsity is 0 to 99 %", isError: true)
                return []
            }
            transform = { s, layer in
                var s = s
                switch s.prune {
                case .globalMagnitude: s.prune = .globalMagnitude(sparsity: sp)
                case .rows(let norm, _) where layer.shape.count >= 2: s.prune = .rows(norm: norm, sparsity: sp)
                default: s.prune = .sparsity(sp)
                }
                return s
            }
        case "g", "group":
            guard value == value.rounded(), value >= 1 else {
                state.message = .init("a group size is a whole number", isError: true)
                return []
            }
            let g = Int(value)
            transform = { s, layer in
                var s = s
                switch s.quantize {
                case .int(let b, let sym, _, let c): s.quantize = .int(bits: b, symmetric: sym, granularity: .group(g), clip: c)
                case .nf4: s.quantize = .nf4(group: g)
                default: s.quantize = .int(bits: 4, symmetric: true, granularity: .group(g), clip: .minmax)
                }
                return s.quantize.codec?.misfit(layer.shape) == nil ? s : nil
            }
        default:
            state.message = .init("“" + DisplayText.escaped(text) + "”: " + usage, isError: true)
            return []
        }
        var skipped: [String] = []
        let effects = edit(&state, layers: targets) { s, layer, _ in
            if let new = transform(s, layer) { return new }
            skipped.append(DisplayText.escaped(layer.name))
            return s
        }
        if !skipped.isEmpty {
            state.message = .init("\(trimmed) does not fit " + skipped.prefix(3).joined(separator: ", ")
                                  + (skipped.count > 3 ? ", …" : "") + " (last dimension): kept their settings", isError: true)
        }
        return effects
    }

    /// `u`, Ctrl-R, `r`, `b`, `B`.
    static func history(_ state: inout AppState, _ command: Command) -> [Effect] {
        switch command {
        case .undo, .redo:
            let undoing = command == .undo
            guard let target = undoing ? state.undoStack.last : state.redoStack.last else {
                state.message = .init(undoing ? "nothing to undo" : "nothing to redo")
                return []
            }
            let current = state.records.map(\.settings)
            if undoing { state.undoStack.removeLast() } else { state.redoStack.removeLast() }
            var effects: [Effect] = []
            var records = state.records
            for i in records.indices where records[i].settings != target[i] {
                records[i].edit(target[i])
                effects.append(.evaluate(layer: i, settings: target[i], revision: records[i].revision))
            }
            state.records = records
            if undoing { state.redoStack.append(current) } else { state.undoStack.append(current) }
            state.message = .init((undoing ? "undid" : "redid") + " an edit of \(effects.count) layer" + (effects.count == 1 ? "" : "s"))
            return effects
        case .resetLayer:
            return edit(&state, layers: targets(state)) { _, _, _ in .identity }
        case .takeSnapshot:
            state.baseline = AppState.Baseline(settings: state.records.map(\.settings), numbers: state.records.map(\.numbers),
                                               totals: state.totals.totals)
            state.message = .init("snapshot taken: Δ columns and the status line compare with it (B drops it)")
        case .dropSnapshot:
            state.baseline = nil
        default: break
        }
        return []
    }

    /// The engine reported these layers' answers stale (their global magnitude group changed): each gets a
    /// new revision and is evaluated again with its unchanged settings.
    static func reevaluate(_ state: inout AppState, layers: [Int]) -> [Effect] {
        var effects: [Effect] = []
        var records = state.records
        for i in layers where records.indices.contains(i) && records[i].tensor.isFloating {
            records[i].edit(records[i].settings)
            effects.append(.evaluate(layer: i, settings: records[i].settings, revision: records[i].revision))
        }
        state.records = records
        return effects
    }
}
