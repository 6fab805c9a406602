import Foundation
import Testing
import TestSupport

/// `solve --eval-data [--max-drop]`: the task metric as the solver's check on frontier points, on the
/// taskeval classifier run by the pure-Swift MLP (no onnxruntime needed). The chosen plan is written and
/// `eval` of that file measures what the check table printed; every smaller point checked loses more.
struct SolveCheckCommandTests {
    let model = Fixtures.path("taskeval/classifier.onnx")
    let data = Fixtures.path("taskeval/classifier_data.npz")
    static let mlp = #"{"kind": "mlp", "layers": [{"op": "linear", "name": "fc1"}, {"op": "relu"}, {"op": "linear", "name": "fc2"}]}"#

    struct Row { let chosen: Bool; let bytes: Int; let accuracy: Double; let loss: Double; let point: String }

    static func rows(_ stdout: String) -> [Row] {
        let lines = stdout.split(separator: "\n").map(String.init)
        guard let start = lines.firstIndex(where: { $0.hasPrefix("task check") }) else { return [] }
        return lines[(start + 3)...].compactMap { line in
            let f = line.split(separator: " ").map(String.init)
            let chosen = f.first == "*"
            let c = chosen ? Array(f.dropFirst()) : f
            guard c.count == 6, let bytes = Int(c[0]), let acc = Double(c[3]), let loss = Double(c[4]) else { return nil }
            return Row(chosen: chosen, bytes: bytes, accuracy: acc, loss: loss, point: c[5])
        }
    }

    @Test func maxDropWritesTheSmallestCheckedPlanWithinIt() throws {
        let dir = try TemporaryDirectory()
        let arch = try dir.write("mlp.json", text: Self.mlp)
        let plan = dir.path + "/checked.json"
        let r = try CommandRunner.run(["solve", model, "--target-bpw", "4.5", "-o", plan, "--eval-data", data, "--arch", arch,
                                       "--max-drop", "0.2"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let rows = Self.rows(r.stdout)
        #expect(rows.count >= 2 && rows.contains { $0.point == "target" }, "\(r.stdout)")
        let chosen = try #require(rows.first { $0.chosen }, "\(r.stdout)")
        #expect(chosen.loss <= 0.2)
        #expect(rows.filter { $0.bytes < chosen.bytes }.allSatisfy { $0.loss > 0.2 }, "\(r.stdout)")
        #expect(r.stdout.contains("predicted: ") && r.stdout.contains("(\(chosen.bytes) bytes)"), "\(r.stdout)")
        // The written plan, measured by `eval`, is what the check printed.
        let e = try CommandRunner.run(["eval", model, "--plan", plan, "--data", data, "--arch", arch, "--format", "csv"])
        #expect(e.status == 0, "stderr: \(e.stderr)")
        let lines = e.stdout.split(separator: "\n").map { $0.split(separator: ",").map(String.init) }
        let accuracy = try #require(Double(lines[1][lines[0].firstIndex(of: "accuracy")!]))
        let original = try #require(Double(lines[1][lines[0].firstIndex(of: "accuracy_original")!]))
        #expect(abs(accuracy - chosen.accuracy) < 1e-9 && abs(original - accuracy - chosen.loss) < 1e-9)
    }

    @Test func withoutADropThePointsBelowTheTargetAreReported() throws {
        let dir = try TemporaryDirectory()
        let arch = try dir.write("mlp.json", text: Self.mlp)
        let r = try CommandRunner.run(["solve", model, "--target-bpw", "4.5", "-o", dir.path + "/p.json", "--eval-data", data, "--arch", arch])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let rows = Self.rows(r.stdout)
        #expect(rows.count >= 3 && rows.last?.point == "target" && rows.last?.chosen == true, "\(r.stdout)")
        // Smaller plans lose more on this classifier (checked, not assumed: the rows are measured).
        #expect(zip(rows, rows.dropFirst()).allSatisfy { $0.0.bytes < $0.1.bytes }, "\(r.stdout)")
    }

    @Test func aDropNoPlanMeetsIsOneLineAndWritesNothing() throws {
        let dir = try TemporaryDirectory()
        let arch = try dir.write("mlp.json", text: Self.mlp)
        let out = dir.path + "/none.json"
        let r = try CommandRunner.run(["solve", model, "--target-bpw", "4.5", "-o", out, "--eval-data", data, "--arch", arch,
                                       "--max-drop", "0"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("no plan within --max-drop") && r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out))
        let lonely = try CommandRunner.run(["solve", model, "--target-bpw", "4.5", "-o", out, "--max-drop", "0.1"])
        #expect(lonely.status != 0 && lonely.stderr.contains("go with --eval-data"))
    }
}
