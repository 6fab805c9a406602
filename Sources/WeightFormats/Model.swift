/// Which format a model was read from, by name. Open-ended so that a new reader declares its own value
/// beside itself (`extension ModelFormat { static let onnx = … }`) instead of editing a list here.
public struct ModelFormat: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    /// Several model files in one directory (`ModelFile.openDirectory`).
    public static let directory = ModelFormat(rawValue: "directory")
}

/// A metadata value as stored: safetensors' `__metadata__` strings, GGUF's typed KV pairs, npz member names.
public indirect enum MetadataValue: Sendable, Equatable {
    case string(String)
    case int(Int64)
    case uint(UInt64)
    case float(Double)
    case bool(Bool)
    case array([MetadataValue])
}

/// An opened model: its tensors in file order and its metadata in file order. Holds open file handles, not data.
public struct Model: Sendable {
    public let path: String
    public let format: ModelFormat
    public let metadata: [(key: String, value: MetadataValue)]
    public let tensors: [Tensor]
    /// Files of a directory that could not be opened, each with why (`ModelError.description`); the model
    /// holds the rest. Callers print them so nothing is dropped silently.
    public var skippedFiles: [String] = []

    public init(path: String, format: ModelFormat, metadata: [(key: String, value: MetadataValue)], tensors: [Tensor]) {
        self.path = path
        self.format = format
        self.metadata = metadata
        self.tensors = tensors
    }

    public var parameters: Int { tensors.reduce(0) { $0 + $1.parameters } }
    public var byteCount: Int { tensors.reduce(0) { $0 + $1.byteCount } }
    /// What the tensors cost in the file (already-quantized weights at their stored size).
    public var originalBytes: Int { tensors.reduce(0) { $0 + $1.originalBytes } }

    /// The paths this model was read from (the model's own path and every tensor's source), for writers to
    /// refuse as outputs (`AtomicFile.write(inputs:)` compares them by device and inode).
    public var sourceFiles: [String] {
        var seen = Set<String>()
        return ([path] + tensors.map(\.data.path)).filter { seen.insert($0).inserted }
    }
}
