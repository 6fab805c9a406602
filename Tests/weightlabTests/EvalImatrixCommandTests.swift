import Foundation
import Testing
import TestSupport

/// `eval --imatrix` (as for open/apply/compare): the importance matrix reaches ggml's imatrix quantizers — a
/// q4_K plan measures differently with one than without — and a matrix that does not fit the model is one line,
/// exit 2. Runs the classifier fixture by the pure-Swift MLP (no onnxruntime needed).
struct EvalImatrixCommandTests {
    let model = Fixtures.path("taskeval/classifier.onnx")
    let data = Fixtures.path("taskeval/classifier_data.npz")

    /// A legacy llama.cpp imatrix (`.dat`: count, then name, ncall, length and values per entry) for fc1.weight.
    static func imatrix(_ values: [Float], in dir: TemporaryDirectory) throws -> String {
        var dat: [UInt8] = []
        func i32(_ v: Int) { withUnsafeBytes(of: Int32(v).littleEndian) { dat += $0 } }
        i32(1)
        let name = Array("fc1.weight".utf8)
        i32(name.count); dat += name; i32(1); i32(values.count)
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { dat += $0 } }
        return try dir.write("imatrix.dat", dat)
    }

    static func column(_ csv: String, _ key: String) -> Double? {
        let lines = csv.split(separator: "\n").map { $0.split(separator: ",").map(String.init) }
        guard lines.count == 2, let i = lines[0].firstIndex(of: key) else { return nil }
        return Double(lines[1][i])
    }

    @Test func theImportanceMatrixChangesWhatAQ4KPlanMeasures() throws {
        let dir = try TemporaryDirectory()
        let arch = try dir.write("mlp.json", text: SolveCheckCommandTests.mlp)
        let plan = try dir.write("q4k.json", text: #"{"version": 1, "rules": [{"match": "^fc1\\.weight$", "quantize": {"format": "gguf", "type": "q4_k"}}]}"#)
        // Every eighth input column matters a thousand times more than the rest.
        let matrix = try Self.imatrix((0..<256).map { $0 % 8 == 0 ? 1000 : 1 }, in: dir)
        let args = ["eval", model, "--plan", plan, "--data", data, "--arch", arch, "--format", "csv"]
        let plain = try CommandRunner.run(args)
        let weighted = try CommandRunner.run(args + ["--imatrix", matrix])
        #expect(plain.status == 0 && weighted.status == 0, "\(plain.stderr) \(weighted.stderr)")
        let a = try #require(Self.column(plain.stdout, "output_sqnr_db")), b = try #require(Self.column(weighted.stdout, "output_sqnr_db"))
        #expect(a.isFinite && b.isFinite && a != b, "with and without the imatrix: \(a) dB, \(b) dB")

        let wrong = try Self.imatrix([Float](repeating: 1, count: 100), in: dir)
        let bad = try CommandRunner.run(args + ["--imatrix", wrong])
        #expect(bad.status == 2 && bad.stderr.split(separator: "\n").count == 1, "\(bad.stderr)")
    }
}
