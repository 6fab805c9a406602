import Foundation
import Testing
@testable import WeightFormats
import TestSupport

/// One test per class of bad safetensors / NumPy input: each must throw a `ModelError` naming the file and,
/// in a few words, what is wrong — never trap, hang or allocate by an untrusted number.
@Suite("Format errors (safetensors, NumPy)")
struct FormatErrorTests {
    let dir: TemporaryDirectory
    init() throws { dir = try TemporaryDirectory() }

    /// Writes `bytes` and opens them with the safetensors reader, expecting `fragment` in the reason.
    private func safetensorsError(_ fragment: String, _ bytes: [UInt8],
                                  sourceLocation: SourceLocation = #_sourceLocation) throws -> ModelError? {
        let path = try dir.write("bad.safetensors", bytes)
        return FormatReference.expectError(fragment, path: path, sourceLocation: sourceLocation) {
            _ = try SafetensorsReader.open(try FileSource(path: path))
        }
    }

    private func st(_ header: String, _ data: [UInt8] = [], _ fragment: String,
                    sourceLocation: SourceLocation = #_sourceLocation) throws {
        _ = try safetensorsError(fragment, FormatReference.safetensors(header, data: data), sourceLocation: sourceLocation)
    }

    private let sixteen = [UInt8](repeating: 0, count: 16)

    // MARK: safetensors header

    @Test func headerLengthBeyondFile() throws {
        var w = ByteWriter(); w.u64(1000); w.text("{}")
        _ = try safetensorsError("runs past the end of the file", w.bytes)
    }

    @Test func headerLengthAbove100MB() throws {
        var w = ByteWriter(); w.u64(100_000_001); w.text("{}")
        _ = try safetensorsError("exceeds the 100 MB limit", w.bytes)
        var huge = ByteWriter(); huge.u64(UInt64.max); huge.text("{}")
        _ = try safetensorsError("exceeds the 100 MB limit", huge.bytes)
    }

    @Test func fileTooSmall() throws {
        _ = try safetensorsError("too small", [1, 0, 0])
    }

    @Test func invalidUTF8Header() throws {
        var w = ByteWriter(); w.u64(6); w.raw([0x7B, 0x22, 0xFF, 0xFE, 0x22, 0x7D])
        _ = try safetensorsError("not valid UTF-8", w.bytes)
    }

    @Test func headerNotAnObject() throws {
        try st("[1, 2, 3]", [], "not a JSON object")
        try st("\u{FEFF}{}", [], "not a JSON object")      // a byte-order mark is not accepted either
    }

