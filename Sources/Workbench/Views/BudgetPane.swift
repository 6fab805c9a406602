import Compression

/// Budget mode's pane, in the histogram's place: the frontier of the menu as a plot (bits per weight
/// against SQNR) with the plan on screen marked `@`, and a title with the target and the layers pinned.
enum BudgetPane {
    static func draw(_ p: inout Painter, _ state: AppState, _ budget: BudgetState, _ layout: Layout) {
        let rect = layout.histogram
        let t = state.totals.totals
        var title = "budget"
        if let f = budget.frontier {
            title += " " + Format.bytes(t.bytesCompressed) + " · " + Format.fixed(t.bitsPerWeight, 2) + " bits/w · point \(budget.vertex + 1) of \(f.count)"
        } else if let estimate = EstimatedCurve(budget, state) {
            // Marked as an estimate: `~`, how many layers' exact answers have replaced their estimates, and the
            // widest SQNR interval; exact numbers replace it.
            let exact = budget.delivered?.count ?? 0
            title += " ~ estimated frontier" + (exact > 0 ? " (\(exact)/\(budget.estimated?.layers.count ?? 0) layers exact)" : "")
            title += ", SQNR ±" + Format.fixed(estimate.sqnrHalfWidth, 2) + " dB" + (exact > 0 ? "" : "; evaluating the menu")
            let extra = budget.pinned.isEmpty ? "" : "\(budget.pinned.count) pinned"
            p.paneTitle(title, extra: extra, x: rect.x, y: rect.y, width: rect.width, focused: state.pane == .histogram)
            FrontierPlot.draw(into: &p.grid, x: rect.x + 1, y: rect.y + 1, width: rect.width - 2, height: rect.height - 1,
                              points: estimate.curve.points, marked: (t.bitsPerWeight, t.metrics.sqnrDB),
                              style: Style(.inactive), pointStyle: Style(.inactive), markStyle: Style(.marked, bold: true))
            return
        } else {
            title += ": evaluating the menu"
        }
        let extra = budget.pinned.isEmpty ? "" : "\(budget.pinned.count) pinned"
        p.paneTitle(title, extra: extra, x: rect.x, y: rect.y, width: rect.width, focused: state.pane == .histogram)
        guard budget.frontier != nil else {
            p.text("> < move the target once the menu is evaluated", x: rect.x + 1, y: rect.y + 2, Style(.inactive), width: rect.width - 2)
            return
        }
        let curve = BudgetCurve(budget, state)
        FrontierPlot.draw(into: &p.grid, x: rect.x + 1, y: rect.y + 1, width: rect.width - 2, height: rect.height - 1,
                          points: curve.points, marked: (t.bitsPerWeight, t.metrics.sqnrDB),
                          style: Style(.mainForeground), pointStyle: Style(.highlight), markStyle: Style(.marked, bold: true))
    }
}
