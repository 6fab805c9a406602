@testable import Compression
import Testing
import TestSupport
import WeightFormats
@testable import Workbench

/// The histogram pane's requests (zoom, clip, error view), answers, and drawing facts.
@Suite struct HistogramTests {
    func press(_ s: inout AppState, _ ch: Character) -> [Effect] { reduce(&s, .input(.key(.character(ch)))) }

    @Test func fullRangeNeedsNoRequest() {
        var s = FakeModel.loadedState()
        #expect(s.histogramRequested == nil)
        #expect(press(&s, "l").isEmpty)
        #expect(s.logCounts)
    }

    @Test func zoomAsksForTheNarrowerRangeAndStoresTheAnswer() {
        var s = FakeModel.loadedState()
        let absmax = s.records[0].analysis!.statistics.absmax
        let effects = press(&s, "z")
        let request = HistogramRequest(layer: 0, kind: .values, lo: -0.1 * absmax, hi: 0.1 * absmax,
                                       bins: HistogramRequest.defaultBins)
        #expect(effects == [.histogram(request)])
        #expect(s.histogramRequested == request)
        // Until the answer arrives the open-time histogram is drawn restricted to the range.
        #expect(HistogramView.columns(s, s.records[0].analysis!, width: 40)?.lo == request.lo)

        var answer = ValueHistogram(bins: request.bins, lo: request.lo, hi: request.hi)
        FakeModel.values[0]!.withUnsafeBufferPointer { answer.add($0) }
        // An answer to another request is dropped.
        var other = request
        other.layer = 3
        let before = s
        _ = reduce(&s, .histogramReady(other, answer))
        #expect(s == before)
        _ = reduce(&s, .histogramReady(request, answer))
        #expect(s.histogramReceived == answer)

        // ±1 %, then back to full (no request needed).
        #expect(press(&s, "z").count == 1)
        #expect(press(&s, "z").isEmpty)
        #expect(s.histogramRequested == nil)
    }

    @Test func clipViewUsesThe999thPercentile() {
        var s = FakeModel.loadedState()
        let effects = press(&s, "x")
        let p = s.records[0].analysis!.magnitudes.percentile(99.9)
        guard case .histogram(let r)? = effects.first else { Issue.record("no request"); return }
        #expect(r.kind == .values)
        #expect(r.hi == min(s.records[0].analysis!.statistics.max, p))
        #expect(r.lo == max(s.records[0].analysis!.statistics.min, -p))
    }

    @Test func errorViewWaitsForTheCurrentEvaluationThenAsks() {
        var s = FakeModel.loadedState()
        _ = reduce(&s, .input(.key(.down)))    // int4 layer, evaluated
        let effects = press(&s, "e")
        guard case .histogram(let r)? = effects.first else { Issue.record("no request: \(effects)"); return }
        #expect(r.kind == .error(s.records[1].settings))
        #expect(r.lo == -r.hi && r.hi > 0)
        // An edit makes a new evaluation necessary; the error histogram waits for it.
        let edit = press(&s, "+")
        #expect(edit.count == 1)
        #expect(s.histogramRequested == nil)
        let again = reduce(&s, .evaluated(FakeModel.evaluation(s, layer: 1)))
        guard case .histogram(let r2)? = again.first else { Issue.record("no second request"); return }
        #expect(r2.kind == .error(s.records[1].settings))
        // Identity layers have no error to draw.
        _ = reduce(&s, .input(.key(.up)))
        #expect(s.histogramRequested == nil)
        #expect(view(s, width: 120, height: 40).lines.joined().contains("no error"))
    }

    @Test func focusChangeRequestsTheNewLayerWhenZoomed() {
        var s = FakeModel.loadedState()
        _ = press(&s, "z")
        let effects = reduce(&s, .input(.key(.down)))
        guard case .histogram(let r)? = effects.first else { Issue.record("no request"); return }
        #expect(r.layer == 1)
    }

