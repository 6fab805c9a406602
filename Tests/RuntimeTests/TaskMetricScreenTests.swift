import Compression
import Foundation
import Runtime
import Testing
import TestSupport
import WeightFormats
import Workbench

/// The task-metric key run through the runtime (fake terminal, synchronous scheduler) on the bundled model
/// with the committed stand-in evaluation script: `E` writes the settings on screen to a temporary file,
/// the script reads it and prints its number, the file is gone afterwards, and the status line shows the
/// metric next to the totals; a failing command shows its stderr's tail in the message line.
struct TaskMetricScreenTests {
    let example = Fixtures.repositoryRoot + "/Examples/silero-vad/silero_vad_16k.safetensors"
    let script = TaskMetric.shellQuoted(Fixtures.path("taskmetric/fake_eval.sh"))

    func session(eval: String) throws -> (WorkbenchSession, FakeTerminal) {
        let model = try ModelFile.open(example)
        let settings = try Plan.load(path: Fixtures.repositoryRoot + "/Examples/plans/int4-group128.json").resolve(for: model.tensors)
        let terminal = FakeTerminal(width: 140, height: 40)
        let session = WorkbenchSession(model: model, settings: settings, planPath: nil, theme: Theme.dark,
                                       terminal: terminal, scheduler: ImmediateScheduler(),
                                       taskMetric: try TaskMetric(command: eval), trace: nil)
        session.settle()
        return (session, terminal)
    }

    func press(_ session: WorkbenchSession, _ terminal: FakeTerminal, _ key: Key) {
        terminal.send(.key(key))
        session.step()
        session.settle()
    }

    @Test func measuresTheSettingsOnScreenOnATemporaryFile() throws {
        let dir = try TemporaryDirectory()
        let seen = dir.path + "/seen"
        // The script checks the file exists and prints 0.8125 last; the path it got is kept to check later.
        let (session, terminal) = try session(eval: "sh \(script) number {} && printf %s {} > \(TaskMetric.shellQuoted(seen))")
        press(session, terminal, .character("E"))
        let screen = terminal.lastLines.joined(separator: "\n")
        #expect(terminal.lastLines.suffix(1).contains { $0.contains("task 0.8125") && $0.contains("unsaved #1") }, "\(terminal.lastLines.suffix(2))")
        #expect(terminal.lastLines.suffix(2).first?.contains("task 0.8125") == true, "status line: \(screen.suffix(300))")
        #expect(session.state.measuredPlans.map(\.metric) == [0.8125])
        #expect(session.state.measuredPlans.first?.bytes == session.state.totals.totals.bytesCompressed)
        let written = try String(contentsOfFile: seen, encoding: .utf8)
        #expect(written.hasSuffix("/silero_vad_16k-weightlab.safetensors"), "\(written)")
        #expect(!FileManager.default.fileExists(atPath: written), "the temporary model is deleted")
        #expect(!FileManager.default.fileExists(atPath: (written as NSString).deletingLastPathComponent))
    }

    @Test func aFailingCommandShowsTheTailOfItsStderr() throws {
        let (session, terminal) = try session(eval: "sh \(script) fail {}")
        press(session, terminal, .character("E"))
        let hint = terminal.lastLines.last ?? ""
        #expect(hint.contains("stderr line 30") && hint.contains("exit code 3"), "\(hint)")
        #expect(session.state.message?.isError == true)
        #expect(session.state.measuredPlans.isEmpty && session.state.progress == nil)
    }
}
