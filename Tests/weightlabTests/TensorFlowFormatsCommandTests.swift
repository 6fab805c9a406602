import Foundation
import Testing
import TestSupport
import WeightFormats

/// `inspect`, `report` and `apply --to safetensors` on TFLite, Keras and SavedModel files behave as on
/// safetensors; a hostile file is one line on stderr and exit status 2.
@Suite struct TensorFlowFormatsCommandTests {
    static let plan = """
    {"version": 1, "default": {"quantize": {"format": "int", "bits": 8, "symmetric": true, "granularity": "channel", "clip": "minmax"}}}
    """

    @Test(arguments: ["tf/fer/emotion_model_quantized.tflite", "tf/generated/keras3.keras", "tf/generated/pruned.h5",
                      "tf/basic_pitch/nmp"])
    func reportAndApplyWork(_ file: String) throws {
        let dir = try TemporaryDirectory()
        let plan = try dir.write("plan.json", text: Self.plan)
        let input = Fixtures.path(file)
        let report = try CommandRunner.run(["report", input, "--plan", plan, "--format", "json"])
        #expect(report.status == 0, "\(report.stderr)")
        let out = dir.path + "/out.safetensors"
        let apply = try CommandRunner.run(["apply", input, "--plan", plan, "--to", "safetensors", "-o", out, "--quiet"])
        #expect(apply.status == 0, "\(apply.stderr)")
        let written = try ModelFile.open(out)
        let original = try ModelFile.open(input)
        #expect(written.tensors.map(\.name) == original.tensors.map(\.name))
        #expect(written.tensors.map(\.shape) == original.tensors.map(\.shape))
    }

    @Test func inspectLabelsQuantizedTFLiteWeights() throws {
        let r = try CommandRunner.run(["inspect", Fixtures.path("tf/fer/emotion_model_quantized.tflite"), "--no-stats"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("F32 from I8 per-axis (dim 3, 128 scales)"), "\(r.stdout)")
    }

    @Test(arguments: ["tf/hostile/tflite_huge_vector.tflite", "tf/hostile/h5_cycle.h5", "tf/hostile/h5_huge_dataspace.h5",
                      "tf/hostile/bundle_size_lies/variables.index"])
    func hostileFilesExitTwoWithOneLine(_ file: String) throws {
        let path = Fixtures.path(file)
        let r = try CommandRunner.run(["inspect", path])
        #expect(r.status == 2)
        #expect(r.stderr.hasPrefix("weightlab: "), "\(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
    }
}
