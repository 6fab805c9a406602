import Foundation
import Testing
@testable import WeightFormats
import TestSupport

/// The reference fixtures written by `Tests/Fixtures/make_gguf.py` with gguf-py 0.19.0, and the floats that
/// `gguf.quants.dequantize` computed for them (as float32 bit patterns).
@Suite("GGUF reader")
struct GGUFReaderTests {
    struct ExpectedTensor {
        let name: String
        let type: String
        let shape: [Int]
        let nbytes: Int
        let values: [UInt32]?
    }

    struct ExpectedFile {
        let metadata: [(key: String, type: String, value: MetadataValue)]
        let tensors: [ExpectedTensor]
    }

    struct FixtureError: Error, CustomStringConvertible {
        let description: String
    }

    /// Unwraps a value from expected.json or fails the test with what was missing.
    static func need<T>(_ value: T?, _ what: String) throws -> T {
        guard let value else { throw FixtureError(description: "expected.json: bad or missing \(what)") }
        return value
    }

    static func expected(_ file: String, in json: String = "gguf/expected.json") throws -> ExpectedFile {
        let root = try need(try Fixtures.json(json) as? [String: Any], "root")
        let entry = try need(root[file] as? [String: Any], file)
        let metadata = try need(entry["metadata"] as? [[String: Any]], "metadata").map { m in
            let key = try need(m["key"] as? String, "key")
            let type = try need(m["type"] as? String, "type of \(key)")
            return (key, type, try metadataValue(type: type, json: try need(m["value"], "value of \(key)")))
        }
        let tensors = try need(entry["tensors"] as? [[String: Any]], "tensors").map { t in
            ExpectedTensor(name: try need(t["name"] as? String, "name"), type: try need(t["type"] as? String, "type"),
                           shape: try need(t["shape"] as? [Int], "shape"), nbytes: try need(t["nbytes"] as? Int, "nbytes"),
                           values: (t["values"] as? [NSNumber])?.map { $0.uint32Value })
        }
        return ExpectedFile(metadata: metadata, tensors: tensors)
    }

    /// The script's JSON form: integers as decimal strings, floats as float64 bit patterns in hex, arrays as
    /// `{"element_type", "items"}`.
    static func metadataValue(type: String, json: Any) throws -> MetadataValue {
        switch type {
        case "UINT8", "UINT16", "UINT32", "UINT64":
            return .uint(try need((json as? String).flatMap { UInt64($0) }, "\(type) \(json)"))
        case "INT8", "INT16", "INT32", "INT64":
            return .int(try need((json as? String).flatMap { Int64($0) }, "\(type) \(json)"))
        case "FLOAT32", "FLOAT64":
            return .float(Double(bitPattern: try need((json as? String).flatMap { UInt64($0, radix: 16) }, "\(type) \(json)")))
        case "BOOL":
            return .bool(try need(json as? Bool, "bool \(json)"))
        case "STRING":
            return .string(try need(json as? String, "string \(json)"))
        case "ARRAY":
            let a = try need(json as? [String: Any], "array")
            let elementType = try need(a["element_type"] as? String, "element_type")
            let items = try need(a["items"] as? [Any], "items")
            return .array(try items.map { try metadataValue(type: elementType, json: $0) })
        default:
            throw FixtureError(description: "expected.json: unknown type \(type)")
        }
    }

    static func decodeAll(_ t: Tensor) throws -> [Float] {
        var out = [Float](repeating: .nan, count: t.parameters)
        try t.forEachChunk(elements: 256) { start, values in
            for (i, v) in values.enumerated() { out[start + i] = v }
        }
        return out
    }

