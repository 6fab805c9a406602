import Foundation
import Testing
import TestSupport
import WeightFormats
@testable import weightlab

/// `apply` with `"preset": X` writes the file llama-quantize writes for X, tensor for tensor: the same types
/// and the same bytes (sha256 of each tensor's data as recorded by Tests/Fixtures/make_preset_bytes.py from
/// llama-quantize's own output, llama.cpp of llama-cpp-python 0.3.36 built with GGML_NATIVE=OFF).
struct ApplyPresetBytesTests {
    static let model = Fixtures.path("preset_bytes/model.gguf")
    static let imatrix = Fixtures.path("preset_bytes/imatrix.gguf")
    static var runs: [[String: Any]] {
        ((try? Fixtures.json("preset_bytes/reference.json")) as? [String: Any])?["runs"] as? [[String: Any]] ?? []
    }

    @Test func referenceHasEveryRun() {
        let names = Self.runs.map { "\($0["preset"]!)\(($0["imatrix"] as? Bool) == true ? "+imatrix" : "")" }
        #expect(Set(names).isSuperset(of: ["Q4_K_M", "Q5_K_M", "Q6_K", "Q4_0", "Q8_0", "IQ4_XS", "Q3_K_M", "Q2_K", "Q4_K_M+imatrix"]))
    }

    @Test(arguments: 0..<11)
    func presetBytesEqualLlamaQuantizes(_ k: Int) throws {
        let runs = Self.runs
        try #require(k < runs.count)
        let run = runs[k]
        let preset = run["preset"] as! String, withImatrix = run["imatrix"] as! Bool
        let expected = run["tensors"] as! [String: [String: Any]]
        let dir = try TemporaryDirectory()
        let plan = try dir.write("p.json", text: #"{"version": 1, "preset": "\#(preset)"}"#)
        let out = dir.path + "/out.gguf"
        let r = try CommandRunner.run(["apply", Self.model, "--plan", plan, "-o", out, "--quiet"] + (withImatrix ? ["--imatrix", Self.imatrix] : []))
        #expect(r.status == 0, "\(preset): \(r.stderr)")
        let written = try ModelFile.open(out)
        #expect(written.tensors.count == expected.count)
        var differing: [String] = []
        for t in written.tensors {
            let e = try #require(expected[t.name], "\(t.name) is not in llama-quantize's output")
            let type = t.dtype.ggmlType?.name ?? t.dtype.description
            let sha = SHA256.hex(try t.data.bytes(at: 0, count: t.byteCount))
            if type.uppercased() != (e["type"] as! String).uppercased() || sha != e["sha256"] as! String {
                differing.append("\(t.name): ours \(type) vs \(e["type"]!)\(sha == e["sha256"] as! String ? "" : ", bytes differ")")
            }
        }
        #expect(differing.isEmpty, "\(preset)\(withImatrix ? " with imatrix" : ""): \(differing.joined(separator: "; "))")
    }

    /// For a preset, `compare IN OUT` on apply's output prints the numbers `report` printed for the plan.
    @Test func reportEqualsCompareOfTheAppliedPreset() throws {
        let dir = try TemporaryDirectory()
        let plan = try dir.write("p.json", text: #"{"version": 1, "preset": "Q4_K_M"}"#)
        let out = dir.path + "/out.gguf"
        #expect(try CommandRunner.run(["apply", Self.model, "--plan", plan, "-o", out, "--quiet"]).status == 0)
        let report = try CommandRunner.run(["report", Self.model, "--plan", plan, "--columns", "all"])
        let compare = try CommandRunner.run(["compare", Self.model, out])
        #expect(report.status == 0 && compare.status == 0, "\(report.stderr)\(compare.stderr)")
        let columns = ["sparsity", "SQNR dB", "max err", "cosine"]
        let r = try CompareCommandTests.metricCells(report.stdout, columns: columns)
        let c = try CompareCommandTests.metricCells(compare.stdout, columns: columns)
        #expect(r.count == (try ModelFile.open(Self.model)).tensors.count + 1 && c.count == r.count)
        for (name, cells) in r {
            #expect(c[name] == cells, "\(name): compare \(c[name] ?? []) vs report \(cells)")
        }
    }
}
