import Foundation
import Testing
import TestSupport
@testable import WeightFormats

/// `AtomicFile.writeDirectory`: the output directory appears whole or not at all, an existing one is replaced
/// whole (only when asked) and kept as it was when the write fails, and a directory holding an input is never
/// replaced.
@Suite("AtomicFile directories")
struct AtomicDirectoryTests {
    let dir: TemporaryDirectory
    init() throws { dir = try TemporaryDirectory() }

    struct BodyFailed: Error {}

    func entries(_ path: String) throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: path).sorted() }

    @Test func writesEveryFileThenMovesTheDirectoryIn() throws {
        let out = dir.path + "/export"
        try AtomicFile.writeDirectory(output: out, names: ["a.txt", "b.txt"], overwrite: false, inputs: []) { staged in
            #expect(!FileManager.default.fileExists(atPath: out), "the output appeared before it was complete")
            try AtomicFile.write("A", to: staged("a.txt"), overwrite: true)
            try AtomicFile.write("B", to: staged("b.txt"), overwrite: true)
        }
        #expect(try entries(out) == ["a.txt", "b.txt"])
        #expect(try entries(dir.path) == ["export"])
    }

    @Test func aFailingBodyOrAMissingFileLeavesNothing() throws {
        let out = dir.path + "/export"
        #expect(throws: BodyFailed.self) {
            try AtomicFile.writeDirectory(output: out, names: ["a.txt"], overwrite: false, inputs: []) { staged in
                try AtomicFile.write("A", to: staged("a.txt"), overwrite: true)
                throw BodyFailed()
            }
        }
        #expect(throws: ModelError.self) {
            try AtomicFile.writeDirectory(output: out, names: ["a.txt", "b.txt"], overwrite: false, inputs: []) { staged in
                try AtomicFile.write("A", to: staged("a.txt"), overwrite: true)
            }
        }
        #expect(try entries(dir.path).isEmpty)
    }

    @Test func anExistingDirectoryIsReplacedWholeOnlyWhenAskedAndKeptOnFailure() throws {
        let out = dir.path + "/export"
        try dir.write("export/old.txt", text: "old")
        #expect(throws: ModelError(out, "already exists; use --force to replace it")) {
            try AtomicFile.writeDirectory(output: out, names: ["a.txt"], overwrite: false, inputs: []) { _ in }
        }
        #expect(throws: BodyFailed.self) {
            try AtomicFile.writeDirectory(output: out, names: ["a.txt"], overwrite: true, inputs: []) { _ in throw BodyFailed() }
        }
        #expect(try entries(out) == ["old.txt"])
        try AtomicFile.writeDirectory(output: out, names: ["a.txt"], overwrite: true, inputs: []) { staged in
            try AtomicFile.write("A", to: staged("a.txt"), overwrite: true)
        }
        #expect(try entries(out) == ["a.txt"])
        #expect(try entries(dir.path) == ["export"])
    }

    @Test func refusesAFileAndADirectoryHoldingAnInput() throws {
        let file = try dir.write("file", text: "x")
        #expect(throws: ModelError(file, "exists and is not a directory")) {
            try AtomicFile.writeDirectory(output: file, names: [], overwrite: true, inputs: []) { _ in }
        }
        let input = try dir.write("export/sub/model.safetensors", text: "weights")
        let out = dir.path + "/export"
        // Another spelling of the same directory is caught too.
        for spelling in [out, dir.path + "/./export/", dir.path + "/export/sub/.."] {
            #expect(throws: ModelError.self) {
                try AtomicFile.writeDirectory(output: spelling, names: [], overwrite: true, inputs: [input]) { _ in }
            }
        }
        #expect(FileManager.default.fileExists(atPath: input))
    }

    @Test func staleStagingOfADeadProcessIsRemoved() throws {
        let out = dir.path + "/export"
        let done = Process()
        done.executableURL = URL(fileURLWithPath: "/bin/true")
        try done.run()
        done.waitUntilExit()
        let stale = AtomicFile.temporaryPath(for: out, pid: done.processIdentifier)
        let staleAside = AtomicFile.temporaryPath(for: out + ".old", pid: done.processIdentifier)
        try dir.write((stale as NSString).lastPathComponent + "/weights.safetensors", text: "partial")
        try dir.write((staleAside as NSString).lastPathComponent + "/weights.safetensors", text: "old")
        try AtomicFile.writeDirectory(output: out, names: ["a.txt"], overwrite: false, inputs: []) { staged in
            try AtomicFile.write("A", to: staged("a.txt"), overwrite: true)
        }
        #expect(try entries(dir.path) == ["export"])
    }
}
