import Foundation
import Testing
import TestSupport
@testable import Compression
@testable import Workbench

/// Budget mode (`T`, `>`, `<`, `!`) and the diagnostics columns (`d`, `8`, `9`, `0`).
@Suite struct BudgetModeTests {
    func key(_ s: inout AppState, _ k: Key) -> [Effect] { reduce(&s, .input(.key(k))) }
    @discardableResult
    func type(_ s: inout AppState, _ text: String) -> [Effect] { text.flatMap { key(&s, .character($0)) } }

    static func trimmed(_ line: String) -> String { String(line.reversed().drop { $0 == " " }.reversed()) }

    /// What the runtime's menu job answers for the fake model: every option on every weight matrix.
    static func menuAnswer(_ menu: SolverMenu) -> MenuEvaluation {
        let layers = FakeModel.layers.indices.filter { i in
            let l = FakeModel.layers[i]
            return l.isFloating && l.shape.count >= 2 && menu.options.contains { SolverMenu.fits($0, shape: l.shape) }
        }
        let results = layers.map { i in
            menu.options.map { o -> LayerEvaluation? in
                guard SolverMenu.fits(o, shape: FakeModel.layers[i].shape) else { return nil }
                return try? LayerEvaluator.evaluate(o, shape: FakeModel.layers[i].shape, values: FakeModel.values[i]!,
                                                    originalDType: FakeModel.layers[i].dtype)
            }
        }
        let diagnostics = layers.map { i in
            FakeModel.values[i]!.withUnsafeBufferPointer { LayerDiagnostics.measure($0, shape: FakeModel.layers[i].shape) }
        }
        return MenuEvaluation(menu: menu, layers: layers, results: results, diagnostics: diagnostics)
    }

    /// Budget mode on, with the menu answered.
    func budgetState() -> AppState {
        var s = FakeModel.loadedState()
        let effects = type(&s, "T")
        #expect(effects == [.job(.evaluateMenu(.integer))])
        _ = reduce(&s, .jobFinished(.evaluateMenu(.integer), .success(.menuEvaluated(Self.menuAnswer(.integer)))))
        return s
    }

    @Test func everyLayerFollowsTheFrontierAsTheTargetMoves() throws {
        var s = budgetState()
        let budget = try #require(s.budget)
        let f = try #require(budget.frontier)
        #expect(budget.frontierLayers == [0, 1, 3, 4, 5, 6])
        var sizes: [Int] = [], sqnr: [Double] = []
        _ = type(&s, String(repeating: "<", count: f.count))
        #expect(s.budget?.vertex == 0)
        for _ in 0..<(f.count + 2) {
            let b = try #require(s.budget)
            let choice = f.choice(prefix: b.vertex)
            for (k, layer) in b.frontierLayers.enumerated() {
                #expect(s.records[layer].settings == b.menu.options[choice[k]])
                #expect(s.records[layer].numbers.status == .exact)
            }
            // The totals are the frontier's bytes plus the layers off it, through the shared numbers model.
            let off = s.records.indices.filter { !b.frontierLayers.contains($0) }
                .reduce(0) { $0 + (s.records[$1].numbers.bytes ?? s.records[$1].tensor.bytes) }
            #expect(s.totals.totals.bytesCompressed == f.bytes[b.vertex] + off)
            sizes.append(s.totals.totals.bytesCompressed)
            sqnr.append(s.totals.totals.metrics.sqnrDB)
            let started = Date()
            _ = type(&s, ">")
            #expect(Date().timeIntervalSince(started) < 0.1)
        }
        #expect(zip(sizes, sizes.dropFirst()).allSatisfy { $0 <= $1 })
        #expect(zip(sqnr, sqnr.dropFirst()).allSatisfy { $0 <= $1 + 1e-9 })
        #expect(s.budget?.vertex == f.count - 1)
    }

    @Test func pinnedLayersKeepTheirSettings() throws {
        var s = budgetState()
        s.focus = 1
        let before = s.records[1].settings
        type(&s, "!")
        #expect(s.budget?.pinned == [1])
        #expect(s.budget?.frontierLayers.contains(1) == false)
        for _ in 0..<10 { type(&s, "<") }
        for _ in 0..<20 { type(&s, ">") }
        #expect(s.records[1].settings == before)
        type(&s, "!")
        #expect(s.budget?.pinned == [])
        type(&s, "T")
        #expect(s.budget == nil)
        #expect(type(&s, ">").isEmpty)
    }

    @Test func keysWaitForTheMenu() {
        var s = FakeModel.loadedState()
        type(&s, "T")
        #expect(type(&s, ">").isEmpty)
        #expect(s.message?.text.contains("still being evaluated") == true)
        _ = reduce(&s, .jobFinished(.evaluateMenu(.integer), .failure(EvaluationFailure(message: "disk on fire"))))
        #expect(s.budget == nil)
        #expect(s.message?.isError == true)
    }

