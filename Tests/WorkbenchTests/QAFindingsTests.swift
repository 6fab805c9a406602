@testable import Compression
import Testing
import TestSupport
import WeightFormats
@testable import Workbench

/// Problems found by driving the workbench by hand, each pinned by the behaviour that fixes it.
@Suite struct QAFindingsTests {
    func key(_ s: inout AppState, _ k: Key) -> [Effect] { reduce(&s, .input(.key(k))) }
    func type(_ s: inout AppState, _ text: String) { for ch in text { _ = key(&s, .character(ch)) } }

    /// A conv kernel with rows of 3 taps and an odd-sized bias: no NF4 block size divides their last dimension.
    static let oddLayers: [AppState.Layer] = [
        .init(name: "conv.weight", dtype: .float32, shape: [64, 128, 3]),
        .init(name: "proj.weight", dtype: .float32, shape: [32, 96]),
        .init(name: "fc.weight", dtype: .float32, shape: [16, 64]),
    ]

    /// Every format and block size the `f` and `c` keys reach is one a plan accepts for that layer: `w`
    /// once saved an nf4 g64 rule for `[64, 128, 3]` that `weightlab report` (and `--plan`) then refused.
    @Test func everyFormatTheKeysReachSavesALoadablePlan() throws {
        let tensors = Self.oddLayers.map { (name: $0.name, dtype: $0.dtype, shape: $0.shape) }
        for layer in Self.oddLayers.indices {
            var s = AppState(modelName: "odd", layers: Self.oddLayers)
            s.focus = layer
            for _ in 0..<12 {
                type(&s, "f")
                for _ in 0..<5 {
                    type(&s, "c")
                    let plan = try Plan.parse(s.planText, path: "saved.json")
                    #expect(throws: Never.self) { try plan.resolve(for: tensors) }
                    if case .nf4(let group) = s.records[layer].settings.quantize {
                        #expect(Self.oddLayers[layer].lastDimension % group == 0)
                    }
                }
            }
        }
        // NF4 is offered where a block fits (96 takes 32), and skipped where none does.
        var s = AppState(modelName: "odd", layers: Self.oddLayers)
        s.focus = 1
        type(&s, "ff")
        #expect(s.records[1].settings.quantize == .nf4(group: 32))
        s.focus = 0
        type(&s, "ff")
        #expect(s.records[0].settings.quantize == .fp8(.e4m3, granularity: .tensor))
        s.focus = 2
        type(&s, "ff")
        #expect(s.records[2].settings.quantize == .nf4(group: 64))
    }

    /// With a filter that matches nothing the table is empty; a tuning key used to change the focused layer
    /// anyway, out of sight. It now says why nothing happened.
    @Test func editsNeedAVisibleLayerUnlessMarkedOrAll() {
        var s = FakeModel.loadedState()
        let before = s.records.map(\.settings)
        type(&s, "/zzz")
        _ = key(&s, .enter)
        #expect(s.visibleLayers.isEmpty)
        #expect(key(&s, .character("f")).isEmpty)
        #expect(s.records.map(\.settings) == before)
        #expect(s.message?.isError == true)
        #expect(s.message?.text.contains("Esc clears the filter") == true)
        // `*` applies to what is shown (issue 12, item 8): with nothing shown it changes nothing either.
        type(&s, "*")
        #expect(key(&s, .character("f")).isEmpty)
        #expect(s.records.map(\.settings) == before)
    }

    /// While a layer waits for the engine, the totals use the size the table shows for it (not its original
    /// size) and do not claim an SQNR: they used to read "96.0 MiB → 96.0 MiB … SQNR exact" while the
    /// table said 1.00 MiB for the layer being quantized.
    @Test func totalsWhileALayerIsPending() {
        var s = AppState(modelName: "m", layers: Self.oddLayers, width: 120, height: 40)
        for i in s.records.indices {
            _ = reduce(&s, .analysed(layer: i, FakeModel.analysis(FakeModel.weights(s.records[i].tensor.parameters, seed: UInt64(i + 1), std: 0.03))))
        }
        s.focus = 2
        type(&s, "f")
        let pending = LayerNumbers.of(2, in: s)
        #expect(pending.status == .pending)
        let size = try! #require(pending.bytes)
        let totals = WorkbenchTotals.of(s).totals
        #expect(totals.bytesCompressed == s.records[0].tensor.bytes + s.records[1].tensor.bytes + size)
        #expect(totals.pendingLayers == 1)
        let status = view(s, width: 120, height: 40).lines[38]
        #expect(status.contains("SQNR … dB"))
        #expect(!status.contains("exact"))
    }

