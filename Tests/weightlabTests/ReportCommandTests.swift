import Foundation
import Testing
import TestSupport

/// `weightlab report` end to end, against numbers numpy computed for the same plan
/// (`Tests/Fixtures/make_report_reference.py`).
struct ReportCommandTests {
    let example = Fixtures.repositoryRoot + "/Examples/silero-vad/silero_vad_16k.safetensors"
    let plan = Fixtures.path("report/plan.json")

    func close(_ a: Any?, _ b: Any?, rel: Double = 1e-4) -> Bool {
        switch (a, b) {
        case (nil, nil), (is NSNull, is NSNull), (nil, is NSNull), (is NSNull, nil): return true
        case (let x as Double, let y as Double): return abs(x - y) <= rel * max(abs(y), 1e-12)
        case (let x as Int, let y as Int): return x == y
        case (let x as Bool, let y as Bool): return x == y
        default: return false
        }
    }

    @Test func jsonMatchesNumpy() throws {
        let r = try CommandRunner.run(["report", example, "--plan", plan, "--format", "json"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let ref = try #require(try Fixtures.json("report/expected.json") as? [String: Any])
        #expect(json["model"] as? String == example)
        let layers = try #require(json["layers"] as? [[String: Any]])
        let refLayers = try #require(ref["layers"] as? [[String: Any]])
        #expect(layers.count == refLayers.count)
        let keys = ["name", "shape", "parameters", "compressed", "sparsity", "mse", "sqnr_db", "max_abs_error", "cosine",
                    "bytes_original", "bytes_compressed", "bits_per_weight", "encoding"]
        for (ours, theirs) in zip(layers, refLayers) {
            let name = ours["name"] as? String ?? "?"
            for k in keys { #expect(ours.keys.contains(k), "\(name) lacks \(k)") }
            #expect(ours["name"] as? String == theirs["name"] as? String)
            for k in ["parameters", "compressed", "sparsity", "mse", "max_abs_error", "cosine", "bytes_original", "bytes_compressed"] {
                #expect(close(ours[k], theirs[k]), "\(name).\(k): \(String(describing: ours[k])) vs numpy \(String(describing: theirs[k]))")
            }
            if let s = theirs["sqnr_db"] as? Double {
                #expect(abs((ours["sqnr_db"] as? Double ?? .nan) - s) <= 1e-3, "\(name).sqnr_db")
            } else {
                #expect(ours["sqnr_db"] is NSNull, "\(name): an exact layer has sqnr_db null")
            }
        }
        let total = try #require(json["total"] as? [String: Any])
        let refTotal = try #require(ref["total"] as? [String: Any])
        for k in ["parameters", "sparsity", "mse", "bytes_original", "bytes_compressed", "bits_per_weight", "compression_ratio"] {
            #expect(close(total[k], refTotal[k]), "total.\(k): \(String(describing: total[k])) vs numpy \(String(describing: refTotal[k]))")
        }
        #expect(abs((total["sqnr_db"] as? Double ?? .nan) - (refTotal["sqnr_db"] as! Double)) <= 1e-3)
    }

    @Test func csvHasARowPerTensorAndATotal() throws {
        let r = try CommandRunner.run(["report", example, "--plan", plan, "--format", "csv"])
        #expect(r.status == 0)
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.first?.hasPrefix("name,shape,parameters,compressed,sparsity") == true)
        #expect(lines.count == 1 + 15 + 1)
        #expect(lines.last?.hasPrefix("total,") == true)
    }

    @Test func imatrixAddsTheImportanceWeightedTable() throws {
        let dir = try TemporaryDirectory()
        let data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("imatrix/attn_q.bin"))))
        var header = Array(#"{"blk.0.attn_q.weight":{"dtype":"F32","shape":[4,512],"data_offsets":[0,8192]}}"#.utf8)
        while header.count % 8 != 0 { header.append(0x20) }
        let model = try dir.write("m.safetensors", withUnsafeBytes(of: UInt64(header.count).littleEndian) { Array($0) } + header + data)
        let plan = try dir.write("p.json", text: #"{"version": 1, "default": {"quantize": {"format": "gguf", "type": "q4_k"}}}"#)
        let r = try CommandRunner.run(["report", model, "--plan", plan, "--imatrix", Fixtures.path("imatrix/small.imatrix.gguf")])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let ref = try #require((try Fixtures.json("imatrix/reference.json") as? [String: Any])?["attn_q"] as? [String: Any])
        let sqnr = String(format: "%.2f", try #require(ref["weighted_sqnr_db"] as? Double))
        #expect(r.stdout.contains("importance-weighted error (imatrix)"))
        #expect(r.stdout.contains(sqnr), "\(r.stdout)")
        let plain = try CommandRunner.run(["report", model, "--plan", plan])
        #expect(plain.status == 0 && !plain.stdout.contains("importance-weighted"))
        let bad = try CommandRunner.run(["report", model, "--plan", plan, "--imatrix", plan])
        #expect(bad.status != 0 && bad.stderr.split(separator: "\n").count == 1, "\(bad.stderr)")
    }

    @Test func tableEndsWithTheTotal() throws {
        let r = try CommandRunner.run(["report", example, "--plan", plan, "--columns", "all"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("total (15 tensors)"))
        #expect(r.stdout.contains("bitmap + int8 per-channel"))
    }

    @Test(arguments: ["int4-group128.json", "2to4-int8.json", "q4_0.json"])
    func examplePlansRun(_ name: String) throws {
        let r = try CommandRunner.run(["report", example, "--plan", Fixtures.repositoryRoot + "/Examples/plans/" + name, "--format", "json"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
    }

    @Test func badPlanNamesTheField() throws {
        let dir = try TemporaryDirectory()
        let p = try dir.write("bad.json", text: #"{"version": 1, "default": {"quantize": {"format": "int", "bits": 9}}}"#)
        let r = try CommandRunner.run(["report", example, "--plan", p])
        #expect(r.status == 2)
        #expect(r.stderr.hasPrefix("weightlab: \(p): default.quantize.bits"), "stderr: \(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 1)
    }

    @Test func ruleMatchingNothingIsAnErrorWhenStrict() throws {
        let dir = try TemporaryDirectory()
        let p = try dir.write("nomatch.json", text: #"{"version": 1, "rules": [{"match": "no_such_tensor", "quantize": {"format": "nf4"}}]}"#)
        let r = try CommandRunner.run(["report", example, "--plan", p, "--strict"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("rules[0]"), "stderr: \(r.stderr)")
    }
}
