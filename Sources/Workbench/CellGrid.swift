/// The screen as plain data: a grid of cells, each one character and a style. Views draw into a grid, tests
/// compare grids written as text lines, and the Terminal module copies a grid to ncurses. Nothing here knows
/// about terminals.
public struct CellGrid: Equatable, Sendable {
    public let width: Int
    public let height: Int
    public private(set) var cells: [Cell]

    public init(width: Int, height: Int, style: Style = Style()) {
        self.width = max(0, width)
        self.height = max(0, height)
        cells = Array(repeating: Cell(" ", style: style), count: self.width * self.height)
    }

    public subscript(x: Int, y: Int) -> Cell {
        get { cells[y * width + x] }
        set {
            guard x >= 0, y >= 0, x < width, y < height else { return }
            cells[y * width + x] = newValue
        }
    }

    /// Writes `text` from column `x` on row `y`, clipped to `maxWidth` columns (and to the grid), by display
    /// width: a wide character takes two cells (the second marked as a continuation) and is dropped rather than
    /// split at the edge. Returns the number of columns written. Callers escape untrusted text first
    /// (`WeightFormats.DisplayText`); control characters reaching here are drawn as `?`.
    @discardableResult
    public mutating func put(_ text: String, x: Int, y: Int, style: Style, maxWidth: Int? = nil) -> Int {
        guard y >= 0, y < height else { return 0 }
        let limit = min(width, x + (maxWidth ?? width))
        var col = x
        for ch in text {
            let w = DisplayWidth.of(ch)
            if w == 0 { continue }
            if col + w > limit { break }
            if col >= 0 {
                let drawn: Character = ch.unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) } ? "?" : ch
                self[col, y] = Cell(drawn, style: style)
                if w == 2 { self[col + 1, y] = Cell(" ", style: style, isContinuation: true) }
            }
            col += w
        }
        return max(0, col - x)
    }

    /// Fills a rectangle (clipped to the grid) with one character and style.
    public mutating func fill(x: Int, y: Int, width w: Int, height h: Int, _ ch: Character = " ", style: Style) {
        for yy in max(0, y)..<min(height, y + h) {
            for xx in max(0, x)..<min(width, x + w) { self[xx, yy] = Cell(ch, style: style) }
        }
    }

    /// Changes only the style of a rectangle's cells (selection bars, shading).
    public mutating func restyle(x: Int, y: Int, width w: Int, height h: Int, _ transform: (inout Style) -> Void) {
        for yy in max(0, y)..<min(height, y + h) {
            for xx in max(0, x)..<min(width, x + w) { transform(&cells[yy * width + xx].style) }
        }
    }

    /// The characters of each row, trailing spaces kept: what a text snapshot compares.
    public var lines: [String] {
        (0..<height).map { y in
            var s = ""
            for x in 0..<width where !self[x, y].isContinuation { s.append(self[x, y].character) }
            return s
        }
    }
}

public struct Cell: Equatable, Sendable {
    public var character: Character
    public var style: Style
    /// The right half of a wide character drawn in the cell before.
    public var isContinuation: Bool

    public init(_ character: Character, style: Style = Style(), isContinuation: Bool = false) {
        self.character = character
        self.style = style
        self.isContinuation = isContinuation
    }
}

/// How a cell looks: colours as theme roles (resolved to real colours by the Terminal), plus attributes.
public struct Style: Hashable, Sendable {
    public var foreground: ThemeRole
    public var background: ThemeRole
    public var bold: Bool
    public var underline: Bool
    public var reverse: Bool

    public init(_ foreground: ThemeRole = .mainForeground, on background: ThemeRole = .mainBackground,
                bold: Bool = false, underline: Bool = false, reverse: Bool = false) {
        self.foreground = foreground
        self.background = background
        self.bold = bold
        self.underline = underline
        self.reverse = reverse
    }
}

/// Terminal columns a character occupies: 0 for combining marks and zero-width characters, 2 for East Asian
/// wide and fullwidth characters and emoji presentation, 1 otherwise.
public enum DisplayWidth {
    public static func of(_ ch: Character) -> Int {
        guard let s = ch.unicodeScalars.first else { return 0 }
        let v = s.value
        if v == 0 { return 0 }
        if s.properties.generalCategory == .nonspacingMark || s.properties.generalCategory == .enclosingMark
            || v == 0x200B || v == 0x200D || (0xFE00...0xFE0F).contains(v) { return 0 }
        if ch.unicodeScalars.count > 1, ch.unicodeScalars.contains(where: { $0.value == 0xFE0F }) { return 2 }
        switch v {
        case 0x1100...0x115F, 0x2E80...0x303E, 0x3041...0x33FF, 0x3400...0x4DBF, 0x4E00...0x9FFF,
             0xA000...0xA4CF, 0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE30...0xFE4F, 0xFF00...0xFF60,
             0xFFE0...0xFFE6, 0x1F300...0x1F64F, 0x1F900...0x1F9FF, 0x20000...0x2FFFD, 0x30000...0x3FFFD:
            return 2
        default:
            return 1
        }
    }

    public static func of(_ s: String) -> Int { s.reduce(0) { $0 + of($1) } }

    /// `s` cut to at most `columns` display columns, with `…` marking a cut.
    public static func truncate(_ s: String, to columns: Int) -> String {
        guard columns > 0 else { return "" }
        if of(s) <= columns { return s }
        var out = "", used = 0
        for ch in s {
            let w = of(ch)
            if used + w > columns - 1 { break }
            out.append(ch)
            used += w
        }
        return out + "…"
    }
}
