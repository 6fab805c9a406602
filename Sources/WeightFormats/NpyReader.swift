import Foundation

/// Reads a NumPy `.npy` file (format 1–3): one tensor, named after the file's base name without its
/// extension. Nothing is ever unpickled: object arrays (`|O`) and structured dtypes are refused. Data shorter
/// than the header's shape needs is an error; bytes after the array are ignored, as `numpy.load` ignores them.
public enum NpyReader: ModelReader {
    public static let name = ".npy"
    public static let fileExtensions = [".npy"]

    public static func sniff(head: [UInt8], name: String) -> SniffMatch? {
        head.starts(with: NpyHeader.magic) ? .signature : nil
    }

    public static func open(_ source: FileSource) throws -> Model {
        let name = ((source.path as NSString).lastPathComponent as NSString).deletingPathExtension
        let tensor = try tensor(named: name, in: source, header: try NpyHeader.read(source, path: source.path),
                                path: source.path, what: "array")
        return Model(path: source.path, format: .npy, metadata: [], tensors: [tensor])
    }

    /// The tensor an `.npy` header describes in `source` (a file or an `.npz` member), checked against the
    /// bytes that follow the header. `what` names it in errors ("array", "member 'w.npy'").
    static func tensor(named name: String, in source: any ByteSource, header: NpyHeader,
                       path: String, what: String) throws -> Tensor {
        guard let count = Shape.elementCount(header.shape), let bytes = header.dtype.byteCount(elements: count) else {
            throw ModelError(path, "\(what): shape \(header.shape) overflows the element count")
        }
        let available = source.size - UInt64(header.dataOffset)
        guard UInt64(bytes) <= available else {
            throw ModelError(path, "\(what): data is truncated: \(header.dtype) \(header.shape) needs \(bytes) bytes but only \(available) follow the header")
        }
        let data = try SliceSource(source, offset: UInt64(header.dataOffset), count: UInt64(bytes))
        return try Tensor(name: name, dtype: header.dtype, shape: header.shape, data: data,
                          byteOrder: header.byteOrder, fortranOrder: header.fortranOrder)
    }
}

extension ModelFormat {
    public static let npy = ModelFormat(rawValue: "npy")
}
