import Compression
import Foundation
import Runtime
import Testing
import TestSupport
import WeightFormats
import Workbench

/// The workbench on a PyTorch checkpoint, as on safetensors: it opens, lists the layers (the pruned pair as
/// one masked weight) and computes their numbers.
@Suite struct TorchWorkbenchTests {
    @Test func aCheckpointOpensInTheWorkbench() throws {
        let model = try ModelFile.open(Fixtures.path("torch/synthetic.pth"))
        let terminal = FakeTerminal(width: 120, height: 40)
        terminal.send(.key(.down))
        terminal.type("q")
        let session = WorkbenchSession(model: model, settings: Array(repeating: .identity, count: model.tensors.count),
                                       planPath: nil, theme: Theme.dark, terminal: terminal,
                                       scheduler: ImmediateScheduler(), trace: nil)
        session.loop()
        #expect(session.state.isQuitting)
        let screen = terminal.lastLines.joined(separator: "\n")
        #expect(screen.contains("synthetic.pth"))
        #expect(screen.contains("conv.weight"))
        #expect(screen.contains("fc.weight"))
        #expect(!screen.contains("fc.weight_orig"))
    }
}
