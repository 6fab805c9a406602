import Foundation
import Testing
@testable import Compression
import WeightFormats
import TestSupport

/// The sampled menu (`Engine.estimateMenu`, `sweep --estimate`) against the exact evaluation of the same
/// menu on the fixture models (the bundled Silero VAD model with the integer menu, the llama fixture of
/// make_preset_bytes.py with ggml types): every layer's and option's exact error inside the estimate's
/// interval, every frontier choice's exact total inside the total's interval, and the intervals narrow
/// enough to be useful. Fixed seeds: the same rows every run.
struct MenuSamplingTests {
    struct Case { let path: String; let menu: SolverMenu; let sampleElements: Int }
    static let cases = [
        Case(path: Fixtures.repositoryRoot + "/Examples/silero-vad/silero_vad_16k.safetensors", menu: .integer, sampleElements: 1 << 14),
        Case(path: Fixtures.path("preset_bytes/model.gguf"), menu: .ggml, sampleElements: 1 << 14),
    ]

    @Test(arguments: [ErrorMeasure.mse, .relative])
    func exactErrorsLieInsideTheirIntervals(measure: ErrorMeasure) throws {
        for c in Self.cases {
            let model = try ModelFile.open(c.path)
            let base = [LayerSettings](repeating: .identity, count: model.tensors.count)
            let exact = try BudgetProblem(model: model, engine: Engine(model: model, scheduler: ImmediateScheduler()),
                                          menu: c.menu, measure: measure, baseSettings: base)
            let estimated = try BudgetProblem(model: model, engine: Engine(model: model, scheduler: ImmediateScheduler()),
                                              menu: c.menu, measure: measure, baseSettings: base, estimate: c.sampleElements)
            let sampling = try #require(estimated.sampling)
            #expect(exact.sampling == nil && estimated.isEstimate)
            #expect(estimated.evaluated.layers == exact.evaluated.layers)
            var checked = 0, narrow = 0, sampledLayers = 0
            for k in exact.evaluated.layers.indices {
                let name = model.tensors[exact.evaluated.layers[k]].name
                if sampling.rowsSampled[k] < sampling.rows[k] { sampledLayers += 1 }
                for j in c.menu.options.indices {
                    guard let e = exact.evaluated.results[k][j] else {
                        #expect(estimated.evaluated.results[k][j] == nil)
                        continue
                    }
                    let s = try #require(estimated.evaluated.results[k][j], "\(name) option \(j)")
                    #expect(s.size.bytes == e.size.bytes, "\(name) option \(j): sizes are exact")
                    let (x, y) = (measure.error(e), measure.error(s))
                    let h = try #require(sampling.halfWidth(layer: k, option: j))
                    // 1e-6 relative: a layer sampled whole sums its rows in another order than the engine.
                    #expect(abs(x - y) <= h + 1e-6 * abs(x), "\(name) option \(j): exact \(x) not in \(y) ± \(h)")
                    guard x > 0 else { continue }
                    checked += 1
                    if h < 0.5 * x { narrow += 1 }
                }
            }
            #expect(sampledLayers >= 2, "\(c.path): the sample should leave rows out")
            #expect(checked >= 20)
            #expect(narrow * 10 >= checked * 7, "\(c.path): most per-layer intervals under ±50 % (\(narrow) of \(checked))")
            // Totals: each exact frontier vertex's choice, estimated, within the total's interval.
            var totalsChecked = 0, narrowTotals = 0
            for t in 0..<exact.frontier.count {
                let choice = exact.frontier.choice(prefix: t)
                let truth = exact.solution(choice: choice, lowerBound: 0).error
                let guess = estimated.solution(choice: choice, lowerBound: 0).error
                let h = sampling.halfWidth(choice: choice)
                #expect(abs(truth - guess) <= h + 1e-6 * truth, "\(c.path) vertex \(t): exact \(truth) not in \(guess) ± \(h)")
                if truth > 0 {
                    // The near-lossless end has little error left, held by a few rows: its relative interval is widest.
                    #expect(h < 0.75 * truth, "\(c.path) vertex \(t): total interval ±\(h / truth * 100) % is too wide")
                    if h < 0.35 * truth { narrowTotals += 1 }
                    totalsChecked += 1
                }
            }
            #expect(totalsChecked >= 5)
            #expect(narrowTotals * 2 >= totalsChecked, "\(c.path): \(narrowTotals) of \(totalsChecked) totals within ±35 %")
            // The estimated sweep carries its intervals; the exact one does not.
            let points = estimated.sweep()
            #expect(points.allSatisfy { $0.errorHalfWidth != nil && $0.sqnrInterval != nil })
            #expect(exact.sweep().allSatisfy { $0.errorHalfWidth == nil && $0.sqnrInterval == nil })
            for p in points where p.totals.metrics.sumSquaredError > 0 {
                #expect(p.sqnrInterval!.contains(p.totals.metrics.sqnrDB))
            }
        }
    }

    @Test func sameSeedSameNumbers() throws {
        let c = Self.cases[0]
        let model = try ModelFile.open(c.path)
        let layers = model.tensors.indices.filter { model.tensors[$0].isFloating && model.tensors[$0].shape.count == 2 }
        func run() throws -> MenuEvaluation {
            try Engine(model: model, scheduler: ImmediateScheduler()).estimateMenu(c.menu, layers: layers, measure: .mse, sampleElements: c.sampleElements).0
        }
        #expect(try run() == run())
    }

    @Test func sampleOfEveryRowIsExact() throws {
        let c = Self.cases[0]
        let model = try ModelFile.open(c.path)
        let layers = model.tensors.indices.filter { model.tensors[$0].isFloating && model.tensors[$0].shape.count == 2 }
        let (est, sampling) = try Engine(model: model, scheduler: ImmediateScheduler())
            .estimateMenu(c.menu, layers: layers, measure: .mse, sampleElements: 1 << 30)
        let exact = try Engine(model: model, scheduler: ImmediateScheduler()).evaluateMenu(c.menu, layers: layers)
        #expect(sampling.rowsSampled == sampling.rows)
        for k in layers.indices {
            for j in c.menu.options.indices {
                guard let e = exact.results[k][j] else { continue }
                let s = try #require(est.results[k][j])
                #expect(abs(s.metrics.sumSquaredError - e.metrics.sumSquaredError) <= 1e-9 * e.metrics.sumSquaredError)
                #expect(sampling.errorVariance[k][j] == 0)
            }
        }
    }
}
