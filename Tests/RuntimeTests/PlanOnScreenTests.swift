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

/// With an importance matrix the workbench evaluates as `report --imatrix` does: ggml's imatrix path and the
/// importance-weighted SQNR, shown in the table, the settings pane and the status line (ggml-python's
/// numbers, Tests/Fixtures/make_imatrix.py).
struct ImportanceOnScreenTests {
    @Test func screenShowsReportsImportanceWeightedNumbers() throws {
        let dir = try TemporaryDirectory()
        let data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("imatrix/attn_q.bin"))))
        var header = Array(#"{"blk.0.attn_q.weight":{"dtype":"F32","shape":[4,512],"data_offsets":[0,8192]}}"#.utf8)
        while header.count % 8 != 0 { header.append(0x20) }
        let path = try dir.write("m.safetensors", withUnsafeBytes(of: UInt64(header.count).littleEndian) { Array($0) } + header + data)
        let plan = try dir.write("p.json", text: #"{"version": 1, "default": {"quantize": {"format": "gguf", "type": "q4_k"}}}"#)
        let imatrix = Fixtures.path("imatrix/small.imatrix.gguf")
        let model = try ModelFile.open(path)
        let importance = try ImportanceMatrix.load(path: imatrix, for: model)
        let settings = try Plan.load(path: plan).resolve(for: model.tensors)
        let terminal = FakeTerminal(width: 120, height: 30)
        let session = WorkbenchSession(model: model, settings: settings, planPath: nil, theme: Theme.dark, terminal: terminal,
                                       scheduler: ImmediateScheduler(), importance: importance, trace: nil)
        session.settle()
        let report = try PlanEvaluation(modelPath: path, planPath: plan, imatrixPath: imatrix)
        let shown = try #require(LayerNumbers.of(0, in: session.state).importance)
        let ref = try #require((try Fixtures.json("imatrix/reference.json") as? [String: Any])?["attn_q"] as? [String: Any])
        let sqnr = try #require(ref["weighted_sqnr_db"] as? Double)
        #expect(abs(shown.sqnrDB - sqnr) <= 1e-9)
        #expect(shown == report.importanceErrors[0])
        #expect(WorkbenchTotals.of(session.state).totals.importance == report.importanceTotal)
        #expect(LayerNumbers.of(0, in: session.state).sqnr == report.layers[0].sqnr)
        let screen = terminal.lastLines.joined(separator: "\n")
        let text = String(format: "%.1f", sqnr)
        #expect(screen.contains("wSQNR"), "\(screen)")
        #expect(screen.contains("wSQNR " + text + " dB"), "\(screen)")
        // Without the matrix there is no such column.
        let plain = FakeTerminal(width: 120, height: 30)
        let s2 = WorkbenchSession(model: model, settings: settings, planPath: nil, theme: Theme.dark, terminal: plain,
                                  scheduler: ImmediateScheduler(), trace: nil)
        s2.settle()
        #expect(!plain.lastLines.joined(separator: "\n").contains("wSQNR"))
    }
}
