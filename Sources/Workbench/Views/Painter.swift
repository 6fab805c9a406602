import Foundation

/// The glyphs a screen uses: block elements and box drawing where the terminal shows Unicode, ASCII
/// stand-ins otherwise (the run loop sets `AppState.useUnicode` from the locale).
struct Glyphs: Sendable {
    let unicode: Bool
    var horizontal: Character { unicode ? "─" : "-" }
    var vertical: Character { unicode ? "│" : "|" }
    var mark: String { unicode ? "●" : "*" }
    /// A layer pinned in budget mode: the key that pins it, so the table reads as its own legend.
    var pin: String { "!" }
    var ellipsis: String { unicode ? "…" : ".." }
    var ascending: String { unicode ? "▲" : "^" }
    var descending: String { unicode ? "▼" : "v" }
    var tick: Character { unicode ? "┴" : "|" }
    var clip: Character { unicode ? "▲" : "^" }
    var cursor: String { unicode ? "▏" : "_" }
    /// Bar glyphs by eighths filled, 0…8.
    var bars: [Character] { unicode ? [" ", "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"] : [" ", ".", ".", ":", ":", "|", "|", "#", "#"] }

    /// Text made drawable: unchanged with Unicode; otherwise the symbols this UI uses spelled in ASCII and
    /// anything else non-ASCII shown as `?`.
    func text(_ s: String) -> String {
        guard !unicode else { return s }
        var out = ""
        for ch in s {
            if ch.isASCII { out.append(ch); continue }
            switch ch {
            case "×": out += "x"
            case "÷": out += "/"
            case "−", "–", "—", "─": out += "-"
            case "±": out += "+-"
            case "→": out += "->"
            case "…": out += "..."
            case "ŵ": out += "w'"
            case "·": out += "|"
            case "●": out += "*"
            case "≥": out += ">="
            case "▲": out += "^"
            case "▼": out += "v"
            case "┴", "│": out += "|"
            case "█", "▁": out += "#"
            case "◂": out += "<"
            case "▸": out += ">"
            default: out += "?"
            }
        }
        return out
    }
}

/// A grid plus the glyph set: every view draws through this, so ASCII mode and truncation by display
/// width are handled in one place.
struct Painter {
    var grid: CellGrid
    let glyphs: Glyphs

    init(width: Int, height: Int, unicode: Bool) {
        grid = CellGrid(width: width, height: height, style: Style())
        glyphs = Glyphs(unicode: unicode)
    }

    /// `s` cut to `columns` display columns, ending in an ellipsis when cut.
    func fit(_ s: String, _ columns: Int) -> String {
        let t = glyphs.text(s)
        guard columns > 0 else { return "" }
        if DisplayWidth.of(t) <= columns { return t }
        let e = glyphs.ellipsis
        let room = columns - DisplayWidth.of(e)
        guard room > 0 else { return String(t.prefix(columns)) }
        var out = "", used = 0
        for ch in t {
            let w = DisplayWidth.of(ch)
            if used + w > room { break }
            out.append(ch)
            used += w
        }
        return out + e
    }

    /// `s` cut in the middle to `columns` display columns: for layer names, whose distinguishing part is
    /// often at the end (`layers.0.…wq.weight`, `layers.0.…wq.bias`).
    func fitMiddle(_ s: String, _ columns: Int) -> String {
        let t = glyphs.text(s)
        guard columns > 0, DisplayWidth.of(t) > columns else { return fit(s, columns) }
        let e = glyphs.ellipsis
        let room = columns - DisplayWidth.of(e)
        guard room >= 6 else { return fit(s, columns) }
        let headRoom = room / 3, tailRoom = room - headRoom
        var head = "", used = 0
        for ch in t {
            let w = DisplayWidth.of(ch)
            if used + w > headRoom { break }
            head.append(ch)
            used += w
        }
        var tail = "", tailUsed = 0
        for ch in t.reversed() {
            let w = DisplayWidth.of(ch)
            if tailUsed + w > tailRoom { break }
            tail.insert(ch, at: tail.startIndex)
            tailUsed += w
        }
        return head + e + tail
    }

