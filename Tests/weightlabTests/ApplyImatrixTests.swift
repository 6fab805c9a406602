import Foundation
import Testing
import TestSupport
import WeightFormats
import Compression
@testable import weightlab

/// The ggml inputs and importance vectors of `Tests/Fixtures/make_kquants.py` put in a GGUF model and a
/// legacy imatrix file (ncall 1, so the weights llama-quantize hands the quantizer are the vectors as they
/// are), for `apply --imatrix`, `compare --imatrix` and the workbench.
enum ImatrixModelFixture {
    static var cases: [[String: Any]] {
        ((try? Fixtures.json("kquants/reference.json")) as? [String: Any])?["cases"] as? [[String: Any]] ?? []
    }

    static func data(_ relative: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("kquants/" + relative))))
    }

    static func floats(_ relative: String) throws -> [Float] {
        let b = try data(relative)
        return (0..<(b.count / 4)).map { i in
            Float(bitPattern: UInt32(b[4 * i]) | UInt32(b[4 * i + 1]) << 8 | UInt32(b[4 * i + 2]) << 16 | UInt32(b[4 * i + 3]) << 24)
        }
    }

    /// The imatrix cases of `type` whose rows the type's blocks divide, one tensor each.
    static func importanceCases(_ type: String) -> [[String: Any]] {
        let block = GGMLType(name: type)!.blockSize
        return cases.filter { $0["type"] as? String == type && $0["imatrix"] is String && ($0["shape"] as! [Int])[1] % block == 0 }
    }

    static func tensorName(_ k: Int) -> String { "blk.\(k).ffn_up.weight" }

    /// A GGUF of the cases' inputs (F32) and a legacy imatrix of their vectors; `wrongLength` shortens one entry,
    /// `omitting` leaves one out.
    static func write(_ cases: [[String: Any]], in dir: TemporaryDirectory, wrongLength: Int? = nil,
                      omitting: Int? = nil) throws -> (model: String, imatrix: String) {
        let inputs = try cases.map { try floats("inputs/\($0["input"] as! String).bin") }
        let entries = cases.enumerated().map { k, c in
            GGUFWriter.TensorEntry(name: tensorName(k), type: .f32, shape: c["shape"] as! [Int])
        }
        let model = dir.path + "/model.gguf"
        try GGUFWriter.write(to: model, metadata: [("general.architecture", .string("llama"))], tensors: entries) { i, sink in
            var bytes: [UInt8] = []
            for v in inputs[i] { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 } }
            try sink.write(bytes)
        }
        var dat: [UInt8] = []
        func i32(_ v: Int) { withUnsafeBytes(of: Int32(v).littleEndian) { dat += $0 } }
        i32(cases.count - (omitting == nil ? 0 : 1))
        for (k, c) in cases.enumerated() where k != omitting {
            var w = try floats("inputs/" + (c["imatrix"] as! String))
            if wrongLength == k { w.removeLast(32) }
            let name = Array(tensorName(k).utf8)
            i32(name.count); dat += name; i32(1); i32(w.count)
            for v in w { withUnsafeBytes(of: v.bitPattern.littleEndian) { dat += $0 } }
        }
        let imatrix = try dir.write("imatrix.dat", dat)
        return (model, imatrix)
    }
}

