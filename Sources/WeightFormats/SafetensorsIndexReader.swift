import Foundation

/// Reads a sharded safetensors model through its index (`model.safetensors.index.json`): a JSON object
/// whose `weight_map` maps each tensor name to the shard file holding it, plus optional `metadata`.
/// Shards are opened with `SafetensorsReader` and must lie inside the index's directory.
public enum SafetensorsIndexReader: ModelReader {
    public static let name = "safetensors index"
    public static let fileExtensions = [".safetensors.index.json"]
    public static var isIndex: Bool { true }

    /// Bound on an index file: the index of a very large model is a few hundred KB.
    static let maxIndexBytes: UInt64 = 100_000_000

    /// Only the name tells an index from any other JSON file, and only an index is named so.
    public static func sniff(head: [UInt8], name: String) -> SniffMatch? {
        name.hasSuffix(".safetensors.index.json") ? .signature : nil
    }

    /// A parsed `model.safetensors.index.json`.
    struct Index {
        var metadata: [(key: String, value: MetadataValue)]
        /// (tensor name, shard file name) in index order.
        var weightMap: [(tensor: String, shard: String)]
    }

    static func readIndex(_ source: FileSource) throws -> Index {
        let path = source.path
        guard source.size <= maxIndexBytes else {
            throw ModelError(path, "index file is larger than 100 MB")
        }
        let bytes = try source.bytes(at: 0, count: Int(source.size))
        if let bad = StrictJSON.firstInvalidUTF8(bytes) {
            throw ModelError(path, "index is not valid UTF-8 (byte \(bad))")
        }
        let json = try SafetensorsReader.parseJSON(bytes, "index", startingAtByte: nil, path: path)
        guard case .object(let top) = json else { throw ModelError(path, "index is not a JSON object") }
        guard let mapValue = top.first(where: { $0.key == "weight_map" })?.value else {
            throw ModelError(path, "index has no \"weight_map\"")
        }
        guard case .object(let map) = mapValue else {
            throw ModelError(path, "index \"weight_map\" is \(mapValue.kindName), not an object")
        }
        var weightMap: [(tensor: String, shard: String)] = []
        for member in map {
            let tensor = member.key, shardValue = member.value
            guard case .string(let shard) = shardValue else {
                throw ModelError(path, "index entry '\(DisplayText.escaped(tensor))' names \(shardValue.kindName), not a shard file")
            }
            let parts = shard.split(separator: "/", omittingEmptySubsequences: false)
            guard !shard.isEmpty, !shard.hasPrefix("/"), !parts.contains(".."), !shard.contains("\0") else {
                throw ModelError(path, "index entry '\(DisplayText.escaped(tensor))' names shard '\(DisplayText.escaped(shard))' outside the model's directory")
            }
            weightMap.append((tensor, shard))
        }
        var metadata: [(key: String, value: MetadataValue)] = []
        if let meta = top.first(where: { $0.key == "metadata" })?.value {
            switch meta {
            case .object(let pairs): for p in pairs { flatten(p.value, key: p.key, into: &metadata) }
            case .null: break
            default: throw ModelError(path, "index \"metadata\" is \(meta.kindName), not an object")
            }
        }
        return Index(metadata: metadata, weightMap: weightMap)
    }

    /// Index metadata as metadata values; nested objects become dotted keys.
    private static func flatten(_ v: StrictJSON.Value, key: String, into out: inout [(key: String, value: MetadataValue)]) {
        if case .object(let pairs) = v {
            for p in pairs { flatten(p.value, key: key + "." + p.key, into: &out) }
        } else if let m = metadataValue(v) {
            out.append((key, m))
        }
    }

    private static func metadataValue(_ v: StrictJSON.Value) -> MetadataValue? {
        switch v {
        case .string(let s): return .string(s)
        case .bool(let b): return .bool(b)
        case .number(let t):
            if let i = Int64(t) { return .int(i) }
            if let u = UInt64(t) { return .uint(u) }
            return Double(t).map { .float($0) }
        case .array(let items): return .array(items.compactMap(metadataValue))
        case .object, .null: return nil
        }
    }

    /// Opens every shard an index names, once each, relative to the index's directory.
    ///
    /// Tensors come shard by shard, shards sorted by file name (`model-00001-of-00003…` gives shard order),
    /// each shard's in its offset order, keeping only the tensors the weight map assigns to that shard. Metadata: the index's
    /// `metadata` (nested keys dotted), then each shard's `__metadata__` keys not already present.
    public static func open(_ path: String) throws -> Model {
        try open(try FileSource(path: path))
    }

    public static func open(_ source: FileSource) throws -> Model {
        let path = source.path
        let index = try readIndex(source)
        let directory = (path as NSString).deletingLastPathComponent
        var shardOrder: [String] = []
        var wanted: [String: Set<String>] = [:]
        var seenTensors = Set<String>()
        for (tensor, shard) in index.weightMap {
            if wanted[shard] == nil { shardOrder.append(shard); wanted[shard] = [] }
            wanted[shard]!.insert(tensor)
            seenTensors.insert(tensor)
        }
        var tensors: [Tensor] = []
        var metadata = index.metadata
        var metadataKeys = Set(metadata.map(\.key))
        shardOrder.sort()
        for shard in shardOrder {
            let shardPath = (directory as NSString).appendingPathComponent(shard)
            guard FileManager.default.fileExists(atPath: shardPath) else {
                throw ModelError(path, "shard '\(DisplayText.escaped(shard))' named in the index is missing")
            }
            let parsed = try SafetensorsReader.parse(try FileSource(path: shardPath))
            let names = wanted[shard] ?? []
            var found = Set<String>()
            for t in parsed.tensors where names.contains(t.name) {
                tensors.append(t)
                found.insert(t.name)
            }
            if let absent = index.weightMap.first(where: { $0.shard == shard && !found.contains($0.tensor) }) {
                throw ModelError(path, "tensor '\(DisplayText.escaped(absent.tensor))' is mapped to shard '\(DisplayText.escaped(shard))' but the shard does not hold it")
            }
            for kv in parsed.metadata where metadataKeys.insert(kv.key).inserted {
                metadata.append(kv)
            }
        }
        return Model(path: path, format: .safetensors, metadata: metadata, tensors: tensors)
    }

    /// The shard file names an index refers to (so a directory listing does not open them twice).
    public static func shardNames(inIndex path: String) throws -> Set<String> {
        try includedFiles(try FileSource(path: path))
    }

    public static func includedFiles(_ source: FileSource) throws -> Set<String> {
        Set(try readIndex(source).weightMap.map(\.shard))
    }
}
