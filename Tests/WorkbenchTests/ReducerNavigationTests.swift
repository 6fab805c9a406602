import Compression
import Testing
import TestSupport
import WeightFormats
@testable import Workbench

/// Navigation, filter, sort, marks, help, quit, resize and the mouse.
@Suite struct ReducerNavigationTests {
    func key(_ s: inout AppState, _ k: Key) -> [Effect] { reduce(&s, .input(.key(k))) }
    func type(_ s: inout AppState, _ text: String) { for ch in text { _ = key(&s, .character(ch)) } }

    @Test func movesClampAtBothEnds() {
        var s = FakeModel.loadedState()
        _ = key(&s, .up)
        #expect(s.focus == 0)
        type(&s, "G")
        #expect(s.focus == 8)
        _ = key(&s, .down)
        #expect(s.focus == 8)
        type(&s, "g")
        #expect(s.focus == 0)
        _ = key(&s, .end)
        #expect(s.focus == 8)
        _ = key(&s, .home)
        #expect(s.focus == 0)
    }

    @Test func pagingKeepsTheFocusVisible() {
        var s = FakeModel.loadedState(width: 80, height: 24)
        let rows = Layout(width: 80, height: 24).tableRows
        _ = key(&s, .pageDown)
        #expect(s.focus == rows)
        #expect(s.scroll <= s.focus && s.focus < s.scroll + rows)
        _ = key(&s, .pageUp)
        #expect(s.focus == 0 && s.scroll == 0)
    }

    @Test func tabCyclesPanes() {
        var s = FakeModel.loadedState()
        _ = key(&s, .tab)
        #expect(s.pane == .histogram)
        _ = key(&s, .tab)
        #expect(s.pane == .settings)
        _ = key(&s, .tab)
        #expect(s.pane == .layers)
        _ = key(&s, .backTab)
        #expect(s.pane == .settings)
    }

    @Test func filterTypingEnterKeepsEscClears() {
        var s = FakeModel.loadedState()
        type(&s, "/ATTENTION")
        #expect(s.isEditingFilter)
        #expect(s.visibleLayers == [1, 2, 5])
        #expect(s.focus == 1)        // the focused embedding no longer matched
        _ = key(&s, .backspace)
        #expect(s.filter == "ATTENTIO")
        _ = key(&s, .enter)
        #expect(!s.isEditingFilter)
        #expect(s.visibleLayers == [1, 2, 5])
        type(&s, "j")                 // keys act again once the filter is kept
        #expect(s.focus == 2)
        _ = key(&s, .escape)
        #expect(s.filter.isEmpty)
        #expect(s.visibleLayers.count == 9)
        // Esc while typing clears and closes the prompt at once.
        type(&s, "/w2")
        _ = key(&s, .escape)
        #expect(!s.isEditingFilter && s.filter.isEmpty)
    }

    @Test func sortCyclesAndReverses() {
        var s = FakeModel.loadedState()
        type(&s, "s")
        #expect(s.sort == .name)
        #expect(s.visibleLayers.map { s.records[$0].tensor.name }.first == "evil\u{1b}[31m.weight")
        type(&s, "s")
        #expect(s.sort == .params)
        let byParams = s.visibleLayers.map { s.records[$0].tensor.parameters }
        #expect(byParams == byParams.sorted())
        type(&s, "S")
        #expect(s.sortDescending)
        let reversed = s.visibleLayers.map { s.records[$0].tensor.parameters }
        #expect(reversed == byParams.sorted(by: >))
        type(&s, "sss")
        #expect(s.sort == .sqnr)
        // Layers without a number (pending, failed, integer) sort last in either direction.
        let last = s.visibleLayers.suffix(3)
        #expect(Set(last) == [4, 5, 7])
        type(&s, "ss")
        #expect(s.sort == .file)
    }

    @Test func marks() {
        var s = FakeModel.loadedState()
        type(&s, " ")
        #expect(s.marked == [0])
        type(&s, " ")
        #expect(s.marked.isEmpty)
        type(&s, "/feed")
        _ = key(&s, .enter)
        type(&s, "a")
        #expect(s.marked == [3, 4])
        type(&s, "A")
        #expect(s.marked.isEmpty)
    }

    @Test func helpOpensAndCloses() {
        var s = FakeModel.loadedState()
        type(&s, "?")
        #expect(s.showHelp)
        // Keys do nothing else while help is open; q closes help rather than quitting.
        #expect(key(&s, .character("q")).isEmpty)
        #expect(!s.showHelp && !s.isQuitting)
        type(&s, "?")
        _ = key(&s, .escape)
        #expect(!s.showHelp)
        type(&s, "?")
        type(&s, "?")
        #expect(!s.showHelp)
    }

