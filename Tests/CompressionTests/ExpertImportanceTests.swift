import Foundation
import Testing
@testable import Compression
import WeightFormats
import TestSupport

/// An expert tensor [3 experts, 4 rows, 512 columns] quantized with a per-expert importance matrix, against
/// ggml's bytes for llama-quantize's loop (each expert slice with its own imatrix slice,
/// Tests/Fixtures/make_expert_imatrix.py).
@Suite struct ExpertImportanceTests {
    static let shape = [3, 4, 512]

    static func floats(_ name: String) throws -> [Float] {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("expert_imatrix/" + name)))
        return data.withUnsafeBytes { raw in (0..<(data.count / 4)).map { Float(bitPattern: UInt32(littleEndian: raw.load(fromByteOffset: 4 * $0, as: UInt32.self))) } }
    }

    static func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("expert_imatrix/" + name))))
    }

    func encode(_ type: GGMLType, _ x: [Float], shape: [Int], importance: [Float]) throws -> [UInt8] {
        try x.withUnsafeBufferPointer { xp in
            try importance.withUnsafeBufferPointer { w in
                try LayerEvaluator.encode(LayerSettings(quantize: .gguf(type)), shape: shape, values: xp, importance: w)!.part("blocks").bytes
            }
        }
    }

    @Test(arguments: ["Q3_K", "Q4_K", "Q6_K", "IQ4_XS", "Q4_0"])
    func everyExpertUsesItsOwnWeights(_ name: String) throws {
        let type = GGMLType(name: name)!
        let x = try Self.floats("input.bin"), w = try Self.floats("imatrix.bin")
        let expected = try Self.bytes(name + ".bin")
        #expect(try encode(type, x, shape: Self.shape, importance: w) == expected)
        // The first expert's weights for every expert give other bytes: the fixture can tell them apart.
        let shared = Array(w[0..<512])
        #expect(try encode(type, x, shape: Self.shape, importance: shared) != expected)
        // A piece of experts 1..<3 (how the engine and apply split a large tensor) with its cut of the weights.
        let piece = ExpertImportance.slice(w, shape: Self.shape, rows: 1..<3)!
        #expect(piece == Array(w[512..<1536]))
        let perExpert = expected.count / 3
        #expect(try encode(type, Array(x[2048...]), shape: [2, 4, 512], importance: piece) == Array(expected[perExpert...]))
    }

    @Test func evaluationReconstructsGGMLsBytesAndWeighsEachExpert() throws {
        let x = try Self.floats("input.bin"), w = try Self.floats("imatrix.bin")
        let expected = try Self.bytes("Q4_K.bin")
        var decoded = [Float](repeating: 0, count: x.count)
        try expected.withUnsafeBytes { raw in
            try decoded.withUnsafeMutableBufferPointer {
                try ElementDecoder.decode(raw, dtype: .ggml(.q4_K), byteOrder: .little, count: x.count, into: $0, path: "Q4_K.bin")
            }
        }
        var out = [Float](repeating: 0, count: x.count)
        let e = try x.withUnsafeBufferPointer { xp in
            try w.withUnsafeBufferPointer { wp in
                try out.withUnsafeMutableBufferPointer {
                    try LayerEvaluator.evaluate(LayerSettings(quantize: .gguf(.q4_K)), shape: Self.shape, values: xp, reconstruction: $0, importance: wp)
                }
            }
        }
        #expect(out == decoded)
        // Σ over experts e, rows, columns c of w[e][c]·(x − x̂)², in Double.
        var error = 0.0
        for i in 0..<x.count {
            let e = i / 2048, c = i % 512
            let d = Double(x[i]) - Double(decoded[i])
            error += Double(w[e * 512 + c]) * d * d
        }
        let got = try #require(e.importanceError)
        #expect(abs(got.weightedError - error) <= 1e-12 * error)
    }

    @Test func weightsOfTheWrongLengthAreRefused() throws {
        let x = try Self.floats("input.bin")
        let w = [Float](repeating: 1, count: 1024)   // two experts' worth for three
        #expect(throws: CompressionError.self) { try encode(.q4_K, x, shape: Self.shape, importance: w) }
    }
}
