import Foundation
import Testing
@testable import WeightFormats
import TestSupport

/// The IQ, TQ and FP4 block types against the fixtures `Tests/Fixtures/make_gguf_iq.py` wrote with gguf-py
/// 0.19.0: `iq_types.gguf` (random blocks) with `expected_iq.json` (the float32 bit patterns
/// `gguf.quants.dequantize` computed for them), and `iq_grids.gguf` (blocks that read every grid row once) with
/// `iq_grids.npz` (gguf-py's floats for those).
@Suite("GGUF IQ, TQ and FP4 types")
struct GGUFIQuantTests {
    static let file = "iq_types.gguf"
    static let json = "gguf/expected_iq.json"

    static func expected() throws -> GGUFReaderTests.ExpectedFile {
        try GGUFReaderTests.expected(file, in: json)
    }

    @Test("every tensor decodes bit for bit like gguf-py")
    func tensorsMatchReference() throws {
        let expected = try Self.expected()
        let model = try ModelFile.open(Fixtures.path("gguf/" + Self.file))
        #expect(model.format == .gguf)
        #expect(model.tensors.map(\.name) == expected.tensors.map(\.name))
        #expect(expected.tensors.map(\.type) == ["IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ3_XXS", "IQ3_S", "IQ1_S", "IQ1_M",
                                                 "IQ4_NL", "IQ4_XS", "TQ1_0", "TQ2_0", "MXFP4", "NVFP4"])
        for (t, e) in zip(model.tensors, expected.tensors) {
            #expect(t.dtype.description == e.type, "\(e.name)")
            #expect(t.shape == e.shape, "\(e.name)")
            #expect(t.byteCount == e.nbytes, "\(e.name)")
            let want = try #require(e.values)
            let got = try GGUFReaderTests.decodeAll(t)
            #expect(got.count == want.count, "\(e.name)")
            var mismatches = 0
            var first: Int?
            for i in 0..<min(got.count, want.count) where got[i].bitPattern != want[i] {
                mismatches += 1
                if first == nil { first = i }
            }
            #expect(mismatches == 0, "\(e.name): \(mismatches) of \(want.count) floats differ, first at \(first.map { "\($0): \(got[$0]) vs \(Float(bitPattern: want[$0]))" } ?? "-")")
        }
    }

    @Test("every grid row of every IQ grid type decodes like gguf-py (iq_grids.gguf against iq_grids.npz)")
    func everyGridRow() throws {
        let blocks = try ModelFile.open(Fixtures.path("gguf/iq_grids.gguf"))
        let reference = try ModelFile.open(Fixtures.path("gguf/iq_grids.npz"))
        let names = ["iq2_xxs", "iq2_xs", "iq2_s", "iq3_xxs", "iq3_s", "iq1_s", "iq1_m"]
        #expect(blocks.tensors.map(\.name) == names)
        #expect(reference.tensors.map(\.name).sorted() == names.sorted())
        let rows = ["iq2_xxs": 256, "iq2_xs": 512, "iq2_s": 1024, "iq3_xxs": 256, "iq3_s": 512, "iq1_s": 2048,
                    "iq1_m": 2048]
        for t in blocks.tensors {
            let ref = try #require(reference.tensors.first { $0.name == t.name }, "\(t.name) in iq_grids.npz")
            #expect(ref.dtype == .float32)
            let want = try GGUFReaderTests.decodeAll(ref).map(\.bitPattern)
            let got = try GGUFReaderTests.decodeAll(t).map(\.bitPattern)
            let width = t.name.hasPrefix("iq3") ? 4 : 8
            #expect(got.count == (rows[t.name] ?? 0) * width, "\(t.name)")
            let bad = (0..<min(got.count, want.count)).filter { got[$0] != want[$0] }.map { $0 / width }
            #expect(got.count == want.count && bad.isEmpty, "\(t.name): rows \(Set(bad).sorted().prefix(8)) differ")
        }
    }

    @Test("the fixture reaches the edge cases: MXFP4 overflows to ±infinity, NVFP4 zero scales give zeros")
    func edgeCasesAreCovered() throws {
        let expected = try Self.expected()
        func floats(_ name: String) throws -> [Float] {
            try #require(expected.tensors.first { $0.name == name }?.values).map { Float(bitPattern: $0) }
        }
        #expect(try floats("mxfp4").contains { $0.isInfinite })
        #expect(try floats("mxfp4").contains { $0.isSubnormal })
        #expect(try floats("nvfp4").prefix(16).allSatisfy { $0 == 0 })        // scale byte 0x00
    }

    @Test("dtypes: each tensor is its ggml block type")
    func dtypes() throws {
        let model = try GGUFReader.open(FileSource(path: Fixtures.path("gguf/" + Self.file)))
        let byName = Dictionary(uniqueKeysWithValues: model.tensors.map { ($0.name, $0.dtype) })
        #expect(byName["iq2_xxs"] == .ggml(.iq2_XXS))
        #expect(byName["iq2_xs"] == .ggml(.iq2_XS))
        #expect(byName["iq2_s"] == .ggml(.iq2_S))
        #expect(byName["iq3_xxs"] == .ggml(.iq3_XXS))
        #expect(byName["iq3_s"] == .ggml(.iq3_S))
        #expect(byName["iq1_s"] == .ggml(.iq1_S))
        #expect(byName["iq1_m"] == .ggml(.iq1_M))
        #expect(byName["iq4_nl"] == .ggml(.iq4_NL))
        #expect(byName["iq4_xs"] == .ggml(.iq4_XS))
        #expect(byName["tq1_0"] == .ggml(.tq1_0))
        #expect(byName["tq2_0"] == .ggml(.tq2_0))
        #expect(byName["mxfp4"] == .ggml(.mxfp4))
        #expect(byName["nvfp4"] == .ggml(.nvfp4))
    }

    @Test("decoding in partial, block-aligned ranges gives the same floats as the whole tensor")
    func partialRanges() throws {
        let model = try GGUFReader.open(FileSource(path: Fixtures.path("gguf/" + Self.file)))
        for t in model.tensors {
            let whole = try GGUFReaderTests.decodeAll(t)
            let b = t.dtype.blockSize
            try #require(t.parameters >= 2 * b, "\(t.name) needs at least 2 blocks")
            for range in [b..<t.parameters, 0..<(t.parameters - b)] {
                var out = [Float](repeating: 0, count: range.count)
                try out.withUnsafeMutableBufferPointer { try t.decode(range, into: $0) }
                #expect(out.map(\.bitPattern) == whole[range].map(\.bitPattern), "\(t.name) \(range)")
            }
        }
    }

    @Test("the type table matches gguf-py's; canDecode is exactly the block types gguf-py dequantizes")
    func typeTableMatchesGGUFPy() throws {
        let root = try #require(try Fixtures.json(Self.json) as? [String: Any])
        let types = try #require(root["ggml_types"] as? [[String: Any]])
        #expect(types.count == GGMLType.all.count)
        // gguf-py 0.19.0 still sizes Q8_1 as 40 bytes (the old float d, s layout); ggml's block_q8_1 holds two
        // halves and 32 int8: 36 bytes, which is what GGUF files written by llama.cpp use.
        let ggmlSize = ["Q8_1": 36]
        for entry in types {
            let id = try #require(entry["id"] as? Int), name = try #require(entry["name"] as? String)
            let t = try #require(GGMLType(id: UInt32(id)), "gguf-py knows type \(id) \(name)")
            #expect(t.name == name)
            #expect(t.blockSize == entry["block_size"] as? Int, "\(name)")
            #expect(t.typeSize == ggmlSize[name] ?? entry["type_size"] as? Int, "\(name)")
            // Plain types (block size 1) go through ElementDecoder, not the block dequantizer.
            if t.blockSize > 1 {
                #expect(GGMLDequantizer.canDecode(t) == (entry["dequantizes"] as? Bool), "\(name)")
            }
        }
    }

    @Test("a buffer too short for the blocks is one clear error, for every new type")
    func shortBuffer() throws {
        for t in [GGMLType.iq2_XXS, .iq2_XS, .iq2_S, .iq3_XXS, .iq3_S, .iq1_S, .iq1_M, .iq4_NL, .iq4_XS,
                  .tq1_0, .tq2_0, .mxfp4, .nvfp4] {
            let raw = [UInt8](repeating: 0, count: 2 * t.typeSize - 1)
            var out = [Float](repeating: 0, count: 2 * t.blockSize)
            let error = try #require(throws: ModelError.self) {
                try raw.withUnsafeBytes { r in
                    try out.withUnsafeMutableBufferPointer { o in
                        try GGMLDequantizer.dequantize(r, type: t, count: 2 * t.blockSize, into: o, path: "x.gguf")
                    }
                }
            }
            #expect(error.reason == "\(t.name): 2 blocks need \(2 * t.typeSize) bytes, got \(2 * t.typeSize - 1)")
        }
    }
}
