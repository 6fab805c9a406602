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
        let s = state.records[i].settings
        let none = "—"

        // Pruning.
        line("p", "prune", pruneName(s.prune))
        switch s.prune {
        case .threshold(let t): line("[ ]", "prunes", "|w| < " + Format.value(t))
        case .sparsity(let sp), .globalMagnitude(let sp), .rows(_, let sp): line("[ ]", "target", Format.percent(sp))
        case .nm(let n, let m): line("n", "pattern", "\(n):\(m)")
        case .none: line("[ ]", "amount", none, active: false)
        }

        // Quantization.
        line("f", "format", formatName(s.quantize))
        if let preset = state.preset, let choice = state.presetChoices[i], choice.quantize == s.quantize {
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
        if let codec = s.quantize.codec {
            for setting in codec.settingLines(number: Format.value) {
                line(setting.knob.map(keys) ?? "", setting.label, setting.value)
            }
        } else {
            line("+ -", "bits", none, active: false)
        }

        // Numbers.
        guard y < rect.maxY else { return }
        p.grid.fill(x: x, y: y, width: width, height: 1, p.glyphs.horizontal, style: Style(.border))
        y += 1
        let n = LayerNumbers.of(i, in: state)
        let approx = n.status == .estimate ? "~" : ""
        if case .failed(let message) = n.status {
            line("", "error", message, role: .bad)
            return
        }
        line("", "bits/w", n.bitsPerWeight.map { Format.fixed($0, 2) } ?? "…")
        line("", "sparsity", n.sparsity.map { approx + Format.percent($0) } ?? "…")
        line("", "SQNR", n.sqnr.map { approx + Format.sqnr($0) + ($0.isFinite ? " dB" : "") } ?? "…",
             role: n.sqnr.map(LayerTable.quality))
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

    /// Which layers the tuning keys change.
    static func scope(_ state: AppState) -> String {
        if state.applyToAll { return "editing all layers" }
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
