import WeightFormats

/// Renders the whole screen for a state. Pure: the same state and size always give the same grid, which
/// is what the snapshot tests compare and what the Terminal copies to ncurses.
public func view(_ state: AppState, width: Int, height: Int) -> CellGrid {
    Screen.render(state, width: width, height: height)
}

enum Screen {
    static func render(_ state: AppState, width: Int, height: Int) -> CellGrid {
        var p = Painter(width: width, height: height, unicode: state.useUnicode)
        let layout = Layout(width: width, height: height)
        if layout.isTooSmall {
            tooSmall(&p, width: width, height: height)
            return p.grid
        }
        titleBar(&p, state, layout)
        if state.showHelp {
            HelpView.draw(&p, state, layout)
        } else {
            LayerTable.draw(&p, state, layout)
            if let budget = state.budget { BudgetPane.draw(&p, state, budget, layout) } else { HistogramView.draw(&p, state, layout) }
            divider(&p, layout)
            SettingsPane.draw(&p, state, layout)
        }
        StatusLine.draw(&p, state, layout)
        return p.grid
    }

    /// Row 0: program, model and size; help reminder on the right.
    static func titleBar(_ p: inout Painter, _ state: AppState, _ layout: Layout) {
        let bar = Style(.statusForeground, on: .statusBackground)
        p.grid.fill(x: 0, y: 0, width: layout.width, height: 1, style: bar)
        var col = 1
        col += p.text("weightlab", x: col, y: 0, Style(.title, on: .statusBackground, bold: true))
        let params = state.records.reduce(0) { $0 + $1.tensor.parameters }
        let about = "  " + DisplayText.escaped(state.modelName) + " · \(state.records.count) \(state.records.count == 1 ? "tensor" : "tensors") · "
            + Format.count(params) + " params"
        let right = state.showHelp ? "Esc closes help " : "? help  q quit "
        let room = layout.width - col - DisplayWidth.of(right) - 1
        p.text(about, x: col, y: 0, bar, width: max(0, room))
        p.textRight(right, right: layout.width, y: 0, Style(.inactive, on: .statusBackground), width: DisplayWidth.of(right))
    }

    /// The vertical line between the histogram and the settings pane.
    static func divider(_ p: inout Painter, _ layout: Layout) {
        let x = layout.histogram.maxX
        p.grid.fill(x: x, y: layout.histogram.y, width: 1, height: layout.histogram.height, p.glyphs.vertical, style: Style(.border))
    }

    /// Below the minimum size: one centred, wrapped message.
    static func tooSmall(_ p: inout Painter, width: Int, height: Int) {
        let message = "terminal too small: need at least \(Layout.minimumWidth)×\(Layout.minimumHeight), have \(width)×\(height)"
        let lines = wrap(p.glyphs.text(message), width: max(1, width - 2))
        let top = max(0, (height - lines.count) / 2)
        for (k, line) in lines.enumerated() {
            let w = DisplayWidth.of(line)
            p.text(line, x: max(0, (width - w) / 2), y: top + k, Style(.warning, bold: true), width: width)
        }
    }

    /// Greedy word wrap by display width (words longer than a line are cut).
    static func wrap(_ text: String, width: Int) -> [String] {
        var lines: [String] = [], line = ""
        for word in text.split(separator: " ") {
            let candidate = line.isEmpty ? String(word) : line + " " + word
            if DisplayWidth.of(candidate) <= width || line.isEmpty {
                line = candidate
            } else {
                lines.append(line)
                line = String(word)
            }
        }
        if !line.isEmpty { lines.append(line) }
        return lines
    }
}
