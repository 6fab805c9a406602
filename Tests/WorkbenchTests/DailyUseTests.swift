@testable import Compression
import Testing
import TestSupport
import WeightFormats
@testable import Workbench

/// Issue 12's workbench findings, each pinned by the reducer behaviour (or screen) that fixes it.
@Suite struct DailyUseTests {
    func key(_ s: inout AppState, _ k: Key) -> [Effect] { reduce(&s, .input(.key(k))) }
    func type(_ s: inout AppState, _ text: String) { for ch in text { _ = key(&s, .character(ch)) } }

    static let handWritten = """
    {"version": 1, "note": "mine",
     "default": {"quantize": {"format": "int", "bits": 4, "symmetric": true, "granularity": "channel", "clip": "minmax"}},
     "rules": [{"match": "norm|bias$", "note": "keep these exact", "prune": {"method": "none"}, "quantize": {"format": "none"}}]}
    """

    func opened(_ planText: String) throws -> AppState {
        let plan = try Plan.parse(planText, path: "mine.json")
        let settings = try plan.resolve(for: FakeModel.layers.map { (name: $0.name, dtype: $0.dtype, shape: $0.shape) })
        var s = AppState(modelName: "fake", layers: FakeModel.layers, settings: settings, planPath: "mine.json")
        s.basePlan = plan
        return s
    }

