import Foundation

/// Reads the variables of a TensorFlow SavedModel or checkpoint: the tensor bundle
/// `variables/variables.index` (a LevelDB-format table, `LevelDBTable`) and its data shards
/// `variables.data-0000k-of-0000n` (tensorflow/core/util/tensor_bundle, naming.cc). Opening `saved_model.pb`
/// (or a directory holding it) reads the bundle beside it; the graph itself is not needed for weights and is
/// not parsed.
///
/// The entry `""` is the BundleHeaderProto {num_shards 1, endianness 2, version 3}; every other key is a
/// BundleEntryProto {dtype 1, shape 2, shard_id 3, offset 4, size 5, crc32c 6, slices 7}, hand-decoded. Tensors
/// are listed in key order with their checkpoint keys as names. Entries that hold no numbers (DT_STRING such as
/// `_CHECKPOINTABLE_OBJECT_GRAPH`, resources, variants) are not weights and are skipped; partitioned variables
/// (slices), big-endian bundles, shard ids beyond num_shards, and data ranges beyond their shard are errors.
/// Block CRCs of the index are always checked; each tensor's `crc32c` is checked on open when the bundle's
/// tensors total at most `crcCheckLimit` bytes (reading a large model whole only to open it would be slow).
public enum SavedModelReader: ModelReader {
    public static let name = "SavedModel"
    public static let fileExtensions = ["saved_model.pb", ".index"]
    /// Bundles up to this many bytes of tensors have every tensor's CRC-32C checked when opened.
    public static let crcCheckLimit: UInt64 = 64 << 20

    public static func sniff(head: [UInt8], name: String) -> SniffMatch? {
        if name.hasSuffix("saved_model.pb") { return .signature }
        return name.hasSuffix(".index") ? .guess : nil
    }

    public static func open(_ source: FileSource) throws -> Model {
        let path = source.path
        if path.hasSuffix("saved_model.pb") {
            let dir = (path as NSString).deletingLastPathComponent
            let index = ((dir as NSString).appendingPathComponent("variables") as NSString).appendingPathComponent("variables.index")
            guard FileManager.default.fileExists(atPath: index) else {
                throw ModelError(path, "SavedModel has no variables/variables.index (a model without variables has no weights to read)")
            }
            return try read(index: try FileSource(path: index), shownPath: path)
        }
        return try read(index: source, shownPath: path)
    }

    /// TensorFlow's DataType numbers that hold weights, as weightlab dtypes.
    static let dtypes: [UInt64: DType] = [
        1: .float32, 2: .float64, 3: .int32, 4: .uint8, 5: .int16, 6: .int8, 9: .int64, 10: .bool,
        14: .bfloat16, 17: .uint16, 19: .float16, 22: .uint32, 23: .uint64,
    ]

    static func read(index: FileSource, shownPath: String) throws -> Model {
        let path = index.path
        guard path.hasSuffix(".index") else { throw ModelError(path, "a tensor bundle index must end in .index") }
        let prefix = String(path.dropLast(".index".count))
        var numShards: UInt64 = 1
        var shards: [Int: FileSource] = [:]
        var tensors: [Tensor] = []
        var crcs: [UInt32?] = []
        var skipped = 0
        for (key, value) in try LevelDBTable.entries(index) {
            let name = String(decoding: key, as: UTF8.self)
            let shown = "entry '\(DisplayText.escaped(name))'"
            var c = ProtoCursor(value, path: path, what: name.isEmpty ? "bundle header" : shown)
            if key.isEmpty {
                while c.remaining > 0 {
                    let f = try c.field()
                    if f.number == 1 { numShards = f.value }
                    if f.number == 2 && f.value != 0 { throw ModelError(path, "big-endian tensor bundles are not supported") }
                }
                guard numShards >= 1, numShards <= 100_000 else {
                    throw ModelError(path, "bundle header declares \(numShards) shards")
                }
                continue
            }
            var dtypeCode: UInt64 = 0, shard: UInt64 = 0, offset: UInt64 = 0, size: UInt64 = 0
            var shape: [Int] = []
            var sliced = false
            var crc: UInt32?
            while c.remaining > 0 {
                let f = try c.field()
                switch f.number {
                case 1: dtypeCode = f.value
                case 2: shape = try dims(f.data ?? [], path: path, what: shown)
                case 3: shard = f.value
                case 4: offset = f.value
                case 5: size = f.value
                case 6: crc = UInt32(truncatingIfNeeded: f.value)
                case 7: sliced = true
                default: break
                }
            }
            guard let dtype = dtypes[dtypeCode] else { skipped += 1; continue }
            if sliced { throw ModelError(path, "\(shown): partitioned variables (slices) are not supported") }
            guard shard < numShards else {
                throw ModelError(path, "\(shown): shard \(shard) is out of range (the bundle has \(numShards))")
            }
            guard let n = Shape.elementCount(shape), let bytes = dtype.byteCount(elements: n), UInt64(bytes) == size else {
                throw ModelError(path, "\(shown): \(dtype) \(shape) does not match its stored size of \(size) bytes")
            }
            let file: FileSource
            if let f = shards[Int(shard)] {
                file = f
            } else {
                let shardPath = prefix + String(format: ".data-%05d-of-%05d", Int(shard), Int(numShards))
                file = try FileSource(path: shardPath)
                shards[Int(shard)] = file
            }
            guard offset <= file.size, size <= file.size - offset else {
                throw ModelError(file.path, "\(shown): \(size) bytes at offset \(offset) lie beyond the end of the shard (\(file.size) bytes)")
            }
            tensors.append(try Tensor(name: name, dtype: dtype, shape: shape, data: try SliceSource(file, offset: offset, count: size)))
            crcs.append(crc)
        }
        if tensors.reduce(UInt64(0), { $0 + UInt64($1.byteCount) }) <= crcCheckLimit {
            for (t, crc) in zip(tensors, crcs) {
                guard let crc else { continue }
                let bytes = try t.data.bytes(at: 0, count: t.byteCount)
                guard CRC32C.masked(CRC32C.checksum(bytes)) == crc else {
                    throw ModelError(t.data.path, "entry '\(DisplayText.escaped(t.name))': CRC-32C mismatch (corrupt tensor data)")
                }
            }
        }
        var metadata: [(key: String, value: MetadataValue)] = [("shards", .uint(numShards))]
        if skipped > 0 { metadata.append(("entries without numbers (not listed)", .uint(UInt64(skipped)))) }
        return Model(path: shownPath, format: .savedModel, metadata: metadata, tensors: tensors)
    }

    /// The dimensions of a TensorShapeProto (`dim = 2` {size = 1}, `unknown_rank = 3`).
    private static func dims(_ data: [UInt8], path: String, what: String) throws -> [Int] {
        var c = ProtoCursor(data, path: path, what: "\(what) shape")
        var out: [Int] = []
        while c.remaining > 0 {
            let f = try c.field()
            if f.number == 3 && f.value != 0 { throw ModelError(path, "\(what): shape of unknown rank") }
            guard f.number == 2, let dim = f.data else { continue }
            var d = ProtoCursor(dim, path: path, what: "\(what) shape")
            var size: Int64 = 0
            while d.remaining > 0 {
                let g = try d.field()
                if g.number == 1 { size = Int64(bitPattern: g.value) }
            }
            guard size >= 0 else { throw ModelError(path, "\(what): dimension \(size) is negative") }
            guard out.count < 64 else { throw ModelError(path, "\(what): more than 64 dimensions") }
            out.append(Int(size))
        }
        return out
    }
}

extension ModelFormat {
    public static let savedModel = ModelFormat(rawValue: "savedmodel")
}
