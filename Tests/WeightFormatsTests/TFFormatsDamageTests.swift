import Foundation
import Testing
@testable import WeightFormats
import TestSupport

/// Damaged copies of the TensorFlow-family fixtures: bytes overwritten at regular positions across the whole
/// file (all ones, all zeros). Each copy must open into a model whose tensors decode, or fail with a
/// `ModelError`; a trap (overflow, out-of-range index) would end the test process.
@Suite("TensorFlow formats: damaged files")
struct TFFormatsDamageTests {
    @Test(arguments: ["tf/generated/keras3_latest.weights.h5", "tf/generated/legacy_split.h5", "tf/generated/chunked.h5",
                      "tf/generated/mixed.tflite", "tf/hostile/bundle_size_lies/variables.index"])
    func overwrittenBytesGiveAModelOrAModelError(_ file: String) throws {
        let original = Array(try Data(contentsOf: URL(fileURLWithPath: Fixtures.path(file))))
        let dir = try TemporaryDirectory()
        let name = (file as NSString).lastPathComponent
        if file.hasSuffix(".index") {
            try FileManager.default.copyItem(atPath: Fixtures.path(file).replacingOccurrences(of: ".index", with: ".data-00000-of-00001"),
                                             toPath: dir.path + "/variables.data-00000-of-00001")
        }
        var errors = 0, models = 0
        let step = max(1, original.count / 250)
        for position in stride(from: 0, to: original.count, by: step) {
            for value: UInt8 in [0xFF, 0x00] where original[position] != value {
                var damaged = original
                damaged[position] = value
                let path = try dir.write(name, damaged)
                do {
                    let model = try ModelFile.open(path)
                    for t in model.tensors { _ = try FormatReference.decodeAll(t, chunk: 1 << 16) }
                    models += 1
                } catch is ModelError {
                    errors += 1
                }
            }
        }
        #expect(errors > 0 && errors + models > 0)
    }
}
