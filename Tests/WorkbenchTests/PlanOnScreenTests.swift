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

    /// Runs every effect inline until none are left, as the run loop would, but synchronously: analyses and
    /// evaluations through the engine (which resolves global magnitude groups itself).
    func settle(_ state: inout AppState, _ effects: [Effect], model: Model, engine: Engine) throws {
        final class Box: @unchecked Sendable { var actions: [Action] = [] }
        let box = Box()
        var queue = effects
        while !queue.isEmpty {
            let effect = queue.removeFirst()
            switch effect {
            case .analyse(let layer):
                engine.analyse(layer: layer) { layer, result in
                    box.actions.append(.analysed(layer: layer, try! result.get()))
                }
            case .evaluate(let layer, let settings, let revision):
                let stale = engine.evaluate([EvaluationRequest(layer: layer, settings: settings, revision: revision)]) {
                    box.actions.append(.evaluated($0))
                }
                if !stale.isEmpty { box.actions.append(.evaluationsStale(layers: stale)) }
            case .histogram, .savePlan, .job, .quit:
                break
            }
            let actions = box.actions
            box.actions = []
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
