import Foundation
import Testing
@testable import Compression
import WeightFormats
import TestSupport

/// Importance matrices in llama.cpp's GGUF and legacy formats (Tests/Fixtures/make_imatrix.py wrote both with
/// gguf-py / struct, and ggml's Q4_K bytes with the weights llama-quantize derives from the GGUF file).
@Suite struct ImportanceMatrixTests {
    nonisolated(unsafe) static let reference: [String: Any] = {
        (try? Fixtures.json("imatrix/reference.json")) as? [String: Any] ?? [:]
    }()

    static func expected(_ key: String) -> [String: [Float]] {
        ((reference[key] as? [String: [Double]]) ?? [:]).mapValues { $0.map { Float($0) } }
    }

    @Test func ggufFileGivesLlamaQuantizesWeights() throws {
        let m = try ImportanceMatrix.load(path: Fixtures.path("imatrix/small.imatrix.gguf"))
        let expected = Self.expected("gguf")
        #expect(expected.count == 3)
        #expect(m.entries.keys.sorted() == expected.keys.sorted())
        for (name, values) in expected { #expect(m.entries[name] == values, "\(name)") }
        #expect(m.datasets == ["calibration.txt"] && m.chunkCount == 5)
        // An expert with count 0 gets weights of 1.
        #expect(m.entries["blk.0.ffn_up_exps.weight"]?[256..<512].allSatisfy { $0 == 1 } == true)
        #expect(try m.weights(for: "blk.0.ffn_up_exps.weight", columns: 256, experts: 3)?.count == 768)
        #expect(try m.weights(for: "blk.9.attn_q.weight", columns: 512) == nil)
        #expect(throws: ModelError.self) { try m.weights(for: "blk.0.attn_q.weight", columns: 256) }
    }

    @Test func legacyFileGivesLlamaQuantizesWeights() throws {
        let m = try ImportanceMatrix.load(path: Fixtures.path("imatrix/small.imatrix.dat"))
        let expected = Self.expected("dat")
        #expect(expected.count == 2)
        #expect(m.entries.keys.sorted() == expected.keys.sorted())
        for (name, values) in expected { #expect(m.entries[name] == values, "\(name)") }
        #expect(m.datasets == ["calibration.txt"] && m.chunkCount == 5)
    }

    @Test func badFilesAreOneClearError() throws {
        let dir = try TemporaryDirectory()
        let truncated = try dir.write("t.dat", [2, 0, 0, 0, 5, 0, 0, 0, 0x61])
        #expect(throws: ModelError.self) { try ImportanceMatrix.load(path: truncated) }
        let model = Fixtures.path("gguf/all_types.gguf")
        #expect { try ImportanceMatrix.load(path: model) } throws: { e in
            (e as? ModelError)?.reason.contains("missing imatrix metadata") == true
        }
    }

    @Test func quantizingWithTheFilesWeightsGivesGGMLsBytesAndItsWeightedError() throws {
        let m = try ImportanceMatrix.load(path: Fixtures.path("imatrix/small.imatrix.gguf"))
        let w = try #require(try m.weights(for: "blk.0.attn_q.weight", columns: 512))
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("imatrix/attn_q.bin")))
        let x: [Float] = data.withUnsafeBytes { raw in (0..<(data.count / 4)).map { raw.load(fromByteOffset: 4 * $0, as: Float.self) } }
        let expected = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("imatrix/attn_q.Q4_K.bin"))))
        let got = x.withUnsafeBufferPointer { xp in w.withUnsafeBufferPointer { GGUFBlockQuantizer.quantize(xp, type: .q4_K, rowLength: 512, importance: $0) } }
        #expect(got == expected)
        let unweighted = x.withUnsafeBufferPointer { GGUFBlockQuantizer.quantize($0, type: .q4_K) }
        #expect(unweighted != expected)
        var xhat = [Float](repeating: 0, count: x.count)
        try got.withUnsafeBytes { raw in
            try xhat.withUnsafeMutableBufferPointer {
                try ElementDecoder.decode(raw, dtype: .ggml(.q4_K), byteOrder: .little, count: x.count, into: $0, path: "q4_k")
            }
        }
        let e = x.withUnsafeBufferPointer { xp in xhat.withUnsafeBufferPointer { hp in w.withUnsafeBufferPointer {
            ImportanceWeightedError(original: xp, reconstructed: hp, weights: $0)
        } } }
        let ref = try #require(Self.reference["attn_q"] as? [String: Any])
        let mse = try #require(ref["weighted_mse"] as? Double), sqnr = try #require(ref["weighted_sqnr_db"] as? Double)
        #expect(abs(e.mse - mse) <= 1e-12 * mse)
        #expect(abs(e.sqnrDB - sqnr) <= 1e-9)
    }

    @Test func layerEvaluatorUsesTheImportancePathAndReportsTheWeightedError() throws {
        let m = try ImportanceMatrix.load(path: Fixtures.path("imatrix/small.imatrix.gguf"))
        let w = try #require(try m.weights(for: "blk.0.attn_q.weight", columns: 512))
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("imatrix/attn_q.bin")))
        let x: [Float] = data.withUnsafeBytes { raw in (0..<(data.count / 4)).map { raw.load(fromByteOffset: 4 * $0, as: Float.self) } }
        let expected = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("imatrix/attn_q.Q4_K.bin"))))
        let settings = LayerSettings(quantize: .gguf(.q4_K))
        let encoded = try x.withUnsafeBufferPointer { xp in
            try w.withUnsafeBufferPointer { try LayerEvaluator.encode(settings, shape: [4, 512], values: xp, importance: $0) }
        }
        #expect(encoded?.parts.first?.bytes == expected)
        let evaluation = try x.withUnsafeBufferPointer { xp in
            try w.withUnsafeBufferPointer { try LayerEvaluator.evaluate(settings, shape: [4, 512], values: xp, importance: $0) }
        }
        let ref = try #require(Self.reference["attn_q"] as? [String: Any])
        let sqnr = try #require(ref["weighted_sqnr_db"] as? Double)
        let e = try #require(evaluation.importanceError)
        #expect(abs(e.sqnrDB - sqnr) <= 1e-9)
        #expect(throws: CompressionError.self) {
            try x.withUnsafeBufferPointer { xp in
                try w.withUnsafeBufferPointer { try LayerEvaluator.evaluate(settings, shape: [8, 256], values: xp, importance: $0) }
            }
        }
    }

    /// A safetensors file holding the fixture's attn_q tensor under its GGUF name, and a Q4_K plan.
    static func modelAndPlan(_ dir: TemporaryDirectory) throws -> (model: String, plan: String) {
        let data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("imatrix/attn_q.bin"))))
        var header = Array(#"{"blk.0.attn_q.weight":{"dtype":"F32","shape":[4,512],"data_offsets":[0,8192]}}"#.utf8)
        while header.count % 8 != 0 { header.append(0x20) }
        var file = withUnsafeBytes(of: UInt64(header.count).littleEndian) { Array($0) }
        file += header + data
        let model = try dir.write("m.safetensors", file)
        let plan = try dir.write("p.json", text: #"{"version": 1, "default": {"quantize": {"format": "gguf", "type": "q4_k"}}}"#)
        return (model, plan)
    }

    @Test func reportNumbersUseTheImportanceMatrix() throws {
        let dir = try TemporaryDirectory()
        let (model, plan) = try Self.modelAndPlan(dir)
        let weighted = try PlanEvaluation(modelPath: model, planPath: plan, imatrixPath: Fixtures.path("imatrix/small.imatrix.gguf"))
        let plain = try PlanEvaluation(modelPath: model, planPath: plan)
        let ref = try #require(Self.reference["attn_q"] as? [String: Any])
        let sqnr = try #require(ref["weighted_sqnr_db"] as? Double)
        let e = try #require(weighted.importanceErrors[0])
        #expect(abs(e.sqnrDB - sqnr) <= 1e-9)
        #expect(weighted.importanceTotal == e)
        #expect(plain.importanceErrors == [nil] && plain.importanceTotal == nil)
        // The imatrix path changes the bytes, so the plain SQNR of the two runs differs.
        #expect(weighted.totals.metrics.sqnrDB != plain.totals.metrics.sqnrDB)
        let bad = try dir.write("short.json", text: "x")
        #expect(throws: (any Error).self) { try PlanEvaluation(modelPath: model, planPath: plan, imatrixPath: bad) }
    }
}
