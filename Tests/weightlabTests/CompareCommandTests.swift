import Compression
import Foundation
import Testing
import TestSupport
import WeightFormats

/// `weightlab compare` end to end: against numpy's numbers (`Tests/Fixtures/make_compare.py`), and against
/// `report` — a model written with the engine's reconstruction must compare with its original exactly as
/// `report` printed the plan.
struct CompareCommandTests {
    let dir = Fixtures.path("compare")

    @Test func jsonMatchesNumpyWithTheLlamaMap() throws {
        let r = try CommandRunner.run(["compare", dir + "/hf.safetensors", dir + "/llama.gguf", "--map", "llama", "--format", "json"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let ref = try #require((try Fixtures.json("compare/reference.json") as? [String: Any])?["llama"] as? [String: Any])
        let layers = try #require(json["layers"] as? [[String: Any]])
        for theirs in try #require(ref["pairs"] as? [[String: Any]]) {
            let name = theirs["name"] as! String
            let ours = try #require(layers.first { $0["name"] as? String == name }, "\(name)")
            for k in ["mse", "cosine", "sparsity"] {
                let a = (ours[k] as! NSNumber).doubleValue, b = (theirs[k] as! NSNumber).doubleValue
                #expect(abs(a - b) <= 1e-6 * abs(b), "\(name).\(k)")
            }
            #expect(Float((ours["max_abs_error"] as! NSNumber).doubleValue) == Float((theirs["max_abs_error"] as! NSNumber).doubleValue))
            #expect(abs((ours["sqnr_db"] as! NSNumber).doubleValue - (theirs["sqnr_db"] as! NSNumber).doubleValue) < 1e-5)
        }
        let total = try #require(json["total"] as? [String: Any]), refTotal = try #require(ref["total"] as? [String: Any])
        #expect(abs((total["sqnr_db"] as! NSNumber).doubleValue - (refTotal["sqnr_db"] as! NSNumber).doubleValue) < 1e-5)
        #expect(json["only_in_a"] as? [String] == ["position_ids"])
    }

    @Test func tableListsWhatDidNotMatch() throws {
        let r = try CommandRunner.run(["compare", dir + "/hf.safetensors", dir + "/noisy.safetensors"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        #expect(r.stdout.contains("\nonly in A (1): lm_head.weight\n"))
        #expect(r.stdout.contains("\nonly in B (1): extra.only_in_b\n"))
        #expect(r.stdout.contains("\ndifferent shapes (1): model.layers.1.mlp.up_proj.weight [96, 64] vs [64, 96]\n"))
        #expect(r.stdout.contains("\nnot compared (not floating) (1): position_ids\n"))
        #expect(r.stdout.contains("total (19 tensors)"))
        let csv = try CommandRunner.run(["compare", dir + "/hf.safetensors", dir + "/noisy.safetensors", "--format", "csv"])
        let lines = csv.stdout.split(separator: "\n")
        #expect(lines.count == 1 + 19 + 4 + 1)
        #expect(lines.allSatisfy { $0.filter { $0 == "," }.count == 11 })
    }

    @Test func badInputIsOneLine() throws {
        let r = try CommandRunner.run(["compare", dir + "/hf.safetensors", dir + "/missing.safetensors"])
        #expect(r.status == 2)
        #expect(r.stderr.hasPrefix("weightlab: ") && r.stderr.filter { $0 == "\n" }.count == 1)
        let h = try CommandRunner.run(["compare", dir + "/hf.safetensors", dir + "/noisy.safetensors", "--heads", "4"])
        #expect(h.status != 0)
    }

    /// The metric cells of a table printed by `report` or `compare`, by tensor name (first column), for the
    /// columns named in `MetricText`'s headers that the table has.
    static func metricCells(_ table: String, columns: [String]) throws -> [String: [String]] {
        let lines = table.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let headerIndex = try #require(lines.firstIndex { $0.hasPrefix("name ") })
        let header = lines[headerIndex]
        func cells(_ line: String) -> [String] {
            line.split(separator: "  ", omittingEmptySubsequences: true).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        let names = cells(header)
        let idx = try columns.map { c in try #require(names.firstIndex(of: c), "no column \(c) in \(header)") }
        var out: [String: [String]] = [:]
        for line in lines[(headerIndex + 2)...] where !line.isEmpty && !line.hasPrefix("-") {
            let c = cells(line)
            guard c.count == names.count || line.hasPrefix("total") else { continue }
            // Totals leave the shape (and settings) cells empty: align them from the right.
            let key = line.hasPrefix("total") ? "total" : c[0]
            let shift = names.count - c.count
            out[key] = idx.map { i in c[i - (line.hasPrefix("total") ? shift : 0)] }
        }
        return out
    }

    @Test func compareOfTheReconstructionPrintsReportsNumbers() throws {
        let model = Fixtures.repositoryRoot + "/Examples/silero-vad/silero_vad_16k.safetensors"
        let plan = Fixtures.path("report/plan.json")
        // The fake-quantized model, written by hand with the engine's reconstruction (what `apply --to
        // safetensors` writes).
        let m = try ModelFile.open(model)
        let settings = try PlanEvaluation.resolve(plan, for: m)
        let tmp = try TemporaryDirectory()
        let out = tmp.path + "/reconstructed.safetensors"
        var reconstructions: [[Float]] = []
        for (t, s) in zip(m.tensors, settings) {
            var v = [Float](repeating: 0, count: t.parameters)
            try v.withUnsafeMutableBufferPointer { try t.decode(0..<t.parameters, into: $0) }
            var r = v
            try v.withUnsafeBufferPointer { vp in
                try r.withUnsafeMutableBufferPointer { rp in
                    _ = try LayerEvaluator.evaluate(s, shape: t.shape, values: vp, reconstruction: rp)
                }
            }
            reconstructions.append(r)
        }
        try SafetensorsWriter.write(to: out, tensors: m.tensors.map { .init(name: $0.name, dtype: .float32, shape: $0.shape) }) { i, sink in
            var bytes: [UInt8] = []
            for x in reconstructions[i] { withUnsafeBytes(of: x.bitPattern.littleEndian) { bytes += $0 } }
            try sink.write(bytes)
        }
        let report = try CommandRunner.run(["report", model, "--plan", plan, "--columns", "all"])
        let compare = try CommandRunner.run(["compare", model, out])
        #expect(report.status == 0 && compare.status == 0, "\(report.stderr)\(compare.stderr)")
        let columns = ["sparsity", "SQNR dB", "max err", "cosine"]
        let r = try Self.metricCells(report.stdout, columns: columns)
        let c = try Self.metricCells(compare.stdout, columns: columns)
        #expect(r.count == m.tensors.count + 1 && c.count == r.count)
        for (name, cells) in r {
            #expect(c[name] == cells, "\(name): compare \(c[name] ?? []) vs report \(cells)")
        }
    }
}
