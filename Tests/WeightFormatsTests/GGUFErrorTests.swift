import Foundation
import Testing
@testable import WeightFormats
import TestSupport

/// Hand-made GGUF bytes for malformed-file tests.
struct GGUFBytes {
    struct TensorInfo {
        var name: String
        var dims: [UInt64]          // innermost first, as stored
        var type: UInt32
        var offset: UInt64
    }

    var magic: [UInt8] = Array("GGUF".utf8)
    var version: UInt32 = 3
    var tensorCount: UInt64?
    var kvCount: UInt64?
    /// Each KV's bytes after the key (value type + value).
    var kvs: [(key: [UInt8], typeAndValue: [UInt8])] = []
    var tensors: [TensorInfo] = []
    var alignment = 32
    /// Bytes of data section to append after padding.
    var dataBytes = 0

    mutating func kv(_ key: String, _ type: UInt32, _ value: (inout ByteWriter) -> Void) {
        var w = ByteWriter()
        w.u32(type)
        value(&w)
        kvs.append((Array(key.utf8), w.bytes))
    }

    mutating func tensor(_ name: String, _ dims: [UInt64], type: UInt32 = 0, offset: UInt64 = 0) {
        tensors.append(TensorInfo(name: name, dims: dims, type: type, offset: offset))
    }

    var bytes: [UInt8] {
        var w = ByteWriter()
        w.raw(magic)
        w.u32(version)
        w.u64(tensorCount ?? UInt64(tensors.count))
        w.u64(kvCount ?? UInt64(kvs.count))
        for kv in kvs {
            w.u64(UInt64(kv.key.count))
            w.raw(kv.key)
            w.raw(kv.typeAndValue)
        }
        for t in tensors {
            w.string(t.name)
            w.u32(UInt32(t.dims.count))
            for d in t.dims { w.u64(d) }
            w.u32(t.type)
            w.u64(t.offset)
        }
        while w.bytes.count % alignment != 0 { w.u8(0) }
        w.raw([UInt8](repeating: 0x3C, count: dataBytes))
        return w.bytes
    }
}

extension ByteWriter {
    mutating func string(_ s: String) {
        u64(UInt64(s.utf8.count))
        text(s)
    }
}

@Suite("GGUF errors")
struct GGUFErrorTests {
    /// Writes `bytes` to a temporary `.gguf`, opens it through `ModelFile.open`, and returns the reason of the
    /// `ModelError` it must throw (naming that file).
    func reason(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let dir = try TemporaryDirectory()
        let path = try dir.write("bad.gguf", bytes)
        let error = try #require(throws: ModelError.self, sourceLocation: sourceLocation) { try ModelFile.open(path) }
        #expect(error.path == path, sourceLocation: sourceLocation)
        return error.reason
    }

    func open(_ bytes: [UInt8]) throws -> Model {
        let dir = try TemporaryDirectory()
        return try ModelFile.open(try dir.write("ok.gguf", bytes))
    }

    @Test("the builder makes valid files: scalar tensor, empty array, zero-size tensor")
    func validHandMade() throws {
        var g = GGUFBytes()
        g.kv("empty", 9) { $0.u32(4); $0.u64(0) }
        g.kv("flag", 7) { $0.u8(1) }
        g.tensor("scalar", [], type: 0, offset: 0)
        g.tensor("empty", [0, 3], type: 2, offset: 32)
        g.tensor("q", [32, 2], type: 8, offset: 32)
        g.dataBytes = 32 + 68
        let model = try open(g.bytes)
        #expect(model.metadata.map(\.key) == ["empty", "flag"])
        #expect(model.metadata[0].value == .array([]))
        #expect(model.tensors.map(\.shape) == [[], [3, 0], [2, 32]])
        #expect(model.tensors.map(\.parameters) == [1, 0, 64])
        #expect(model.tensors[2].byteCount == 68)
    }

    @Test("bad magic") func badMagic() throws {
        var g = GGUFBytes()
        g.magic = Array("GGUG".utf8)
        let dir = try TemporaryDirectory()
        let path = try dir.write("bad.gguf", g.bytes)
        let error = try #require(throws: ModelError.self) { try GGUFReader.open(FileSource(path: path)) }
        #expect(error.reason.contains("bad magic"))
    }

