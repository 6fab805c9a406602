import Foundation
import Testing
@testable import WeightFormats
import TestSupport

/// Reference values for the TensorFlow-family readers: `Tests/Fixtures/tf/expected.json`, written by
/// `make_keras_tflite.py` from h5py, the tflite schema package and numpy. Each tensor is checked exactly:
/// name, shape, dtype shown, stored form, and FNV-1a 64 of every value as little-endian float32.
enum TFReference {
    static func expected(_ file: String) throws -> [[String: Any]] {
        let all = try #require(Fixtures.json("tf/expected.json") as? [String: [[String: Any]]])
        return try #require(all[file], "no reference for \(file)")
    }

    /// FNV-1a 64 over the little-endian bytes of `values` (the generator's `fnv`).
    static func fnv(_ values: [Float]) -> String {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for v in values {
            let bits = v.bitPattern.littleEndian
            for k in 0..<4 {
                h ^= UInt64((bits >> (8 * UInt32(k))) & 0xFF)
                h = h &* 0x100_0000_01B3
            }
        }
        return String(format: "%016llx", h)
    }

    static func check(_ model: Model, against file: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let refs = try expected(file)
        #expect(model.tensors.map(\.name) == refs.compactMap { $0["name"] as? String }, "\(file): tensor order",
                sourceLocation: sourceLocation)
        guard model.tensors.count == refs.count else { return }
        for (t, r) in zip(model.tensors, refs) {
            let name = t.name
            #expect(t.shape == r["shape"] as? [Int], "\(file): \(name) shape", sourceLocation: sourceLocation)
            #expect(t.dtype.description == r["dtype"] as? String, "\(file): \(name) dtype", sourceLocation: sourceLocation)
            #expect(t.storedAs == r["stored"] as? String, "\(file): \(name) stored", sourceLocation: sourceLocation)
            let values = try FormatReference.decodeAll(t)
            #expect(values.count == r["count"] as? Int, "\(file): \(name) count", sourceLocation: sourceLocation)
            let first = (r["first"] as? [Double] ?? []).map { Float($0) }
            #expect(Array(values.prefix(first.count)) == first, "\(file): \(name) first values", sourceLocation: sourceLocation)
            #expect(fnv(values) == r["fnv"] as? String, "\(file): \(name) values", sourceLocation: sourceLocation)
        }
    }
}
