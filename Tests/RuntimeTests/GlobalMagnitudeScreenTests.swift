import Compression
import Foundation
import Runtime
import Testing
import TestSupport
import WeightFormats
import Workbench

/// The workbench run through its runtime (fake terminal, synchronous scheduler) on the bundled Silero model
/// with one global magnitude group: after an edit of one member, every member, the totals and the histogram
/// follow the group, and what the screen shows equals `report` of the plan it saves.
@Suite struct GlobalMagnitudeScreenTests {
    let example = Fixtures.repositoryRoot + "/Examples/silero-vad/silero_vad_16k.safetensors"

    /// The session, its terminal and a directory for the plans, opened on `{"default": global 50 %}`.
    func open() throws -> (WorkbenchSession, FakeTerminal, URL) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("weightlab-runtime-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let planPath = dir.appendingPathComponent("global.json").path
        try #"{"version":1,"default":{"prune":{"method":"global_magnitude","sparsity":0.5}}}"#
            .write(toFile: planPath, atomically: true, encoding: .utf8)
        let model = try ModelFile.open(example)
        let settings = try PlanEvaluation.resolve(planPath, for: model)
        let terminal = FakeTerminal(width: 140, height: 50)
        let session = WorkbenchSession(model: model, settings: settings, planPath: dir.appendingPathComponent("saved.json").path,
                                       theme: Theme.dark, terminal: terminal, scheduler: ImmediateScheduler(), trace: nil)
        session.settle()
        return (session, terminal, dir)
    }

    /// Presses keys, one turn of the loop each, letting the engine finish after each.
    func press(_ session: WorkbenchSession, _ terminal: FakeTerminal, _ keys: [Key]) {
        for k in keys {
            terminal.send(.key(k))
            session.step()
            session.settle()
        }
    }

    /// The table row of `name` in the last frame (after the two-cell mark column).
    func row(_ terminal: FakeTerminal, _ name: String) -> String? {
        terminal.lastLines.first { $0.dropFirst(2).hasPrefix(name + " ") }
    }

    func tokens(_ line: String) -> [String] { line.split(separator: " ").map(String.init) }

    @Test func editingOneMemberUpdatesTheGroupAndTheScreenEqualsTheReport() throws {
        let (session, terminal, dir) = try open()
        defer { try? FileManager.default.removeItem(at: dir) }
        let names = session.model.tensors.map(\.name)

        // Before the edit the histogram of stft_conv shades the group's cut (numpy: the 50 % quantile of
        // |w| over the eight weight tensors, 0.114175), not stft_conv's own median (0.2236).
        #expect(session.state.focus == 0)
        var screen = terminal.lastLines.joined(separator: "\n")
        #expect(screen.contains("pruned |w| < " + Format.value(0.114175)), "\(screen)")
        #expect(!screen.contains("pruned |w| < " + Format.value(0.223612)))

        // Mark conv4.weight and raise its target: it leaves the 50 % group for a 51 % group of its own (without
        // the mark, `]` moves the whole group's target: see DailyUseTests).
        press(session, terminal, Array(repeating: .down, count: 7))
        #expect(names[session.state.focus] == "conv4.weight")
        press(session, terminal, [.character(" "), .character("]")])
        #expect(session.state.records[7].settings.prune == .globalMagnitude(sparsity: 0.51))

        // Save the plan; the check job reads it back and evaluates it as `report` does.
        press(session, terminal, [.character("w")])
        let saved = dir.appendingPathComponent("saved.json").path
        #expect(FileManager.default.fileExists(atPath: saved))
        let report = try PlanEvaluation(modelPath: example, planPath: saved)

        // numpy (safetensors.numpy, argsort of |w| over the members, stable): stft_conv 38.8944 %, total
        // 49.8516 % zeros and 18.2746 dB; the report must agree before the screen is compared with it.
        #expect(abs((report.layers[0].sparsity ?? 0) - 0.388944) < 1e-6)
        #expect(abs(report.totals.metrics.sparsity - 0.498516) < 1e-6)
        #expect(abs(report.totals.metrics.sqnrDB - 18.2746) < 1e-4)

        // Every row of the table shows the report's numbers.
        screen = terminal.lastLines.joined(separator: "\n")
        for (i, name) in names.enumerated() {
            guard let line = row(terminal, name) else { Issue.record("no row for \(name) in\n\(screen)"); continue }
            let n = report.layers[i], cells = tokens(line)
            #expect(cells.contains(Format.percent(n.sparsity ?? -1)), "\(name): \(line)")
            #expect(cells.contains(Format.sqnr(n.sqnr ?? -1)), "\(name): \(line)")
            #expect(cells.contains(Format.fixed(n.bitsPerWeight ?? -1, 2)), "\(name): \(line)")
            #expect(line.contains(Format.bytes(n.bytes ?? -1)), "\(name): \(line)")
        }
        // And the status line the totals, settled (no "~").
        let t = report.totals
        let status = terminal.lastLines[Layout(width: 140, height: 50).statusRow]
        #expect(status.contains(Format.bytes(t.bytesOriginal) + " → " + Format.bytes(t.bytesCompressed)), "\(status)")
        #expect(status.contains(Format.fixed(t.bitsPerWeight, 2) + " bits/w"), "\(status)")
        #expect(status.contains("zeros " + Format.percent(t.metrics.sparsity)), "\(status)")
        #expect(status.contains("SQNR " + Format.sqnr(t.metrics.sqnrDB) + " dB"), "\(status)")
        #expect(!status.contains("~"), "\(status)")
        // The check job's message repeats the report's totals.
        #expect(screen.contains("report: " + Format.bytes(t.bytesCompressed)), "\(screen)")

        // Back on stft_conv, the histogram shades the cut of the group it is now in (numpy: 0.130426).
        press(session, terminal, Array(repeating: .up, count: 7))
        screen = terminal.lastLines.joined(separator: "\n")
        #expect(screen.contains("pruned |w| < " + Format.value(0.130426)), "\(screen)")
    }
}
