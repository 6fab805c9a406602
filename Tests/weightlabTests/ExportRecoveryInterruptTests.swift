import Foundation
import Testing
import TestSupport
import WeightFormats

/// `weightlab export-recovery` interrupted mid-write: the output directory is never half-written. SIGINT
/// and SIGTERM leave no directory and no staging; SIGKILL leaves only the staging directory, which the next
/// write clears; an existing directory being replaced with --force is still whole afterwards.
@Suite(.serialized)
struct ExportRecoveryInterruptTests {
    /// Starts the export of `ApplyInterruptTests.bigModel`, waits until its staging directory holds the weights'
    /// temporary file, sends `signal`.
    func interrupt(with signal: Int32, dir: TemporaryDirectory, extra: [String] = []) throws -> (process: Process, out: String) {
        let (model, plan) = try ApplyInterruptTests.bigModel(in: dir)
        let out = dir.path + "/export"
        let p = try InterruptedCommand.run(["export-recovery", model, "--plan", plan, "-o", out] + extra, signal: signal) {
            AtomicFile.temporaryPath(for: AtomicFile.temporaryPath(for: out, pid: $0) + "/weights.safetensors", pid: $0)
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

    @Test func killLeavesNoDirectoryAndTheNextWriteClearsTheStaging() throws {
        let dir = try TemporaryDirectory()
        let (p, out) = try interrupt(with: SIGKILL, dir: dir)
        #expect(InterruptedCommand.endedBy(SIGKILL, p))
        #expect(!FileManager.default.fileExists(atPath: out))
        #expect(try dir.atomicLeftovers().count == 1)
        #expect(AtomicFile.removeStaleTemporaries(for: out).count == 1)
        #expect(try dir.atomicLeftovers().isEmpty)
    }

    @Test func interruptWhileReplacingKeepsTheOldDirectoryWhole() throws {
        let dir = try TemporaryDirectory()
        try dir.write("export/old.txt", text: "old")
        let (_, out) = try interrupt(with: SIGTERM, dir: dir, extra: ["--force"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: out) == ["old.txt"])
        #expect(try dir.atomicLeftovers().isEmpty)
    }
}
