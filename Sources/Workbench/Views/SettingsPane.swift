import Compression
import WeightFormats

/// The focused layer's settings, one line per setting with the key that changes it, then its numbers
/// (bits per weight, sparsity, SQNR, size and the storage encoding the size assumes). The title says which
/// layers an edit will change.
enum SettingsPane {
    static func draw(_ p: inout Painter, _ state: AppState, _ layout: Layout) {
        let rect = layout.settings
        guard rect.width > 8, rect.height > 1 else { return }
        p.paneTitle("settings", extra: scope(state), x: rect.x, y: rect.y, width: rect.width, focused: state.pane == .settings)
        let i = state.focus
        guard state.records.indices.contains(i) else { return }
        var y = rect.y + 1
        let x = rect.x + 1, width = rect.width - 2
        func line(_ key: String, _ label: String, _ value: String, active: Bool = true, role: ThemeRole? = nil) {
            guard y < rect.maxY else { return }
            var col = x
            col += p.text(key, x: col, y: y, Style(active ? .highlight : .inactive, bold: active), width: 4)
            col = x + 4
            col += p.text(label, x: col, y: y, Style(.inactive), width: 8)
            col = x + 13
            p.text(value, x: col, y: y, Style(role ?? (active ? .mainForeground : .inactive)), width: max(0, x + width - col))
            y += 1
        }
        guard state.records[i].tensor.isFloating else {
            line("", "dtype", state.records[i].tensor.dtypeName)
            line("", "", "not compressed", active: false)
            return
        }
        // With marked layers (and not `*`), the pane shows what an edit changes: their settings, each
        // value shown when they agree and "mixed" where they differ.
        let shown = state.applyToAll || state.marked.isEmpty ? [i] : state.marked.sorted()
        for (k, l) in lines(shown.map { state.records[$0].settings }).enumerated() {
            let row = y
            line(l.key, l.label, l.value, active: l.active)
            // The line ←/→ change while the pane has focus.
            if state.pane == .settings, k == state.settingsRow, row < rect.maxY {
                p.text(p.glyphs.unicode ? "▸" : ">", x: x + 3, y: row, Style(.highlight, bold: true))
            }
        }
        if shown.count == 1, let preset = state.preset, let choice = state.presetChoices[i],
           choice.quantize == state.records[i].settings.quantize {
            // The preset and, word-wrapped under it, why llama-quantize picks this type for the layer.
            line("P", "preset", preset.rawValue)
            var rest = Substring(choice.reason)
            let room = max(8, width - 4)
            while !rest.isEmpty, y < rect.maxY {
                var cut = rest.count <= room ? rest.endIndex : rest.index(rest.startIndex, offsetBy: room)
                if cut != rest.endIndex, let space = rest[..<cut].lastIndex(of: " ") { cut = space }
                p.text(String(rest[..<cut]), x: x + 4, y: y, Style(.mainForeground), width: room)
                y += 1
                rest = rest[cut...].drop { $0 == " " }
            }
        }

        // Numbers.
        guard y < rect.maxY else { return }
        p.grid.fill(x: x, y: y, width: width, height: 1, p.glyphs.horizontal, style: Style(.border))
        y += 1
        if shown.count > 1 {
            let t = ModelTotals(shown.map { (state.records[$0].tensor, state.records[$0].numbers) })
            let approx = t.pendingLayers > 0 ? "~" : ""
            line("", "bits/w", approx + Format.fixed(t.bitsPerWeight, 2))
            line("", "zeros", approx + Format.percent(t.metrics.sparsity))
            line("", "SQNR", approx + Format.sqnr(t.metrics.sqnrDB) + (t.metrics.sqnrDB.isFinite ? " dB" : ""))
            line("", "size", approx + Format.bytes(t.bytesCompressed) + " of " + Format.bytes(t.bytesOriginal))
            return
        }
        let n = LayerNumbers.of(i, in: state)
        let approx = n.status == .estimate ? "~" : ""
        if case .failed(let message) = n.status {
            line("", "error", message, role: .bad)
            return
        }
        line("", "bits/w", n.bitsPerWeight.map { Format.fixed($0, 2) } ?? "…")
        line("", "pruned", n.pruned.map { approx + Format.percent($0) } ?? "…")
        if let zeros = n.sparsity {
            // Zeros beyond the pruned ones came from rounding (or were in the weights): say so.
            let rounding = n.pruned.map { zeros > $0 + 0.0005 } ?? false
            line("", "zeros", approx + Format.percent(zeros) + (rounding ? " (+rounding)" : ""))
        } else {
            line("", "zeros", "…")
        }
        if state.records[i].holdsNonFinite {
            line("", "SQNR", "undefined (NaN/Inf)", role: .bad)
        } else {
            if let r = n.sampleInterval, let db = n.sqnr {
                // From sampled rows: the estimate, dimmed, with its interval.
                line("", "SQNR", "~" + Format.sqnr(db) + " dB (" + Format.sqnr(r.lowerBound) + "–" + Format.sqnr(r.upperBound) + ")",
                     role: .inactive)
            } else {
                line("", "SQNR", n.sqnr.map { approx + Format.sqnr($0) + ($0.isFinite ? " dB" : "") } ?? "…",
                     role: n.sqnr.map(LayerTable.quality))
            }
            if state.importancePath != nil {
                let (text, role) = LayerTable.value("wSQNR", info: state.records[i].tensor, settings: state.records[i].settings, numbers: n)
                line("", "wSQNR", text + (n.importance?.sqnrDB.isFinite == true ? " dB" : ""), role: role)
            }
        }
        let original = Format.bytes(state.records[i].tensor.bytes)
        let valueWidth = rect.maxX - 1 - (x + 13)
        line("", "size", n.bytes.map { b in
            let s = Format.bytes(b), long = s + " of " + original
            return DisplayWidth.of(long) <= valueWidth ? long : s
        } ?? "…")
        // The storage encoding the size assumes, wrapped over the rows left.
        if let e = n.encoding {
            for part in Screen.wrap(p.glyphs.text(e), width: max(1, valueWidth)) { line("", "", part, active: false) }
        }
    }

