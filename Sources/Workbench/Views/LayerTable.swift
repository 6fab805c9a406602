import Compression
import WeightFormats

/// The layer list: one row per visible layer with its settings and numbers, the focused row on the selected
/// background, marks in the first column (and budget mode's pins in the second), a header naming the sort, and columns dropped (least useful
/// first) when the terminal is narrow so the name keeps a readable width.
enum LayerTable {
    enum Align { case left, right }

    struct Column {
        let title: String
        var width: Int
        let align: Align
        let sort: AppState.SortColumn?
        /// Columns with a higher number are dropped first.
        let dropOrder: Int
    }

    static let minimumNameWidth = 16
    static let markWidth = 2

    /// The columns beside the name. Right-aligned sortable columns are one wider than their title so the
    /// sort arrow sits in its own column (`sparsity ▲SQNR dB`, not `sparsity▲SQNR dB`). The widths of
    /// shape, dtype and method are the most these take (`sizedToContent`).
    static let fixedColumns: [Column] = [
        Column(title: "shape", width: 11, align: .left, sort: nil, dropOrder: 6),
        Column(title: "dtype", width: 6, align: .left, sort: nil, dropOrder: 5),
        Column(title: "params", width: 7, align: .right, sort: .params, dropOrder: 4),
        Column(title: "method", width: 17, align: .left, sort: nil, dropOrder: 3),
        Column(title: "bits", width: 6, align: .right, sort: .bits, dropOrder: 0),
        Column(title: "pruned", width: 7, align: .right, sort: .sparsity, dropOrder: 0),
        Column(title: "zeros", width: 6, align: .right, sort: nil, dropOrder: 0),
        Column(title: "SQNR dB", width: 8, align: .right, sort: .sqnr, dropOrder: 0),
        Column(title: "size", width: 9, align: .right, sort: .size, dropOrder: 0),
    ]

    /// `m`: the error metrics `report` prints, per layer.
    static let metricColumns: [Column] = [
        Column(title: "MSE", width: 9, align: .right, sort: nil, dropOrder: 0),
        Column(title: "max err", width: 8, align: .right, sort: nil, dropOrder: 0),
        Column(title: "cosine", width: 8, align: .right, sort: nil, dropOrder: 0),
    ]

    /// `d`: what makes a layer hard to quantize and what its compression costs the model.
    static let diagnosticColumns: [Column] = [
        Column(title: "kurt", width: 6, align: .right, sort: .kurtosis, dropOrder: 0),
        Column(title: "share", width: 6, align: .right, sort: .errorShare, dropOrder: 0),
        Column(title: "err/bit", width: 8, align: .right, sort: .sensitivity, dropOrder: 0),
        Column(title: "spread", width: 7, align: .right, sort: nil, dropOrder: 8),
        Column(title: ">6σ", width: 5, align: .right, sort: nil, dropOrder: 7),
    ]
    /// Shown with an importance matrix: the importance-weighted SQNR.
    static let importanceColumn = Column(title: "wSQNR", width: 7, align: .right, sort: nil, dropOrder: 1)

    /// Shown while a snapshot (`b`) is held: each layer's change against it.
    static let deltaColumns: [Column] = [
        Column(title: "Δsize", width: 10, align: .right, sort: nil, dropOrder: 2),
        Column(title: "ΔSQNR", width: 6, align: .right, sort: nil, dropOrder: 1),
    ]

    /// Shape, dtype and method as wide as their longest cell (within bounds), so a wide terminal shows
    /// `[32000,4096]` and `|w|<0.154 + int4 g128` whole instead of giving the room to the name.
    static func sizedToContent(_ state: AppState) -> [Column] {
        var shape = 5, dtype = 5, method = 6
        for r in state.records {
            shape = max(shape, DisplayWidth.of(Format.shape(r.tensor.shape)))
            dtype = max(dtype, DisplayWidth.of(r.tensor.dtypeName))
            method = max(method, DisplayWidth.of(r.tensor.isFloating ? SettingsText.summary(r.settings) : "not compressed"))
        }
        return fixedColumns.map { c in
            var c = c
            switch c.title {
            case "shape": c.width = min(shape, 24) + 1
            case "dtype": c.width = min(dtype, 10) + 1
            case "method": c.width = min(method, 28) + 1
            default: break
            }
            return c
        }
    }

