import Compression
import WeightFormats

/// The two bottom rows. The status row: model totals (original → compressed, ratio, bits per weight,
/// sparsity, SQNR over all weights; "~" while any layer is an estimate or pending) and the progress of
/// background work. The hint row: the filter prompt while typing, else a transient message, else key hints.
enum StatusLine {
    static func draw(_ p: inout Painter, _ state: AppState, _ layout: Layout) {
        statusRow(&p, state, layout)
        hintRow(&p, state, layout)
    }

    static func statusRow(_ p: inout Painter, _ state: AppState, _ layout: Layout) {
        let y = layout.statusRow
        let bar = Style(.statusForeground, on: .statusBackground)
        p.grid.fill(x: 0, y: y, width: layout.width, height: 1, style: bar)
        let w = WorkbenchTotals.of(state)
        let t = w.totals
        let approx = w.unsettled > 0 ? "~" : ""

        var work: [String] = []
        if w.analysed < w.floating { work.append("analysing \(w.analysed)/\(w.floating)") }
        if w.evaluating > 0 { work.append("evaluating \(w.evaluating) layer" + (w.evaluating == 1 ? "" : "s")) }
        if let g = state.progress { work.append("\(g.label) \(g.done)/\(g.total)") }
        let right = work.joined(separator: " · ")
        let rightWidth = right.isEmpty ? 0 : min(layout.width / 2, DisplayWidth.of(p.glyphs.text(right)) + 1)
        if !right.isEmpty {
            p.textRight(right + " ", right: layout.width, y: y, Style(.warning, on: .statusBackground), width: rightWidth)
        }

        var parts = [Format.bytes(t.bytesOriginal) + " → " + approx + Format.bytes(t.bytesCompressed)
                     + " (×" + Format.fixed(t.compressionRatio, 2) + ")",
                     approx + Format.fixed(t.bitsPerWeight, 2) + " bits/w"]
        if t.metrics.count > 0 {
            parts.append("sparsity " + approx + Format.percent(t.metrics.sparsity))
            let db = t.metrics.sqnrDB
            parts.append("SQNR " + approx + Format.sqnr(db) + (db.isFinite ? " dB" : ""))
        }
        // Drop the last parts rather than cut a number in half.
        let room = layout.width - rightWidth - 2
        while parts.count > 1 && DisplayWidth.of(p.glyphs.text(" " + parts.joined(separator: " · "))) > room { parts.removeLast() }
        p.text(" " + parts.joined(separator: " · "), x: 0, y: y, Style(.statusForeground, on: .statusBackground, bold: true), width: room)
    }

    static func hintRow(_ p: inout Painter, _ state: AppState, _ layout: Layout) {
        let y = layout.hintRow, width = layout.width
        if state.isEditingFilter {
            var x = p.text("/", x: 0, y: y, Style(.highlight, bold: true))
            x += p.text(DisplayText.escaped(state.filter), x: x, y: y, Style(.mainForeground), width: width - x - 1)
            x += p.text(p.glyphs.cursor, x: x, y: y, Style(.highlight))
            p.textRight("Enter keep · Esc clear ", right: width, y: y, Style(.inactive), width: max(0, width - x - 1))
            return
        }
        if let m = state.message {
            p.text(" " + m.text, x: 0, y: y, Style(m.isError ? .bad : .good, bold: m.isError), width: width)
            return
        }
        let hints: [(Command, String)] = state.showHelp
            ? [(.closeHelp, "close"), (.scrollHelpDown, "scroll")]
            : [(.help, "help"), (.cyclePrune, "prune"), (.cycleFormat, "format"), (.bitsUp, "bits"),
               (.toggleMark, "mark"), (.startFilter, "filter"), (.sortNext, "sort"), (.savePlan, "save"), (.quit, "quit")]
        var x = 1
        for (command, label) in hints {
            guard let b = Keymap.bindings.first(where: { $0.command == command }), let key = b.keys.first else { continue }
            let k = p.glyphs.unicode ? Keymap.label(key) : Keymap.asciiLabel(key)
            guard x + DisplayWidth.of(k) + DisplayWidth.of(label) + 1 < width else { break }
            x += p.text(k, x: x, y: y, Style(.highlight, bold: true))
            x += p.text(" " + label + "  ", x: x, y: y, Style(.inactive))
        }
    }
}
