import Foundation
import Testing
import TestSupport

/// `weightlab eval` and `report --eval-data` on the committed ONNX classifier (taskeval/, make_taskmetrics.py):
/// the printed metrics are the reference's (Python onnxruntime + numpy). The ONNX Runtime parts are skipped
/// when onnxruntime is not installed; the refusals run always.
struct EvalCommandTests {
    static var onnxRuntimeInstalled: Bool {
        guard let r = try? CommandRunner.run(["python3", "-c", "import onnxruntime"], executable: "/usr/bin/env") else { return false }
        return r.status == 0
    }
    let model = Fixtures.path("taskeval/classifier.onnx")
    let plan = Fixtures.path("taskeval/plan_int4_g128.json")
    let data = Fixtures.path("taskeval/classifier_data.npz")

    static func reference() throws -> [String: Any] {
        let root = try #require(try Fixtures.json("taskeval/reference.json") as? [String: Any])
        let c = try #require(root["classifier"] as? [String: Any])
        return try #require(c["int4_g128"] as? [String: Any])
    }

    @Test(.enabled(if: EvalCommandTests.onnxRuntimeInstalled, "needs python3 with onnxruntime"))
    func evalJSONPrintsTheReferenceMetrics() throws {
        let r = try CommandRunner.run(["eval", model, "--plan", plan, "--data", data, "--format", "json", "--batch", "50"])
        #expect(r.status == 0, "\(r.stderr)")
        let o = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let m = try Self.reference()
        #expect(o["task"] as? String == "classifier")
        #expect(o["accuracy"] as? Double == m["accuracy"] as? Double)
        #expect(o["flip_rate"] as? Double == m["flip_rate"] as? Double)
        #expect(abs((o["kl_mean"] as? Double ?? -1) - (m["kl_mean"] as? Double ?? 0)) < 1e-5)
    }

    @Test(.enabled(if: EvalCommandTests.onnxRuntimeInstalled, "needs python3 with onnxruntime"))
    func reportWithEvalDataAddsTheTaskToTheTotals() throws {
        let r = try CommandRunner.run(["report", model, "--plan", plan, "--eval-data", data, "--format", "json"])
        #expect(r.status == 0, "\(r.stderr)")
        let o = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let task = try #require(o["task"] as? [String: Any])
        #expect(task["flip_rate"] as? Double == (try Self.reference())["flip_rate"] as? Double)
        #expect(o["total"] != nil)
        let table = try CommandRunner.run(["report", model, "--plan", plan, "--eval-data", data])
        #expect(table.status == 0 && table.stdout.contains("flip_rate") && table.stdout.contains("accuracy"))
    }

    @Test func missingLibraryOrWrongDataIsOneLineAndExit2() throws {
        let r = try CommandRunner.run(["eval", model, "--plan", plan, "--data", data, "--ort-lib", "/nonexistent/libonnxruntime.so"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("pip install onnxruntime") && r.stderr.split(separator: "\n").count == 1)
        let csv = try CommandRunner.run(["report", model, "--plan", plan, "--eval-data", data, "--format", "csv"])
        #expect(csv.status != 0)
    }
}