    /// The fixed columns that fit beside a name of at least `minimumNameWidth`, and the name's width (no
    /// wider than the longest name: spare room stays at the row's end).
    static func columns(width: Int, state: AppState? = nil) -> (name: Int, fixed: [Column]) {
        var fixed = (state.map(sizedToContent) ?? fixedColumns) + (state?.showMetrics == true ? metricColumns : [])
            + (state?.showDiagnostics == true ? diagnosticColumns : [])
            + (state?.baseline == nil ? [] : deltaColumns)
        if state?.importancePath != nil, let k = fixed.firstIndex(where: { $0.title == "SQNR dB" }) { fixed.insert(importanceColumn, at: k + 1) }
        func nameWidth() -> Int { width - markWidth - fixed.reduce(0) { $0 + $1.width + 1 } - 1 }
        while nameWidth() < minimumNameWidth, let drop = fixed.filter({ $0.dropOrder > 0 }).max(by: { $0.dropOrder < $1.dropOrder }) {
            fixed.removeAll { $0.title == drop.title }
        }
        // On a narrow screen the content widths may leave the name too little: fall back to the defaults.
        if nameWidth() < minimumNameWidth, let state, state.baseline == nil, !state.showMetrics, !state.showDiagnostics { return columns(width: width) }
        let longest = state?.records.map { DisplayWidth.of(DisplayText.escaped($0.tensor.name)) }.max() ?? Int.max
        return (max(4, min(nameWidth(), max(longest, minimumNameWidth))), fixed)
    }

    static func draw(_ p: inout Painter, _ state: AppState, _ layout: Layout) {
        let rect = layout.table
        let rows = state.visibleLayers
        p.paneTitle(title(state, rows: rows, visible: layout.tableRows), extra: extra(state, p.glyphs),
                    x: rect.x, y: rect.y, width: rect.width, focused: state.pane == .layers)
        let (nameWidth, fixed) = columns(width: rect.width, state: state)

        // Header.
        let y0 = rect.y + 1
        let header = Style(.title, bold: true)
        p.text("name" + sortArrow(state, .name, p.glyphs), x: markWidth, y: y0, state.sort == .name ? Style(.highlight, bold: true) : header, width: nameWidth)
        var x = markWidth + nameWidth + 1
        for c in fixed {
            let sorted = c.sort != nil && c.sort == state.sort
            let style = sorted ? Style(.highlight, bold: true) : header
            if sorted && c.align == .right {
                // Right-aligned titles fill their cells ("params", "SQNR dB"): the arrow goes in front, into
                // the gap, rather than cutting the title to "param…".
                let arrow = sortArrow(state, c.sort!, p.glyphs)
                cell(&p, c.title, x: x, y: y0, width: c.width, align: .right, style)
                p.text(arrow, x: x + c.width - min(c.width, DisplayWidth.of(c.title)) - DisplayWidth.of(arrow), y: y0, style)
            } else {
                cell(&p, c.title + (sorted ? sortArrow(state, c.sort!, p.glyphs) : ""), x: x, y: y0, width: c.width, align: c.align, style)
            }
            x += c.width + 1
        }

        if rows.isEmpty {
            let text = state.records.isEmpty ? "this model has no tensors" : "no layer name contains “" + DisplayText.escaped(state.filter) + "”"
            p.text(text, x: markWidth, y: layout.tableFirstRow, Style(.inactive), width: rect.width - markWidth)
            return
        }
        for r in 0..<layout.tableRows {
            let k = state.scroll + r
            guard k < rows.count else { break }
            row(&p, state, layer: rows[k], y: layout.tableFirstRow + r, width: rect.width, nameWidth: nameWidth, fixed: fixed)
        }
    }

