/// Reads a Keras 3 `.keras` archive (`keras/src/saving/saving_lib.py`): a zip of `metadata.json`,
/// `config.json` and `model.weights.h5` (stored, so the HDF5 file is read in place inside the zip). Layers are
/// named by the `name` attribute of their `vars` group and ordered as `config.json` lists them; config.json
/// is only read for names, never instantiated. An archive whose weights are `model.weights.npz` is refused.
public enum KerasArchiveReader: ModelReader {
    public static let name = "Keras"
    public static let fileExtensions = [".keras"]

    /// A zip whose first member is one saving_lib writes first (the name sits at byte 30 of the first local
    /// header), or a `.keras` zip.
    public static func sniff(head: [UInt8], name: String) -> SniffMatch? {
        guard head.starts(with: [0x50, 0x4B, 0x03, 0x04]) else { return nil }
        if name.hasSuffix(".keras") { return .signature }
        guard head.count >= 30 else { return nil }
        let nameLength = Int(head[26]) | Int(head[27]) << 8
        let first = head.count >= 30 + nameLength ? String(decoding: head[30..<(30 + nameLength)], as: UTF8.self) : ""
        return ["metadata.json", "config.json", "model.weights.h5"].contains(first) ? .signature : nil
    }

    public static func open(_ file: FileSource) throws -> Model {
        let path = file.path
        let archive = try ZipArchive.open(file)
        func member(_ name: String) -> ZipArchive.Entry? { archive.entries.first { $0.name == name && !$0.isDirectory } }
        guard let weights = member("model.weights.h5") else {
            if member("model.weights.npz") != nil {
                throw ModelError(path, "Keras archive keeps its weights as model.weights.npz, which is not supported")
            }
            throw ModelError(path, "Keras archive has no model.weights.h5")
        }
        var order: [String] = []
        var metadata: [(key: String, value: MetadataValue)] = []
        let jsonLimit = 64 << 20
        if let config = member("config.json") {
            guard config.source.size <= UInt64(jsonLimit) else { throw ModelError(path, "config.json is larger than 64 MiB") }
            order = try KerasWeights.layerOrder(configJSON: try config.prefix(jsonLimit), path: path)
        }
        if let meta = member("metadata.json"), meta.source.size <= UInt64(jsonLimit) {
            let json = try SafetensorsReader.parseJSON(try meta.prefix(jsonLimit), "metadata.json", startingAtByte: nil, path: path)
            if case .object(let members) = json {
                for m in members { if case .string(let s) = m.value { metadata.append((m.key, .string(s))) } }
            }
        }
        let h5: HDF5File
        do {
            h5 = try HDF5File(weights.source)
        } catch let e as ModelError {
            throw ModelError(path, "model.weights.h5: \(e.reason)")
        }
        let result = try KerasWeights.read(h5, layerOrder: order)
        return Model(path: path, format: .keras, metadata: metadata + result.metadata, tensors: result.tensors)
    }
}

extension ModelFormat {
    public static let keras = ModelFormat(rawValue: "keras")
}
