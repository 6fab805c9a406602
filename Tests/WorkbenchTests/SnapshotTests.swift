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
        assertSnapshot(lines: view(s, width: 120, height: 40).lines, named: "int4-120x40")
    }

    @Test func prunedLayerAt80x24() {
        let s = Self.prunedFocused(width: 80, height: 24)
        assertSnapshot(lines: view(s, width: 80, height: 24).lines, named: "pruned-80x24")
    }

    @Test func prunedLayerAt80x24InASCII() {
        let s = Self.prunedFocused(width: 80, height: 24, unicode: false)
        assertSnapshot(lines: view(s, width: 80, height: 24).lines, named: "pruned-80x24-ascii")
    }

    /// Just opened: nothing analysed or evaluated yet, the histogram pane focused.
    @Test func openingAt80x24() {
        var s = FakeModel.freshState(width: 80, height: 24)
        _ = reduce(&s, .input(.key(.tab)))
        _ = reduce(&s, .analysed(layer: 2, FakeModel.analysis(FakeModel.values[2]!)))
        assertSnapshot(lines: view(s, width: 80, height: 24).lines, named: "opening-80x24")
    }

    /// The settings pane focused on the 2:4 + int8 layer, with `*` on.
    @Test func settingsPaneAt100x30() {
        var s = FakeModel.loadedState(width: 100, height: 30)
        for key in "jjjj*" { _ = reduce(&s, .input(.key(.character(key)))) }
        _ = reduce(&s, .input(.key(.backTab)))
        assertSnapshot(lines: view(s, width: 100, height: 30).lines, named: "settings-100x30")
    }

    @Test func tooSmallAt40x12() {
        let s = FakeModel.loadedState(width: 40, height: 12)
        assertSnapshot(lines: view(s, width: 40, height: 12).lines, named: "too-small-40x12")
    }

    @Test func helpAt80x24() {
        var s = FakeModel.loadedState(width: 80, height: 24)
        _ = reduce(&s, .input(.key(.character("?"))))
        assertSnapshot(lines: view(s, width: 80, height: 24).lines, named: "help-80x24")
    }

    @Test func helpAt120x40() {
        var s = FakeModel.loadedState(width: 120, height: 40)
        _ = reduce(&s, .input(.key(.character("?"))))
        assertSnapshot(lines: view(s, width: 120, height: 40).lines, named: "help-120x40")
    }

    @Test func minimumSizeWithFilterPrompt() {
        var s = Self.int4Focused(width: 60, height: 16)
        for key in "/attn" { _ = reduce(&s, .input(.key(.character(key)))) }
        _ = reduce(&s, .input(.key(.backspace)))
        _ = reduce(&s, .input(.key(.backspace)))
        _ = reduce(&s, .input(.key(.backspace)))
        _ = reduce(&s, .input(.key(.backspace)))
        for key in "w1" { _ = reduce(&s, .input(.key(.character(key)))) }
        assertSnapshot(lines: view(s, width: 60, height: 16).lines, named: "filter-60x16")
    }
}
