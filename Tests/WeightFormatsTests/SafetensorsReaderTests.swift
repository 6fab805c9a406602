import Foundation
import Testing
@testable import WeightFormats
import TestSupport

/// Files written by `safetensors.numpy.save_file` (and one hand-made BF16/F8 file the reference accepts),
/// compared against numpy's values and statistics in `Tests/Fixtures/safetensors/expected.json`.
@Suite("Safetensors reader")
struct SafetensorsReaderTests {
    static let singleFiles = ["dtypes.safetensors", "shapes.safetensors", "bf16_f8.safetensors"]

    @Test("matches the reference values", arguments: singleFiles)
    func referenceFile(_ file: String) throws {
        let expected = try #require(try FormatReference.expected("safetensors")[file])
        let model = try SafetensorsReader.open(try FileSource(path: Fixtures.path("safetensors/" + file)))
        #expect(model.format == .safetensors)
        try FormatReference.check(model, against: expected, context: file)
    }

    @Test("every safetensors dtype is covered by the fixtures")
    func everyDtype() throws {
        let expected = try FormatReference.expected("safetensors")
        var seen = Set<String>()
        for file in Self.singleFiles {
            for t in try FormatReference.tensors(try #require(expected[file])) { seen.insert(t["dtype"] as? String ?? "") }
        }
        let all: Set<String> = ["F64", "F32", "F16", "BF16", "F8_E4M3", "F8_E5M2", "I8", "U8", "I16", "U16",
                                "I32", "U32", "I64", "U64", "BOOL"]
        #expect(all.isSubset(of: seen), "missing: \(all.subtracting(seen))")
    }

    @Test("__metadata__ is kept as string metadata in header order")
    func metadata() throws {
        let model = try SafetensorsReader.open(try FileSource(path: Fixtures.path("safetensors/dtypes.safetensors")))
        let expected = try #require(try FormatReference.expected("safetensors")["dtypes.safetensors"]?["metadata"] as? [String: String])
        var got: [String: String] = [:]
        for kv in model.metadata {
            guard case .string(let s) = kv.value else { Issue.record("non-string metadata \(kv.key)"); continue }
            got[kv.key] = s
        }
        #expect(got == expected)
        #expect(model.metadata.count == expected.count)
    }

    @Test("0-d, 1-d, 3-d and empty tensors")
    func oddShapes() throws {
        let model = try SafetensorsReader.open(try FileSource(path: Fixtures.path("safetensors/shapes.safetensors")))
        let byName = Dictionary(uniqueKeysWithValues: model.tensors.map { ($0.name, $0) })
        let scalar = try #require(byName["scalar"])
        #expect(scalar.shape == [])
        #expect(scalar.parameters == 1)
        #expect(try FormatReference.decodeAll(scalar) == [2.5])
        #expect(try #require(byName["empty"]).parameters == 0)
        #expect(try #require(byName["cube"]).shape == [3, 5, 7])
    }

    @Test("tensors are listed in data-offset order, not header or name order")
    func offsetOrder() throws {
        let dir = try TemporaryDirectory()
        let header = #"{"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"__metadata__":{"k":"v"},"# +
            #""a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"e":{"dtype":"U8","shape":[0],"data_offsets":[8,8]}}   "#
        let path = try dir.write("order.safetensors", FormatReference.safetensors(header, data: FormatReference.f32Bytes([1, 2])))
        let model = try SafetensorsReader.open(try FileSource(path: path))
        #expect(model.tensors.map(\.name) == ["a", "b", "e"])
        #expect(try FormatReference.decodeAll(model.tensors[1]) == [2])
        #expect(model.metadata.count == 1)
    }

    @Test("a sharded model opens every shard through its index")
    func sharded() throws {
        let file = "sharded/model.safetensors.index.json"
        let expected = try #require(try FormatReference.expected("safetensors")[file])
        let model = try SafetensorsIndexReader.open(Fixtures.path("safetensors/" + file))
        try FormatReference.check(model, against: expected, context: file)
        let meta = Dictionary(model.metadata.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        let total = try #require((expected["metadata"] as? [String: Any])?["total_size"] as? Int)
        #expect(meta["total_size"] == .int(Int64(total)))
        #expect(meta["format"] == .string("pt"))
        let shards = try SafetensorsIndexReader.shardNames(inIndex: Fixtures.path("safetensors/" + file))
        #expect(shards == ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"])
    }

    @Test("ModelFile.open dispatches safetensors files, indexes and directories")
    func dispatch() throws {
        let single = try ModelFile.open(Fixtures.path("safetensors/dtypes.safetensors"))
        #expect(single.format == .safetensors)
        #expect(single.tensors.count == 12)
        let index = try ModelFile.open(Fixtures.path("safetensors/sharded/model.safetensors.index.json"))
        #expect(index.format == .safetensors)
        #expect(index.tensors.count == 4)
        let directory = try ModelFile.open(Fixtures.path("safetensors/sharded"))
        #expect(directory.format == .directory)
        #expect(directory.tensors.count == 4)   // shards are opened once, through the index
    }

    @Test("a header padded with spaces and an empty model are accepted")
    func paddingAndEmpty() throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write("empty.safetensors", FormatReference.safetensors("{}      "))
        let model = try SafetensorsReader.open(try FileSource(path: path))
        #expect(model.tensors.isEmpty)
    }
}
