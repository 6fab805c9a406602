import Foundation

/// Opens whatever the user points at: a file in any format of `ModelReaders.all`, or a directory holding
/// such files. The format comes from the file's first bytes (and, failing a signature, its name).
public enum ModelFile {
    public static func open(_ path: String) throws -> Model {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw ModelError(path, "no such file")
        }
        if isDir.boolValue { return try openDirectory(path) }
        let source = try FileSource(path: path)
        guard source.size > 0 else { throw ModelError(path, "file is empty") }
        let head = try source.bytes(at: 0, count: Int(min(source.size, UInt64(ModelReaders.headBytes))))
        guard let reader = ModelReaders.reader(head: head, name: path) else {
            throw ModelError(path, "unknown format (expected \(ModelReaders.expectedFormats))")
        }
        return try reader.open(source)
    }

    /// Every model file directly inside `path`, as one model. Shards named by an index are opened through it,
    /// not again on their own. Tensor names that repeat across files are prefixed with their file's name.
    public static func openDirectory(_ path: String) throws -> Model {
        var names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: path).sorted()
        } catch {
            throw ModelError(path, "cannot list directory")
        }
        // Hugging Face repositories often hold the same weights twice, as safetensors and as
        // `pytorch_model*.bin`: then only the safetensors copy is read.
        if names.contains(where: { $0.hasSuffix(".safetensors") || $0.hasSuffix(".safetensors.index.json") }) {
            names.removeAll { $0.hasPrefix("pytorch_model") && ($0.hasSuffix(".bin") || $0.hasSuffix(".bin.index.json")) }
        }
        func reader(for name: String) -> (any ModelReader.Type)? {
            ModelReaders.all.first { r in r.fileExtensions.contains { name.hasSuffix($0) } }
        }
        var covered = Set<String>()
        var parts: [(file: String, model: Model)] = []
        // One unreadable file does not make the directory unusable: the rest open, and the file is listed
        // with why. When nothing opens, the first file's error is the answer.
        var skipped: [ModelError] = []
        for name in names {
            guard let r = reader(for: name), r.isIndex else { continue }
            do {
                let source = try FileSource(path: (path as NSString).appendingPathComponent(name))
                let model = try r.open(source)
                covered.formUnion(try r.includedFiles(source))
                parts.append((name, model))
            } catch let e as ModelError {
                skipped.append(e)
            }
        }
        for name in names where !covered.contains(name) {
            guard let r = reader(for: name), !r.isIndex else { continue }
            do {
                parts.append((name, try open((path as NSString).appendingPathComponent(name))))
            } catch let e as ModelError {
                skipped.append(e)
            }
        }
        if parts.isEmpty, let first = skipped.first { throw first }
        guard !parts.isEmpty else { throw ModelError(path, "directory holds no model file (\(ModelReaders.directoryExtensions))") }

        var seen = [String: Int]()
        for p in parts { for t in p.model.tensors { seen[t.name, default: 0] += 1 } }
        var tensors: [Tensor] = []
        var metadata: [(key: String, value: MetadataValue)] = []
        for p in parts {
            for t in p.model.tensors {
                if seen[t.name, default: 0] > 1 {
                    tensors.append(try t.renamed(p.file + ":" + t.name))
                } else {
                    tensors.append(t)
                }
            }
            for kv in p.model.metadata { metadata.append((p.file + ":" + kv.key, kv.value)) }
        }
        var model = Model(path: path, format: .directory, metadata: metadata, tensors: tensors)
        model.skippedFiles = skipped.map(\.description)
        return model
    }
}