    /// PgDn used to scroll the help one line and PgUp not at all; the wheel did nothing over the help.
    @Test func helpPagesAndScrollsWithTheWheel() {
        var s = FakeModel.loadedState(width: 80, height: 24)
        type(&s, "?")
        let page = HelpView.visibleRows(height: 24)
        let limit = HelpView.maxScroll(width: 80, height: 24, unicode: true)
        #expect(page > 1 && limit > page)
        _ = key(&s, .pageDown)
        #expect(s.helpScroll == page)
        _ = key(&s, .pageUp)
        #expect(s.helpScroll == 0)
        _ = reduce(&s, .input(.mouse(MouseEvent(.wheelDown, x: 10, y: 10))))
        #expect(s.helpScroll == 3)
        _ = reduce(&s, .input(.mouse(MouseEvent(.wheelUp, x: 10, y: 10))))
        #expect(s.helpScroll == 0)
        for _ in 0..<20 { _ = key(&s, .pageDown) }
        #expect(s.helpScroll == limit)
    }

    /// The sort arrow used to cut right-aligned titles ("param…", "sparsit…", "SQNR d…").
    @Test func sortArrowKeepsColumnTitlesWhole() {
        var s = FakeModel.loadedState(width: 120, height: 40)
        for (column, title) in [(AppState.SortColumn.params, "▲params"), (.bits, "▲bits"), (.sparsity, "▲pruned"),
                                (.sqnr, "▲SQNR dB"), (.size, "▲size")] {
            s.sort = column
            let header = view(s, width: 120, height: 40).lines[2]
            #expect(header.contains(title), "\(header)")
            #expect(!header.contains("…"))
        }
    }
}

/// `*` and marks with the cycling keys.
@Suite struct QAFollowTheLeadTests {
    func type(_ s: inout AppState, _ text: String) { for ch in text { _ = reduce(&s, .input(.key(.character(ch)))) } }

    /// `*` then `f` used to move every layer one step along its own cycle: an int4 layer became nf4, a
    /// threshold-pruned one int8, a Q4_0 one Q4_1, a mix nobody asked for. Now every layer takes the
    /// focused layer's new format where it fits, and keeps its own where it does not.
    @Test func cyclingWithStarMakesLayersAgree() {
        var s = FakeModel.loadedState()
        #expect(s.focus == 0)                     // identity, [256, 64]
        type(&s, "**f")                           // matrices, then vectors too (one `*`: see QAApplyToShownTests)
        let int8 = QuantFormat.int(bits: 8, symmetric: true, granularity: .channel, clip: .minmax)
        for i in s.records.indices where s.records[i].tensor.isFloating { #expect(s.records[i].settings.quantize == int8, "layer \(i)") }
        type(&s, "c")                            // int8 per channel → group 32, which [32, 48] cannot take
        let group32 = QuantFormat.int(bits: 8, symmetric: true, granularity: .group(32), clip: .minmax)
        #expect(s.records[0].settings.quantize == group32)
        #expect(s.records[8].settings.quantize == group32)
        #expect(s.records[5].settings.quantize == int8)
        // Pruning: each layer starts at its own median magnitude, not the focused layer's threshold.
        type(&s, "p")
        guard case .threshold(let t0) = s.records[0].settings.prune, case .threshold(let t2) = s.records[2].settings.prune else {
            Issue.record("not threshold"); return
        }
        #expect(t0 == SettingsCycle.defaultThreshold(s.records[0].analysis))
        #expect(t2 == SettingsCycle.defaultThreshold(s.records[2].analysis))
        type(&s, "p")
        for i in s.records.indices where s.records[i].tensor.isFloating { #expect(s.records[i].settings.prune == .sparsity(0.5)) }
    }
}