    @Test("unsupported versions", arguments: [0 as UInt32, 1, 4, 0xFFFF_FFFF])
    func unsupportedVersion(version: UInt32) throws {
        var g = GGUFBytes()
        g.version = version
        #expect(try reason(g.bytes).contains("unsupported GGUF version \(version)"))
    }

    @Test("a big-endian file is refused by name") func bigEndian() throws {
        var g = GGUFBytes()
        g.version = UInt32(3).byteSwapped
        #expect(try reason(g.bytes).contains("big-endian"))
    }

    @Test("truncated header") func truncated() throws {
        var g = GGUFBytes()
        g.kv("general.name", 8) { $0.string("a model") }
        let bytes = g.bytes
        for cut in [6, 20, 46] {       // in the version, the counts, the value type
            #expect(try reason(Array(bytes[0..<cut])).contains("truncated"), "cut at \(cut)")
        }
    }

    @Test("tensor count that cannot fit") func tensorCount() throws {
        var g = GGUFBytes()
        g.tensorCount = 1 << 40
        let r = try reason(g.bytes)
        #expect(r.contains("tensor count 1099511627776 cannot fit in the file"))
    }

    @Test("KV count that cannot fit") func kvCount() throws {
        var g = GGUFBytes()
        g.kvCount = UInt64.max
        #expect(try reason(g.bytes).contains("count \(UInt64.max) cannot fit in the file"))
    }

    @Test("string length 2^62 fails fast, before allocating") func hugeString() throws {
        var g = GGUFBytes()
        g.kv("general.name", 8) { $0.u64(1 << 62); $0.text("tiny") }
        #expect(try reason(g.bytes).contains("string length 4611686018427387904 of metadata 'general.name' at offset"))
        // The same for a key and a tensor name.
        var w = ByteWriter()
        w.text("GGUF"); w.u32(3); w.u64(0); w.u64(1); w.u64(1 << 62); w.text("key"); w.raw([UInt8](repeating: 0, count: 16))
        #expect(try reason(w.bytes).contains("string length 4611686018427387904 of metadata key #0"))
        var t = ByteWriter()
        t.text("GGUF"); t.u32(3); t.u64(1); t.u64(0); t.u64(1 << 62); t.raw([UInt8](repeating: 0, count: 24))
        #expect(try reason(t.bytes).contains("cannot fit in the file"))
    }

    @Test("array length 2^60 fails fast, before allocating") func hugeArray() throws {
        var g = GGUFBytes()
        g.kv("tokenizer.ggml.scores", 9) { $0.u32(0); $0.u64(1 << 60); $0.raw([1, 2, 3]) }
        let r = try reason(g.bytes)
        #expect(r.contains("array length 1152921504606846976 of metadata 'tokenizer.ggml.scores' (UINT8) cannot fit in the file"))
        // Strings need at least 8 bytes each: 100 strings cannot fit in 500 bytes.
        var s = GGUFBytes()
        s.kv("tokenizer.ggml.tokens", 9) { $0.u32(8); $0.u64(100); $0.raw([UInt8](repeating: 0, count: 500)) }
        #expect(try reason(s.bytes).contains("array length 100"))
    }

    @Test("nested arrays: hostile depth is refused, not recursed into") func deepArrays() throws {
        var g = GGUFBytes()
        g.kv("deep", 9) { w in
            for _ in 0..<10_000 { w.u32(9); w.u64(1) }
            w.u32(0); w.u64(0)
        }
        #expect(try reason(g.bytes).contains("nested deeper than"))
    }

