/// One file format weightlab reads. A new format is a type conforming to this (in `<Format>Reader.swift`)
/// plus one row in `ModelReaders.all`; `ModelFile.open` and directory scans know formats only through
/// that table.
public protocol ModelReader {
    /// The format as users know it, used in messages ("safetensors", "GGUF", ".npy", ".npz").
    static var name: String { get }
    /// File name endings a directory scan opens ("`.safetensors`", "`.safetensors.index.json`").
    static var fileExtensions: [String] { get }
    /// An index names other files (shards) that together make its model. A directory scan opens indexes
    /// first and skips the files they include; "unknown format" messages list only the non-index formats.
    static var isIndex: Bool { get }
    /// Whether a file is in this format, judged from its first bytes (`ModelReaders.headBytes` of them or
    /// the whole file if shorter) and its name. Nil: not this format.
    static func sniff(head: [UInt8], name: String) -> SniffMatch?
    /// Opens and validates the file; tensors and metadata in the format's documented order.
    static func open(_ source: FileSource) throws -> Model
    /// For an index: the files (relative to its directory) its model already includes.
    static func includedFiles(_ source: FileSource) throws -> Set<String>
}

extension ModelReader {
    public static var isIndex: Bool { false }
    public static func includedFiles(_ source: FileSource) throws -> Set<String> { [] }
}

/// How sure a sniff is. A signature (magic bytes, or a name only this format uses) beats a guess (a layout
/// other formats can show by chance, or a file extension); between equals the earlier table row wins.
public enum SniffMatch: Int, Comparable, Sendable {
    case guess = 1, signature = 2

    public static func < (a: SniffMatch, b: SniffMatch) -> Bool { a.rawValue < b.rawValue }
}

/// The table of readers: the only list of formats.
public enum ModelReaders {
    /// Every reader, in the order users know the formats (it is the order of "expected …" in messages).
    public static var all: [any ModelReader.Type] {
        [
            SafetensorsReader.self,
            SafetensorsIndexReader.self,
            GGUFReader.self,
            NpyReader.self,
            TorchZipReader.self,
            TorchIndexReader.self,
            KerasArchiveReader.self,
            NpzReader.self,
            ONNXReader.self,
            TFLiteReader.self,
            KerasH5Reader.self,
            SavedModelReader.self,
        ]
    }

    /// Bytes handed to `sniff`: enough for magic numbers and the first zip entry's name.
    public static let headBytes = 64

    /// The reader for a file with these first bytes and this name, or nil when no format claims it.
    public static func reader(head: [UInt8], name: String) -> (any ModelReader.Type)? {
        var best: (reader: any ModelReader.Type, match: SniffMatch)?
        for reader in all {
            guard let match = reader.sniff(head: head, name: name) else { continue }
            if best == nil || match > best!.match { best = (reader, match) }
        }
        return best?.reader
    }

    /// "safetensors, GGUF, .npy or .npz": the formats a file can be, for "unknown format" messages.
    public static var expectedFormats: String {
        let names = all.filter { !$0.isIndex }.map { $0.name }
        guard let last = names.last else { return "" }
        return names.count == 1 ? last : names.dropLast().joined(separator: ", ") + " or " + last
    }

    /// ".safetensors, .gguf, .npy, .npz": the file name endings a directory scan looks for.
    public static var directoryExtensions: String {
        all.filter { !$0.isIndex }.flatMap { $0.fileExtensions }.joined(separator: ", ")
    }
}
