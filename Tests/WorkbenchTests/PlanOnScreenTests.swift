import Foundation
import Testing
import TestSupport
import WeightFormats
@testable import Compression
@testable import Workbench

/// What the screen shows for a plan equals what `weightlab report` computes for it: the workbench state is
/// driven through its own effects (analysis and engine, run synchronously) and compared with the engine's
/// whole-plan evaluation that the report prints.
struct PlanOnScreenTests {
    let example = Fixtures.repositoryRoot + "/Examples/silero-vad/silero_vad_16k.safetensors"

    /// Runs every effect inline until none are left, as the run loop would, but synchronously.
    func settle(_ state: inout AppState, _ effects: [Effect], model: Model, engine: Engine) throws {
        var queue = effects
        while !queue.isEmpty {
            let effect = queue.removeFirst()
            var actions: [Action] = []
            switch effect {
            case .analyse(let layer):
                actions.append(.analysed(layer: layer, try LayerAnalysis.analyse(model.tensors[layer])))
            case .evaluate(let layer, let settings, let revision):
                // As the run loop does: a global magnitude group is resolved before its layers are evaluated.
                if case .globalMagnitude = settings.prune { try engine.prepareGlobalCuts(state.settings) }
                final class Box: @unchecked Sendable { var r: [EvaluationResult] = [] }
                let box = Box()
                engine.evaluate(layer: layer, settings: settings, revision: revision) { box.r.append($0) }
                actions += box.r.map { .evaluated($0) }
            case .histogram, .savePlan, .quit:
                break
            }
            for a in actions { queue += reduce(&state, a) }
        }
    }

    @Test(arguments: ["Examples/plans/int4-group128.json", "Examples/plans/2to4-int8.json", "Examples/plans/q4_0.json",
                      "Tests/Fixtures/report/global-magnitude.json"])
    func screenNumbersEqualTheReport(_ planPath: String) throws {
        let model = try ModelFile.open(example)
        let settings = try Plan.load(path: Fixtures.repositoryRoot + "/" + planPath).resolve(for: model.tensors)
        let engine = Engine(model: model, scheduler: ImmediateScheduler())
        var (state, effects) = AppState.start(model: model, settings: settings, width: 120, height: 40)
        try settle(&state, effects, model: model, engine: engine)

        let report = try Engine(model: model, scheduler: ImmediateScheduler()).evaluateAll(settings)
        let reportTotals = ModelTotals(model: model, evaluations: report)
        for i in model.tensors.indices {
            let shown = LayerNumbers.of(i, in: state)
            #expect(shown.isSettled, "\(model.tensors[i].name) still \(shown.status)")
            guard let r = report[i] else { continue }
            #expect(shown.bytes == r.size.bytes, "\(model.tensors[i].name)")
            #expect(shown.sparsity == r.metrics.sparsity, "\(model.tensors[i].name)")
            let a = shown.sqnr ?? .nan, b = r.metrics.sqnrDB
            #expect(a == b || abs(a - b) < 1e-9, "\(model.tensors[i].name): \(a) vs \(b)")
        }
        let totals = WorkbenchTotals.of(state)
        #expect(totals.unsettled == 0)
        #expect(totals.totals.bytesCompressed == reportTotals.bytesCompressed)
        #expect(totals.totals.bytesOriginal == reportTotals.bytesOriginal)
        #expect(abs(totals.totals.metrics.sqnrDB - reportTotals.metrics.sqnrDB) < 1e-6)
        #expect(abs(totals.totals.metrics.sparsity - reportTotals.metrics.sparsity) < 1e-12)

        // And the status line prints those totals.
        let screen = view(state, width: 120, height: 40).lines.joined(separator: "\n")
        #expect(screen.contains(String(format: "SQNR %.1f dB", reportTotals.metrics.sqnrDB)), "\(screen)")
        #expect(screen.contains(String(format: "%.2f bits/w", reportTotals.bitsPerWeight)))
    }
}