    @Test("the total number of metadata array elements is bounded") func arrayBudget() throws {
        var w = ByteWriter()
        w.u32(0); w.u64(11); w.raw([UInt8](repeating: 7, count: 11))   // an array of 11 u8
        let dir = try TemporaryDirectory()
        let source = try FileSource(path: try dir.write("array.bin", w.bytes))
        var budget: UInt64 = 10
        var cursor = GGUFCursor(source)
        let error = try #require(throws: ModelError.self) {
            _ = try cursor.value(.array, what: "metadata 'big'", budget: &budget)
        }
        #expect(error.reason.contains("metadata arrays hold more than"))
        budget = 11
        var again = GGUFCursor(source)
        #expect(try again.value(.array, what: "metadata 'big'", budget: &budget) == .array(Array(repeating: .uint(7), count: 11)))
        #expect(budget == 0)
    }

    @Test("unknown KV value type", arguments: [13 as UInt32, 100, 0xFFFF_FFFF])
    func unknownValueType(type: UInt32) throws {
        var g = GGUFBytes()
        g.kv("odd", type) { $0.u64(0) }
        #expect(try reason(g.bytes).contains("unknown metadata value type \(type)"))
        var a = GGUFBytes()
        a.kv("odd.array", 9) { $0.u32(type); $0.u64(1); $0.u64(0) }
        #expect(try reason(a.bytes).contains("unknown metadata value type \(type)"))
    }

    @Test("strings that are not UTF-8: key, value and tensor name")
    func invalidUTF8() throws {
        let bad: [[UInt8]] = [[0xFF], [0xC0, 0x80], [0xED, 0xA0, 0x80], [0x61, 0xE2, 0x82]]
        for b in bad {
            var key = GGUFBytes()
            key.kvs.append((b, [8, 0, 0, 0] + [0, 0, 0, 0, 0, 0, 0, 0]))
            #expect(try reason(key.bytes).contains("metadata key #0 at offset 24 is not valid UTF-8"))

            var value = GGUFBytes()
            value.kv("general.name", 8) { $0.u64(UInt64(b.count)); $0.raw(b) }
            #expect(try reason(value.bytes).contains("is not valid UTF-8"))

            var w = ByteWriter()
            w.text("GGUF"); w.u32(3); w.u64(1); w.u64(0)
            w.u64(UInt64(b.count)); w.raw(b); w.u32(1); w.u64(4); w.u32(0); w.u64(0)
            w.raw([UInt8](repeating: 0, count: 64))
            #expect(try reason(w.bytes).contains("name of tensor #0 at offset 24 is not valid UTF-8"))
        }
    }

    @Test("tensor offset that is not a multiple of the alignment") func misaligned() throws {
        var g = GGUFBytes()
        g.tensor("w", [4], offset: 16)
        g.dataBytes = 64
        #expect(try reason(g.bytes).contains("tensor 'w': offset 16 is not a multiple of the alignment 32"))
        var custom = GGUFBytes()
        custom.kv("general.alignment", 4) { $0.u32(64) }
        custom.tensor("w", [4], offset: 32)
        custom.alignment = 64
        custom.dataBytes = 128
        #expect(try reason(custom.bytes).contains("offset 32 is not a multiple of the alignment 64"))
    }

    @Test("tensor data beyond the end of the file") func beyondEnd() throws {
        var g = GGUFBytes()
        g.tensor("w", [16], offset: 0)
        g.dataBytes = 63        // needs 64
        #expect(try reason(g.bytes).contains("tensor 'w': data at offset 0 (64 bytes) lies beyond the end of the file"))
        var far = GGUFBytes()
        far.tensor("w", [1], offset: UInt64.max - 31)   // aligned, but the sum overflows
        far.dataBytes = 32
        #expect(try reason(far.bytes).contains("lies beyond the end of the file"))
        g.dataBytes = 64
        #expect(try open(g.bytes).tensors[0].byteCount == 64)
    }

    @Test("dimensions whose product overflows") func dimsOverflow() throws {
        var g = GGUFBytes()
        g.tensor("w", [1 << 32, 1 << 32], offset: 0)
        #expect(try reason(g.bytes).contains("overflow"))
        var big = GGUFBytes()
        big.tensor("w", [UInt64.max], offset: 0)
        #expect(try reason(big.bytes).contains("dimension 18446744073709551615 is too large"))
        var bytes = GGUFBytes()      // element count fits but the byte count does not
        bytes.tensor("w", [1 << 62], type: 0, offset: 0)
        #expect(try reason(bytes.bytes).contains("data size overflows"))
    }

    @Test("innermost dimension not a multiple of the block size") func rowLength() throws {
        var g = GGUFBytes()
        g.tensor("blk.0.attn_q.weight", [48, 2], type: 2, offset: 0)   // Q4_0, block 32
        g.dataBytes = 128
        #expect(try reason(g.bytes).contains("row length 48 is not a multiple of the Q4_0 block size 32"))
        var k = GGUFBytes()
        k.tensor("w", [128], type: 12, offset: 0)                      // Q4_K, block 256
        k.dataBytes = 256
        #expect(try reason(k.bytes).contains("row length 128 is not a multiple of the Q4_K block size 256"))
    }

    @Test("unknown and retired ggml type ids", arguments: [4 as UInt32, 5, 31, 32, 33, 36, 37, 38, 42, 1000, 0xFFFF_FFFF])
    func unknownType(id: UInt32) throws {
        var g = GGUFBytes()
        g.tensor("w", [32], type: id, offset: 0)
        g.dataBytes = 256
        #expect(try reason(g.bytes).contains("tensor 'w' has unknown ggml type \(id)"))
    }

    @Test("duplicate tensor names") func duplicateTensor() throws {
        var g = GGUFBytes()
        g.tensor("w", [4], offset: 0)
        g.tensor("w", [4], offset: 32)
        g.dataBytes = 64
        #expect(try reason(g.bytes).contains("duplicate tensor name 'w'"))
    }

    @Test("duplicate metadata keys") func duplicateKey() throws {
        var g = GGUFBytes()
        g.kv("general.name", 8) { $0.string("a") }
        g.kv("general.name", 8) { $0.string("b") }
        #expect(try reason(g.bytes).contains("duplicate metadata key 'general.name'"))
    }

    @Test("too many dimensions") func tooManyDims() throws {
        var g = GGUFBytes()
        g.tensor("w", [UInt64](repeating: 1, count: 9), offset: 0)
        g.dataBytes = 32
        #expect(try reason(g.bytes).contains("tensor 'w' has 9 dimensions (at most 8 are supported)"))
        var huge = GGUFBytes()
        huge.tensor("w", [], offset: 0)
        var bytes = huge.bytes
        bytes[24 + 8 + 1] = 0xFF   // n_dims = 255 after the 1-byte name
        #expect(try reason(bytes).contains("255 dimensions"))
        var eight = GGUFBytes()
        eight.tensor("w", [2, 1, 1, 1, 1, 1, 1, 3], offset: 0)
        eight.dataBytes = 32
        #expect(try open(eight.bytes).tensors[0].shape == [3, 1, 1, 1, 1, 1, 1, 2])
    }

    @Test("general.alignment must be a u32 power of two")
    func badAlignment() throws {
        for a in [0 as UInt32, 48, 3] {
            var g = GGUFBytes()
            g.kv("general.alignment", 4) { $0.u32(a) }
            #expect(try reason(g.bytes).contains("general.alignment \(a) is not a power of two"))
        }
        var wrongType = GGUFBytes()
        wrongType.kv("general.alignment", 10) { $0.u64(64) }
        #expect(try reason(wrongType.bytes).contains("general.alignment must be a u32, found UINT64"))
    }

    @Test("a header that ends early inside the tensor infos") func truncatedInfos() throws {
        var g = GGUFBytes()
        g.tensor("w", [4, 4], offset: 0)
        let bytes = g.bytes
        #expect(try reason(Array(bytes[0..<(24 + 8 + 1 + 4 + 8 + 4)])).contains("truncated"))
    }

    @Test("empty and too-short files") func tooShort() throws {
        #expect(try reason([]).contains("empty"))
        let dir = try TemporaryDirectory()
        let path = try dir.write("short.gguf", Array("GGU".utf8))
        #expect(throws: ModelError.self) { try GGUFReader.open(FileSource(path: path)) }
        #expect(try reason(Array("GGUF".utf8)).contains("truncated"))
    }
}
