import Compression
import Testing
import TestSupport
import WeightFormats
@testable import Workbench

/// Whole screens rendered from fixed states and compared with the text files in `Snapshots/`.
@Suite struct SnapshotTests {
    /// Focus on the int4 layer (levels drawn as ticks), two layers marked.
    static func int4Focused(width: Int, height: Int, unicode: Bool = true) -> AppState {
        var s = FakeModel.loadedState(width: width, height: height)
        s.useUnicode = unicode
        // Mark the two feed-forward layers, then focus the attention weight.
        for key in "jjj j kkk" { _ = reduce(&s, .input(.key(key == "j" ? .down : .character(key)))) }
        return s
    }

    /// Focus on the threshold-pruned layer (the pruned band), log counts.
    static func prunedFocused(width: Int, height: Int, unicode: Bool = true) -> AppState {
        var s = FakeModel.loadedState(width: width, height: height)
        s.useUnicode = unicode
        for key in "jjjl" { _ = reduce(&s, .input(.key(.character(key)))) }
        return s
    }

    @Test func int4LayerAt120x40() {
        let s = Self.int4Focused(width: 120, height: 40)
        assertScreen(view(s, width: 120, height: 40), named: "int4-120x40")
    }

    @Test func prunedLayerAt80x24() {
        let s = Self.prunedFocused(width: 80, height: 24)
        assertScreen(view(s, width: 80, height: 24), named: "pruned-80x24")
    }

    @Test func prunedLayerAt80x24InASCII() {
        let s = Self.prunedFocused(width: 80, height: 24, unicode: false)
        assertScreen(view(s, width: 80, height: 24), named: "pruned-80x24-ascii")
    }

    /// Just opened: nothing analysed or evaluated yet, the histogram pane focused.
    @Test func openingAt80x24() {
        var s = FakeModel.freshState(width: 80, height: 24)
        _ = reduce(&s, .input(.key(.tab)))
        _ = reduce(&s, .analysed(layer: 2, FakeModel.analysis(FakeModel.values[2]!)))
        assertScreen(view(s, width: 80, height: 24), named: "opening-80x24")
    }

    /// The settings pane focused on the 2:4 + int8 layer, with `*` on.
    @Test func settingsPaneAt100x30() {
        var s = FakeModel.loadedState(width: 100, height: 30)
        for key in "jjjj*" { _ = reduce(&s, .input(.key(.character(key)))) }
        _ = reduce(&s, .input(.key(.backTab)))
        assertScreen(view(s, width: 100, height: 30), named: "settings-100x30")
    }

    @Test func tooSmallAt40x12() {
        let s = FakeModel.loadedState(width: 40, height: 12)
        assertScreen(view(s, width: 40, height: 12), named: "too-small-40x12")
    }

    @Test func helpAt80x24() {
        var s = FakeModel.loadedState(width: 80, height: 24)
        _ = reduce(&s, .input(.key(.character("?"))))
        assertScreen(view(s, width: 80, height: 24), named: "help-80x24")
    }

    @Test func helpAt120x40() {
        var s = FakeModel.loadedState(width: 120, height: 40)
        _ = reduce(&s, .input(.key(.character("?"))))
        assertScreen(view(s, width: 120, height: 40), named: "help-120x40")
    }

    @Test func minimumSizeWithFilterPrompt() {
        var s = Self.int4Focused(width: 60, height: 16)
        for key in "/attn" { _ = reduce(&s, .input(.key(.character(key)))) }
        _ = reduce(&s, .input(.key(.backspace)))
        _ = reduce(&s, .input(.key(.backspace)))
        _ = reduce(&s, .input(.key(.backspace)))
        _ = reduce(&s, .input(.key(.backspace)))
        for key in "w1" { _ = reduce(&s, .input(.key(.character(key)))) }
        assertScreen(view(s, width: 60, height: 16), named: "filter-60x16")
    }

    /// The cells that carry meaning keep their roles whatever the theme: the pruned band and its legend, the
    /// focused row, marks, and a failed layer's error.
    @Test func meaningfulCellsCarryTheirStyles() throws {
        let s = Self.prunedFocused(width: 80, height: 24)
        let grid = view(s, width: 80, height: 24)
        let lines = grid.lines

        // The focused row (the threshold-pruned layer) is drawn on the selection background across the table.
        let focusedRow = try #require(lines.firstIndex { $0.contains("|w|<0.02") })
        #expect((0..<80).allSatisfy { grid[$0, focusedRow].style.background == .selectedBackground })
        let otherRow = try #require(lines.firstIndex { $0.contains("int4 g32") })
        #expect((0..<80).allSatisfy { grid[$0, otherRow].style.background != .selectedBackground })

        // The failed Q4_0 layer says "error" in the bad colour.
        let failedRow = try #require(lines.firstIndex { $0.contains("Q4_0") })
        #expect(grid.styles(ofText: "error", row: failedRow).allSatisfy { $0.foreground == .bad })

        // The histogram's pruned band: bars whose |value| is under the threshold are shaded, the others not,
        // and the legend names the threshold in the same colour.
        let legendRow = try #require(lines.firstIndex { $0.contains("pruned |w| < 0.02") })
        #expect(grid.styles(ofText: "pruned |w| < 0.02", row: legendRow).allSatisfy { $0.foreground == .histogramPruned })
        let axisRow = try #require(lines.firstIndex { $0.hasPrefix(" -0.116") })
        let barRow = axisRow - 2   // the lowest bar row (the band marker row sits between it and the axis)
        let zeroColumn = try #require(lines[axisRow].range(of: " 0 ").map { lines[axisRow].distance(from: lines[axisRow].startIndex, to: $0.lowerBound) + 1 })
        #expect(grid[zeroColumn, barRow].style.foreground == .histogramPruned)
        #expect(grid[3, barRow].style.foreground == .histogramBar)          // near the minimum: kept
        #expect(grid[zeroColumn, barRow + 1].style.foreground == .histogramPruned)   // the band marker

        // Marked layers carry the mark colour.
        let marked = Self.int4Focused(width: 120, height: 40)
        let markedGrid = view(marked, width: 120, height: 40)
        let markedRows = marked.marked.map { _ in () }.count
        #expect(markedRows == 2)
        let markCells = (0..<40).filter { markedGrid[0, $0].character != " " && markedGrid[0, $0].style.foreground == .marked }
        #expect(markCells.count == 2)
    }
}
