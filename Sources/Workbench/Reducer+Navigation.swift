/// Moving the focus through the (filtered, sorted) layer list, the filter itself, and keeping the focused
/// row on screen.
extension Reducer {
    /// Moves the focus `delta` rows in the visible list (clamped at both ends).
    static func move(_ state: inout AppState, by delta: Int) {
        let rows = state.visibleLayers
        guard !rows.isEmpty else { return }
        let position = rows.firstIndex(of: state.focus) ?? 0
        state.focus = rows[max(0, min(rows.count - 1, position + delta))]
    }

    /// Sets the filter text; when the focused layer no longer matches, the first match takes the focus.
    static func setFilter(_ state: inout AppState, _ text: String) {
        guard text != state.filter else { return }
        state.filter = text
        state.scroll = 0
        let rows = state.visibleLayers
        if !rows.contains(state.focus), let first = rows.first { state.focus = first }
    }

    /// Scrolls the table so the focused row is visible (run after every action, since sorting, filtering,
    /// results arriving and resizes all move rows).
    static func keepFocusVisible(_ state: inout AppState) {
        let visible = Layout(width: state.width, height: state.height).tableRows
        let rows = state.visibleLayers
        if let position = rows.firstIndex(of: state.focus) {
            if position < state.scroll { state.scroll = position }
            if position >= state.scroll + visible { state.scroll = position - visible + 1 }
        }
        state.scroll = max(0, min(state.scroll, rows.count - visible))
    }

    /// The wheel scrolls the list three rows; the focus stays on screen (moving with the edge if needed).
    static func scrollTable(_ state: inout AppState, by delta: Int) {
        let visible = Layout(width: state.width, height: state.height).tableRows
        let rows = state.visibleLayers
        guard !rows.isEmpty else { return }
        state.scroll = max(0, min(rows.count - visible, state.scroll + delta))
        let position = rows.firstIndex(of: state.focus) ?? 0
        state.focus = rows[max(state.scroll, min(min(rows.count, state.scroll + visible) - 1, position))]
    }
}
