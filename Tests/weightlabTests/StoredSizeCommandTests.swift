import Foundation
import Testing
import TestSupport
import WeightFormats

/// Already-quantized weights (TFLite int8 per-axis, ONNX QDQ int4 and MatMulNBits, PyTorch quantized
/// tensors) are shown dequantized as F32 but cost what their file stores, as GGUF quant types do: `inspect`
/// and `report` give that as their size. The expected bytes follow from each fixture's layout as its
/// generator wrote it, never from weightlab's output.
@Suite struct StoredSizeCommandTests {
    static let int8Plan = """
    {"version": 1, "default": {"quantize": {"format": "int", "bits": 8, "symmetric": true, "granularity": "channel", "clip": "minmax"}}}
    """

    /// `inspect --json` bytes per tensor name, and the total.
    static func inspectBytes(_ file: String) throws -> (tensors: [String: Int], total: Int) {
        let r = try CommandRunner.run(["inspect", Fixtures.path(file), "--json", "--no-stats"])
        #expect(r.status == 0, "\(r.stderr)")
        let o = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let tensors = try #require(o["tensors"] as? [[String: Any]])
        var bytes: [String: Int] = [:]
        for t in tensors { bytes[t["name"] as! String] = t["bytes"] as? Int }
        let total = try #require((o["total"] as? [String: Any])?["bytes"] as? Int)
        return (bytes, total)
    }

    /// `report --format json` layers by name (bytes_original, bytes_compressed), and the totals.
    static func report(_ file: String, plan: String) throws -> (layers: [String: (Int, Int)], original: Int, compressed: Int) {
        let dir = try TemporaryDirectory()
        let planPath = try dir.write("plan.json", text: plan)
        let r = try CommandRunner.run(["report", Fixtures.path(file), "--plan", planPath, "--format", "json"])
        #expect(r.status == 0, "\(r.stderr)")
        let o = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        var layers: [String: (Int, Int)] = [:]
        for l in try #require(o["layers"] as? [[String: Any]]) {
            layers[l["name"] as! String] = (l["bytes_original"] as! Int, l["bytes_compressed"] as! Int)
        }
        let total = try #require(o["total"] as? [String: Any])
        return (layers, total["bytes_original"] as! Int, total["bytes_compressed"] as! Int)
    }

    /// fer's int8 TFLite: per the tflite schema, int8 codes (one byte each) and per axis one float32 scale
    /// and one int64 zero point per channel of the quantized dimension (labelled "dim k" in the reference).
    @Test func tfliteInt8WeightsCostTheirCodesAndScales() throws {
        let file = "tf/fer/emotion_model_quantized.tflite"
        let all = try #require(Fixtures.json("tf/expected.json") as? [String: [[String: Any]]])
        let refs = try #require(all["fer/emotion_model_quantized.tflite"])
        var expected: [String: Int] = [:]
        var floatTotal = 0
        for r in refs {
            let name = r["name"] as! String, shape = r["shape"] as! [Int], count = r["count"] as! Int
            guard let stored = r["stored"] as? String else {
                floatTotal += count * 4   // this file's plain tensors are F32 and I32
                continue
            }
            #expect(stored.hasPrefix("I8 per-axis (dim "), "\(stored)")
            let dim = Int(stored.dropFirst("I8 per-axis (dim ".count).prefix { $0.isNumber })!
            expected[name] = count + shape[dim] * (4 + 8)
        }
        #expect(expected.count == 9)
        let inspected = try Self.inspectBytes(file)
        for (name, bytes) in expected { #expect(inspected.tensors[name] == bytes, "\(name)") }
        #expect(inspected.total == floatTotal + expected.values.reduce(0, +))
        // Left as they are, they cost as stored; quantized again, they start from the stored size.
        let asIs = try Self.report(file, plan: "{\"version\": 1}")
        for (name, bytes) in expected { #expect(asIs.layers[name].map { [$0.0, $0.1] } == [bytes, bytes], "\(name)") }
        #expect(asIs.original == inspected.total && asIs.compressed == asIs.original)
        let int8 = try Self.report(file, plan: Self.int8Plan)
        for (name, bytes) in expected { #expect(int8.layers[name]?.0 == bytes, "\(name)") }
        #expect(int8.original == inspected.total)
    }

    /// quantized.onnx (make_onnx.py `qdq_model`): packed 4-bit codes, FLOAT scales, 4-bit zero points.
    @Test func onnxQDQInt4AndMatMulNBitsCostTheirStoredForm() throws {
        let expected = [
            // INT4 codes (8, 32) packed two per byte + FLOAT scales (8, 2).
            "w_int4_block16": 8 * 32 / 2 + 8 * 2 * 4,
            // UINT4 codes (8, 33): 264 nibbles; FLOAT scales (8, 3); UINT4 zero points (8, 3): 24 nibbles.
            "w_uint4_block16_zp": 264 / 2 + 8 * 3 * 4 + 24 / 2,
            // INT8 codes (16, 8) + FLOAT scales (16).
            "w_int8_axis0": 16 * 8 + 16 * 4,
            // MatMulNBits B uint8 (8, 2, 16), scales FLOAT (16), packed zero points uint8 (8, 1).
            "mm_nbits_zp_B": 8 * 2 * 16 + 16 * 4 + 8,
            // MatMulNBits B uint8 (4, 3, 8), scales FLOAT (12), no zero points.
            "mm_nbits_B": 4 * 3 * 8 + 12 * 4,
        ]
        let inspected = try Self.inspectBytes("onnx/quantized.onnx")
        for (name, bytes) in expected { #expect(inspected.tensors[name] == bytes, "\(name)") }
        let asIs = try Self.report("onnx/quantized.onnx", plan: "{\"version\": 1}")
        for (name, bytes) in expected { #expect(asIs.layers[name].map { [$0.0, $0.1] } == [bytes, bytes], "\(name)") }
    }

    /// synthetic.pth (make_torch.py): 12 one-byte codes each; per tensor a double scale and an int64 zero
    /// point, per channel a DoubleStorage of 3 scales and a LongStorage of 3 zero points.
    @Test func torchQuantizedTensorsCostTheirStoredForm() throws {
        let expected = ["q.per_tensor": 12 + 8 + 8, "q.per_channel": 12 + 3 * 8 + 3 * 8]
        let inspected = try Self.inspectBytes("torch/synthetic.pth")
        for (name, bytes) in expected { #expect(inspected.tensors[name] == bytes, "\(name)") }
        let int8 = try Self.report("torch/synthetic.pth", plan: Self.int8Plan)
        for (name, bytes) in expected { #expect(int8.layers[name]?.0 == bytes, "\(name)") }
    }

    /// Float fixtures are untouched: every tensor costs its dtype's bytes.
    @Test func floatTensorsStillCostTheirDtype() throws {
        let model = try ModelFile.open(Fixtures.path("onnx/writer/model.onnx"))
        #expect(model.tensors.allSatisfy { $0.storedBytes == nil && $0.originalBytes == $0.byteCount })
        #expect(try Self.inspectBytes("onnx/writer/model.onnx").total == (8 * 27 + 8 + 288 * 64 + 64 + 640 + 10) * 4)
    }
}