    static func title(_ state: AppState, rows: [Int], visible: Int) -> String {
        var t = "layers"
        if rows.count > visible {
            t += " \(state.scroll + 1)–\(min(rows.count, state.scroll + visible)) of \(rows.count)"
        } else {
            t += " (\(rows.count)" + (rows.count == state.records.count ? ")" : " of \(state.records.count))")
        }
        return t
    }

    static func extra(_ state: AppState, _ g: Glyphs) -> String {
        var parts: [String] = []
        if state.applyToAll { parts.append(state.applyIncludesVectors ? "* edits apply to ALL shown layers" : "* edits apply to ALL shown matrices") }
        else if !state.marked.isEmpty { parts.append("\(state.marked.count) marked") }
        if !state.filter.isEmpty || state.isEditingFilter { parts.append("filter “" + DisplayText.escaped(state.filter) + "”") }
        if state.sort != .file || state.sortDescending {
            parts.append("sort " + state.sort.title + " " + (state.sortDescending ? g.descending : g.ascending))
        }
        return parts.joined(separator: " · ")
    }

    static func sortArrow(_ state: AppState, _ column: AppState.SortColumn, _ g: Glyphs) -> String {
        state.sort == column ? (state.sortDescending ? g.descending : g.ascending) : ""
    }

    static func cell(_ p: inout Painter, _ s: String, x: Int, y: Int, width: Int, align: Align, _ style: Style) {
        if align == .left { p.text(s, x: x, y: y, style, width: width) }
        else { p.textRight(s, right: x + width, y: y, style, width: width) }
    }

    static func row(_ p: inout Painter, _ state: AppState, layer i: Int, y: Int, width: Int, nameWidth: Int, fixed: [Column]) {
        let info = state.records[i].tensor
        let focused = i == state.focus
        let background: ThemeRole = focused ? .selectedBackground : .mainBackground
        let base = Style(focused ? .selectedForeground : (info.isFloating ? .mainForeground : .inactive), on: background, bold: focused)
        func styled(_ role: ThemeRole) -> Style { Style(role, on: background, bold: focused) }
        p.grid.fill(x: 0, y: y, width: width, height: 1, style: base)
        if state.marked.contains(i) { p.text(p.glyphs.mark, x: 0, y: y, styled(.marked)) }
        if state.budget?.pinned.contains(i) == true { p.text(p.glyphs.pin, x: 1, y: y, styled(.highlight)) }
        p.text(p.fitName(DisplayText.escaped(info.name), nameWidth), x: markWidth, y: y, base, width: nameWidth)

        let n = LayerNumbers.of(i, in: state)
        var x = markWidth + nameWidth + 1
        for c in fixed {
            var (text, role) = value(c.title, info: info, settings: state.records[i].settings, numbers: n,
                                     nonFinite: state.records[i].holdsNonFinite)
            if let d = diagnostic(c.title, state, layer: i) { (text, role) = d }
            if let b = state.baseline, b.numbers.indices.contains(i), info.isFloating {
                let before = b.numbers[i]
                if c.title == "Δsize" { (text, role) = (n.bytes.flatMap { now in before.bytes.map { Format.bytesDelta(now - $0) } } ?? "…", nil) }
                if c.title == "ΔSQNR" { (text, role) = (Format.sqnrDelta(n.sqnr, before.sqnr), nil) }
            }
            cell(&p, text, x: x, y: y, width: c.width, align: c.align, role.map(styled) ?? base)
            x += c.width + 1
        }
    }