    @Test func helpScrollIsClamped() {
        var s = FakeModel.loadedState(width: 80, height: 24)
        type(&s, "?")
        for _ in 0..<200 { _ = key(&s, .down) }
        let limit = HelpView.maxScroll(width: 80, height: 24, unicode: true)
        #expect(limit > 0)
        #expect(s.helpScroll == limit)
        _ = key(&s, .up)
        #expect(s.helpScroll == limit - 1)
    }

    @Test func quitEmitsQuit() {
        var s = FakeModel.loadedState()
        #expect(key(&s, .character("q")) == [.quit])
        #expect(s.isQuitting)
        var t = FakeModel.loadedState()
        #expect(key(&t, .control("c")) == [.quit])
    }

    @Test func resizeBelowTheMinimumAndBack() {
        var s = FakeModel.loadedState()
        _ = reduce(&s, .input(.resize(width: 50, height: 10)))
        #expect(view(s, width: s.width, height: s.height).lines.joined().contains("terminal too small"))
        _ = reduce(&s, .input(.resize(width: 100, height: 30)))
        #expect(s.width == 100 && s.height == 30)
        #expect(!view(s, width: s.width, height: s.height).lines.joined().contains("terminal too small"))
    }

    @Test func progressAndAnalysisFailure() {
        var s = FakeModel.freshState()
        let job = JobRequest.checkPlan(path: "p.json")
        _ = reduce(&s, .jobProgress(JobProgress(job: job, done: 2, total: 5)))
        #expect(s.progress == AppState.Progress(done: 2, total: 5, label: "checking plan"))
        _ = reduce(&s, .jobProgress(JobProgress(job: job, done: 5, total: 5)))
        #expect(s.progress == nil)
        _ = reduce(&s, .analysisFailed(layer: 1, message: "short read"))
        #expect(s.records[1].analysisFailure == "short read")
        #expect(LayerNumbers.of(1, in: s).status == .failed("short read"))
        #expect(s.message?.isError == true)
    }

    // MARK: Mouse

    @Test func clickOnARowFocusesItAndTheWheelScrolls() {
        var s = FakeModel.loadedState(width: 80, height: 24)
        let layout = Layout(width: 80, height: 24)
        _ = reduce(&s, .input(.mouse(MouseEvent(.press, x: 10, y: layout.tableFirstRow + 2))))
        #expect(s.focus == 2 && s.pane == .layers)
        _ = reduce(&s, .input(.mouse(MouseEvent(.wheelDown, x: 10, y: layout.tableFirstRow))))
        #expect(s.scroll == 3)
        #expect(s.focus >= s.scroll && s.focus < s.scroll + layout.tableRows)
        _ = reduce(&s, .input(.mouse(MouseEvent(.wheelUp, x: 10, y: layout.tableFirstRow))))
        #expect(s.scroll == 0)
    }

    @Test func clickOnTheHistogramSetsTheThreshold() {
        var s = FakeModel.loadedState(width: 120, height: 40)   // focus on layer 0, no pruning
        let bars = Layout(width: 120, height: 40).bars
        let range = HistogramGeometry.range(s)!
        // The leftmost column: |value| near |min|.
        let effects = reduce(&s, .input(.mouse(MouseEvent(.press, x: bars.x, y: bars.y + 1))))
        guard case .threshold(let t) = s.records[0].settings.prune else { Issue.record("no threshold: \(s.records[0].settings)"); return }
        let expected = abs(range.lo + 0.5 / Double(bars.width) * (range.hi - range.lo))
        #expect(abs(t - expected) / expected < 0.01)
        #expect(s.pane == .histogram)
        #expect(effects == [.evaluate(layer: 0, settings: s.records[0].settings, revision: 1)])
        // A drag moves it again; each event costs one evaluate at most.
        let drag = reduce(&s, .input(.mouse(MouseEvent(.drag, x: bars.x + bars.width / 2 + 2, y: bars.y))))
        guard case .threshold(let t2) = s.records[0].settings.prune else { Issue.record("lost threshold"); return }
        #expect(t2 < t)
        #expect(drag.count == 1)
        // Clicks outside the bars (the axis row) do nothing.
        let before = s
        _ = reduce(&s, .input(.mouse(MouseEvent(.press, x: bars.x + 3, y: Layout(width: 120, height: 40).axisRow))))
        #expect(s.records.map(\.settings) == before.records.map(\.settings))
    }
}