    @Test("every tensor decodes bit for bit like gguf-py", arguments: ["all_types.gguf", "v2.gguf"])
    func tensorsMatchReference(file: String) throws {
        let expected = try Self.expected(file)
        let model = try ModelFile.open(Fixtures.path("gguf/" + file))
        #expect(model.format == .gguf)
        #expect(model.tensors.map(\.name) == expected.tensors.map(\.name))
        #expect(expected.tensors.count == 17)
        for (t, e) in zip(model.tensors, expected.tensors) {
            #expect(t.dtype.description == e.type, "\(e.name)")
            #expect(t.shape == e.shape, "\(e.name)")
            #expect(t.byteCount == e.nbytes, "\(e.name)")
            #expect(t.parameters == e.shape.reduce(1, *), "\(e.name)")
            let want = try #require(e.values)
            let got = try Self.decodeAll(t)
            #expect(got.count == want.count)
            var mismatches = 0
            var first: Int?
            for i in 0..<min(got.count, want.count) where got[i].bitPattern != want[i] {
                mismatches += 1
                if first == nil { first = i }
            }
            #expect(mismatches == 0, "\(e.name): \(mismatches) of \(want.count) floats differ, first at \(first.map { "\($0): \(got[$0]) vs \(Float(bitPattern: want[$0]))" } ?? "-")")
        }
    }

    @Test("dtypes: plain ggml types map to plain dtypes, quantized ones stay ggml")
    func dtypes() throws {
        let model = try GGUFReader.open(FileSource(path: Fixtures.path("gguf/all_types.gguf")))
        let byName = Dictionary(uniqueKeysWithValues: model.tensors.map { ($0.name, $0.dtype) })
        #expect(byName["f32"] == .float32)
        #expect(byName["f16"] == .float16)
        #expect(byName["bf16"] == .bfloat16)
        #expect(byName["f64"] == .float64)
        #expect(byName["i8"] == .int8)
        #expect(byName["i16"] == .int16)
        #expect(byName["i32"] == .int32)
        #expect(byName["q8_0"] == .ggml(.q8_0))
        #expect(byName["q4_0"] == .ggml(.q4_0))
        #expect(byName["q4_1"] == .ggml(.q4_1))
        #expect(byName["q5_0"] == .ggml(.q5_0))
        #expect(byName["q5_1"] == .ggml(.q5_1))
        #expect(byName["q2_k"] == .ggml(.q2_K))
        #expect(byName["q3_k"] == .ggml(.q3_K))
        #expect(byName["q4_k"] == .ggml(.q4_K))
        #expect(byName["q5_k"] == .ggml(.q5_K))
        #expect(byName["q6_k"] == .ggml(.q6_K))
        #expect(model.tensors.first { $0.name == "q8_0" }?.shape == [3, 1, 64])
    }

    @Test("metadata: every value and type, in file order", arguments: ["all_types.gguf", "v2.gguf"])
    func metadata(file: String) throws {
        let expected = try Self.expected(file)
        let source = try FileSource(path: Fixtures.path("gguf/" + file))
        let header = try GGUFReader.read(source)
        #expect(header.metadata.map(\.key) == expected.metadata.map(\.key))
        for (got, want) in zip(header.metadata, expected.metadata) {
            #expect(got.type.description == want.type, "\(want.key)")
            #expect(got.value == want.value, "\(want.key)")
        }
        let model = try GGUFReader.open(source)
        #expect(model.metadata.map(\.key) == expected.metadata.map(\.key))
        #expect(model.metadata.map(\.value) == expected.metadata.map(\.value))
        // Spot checks that do not depend on the JSON decoding above.
        let m = Dictionary(uniqueKeysWithValues: model.metadata.map { ($0.key, $0.value) })
        #expect(m["test.u64"] == .uint(UInt64.max))
        #expect(m["test.i64"] == .int(Int64.min))
        #expect(m["test.i8"] == .int(-100))
        #expect(m["test.f32"] == .float(3.140625))
        #expect(m["test.f32_inexact"] == .float(Double(Float(0.1))))
        #expect(m["test.f64"] == .float(2.718281828459045))
        #expect(m["test.true"] == .bool(true))
        #expect(m["test.false"] == .bool(false))
        #expect(m["test.string"] == .string("héllo, GGUF ✓"))
        #expect(m["test.empty_string"] == .string(""))
        #expect(m["test.strings"] == .array([.string("<s>"), .string("</s>"), .string("▁the"), .string(""), .string("日本")]))
        #expect(m["test.nested"] == .array([.array([.int(1), .int(2), .int(3)]), .array([.int(-4)]), .array([.int(5), .int(6)])]))
        #expect(m["test.bools"] == .array([.bool(true), .bool(false), .bool(true)]))
        let types = Set(header.metadata.map(\.type))
        #expect(types == Set(GGUFValueType.allCases), "the fixture holds every KV value type")
    }

