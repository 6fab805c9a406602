import Foundation
import Testing
import TestSupport

/// `weightlab inspect` and the bare `weightlab`, run as a user runs them.
struct InspectCommandTests {
    let example = Fixtures.repositoryRoot + "/Examples/silero-vad/silero_vad_16k.safetensors"

    func inspectJSON(_ args: [String]) throws -> [String: Any] {
        let r = try CommandRunner.run(["inspect", "--json"] + args)
        #expect(r.status == 0, "stderr: \(r.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
    }

    @Test func jsonOfTheExampleMatchesNumpy() throws {
        let json = try inspectJSON([example])
        #expect(json["file"] as? String == example)
        #expect(json["format"] as? String == "safetensors")
        #expect(json["metadata"] is [String: Any])
        let tensors = try #require(json["tensors"] as? [[String: Any]])
        let reference = try #require(try Fixtures.json("statistics/example_inspect.json") as? [String: [String: Any]])
        #expect(tensors.count == 15)
        #expect(Set(tensors.compactMap { $0["name"] as? String }) == Set(reference.keys))
        for t in tensors {
            let name = try #require(t["name"] as? String)
            let ref = try #require(reference[name])
            #expect(t["dtype"] as? String == "F32")
            let shape = try #require(t["shape"] as? [Int])
            #expect(shape == ref["shape"] as? [Int])
            let n = shape.reduce(1, *)
            #expect(t["parameters"] as? Int == n)
            #expect(t["bytes"] as? Int == 4 * n)
            for key in ["min", "max", "mean", "std"] {
                let ours = try #require(t[key] as? Double, "\(name).\(key)")
                let theirs = try #require(ref[key] as? Double)
                #expect(abs(ours - theirs) <= 1e-6 * max(abs(theirs), 1e-12), "\(name).\(key): \(ours) vs numpy \(theirs)")
            }
        }
    }

    @Test func noStatsOmitsStatistics() throws {
        let json = try inspectJSON(["--no-stats", example])
        let tensors = try #require(json["tensors"] as? [[String: Any]])
        #expect(tensors.count == 15)
        #expect(tensors.allSatisfy { $0["min"] == nil && $0["parameters"] != nil })
    }

    @Test func tableListsEveryTensorAndTotal() throws {
        let r = try CommandRunner.run(["inspect", example])
        #expect(r.status == 0)
        let reference = try #require(try Fixtures.json("statistics/example_inspect.json") as? [String: Any])
        for name in reference.keys { #expect(r.stdout.contains(name)) }
        #expect(r.stdout.contains("total (15 tensors)"))
    }

    /// A bare `weightlab` opens the workbench on the example; with output to a pipe it refuses cleanly.
    @Test func bareCommandNeedsATerminal() throws {
        let r = try CommandRunner.run([], currentDirectory: Fixtures.repositoryRoot)
        #expect(r.status == 2)
        #expect(r.stderr.hasPrefix("weightlab: not a terminal"), "stderr: \(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 1)
    }

    @Test func escapesControlCharactersInNames() throws {
        let dir = try TemporaryDirectory()
        // A tensor named "a<ESC>[31mb<RLO>c": it must reach the terminal escaped.
        let header = #"{"a\u001b[31mb\u202ec":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#
        var w = ByteWriter()
        w.u64(UInt64(header.utf8.count))
        w.text(header)
        w.f32(1.5)
        let path = try dir.write("evil.safetensors", w.bytes)
        for args in [["inspect", path], ["inspect", "--json", path]] {
            let r = try CommandRunner.run(args)
            #expect(r.status == 0, "stderr: \(r.stderr)")
            #expect(!r.stdout.unicodeScalars.contains("\u{1b}"))
            #expect(!r.stdout.unicodeScalars.contains("\u{202e}"))
        }
    }
}

/// Bad input: one line `weightlab: <path>: <what is wrong>` on stderr and exit code 2.
struct CommandLineErrorTests {
    func expectFailure(_ args: [String], path: String, saying phrase: String) throws {
        let r = try CommandRunner.run(args)
        #expect(r.status == 2)
        let lines = r.stderr.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.isEmpty }
        #expect(lines.count == 1, "stderr: \(r.stderr)")
        #expect(r.stderr.hasPrefix("weightlab: \(path): "), "stderr: \(r.stderr)")
        #expect(r.stderr.contains(phrase), "stderr: \(r.stderr)")
        #expect(r.stdout.isEmpty)
    }

    @Test func missingFile() throws {
        try expectFailure(["inspect", "/nonexistent/model.safetensors"], path: "/nonexistent/model.safetensors",
                          saying: "no such file")
    }

    @Test func emptyFile() throws {
        let dir = try TemporaryDirectory()
        let p = try dir.write("empty.safetensors", [])
        try expectFailure(["inspect", p], path: p, saying: "empty")
    }

    @Test func unreadableFile() throws {
        // root reads any file, so make it unreadable by making it a FIFO-free special case: a dangling symlink.
        let dir = try TemporaryDirectory()
        let p = dir.path + "/dangling.gguf"
        try FileManager.default.createSymbolicLink(atPath: p, withDestinationPath: dir.path + "/nowhere")
        try expectFailure(["inspect", p], path: p, saying: "no such file")
    }

    @Test func directoryWithoutModels() throws {
        let dir = try TemporaryDirectory()
        try dir.write("notes.txt", text: "hello")
        try expectFailure(["inspect", dir.path], path: dir.path, saying: "no model file")
    }

    @Test func unknownFormat() throws {
        let dir = try TemporaryDirectory()
        let p = try dir.write("weights.bin", text: "this is not a model file at all")
        try expectFailure(["inspect", p], path: p, saying: "unknown format")
    }

    @Test func bareCommandWithBadModel() throws {
        let dir = try TemporaryDirectory()
        let p = try dir.write("weights.bin", text: "nope")
        try expectFailure([p], path: p, saying: "unknown format")
    }
}