struct ApplyImatrixTests {
    /// `apply --imatrix` writes, tensor for tensor, the bytes ggml's `ggml_quantize_chunk` gives with the
    /// same importance vectors (and without the matrix, other bytes: the weights are used).
    @Test(arguments: ["Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_NL", "IQ4_XS", "Q4_0", "Q4_1", "Q5_0", "Q5_1"])
    func applyBytesEqualGGMLsImportancePath(_ type: String) throws {
        let cases = ImatrixModelFixture.importanceCases(type)
        #expect(cases.count >= 2)
        let dir = try TemporaryDirectory()
        let (model, imatrix) = try ImatrixModelFixture.write(cases, in: dir)
        let plan = try dir.write("p.json", text: #"{"version": 1, "default": {"quantize": {"format": "gguf", "type": "\#(type.lowercased())"}}}"#)
        let out = dir.path + "/out.gguf"
        let r = try CommandRunner.run(["apply", model, "--plan", plan, "--imatrix", imatrix, "-o", out, "--quiet"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let written = try ModelFile.open(out)
        var anyDiffers = false
        for (k, c) in cases.enumerated() {
            let t = try #require(written.tensors.first { $0.name == ImatrixModelFixture.tensorName(k) })
            let expected = try ImatrixModelFixture.data("outputs/" + (c["bytes"] as! String))
            #expect(t.dtype.description.uppercased() == type)
            #expect(try t.data.bytes(at: 0, count: t.byteCount) == expected, "\(c["bytes"]!)")
        }
        // Without the matrix the reference quantizer runs: for these inputs its bytes differ somewhere.
        let outPlain = dir.path + "/plain.gguf"
        let p = try CommandRunner.run(["apply", model, "--plan", plan, "-o", outPlain, "--quiet"])
        #expect(p.status == 0, "stderr: \(p.stderr)")
        let plainModel = try ModelFile.open(outPlain)
        for (a, b) in zip(written.tensors, plainModel.tensors) where try a.data.bytes(at: 0, count: a.byteCount) != b.data.bytes(at: 0, count: b.byteCount) {
            anyDiffers = true
        }
        #expect(anyDiffers)
    }

    /// The plan's `imatrix` field (a path beside the plan) is the same as `--imatrix`.
    @Test func planFieldIsHonouredLikeTheOption() throws {
        let cases = ImatrixModelFixture.importanceCases("Q4_K")
        let dir = try TemporaryDirectory()
        let (model, _) = try ImatrixModelFixture.write(cases, in: dir)
        let plan = try dir.write("p.json", text: #"{"version": 1, "imatrix": "imatrix.dat", "default": {"quantize": {"format": "gguf", "type": "q4_k"}}}"#)
        let out = dir.path + "/out.gguf"
        let r = try CommandRunner.run(["apply", model, "--plan", plan, "-o", out, "--quiet"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let written = try ModelFile.open(out)
        for (k, c) in cases.enumerated() {
            let t = try #require(written.tensors.first { $0.name == ImatrixModelFixture.tensorName(k) })
            #expect(try t.data.bytes(at: 0, count: t.byteCount) == ImatrixModelFixture.data("outputs/" + (c["bytes"] as! String)))
        }
        // report reads the same field.
        let rep = try CommandRunner.run(["report", model, "--plan", plan])
        #expect(rep.status == 0 && rep.stdout.contains("importance-weighted error (imatrix)"), "\(rep.stderr)")
    }

    /// An entry whose length does not fit its tensor is one error line naming the tensor, for every command.
    @Test func mismatchIsOneLineNamingTheTensor() throws {
        let cases = ImatrixModelFixture.importanceCases("Q4_K")
        let dir = try TemporaryDirectory()
        let (model, imatrix) = try ImatrixModelFixture.write(cases, in: dir, wrongLength: 1)
        let plan = try dir.write("p.json", text: #"{"version": 1, "default": {"quantize": {"format": "gguf", "type": "q4_k"}}}"#)
        let name = ImatrixModelFixture.tensorName(1)
        for args in [["apply", model, "--plan", plan, "--imatrix", imatrix, "-o", dir.path + "/o.gguf"],
                     ["report", model, "--plan", plan, "--imatrix", imatrix],
                     ["compare", model, model, "--imatrix", imatrix]] {
            let r = try CommandRunner.run(args)
            #expect(r.status == 2, "\(args[0]): \(r.stderr)")
            let lines = r.stderr.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].contains(name) && lines[0].contains("imatrix"), "\(args[0]): \(r.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/o.gguf"))
        // A matrix made for another model: no entry names any of its tensors.
        let other = try dir.write("other.dat", [1, 0, 0, 0, 3, 0, 0, 0] + Array("abc".utf8) + [1, 0, 0, 0, 1, 0, 0, 0] + [0, 0, 128, 63])
        let r = try CommandRunner.run(["report", model, "--plan", plan, "--imatrix", other])
        #expect(r.status == 2 && r.stderr.contains("no entry for any tensor"), "\(r.stderr)")
    }

    /// The last two cells (weighted SQNR, weighted MSE) of each row of the importance table, by first cell.
    static func importanceRows(_ text: String) -> [String: [String]] {
        guard let start = text.range(of: "importance-weighted error (imatrix)") else { return [:] }
        var rows: [String: [String]] = [:]
        for line in text[start.upperBound...].split(separator: "\n") {
            let cells = line.split(separator: " ").map(String.init)
            guard cells.count >= 3, cells[0].hasPrefix("blk.") || cells[0] == "total" else { continue }
            rows[cells[0]] = Array(cells.suffix(2))
        }
        return rows
    }

    /// `compare IN OUT --imatrix` after `apply --imatrix` prints the weighted numbers `report --imatrix` printed.
    @Test func compareAfterApplyPrintsReportsWeightedNumbers() throws {
        let cases = ImatrixModelFixture.importanceCases("Q3_K")
        let dir = try TemporaryDirectory()
        let (model, imatrix) = try ImatrixModelFixture.write(cases, in: dir)
        let plan = try dir.write("p.json", text: #"{"version": 1, "default": {"quantize": {"format": "gguf", "type": "q3_k"}}}"#)
        let out = dir.path + "/out.gguf"
        #expect(try CommandRunner.run(["apply", model, "--plan", plan, "--imatrix", imatrix, "-o", out, "--quiet"]).status == 0)
        let report = try CommandRunner.run(["report", model, "--plan", plan, "--imatrix", imatrix])
        let compare = try CommandRunner.run(["compare", model, out, "--imatrix", imatrix])
        #expect(report.status == 0 && compare.status == 0, "\(report.stderr)\(compare.stderr)")
        let r = Self.importanceRows(report.stdout), c = Self.importanceRows(compare.stdout)
        #expect(r.count == cases.count + 1)
        #expect(r == c, "report: \(r)\ncompare: \(c)")
        let json = try CommandRunner.run(["compare", model, out, "--imatrix", imatrix, "--format", "json"])
        #expect(json.stdout.contains("weighted_sqnr_db"))
    }

    /// A preset llama-quantize refuses without an importance matrix is refused by apply and report with
    /// that reason; with a matrix, Q2_K_S is made (as llama-quantize makes it).
    @Test func presetNeedingAnImatrixIsRefusedWithLlamaQuantizesReason() throws {
        let cases = ImatrixModelFixture.importanceCases("Q4_K")
        let dir = try TemporaryDirectory()
        let (model, imatrix) = try ImatrixModelFixture.write(cases, in: dir)
        let plan = try dir.write("p.json", text: #"{"version": 1, "preset": "Q2_K_S"}"#)
        for args in [["apply", model, "--plan", plan, "-o", dir.path + "/o.gguf"], ["report", model, "--plan", plan]] {
            let r = try CommandRunner.run(args)
            #expect(r.status == 2 && r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
            #expect(r.stderr.contains("llama-quantize refuses preset Q2_K_S without an importance matrix"), "\(r.stderr)")
            let w = try CommandRunner.run(args.map { $0 == dir.path + "/o.gguf" ? dir.path + "/q2ks.gguf" : $0 } + ["--imatrix", imatrix])
            #expect(w.status == 0, "\(w.stderr)")
        }
        // A matrix without an entry for one Q2_K tensor of the Q2_K_S file: llama-quantize stops at that tensor
        // ("Missing importance matrix for tensor … in a very low-bit quantization"), and so does weightlab.
        let partial = try TemporaryDirectory()
        let (partialModel, partialImatrix) = try ImatrixModelFixture.write(cases, in: partial, omitting: 1)
        let missing = ImatrixModelFixture.tensorName(1)
        for args in [["apply", partialModel, "--plan", plan, "-o", partial.path + "/o.gguf"], ["report", partialModel, "--plan", plan]] {
            let r = try CommandRunner.run(args + ["--imatrix", partialImatrix])
            #expect(r.status == 2 && r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
            #expect(r.stderr.contains("has no entry for tensor '\(missing)', which preset Q2_K_S stores as Q2_K"), "\(r.stderr)")
            #expect(r.stderr.contains("Missing importance matrix for tensor"), "\(r.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: partial.path + "/o.gguf"))
        // The same matrix for a type that needs none: the tensor without an entry is quantized without weights.
        let q4 = try partial.write("q4.json", text: #"{"version": 1, "default": {"quantize": {"format": "gguf", "type": "q2_k"}}}"#)
        let ok = try CommandRunner.run(["report", partialModel, "--plan", q4, "--imatrix", partialImatrix])
        #expect(ok.status == 0, "\(ok.stderr)")
        let iq = try dir.write("iq.json", text: #"{"version": 1, "default": {"quantize": {"format": "gguf", "type": "iq2_xs"}}}"#)
        let r = try CommandRunner.run(["apply", model, "--plan", iq, "-o", dir.path + "/o.gguf"])
        #expect(r.status == 2 && r.stderr.contains("IQ2_XS needs an importance matrix"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/o.gguf"))
    }
}