    @Test("alignment 64 is honoured: data section and every tensor start on 64-byte boundaries")
    func alignment() throws {
        let source = try FileSource(path: Fixtures.path("gguf/all_types.gguf"))
        let header = try GGUFReader.read(source)
        #expect(header.alignment == 64)
        #expect(header.dataOffset % 64 == 0)
        #expect(header.tensors.allSatisfy { $0.offset % 64 == 0 })
        // Some tensor sizes are not multiples of 64, so 64-byte padding (not 32) is what puts them where they are.
        #expect(header.tensors.contains { $0.byteCount % 64 != 0 })
        let model = try GGUFReader.open(source)
        for (t, info) in zip(model.tensors, header.tensors) {
            let slice = try #require(t.data as? SliceSource)
            #expect(slice.offset == header.dataOffset + info.offset)
            #expect(slice.size == UInt64(t.byteCount))
        }
        let undecodable = try GGUFReader.read(FileSource(path: Fixtures.path("gguf/undecodable.gguf")))
        #expect(undecodable.alignment == 32)
        #expect(undecodable.dataOffset % 32 == 0)
    }

    @Test("a v2 file reads like its v3 twin")
    func version2() throws {
        let v2 = try GGUFReader.read(FileSource(path: Fixtures.path("gguf/v2.gguf")))
        let v3 = try GGUFReader.read(FileSource(path: Fixtures.path("gguf/all_types.gguf")))
        #expect(v2.version == 2)
        #expect(v3.version == 3)
        #expect(v2.tensors == v3.tensors)
        #expect(v2.metadata == v3.metadata)
        #expect(v2.dataOffset == v3.dataOffset)
    }

    @Test("undecodable types are listed with correct geometry; decoding them throws")
    func undecodable() throws {
        let expected = try Self.expected("undecodable.gguf")
        let model = try ModelFile.open(Fixtures.path("gguf/undecodable.gguf"))
        #expect(model.tensors.map(\.name) == ["q8_k", "q1_0", "f32_after"])
        for (t, e) in zip(model.tensors, expected.tensors) {
            #expect(t.dtype.description == e.type)
            #expect(t.shape == e.shape)
            #expect(t.byteCount == e.nbytes)
        }
        for t in model.tensors.dropLast() {
            guard case .ggml(let type) = t.dtype else {
                Issue.record("\(t.name) should be a ggml block type")
                continue
            }
            #expect(!GGMLDequantizer.canDecode(type))
            let error = try #require(throws: ModelError.self) { try Self.decodeAll(t) }
            #expect(error.reason == "cannot decode \(type.name) yet")
            #expect(error.path == model.path)
        }
        // The tensor after them is still readable.
        let last = try #require(model.tensors.last)
        let want = try #require(expected.tensors.last?.values)
        #expect(try Self.decodeAll(last).map(\.bitPattern) == want)
    }

    @Test("canDecode covers exactly the legacy, K-quant, IQ, TQ and FP4 types")
    func canDecode() {
        let decodable: Set<String> = ["Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K",
                                      "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ3_XXS", "IQ3_S", "IQ1_S", "IQ1_M",
                                      "IQ4_NL", "IQ4_XS", "TQ1_0", "TQ2_0", "MXFP4", "NVFP4"]
        for t in GGMLType.all {
            #expect(GGMLDequantizer.canDecode(t) == decodable.contains(t.name), "\(t.name)")
        }
    }

