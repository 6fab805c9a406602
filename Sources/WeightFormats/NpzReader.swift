import Foundation

/// Reads a NumPy `.npz` archive (a zip of `.npy` files, stored or deflated, as `np.savez` and
/// `np.savez_compressed` write): one tensor per member, named after the member without `.npy`, in archive
/// order. Every member must be an `.npy`; nothing is unpickled.
public enum NpzReader: ModelReader {
    public static let name = ".npz"
    public static let fileExtensions = [".npz"]

    /// A zip local file header (`PK\3\4`) or, for an archive with no entries, an end record (`PK\5\6`).
    public static func sniff(head: [UInt8], name: String) -> SniffMatch? {
        head.starts(with: [0x50, 0x4B, 0x03, 0x04]) || head.starts(with: [0x50, 0x4B, 0x05, 0x06]) ? .signature : nil
    }

    public static func open(_ path: String) throws -> Model {
        try open(try FileSource(path: path))
    }

    public static func open(_ file: FileSource) throws -> Model {
        let path = file.path
        let archive = try ZipArchive.open(file)
        var tensors: [Tensor] = []
        for member in archive.entries where !member.isDirectory {
            let shown = DisplayText.escaped(member.name)
            guard member.name.hasSuffix(".npy") else {
                throw ModelError(path, "member '\(shown)' is not an .npy file")
            }
            let headSource = MemorySource(try member.prefix(NpyHeader.maxPrefixBytes), path: path)
            let header: NpyHeader
            do {
                header = try NpyHeader.read(headSource, path: path)
            } catch let e as ModelError {
                throw ModelError(path, "member '\(shown)': \(e.reason)")
            }
            let name = String(member.name.dropLast(4))
            tensors.append(try NpyReader.tensor(named: name, in: member.source, header: header, path: path,
                                                what: "member '\(shown)'"))
        }
        return Model(path: path, format: .npz, metadata: [], tensors: tensors)
    }
}

extension ModelFormat {
    public static let npz = ModelFormat(rawValue: "npz")
}
