import Testing
import TestSupport
@testable import Workbench

/// The styles of a grid as text, so a snapshot catches a lost colour as surely as a lost character: a legend
/// naming each style in order of first appearance, then one symbol per cell. The main style is `.`, others
/// take letters; a wide character's right half repeats its symbol.
///
///     . main_fg on main_bg
///     a hi_fg on main_bg bold
///     ...
///     aaaaa.....bbb
extension CellGrid {
    static let styleSymbols = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")

    var styleLines: [String] {
        let plain = Style()
        var symbols: [Style: Character] = [plain: "."]
        var legend = [". " + Self.describe(plain)]
        var rows: [String] = []
        for y in 0..<height {
            var row = ""
            for x in 0..<width {
                let style = self[x, y].style
                if symbols[style] == nil {
                    let k = symbols.count - 1
                    let symbol = k < Self.styleSymbols.count ? Self.styleSymbols[k] : "?"
                    symbols[style] = symbol
                    legend.append("\(symbol) " + Self.describe(style))
                }
                row.append(symbols[style]!)
            }
            rows.append(row)
        }
        return legend + [""] + rows
    }

    static func describe(_ s: Style) -> String {
        var text = "\(s.foreground.rawValue) on \(s.background.rawValue)"
        if s.bold { text += " bold" }
        if s.underline { text += " underline" }
        if s.reverse { text += " reverse" }
        return text
    }

    /// The cells of row `y` whose character is not a space, with their styles.
    func styles(ofText text: String, row y: Int) -> [Style] {
        guard let range = lines[y].range(of: text) else { return [] }
        let start = lines[y].distance(from: lines[y].startIndex, to: range.lowerBound)
        return (start..<(start + text.count)).map { self[$0, y].style }
    }
}

/// Compares both the characters and the styles of a grid with `Snapshots/<name>.txt` and
/// `Snapshots/<name>.styles.txt`.
func assertScreen(_ grid: CellGrid, named name: String, filePath: String = #filePath,
                  sourceLocation: SourceLocation = #_sourceLocation) {
    assertSnapshot(lines: grid.lines, named: name, filePath: filePath, sourceLocation: sourceLocation)
    assertSnapshot(lines: grid.styleLines, named: name + ".styles", filePath: filePath, sourceLocation: sourceLocation)
}
