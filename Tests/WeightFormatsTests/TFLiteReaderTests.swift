import Foundation
import Testing
@testable import WeightFormats
import TestSupport

/// The TFLite reader on real converter output (fer's int8 per-channel model, basic-pitch's float model) and
/// on generated models (INT4, UINT8 with a zero point, per-axis on dimension 1, F16, a buffer stored past
/// the FlatBuffer), checked against the tflite schema package; hostile files give one clear error.
@Suite("TFLite reader")
struct TFLiteReaderTests {
    @Test(arguments: ["fer/emotion_model_quantized.tflite", "basic_pitch/nmp.tflite", "generated/mixed.tflite"])
    func readsEveryTensorLikeTheSchemaPackage(_ file: String) throws {
        let model = try ModelFile.open(Fixtures.path("tf/" + file))
        #expect(model.format == .tflite)
        try TFReference.check(model, against: file)
    }

    @Test func ferKeepsItsInt8WeightsLabelledAsQuantized() throws {
        let model = try ModelFile.open(Fixtures.path("tf/fer/emotion_model_quantized.tflite"))
        let quantized = model.tensors.filter { $0.storedAs != nil }
        #expect(quantized.count == 9)
        #expect(quantized.allSatisfy { $0.dtype == .float32 && $0.isFloating })
        #expect(quantized.filter { $0.storedAs!.contains("dim 3") }.count == 1)
        #expect(model.metadata.first { $0.key == "description" }?.value == .string("MLIR Converted."))
    }

    @Test func readsAtAnyByteOffsetOfADequantizedTensor() throws {
        let model = try ModelFile.open(Fixtures.path("tf/generated/mixed.tflite"))
        let t = try #require(model.tensors.first { $0.name == "dense/kernel_int4" })
        let all = try FormatReference.decodeAll(t, chunk: 1)
        let middle = try t.data.bytes(at: 6, count: 9)
        let whole = all.withUnsafeBytes { Array($0) }
        #expect(middle == Array(whole[6..<15]))
    }

    @Test(arguments: [
        ("tflite_buffer_index.tflite", "buffer index 99 is out of range"),
        ("tflite_offset_past_end.tflite", "lies beyond the end of the file"),
        ("tflite_huge_vector.tflite", "runs past the end of the file"),
        ("tflite_root_offset.tflite", "root table: offset 4294967040 (+4 bytes) lies outside the file"),
        ("tflite_size_mismatch.tflite", "needs 64 bytes but its buffer holds 16"),
        ("tflite_truncated.tflite", "points past the end of the file"),
    ])
    func hostileFilesGiveOneClearError(_ file: String, _ fragment: String) throws {
        let path = Fixtures.path("tf/hostile/" + file)
        FormatReference.expectError(fragment, path: path) { _ = try ModelFile.open(path) }
    }
}
