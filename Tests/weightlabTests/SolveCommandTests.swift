import Foundation
import Testing
import TestSupport

/// `weightlab solve` and `weightlab sweep` end to end on the bundled model.
struct SolveCommandTests {
    let example = Fixtures.repositoryRoot + "/Examples/silero-vad/silero_vad_16k.safetensors"

    /// The totals `solve` predicts are the ones `report` prints for the written plan, spelt the same way.
    @Test func reportPrintsThePredictedTotals() throws {
        let dir = try TemporaryDirectory()
        let plan = dir.path + "/solved.json"
        let r = try CommandRunner.run(["solve", example, "--target-size", "200KiB", "-o", plan])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        // "predicted: 185 KiB (189668 bytes), 4.900 bits/w, SQNR 22.00 dB, MSE 0.000783305"
        let line = try #require(r.stdout.split(separator: "\n").first { $0.hasPrefix("predicted: ") })
        let fields = line.dropFirst("predicted: ".count).components(separatedBy: ", ")
        let size = String(fields[0].prefix { $0 != "(" }).trimmingCharacters(in: .whitespaces)
        let bits = fields[1].replacingOccurrences(of: " bits/w", with: "")
        let sqnr = fields[2].replacingOccurrences(of: "SQNR ", with: "").replacingOccurrences(of: " dB", with: "")
        let mse = fields[3].replacingOccurrences(of: "MSE ", with: "")
        let bytes = Int(fields[0].split(separator: "(")[1].split(separator: " ")[0])!
        #expect(bytes <= 200 * 1024)
        let report = try CommandRunner.run(["report", example, "--plan", plan])
        #expect(report.status == 0, "stderr: \(report.stderr)")
        let total = try #require(report.stdout.split(separator: "\n").first { $0.hasPrefix("total (") })
        let cells = total.split(separator: " ").map(String.init)
        #expect(cells.contains(mse) && cells.contains(sqnr) && cells.contains(bits), "\(total) vs \(line)")
        #expect(total.contains(size), "\(total) vs \(line)")
    }

    @Test func badTargetsAreOneLine() throws {
        let dir = try TemporaryDirectory()
        let out = dir.path + "/p.json"
        for args in [["--target-bpw", "0"], ["--target-size", "lots"], [], ["--target-bpw", "4", "--target-size", "1MiB"],
                     ["--target-bpw", "4", "--error", "kld"]] {
            let r = try CommandRunner.run(["solve", example, "-o", out] + args)
            #expect(r.status != 0)
            #expect(!FileManager.default.fileExists(atPath: out))
        }
        let low = try CommandRunner.run(["solve", example, "-o", out, "--target-bpw", "0.5"])
        #expect(low.status == 2)
        #expect(low.stderr.contains("below the smallest size this menu reaches"))
        #expect(low.stderr.split(separator: "\n").count == 1)
        let menu = try dir.write("menu.json", text: "[{\"quantize\": {\"format\": \"int\", \"bits\": 1}}]")
        let bad = try CommandRunner.run(["solve", example, "-o", out, "--target-bpw", "4", "--menu", menu])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("[0].quantize.bits"))
    }

    /// `report` solves a plan with `solve`; commands that would only resolve it refuse it in one line.
    @Test func planWithSolveIsSolvedByReportAndRefusedByApply() throws {
        let dir = try TemporaryDirectory()
        let plan = try dir.write("ask.json", text: "{\"version\": 1, \"solve\": {\"target\": {\"bpw\": 6}}}")
        let report = try CommandRunner.run(["report", example, "--plan", plan])
        #expect(report.status == 0, "stderr: \(report.stderr)")
        #expect(report.stdout.contains("total ("))
        let apply = try CommandRunner.run(["apply", example, "--plan", plan, "-o", dir.path + "/m.safetensors"])
        #expect(apply.status == 2)
        #expect(apply.stderr.contains("solve: the plan asks the solver"), "\(apply.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/m.safetensors"))
    }

    /// The sweep lists the frontier from the smallest choice to the original model: sizes grow and the
    /// error falls, and the last point is the model as it is (exact).
    @Test func sweepListsTheFrontier() throws {
        let r = try CommandRunner.run(["sweep", example, "--format", "csv"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "bytes,bits_per_weight,error,sqnr_db")
        let rows = lines.dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        #expect(rows.count > 10)
        for (a, b) in zip(rows, rows.dropFirst()) {
            #expect(Int(a[0])! < Int(b[0])!)
            #expect(Double(a[2])! > Double(b[2])!)
        }
        // The original file: every tensor as stored, no error.
        #expect(rows.last?[0] == "1238532" && rows.last?[2] == "0.0" && rows.last?[3] == "")
        let table = try CommandRunner.run(["sweep", example])
        #expect(table.stdout.contains("bits per weight"))
        #expect(table.stdout.contains("frontier points"))
        let json = try CommandRunner.run(["sweep", example, "--format", "json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect((object["points"] as? [Any])?.count == rows.count)
    }
}

/// `report --format json` carries each layer's diagnostics (numpy's values: `make_diagnostics.py`).
struct ReportDiagnosticsTests {
    @Test func jsonHasDiagnostics() throws {
        let model = Fixtures.path("diagnostics/model.safetensors")
        let dir = try TemporaryDirectory()
        let plan = try dir.write("p.json", text: "{\"version\": 1, \"default\": {\"quantize\": {\"format\": \"int\", \"bits\": 4}}}")
        let r = try CommandRunner.run(["report", model, "--plan", plan, "--format", "json"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let expected = try #require(try Fixtures.json("diagnostics/expected.json") as? [String: [String: Any]])
        let layers = try #require(json["layers"] as? [[String: Any]])
        var shares = 0.0
        for layer in layers {
            let name = try #require(layer["name"] as? String)
            let d = try #require(layer["diagnostics"] as? [String: Any])
            let ref = try #require(expected[name])
            #expect(d["outliers_6sigma"] as? Int == ref["outliers"] as? Int)
            let k = try #require(d["kurtosis"] as? Double), rk = try #require(ref["kurtosis"] as? Double)
            #expect(abs(k - rk) <= 1e-6 * abs(rk))
            if let s = ref["channel_spread"] as? Double {
                #expect(abs((d["channel_spread"] as? Double ?? 0) - s) <= 1e-6 * s)
            } else {
                #expect(d["channel_spread"] is NSNull)
            }
            shares += d["error_share"] as? Double ?? 0
        }
        #expect(abs(shares - 1) < 1e-9)
    }
}
