import Foundation

/// Reads a sharded Hugging Face PyTorch checkpoint through its index (`pytorch_model.bin.index.json`): the
/// same JSON as safetensors' index (`metadata`, `weight_map` from tensor name to shard file), whose shards
/// are `torch.save` files (zip or legacy) inside the index's directory. Each shard is opened once; only the
/// tensors the map gives it are kept.
public enum TorchIndexReader: ModelReader {
    public static let name = "PyTorch index"
    public static let fileExtensions = [".bin.index.json", ".pt.index.json", ".pth.index.json"]
    public static var isIndex: Bool { true }

    public static func sniff(head: [UInt8], name: String) -> SniffMatch? {
        fileExtensions.contains { name.hasSuffix($0) } ? .signature : nil
    }

    public static func open(_ source: FileSource) throws -> Model {
        let path = source.path
        let index = try SafetensorsIndexReader.readIndex(source)
        let directory = (path as NSString).deletingLastPathComponent
        var wanted: [String: Set<String>] = [:]
        for (tensor, shard) in index.weightMap { wanted[shard, default: []].insert(tensor) }
        var tensors: [Tensor] = []
        var metadata = index.metadata
        for shard in wanted.keys.sorted() {
            let shardPath = (directory as NSString).appendingPathComponent(shard)
            guard FileManager.default.fileExists(atPath: shardPath) else {
                throw ModelError(path, "shard '\(DisplayText.escaped(shard))' named in the index is missing")
            }
            let file = try FileSource(path: shardPath)
            let head = try file.bytes(at: 0, count: Int(min(file.size, UInt64(ModelReaders.headBytes))))
            guard TorchZipReader.sniff(head: head, name: shardPath) != nil else {
                throw ModelError(path, "shard '\(DisplayText.escaped(shard))' is not a PyTorch checkpoint")
            }
            let model = try TorchZipReader.open(file)
            let names = wanted[shard] ?? []
            var found = Set<String>()
            for t in model.tensors where names.contains(t.name) {
                tensors.append(t)
                found.insert(t.name)
            }
            if let absent = names.sorted().first(where: { !found.contains($0) }) {
                throw ModelError(path, "tensor '\(DisplayText.escaped(absent))' is mapped to shard '\(DisplayText.escaped(shard))' but the shard does not hold it")
            }
            for kv in model.metadata where kv.key.hasPrefix(TorchCheckpoint.prunedKey) {
                metadata.append(kv)
            }
        }
        return Model(path: path, format: .pytorch, metadata: metadata, tensors: tensors)
    }

    public static func includedFiles(_ source: FileSource) throws -> Set<String> {
        Set(try SafetensorsIndexReader.readIndex(source).weightMap.map(\.shard))
    }
}
