import Foundation
import Testing
import TestSupport
@testable import WeightFormats
#if canImport(Glibc)
import Glibc
#endif

/// AtomicFile: a reader of the target sees the old file or the whole new one, never part of one; the
/// writing rules (no overwrite without asking, never over an input) hold; leftovers of killed writers go.
@Suite("AtomicFile")
struct AtomicFileTests {
    let dir: TemporaryDirectory

    init() throws { dir = try TemporaryDirectory() }

    func read(_ path: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: path))) }

    /// Files in the directory other than `keep`: temporary files left behind would show here.
    func leftovers(except keep: Set<String>) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { !keep.contains($0) }.sorted()
    }

    struct BodyFailed: Error, Equatable {}

    @Test func writesTheWholeStreamAndLeavesNoTemporaryFile() throws {
        let target = dir.path + "/out.bin"
        var expected: [UInt8] = []
        try AtomicFile.write(to: target) { sink in
            for k in 0..<40 {       // pieces of many sizes, several larger than the buffer
                let piece = [UInt8](repeating: UInt8(k), count: k % 3 == 0 ? FileSink.bufferSize + k : k * 1000)
                try sink.write(piece)
                expected += piece
                #expect(sink.count == UInt64(expected.count))
            }
        }
        #expect(try read(target) == expected)
        #expect(try leftovers(except: ["out.bin"]) == [])
    }

    /// An output of several writeback and sync steps (`WriteBehind`), in chunks of many sizes handed to the
    /// writer thread (arrays, buffered small writes, large raw buffers), holds every byte in order.
    @Test func aLargeOutputThroughTheWriterThreadKeepsEveryByteInOrder() throws {
        let target = dir.path + "/large.bin"
        let total = Int(WriteBehind.syncStep) * 2 + Int(WriteBehind.writebackStep) + 12_345
        var written = 0, k = 0
        try AtomicFile.write(to: target) { sink in
            while written < total {
                let size = min(total - written, [FileSink.bufferSize + 17, 300_000, 5, FileSink.bufferSize * 3, 70_000][k % 5])
                let chunk = (0..<size).map { UInt8(truncatingIfNeeded: (written + $0) &* 2_654_435_761 >> 13) }
                if k % 3 == 0 {
                    try chunk.withUnsafeBytes { try sink.write($0) }
                } else {
                    try sink.write(chunk)
                }
                written += size
                k += 1
                #expect(sink.count == UInt64(written))
            }
        }
        let back = try read(target)
        #expect(back.count == total)
        #expect(back.indices.allSatisfy { back[$0] == UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) })
        #expect(try leftovers(except: ["large.bin"]) == [])
    }

    @Test func textAndBytesConveniences() throws {
        let target = dir.path + "/plan.json"
        try AtomicFile.write("{\"version\":1}\n", to: target)
        #expect(String(decoding: try read(target), as: UTF8.self) == "{\"version\":1}\n")
        try AtomicFile.write([1, 2, 3], to: target, overwrite: true)
        #expect(try read(target) == [1, 2, 3])
    }

    @Test func refusesAnExistingTargetUnlessAskedAndKeepsItsMode() throws {
        let target = try dir.write("keep.txt", text: "old")
        chmod(target, 0o600)
        #expect(throws: ModelError(target, "already exists; refusing to replace it")) {
            try AtomicFile.write("new", to: target)
        }
        #expect(try read(target) == Array("old".utf8))
        try AtomicFile.write("new", to: target, overwrite: true)
        #expect(try read(target) == Array("new".utf8))
        var st = stat()
        #expect(stat(target, &st) == 0 && st.st_mode & 0o777 == 0o600)
        #expect(try leftovers(except: ["keep.txt"]) == [])
    }

    @Test func refusesToWriteOverAnInputUnderAnySpelling() throws {
        let model = try dir.write("model.safetensors", text: "weights")
        let other = dir.path + "/./model.safetensors"
        let link = dir.path + "/link.safetensors"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: model)
        for target in [model, other, link] {
            #expect(throws: ModelError(target, "is an input of this command; refusing to write over it")) {
                try AtomicFile.write("x", to: target, overwrite: true, inputs: [model])
            }
        }
        #expect(try read(model) == Array("weights".utf8))
        // A different file is fine even when inputs are given.
        try AtomicFile.write("x", to: dir.path + "/out.safetensors", inputs: [model])
    }

    @Test func aFailingBodyLeavesTheTargetAndNoTemporaryFile() throws {
        let target = try dir.write("t.bin", text: "old content")
        #expect(throws: BodyFailed()) {
            try AtomicFile.write(to: target, overwrite: true) { sink in
                try sink.write([UInt8](repeating: 7, count: 3 * FileSink.bufferSize))   // reaches the disk
                throw BodyFailed()
            }
        }
        #expect(try read(target) == Array("old content".utf8))
        #expect(try leftovers(except: ["t.bin"]) == [])

        let fresh = dir.path + "/fresh.bin"
        #expect(throws: BodyFailed()) {
            try AtomicFile.write(to: fresh) { sink in try sink.write([1]); throw BodyFailed() }
        }
        #expect(!FileManager.default.fileExists(atPath: fresh))
        #expect(try leftovers(except: ["t.bin"]) == [])
    }

    @Test func badTargetsAreOneClearError() throws {
        let missing = dir.path + "/no/such/dir/out.bin"
        #expect(throws: ModelError(missing, "directory '\(dir.path)/no/such/dir' does not exist")) {
            try AtomicFile.write("x", to: missing)
        }
        #expect(throws: ModelError(dir.path, "is a directory")) {
            try AtomicFile.write("x", to: dir.path, overwrite: true)
        }
    }

    @Test func aSecondWriteOfTheSameTargetInThisProcessIsRefused() throws {
        let target = dir.path + "/busy.bin"
        try AtomicFile.write(to: target) { _ in
            #expect(throws: ModelError(target, "is already being written by this process")) {
                try AtomicFile.write("inner", to: target, overwrite: true)
            }
            // The sweep must not take this write's temporary file for a stale one.
            #expect(AtomicFile.removeStaleTemporaries(for: target) == [])
            #expect(FileManager.default.fileExists(atPath: AtomicFile.temporaryPath(for: target)))
        }
        #expect(try read(target) == [])
    }

    @Test func staleTemporariesOfDeadProcessesAreRemovedOthersKept() throws {
        let target = dir.path + "/model.gguf"
        // A process that has exited: its pid names no running process.
        let done = Process()
        done.executableURL = URL(fileURLWithPath: "/bin/true")
        try done.run()
        done.waitUntilExit()
        let dead = AtomicFile.temporaryPath(for: target, pid: done.processIdentifier)
        let alive = AtomicFile.temporaryPath(for: target, pid: getppid())
        let unrelated = dir.path + "/.other.gguf.weightlab-tmp-\(done.processIdentifier)"
        for p in [dead, alive, unrelated] { _ = try dir.write((p as NSString).lastPathComponent, text: "partial") }
        #expect(AtomicFile.removeStaleTemporaries(for: target) == [dead])
        #expect(!FileManager.default.fileExists(atPath: dead))
        #expect(FileManager.default.fileExists(atPath: alive))
        #expect(FileManager.default.fileExists(atPath: unrelated))
        #expect((dead as NSString).lastPathComponent == ".model.gguf.weightlab-tmp-\(done.processIdentifier)")
    }

    // MARK: - A writer killed mid-write

    /// The probe executable (Sources/AtomicProbe), built beside the test bundle like `weightlab`.
    static var probe: String {
        (CommandRunner.executable as NSString).deletingLastPathComponent + "/weightlab-atomic-probe"
    }

    /// Starts the probe writing `target` slowly, waits until its first chunk is in the temporary file, kills
    /// it with SIGKILL and returns the temporary file it left.
    func killProbeMidWrite(_ target: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.probe)
        p.arguments = [target, "400", "50"]      // 25 MiB over 20 s: far longer than the test waits
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        var seen = ""
        while !seen.contains("started\n") {
            let data = out.fileHandleForReading.availableData
            if data.isEmpty { break }      // the probe exited without starting
            seen += String(decoding: data, as: UTF8.self)
        }
        #expect(seen == "started\n", "probe output: \(seen)")
        let temporary = AtomicFile.temporaryPath(for: target, pid: p.processIdentifier)
        #expect(p.isRunning)
        let partial = (try? FileManager.default.attributesOfItem(atPath: temporary)[.size] as? Int) ?? nil
        #expect((partial ?? 0) >= 64 << 10, "the temporary file holds the first chunk")
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        #expect(p.terminationReason == .uncaughtSignal && p.terminationStatus == SIGKILL)
        return temporary
    }

    @Test func sigkillMidWriteLeavesTheOldTargetAndACleanableTemporaryFile() throws {
        let target = try dir.write("plan.json", text: "{\"old\":true}\n")
        let temporary = try killProbeMidWrite(target)
        #expect(try read(target) == Array("{\"old\":true}\n".utf8))
        #expect(FileManager.default.fileExists(atPath: temporary), "SIGKILL runs no cleanup")
        #expect(AtomicFile.removeStaleTemporaries(for: target) == [temporary])
        #expect(try leftovers(except: ["plan.json"]) == [])
    }

    @Test func sigkillMidWriteOfANewFileLeavesNoTarget() throws {
        let target = dir.path + "/new.safetensors"
        let temporary = try killProbeMidWrite(target)
        #expect(!FileManager.default.fileExists(atPath: target))
        // The next write to the target sweeps the leftover itself.
        try AtomicFile.write("done", to: target)
        #expect(!FileManager.default.fileExists(atPath: temporary))
        #expect(try leftovers(except: ["new.safetensors"]) == [])
    }

    @Test func theProbeFinishesWhenNotKilled() throws {
        let target = dir.path + "/whole.bin"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.probe)
        p.arguments = [target, "3", "0"]
        p.standardOutput = Pipe()
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        #expect(try read(target) == [UInt8](repeating: 0xAB, count: 3 * (64 << 10)))
    }
}
