import Compression
import WeightFormats

/// The focused layer's histogram: values (or the error w − ŵ) as vertical bars in eighth blocks, the
/// pruned band |w| < t in the pruned colour, the quantization levels as ticks under the bars, clip points
/// marked, and the x axis labelled at lo, 0 and hi.
enum HistogramView {
    static func draw(_ p: inout Painter, _ state: AppState, _ layout: Layout) {
        let rect = layout.histogram
        guard rect.width > 4, rect.height > 4 else { return }
        let i = state.focus
        let valid = state.records.indices.contains(i)
        let name = valid ? DisplayText.escaped(state.records[i].tensor.name) : ""
        p.paneTitle(state.showError ? "error · " : "histogram · ", subject: name, extra: modes(state),
                    x: rect.x, y: rect.y, width: rect.width, focused: state.pane == .histogram)
        guard valid else { return }
        let info = state.records[i].tensor
        guard info.isFloating else {
            return placeholder(&p, layout, "\(info.dtypeName) tensor: listed only, not compressed")
        }
        if let error = state.records[i].analysisFailure { return placeholder(&p, layout, "cannot analyse: " + error, .bad) }
        guard let analysis = state.records[i].analysis else { return placeholder(&p, layout, "analysing…") }
        let numbers = LayerNumbers.of(i, in: state)
        statisticsLine(&p, state, analysis, numbers, layout)

        guard let columns = columns(state, analysis, width: layout.bars.width) else {
            if state.records[i].settings.isIdentity { return placeholder(&p, layout, "no error: this layer is not compressed") }
            if case .failed(let m) = numbers.status { return placeholder(&p, layout, m, .bad) }
            return placeholder(&p, layout, state.currentEvaluation(i) == nil ? "waiting for the evaluation…" : "computing the error histogram…")
        }
        let threshold = state.showError ? nil : prunedBelow(state.records[i], analysis)
        bars(&p, columns, layout: layout, log: state.logCounts, threshold: threshold)
        let levels = state.showError ? nil : state.currentEvaluation(i)?.levels
        ticks(&p, columns, layout: layout, levels: levels, threshold: threshold)
        axis(&p, columns, layout: layout)
        legend(&p, columns, layout: layout, levels: levels, threshold: threshold, nonFinite: analysis.statistics.nans + analysis.statistics.infinities)
    }

    static func modes(_ state: AppState) -> String {
        var m = [state.logCounts ? "log" : "linear", state.zoom.label]
        if state.clipToPercentile && !state.showError { m.append("p99.9") }
        return m.joined(separator: " · ")
    }

    static func placeholder(_ p: inout Painter, _ layout: Layout, _ text: String, _ role: ThemeRole = .inactive) {
        let bars = layout.bars
        p.text(text, x: bars.x + 1, y: bars.y + bars.height / 2, Style(role), width: bars.width - 2)
    }

    /// "min … max … std … · sparsity …" (values) or the error's size (error view).
    static func statisticsLine(_ p: inout Painter, _ state: AppState, _ a: LayerAnalysis, _ n: LayerNumbers, _ layout: Layout) {
        let s = a.statistics
        var parts: [String]
        if state.showError {
            parts = ["error w − ŵ"]
            if let m = n.metrics, n.status == .exact {
                parts += ["max |e| " + Format.value(m.maxAbsError), "rmse " + Format.value(m.mse.squareRoot())]
            }
        } else {
            parts = ["min " + Format.value(s.min), "max " + Format.value(s.max), "std " + Format.value(s.std)]
        }
        // NaN and Inf are outside the bars and make the error undefined: name them first.
        if s.nans + s.infinities > 0 { parts.insert("holds \(s.nans) NaN, \(s.infinities) Inf", at: 0) }
        if let sp = n.sparsity { parts.append("zeros " + Format.percent(sp)) }
        if let db = n.sqnr, s.nans + s.infinities == 0 { parts.append("SQNR " + (n.status == .estimate ? "~" : "") + Format.sqnr(db) + (db.isFinite ? " dB" : "")) }
        let room = layout.histogram.width - 2
        while parts.count > 1 && DisplayWidth.of(p.glyphs.text(parts.joined(separator: "  "))) > room { parts.removeLast() }
        p.text(parts.joined(separator: "  "), x: layout.histogram.x + 1, y: layout.histogram.y + 1, Style(.mainForeground),
               width: layout.histogram.width - 2)
    }

    /// The counts to draw: the fetched histogram when it answers the current request, else (values only)
    /// the open-time histogram restricted to the shown range. Nil when the error view has nothing yet.
    static func columns(_ state: AppState, _ a: LayerAnalysis, width: Int) -> HistogramColumns? {
        if let request = state.histogramRequested, let h = state.histogramReceived {
            return HistogramColumns(counts: h.counts, sourceLo: h.lo, sourceHi: h.hi, sourceBelow: h.below,
                                    sourceAbove: h.above, columns: width, lo: request.lo, hi: request.hi)
        }
        if state.showError { return nil }
        let r = HistogramGeometry.valueRange(state) ?? (a.values.lo, a.values.hi)
        return HistogramColumns(counts: a.values.counts, sourceLo: a.values.lo, sourceHi: a.values.hi,
                                sourceBelow: a.values.below, sourceAbove: a.values.above, columns: width, lo: r.lo, hi: r.hi)
    }