    /// A dotted layer name cut to `columns` by dropping whole components, keeping what tells layers apart:
    /// the last two components and every component holding a digit (layer and block indices), then as
    /// many others as fit, nearest the end first (`…0…self.query.weight`, not `encode…f.query.weight`).
    /// Names that do not split that way are cut in the middle.
    func fitName(_ s: String, _ columns: Int) -> String {
        let t = glyphs.text(s)
        guard columns > 0, DisplayWidth.of(t) > columns else { return fit(s, columns) }
        let parts = t.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 3 else { return fitMiddle(s, columns) }
        let e = glyphs.ellipsis
        func render(_ keep: Set<Int>) -> String {
            var out = "", dropped = false
            for (i, part) in parts.enumerated() {
                if keep.contains(i) {
                    if !out.isEmpty && !dropped { out += "." }
                    out += part
                    dropped = false
                } else if !dropped {
                    out += e
                    dropped = true
                }
            }
            return out
        }
        var keep: Set<Int> = [parts.count - 2, parts.count - 1]
        for (i, part) in parts.enumerated() where part.contains(where: \.isNumber) { keep.insert(i) }
        guard DisplayWidth.of(render(keep)) <= columns else { return fitMiddle(s, columns) }
        for i in parts.indices.reversed() where !keep.contains(i) {
            var more = keep
            more.insert(i)
            if DisplayWidth.of(render(more)) <= columns { keep = more }
        }
        return render(keep)
    }

    /// Draws `s` (fitted to `width` columns when given). Returns the columns used.
    @discardableResult
    mutating func text(_ s: String, x: Int, y: Int, _ style: Style, width: Int? = nil) -> Int {
        let t = width.map { fit(s, $0) } ?? glyphs.text(s)
        return grid.put(t, x: x, y: y, style: style, maxWidth: width)
    }

    /// Draws `s` right-aligned so it ends before column `right`.
    @discardableResult
    mutating func textRight(_ s: String, right: Int, y: Int, _ style: Style, width: Int) -> Int {
        let t = fit(s, width)
        let w = DisplayWidth.of(t)
        return grid.put(t, x: right - w, y: y, style: style, maxWidth: w)
    }

    mutating func fill(_ rect: Layout.Rect, _ ch: Character = " ", _ style: Style) {
        grid.fill(x: rect.x, y: rect.y, width: rect.width, height: rect.height, ch, style: style)
    }

    /// A pane's first row: `─ title ─── extra ─`, highlighted when the pane has the keyboard.
    /// `subject` (a layer name) follows the title and is the part cut, in the middle, when space is short.
    mutating func paneTitle(_ title: String, subject: String = "", extra: String = "", x: Int, y: Int, width: Int, focused: Bool) {
        let line = Style(.border)
        grid.fill(x: x, y: y, width: width, height: 1, glyphs.horizontal, style: line)
        let titleStyle = focused ? Style(.highlight, bold: true) : Style(.title, bold: true)
        // The extra part is shown whole or not at all; the title gives way first, down to 16 columns.
        let extraText = extra.isEmpty ? "" : " " + glyphs.text(extra) + " "
        var extraWidth = DisplayWidth.of(extraText)
        if width - 4 - extraWidth < 16 { extraWidth = 0 }
        let titleRoom = max(0, width - 2 - (extraWidth > 0 ? extraWidth + 1 : 0))
        let subjectRoom = titleRoom - 2 - DisplayWidth.of(glyphs.text(title))
        let full = title + (subject.isEmpty || subjectRoom < 8 ? "" : fitMiddle(subject, subjectRoom))
        text(" " + full + " ", x: x + 1, y: y, titleStyle, width: titleRoom)
        if extraWidth > 0 { textRight(extraText, right: x + width - 1, y: y, Style(.inactive), width: extraWidth) }
    }
}
