import Foundation
import Testing
import TestSupport
import WeightFormats

/// `weightlab apply` interrupted mid-write: SIGINT and SIGTERM leave neither the output nor the temporary
/// file; SIGKILL leaves no output, and the temporary file it leaves is one the next write clears.
@Suite(.serialized)
struct ApplyInterruptTests {
    /// A model large enough that writing it takes a while: 4 × 1024 × 2048 F32 values (32 MiB).
    static func bigModel(in dir: TemporaryDirectory) throws -> (model: String, plan: String) {
        let model = dir.path + "/big.safetensors"
        let shape = [1024, 2048]
        let entries = (0..<4).map { SafetensorsWriter.TensorEntry(name: "layer\($0).weight", dtype: .float32, shape: shape) }
        var seed: UInt32 = 12345
        try SafetensorsWriter.write(to: model, tensors: entries) { _, sink in
            var row = [Float](repeating: 0, count: shape[1])
            for _ in 0..<shape[0] {
                for k in row.indices {
                    seed = seed &* 1_664_525 &+ 1_013_904_223
                    row[k] = Float(Int32(bitPattern: seed)) / Float(Int32.max)
                }
                try row.withUnsafeBytes { try sink.write($0) }
            }
        }
        let plan = try dir.write("plan.json", text: #"{"version": 1, "default": {"quantize": {"format": "int", "bits": 4, "granularity": {"group": 32}}}}"#)
        return (model, plan)
    }

    /// Starts apply, waits until its temporary file exists, sends `signal`, and returns how it ended.
    func interrupt(with signal: Int32, dir: TemporaryDirectory, extra: [String] = []) throws -> (process: Process, out: String) {
        let (model, plan) = try Self.bigModel(in: dir)
        let out = dir.path + "/out.safetensors"
        let p = try InterruptedCommand.run(["apply", model, "--plan", plan, "-o", out, "--quiet"] + extra, signal: signal) {
            AtomicFile.temporaryPath(for: out, pid: $0)
        }
        return (p, out)
    }

    @Test(arguments: [SIGINT, SIGTERM])
    func interruptLeavesNothing(signal: Int32) throws {
        let dir = try TemporaryDirectory()
        let (p, out) = try interrupt(with: signal, dir: dir)
        #expect(InterruptedCommand.endedBy(signal, p),
                "ended by \(p.terminationReason == .exit ? "exit" : "signal") \(p.terminationStatus)")
        #expect(!FileManager.default.fileExists(atPath: out))
        #expect(try dir.atomicLeftovers().isEmpty)
    }

    @Test func killLeavesNoOutputAndTheNextWriteClearsItsTemporary() throws {
        let dir = try TemporaryDirectory()
        let (p, out) = try interrupt(with: SIGKILL, dir: dir)
        #expect(InterruptedCommand.endedBy(SIGKILL, p))
        #expect(!FileManager.default.fileExists(atPath: out))
        let stale = try dir.atomicLeftovers()
        #expect(stale.count <= 1)
        // What the next write to `out` does first (AtomicFile.write): the dead process's file goes.
        #expect(AtomicFile.removeStaleTemporaries(for: out).count == stale.count)
        #expect(try dir.atomicLeftovers().isEmpty)
    }

    /// compressed-tensors writes two files: a SIGKILL mid-write leaves neither the checkpoint nor its
    /// config.json, only the staging directory, which the next write clears.
    @Test func killDuringACompressedTensorsWriteLeavesNoConfig() throws {
        let dir = try TemporaryDirectory()
        let (p, out) = try interrupt(with: SIGKILL, dir: dir, extra: ["--to", "compressed-tensors"])
        #expect(InterruptedCommand.endedBy(SIGKILL, p))
        #expect(!FileManager.default.fileExists(atPath: out))
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/config.json"))
        let stale = try dir.atomicLeftovers()
        #expect(stale.count == 1)
        #expect(AtomicFile.removeStaleTemporaries(for: out).count == 1)
        #expect(try dir.atomicLeftovers().isEmpty)
    }

    @Test(arguments: [SIGINT, SIGTERM])
    func interruptDuringACompressedTensorsWriteLeavesNothing(signal: Int32) throws {
        let dir = try TemporaryDirectory()
        let (p, out) = try interrupt(with: signal, dir: dir, extra: ["--to", "compressed-tensors"])
        #expect(InterruptedCommand.endedBy(signal, p))
        #expect(!FileManager.default.fileExists(atPath: out))
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/config.json"))
        #expect(try dir.atomicLeftovers().isEmpty)
    }

    /// A finished compressed-tensors write leaves the checkpoint and config.json and no staging directory.
    @Test func compressedTensorsWriteMovesBothFilesIn() throws {
        let dir = try TemporaryDirectory()
        let (model, plan) = try Self.bigModel(in: dir)
        let out = dir.path + "/out.safetensors"
        let r = try CommandRunner.run(["apply", model, "--plan", plan, "-o", out, "--to", "compressed-tensors", "--quiet", "--no-verify"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(FileManager.default.fileExists(atPath: out) && FileManager.default.fileExists(atPath: dir.path + "/config.json"))
        #expect(try dir.atomicLeftovers().isEmpty)
    }
}