    @Test func headerNotValidJSON() throws {
        try st("{\"a\u{1B}\": 1}", [], "control character 0x1b in a string must be escaped")
        try st(#"{"a": {"dtype": "F32",}}"#, [], "not valid JSON")
        try st(#"{"a": 1} trailing"#, [], "not valid JSON")
    }

    @Test func duplicateKeys() throws {
        let t = #"{"dtype":"F32","shape":[1],"data_offsets":[0,4]}"#
        try st(#"{"a":\#(t),"a":\#(t)}"#, [0, 0, 0, 0], "duplicate key 'a'")
        // Nested objects are checked too, and the message names the tensor the repeated key sits under.
        try st(#"{"a":{"dtype":"F32","dtype":"F16","shape":[1],"data_offsets":[0,4]}}"#, [0, 0, 0, 0],
               "duplicate key 'dtype' in 'a'")
    }

    @Test func unknownDtype() throws {
        try st(#"{"w":{"dtype":"Q4_K","shape":[4],"data_offsets":[0,4]}}"#, [0, 0, 0, 0], "unknown dtype 'Q4_K'")
    }

    @Test func offsetsOutOfRange() throws {
        try st(#"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, [0, 0, 0, 0], "beyond the end of the data section")
    }

    @Test func overlappingOffsets() throws {
        try st(#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#,
               sixteen, "overlap")
    }

    @Test func gapBetweenTensors() throws {
        try st(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#,
               sixteen, "gap in the data section")
        try st(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#, sixteen, "begins at 8, not 0")
    }

    @Test func bytesAfterLastTensor() throws {
        try st(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, sixteen, "8 bytes after the last tensor")
    }

    @Test func sizeMismatch() throws {
        try st(#"{"a.weight":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}}"#, [UInt8](repeating: 0, count: 12),
               "tensor 'a.weight': data_offsets [0, 12] do not match F32 [2, 2] (16 bytes)")
    }

    @Test func overflowingShape() throws {
        try st(#"{"w":{"dtype":"F64","shape":[4294967296,4294967296,4],"data_offsets":[0,8]}}"#, [UInt8](repeating: 0, count: 8),
               "overflows")
        try st(#"{"w":{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,4]}}"#, [0, 0, 0, 0],
               "not a non-negative integer")
    }

    @Test func exponentOffset() throws {
        try st(#"{"w":{"dtype":"U8","shape":[1000],"data_offsets":[0,1e3]}}"#, [UInt8](repeating: 0, count: 1000),
               "data_offsets [0, 1e3] must be two non-negative integers")
    }

    @Test func nonIntegerOffsets() throws {
        let data = [UInt8](repeating: 0, count: 4)
        try st(#"{"w":{"dtype":"U8","shape":[4],"data_offsets":[0.0,4]}}"#, data, "must be two non-negative integers")
        try st(#"{"w":{"dtype":"U8","shape":[4],"data_offsets":[-0,4]}}"#, data, "must be two non-negative integers")
        try st(#"{"w":{"dtype":"U8","shape":[4],"data_offsets":["0",4]}}"#, data, "must be two non-negative integers")
        try st(#"{"w":{"dtype":"U8","shape":[4],"data_offsets":[0,4,8]}}"#, data, "must be two non-negative integers")
        try st(#"{"w":{"dtype":"U8","shape":[-4],"data_offsets":[0,4]}}"#, data, "shape entry -4 is not a non-negative integer")
        try st(#"{"w":{"dtype":"U8","shape":[4],"data_offsets":[4,0]}}"#, data, "end before they begin")
    }

    @Test func missingFieldsAndBadMetadata() throws {
        try st(#"{"w":{"dtype":"U8","shape":[4]}}"#, [0, 0, 0, 0], #"missing "data_offsets""#)
        try st(#"{"w":[1]}"#, [], "not an object")
        try st(#"{"__metadata__":{"k":1}}"#, [], "__metadata__ entry 'k'")
    }

    @Test func escapedTensorName() throws {
        // A raw ESC inside a JSON string is invalid JSON, so it arrives as \u001b; the bidi override is raw UTF-8.
        let name = #"evil\u001b[31m"# + "\u{202E}name"
        let header = #"{"\#(name)":{"dtype":"X9","shape":[1],"data_offsets":[0,1]}}"#
        let error = try #require(try safetensorsError("unknown dtype 'X9'", FormatReference.safetensors(header, data: [0])))
        #expect(error.reason.contains(#"evil\u{1b}[31m\u{202e}name"#))
        #expect(!error.reason.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x202E })
    }

    @Test func escapedNameInJSONEscapes() throws {
        // The same name written with JSON \u escapes decodes to the same unsafe scalars, still shown escaped.
        let header = #"{"a\u001b\u202eb":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#
        let error = try #require(try safetensorsError("do not match", FormatReference.safetensors(header, data: [0, 0, 0, 0])))
        #expect(error.reason.contains(#"a\u{1b}\u{202e}b"#))
    }

    // MARK: sharded safetensors

    private func writeShardedModel(index: String) throws -> String {
        let shard = FormatReference.safetensors(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#,
                                                data: FormatReference.f32Bytes([1]))
        try dir.write("model-00001-of-00002.safetensors", shard)
        return try dir.write("model.safetensors.index.json", text: index)
    }

    @Test func missingShard() throws {
        let index = try writeShardedModel(index: #"{"metadata":{},"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors"}}"#)
        FormatReference.expectError("shard 'model-00002-of-00002.safetensors' named in the index is missing", path: index) {
            _ = try SafetensorsIndexReader.open(index)
        }
    }

    @Test func tensorAbsentFromShard() throws {
        let index = try writeShardedModel(index: #"{"weight_map":{"a":"model-00001-of-00002.safetensors","z":"model-00001-of-00002.safetensors"}}"#)
        FormatReference.expectError("tensor 'z' is mapped to shard", path: index) {
            _ = try SafetensorsIndexReader.open(index)
        }
    }

    @Test func badIndex() throws {
        let noMap = try writeShardedModel(index: #"{"metadata":{}}"#)
        FormatReference.expectError("no \"weight_map\"") { _ = try SafetensorsIndexReader.open(noMap) }
        let escape = try dir.write("other.safetensors.index.json", text: #"{"weight_map":{"a":"../x.safetensors"}}"#)
        FormatReference.expectError("outside the model's directory") { _ = try SafetensorsIndexReader.open(escape) }
        let broken = try dir.write("broken.safetensors.index.json", text: #"{"weight_map": {"#)
        FormatReference.expectError("not valid JSON at line 1, column 17") { _ = try SafetensorsIndexReader.open(broken) }
        let twice = try dir.write("twice.safetensors.index.json", text: #"{"weight_map":{"a":"s.safetensors","a":"t.safetensors"}}"#)
        FormatReference.expectError("duplicate key 'a' in 'weight_map'") { _ = try SafetensorsIndexReader.open(twice) }
        let bom = try dir.write("bom.safetensors.index.json", [0xEF, 0xBB, 0xBF] + Array(#"{"weight_map":{}}"#.utf8))
        FormatReference.expectError("byte-order mark") { _ = try SafetensorsIndexReader.open(bom) }
    }

    // MARK: npy

    private func npyError(_ fragment: String, _ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let path = try dir.write("bad.npy", bytes)
        FormatReference.expectError(fragment, path: path, sourceLocation: sourceLocation) {
            _ = try NpyReader.open(try FileSource(path: path))
        }
    }

    @Test func npyBadMagic() throws {
        var bytes = FormatReference.npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", data: [0, 0, 0, 0])
        bytes[5] = UInt8(ascii: "X")
        try npyError("bad magic", bytes)
    }

    @Test func npyHeaderNotADict() throws {
        try npyError("not a Python dict literal", FormatReference.npy("[('descr', '<f4')]", data: []))
        try npyError("not a Python dict literal",
                     FormatReference.npy("{'descr': __import__('os').system('true'), 'fortran_order': False, 'shape': ()}", data: []))
        try npyError("not a Python dict literal", FormatReference.npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)", data: []))
    }

    @Test func npyObjectDtype() throws {
        try npyError("pickled object arrays are not supported",
                     FormatReference.npy("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", data: [0x80, 0x04, 0x95]))
    }

    @Test func npyStructuredDtype() throws {
        try npyError("structured dtypes are not supported",
                     FormatReference.npy("{'descr': [('x', '<f4'), ('y', '<i4')], 'fortran_order': False, 'shape': (2,), }",
                                         data: [UInt8](repeating: 0, count: 16)))
    }

    @Test func npyUnsupportedDtype() throws {
        try npyError("unsupported NumPy dtype '<U5'",
                     FormatReference.npy("{'descr': '<U5', 'fortran_order': False, 'shape': (1,), }", data: [UInt8](repeating: 0, count: 20)))
    }

    @Test func npyTruncatedData() throws {
        try npyError("data is truncated",
                     FormatReference.npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }", data: FormatReference.f32Bytes([1, 2, 3])))
        try npyError("data is truncated",
                     FormatReference.npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,), }", data: []))
        try npyError("overflows",
                     FormatReference.npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", data: []))
    }

    @Test func npyHeaderLengthAndVersion() throws {
        var long = ByteWriter(); long.raw([0x93] + Array("NUMPY".utf8) + [2, 0]); long.u32(50_000); long.text("{}")
        try npyError("runs past the end of the file", long.bytes)
        var huge = ByteWriter(); huge.raw([0x93] + Array("NUMPY".utf8) + [2, 0]); huge.u32(0xFFFF_FFFF); huge.text("{}")
        try npyError("exceeds", huge.bytes)
        var version = FormatReference.npy("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", data: [0, 0, 0, 0])
        version[6] = 9
        try npyError("unsupported .npy format version 9.0", version)
    }

    @Test func npyBadFieldValues() throws {
        try npyError("'fortran_order' is not True or False",
                     FormatReference.npy("{'descr': '<f4', 'fortran_order': 0, 'shape': (1,), }", data: [0, 0, 0, 0]))
        try npyError("non-negative integers",
                     FormatReference.npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", data: [0, 0, 0, 0]))
        try npyError("unexpected key",
                     FormatReference.npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", data: [0, 0, 0, 0]))
    }

    // MARK: npz

    private func npzError(_ fragment: String, _ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let path = try dir.write("bad.npz", bytes)
        FormatReference.expectError(fragment, path: path, sourceLocation: sourceLocation) {
            let model = try NpzReader.open(path)
            for t in model.tensors { _ = try FormatReference.decodeAll(t, chunk: 1 << 20) }
        }
    }

    private var goodNpy: [UInt8] {
        FormatReference.npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", data: FormatReference.f32Bytes([1, 2]))
    }

    @Test func npzHandBuiltStoredArchiveOpens() throws {
        let path = try dir.write("ok.npz", FormatReference.storedZip([("w.npy", goodNpy), ("b.npy", goodNpy)]))
        let model = try NpzReader.open(path)
        #expect(model.tensors.map(\.name) == ["w", "b"])
        #expect(try FormatReference.decodeAll(model.tensors[1]) == [1, 2])
    }

    @Test func npzMemberNotNpy() throws {
        try npzError("member 'readme.txt' is not an .npy file",
                     FormatReference.storedZip([("w.npy", goodNpy), ("readme.txt", Array("hello".utf8))]))
    }

    @Test func npzMemberWithObjectDtype() throws {
        let pickled = FormatReference.npy("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", data: [0x80, 0x04])
        try npzError("member 'obj.npy': pickled object arrays are not supported", FormatReference.storedZip([("obj.npy", pickled)]))
    }

    @Test func npzCorruptZip() throws {
        var garbage: [UInt8] = [0x50, 0x4B, 0x03, 0x04]
        garbage += (0..<200).map { UInt8(truncatingIfNeeded: $0 &* 37) }
        try npzError("zip", garbage)
        // A real archive cut in half loses its central directory.
        let real = try FormatReference.readFile(Fixtures.path("numpy/stored.npz"))
        try npzError("zip", Array(real.prefix(real.count / 2)))
        // A central directory whose entry count is a lie.
        var lying = FormatReference.storedZip([("w.npy", goodNpy)])
        lying[lying.count - 12] = 0xFF; lying[lying.count - 14] = 0xFF
        try npzError("corrupt zip archive", lying)
        // A local header offset pointing past the end of the file.
        var offset = FormatReference.storedZip([("w.npy", goodNpy)])
        let cd = offset.count - 22 - (46 + 5)
        offset[cd + 42] = 0xF0; offset[cd + 45] = 0x7F
        try npzError("zip", offset)
    }

    @Test func npzCorruptDeflateData() throws {
        var bytes = try FormatReference.readFile(Fixtures.path("numpy/deflated.npz"))
        // Find the local header of big.npy and scramble its compressed data.
        let name = Array("big.npy".utf8)
        var found: Int?
        for i in 0..<(bytes.count - 30 - name.count) where found == nil {
            let signature = bytes[i] == 0x50 && bytes[i + 1] == 0x4B && bytes[i + 2] == 0x03 && bytes[i + 3] == 0x04
            if signature && Array(bytes[(i + 30)..<(i + 30 + name.count)]) == name { found = i }
        }
        let start = try #require(found)
        let nameLength = Int(bytes[start + 26]) | Int(bytes[start + 27]) << 8
        let extraLength = Int(bytes[start + 28]) | Int(bytes[start + 29]) << 8
        let dataStart = start + 30 + nameLength + extraLength
        func le(_ at: Int, _ n: Int) -> Int { (0..<n).reduce(0) { $0 | Int(bytes[at + $1]) << (8 * $1) } }
        var compressed = le(start + 18, 4)
        if compressed == 0xFFFF_FFFF {
            // numpy writes members with zip64 extra fields: id 1, then uncompressed and compressed sizes.
            let extra = start + 30 + nameLength
            #expect(le(extra, 2) == 1)
            compressed = le(extra + 12, 8)
        }
        #expect(compressed > 100 && dataStart + compressed <= bytes.count)
        for k in stride(from: dataStart + 40, to: dataStart + compressed - 4, by: 3) { bytes[k] ^= 0x5A }
        try npzError("member 'big.npy'", bytes)
    }

    /// The central directory record of `member` in a real archive, and a way to patch its 32-bit fields.
    private func centralRecord(_ bytes: [UInt8], _ member: String) throws -> Int {
        let name = Array(member.utf8)
        var found: Int?
        for i in 0..<(bytes.count - 46 - name.count) where found == nil {
            let signature = bytes[i] == 0x50 && bytes[i + 1] == 0x4B && bytes[i + 2] == 0x01 && bytes[i + 3] == 0x02
            if signature && Array(bytes[(i + 46)..<(i + 46 + name.count)]) == name { found = i }
        }
        return try #require(found)
    }

    private func patch32(_ bytes: inout [UInt8], at: Int, _ value: UInt32) {
        for k in 0..<4 { bytes[at + k] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(k))) }
    }

    private func read32(_ bytes: [UInt8], at: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[at + $1]) << (8 * UInt32($1)) }
    }

    @Test func npzDeflateStreamCutShort() throws {
        var bytes = try FormatReference.readFile(Fixtures.path("numpy/deflated.npz"))
        let cd = try centralRecord(bytes, "big.npy")
        patch32(&bytes, at: cd + 20, read32(bytes, at: cd + 20) / 4)      // compressed size: a quarter
        try npzError("truncated", bytes)
    }

    @Test func npzDeflatedSizeMismatch() throws {
        var bytes = try FormatReference.readFile(Fixtures.path("numpy/deflated.npz"))
        let cd = try centralRecord(bytes, "big.npy")
        let real = read32(bytes, at: cd + 24)
        patch32(&bytes, at: cd + 24, real + 64)                            // declares more than it inflates to
        try npzError("inflates to \(real) bytes, not its declared \(real + 64)", bytes)
    }

    @Test func npzDeflatedChecksumMismatch() throws {
        var bytes = try FormatReference.readFile(Fixtures.path("numpy/deflated.npz"))
        let cd = try centralRecord(bytes, "small.npy")
        patch32(&bytes, at: cd + 16, read32(bytes, at: cd + 16) ^ 1)
        try npzError("member 'small.npy': CRC-32 mismatch", bytes)
    }

    @Test func npzUnsupportedCompression() throws {
        var bytes = FormatReference.storedZip([("w.npy", goodNpy)])
        let cd = try centralRecord(bytes, "w.npy")
        bytes[cd + 10] = 14                                                 // LZMA
        bytes[10] = 14
        try npzError("compression method 14", bytes)
    }
}
