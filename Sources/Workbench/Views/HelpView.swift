/// The `?` screen, generated from `Keymap.bindings`: one section per context, each binding's keys and help
/// text. Two columns when the terminal is wide enough; scrolls with ↑/↓, PgUp/PgDn and the wheel when it is
/// not tall enough.
enum HelpView {
    enum Line: Equatable {
        case heading(String)
        case binding(keys: String, help: String)
        case blank
    }

    /// Every help line, in keymap order, grouped by context (contexts in declaration order).
    static func lines(unicode: Bool) -> [Line] {
        var out: [Line] = []
        for context in KeyContext.allCases {
            let bindings = Keymap.bindings.filter { $0.context == context }
            guard !bindings.isEmpty else { continue }
            if !out.isEmpty { out.append(.blank) }
            out.append(.heading(context.rawValue))
            for b in bindings {
                let keys = b.keys.map { unicode ? Keymap.label($0) : Keymap.asciiLabel($0) }.joined(separator: " ")
                out.append(.binding(keys: keys, help: b.help))
            }
        }
        return out
    }

    /// The widest key list plus a gap.
    static func keysWidth(_ lines: [Line]) -> Int {
        lines.reduce(0) { w, line in
            if case .binding(let keys, _) = line { return max(w, DisplayWidth.of(keys)) }
            return w
        } + 3
    }

    /// How the lines fall into one or two columns at this width.
    static func columns(_ all: [Line], width: Int) -> [[Line]] {
        guard width >= 100 else { return [all] }
        // Split at a section boundary near the middle.
        let middle = all.count / 2
        let split = all.indices.filter { all[$0] == .blank }.min { abs($0 - middle) < abs($1 - middle) } ?? middle
        return [Array(all[..<split]), Array(all[min(all.count, split + 1)...])]
    }

    /// Help lines on screen at once (between the pane title and the status row): a page for PgUp/PgDn.
    static func visibleRows(height: Int) -> Int {
        max(1, Layout(width: Layout.minimumWidth, height: height).statusRow - 2)
    }

    /// The largest useful scroll offset (the reducer clamps to it).
    static func maxScroll(width: Int, height: Int, unicode: Bool) -> Int {
        let rows = visibleRows(height: height)
        let tallest = columns(lines(unicode: unicode), width: width).map(\.count).max() ?? 0
        return max(0, tallest - rows)
    }

    static func draw(_ p: inout Painter, _ state: AppState, _ layout: Layout) {
        let top = 1, bottom = layout.statusRow          // rows top..<bottom are ours
        p.paneTitle("keys", extra: "generated from the keymap · Esc, ? or q closes", x: 0, y: top, width: layout.width, focused: true)
        let all = lines(unicode: p.glyphs.unicode)
        let rows = bottom - top - 1
        guard rows > 0 else { return }
        let columns = columns(all, width: layout.width)
        let columnWidth = columns.count == 2 ? (layout.width - 3) / 2 : layout.width - 2
        let keysWidth = keysWidth(all)
        let tallest = columns.map(\.count).max() ?? 0
        let scroll = max(0, min(state.helpScroll, tallest - rows))
        for (k, column) in columns.enumerated() {
            let x = 1 + k * (columnWidth + 1)
            for r in 0..<rows {
                let index = scroll + r
                guard index < column.count else { break }
                let y = top + 1 + r
                switch column[index] {
                case .heading(let t): p.text(t, x: x, y: y, Style(.title, bold: true), width: columnWidth)
                case .binding(let keys, let help):
                    p.text(keys, x: x + 1, y: y, Style(.highlight, bold: true), width: keysWidth - 1)
                    p.text(help, x: x + keysWidth + 1, y: y, Style(.mainForeground), width: columnWidth - keysWidth - 1)
                case .blank: break
                }
            }
        }
        if tallest > rows + scroll {
            p.textRight("↓ more ", right: layout.width, y: bottom - 1, Style(.inactive), width: 8)
        }
    }
}
