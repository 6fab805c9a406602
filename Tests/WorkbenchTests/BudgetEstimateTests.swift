import Foundation
import Testing
import TestSupport
@testable import Compression
@testable import Workbench

/// Budget mode's estimate-then-exact: the `evaluateMenu` job posts the row-sampled menu first
/// (`Action.menuEstimated`); the pane draws that frontier marked as an estimate (`~`, the SQNR interval) and
/// the layers keep their settings until the exact answers replace it.
@Suite struct BudgetEstimateTests {
    func key(_ s: inout AppState, _ k: Key) -> [Effect] { reduce(&s, .input(.key(k))) }
    @discardableResult
    func type(_ s: inout AppState, _ text: String) -> [Effect] { text.flatMap { key(&s, .character($0)) } }

    /// The exact answers with every error off by a few percent, and a variance per option.
    static func estimate(_ menu: SolverMenu) -> (MenuEvaluation, MenuSampling) {
        let exact = BudgetModeTests.menuAnswer(menu)
        let results = exact.results.enumerated().map { k, layer in
            layer.map { e -> LayerEvaluation? in
                guard var e else { return nil }
                e.metrics.sumSquaredError *= k % 2 == 0 ? 1.04 : 0.97
                return e
            }
        }
        let variance = results.map { $0.map { $0.map { ($0.metrics.sumSquaredError * 0.03) * ($0.metrics.sumSquaredError * 0.03) } } }
        return (MenuEvaluation(menu: menu, layers: exact.layers, results: results),
                MenuSampling(rowsSampled: exact.layers.map { _ in 32 }, rows: exact.layers.map { _ in 64 },
                             errorVariance: variance, squaredErrorVariance: variance, z: 3.5))
    }

    @Test func estimateFirstThenExact() throws {
        var s = FakeModel.loadedState()
        let before = s.records.map(\.settings)
        #expect(type(&s, "T") == [.job(.evaluateMenu(.integer))])
        let (estimated, sampling) = Self.estimate(.integer)
        _ = reduce(&s, .menuEstimated(estimated, sampling))
        let b = try #require(s.budget)
        #expect(b.estimated == estimated && b.sampling == sampling)
        #expect(b.frontier == nil && b.evaluated == nil, "the estimate does not drive the layers")
        #expect(s.records.map(\.settings) == before)
        #expect(s.message?.text.contains("estimated") == true)
        let curve = try #require(EstimatedCurve(b, s))
        #expect(curve.curve.points.count > 2)
        #expect(curve.sqnrHalfWidth > 0 && curve.sqnrHalfWidth < 1)
        let screen = view(s, width: 120, height: 40).lines
        #expect(screen.contains { $0.contains("~ estimated frontier, SQNR ±") })
        // `>` waits for the exact menu.
        _ = type(&s, ">")
        #expect(s.records.map(\.settings) == before)

        _ = reduce(&s, .jobFinished(.evaluateMenu(.integer), .success(.menuEvaluated(BudgetModeTests.menuAnswer(.integer)))))
        let exact = try #require(s.budget)
        #expect(exact.estimated == nil && exact.sampling == nil && exact.frontier != nil)
        #expect(!view(s, width: 120, height: 40).lines.contains { $0.contains("~") })
        // A late estimate (a second job's) does not replace exact numbers.
        _ = reduce(&s, .menuEstimated(estimated, sampling))
        #expect(s.budget?.estimated == nil)
    }

    /// The pane while only the estimate is in: the dimmed frontier, titled as an estimate with its interval.
    @Test func estimatedPaneSnapshot() {
        var s = FakeModel.loadedState()
        type(&s, "T")
        let (estimated, sampling) = Self.estimate(.integer)
        _ = reduce(&s, .menuEstimated(estimated, sampling))
        assertSnapshot(lines: view(s, width: 120, height: 40).lines, named: "budget-estimate-120x40")
    }
}
