import Foundation
import Testing
import TestSupport
@testable import WeightFormats

/// The safetensors and GGUF writers, read back through our own readers: every name, dtype, shape, metadata
/// value and stored byte comes back as written; the layout follows the reference writers; bad input is one
/// clear error and no file.
@Suite("Writers round-trip through the readers")
struct WriterRoundTripTests {
    let dir: TemporaryDirectory

    init() throws { dir = try TemporaryDirectory() }

    func read(_ path: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: path))) }

    /// Every stored byte of a tensor, as the reader hands it out.
    func stored(_ t: Tensor) throws -> [UInt8] { try t.data.bytes(at: 0, count: t.byteCount) }

    // MARK: safetensors

    @Test("safetensors", arguments: WriterFixtures.safetensorsFiles.map(\.name))
    func safetensorsRoundTrip(_ name: String) throws {
        let f = try #require(WriterFixtures.safetensorsFiles.first { $0.name == name })
        try WriterFixtures.writeAll(into: dir.path)
        let path = dir.path + "/" + name
        let model = try ModelFile.open(path)
        #expect(model.format == .safetensors)
        #expect(model.metadata.map(\.key) == f.metadata.map(\.key))
        #expect(model.metadata.map(\.value) == f.metadata.map { .string($0.value) })
        #expect(model.tensors.map(\.name) == f.tensors.map(\.name))
        #expect(model.tensors.map(\.dtype) == f.tensors.map(\.dtype))
        #expect(model.tensors.map(\.shape) == f.tensors.map(\.shape))
        for (t, bytes) in zip(model.tensors, f.data) { #expect(try stored(t) == bytes, "\(t.name)") }

        // The reference layout: u64 length, JSON padded with spaces to a multiple of 8, data back to back.
        let file = try read(path)
        let n = Int(file[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
        #expect(n % 8 == 0)
        #expect(file.count == 8 + n + f.data.reduce(0) { $0 + $1.count })
        let json = String(decoding: file[8..<(8 + n)], as: UTF8.self)
        #expect(json.hasPrefix(f.metadata.isEmpty ? "{\"" + f.tensors[0].name.prefix(3) : "{\"__metadata__\":{"))
        #expect(json.trimmingCharacters(in: .whitespaces).hasSuffix("}"))
        #expect(!json.contains("\n"))
    }

    @Test func safetensorsEveryDTypeDecodesToTheWrittenValues() throws {
        try WriterFixtures.writeAll(into: dir.path)
        let model = try ModelFile.open(dir.path + "/dtypes.safetensors")
        #expect(model.tensors.map(\.dtype) == DType.safetensorsTypes)
        for (i, t) in model.tensors.enumerated() where t.isFloating && t.dtype != .float8E4M3 && t.dtype != .float8E5M2 {
            let values = try FormatReference.decodeAll(t)
            #expect(values == (0..<6).map { Float(WriterFixtures.value($0, salt: i)) }, "\(t.dtype)")
        }
    }

    @Test func safetensorsInMemoryEqualsTheFile() throws {
        let f = WriterFixtures.shapes
        var sink = MemorySink()
        try SafetensorsWriter.write(tensors: f.tensors, metadata: f.metadata, to: &sink, path: "mem") { i, s in
            // In several pieces, to show a tensor need not be handed over at once.
            let bytes = f.data[i]
            try s.write(Array(bytes.prefix(bytes.count / 2)))
            try s.write(Array(bytes.dropFirst(bytes.count / 2)))
        }
        try WriterFixtures.writeAll(into: dir.path)
        #expect(sink.bytes == (try read(dir.path + "/shapes.safetensors")))
    }

    @Test func safetensorsErrors() throws {
        let out = dir.path + "/bad.safetensors"
        func refuse(_ reason: String, _ tensors: [SafetensorsWriter.TensorEntry], metadata: [(key: String, value: String)] = [],
                    data: [[UInt8]], sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(throws: ModelError(out, reason), sourceLocation: sourceLocation) {
                try SafetensorsWriter.write(to: out, tensors: tensors, metadata: metadata) { i, s in try s.write(data[i]) }
            }
            #expect(!FileManager.default.fileExists(atPath: out), sourceLocation: sourceLocation)
            #expect((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) == [], sourceLocation: sourceLocation)
        }
        let a = SafetensorsWriter.TensorEntry(name: "a", dtype: .float32, shape: [3])
        refuse("tensor 'a': 8 bytes written, but F32 [3] needs 12", [a], data: [[UInt8](repeating: 0, count: 8)])
        refuse("tensor 'a': 16 bytes written, but F32 [3] needs 12", [a], data: [[UInt8](repeating: 0, count: 16)])
        refuse("tensor 'a' is given twice", [a, a], data: [[], []])
        refuse("tensor 'q': Q4_0 cannot be stored in safetensors",
               [.init(name: "q", dtype: .ggml(.q4_0), shape: [32])], data: [[]])
        refuse("a tensor cannot be named '__metadata__' (the header's metadata key)",
               [.init(name: "__metadata__", dtype: .uint8, shape: [1])], data: [[0]])
        refuse("tensor 'n': shape [2, -1] is negative or overflows the element count",
               [.init(name: "n", dtype: .uint8, shape: [2, -1])], data: [[]])
        refuse("metadata key 'k' is given twice", [a], metadata: [("k", "1"), ("k", "2")], data: [[]])
    }

    // MARK: GGUF

    @Test("GGUF", arguments: WriterFixtures.ggufFiles.map(\.name))
    func ggufRoundTrip(_ name: String) throws {
        let f = try #require(WriterFixtures.ggufFiles.first { $0.name == name })
        try WriterFixtures.writeAll(into: dir.path)
        let path = dir.path + "/" + name
        let header = try GGUFReader.read(try FileSource(path: path))
        #expect(header.version == 3)
        #expect(header.metadata.map(\.key) == f.metadata.map(\.key))
        #expect(header.metadata.map(\.type) == f.metadata.map(\.value.type))
        #expect(header.metadata.map(\.value) == f.metadata.map(\.value.metadataValue))
        let alignment: UInt64 = f.metadata.first { $0.key == "general.alignment" }.map { _ in 64 } ?? 32
        #expect(header.alignment == alignment)
        #expect(header.dataOffset % alignment == 0)

        let model = try ModelFile.open(path)
        #expect(model.format == .gguf)
        #expect(model.tensors.map(\.name) == f.tensors.map(\.name))
        #expect(model.tensors.map(\.shape) == f.tensors.map(\.shape))
        #expect(model.tensors.map(\.dtype) == f.tensors.map { DType(ggml: $0.type) })
        for (t, bytes) in zip(model.tensors, f.data) { #expect(try stored(t) == bytes, "\(t.name)") }

        // ne is the row-major shape reversed; offsets are the running sum of padded sizes.
        #expect(header.tensors.map(\.dims) == f.tensors.map { Array($0.shape.reversed()) })
        var offset: UInt64 = 0
        for (info, bytes) in zip(header.tensors, f.data) {
            #expect(info.offset == offset, "\(info.name)")
            offset += (UInt64(bytes.count) + alignment - 1) / alignment * alignment
        }
        #expect(UInt64(try read(path).count) == header.dataOffset + offset, "the last tensor is padded too")
    }

    @Test func ggufBlockTypesDecodeThroughTheReader() throws {
        try WriterFixtures.writeAll(into: dir.path)
        let model = try ModelFile.open(dir.path + "/kv_types.gguf")
        let q8 = try #require(model.tensors.first { $0.name == "q8_0" })
        let blocks = WriterFixtures.kvTypes.data[9]
        let values = try FormatReference.decodeAll(q8, chunk: 32)
        // Q8_0: x = d · q, with d the f16 at the start of each 34-byte block.
        for (i, v) in values.enumerated() {
            let b = i / 32, base = b * 34
            let d = Float(Float16(bitPattern: UInt16(blocks[base]) | UInt16(blocks[base + 1]) << 8))
            #expect(v == d * Float(Int8(bitPattern: blocks[base + 2 + i % 32])), "element \(i)")
        }
    }

    @Test func ggufInMemoryEqualsTheFile() throws {
        let f = WriterFixtures.aligned64
        var sink = MemorySink()
        try GGUFWriter.write(metadata: f.metadata, tensors: f.tensors, to: &sink, path: "mem") { i, s in
            try s.write(f.data[i])
        }
        try WriterFixtures.writeAll(into: dir.path)
        #expect(sink.bytes == (try read(dir.path + "/aligned64.gguf")))
    }

    @Test func ggufErrors() throws {
        let out = dir.path + "/bad.gguf"
        func refuse(_ reason: String, metadata: [(key: String, value: GGUFValue)] = [], _ tensors: [GGUFWriter.TensorEntry],
                    data: [[UInt8]], sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(throws: ModelError(out, reason), sourceLocation: sourceLocation) {
                try GGUFWriter.write(to: out, metadata: metadata, tensors: tensors) { i, s in try s.write(data[i]) }
            }
            #expect((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) == [], sourceLocation: sourceLocation)
        }
        let q = GGUFWriter.TensorEntry(name: "q", type: .q4_0, shape: [2, 32])
        refuse("tensor 'q': 18 bytes written, but Q4_0 [2, 32] needs 36", [q], data: [[UInt8](repeating: 0, count: 18)])
        refuse("tensor 'r': row length 48 is not a multiple of the Q4_0 block size 32",
               [.init(name: "r", type: .q4_0, shape: [48])], data: [[]])
        refuse("tensor 'k': row length 128 is not a multiple of the Q4_K block size 256",
               [.init(name: "k", type: .q4_K, shape: [4, 128])], data: [[]])
        refuse("tensor 'q' is given twice", [q, q], data: [[], []])
        refuse("tensor 'five' has 5 dimensions; GGUF allows at most 4",
               [.init(name: "five", type: .f32, shape: [1, 1, 1, 1, 1])], data: [[]])
        let long = String(repeating: "x", count: 64)
        refuse("tensor '\(long)': name is 64 bytes; GGUF readers allow at most 63",
               [.init(name: long, type: .f32, shape: [1])], data: [[]])
        refuse("general.alignment must be a u32, found UINT64", metadata: [("general.alignment", .uint64(32))], [], data: [])
        refuse("general.alignment 48 is not a power of two greater than zero",
               metadata: [("general.alignment", .uint32(48))], [], data: [])
        refuse("metadata key 'a' is given twice", metadata: [("a", .bool(true)), ("a", .bool(false))], [], data: [])
        refuse("metadata 'arr'[1] is STRING in an array of INT32",
               metadata: [("arr", .array(.int32, [.int32(1), .string("x")]))], [], data: [])
    }
}
