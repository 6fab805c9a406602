import Foundation

/// The trade-off curve as a text plot: SQNR (dB, up) against bits per weight (right), one `*` per frontier
/// point joined by `·`, and the current plan as `@`. Drawn into a cell grid so `weightlab sweep` prints it
/// and the workbench shows it from the same code, and tests compare it as text.
public enum FrontierPlot {
    /// Columns of the y-axis labels (`  41.2 `).
    static let labelWidth = 7

    /// Draws the plot in the rectangle (at least 16 × 5 cells; smaller draws nothing). Points with a
    /// non-finite y (exact reconstructions) are drawn on the top row.
    public static func draw(into grid: inout CellGrid, x: Int, y: Int, width: Int, height: Int,
                            points: [(x: Double, y: Double)], marked: (x: Double, y: Double)? = nil,
                            style: Style = Style(), pointStyle: Style = Style(.highlight), markStyle: Style = Style(.marked, bold: true)) {
        guard width >= 16, height >= 5 else { return }
        let plotLeft = x + labelWidth + 1, plotWidth = width - labelWidth - 1
        let plotTop = y, plotHeight = height - 2
        let all = points + (marked.map { [$0] } ?? [])
        let xs = all.map(\.x).filter(\.isFinite), ys = all.map(\.y).filter(\.isFinite)
        guard let x0 = xs.min(), let x1 = xs.max() else {
            grid.put("no frontier points", x: plotLeft, y: plotTop, style: style, maxWidth: plotWidth)
            return
        }
        var (y0, y1) = (ys.min() ?? 0, ys.max() ?? 1)
        if y1 - y0 < 1e-9 { y0 -= 1; y1 += 1 }
        let xSpan = max(x1 - x0, 1e-9)
        func column(_ v: Double) -> Int { plotLeft + Int(((v - x0) / xSpan * Double(plotWidth - 1)).rounded()) }
        func row(_ v: Double) -> Int {
            guard v.isFinite else { return plotTop }
            return plotTop + plotHeight - 1 - Int(((v - y0) / (y1 - y0) * Double(plotHeight - 1)).rounded())
        }
        // Axes and labels.
        for r in plotTop..<(plotTop + plotHeight) { grid.put("│", x: plotLeft - 1, y: r, style: style) }
        grid.put("└" + String(repeating: "─", count: plotWidth), x: plotLeft - 1, y: plotTop + plotHeight, style: style)
        grid.put(label(y1), x: x, y: plotTop, style: style)
        grid.put(label(y0), x: x, y: plotTop + plotHeight - 1, style: style)
        let left = String(format: "%.2f", x0), right = String(format: "%.2f", x1)
        let axisRow = plotTop + plotHeight + 1
        grid.put("dB", x: x, y: plotTop + plotHeight, style: style)
        grid.put(left, x: plotLeft, y: axisRow, style: style)
        let caption = "bits per weight"
        if plotWidth > left.count + right.count + caption.count + 4 {
            grid.put(caption, x: plotLeft + (plotWidth - caption.count) / 2, y: axisRow, style: style)
        }
        grid.put(right, x: plotLeft + plotWidth - right.count, y: axisRow, style: style)
        // The curve: segments between consecutive points, then the points, then the mark on top.
        let sorted = points.filter { $0.x.isFinite }.sorted { $0.x < $1.x }
        for (a, b) in zip(sorted, sorted.dropFirst()) {
            let (ca, cb) = (column(a.x), column(b.x))
            guard cb > ca + 1 else { continue }
            for c in (ca + 1)..<cb {
                let t = Double(c - ca) / Double(cb - ca)
                let ya = a.y.isFinite ? a.y : y1, yb = b.y.isFinite ? b.y : y1
                grid.put("·", x: c, y: row(ya + (yb - ya) * t), style: style)
            }
        }
        for p in sorted { grid.put("*", x: column(p.x), y: row(p.y), style: pointStyle) }
        if let m = marked, m.x.isFinite { grid.put("@", x: column(m.x), y: row(m.y), style: markStyle) }
    }

    /// The plot alone as text lines (`weightlab sweep`).
    public static func lines(points: [(x: Double, y: Double)], marked: (x: Double, y: Double)? = nil,
                             width: Int = 72, height: Int = 16) -> [String] {
        var grid = CellGrid(width: width, height: height)
        draw(into: &grid, x: 0, y: 0, width: width, height: height, points: points, marked: marked)
        return grid.lines.map { String($0.reversed().drop { $0 == " " }.reversed()) }
    }

    static func label(_ v: Double) -> String {
        let s = String(format: "%.1f", v)
        return String(repeating: " ", count: max(0, labelWidth - 1 - s.count)) + s
    }
}
