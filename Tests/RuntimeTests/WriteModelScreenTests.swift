import Foundation
import Runtime
import Testing
import TestSupport
import WeightFormats
import Compression
import Workbench

/// The write-model key run through the runtime (fake terminal, synchronous scheduler) on the bundled model:
/// `W`, a path typed in the hint row, Enter; the job writes and verifies the file, the hint row shows the
/// result, and the file holds the reconstruction (`report`'s numbers for the settings on screen).
struct WriteModelScreenTests {
    let example = Fixtures.repositoryRoot + "/Examples/silero-vad/silero_vad_16k.safetensors"

    @Test func writesTheSettingsOnScreenAndReportsTheVerification() throws {
        let dir = try TemporaryDirectory()
        let model = try ModelFile.open(example)
        let settings = try Plan.load(path: Fixtures.repositoryRoot + "/Examples/plans/int4-group128.json").resolve(for: model.tensors)
        let terminal = FakeTerminal(width: 140, height: 40)
        let session = WorkbenchSession(model: model, settings: settings, planPath: dir.path + "/plan.json", theme: Theme.dark,
                                       terminal: terminal, scheduler: ImmediateScheduler(), trace: nil)
        session.settle()
        func press(_ keys: [Key]) {
            for k in keys {
                terminal.send(.key(k))
                session.step()
                session.settle()
            }
        }
        press([.character("W")])
        let expected = dir.path + "/silero_vad_16k-weightlab.safetensors"
        #expect(terminal.lastLines.contains { $0.contains("write model to: ") && $0.contains("/silero_vad_16k-weightlab.safetensors") && $0.contains("as safetensors") && $0.contains("Esc cancel") },
                "\(terminal.lastLines.suffix(2))")
        press([.enter])
        let screen = terminal.lastLines.joined(separator: "\n")
        #expect(screen.contains("wrote " + expected) && screen.contains("verified:"), "\(terminal.lastLines.suffix(2))")
        let written = try ModelFile.open(expected)
        #expect(written.tensors.map(\.name) == model.tensors.map(\.name))
        #expect(written.metadata.contains { $0.key == "weightlab.plan" })

        // Writing again to the same path is refused (no --force in the workbench), and the screen says so.
        press([.character("W"), .enter])
        #expect(terminal.lastLines.contains { $0.contains("already exists") }, "\(terminal.lastLines.suffix(2))")
    }
}