    /// The setting lines (key, label, value) for one layer's settings, or for several: a value they do not
    /// share reads "mixed".
    static func lines(_ all: [LayerSettings]) -> [(key: String, label: String, value: String, active: Bool)] {
        let each = all.map(lines)
        guard var out = each.first else { return [] }
        for other in each.dropFirst() {
            for k in out.indices {
                let same = other.first { $0.label == out[k].label && $0.key == out[k].key }
                if same?.value != out[k].value { out[k].value = "mixed"; out[k].active = true }
            }
        }
        return out
    }

    static func lines(_ s: LayerSettings) -> [(key: String, label: String, value: String, active: Bool)] {
        let none = "—"
        var out: [(key: String, label: String, value: String, active: Bool)] = []
        out.append(("p", "prune", pruneName(s.prune), true))
        switch s.prune {
        case .threshold(let t): out.append(("[ ]", "prunes", "|w| < " + Format.value(t), true))
        case .sparsity(let sp), .globalMagnitude(let sp), .rows(_, let sp): out.append(("[ ]", "target", Format.percent(sp), true))
        case .nm(let n, let m): out.append(("n", "pattern", "\(n):\(m)", true))
        case .none: out.append(("[ ]", "amount", none, false))
        }
        out.append(("f", "format", formatName(s.quantize), true))
        if let codec = s.quantize.codec {
            for setting in codec.settingLines(number: Format.value) {
                out.append((setting.knob.map(keys) ?? "", setting.label, setting.value, true))
            }
        } else {
            out.append(("+ -", "bits", none, false))
        }
        return out
    }

    /// Which layers the tuning keys change.
    static func scope(_ state: AppState) -> String {
        if state.applyToAll { return state.applyIncludesVectors ? "editing all shown layers" : "editing all shown matrices" }
        if !state.marked.isEmpty { return "editing \(state.marked.count) marked" }
        return ""
    }

    static func pruneName(_ p: PruneMethod) -> String {
        switch p {
        case .none: "none"
        case .threshold: "threshold"
        case .sparsity: "sparsity"
        case .globalMagnitude: "global"
        case .nm: "N:M"
        case .rows(let norm, _): "rows \(norm.rawValue)"
        }
    }

    static func formatName(_ q: QuantFormat) -> String { q.codec?.name ?? "none" }

    /// The keys that turn a codec's knob (see `Keymap`).
    static func keys(_ knob: CodecKnob) -> String {
        switch knob {
        case .amount: "+ -"
        case .granularity: "c"
        case .symmetry: "y"
        case .clipping: "C"
        }
    }
}