    @Test func resamplingKeepsCounts() {
        let c = HistogramColumns(counts: [4, 4, 4, 4], sourceLo: 0, sourceHi: 4, columns: 3, lo: 0, hi: 4)
        #expect(abs(c.counts.reduce(0, +) - 16) < 1e-9)
        let restricted = HistogramColumns(counts: [4, 4, 4, 4], sourceLo: 0, sourceHi: 4, columns: 2, lo: 1, hi: 3)
        #expect(restricted.counts == [4, 4])
        #expect(restricted.below == 4 && restricted.above == 4)
        #expect(c.heights(rows: 2, log: false) == [16, 16, 16])
        let sparse = HistogramColumns(counts: [1000, 1], sourceLo: 0, sourceHi: 2, columns: 2, lo: 0, hi: 2)
        #expect(sparse.heights(rows: 1, log: false) == [8, 1])   // a lone value stays visible
    }
}

/// Style facts the text snapshots cannot show.
@Suite struct StyleTests {
    @Test func focusedRowHasTheSelectedBackground() {
        var s = FakeModel.loadedState(width: 120, height: 40)
        _ = reduce(&s, .input(.key(.down)))
        let grid = view(s, width: 120, height: 40)
        let y = Layout(width: 120, height: 40).tableFirstRow + 1
        #expect((0..<120).allSatisfy { grid[$0, y].style.background == .selectedBackground })
        #expect(grid[5, y - 1].style.background == .mainBackground)
    }

    @Test func markedRowsShowTheMarkInTheMarkedRole() {
        var s = FakeModel.loadedState(width: 120, height: 40)
        _ = reduce(&s, .input(.key(.character(" "))))
        let grid = view(s, width: 120, height: 40)
        let y = Layout(width: 120, height: 40).tableFirstRow
        #expect(grid[0, y].character == "●")
        #expect(grid[0, y].style.foreground == .marked)
    }

    @Test func prunedBandUsesThePrunedRole() {
        let s = SnapshotTests.prunedFocused(width: 80, height: 24)
        let grid = view(s, width: 80, height: 24)
        let layout = Layout(width: 80, height: 24)
        let bars = layout.bars
        let columns = HistogramView.columns(s, s.records[3].analysis!, width: bars.width)!
        let bottom = bars.maxY - 1
        var pruned = 0, kept = 0
        for c in 0..<bars.width where grid[bars.x + c, bottom].character != " " {
            let inBand = abs(columns.value(at: c)) < 0.02
            #expect(grid[bars.x + c, bottom].style.foreground == (inBand ? .histogramPruned : .histogramBar))
            if inBand { pruned += 1 } else { kept += 1 }
        }
        #expect(pruned > 0 && kept > 0)
        // The band is also drawn on the tick row.
        #expect((0..<bars.width).contains { grid[bars.x + $0, layout.tickRow].style.foreground == .histogramPruned })
    }

    @Test func levelTicksUseTheTickRole() {
        let s = SnapshotTests.int4Focused(width: 120, height: 40)
        let grid = view(s, width: 120, height: 40)
        let layout = Layout(width: 120, height: 40)
        let ticks = (layout.bars.x..<layout.bars.maxX).filter { grid[$0, layout.tickRow].character == "┴" }
        #expect(ticks.count == 16)
        #expect(ticks.allSatisfy { grid[$0, layout.tickRow].style.foreground == .histogramTick })
    }

    @Test func clipPointsUseTheClipRole() {
        var s = SnapshotTests.int4Focused(width: 120, height: 40)
        var e = s.records[1].evaluation!
        e.levels = QuantizationLevels(values: [-0.05, 0, 0.05], unit: "tensor", clip: -0.05...0.05)
        s.records[1].evaluation = e
        let grid = view(s, width: 120, height: 40)
        let layout = Layout(width: 120, height: 40)
        let clips = (layout.bars.x..<layout.bars.maxX).filter { grid[$0, layout.tickRow].style.foreground == .histogramClip }
        #expect(clips.count == 2)
    }

    @Test func untrustedNamesAreEscaped() {
        let lines = view(FakeModel.loadedState(), width: 120, height: 40).lines
        #expect(lines.contains { $0.contains("evil\\u{1b}[31m.weight") })
        #expect(!lines.joined().contains("\u{1b}"))
    }
}
