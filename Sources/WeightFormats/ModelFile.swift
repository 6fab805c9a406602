import Foundation

/// Opens whatever the user points at: a safetensors file or shard index, a GGUF file, a `.npy` or `.npz`,
/// or a directory holding any of these. The format comes from the file's first bytes, not its name.
public enum ModelFile {
    public static func open(_ path: String) throws -> Model {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw ModelError(path, "no such file")
        }
        if isDir.boolValue { return try openDirectory(path) }
        let source = try FileSource(path: path)
        guard source.size > 0 else { throw ModelError(path, "file is empty") }
        let head = try source.bytes(at: 0, count: Int(min(source.size, 16)))
        switch sniff(head, name: path) {
        case .gguf: return try GGUFReader.open(source)
        case .npy: return try NumpyReader.openNpy(source)
        case .npz: return try NumpyReader.openNpz(path)
        case .safetensorsIndex: return try SafetensorsReader.openIndex(path)
        case .safetensors: return try SafetensorsReader.open(source)
        case nil:
            throw ModelError(path, "unknown format (expected safetensors, GGUF, .npy or .npz)")
        }
    }

    enum Kind { case gguf, npy, npz, safetensors, safetensorsIndex }

    static func sniff(_ head: [UInt8], name: String) -> Kind? {
        if head.starts(with: Array("GGUF".utf8)) { return .gguf }
        if head.starts(with: [0x93] + Array("NUMPY".utf8)) { return .npy }
        if head.starts(with: [0x50, 0x4B, 0x03, 0x04]) || head.starts(with: [0x50, 0x4B, 0x05, 0x06]) { return .npz }
        if name.hasSuffix(".safetensors.index.json") { return .safetensorsIndex }
        // safetensors: u64 header length, then a JSON object (possibly after padding spaces it is `{`).
        if head.count >= 9 && head[8] == UInt8(ascii: "{") { return .safetensors }
        if name.hasSuffix(".safetensors") { return .safetensors }
        return nil
    }

    /// Every model file directly inside `path`, as one model. Shards named by an index are opened through it,
    /// not again on their own. Tensor names that repeat across files are prefixed with their file's name.
    static func openDirectory(_ path: String) throws -> Model {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: path).sorted()
        } catch {
            throw ModelError(path, "cannot list directory")
        }
        let indexes = names.filter { $0.hasSuffix(".safetensors.index.json") }
        var covered = Set<String>()
        var parts: [(file: String, model: Model)] = []
        for index in indexes {
            let m = try SafetensorsReader.openIndex((path as NSString).appendingPathComponent(index))
            covered.formUnion(try SafetensorsReader.shardNames(inIndex: (path as NSString).appendingPathComponent(index)))
            parts.append((index, m))
        }
        let modelExtensions = [".safetensors", ".gguf", ".npy", ".npz"]
        for name in names where !covered.contains(name) && modelExtensions.contains(where: { name.hasSuffix($0) }) {
            parts.append((name, try open((path as NSString).appendingPathComponent(name))))
        }
        guard !parts.isEmpty else { throw ModelError(path, "directory holds no model file (.safetensors, .gguf, .npy, .npz)") }

        var seen = [String: Int]()
        for p in parts { for t in p.model.tensors { seen[t.name, default: 0] += 1 } }
        var tensors: [Tensor] = []
        var metadata: [(key: String, value: MetadataValue)] = []
        for p in parts {
            for t in p.model.tensors {
                if seen[t.name, default: 0] > 1 {
                    tensors.append(try Tensor(name: p.file + ":" + t.name, dtype: t.dtype, shape: t.shape, data: t.data,
                                              byteOrder: t.byteOrder, fortranOrder: t.fortranOrder))
                } else {
                    tensors.append(t)
                }
            }
            for kv in p.model.metadata { metadata.append((p.file + ":" + kv.key, kv.value)) }
        }
        return Model(path: path, format: .directory, metadata: metadata, tensors: tensors)
    }
}