    /// The pane in the histogram's place: the frontier plot with the plan on screen marked `@`.
    @Test func frontierPaneSnapshot() {
        var s = budgetState()
        type(&s, "<<<")
        let lines = view(s, width: 120, height: 40).lines
        #expect(lines.contains { $0.contains("@") })
        assertSnapshot(lines: lines, named: "budget-120x40")
    }

    /// A pinned layer shows `!` beside its name (the mark column's second cell); unpinning takes it away.
    @Test func pinnedLayersAreMarkedInTheTable() {
        var s = budgetState()
        func row(_ s: AppState) -> String {
            view(s, width: 120, height: 40).lines.first { $0.contains(s.records[s.focus].tensor.name) } ?? ""
        }
        #expect(row(s).hasPrefix("  "), "\(row(s))")
        type(&s, "!")
        #expect(row(s).hasPrefix(" !"), "\(row(s))")
        type(&s, "j")
        #expect(row(s).hasPrefix("  "), "the next layer is not pinned: \(row(s))")
        type(&s, "k!")
        #expect(row(s).hasPrefix("  "), "\(row(s))")
    }

    /// Channel spread and outliers need the values: they show once budget mode's menu job has decoded them.
    @Test func spreadAndOutliersFromTheMenuJob() throws {
        var s = FakeModel.loadedState(width: 200, height: 40)
        type(&s, "d")
        let before = view(s, width: 200, height: 40).lines
        #expect(before[2].contains("spread") && before[2].contains(">6σ"), "\(before[2])")
        let row0 = Self.trimmed(before.first { $0.contains("layers.0.attention.wq.weight") } ?? "")
        #expect(row0.hasSuffix("…     …"), "\(row0)")
        _ = type(&s, "T")
        _ = reduce(&s, .jobFinished(.evaluateMenu(.integer), .success(.menuEvaluated(Self.menuAnswer(.integer)))))
        let d = FakeModel.values[1]!.withUnsafeBufferPointer { LayerDiagnostics.measure($0, shape: FakeModel.layers[1].shape) }
        let row = Self.trimmed(view(s, width: 200, height: 40).lines.first { $0.contains("layers.0.attention.wq.weight") } ?? "")
        #expect(row.hasSuffix(" " + Format.fixed(d.channelSpread!, 1) + String(repeating: " ", count: 5 - "\(d.outliers)".count + 1) + "\(d.outliers)"), "\(row)")
    }

    @Test func diagnosticsColumnsAndSortKeys() throws {
        var s = FakeModel.loadedState(width: 160, height: 40)
        _ = reduce(&s, .evaluated(FakeModel.evaluation(s, layer: 4)))
        #expect(!view(s, width: 160, height: 40).lines[2].contains("kurt"))
        type(&s, "d")
        let lines = view(s, width: 160, height: 40).lines
        #expect(lines[2].contains("kurt") && lines[2].contains("share") && lines[2].contains("err/bit"), "\(lines[2])")
        let k = try #require(s.records[1].analysis?.statistics.kurtosis)
        let row = lines.first { $0.contains("layers.0.attention.wq.weight") } ?? ""
        #expect(row.contains(Format.fixed(k, 1)), "\(row)")
        type(&s, "9")
        #expect(s.sort == .errorShare && s.sortDescending)
        let shares = s.visibleLayers.compactMap { s.records[$0].numbers.errorShare(of: s.totals.totals) }
        #expect(shares.count >= 2 && zip(shares, shares.dropFirst()).allSatisfy { $0 >= $1 })
        type(&s, "0")
        #expect(s.sort == .sensitivity)
        type(&s, "8")
        #expect(s.sort == .kurtosis)
        let kurtoses = s.visibleLayers.compactMap { s.records[$0].analysis?.statistics.kurtosis }
        #expect(zip(kurtoses, kurtoses.dropFirst()).allSatisfy { $0 >= $1 })
    }
}

@Suite struct BudgetKeymapTests {
    /// The budget and diagnostics keys are consulted with the layer, tuning, histogram and general keys:
    /// none of them may be bound there already.
    @Test func budgetKeysClashWithNothing() {
        let group: [KeyContext] = [.histogramPane, .settingsPane, .navigation, .tuning, .histogram, .general]
        let taken = Set(Keymap.bindings.filter { group.contains($0.context) }.flatMap(\.keys))
        for b in Keymap.bindings where b.context == .budget {
            for k in b.keys { #expect(!taken.contains(k), "\(k) of \(b.command) is bound elsewhere") }
            #expect(b.help.count <= 45, "\(b.help) is longer than the help column")
        }
        let s = FakeModel.loadedState()
        #expect(Keymap.command(for: .character("T"), in: s) == .toggleBudget)
        #expect(Keymap.command(for: .character("9"), in: s) == .sortByErrorShare)
    }
}