    @Test("decoding in partial, block-aligned ranges gives the same floats as the whole tensor")
    func partialRanges() throws {
        let model = try GGUFReader.open(FileSource(path: Fixtures.path("gguf/all_types.gguf")))
        for t in model.tensors where t.dtype.blockSize > 1 {
            let whole = try Self.decodeAll(t)
            let b = t.dtype.blockSize
            let start = b, end = t.parameters - b
            guard start < end else { continue }
            var out = [Float](repeating: 0, count: end - start)
            try out.withUnsafeMutableBufferPointer { try t.decode(start..<end, into: $0) }
            #expect(out.map(\.bitPattern) == whole[start..<end].map(\.bitPattern), "\(t.name)")
        }
    }

    @Test("a header larger than the 64 KiB read window: long strings and big arrays across window edges")
    func largeHeader() throws {
        let long = String(repeating: "ab✓", count: 40_000)              // 200 000 bytes, more than one window
        let tokens = (0..<20_000).map { "tok\($0)" }
        var w = ByteWriter()
        w.text("GGUF"); w.u32(3); w.u64(2); w.u64(4)
        func str(_ s: String) { w.u64(UInt64(s.utf8.count)); w.text(s) }
        str("a.long"); w.u32(8); str(long)
        str("a.tokens"); w.u32(9); w.u32(8); w.u64(UInt64(tokens.count)); tokens.forEach(str)
        str("a.scores"); w.u32(9); w.u32(6); w.u64(30_000); for i in 0..<30_000 { w.f32(Float(i) / 4) }
        str("a.after"); w.u32(11); w.u64(UInt64(bitPattern: -5))
        str("t.one"); w.u32(1); w.u64(4); w.u32(0); w.u64(0)
        str("t.two"); w.u32(2); w.u64(32); w.u64(1); w.u32(8); w.u64(32)
        while w.bytes.count % 32 != 0 { w.u8(0) }
        for v: Float in [1, -2, 3.5, 0.25] { w.f32(v) }
        w.raw([UInt8](repeating: 0, count: 16))
        w.raw([0x00, 0x3C] + (0..<32).map { UInt8(bitPattern: Int8($0 - 16)) })   // Q8_0, d = 1.0
        #expect(w.bytes.count > 3 * GGUFCursor.windowSize)

        let dir = try TemporaryDirectory()
        let model = try ModelFile.open(try dir.write("large.gguf", w.bytes))
        #expect(model.metadata.map(\.key) == ["a.long", "a.tokens", "a.scores", "a.after"])
        #expect(model.metadata[0].value == .string(long))
        #expect(model.metadata[1].value == .array(tokens.map { .string($0) }))
        #expect(model.metadata[2].value == .array((0..<30_000).map { .float(Double(Float($0) / 4)) }))
        #expect(model.metadata[3].value == .int(-5))
        #expect(model.tensors.map(\.name) == ["t.one", "t.two"])
        #expect(try Self.decodeAll(model.tensors[0]) == [1, -2, 3.5, 0.25])
        #expect(model.tensors[1].shape == [1, 32])
        #expect(try Self.decodeAll(model.tensors[1]) == (0..<32).map { Float($0 - 16) })
    }

    @Test("ModelFile.open dispatches a .gguf path (and a GGUF without the extension) to the GGUF reader")
    func dispatch() throws {
        let model = try ModelFile.open(Fixtures.path("gguf/all_types.gguf"))
        #expect(model.format == .gguf)
        #expect(model.tensors.count == 17)
        let dir = try TemporaryDirectory()
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Fixtures.path("gguf/undecodable.gguf"))))
        let renamed = try dir.write("weights.bin", bytes)
        #expect(try ModelFile.open(renamed).format == .gguf)
    }
}
