import Foundation
import Testing
import TestSupport

/// Issue 12's command-line findings, each checked on the real binary.
@Suite struct DailyUseCommandTests {
    let example = Fixtures.repositoryRoot + "/Examples/silero-vad/silero_vad_16k.safetensors"
    let plans = Fixtures.repositoryRoot + "/Examples/plans/"

    /// A float32 `.npy` file of `values` (version 1.0 header, padded to 64 bytes as numpy writes it).
    static func npy(_ values: [Float]) -> [UInt8] {
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(values.count),), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)]
        out += Array(header.utf8)
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { out += $0 } }
        return out
    }

    /// Item 2: a rule that matches nothing warns on stderr and the report still runs; `--strict` refuses.
    @Test func unmatchedRuleIsAWarning() throws {
        let dir = try TemporaryDirectory()
        let p = try dir.write("travel.json", text: #"{"version": 1, "default": {"quantize": {"format": "int", "bits": 8}}, "rules": [{"match": "norm", "quantize": {"format": "none"}}]}"#)
        let r = try CommandRunner.run(["report", example, "--plan", p])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("weightlab: warning: \(p): rules[0].match: \"norm\" matches no tensor"), "\(r.stderr)")
        #expect(r.stdout.contains("total (15 tensors)"))
        let strict = try CommandRunner.run(["report", example, "--plan", p, "--strict"])
        #expect(strict.status == 2)
    }

    /// Item 3: every layer a shape does not fit is named in the one error line.
    @Test func everyShapeErrorAtOnce() throws {
        let dir = try TemporaryDirectory()
        let p = try dir.write("nm.json", text: #"{"version": 1, "default": {"prune": {"method": "nm", "n": 2, "m": 4}}}"#)
        let r = try CommandRunner.run(["report", example, "--plan", p])
        #expect(r.status == 2)
        #expect(r.stderr.split(separator: "\n").count == 1)
        for name in ["conv1.weight", "conv2.weight", "conv3.weight", "conv4.weight", "final_conv.weight"] {
            #expect(r.stderr.contains("'\(name)'"), "\(name): \(r.stderr)")
        }
    }

    /// Items 4 and 21: the default table fits 100 columns, has MSE, and names what the default skipped;
    /// `--columns` chooses; CSV has the settings column.
    @Test func reportTableFitsAndNamesSkippedLayers() throws {
        let r = try CommandRunner.run(["report", example, "--plan", plans + "int4-group128.json"])
        #expect(r.status == 0)
        let widest = r.stdout.split(separator: "\n").filter { !$0.hasPrefix("note:") }.map { $0.count }.max() ?? 0
        #expect(widest <= 100, "\(widest) columns:\n\(r.stdout)")
        #expect(r.stdout.contains("MSE"))
        // The plan's `norm|bias$` rule covers conv*.bias; lstm_cell.bias_ih does not end in "bias".
        #expect(r.stdout.contains("note: default skipped lstm_cell.bias_ih, lstm_cell.bias_hh (2 tensors)"), "\(r.stdout)")
        let chosen = try CommandRunner.run(["report", example, "--plan", plans + "int4-group128.json", "--columns", "name,cosine"])
        #expect(chosen.stdout.split(separator: "\n")[1].split(separator: " ", omittingEmptySubsequences: true) == ["name", "cosine"])
        let bad = try CommandRunner.run(["report", example, "--plan", plans + "int4-group128.json", "--columns", "name,colour"])
        #expect(bad.status != 0 && bad.stderr.contains("colour"))
        let csv = try CommandRunner.run(["report", example, "--plan", plans + "int4-group128.json", "--format", "csv"])
        #expect(csv.stdout.split(separator: "\n").first?.hasSuffix(",encoding,settings") == true)
        #expect(csv.stdout.contains(",int4 g128"), "\(csv.stdout)")
    }

    /// Item 22: JSON says why `sqnr_db` is null; inspect's total has the statistics; an all-NaN tensor's
    /// mean, std and absmax are undefined, not 0.
    @Test func jsonSaysWhatNullMeans() throws {
        let r = try CommandRunner.run(["report", example, "--plan", plans + "q4_0.json", "--format", "json"])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let layers = try #require(json["layers"] as? [[String: Any]])
        let conv1 = try #require(layers.first { $0["name"] as? String == "conv1.weight" })
        #expect(conv1["sqnr_db"] is NSNull)
        #expect(conv1["sqnr_note"] as? String == "exact")
        let lstm = try #require(layers.first { $0["name"] as? String == "lstm_cell.weight_ih" })
        #expect(lstm["sqnr_note"] == nil)

        let dir = try TemporaryDirectory()
        let nan = try dir.write("nan.npy", Self.npy([.nan, .nan, .nan]))
        let inspect = try CommandRunner.run(["inspect", nan, "--json"])
        #expect(inspect.status == 0, "\(inspect.stderr)")
        let ij = try #require(try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [String: Any])
        let tensor = try #require((ij["tensors"] as? [[String: Any]])?.first)
        #expect(tensor["mean"] is NSNull && tensor["std"] is NSNull && tensor["absmax"] is NSNull)
        #expect(tensor["nan"] as? Int == 3)
        let total = try #require(ij["total"] as? [String: Any])
        #expect(total["nan"] as? Int == 3 && total["mean"] is NSNull)
        let table = try CommandRunner.run(["inspect", nan])
        #expect(table.stdout.contains("total (1 tensor)"), "\(table.stdout)")

        let finite = try CommandRunner.run(["inspect", example, "--json"])
        let fj = try #require(try JSONSerialization.jsonObject(with: Data(finite.stdout.utf8)) as? [String: Any])
        let ft = try #require(fj["total"] as? [String: Any])
        #expect(ft["absmax"] as? Double != nil && ft["std"] as? Double != nil)
    }

    /// Item 23: a text file named .safetensors is called what it is; a directory opens without its bad file
    /// and names it.
    @Test func notASafetensorsFileAndBadFilesInADirectory() throws {
        let dir = try TemporaryDirectory()
        let text = try dir.write("notes.safetensors", text: "hello, this is a text file and not a model at all\n")
        let r = try CommandRunner.run(["inspect", text])
        #expect(r.status == 2)
        #expect(r.stderr.hasPrefix("weightlab: \(text): is not a safetensors file"), "\(r.stderr)")

        let model = try TemporaryDirectory()
        _ = try model.write("a.npy", Self.npy([1, 2, 3]))
        let bad = try model.write("b.safetensors", text: "not a model\n")
        let listed = try CommandRunner.run(["inspect", model.path, "--no-stats"])
        #expect(listed.status == 0, "\(listed.stderr)")
        #expect(listed.stderr.contains("weightlab: skipped \(bad): is not a safetensors file"), "\(listed.stderr)")
        #expect(listed.stdout.contains("total (1 tensor)"))
    }

    /// Item 20: the help shows the everyday form; `--version`; bench's own usage for its own errors.
    @Test func helpVersionAndBenchUsage() throws {
        let help = try CommandRunner.run(["--help"])
        #expect(help.stdout.contains("weightlab [MODEL] [--plan PLAN]"), "\(help.stdout)")
        let version = try CommandRunner.run(["--version"])
        #expect(version.status == 0 && version.stdout.hasPrefix("weightlab "))
        let bench = try CommandRunner.run(["bench", "--size", "1000"])
        #expect(bench.status != 0)
        #expect(bench.stderr.contains("--size must be at least 4096"))
        #expect(bench.stderr.contains("weightlab bench"), "\(bench.stderr)")
    }
}