    /// Item 1: `w` without an edit writes the user's plan back as it was (notes and regex rules kept); an
    /// edit adds one rule after the user's; once written, the saved plan is the new base.
    @Test func savingKeepsTheOpenedPlan() throws {
        var s = try opened(Self.handWritten)
        let base = try #require(s.basePlan)
        #expect(key(&s, .character("w")) == [.savePlan(path: "mine.json", text: base.jsonText())])
        _ = reduce(&s, .planSaved(path: "mine.json"))

        _ = key(&s, .down)                       // layer 1, int4 per channel
        type(&s, "+")                            // int5
        guard case .savePlan(_, let text) = key(&s, .character("w")).first else { Issue.record("no save"); return }
        let saved = try Plan.parse(text, path: "saved.json")
        #expect(saved.note == "mine")
        #expect(Array(saved.rules.prefix(1)) == base.rules)
        #expect(saved.rules.count == 2)
        #expect(saved.rules[1].match == #"^layers\.0\.attention\.wq\.weight$"#)
        #expect(try saved.resolve(for: FakeModel.layers.map { (name: $0.name, dtype: $0.dtype, shape: $0.shape) })
                == s.records.map(\.settings))
        _ = reduce(&s, .planSaved(path: "mine.json"))
        #expect(s.basePlan == saved)
        #expect(!s.hasUnsavedEdits)
    }

    /// Item 5: `q` with unsaved edits asks; a second `q` quits, another key goes on; a failed save leaves the
    /// edits unsaved.
    @Test func quitAsksWhenEditsAreUnsaved() throws {
        var s = FakeModel.loadedState()
        #expect(key(&s, .character("q")) == [.quit])          // nothing edited: quits at once

        s = FakeModel.loadedState()
        type(&s, "f")
        #expect(key(&s, .character("q")).isEmpty)
        #expect(!s.isQuitting && s.isConfirmingQuit)
        #expect(s.message?.text.contains("unsaved edits") == true)
        _ = key(&s, .down)                                      // goes on
        #expect(!s.isConfirmingQuit && !s.isQuitting)
        _ = key(&s, .character("w"))
        _ = reduce(&s, .failed(message: "cannot save plan to x: directory 'y' does not exist"))
        #expect(key(&s, .character("q")).isEmpty)               // the save failed: still asks
        #expect(key(&s, .character("q")) == [.quit])
        #expect(s.isQuitting)

        var saved = FakeModel.loadedState()
        type(&saved, "f")
        _ = key(&saved, .character("w"))
        _ = reduce(&saved, .planSaved(path: AppState.defaultPlanPath))
        #expect(key(&saved, .character("q")) == [.quit])
    }

    /// Item 8: one `*` edits the shown matrices (what a plan's default covers), a second adds vectors, and a
    /// filter limits it to what is shown.
    @Test func starAppliesToTheShownMatrices() {
        var s = FakeModel.loadedState()
        type(&s, "/layers.0")
        _ = key(&s, .enter)
        type(&s, "*")
        let effects = key(&s, .character("y"))       // int4 layer leads: symmetric → asymmetric where int
        let edited = Set(effects.compactMap { if case .evaluate(let l, _, _) = $0 { l } else { nil } })
        #expect(edited.isSubset(of: Set(s.visibleLayers)))
        type(&s, "f")
        #expect(s.records[0].settings.quantize == .none)           // hidden by the filter
        #expect(s.records[5].settings.quantize == .gguf(.q4_0))    // hidden by the filter
        #expect(s.records[2].settings.quantize == .none)           // a bias: not with one `*`
        #expect(s.records[3].settings.quantize != .none)
        type(&s, "*")
        type(&s, "f")
        #expect(s.records[2].settings.quantize != .none)
    }

    /// Item 4: a choice that does not fit some targets names them and why instead of skipping silently.
    @Test func skippedTargetsAreNamed() {
        var s = AppState(modelName: "odd", layers: QAFindingsTests.oddLayers)
        s.focus = 1                                                // [32, 96]
        type(&s, "*pp")
        #expect(s.records[0].settings.prune == .sparsity(0.5))
        type(&s, "pp")                                             // global, then 2:4: [64, 128, 3] cannot take it
        #expect(s.records[1].settings.prune == .nm(n: 2, m: 4))
        #expect(s.records[0].settings.prune == .globalMagnitude(sparsity: 0.5))
        let m = try! #require(s.message)
        #expect(m.text.contains("2:4 skipped conv.weight") && m.text.contains("last dimension 3 is not a multiple of 4"), "\(m.text)")
    }

    /// Item 9: with marks, the settings pane shows the marked layers' settings ("mixed" where they differ)
    /// and their numbers together, not the focused layer's.
    @Test func settingsPaneShowsTheMarkedLayers() {
        var s = FakeModel.loadedState(width: 120, height: 40)
        _ = key(&s, .down)                        // int4 g32
        type(&s, " ")
        _ = key(&s, .down)
        _ = key(&s, .down)                        // threshold, no quantization
        type(&s, " ")
        _ = key(&s, .down)                        // focus an unmarked 2:4 + int8 layer
        let text = view(s, width: 120, height: 40).lines.joined(separator: "\n")
        #expect(text.contains("2 marked"))
        #expect(text.contains("prune    mixed") && text.contains("format   mixed"), "\(text)")
        #expect(!text.contains("N:M"))
    }

    /// Item 19: a vector's prune cycle never offers row pruning (one row: prunes nothing, costs a mask).
    @Test func rowPruningIsNotOfferedForVectors() {
        var s = AppState(modelName: "v", layers: [.init(name: "b", dtype: .float32, shape: [6])])
        var seen: [PruneMethod] = []
        for _ in 0..<6 {
            type(&s, "p")
            seen.append(s.records[0].settings.prune)
        }
        #expect(!seen.contains { if case .rows = $0 { true } else { false } })
        #expect(seen.contains(.none))
    }

    /// Item 18: a layer holding NaN or Inf says so instead of "SQNR nan" and "clip -inf…inf".
    @Test func nonFiniteLayerSaysSo() {
        var s = AppState(modelName: "m", layers: [.init(name: "w", dtype: .float32, shape: [4, 8])], width: 120, height: 40)
        var values = FakeModel.weights(32, seed: 3, std: 0.05)
        values[5] = .nan
        values[9] = .infinity
        _ = reduce(&s, .analysed(layer: 0, FakeModel.analysis(values)))
        type(&s, "f")
        let text = view(s, width: 120, height: 40).lines.joined(separator: "\n")
        #expect(text.contains("NaN/Inf"), "\(text)")
        #expect(text.contains("SQNR     undefined (NaN/Inf)"), "\(text)")
        #expect(text.contains("m · 1 tensor · 32 params"))
        #expect(text.contains("holds 1 NaN, 1 Inf"))
    }

    /// Item 25: a symmetric grid's low clip point is one level beyond the mirror of the high one; the label
    /// says so.
    @Test func symmetricGridsExtraLevelIsNamed() {
        let scale = 0.1
        let levels = QuantizationLevels(values: (-8...7).map { Double($0) * scale }, unit: "tensor", clip: -0.8...0.7)
        #expect(HistogramView.hasExtraNegativeLevel(levels))
        let asymmetric = QuantizationLevels(values: (-7...7).map { Double($0) * scale }, unit: "tensor", clip: -0.7...0.7)
        #expect(!HistogramView.hasExtraNegativeLevel(asymmetric))
    }

    /// Item 11: a sort key picks the column, the view jumps to the top (focus on the first row), rows stay
    /// put while editing, and the arrow sits in its own column.
    @Test func sortingJumpsToTheTopAndHoldsStill() {
        var s = FakeModel.loadedState(width: 120, height: 40)
        _ = key(&s, .end)
        type(&s, "6")                                      // SQNR, worst first
        #expect(s.sort == .sqnr && !s.sortDescending)
        #expect(s.focus == s.visibleLayers.first && s.scroll == 0)
        let order = s.visibleLayers
        type(&s, "f")                                      // the focused layer's numbers change…
        _ = reduce(&s, .evaluated(FakeModel.evaluation(s, layer: s.focus)))
        #expect(s.visibleLayers == order)                  // …but the rows do not move
        let header = view(s, width: 120, height: 40).lines[2]
        #expect(header.contains("zeros ▲SQNR dB"), "\(header)")
        type(&s, "6")                                      // again: reversed, re-sorted
        #expect(s.sortDescending)
        type(&s, "7")
        #expect(s.sort == .size && s.sortDescending)
    }

    /// Item 7: wide terminals show shapes and methods whole; narrow ones keep layer indices and the last
    /// name components.
    @Test func columnsFitTheirContentAndNamesKeepTheirIndices() {
        let layers: [AppState.Layer] = [
            .init(name: "model.embed_tokens.weight", dtype: .bfloat16, shape: [32000, 4096]),
            .init(name: "model.layers.11.self_attn.q_proj.weight", dtype: .bfloat16, shape: [4096, 4096]),
        ]
        let settings = [LayerSettings(prune: .threshold(0.154), quantize: .int(bits: 4, symmetric: true, granularity: .group(128), clip: .minmax)),
                        .identity]
        let wide = view(AppState(modelName: "m", layers: layers, settings: settings, width: 160, height: 30), width: 160, height: 30)
            .lines.joined(separator: "\n")
        #expect(wide.contains("[32000,4096]") && wide.contains("|w|<0.154 + int4 g128"), "\(wide)")
        let narrow = view(AppState(modelName: "m", layers: layers, settings: settings, width: 80, height: 24), width: 80, height: 24)
            .lines[4]
        #expect(narrow.contains("11") && narrow.contains("q_proj.weight"), "\(narrow)")
    }

    /// Item 16: undo, redo, reset to uncompressed, and a snapshot to compare the next settings with.
    @Test func undoRedoResetAndSnapshot() {
        var s = FakeModel.loadedState(width: 140, height: 40)
        _ = key(&s, .down)                                 // int4 g32
        let original = s.records.map(\.settings)
        type(&s, "++")
        #expect(s.records[1].settings != original[1])
        let undo = key(&s, .character("u"))
        #expect(undo.count == 1)
        type(&s, "u")
        #expect(s.records.map(\.settings) == original)
        type(&s, "u")
        #expect(s.message?.text == "nothing to undo")
        _ = key(&s, .control("r"))
        #expect(s.records[1].settings.quantize == .int(bits: 5, symmetric: true, granularity: .group(32), clip: .minmax))
        type(&s, "r")
        #expect(s.records[1].settings == .identity)
        type(&s, "u")

        // Snapshot, then int8: the table and the status line show the change in size and SQNR.
        _ = reduce(&s, .evaluated(FakeModel.evaluation(s, layer: 1)))
        type(&s, "b")
        #expect(s.baseline?.settings == s.records.map(\.settings))
        type(&s, "+++")
        _ = reduce(&s, .evaluated(FakeModel.evaluation(s, layer: 1)))
        let lines = view(s, width: 140, height: 40).lines
        #expect(lines[2].contains("Δsize") && lines[2].contains("ΔSQNR"), "\(lines[2])")
        let row = lines.first { $0.contains("layers.0.attention.wq.weight") } ?? ""
        #expect(row.contains("+"), "\(row)")
        #expect(lines.contains { $0.contains("vs snapshot Δ +") }, "\(lines.joined(separator: "\n"))")
        type(&s, "B")
        #expect(s.baseline == nil)
    }

    /// Item 17: in the settings pane ↑/↓ select a setting and ←/→ change it (the focus stays on its layer);
    /// in the histogram pane → with no pruning says why nothing happens.
    @Test func settingsPaneArrowsChangeSettings() {
        var s = FakeModel.loadedState(width: 120, height: 40)
        _ = key(&s, .down)                             // int4 g32
        _ = key(&s, .backTab)                          // settings pane
        #expect(s.pane == .settings)
        _ = key(&s, .down)
        _ = key(&s, .down)
        _ = key(&s, .down)                             // p, amount, format, bits
        #expect(s.focus == 1 && s.settingsRow == 3)
        _ = key(&s, .right)
        #expect(s.records[1].settings.quantize == .int(bits: 5, symmetric: true, granularity: .group(32), clip: .minmax))
        _ = key(&s, .left)
        _ = key(&s, .left)
        #expect(s.records[1].settings.quantize == .int(bits: 3, symmetric: true, granularity: .group(32), clip: .minmax))
        #expect(view(s, width: 120, height: 40).lines.contains { $0.contains("+ -▸bits") }, "no marker on the selected setting")

        _ = key(&s, .up)
        _ = key(&s, .up)                               // amount: nothing to change with pruning none
        _ = key(&s, .right)
        #expect(s.message?.text.contains("choose a pruning method") == true, "\(String(describing: s.message))")

        _ = key(&s, .tab)                              // layers
        _ = key(&s, .tab)                              // histogram
        #expect(s.pane == .histogram)
        #expect(key(&s, .right).isEmpty)
        #expect(s.message?.text.contains("no pruning to adjust") == true)
    }

    /// Item 12: int4 without pruning rounds small weights to 0; the table shows 0 % pruned and the zeros apart.
    @Test func prunedAndZerosAreShownApart() {
        var s = FakeModel.loadedState(width: 120, height: 40)
        _ = reduce(&s, .evaluated(FakeModel.evaluation(s, layer: 1)))   // int4 g32, no pruning
        let n = s.records[1].numbers
        #expect(n.pruned == 0)
        #expect((n.sparsity ?? 0) > 0.05)
        let lines = view(s, width: 120, height: 40).lines
        #expect(lines[2].contains("pruned") && lines[2].contains("zeros") && !lines[2].contains("sparsity"))
        let row = lines.first { $0.contains("layers.0.attention.wq.weight") } ?? ""
        #expect(row.contains("0.0%") && row.contains(Format.percent(n.sparsity!)), "\(row)")
    }

    /// Item 15: `m` shows MSE, max error and cosine in the layer list, from the same numbers as `report`.
    @Test func metricColumnsToggle() {
        var s = FakeModel.loadedState(width: 160, height: 40)
        _ = reduce(&s, .evaluated(FakeModel.evaluation(s, layer: 1)))
        #expect(!view(s, width: 160, height: 40).lines[2].contains("MSE"))
        type(&s, "m")
        let lines = view(s, width: 160, height: 40).lines
        #expect(lines[2].contains("MSE") && lines[2].contains("max err") && lines[2].contains("cosine"), "\(lines[2])")
        let m = try! #require(s.records[1].numbers.metrics)
        let row = lines.first { $0.contains("layers.0.attention.wq.weight") } ?? ""
        #expect(row.contains(Format.value(m.mse)) && row.contains(Format.value(m.maxAbsError)) && row.contains(Format.fixed(m.cosineSimilarity, 4)), "\(row)")
        type(&s, "m")
        #expect(!s.showMetrics)
    }

    /// Item 10: the filter is a regular expression as in plans; `a` marks what it shows; `R` turns the filter
    /// and the focused layer's settings into a plan rule that `w` saves.
    @Test func regexFilterAndRuleFromFilter() throws {
        var s = FakeModel.loadedState()
        s.focus = 5
        type(&s, "r")                                       // the fixture's misfit Q4_0 layer: a plan cannot hold it
        type(&s, "/w[12]\\.weight$")
        _ = key(&s, .enter)
        #expect(s.visibleLayers == [3, 4])
        type(&s, "a")
        #expect(s.marked == [3, 4])
        type(&s, "A")
        s.focus = 4                                         // 2:4 + int8 per channel
        type(&s, "R")
        #expect(s.records[3].settings == s.records[4].settings)
        let rule = try #require(s.basePlan?.rules.last)
        #expect(rule.match == #"w[12]\.weight$"#)
        #expect(rule.prune == .nm(n: 2, m: 4))
        guard case .savePlan(_, let text) = key(&s, .character("w")).first else { Issue.record("no save"); return }
        let saved = try Plan.parse(text, path: "saved.json")
        #expect(saved.rules.contains(rule))
        #expect(try saved.resolve(for: FakeModel.layers.map { (name: $0.name, dtype: $0.dtype, shape: $0.shape) })
                == s.records.map(\.settings))
        // Text that is not a valid expression still filters, as plain text.
        type(&s, "/")
        _ = key(&s, .escape)
        type(&s, "/wq.(")
        #expect(s.visibleLayers.isEmpty)
    }

    /// Item 13: global magnitude is in the `p` cycle, and `]` on a member moves the whole group's target.
    @Test func globalMagnitudeFromTheKeysAndItsGroupMovesTogether() {
        var s = FakeModel.loadedState()
        s.focus = 0
        type(&s, "*ppp")                                   // threshold, sparsity, global: the shown matrices
        let group = s.records.indices.filter { s.records[$0].settings.prune == .globalMagnitude(sparsity: 0.5) }
        #expect(group.count >= 3 && group.contains(0))
        type(&s, "*")
        type(&s, "*")                                      // * off again
        #expect(!s.applyToAll)
        type(&s, "]")
        #expect(group.allSatisfy { s.records[$0].settings.prune == .globalMagnitude(sparsity: 0.51) })
        // With a mark, only the marked layer moves (it leaves the group).
        type(&s, " ]")
        #expect(s.records[0].settings.prune == .globalMagnitude(sparsity: 0.52))
        #expect(group.dropFirst().allSatisfy { s.records[$0].settings.prune == .globalMagnitude(sparsity: 0.51) })
    }

    /// Item 14: `:` opens a prompt; a typed value applies to the focused or marked layers (one absolute
    /// threshold for several layers, bits, sparsity, group size).
    @Test func typedValuesApplyToTheTargets() {
        var s = FakeModel.loadedState(width: 100, height: 30)
        s.focus = 0
        type(&s, " ")
        _ = key(&s, .down)
        _ = key(&s, .down)
        _ = key(&s, .down)
        type(&s, " ")                                       // marked: 0 and 3
        type(&s, ":t 0.015")
        #expect(s.isEditingValue)
        #expect(view(s, width: 100, height: 30).lines.last?.hasPrefix(":t 0.015") == true)
        _ = key(&s, .enter)
        #expect(!s.isEditingValue)
        #expect(s.records[0].settings.prune == .threshold(0.015) && s.records[3].settings.prune == .threshold(0.015))
        type(&s, ":b 6")
        _ = key(&s, .enter)
        #expect(s.records[0].settings.quantize == .int(bits: 6, symmetric: true, granularity: .channel, clip: .minmax))
        type(&s, ":s 30%")
        _ = key(&s, .enter)
        #expect(s.records[3].settings.prune == .sparsity(0.3))
        type(&s, ":g 128")                                  // [256, 64] cannot hold groups of 128
        _ = key(&s, .enter)
        #expect(s.message?.text.contains("does not fit") == true)
        type(&s, ":g 32")
        _ = key(&s, .enter)
        #expect(s.records[0].settings.quantize == .int(bits: 6, symmetric: true, granularity: .group(32), clip: .minmax))
        type(&s, ":x 3")
        _ = key(&s, .enter)
        #expect(s.message?.isError == true)
        type(&s, ":b 4")
        _ = key(&s, .escape)                                // cancelled: nothing changes
        #expect(s.records[0].settings.quantize == .int(bits: 6, symmetric: true, granularity: .group(32), clip: .minmax))
    }
}
