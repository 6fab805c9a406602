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
        // The state counts analyses itself; a run loop that also reports them is not shown twice.
        if let g = state.progress, !(g.label == "analysing" && w.analysed < w.floating) {
            work.append(g.isCounted ? "\(g.label) \(g.done)/\(g.total)" : g.label)
        }
        let right = work.joined(separator: " · ")
        let rightWidth = right.isEmpty ? 0 : min(layout.width / 2, DisplayWidth.of(p.glyphs.text(right)) + 1)
        if !right.isEmpty {
            p.textRight(right + " ", right: layout.width, y: y, Style(.warning, on: .statusBackground), width: rightWidth)
        }

        // Each part in a long and a short spelling; "~" once, in front, when any number is not final.
        let ratio = "×" + Format.fixed(t.compressionRatio, 2)
        let sizes = Format.bytes(t.bytesOriginal) + " → " + Format.bytes(t.bytesCompressed)
        var parts: [(long: String, short: String)] = [
            (sizes + " (" + ratio + ")", sizes + " " + ratio),
            (Format.fixed(t.bitsPerWeight, 2) + " bits/w", Format.fixed(t.bitsPerWeight, 2) + " b/w"),
        ]
        if t.metrics.count > 0 {
            parts.append(("zeros " + Format.percent(t.metrics.sparsity), Format.percent(t.metrics.sparsity) + " zeros"))
            // While a layer waits for the engine its error is unknown: the model's SQNR is too (the other
            // layers' sum would read "exact" while a layer is being quantized).
            let db = t.metrics.sqnrDB
            let sqnr = t.pendingLayers > 0 ? "… dB" : Format.sqnr(db) + (db.isFinite ? " dB" : "")
            parts.append(("SQNR " + sqnr, sqnr))
            if let w = t.importance {
                // The importance-weighted SQNR over the layers the imatrix has entries for.
                let ws = t.pendingLayers > 0 ? "… dB" : Format.sqnr(w.sqnrDB) + (w.sqnrDB.isFinite ? " dB" : "")
                parts.append(("wSQNR " + ws, "w " + ws))
            }
        }
        // The user's task metric, when the settings on screen were measured (`E`).
        if let m = state.currentTaskMetric {
            parts.append(("task " + m.metricText, "task " + m.metricText))
        }
        if let line = state.taskLine { parts.append(taskPart(line, settings: state.records.map(\.settings))) }
        // The last recovery (`F`), while its settings are on screen.
        if let r = state.currentRecovery { parts.append((r.summary, "recovered " + Format.percent(r.recovered))) }
        if let b = state.baseline {
            let delta = "Δ " + Format.bytesDelta(t.bytesCompressed - b.totals.bytesCompressed) + ", "
                + Format.sqnrDelta(t.pendingLayers > 0 ? nil : t.metrics.sqnrDB, b.totals.metrics.sqnrDB) + " dB"
            parts.insert(("vs snapshot " + delta, delta), at: min(2, parts.count))
        }
        let lead = " " + approx + (approx.isEmpty ? "" : " ")
        func text(_ long: Bool) -> String { lead + parts.map { long ? $0.long : $0.short }.joined(separator: " · ") }
        // Long spellings, else short ones, else drop parts from the end rather than cut a number in half.
        let room = layout.width - rightWidth - 1
        func fits(_ s: String) -> Bool { DisplayWidth.of(p.glyphs.text(s)) <= room }
        var line = text(true)
        if !fits(line) {
            line = text(false)
            // Sparsity goes first, then SQNR, then bits per weight; sizes always stay.
            for drop in [2, 2, 1] where !fits(line) && parts.count > drop {
                parts.remove(at: drop)
                line = text(false)
            }
        }
        p.text(line, x: 0, y: y, Style(.statusForeground, on: .statusBackground, bold: true), width: room)
    }

    /// The task line's part: the score of the settings on screen (`…` while it is computed) and the previous
    /// plan's value to compare with (`was`), the original's in the long spelling.
    static func taskPart(_ line: TaskLine, settings: [LayerSettings]) -> (long: String, short: String) {
        let name = line.latest?.score.name ?? "task"
        if let now = line.score(for: settings) {
            let notes = [line.prior.map { "was " + $0.score.text }, now.original.map { "original " + $0 }].compactMap { $0 }
            return (name + " " + now.text + (notes.isEmpty ? "" : " (" + notes.joined(separator: ", ") + ")"),
                    name + " " + now.text + (line.prior.map { " was " + $0.score.text } ?? ""))
        }
        if line.failure != nil && line.job == nil { return (name + " failed", name + " failed") }
        let was = line.latest.map { " (was " + $0.score.text + ")" } ?? ""
        return (name + " …" + was, name + " …" + (line.latest.map { " was " + $0.score.text } ?? ""))
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
        if state.isEditingValue {
            var x = p.text(":", x: 0, y: y, Style(.highlight, bold: true))
            x += p.text(DisplayText.escaped(state.valueText), x: x, y: y, Style(.mainForeground), width: width - x - 1)
            x += p.text(p.glyphs.cursor, x: x, y: y, Style(.highlight))
            p.textRight("b 4 · t 0.02 · s 50% · g 128 · Enter apply · Esc cancel ", right: width, y: y, Style(.inactive),
                        width: max(0, width - x - 1))
            return
        }
        if let prompt = state.writePrompt {
            var x = p.text("write model to: ", x: 0, y: y, Style(.highlight, bold: true))
            let tail = " as " + prompt.container + " · Tab container · Enter write · Esc cancel"
            let room = max(0, width - x - DisplayWidth.of(p.glyphs.text(tail)) - 3)   // the cursor and a space
            // The end of a long path matters most (the file name): cut from the left.
            var shown = DisplayText.escaped(prompt.path)
            if shown.count > room, room > 1 { shown = "…" + shown.suffix(room - 1) }
            x += p.text(shown, x: x, y: y, Style(.mainForeground), width: room)
            x += p.text(p.glyphs.cursor, x: x, y: y, Style(.highlight))
            p.textRight(tail, right: width, y: y, Style(.inactive), width: max(0, width - x - 1))
            return
        }
        if let m = state.message {
            p.text(" " + m.text, x: 0, y: y, Style(m.isError ? .bad : .good, bold: m.isError), width: width)
            return
        }
        let hints: [(Command, String)]
        switch (state.showHelp, state.pane) {
        case (true, _):
            hints = [(.closeHelp, "close"), (.scrollHelpUp, ""), (.scrollHelpDown, "scroll"), (.pageHelpUp, ""), (.pageHelpDown, "page")]
        case (false, .layers):
            hints = [(.help, "help"), (.cyclePrune, "prune"), (.cycleFormat, "format"), (.bitsUp, "bits"),
                     (.toggleMark, "mark"), (.startFilter, "filter"), (.sortNext, "sort"), (.savePlan, "save"), (.quit, "quit")]
        case (false, .histogram):
            hints = [(.help, "help"), (.thresholdDown, ""), (.thresholdUp, "threshold"), (.toggleLogCounts, "log"),
                     (.cycleZoom, "zoom"), (.toggleClipView, "clip"), (.toggleErrorView, "error"), (.nextPane, "pane")]
        case (false, .settings):
            hints = [(.help, "help"), (.cyclePrune, "prune"), (.fineDown, ""), (.fineUp, "amount"), (.cycleNM, "N:M"),
                     (.cycleFormat, "format"), (.bitsDown, ""), (.bitsUp, "bits"), (.toggleSymmetric, "sym"),
                     (.cycleGranularity, "scale"), (.cycleClip, "clip"), (.toggleApplyAll, "all")]
        }
        var x = 1
        for (command, label) in hints {
            guard let b = Keymap.bindings.first(where: { $0.command == command }), let key = b.keys.first else { continue }
            let k = p.glyphs.unicode ? Keymap.label(key) : Keymap.asciiLabel(key)
            guard x + DisplayWidth.of(k) + DisplayWidth.of(label) + 1 < width else { break }
            x += p.text(k, x: x, y: y, Style(.highlight, bold: true))
            // An empty label pairs a key with the next one ("[ ] amount").
            x += p.text(label.isEmpty ? " " : " " + label + "  ", x: x, y: y, Style(.inactive))
        }
    }
}