    /// The magnitude below which values are pruned, for unstructured magnitude pruning. A global magnitude
    /// layer is cut at its group's threshold (one over every member), which only the engine knows: nothing is
    /// shaded until its answer arrives, rather than the layer's own quantile, which is not what is pruned.
    static func prunedBelow(_ record: LayerRecord, _ a: LayerAnalysis) -> Double? {
        switch record.settings.prune {
        case .threshold(let t): return t > 0 ? t : nil
        case .sparsity(let sp):
            let t = a.magnitudes.cut(sparsity: sp).threshold
            return t > 0 ? t : nil
        case .globalMagnitude:
            guard let t = record.evaluation?.groupCut?.threshold, t > 0, t.isFinite else { return nil }
            return Double(t)
        default: return nil
        }
    }

    static func isPruned(_ columns: HistogramColumns, _ c: Int, _ threshold: Double?) -> Bool {
        guard let t = threshold else { return false }
        return abs(columns.value(at: c)) < t
    }

    static func bars(_ p: inout Painter, _ columns: HistogramColumns, layout: Layout, log: Bool, threshold: Double?) {
        let bars = layout.bars
        let heights = columns.heights(rows: bars.height, log: log)
        let glyphs = p.glyphs.bars
        for (c, h) in heights.enumerated() {
            let style = Style(isPruned(columns, c, threshold) ? .histogramPruned : .histogramBar)
            for r in 0..<bars.height {
                let eighths = max(0, min(8, h - r * 8))
                guard eighths > 0 else { break }
                p.grid[bars.x + c, bars.maxY - 1 - r] = Cell(glyphs[eighths], style: style)
            }
        }
    }

    /// The row under the bars: the pruned band as a line in the pruned colour, level ticks over it, and the
    /// clip points on top.
    static func ticks(_ p: inout Painter, _ columns: HistogramColumns, layout: Layout, levels: QuantizationLevels?, threshold: Double?) {
        let bars = layout.bars, y = layout.tickRow
        for c in 0..<columns.counts.count where isPruned(columns, c, threshold) {
            p.grid[bars.x + c, y] = Cell(p.glyphs.horizontal, style: Style(.histogramPruned))
        }
        guard let levels else { return }
        for v in levels.values {
            if let c = columns.column(of: v) { p.grid[bars.x + c, y] = Cell(p.glyphs.tick, style: Style(.histogramTick)) }
        }
        if let clip = levels.clip {
            for v in [clip.lowerBound, clip.upperBound] {
                if let c = columns.column(of: v) { p.grid[bars.x + c, y] = Cell(p.glyphs.clip, style: Style(.histogramClip, bold: true)) }
            }
        }
    }

    /// lo at the left, hi at the right, 0 under its column when it fits between them.
    static func axis(_ p: inout Painter, _ columns: HistogramColumns, layout: Layout) {
        let bars = layout.bars, y = layout.axisRow
        let style = Style(.inactive)
        let left = Format.value(columns.lo), right = Format.value(columns.hi)
        let used = p.text(left, x: bars.x, y: y, style, width: bars.width)
        let rightWidth = DisplayWidth.of(right)
        guard used + rightWidth + 1 <= bars.width else { return }
        p.textRight(right, right: bars.maxX, y: y, style, width: rightWidth)
        if let c = columns.column(of: 0), c > used, c < bars.width - rightWidth - 1 {
            p.text("0", x: bars.x + c, y: y, style)
        }
    }

    /// A symmetric integer grid has one more level below zero than above (−2^(b−1)…2^(b−1)−1): its low clip
    /// point is one step beyond the mirror of the high one, which the label says rather than leave the
    /// asymmetry unexplained.
    static func hasExtraNegativeLevel(_ levels: QuantizationLevels) -> Bool {
        guard let clip = levels.clip, levels.values.count >= 3, clip.upperBound > 0 else { return false }
        let step = levels.values[1] - levels.values[0]
        guard step > 0 else { return false }
        return abs(-clip.lowerBound - clip.upperBound - step) <= step * 1e-3
    }

    /// What the marks mean: levels and their unit, clip range, pruned band, and values outside the view.
    static func legend(_ p: inout Painter, _ columns: HistogramColumns, layout: Layout, levels: QuantizationLevels?, threshold: Double?,
                       nonFinite: Int = 0) {
        var x = layout.bars.x
        let end = layout.bars.maxX, y = layout.legendRow
        func put(_ s: String, _ role: ThemeRole) {
            guard x < end else { return }
            x += p.text(s, x: x, y: y, Style(role), width: end - x) + 2
        }
        if let levels {
            put(String(p.glyphs.tick) + " \(levels.values.count) levels of " + levels.unit, .histogramTick)
            if nonFinite > 0 {
                put(String(p.glyphs.clip) + " clip undefined: the layer holds NaN/Inf", .bad)
            } else if let clip = levels.clip {
                put(String(p.glyphs.clip) + " clip " + Format.value(clip.lowerBound) + "…" + Format.value(clip.upperBound)
                    + (hasExtraNegativeLevel(levels) ? " (+1 level below)" : ""), .histogramClip)
            }
        }
        if let t = threshold { put(String(p.glyphs.horizontal) + " pruned |w| < " + Format.value(t), .histogramPruned) }
        let below = Int(columns.below.rounded()), above = Int(columns.above.rounded())
        if below > 0 || above > 0 { put("outside: \(below) ◂ ▸ \(above)", .inactive) }
    }
}
