import Foundation
import Runtime
import Testing
import TestSupport
import WeightFormats
@testable import Compression
@testable import Workbench

/// What the screen shows for a plan equals what `weightlab report` computes for it: the workbench is run
/// through the runtime (fake terminal, every background answer computed synchronously) and compared with the
/// engine's whole-plan evaluation that the report prints.
struct PlanOnScreenTests {
    let example = Fixtures.repositoryRoot + "/Examples/silero-vad/silero_vad_16k.safetensors"

    @Test(arguments: ["Examples/plans/int4-group128.json", "Examples/plans/2to4-int8.json", "Examples/plans/q4_0.json",
                      "Tests/Fixtures/report/global-magnitude.json"])
    func screenNumbersEqualTheReport(_ planPath: String) throws {
        let model = try ModelFile.open(example)
        let settings = try Plan.load(path: Fixtures.repositoryRoot + "/" + planPath).resolve(for: model.tensors)
        let terminal = FakeTerminal(width: 120, height: 40)
        let session = WorkbenchSession(model: model, settings: settings, planPath: nil, theme: Theme.dark,
                                       terminal: terminal, scheduler: ImmediateScheduler(), trace: nil)
        session.settle()
        let state = session.state

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
        let screen = terminal.lastLines.joined(separator: "\n")
        #expect(screen.contains(String(format: "SQNR %.1f dB", reportTotals.metrics.sqnrDB)), "\(screen)")
        #expect(screen.contains(String(format: "%.2f bits/w", reportTotals.bitsPerWeight)))
    }
}
