/// Reads an HDF5 file: Keras weights in any of their layouts (legacy full-model or `save_weights` `.h5`,
/// TFMOT-pruned `.h5`, Keras 3 `.weights.h5`), or any other HDF5 file's numeric datasets (see `KerasWeights`).
/// The HDF5 subset and why weightlab has its own reader instead of libhdf5: `HDF5File`.
public enum KerasH5Reader: ModelReader {
    public static let name = "Keras HDF5"
    public static let fileExtensions = [".h5", ".hdf5"]

    public static func sniff(head: [UInt8], name: String) -> SniffMatch? {
        if head.starts(with: HDF5File.signature) { return .signature }
        return fileExtensions.contains(where: { name.hasSuffix($0) }) ? .guess : nil
    }

    public static func open(_ source: FileSource) throws -> Model {
        try read(source)
    }

    static func read(_ source: any ByteSource) throws -> Model {
        let file = try HDF5File(source)
        let result = try KerasWeights.read(file)
        return Model(path: source.path, format: .kerasH5, metadata: result.metadata, tensors: result.tensors)
    }
}

extension ModelFormat {
    public static let kerasH5 = ModelFormat(rawValue: "keras-h5")
}
