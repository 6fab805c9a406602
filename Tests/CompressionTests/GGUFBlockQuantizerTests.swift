import Foundation
import Testing
@testable import Compression
import WeightFormats
import TestSupport

@Suite struct GGUFBlockQuantizerTests {
    @Test func bytesEqualGGUFPy() throws {
        let list = CompressionReference.json["gguf"] as! [[String: Any]]
        #expect(list.count == 20)
        for entry in list {
            let t = GGMLType(name: entry["type"] as! String)!
            let w = try CompressionReference.input(entry["input"] as! String)
            let expected = try CompressionReference.bytes("outputs/" + (entry["bytes"] as! String))
            let got = w.withUnsafeBufferPointer { GGUFBlockQuantizer.quantize($0, type: t) }
            #expect(got.count == expected.count)
            let firstDiff = zip(got, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset
            #expect(got == expected, "\(t.name) of \(entry["input"]!): first differing byte \(firstDiff.map(String.init) ?? "-")")
        }
    }

    @Test func dequantizedThroughElementDecoderEqualsGGUFPy() throws {
        for entry in CompressionReference.json["gguf"] as! [[String: Any]] {
            let t = GGMLType(name: entry["type"] as! String)!
            let w = try CompressionReference.input(entry["input"] as! String)
            let expected = try CompressionReference.floats("outputs/" + (entry["dequant"] as! String))
            var got = [Float](repeating: .nan, count: w.count)
            try w.withUnsafeBufferPointer { wp in
                try got.withUnsafeMutableBufferPointer { try GGUFBlockQuantizer.fakeQuantize(wp, type: t, into: $0) }
            }
            #expect(CompressionReference.mismatches(got, expected).isEmpty, "\(t.name) of \(entry["input"]!)")
        }
    }

    @Test func edgeBlocks() throws {
        // All zeros, a single spike, negative extremes and ties of the extreme magnitude.
        var w = [Float](repeating: 0, count: 32 * 4)
        w[33] = 1
        for i in 64..<96 { w[i] = Float(i - 80) / 16 }
        w[96] = -2; w[97] = 2
        for t in GGUFBlockQuantizer.supported where t.blockSize == 32 {
            let bytes = w.withUnsafeBufferPointer { GGUFBlockQuantizer.quantize($0, type: t) }
            #expect(bytes.count == 4 * t.typeSize)
            var out = [Float](repeating: .nan, count: w.count)
            try w.withUnsafeBufferPointer { wp in
                try out.withUnsafeMutableBufferPointer { try GGUFBlockQuantizer.fakeQuantize(wp, type: t, into: $0) }
            }
            #expect(out[0..<32].allSatisfy { $0 == 0 }, "\(t.name): an all-zero block stays zero")
            #expect(out.allSatisfy { $0.isFinite })
        }
    }

    @Test func validationRejectsUnsupportedTypesAndShapes() {
        #expect(throws: CompressionError.self) {
            try LayerEvaluator.validate(LayerSettings(quantize: .gguf(.iq2_XXS)), shape: [4, 256])
        }
        #expect(throws: CompressionError.self) {
            try LayerEvaluator.validate(LayerSettings(quantize: .gguf(.q8_0)), shape: [4, 48])
        }
    }
}
