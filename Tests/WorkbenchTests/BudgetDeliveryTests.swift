import Foundation
import Testing
import TestSupport
@testable import Compression
@testable import Workbench

/// Budget mode's exact-replaces-estimate, layer by layer: the `evaluateMenu` job posts each layer's exact
/// answers as soon as that layer is done (`Action.menuLayerEvaluated`); they replace the layer's estimates,
/// the estimated frontier and its interval are recomputed from the mix (marked with how many layers are
/// exact), and the last layer gives the exact display the finished job gives.
@Suite struct BudgetDeliveryTests {
    @discardableResult
    func type(_ s: inout AppState, _ text: String) -> [Effect] { text.flatMap { reduce(&s, .input(.key(.character($0)))) } }

    static func answer(_ exact: MenuEvaluation, _ k: Int) -> MenuLayerAnswer {
        MenuLayerAnswer(menu: exact.menu, layers: exact.layers, index: k, results: exact.results[k], diagnostics: exact.diagnostics[k])
    }

    /// Budget mode on with the row-sampled estimate in, and the exact layers `first` delivered.
    func mixedState(exactLayers first: [Int]) -> AppState {
        var s = FakeModel.loadedState()
        type(&s, "T")
        let (estimated, sampling) = BudgetEstimateTests.estimate(.integer)
        _ = reduce(&s, .menuEstimated(estimated, sampling))
        let exact = BudgetModeTests.menuAnswer(.integer)
        for k in first { #expect(reduce(&s, .menuLayerEvaluated(Self.answer(exact, k))).isEmpty) }
        return s
    }

    @Test func eachLayerReplacesItsEstimateThenAllExact() throws {
        let exact = BudgetModeTests.menuAnswer(.integer)
        let (estimated, sampling) = BudgetEstimateTests.estimate(.integer)
        let n = exact.layers.count
        #expect(n == 6)
        let before = FakeModel.loadedState().records.map(\.settings)

        var s = mixedState(exactLayers: [4, 1])
        let b = try #require(s.budget)
        #expect(b.delivered?.count == 2)
        #expect(b.frontier == nil && b.evaluated == nil, "the layers wait for every exact answer")
        #expect(s.records.map(\.settings) == before)
        // The mix: layers 1 and 4 exact (variance 0), the others still estimated.
        let mixed = try #require(b.estimated), mixedSampling = try #require(b.sampling)
        for k in 0..<n {
            #expect(mixed.results[k] == ([1, 4].contains(k) ? exact.results[k] : estimated.results[k]), "layer \(k)")
            let v = mixedSampling.squaredErrorVariance[k]
            #expect(v == ([1, 4].contains(k) ? exact.results[k].map { $0 == nil ? nil : 0 } : sampling.squaredErrorVariance[k]), "layer \(k)")
        }
        // The frontier drawn is the frontier of the mix (built here from the exact and estimated answers).
        let rows = (0..<n).map { [1, 4].contains($0) ? exact.results[$0] : estimated.results[$0] }
        let options = rows.map { $0.map { $0.map { SolverPoint(bytes: $0.size.bytes, error: $0.metrics.sumSquaredError) } } }
        let curve = try #require(EstimatedCurve(b, s))
        #expect(curve.curve.points.count == BudgetFrontier(options: options).count)
        #expect(curve.sqnrHalfWidth > 0)
        // Any choice's interval loses the exact layers' share.
        let choice = exact.results.map { row in row.indices.max { (row[$0]?.metrics.sumSquaredError ?? -1) < (row[$1]?.metrics.sumSquaredError ?? -1) }! }
        #expect(mixedSampling.halfWidth(choice: choice, squared: true) < sampling.halfWidth(choice: choice, squared: true))
        let remaining = (0..<n).filter { ![1, 4].contains($0) }.reduce(0.0) { $0 + sampling.squaredErrorVariance[$1][choice[$1]]! }
        #expect(abs(mixedSampling.halfWidth(choice: choice, squared: true) - sampling.z * remaining.squareRoot()) <= 1e-12 * remaining.squareRoot())
        let screen = view(s, width: 120, height: 40).lines
        #expect(screen.contains { $0.contains("~ estimated frontier (2/6 layers exact), SQNR ±") })
        // `>` still waits; a repeat of a layer changes nothing.
        #expect(type(&s, ">").isEmpty)
        _ = reduce(&s, .menuLayerEvaluated(Self.answer(exact, 1)))
        #expect(s.budget?.delivered?.count == 2)

        // The rest: the last one completes the menu, exactly as the finished job's answer does.
        var effects: [Effect] = []
        for k in [0, 2, 3, 5] { effects = reduce(&s, .menuLayerEvaluated(Self.answer(exact, k))) }
        var reference = mixedState(exactLayers: [])
        let referenceEffects = reduce(&reference, .jobFinished(.evaluateMenu(.integer), .success(.menuEvaluated(exact))))
        #expect(!effects.isEmpty && effects == referenceEffects)
        #expect(s == reference)
        #expect(s.budget?.evaluated == exact && s.budget?.estimated == nil && s.budget?.delivered == nil && s.budget?.frontier != nil)
        #expect(!view(s, width: 120, height: 40).lines.contains { $0.contains("~") })
        // The finished job's answer then changes nothing.
        #expect(reduce(&s, .jobFinished(.evaluateMenu(.integer), .success(.menuEvaluated(exact)))).isEmpty)
        #expect(s == reference)
    }

    @Test func layersBeforeTheEstimateAndStaleAnswers() throws {
        let exact = BudgetModeTests.menuAnswer(.integer)
        let (estimated, sampling) = BudgetEstimateTests.estimate(.integer)
        // Exact layers before the estimate: the estimate arrives with them already in place.
        var s = FakeModel.loadedState()
        type(&s, "T")
        _ = reduce(&s, .menuLayerEvaluated(Self.answer(exact, 3)))
        _ = reduce(&s, .menuEstimated(estimated, sampling))
        #expect(s.budget?.estimated?.results[3] == exact.results[3])
        #expect(s.budget?.estimated?.results[2] == estimated.results[2])
        // Budget mode off: answers are dropped; another menu's answers too.
        var off = FakeModel.loadedState()
        #expect(reduce(&off, .menuLayerEvaluated(Self.answer(exact, 0))).isEmpty && off.budget == nil)
        var other = FakeModel.loadedState()
        type(&other, "T")
        let ggml = BudgetModeTests.menuAnswer(.ggml)
        if !ggml.layers.isEmpty { _ = reduce(&other, .menuLayerEvaluated(Self.answer(ggml, 0))) }
        #expect(other.budget?.delivered == nil)
    }

    /// The pane in the mixed state: the dimmed frontier of the mix, titled with the layers already exact.
    @Test func mixedPaneSnapshot() {
        let s = mixedState(exactLayers: [0, 2, 5])
        assertSnapshot(lines: view(s, width: 120, height: 40).lines, named: "budget-mixed-120x40")
    }
}