    /// One cell's text, and a role when it is coloured (SQNR by quality, pending and failed states).
    static func value(_ column: String, info: AppState.Layer, settings: LayerSettings, numbers n: LayerNumbers,
                      nonFinite: Bool = false) -> (String, ThemeRole?) {
        switch column {
        case "shape": return (Format.shape(info.shape), nil)
        case "dtype": return (info.dtypeName, nil)
        case "params": return (Format.count(info.parameters), nil)
        case "method": return info.isFloating ? (SettingsText.summary(settings), nil) : ("not compressed", .inactive)
        case "bits": return (n.bitsPerWeight.map { Format.fixed($0, 2) } ?? "…", n.bitsPerWeight == nil ? .inactive : nil)
        case "pruned":
            guard info.isFloating else { return ("", nil) }
            return (n.pruned.map(Format.percent) ?? "…", n.pruned == nil ? .inactive : nil)
        case "zeros":
            guard info.isFloating else { return ("", nil) }
            return (n.sparsity.map(Format.percent) ?? "…", n.sparsity == nil ? .inactive : nil)
        case "SQNR dB":
            switch n.status {
            case .notCompressed: return ("", nil)
            case .failed: return ("error", .bad)
            case _ where nonFinite: return ("NaN/Inf", .bad)
            default:
                guard let db = n.sqnr else { return ("…", .inactive) }
                let text = (n.status == .estimate ? "~" : "") + Format.sqnr(db)
                // A row-sample estimate is dimmed until the exact number arrives.
                return (text, n.sampleInterval != nil ? .inactive : quality(db))
            }
        case "wSQNR":
            // Layers without an imatrix entry have no weighted error ("-"); pending ones wait for the engine.
            guard info.isFloating, n.status != .notCompressed else { return ("", nil) }
            if case .failed = n.status { return ("", nil) }
            guard let w = n.importance else { return n.status == .exact ? ("-", .inactive) : ("…", .inactive) }
            return (Format.sqnr(w.sqnrDB), quality(w.sqnrDB))
        case "size": return (n.bytes.map(Format.bytes) ?? "…", n.bytes == nil ? .inactive : nil)
        case "MSE", "max err", "cosine":
            guard info.isFloating else { return ("", nil) }
            guard let m = n.metrics, n.status == .exact || n.status == .estimate else { return ("…", .inactive) }
            let approx = n.status == .estimate ? "~" : ""
            switch column {
            case "MSE": return (approx + Format.value(m.mse), nil)
            // The histogram estimate has sums only: the largest error waits for the engine.
            case "max err": return n.status == .estimate ? ("…", .inactive) : (Format.value(m.maxAbsError), nil)
            default: return (approx + Format.fixed(m.cosineSimilarity, 4), nil)
            }
        default: return ("", nil)
        }
    }

    /// A diagnostics cell (nil for other columns): the kurtosis from the analysis, the error share and
    /// error per bit saved from the numbers model.
    static func diagnostic(_ column: String, _ state: AppState, layer i: Int) -> (String, ThemeRole?)? {
        let r = state.records[i]
        guard ["kurt", "share", "err/bit", "spread", ">6σ"].contains(column) else { return nil }
        guard r.tensor.isFloating else { return ("", nil) }
        let text: String?
        switch column {
        case "kurt": text = r.analysis.map { Format.fixed($0.statistics.kurtosis, 1) }
        case "share": text = r.numbers.errorShare(of: state.totals.totals).map(Format.percent)
        // Channel spread and outliers need a pass over the values: budget mode's menu job makes it.
        case "spread": text = state.budget?.diagnostics(layer: i).map { $0.channelSpread.map { Format.fixed($0, 1) } ?? "—" }
        case ">6σ": text = state.budget?.diagnostics(layer: i).map { "\($0.outliers)" }
        default: text = r.numbers.sensitivity(originalBytes: r.tensor.bytes).map(Format.value)
        }
        return text.map { ($0, nil) } ?? ("…", .inactive)
    }

    /// Roughly: ≥ 30 dB is hard to tell from the original, below 15 dB a layer is visibly damaged.
    static func quality(_ db: Double) -> ThemeRole {
        db >= 30 ? .good : db >= 15 ? .warning : .bad
    }
}
