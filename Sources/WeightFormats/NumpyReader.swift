import Foundation

/// Reads NumPy `.npy` (format 1–3) and `.npz` archives.
///
/// Nothing is ever unpickled: object arrays (`|O`) and structured dtypes are refused. Data shorter than the
/// header's shape needs is an error; bytes after the array are ignored, as `numpy.load` ignores them.
public enum NumpyReader {
    /// One tensor, named after the file's base name without its extension.
    public static func openNpy(_ source: FileSource) throws -> Model {
        let name = ((source.path as NSString).lastPathComponent as NSString).deletingPathExtension
        let tensor = try tensor(named: name, in: source, header: try NpyHeader.read(source, path: source.path),
                                path: source.path, what: "array")
        return Model(path: source.path, format: .npy, metadata: [], tensors: [tensor])
    }

    /// One tensor per `.npy` member, named after the member without `.npy`, in archive order.
    public static func openNpz(_ path: String) throws -> Model {
        let file = try FileSource(path: path)
        let archive = try NpzArchive.open(path, file: file)
        var tensors: [Tensor] = []
        for member in archive.members where !member.isDirectory {
            let shown = DisplayText.escaped(member.name)
            guard member.name.hasSuffix(".npy") else {
                throw ModelError(path, "member '\(shown)' is not an .npy file")
            }
            let headSource = MemorySource(try member.prefix(), path: path)
            let header: NpyHeader
            do {
                header = try NpyHeader.read(headSource, path: path)
            } catch let e as ModelError {
                throw ModelError(path, "member '\(shown)': \(e.reason)")
            }
            let name = String(member.name.dropLast(4))
            tensors.append(try tensor(named: name, in: member.source, header: header, path: path,
                                      what: "member '\(shown)'"))
        }
        return Model(path: path, format: .npz, metadata: [], tensors: tensors)
    }

    private static func tensor(named name: String, in source: any ByteSource, header: NpyHeader,
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
