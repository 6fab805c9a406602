import Foundation
import Testing
import TestSupport
import WeightFormats

/// `weightlab export-recovery` interrupted mid-write: the output directory is never half-written. SIGINT
/// and SIGTERM leave no directory and no staging; SIGKILL leaves only the staging directory, which the next
/// write clears; an existing directory being replaced with --force is still whole afterwards.
@Suite(.serialized)
struct ExportRecoveryInterruptTests {
    /// Starts the export of `ApplyInterruptTests.bigModel`, waits until its staging directory exists, sends `signal`.
    func interrupt(with signal: Int32, dir: TemporaryDirectory, extra: [String] = []) throws -> (process: Process, out: String) {
        let (model, plan) = try ApplyInterruptTests.bigModel(in: dir)
        let out = dir.path + "/export"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CommandRunner.executable)
        p.arguments = ["export-recovery", model, "--plan", plan, "-o", out] + extra
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        let staging = AtomicFile.temporaryPath(for: out, pid: p.processIdentifier)
        let weights = AtomicFile.temporaryPath(for: staging + "/weights.safetensors", pid: p.processIdentifier)
        let deadline = Date().addingTimeInterval(60)
        while !FileManager.default.fileExists(atPath: weights) && p.isRunning && Date() < deadline {
            usleep(1000)
        }
        #expect(FileManager.default.fileExists(atPath: weights), "the write never started")
        kill(p.processIdentifier, signal)
        p.waitUntilExit()
        return (p, out)
    }

    func leftovers(_ dir: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.contains(".weightlab-tmp-") }
    }

    @Test(arguments: [SIGINT, SIGTERM])
    func interruptLeavesNothing(signal: Int32) throws {
        let dir = try TemporaryDirectory()
        let (p, out) = try interrupt(with: signal, dir: dir)
        #expect(p.terminationReason == .uncaughtSignal && p.terminationStatus == signal,
                "ended by \(p.terminationReason == .exit ? "exit" : "signal") \(p.terminationStatus)")
        #expect(!FileManager.default.fileExists(atPath: out))
        #expect(try leftovers(dir.path).isEmpty)
    }

    @Test func killLeavesNoDirectoryAndTheNextWriteClearsTheStaging() throws {
        let dir = try TemporaryDirectory()
        let (p, out) = try interrupt(with: SIGKILL, dir: dir)
        #expect(p.terminationReason == .uncaughtSignal && p.terminationStatus == SIGKILL)
        #expect(!FileManager.default.fileExists(atPath: out))
        #expect(try leftovers(dir.path).count == 1)
        #expect(AtomicFile.removeStaleTemporaries(for: out).count == 1)
        #expect(try leftovers(dir.path).isEmpty)
    }

    @Test func interruptWhileReplacingKeepsTheOldDirectoryWhole() throws {
        let dir = try TemporaryDirectory()
        try dir.write("export/old.txt", text: "old")
        let (_, out) = try interrupt(with: SIGTERM, dir: dir, extra: ["--force"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: out) == ["old.txt"])
        #expect(try leftovers(dir.path).isEmpty)
    }
}
