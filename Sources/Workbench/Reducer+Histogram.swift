import Compression

/// The histogram pane: which histogram it wants (the open-time one needs no request; zoomed, clipped and
/// error views ask the run loop), and the mouse, which sets the pruning threshold by pointing at a value.
extension Reducer {
    /// Emits a request when the pane wants a different histogram than it last asked for (focus, zoom, clip,
    /// error view or the settings behind an error view changed). At most one per action.
    static func syncHistogram(_ state: inout AppState) -> [Effect] {
        let wanted = HistogramGeometry.wantedRequest(state)
        guard wanted != state.histogramRequested else { return [] }
        state.histogramRequested = wanted
        state.histogramReceived = nil
        return wanted.map { [.histogram($0)] } ?? []
    }

    static func mouse(_ state: inout AppState, _ m: MouseEvent) -> [Effect] {
        let layout = Layout(width: state.width, height: state.height)
        guard !layout.isTooSmall else { return [] }
        if state.showHelp {
            // The wheel scrolls the help text; clicks do nothing while it covers the panes.
            if m.kind == .wheelUp || m.kind == .wheelDown { scrollHelp(&state, by: m.kind == .wheelUp ? -3 : 3) }
            return []
        }
        switch m.kind {
        case .wheelUp, .wheelDown:
            if layout.table.contains(x: m.x, y: m.y) { scrollTable(&state, by: m.kind == .wheelUp ? -3 : 3) }
            return []
        case .release:
            return []
        case .press, .drag:
            if layout.table.contains(x: m.x, y: m.y) {
                guard m.kind == .press else { return [] }
                state.pane = .layers
                let row = m.y - layout.tableFirstRow
                let rows = state.visibleLayers
                if row >= 0, state.scroll + row < rows.count { state.focus = rows[state.scroll + row] }
                return []
            }
            if layout.settings.contains(x: m.x, y: m.y) {
                if m.kind == .press { state.pane = .settings }
                return []
            }
            let bars = layout.bars
            // A drag may wander outside the bars; it keeps following the column.
            let inside = bars.contains(x: m.x, y: m.y) || (m.kind == .drag && layout.histogram.contains(x: m.x, y: m.y))
            guard inside else { return [] }
            state.pane = .histogram
            guard !state.showError, state.records.indices.contains(state.focus), state.records[state.focus].tensor.isFloating,
                  let range = HistogramGeometry.range(state) else { return [] }
            let column = max(0, min(bars.width - 1, m.x - bars.x))
            let value = range.lo + (Double(column) + 0.5) / Double(bars.width) * (range.hi - range.lo)
            let threshold = SettingsCycle.roundSignificant(abs(value))
            return edit(&state, layers: [state.focus]) { settings, _, _ in
                var s = settings
                s.prune = .threshold(threshold)
                return s
            }
        }
    }
}

/// Ranges and requests of the histogram pane, shared by the reducer (requests, mouse) and the view (axes).
enum HistogramGeometry {
    /// The value range shown for the focused layer: the whole range, or ±zoom·absmax, narrowed to the 99.9th
    /// percentile of |w| when the clip view is on. Nil before the layer is analysed.
    static func valueRange(_ state: AppState) -> (lo: Double, hi: Double)? {
        guard state.records.indices.contains(state.focus), let a = state.records[state.focus].analysis else { return nil }
        var lo = a.values.lo, hi = a.values.hi
        if state.zoom != .full {
            let r = a.statistics.absmax * state.zoom.factor
            (lo, hi) = (-r, r)
        }
        if state.clipToPercentile {
            let p = a.magnitudes.percentile(99.9)
            (lo, hi) = (max(lo, -p), min(hi, p))
        }
        return hi > lo ? (lo, hi) : (a.values.lo, a.values.hi)
    }

    /// The range of the current view: the error view's request, or the value range.
    static func range(_ state: AppState) -> (lo: Double, hi: Double)? {
        if state.showError {
            return state.histogramRequested.map { ($0.lo, $0.hi) }
        }
        return valueRange(state)
    }

    /// The request the pane needs, or nil when the open-time histogram serves (full range, no clip) or when
    /// nothing can be asked yet (no analysis; the error view waits for the current evaluation, whose largest
    /// error sets its range).
    static func wantedRequest(_ state: AppState) -> HistogramRequest? {
        let i = state.focus
        guard state.records.indices.contains(i), state.records[i].tensor.isFloating, let a = state.records[i].analysis else { return nil }
        if state.showError {
            guard !state.records[i].settings.isIdentity, let e = state.currentEvaluation(i),
                  case .success(let r) = e.outcome else { return nil }
            let largest = r.metrics.maxAbsError > 0 ? r.metrics.maxAbsError : max(a.statistics.absmax * 1e-6, 1e-30)
            let h = largest * state.zoom.factor
            return HistogramRequest(layer: i, kind: .error(state.records[i].settings), lo: -h, hi: h,
                                    bins: HistogramRequest.defaultBins)
        }
        guard state.zoom != .full || state.clipToPercentile, let r = valueRange(state) else { return nil }
        return HistogramRequest(layer: i, kind: .values, lo: r.lo, hi: r.hi, bins: HistogramRequest.defaultBins)
    }
}
