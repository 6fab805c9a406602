/// Writes safetensors files that `SafetensorsReader` and the reference library (`safetensors` 0.8) read.
///
/// Layout as the reference writes it: `u64 LE N`, N bytes of compact JSON (`__metadata__` first when there
/// is any metadata, then one entry per tensor) padded with spaces to a multiple of 8, then the tensors' bytes
/// back to back. Tensors keep the caller's order, so header order, data order and the order our reader
/// returns are the same. (The reference sorts tensors by alignment then name; any order is valid.)
///
/// Streaming: the header is computed from names, dtypes and shapes alone, then `data` is called once per
/// tensor, in order, to write exactly that tensor's bytes into the sink (in as many pieces as it likes), so
/// memory is bounded by what the caller holds at once.
public enum SafetensorsWriter {
    /// What the header says about one tensor. Its bytes are `shape`'s product times the dtype's size,
    /// little-endian, row-major.
    public struct TensorEntry: Sendable, Equatable {
        public var name: String
        public var dtype: DType
        public var shape: [Int]

        public init(name: String, dtype: DType, shape: [Int]) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
        }
    }

    /// Writes a safetensors file through `AtomicFile` (see its rules for `overwrite` and `inputs`).
    public static func write(to path: String, tensors: [TensorEntry], metadata: [(key: String, value: String)] = [],
                             overwrite: Bool = false, inputs: [String] = [], beforeCommit: ((String) throws -> Void)? = nil,
                             data: (_ index: Int, _ sink: inout FileSink) throws -> Void) throws {
        let header = try self.header(tensors, metadata: metadata, path: path)
        try AtomicFile.write(to: path, overwrite: overwrite, inputs: inputs, beforeCommit: beforeCommit) { sink in
            try write(header: header, tensors: tensors, to: &sink, path: path, data: data)
        }
    }

    /// Writes a safetensors file into `sink`. `path` names the output in errors.
    public static func write<S: ByteSink>(tensors: [TensorEntry], metadata: [(key: String, value: String)] = [],
                                          to sink: inout S, path: String,
                                          data: (_ index: Int, _ sink: inout S) throws -> Void) throws {
        let header = try self.header(tensors, metadata: metadata, path: path)
        try write(header: header, tensors: tensors, to: &sink, path: path, data: data)
    }

    private static func write<S: ByteSink>(header: Header, tensors: [TensorEntry], to sink: inout S, path: String,
                                           data: (Int, inout S) throws -> Void) throws {
        try sink.write(header.bytes)
        for (i, entry) in tensors.enumerated() {
            let before = sink.count
            try data(i, &sink)
            let written = sink.count - before
            guard written == UInt64(header.byteCounts[i]) else {
                throw ModelError(path, "tensor '\(DisplayText.escaped(entry.name))': \(written) bytes written, but \(entry.dtype) \(entry.shape) needs \(header.byteCounts[i])")
            }
        }
    }

    /// The bytes before the data section (length field, JSON, padding) and each tensor's byte count.
    struct Header {
        let bytes: [UInt8]
        let byteCounts: [Int]
    }

    /// Validates the tensors and metadata and lays out the header: every dtype must be one safetensors
    /// stores, names unique (and not `__metadata__`), sizes free of overflow, the header within the
    /// reference's 100 MB limit.
    static func header(_ tensors: [TensorEntry], metadata: [(key: String, value: String)], path: String) throws -> Header {
        var json = "{"
        var first = true
        if !metadata.isEmpty {
            var keys = Set<String>()
            json += JSONText.quoted("__metadata__") + ":{"
            for (k, (key, value)) in metadata.enumerated() {
                guard keys.insert(key).inserted else {
                    throw ModelError(path, "metadata key '\(DisplayText.escaped(key))' is given twice")
                }
                json += (k == 0 ? "" : ",") + JSONText.quoted(key) + ":" + JSONText.quoted(value)
            }
            json += "}"
            first = false
        }
        var names = Set<String>()
        var byteCounts: [Int] = []
        byteCounts.reserveCapacity(tensors.count)
        var offset = 0
        for t in tensors {
            let shown = DisplayText.escaped(t.name)
            guard t.name != "__metadata__" else {
                throw ModelError(path, "a tensor cannot be named '__metadata__' (the header's metadata key)")
            }
            guard names.insert(t.name).inserted else {
                throw ModelError(path, "tensor '\(shown)' is given twice")
            }
            guard let dtypeName = t.dtype.safetensorsName else {
                throw ModelError(path, "tensor '\(shown)': \(t.dtype) cannot be stored in safetensors")
            }
            guard let count = Shape.elementCount(t.shape), let bytes = t.dtype.byteCount(elements: count) else {
                throw ModelError(path, "tensor '\(shown)': shape \(t.shape) is negative or overflows the element count")
            }
            let (end, overflow) = offset.addingReportingOverflow(bytes)
            guard !overflow else { throw ModelError(path, "tensor '\(shown)': data offsets overflow") }
            json += (first ? "" : ",") + JSONText.quoted(t.name) + ":{\"dtype\":\"" + dtypeName + "\",\"shape\":["
                + t.shape.map(String.init).joined(separator: ",") + "],\"data_offsets\":[\(offset),\(end)]}"
            first = false
            byteCounts.append(bytes)
            offset = end
        }
        json += "}"
        var text = Array(json.utf8)
        let alignment = SafetensorsReader.headerAlignment
        text += [UInt8](repeating: UInt8(ascii: " "), count: (alignment - text.count % alignment) % alignment)
        guard UInt64(text.count) <= SafetensorsReader.maxHeaderBytes else {
            throw ModelError(path, "header of \(text.count) bytes exceeds the 100 MB limit of the safetensors format")
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(8 + text.count)
        withUnsafeBytes(of: UInt64(text.count).littleEndian) { bytes += $0 }
        bytes += text
        return Header(bytes: bytes, byteCounts: byteCounts)
    }
}
