/// Writes GGUF version 3 files that `GGUFReader`, gguf-py and llama.cpp read.
///
/// Layout (little-endian): magic `GGUF`, u32 version 3, u64 tensor count, u64 KV count, the KV pairs
/// (string key, u32 value type, value), the tensor infos (string name, u32 n_dims, n_dims × u64 `ne`
/// — the row-major shape reversed, innermost first —, u32 ggml type, u64 offset), zero padding to the
/// alignment, then each tensor's bytes followed by zero padding to the alignment. The alignment is
/// `general.alignment` when the metadata sets it (a u32 power of two) and 32 otherwise; tensor offsets are the
/// running sum of the padded sizes in tensor-info order, as gguf-py and ggml write them.
///
/// Streaming: the header is computed from the metadata, names, types and shapes alone, then `data` is called
/// once per tensor, in order, to write exactly that tensor's stored bytes (plain values or ggml blocks, which
/// the caller encodes), so memory is bounded by what the caller holds at once.
public enum GGUFWriter {
    /// The version written (the reader also reads 2).
    public static let version: UInt32 = 3
    /// ggml's `GGML_MAX_DIMS`: llama.cpp refuses tensors with more dimensions.
    public static let maxDimensions = 4
    /// ggml's `GGML_MAX_NAME` (64) less the terminating NUL: llama.cpp refuses longer tensor names.
    public static let maxTensorNameBytes = 63

    /// One tensor: its ggml type and its row-major shape (outermost first, as numpy and our reader give it).
    /// Its bytes are `rows × (shape.last / blockSize) × typeSize`, the last dimension a whole number of blocks.
    public struct TensorEntry: Sendable, Equatable {
        public var name: String
        public var type: GGMLType
        public var shape: [Int]

        public init(name: String, type: GGMLType, shape: [Int]) {
            self.name = name
            self.type = type
            self.shape = shape
        }
    }

    /// Writes a GGUF file through `AtomicFile` (see its rules for `overwrite` and `inputs`).
    public static func write(to path: String, metadata: [(key: String, value: GGUFValue)], tensors: [TensorEntry],
                             overwrite: Bool = false, inputs: [String] = [], beforeCommit: ((String) throws -> Void)? = nil,
                             data: (_ index: Int, _ sink: inout FileSink) throws -> Void) throws {
        let layout = try self.layout(metadata: metadata, tensors: tensors, path: path)
        try AtomicFile.write(to: path, overwrite: overwrite, inputs: inputs, beforeCommit: beforeCommit) { sink in
            try write(layout, tensors: tensors, to: &sink, path: path, data: data)
        }
    }

    /// Writes a GGUF file into `sink`. `path` names the output in errors.
    public static func write<S: ByteSink>(metadata: [(key: String, value: GGUFValue)], tensors: [TensorEntry],
                                          to sink: inout S, path: String,
                                          data: (_ index: Int, _ sink: inout S) throws -> Void) throws {
        let layout = try self.layout(metadata: metadata, tensors: tensors, path: path)
        try write(layout, tensors: tensors, to: &sink, path: path, data: data)
    }

    private static func write<S: ByteSink>(_ layout: Layout, tensors: [TensorEntry], to sink: inout S, path: String,
                                           data: (Int, inout S) throws -> Void) throws {
        try sink.write(layout.header)
        for (i, entry) in tensors.enumerated() {
            let before = sink.count
            try data(i, &sink)
            let written = sink.count - before
            guard written == UInt64(layout.byteCounts[i]) else {
                throw ModelError(path, "tensor '\(DisplayText.escaped(entry.name))': \(written) bytes written, but \(entry.type) \(entry.shape) needs \(layout.byteCounts[i])")
            }
            try sink.writeZeros(padding(layout.byteCounts[i], layout.alignment))
        }
    }

    /// The header (through the padding before the data section), the alignment and each tensor's bytes.
    struct Layout {
        let header: [UInt8]
        let alignment: Int
        let byteCounts: [Int]
    }

    private static func padding(_ size: Int, _ alignment: Int) -> Int { (alignment - size % alignment) % alignment }

    /// Validates everything the reader (ours and llama.cpp's) would refuse and lays out the header.
    static func layout(metadata: [(key: String, value: GGUFValue)], tensors: [TensorEntry], path: String) throws -> Layout {
        var out = MemorySink()
        try out.writeLittleEndian(GGUFReader.magic)
        try out.writeLittleEndian(version)
        try out.writeLittleEndian(UInt64(tensors.count))
        try out.writeLittleEndian(UInt64(metadata.count))

        var alignment = Int(GGUFReader.defaultAlignment)
        var keys = Set<String>()
        var budget = GGUFLimits.maxArrayElements
        for (key, value) in metadata {
            let shown = DisplayText.escaped(key)
            guard keys.insert(key).inserted else { throw ModelError(path, "metadata key '\(shown)' is given twice") }
            if key == GGUFReader.alignmentKey {
                guard case .uint32(let a) = value else {
                    throw ModelError(path, "general.alignment must be a u32, found \(value.type)")
                }
                if let problem = GGUFReader.alignmentProblem(UInt64(a)) { throw ModelError(path, problem) }
                alignment = Int(a)
            }
            try string(key, into: &out, what: "metadata key '\(shown)'", path: path)
            try out.writeLittleEndian(value.type.rawValue)
            try self.value(value, into: &out, what: "metadata '\(shown)'", depth: 0, budget: &budget, path: path)
        }

        var names = Set<String>()
        var byteCounts: [Int] = []
        byteCounts.reserveCapacity(tensors.count)
        var offset = 0
        for t in tensors {
            let shown = DisplayText.escaped(t.name)
            guard names.insert(t.name).inserted else { throw ModelError(path, "tensor '\(shown)' is given twice") }
            guard t.name.utf8.count <= maxTensorNameBytes else {
                throw ModelError(path, "tensor '\(shown)': name is \(t.name.utf8.count) bytes; GGUF readers allow at most \(maxTensorNameBytes)")
            }
            guard t.shape.count <= maxDimensions else {
                throw ModelError(path, "tensor '\(shown)' has \(t.shape.count) dimensions; GGUF allows at most \(maxDimensions)")
            }
            guard let count = Shape.elementCount(t.shape) else {
                throw ModelError(path, "tensor '\(shown)': shape \(t.shape) is negative or overflows the element count")
            }
            let rowLength = t.shape.last ?? 1
            guard rowLength % t.type.blockSize == 0 else {
                throw ModelError(path, "tensor '\(shown)': row length \(rowLength) is not a multiple of the \(t.type.name) block size \(t.type.blockSize)")
            }
            let (bytes, o1) = (count / t.type.blockSize).multipliedReportingOverflow(by: t.type.typeSize)
            let (padded, o2) = bytes.addingReportingOverflow(padding(bytes, alignment))
            let (end, o3) = offset.addingReportingOverflow(padded)
            guard !o1, !o2, !o3 else { throw ModelError(path, "tensor '\(shown)': data size overflows") }
            try string(t.name, into: &out, what: "tensor name '\(shown)'", path: path)
            try out.writeLittleEndian(UInt32(t.shape.count))
            for d in t.shape.reversed() { try out.writeLittleEndian(UInt64(d)) }
            try out.writeLittleEndian(t.type.id)
            try out.writeLittleEndian(UInt64(offset))
            byteCounts.append(bytes)
            offset = end
        }
        try out.writeZeros(padding(out.bytes.count, alignment))
        return Layout(header: out.bytes, alignment: alignment, byteCounts: byteCounts)
    }

    private static func string(_ s: String, into out: inout MemorySink, what: @autoclosure () -> String, path: String) throws {
        let bytes = Array(s.utf8)
        guard UInt64(bytes.count) <= GGUFLimits.maxStringBytes else {
            throw ModelError(path, "\(what()): string of \(bytes.count) bytes is too large (limit \(GGUFLimits.maxStringBytes) bytes)")
        }
        try out.writeLittleEndian(UInt64(bytes.count))
        try out.write(bytes)
    }

    private static func value(_ v: GGUFValue, into out: inout MemorySink, what: @autoclosure () -> String, depth: Int,
                              budget: inout UInt64, path: String) throws {
        switch v {
        case .uint8(let x): try out.writeLittleEndian(x)
        case .int8(let x): try out.writeLittleEndian(x)
        case .uint16(let x): try out.writeLittleEndian(x)
        case .int16(let x): try out.writeLittleEndian(x)
        case .uint32(let x): try out.writeLittleEndian(x)
        case .int32(let x): try out.writeLittleEndian(x)
        case .uint64(let x): try out.writeLittleEndian(x)
        case .int64(let x): try out.writeLittleEndian(x)
        case .float32(let x): try out.writeLittleEndian(x.bitPattern)
        case .float64(let x): try out.writeLittleEndian(x.bitPattern)
        case .bool(let x): try out.writeLittleEndian(UInt8(x ? 1 : 0))
        case .string(let s): try string(s, into: &out, what: what(), path: path)
        case .array(let elementType, let items):
            guard depth < GGUFLimits.maxArrayDepth else {
                throw ModelError(path, "\(what()): arrays nested deeper than \(GGUFLimits.maxArrayDepth) levels")
            }
            guard UInt64(items.count) <= budget else {
                throw ModelError(path, "\(what()): metadata arrays hold more than \(GGUFLimits.maxArrayElements) elements in all")
            }
            budget -= UInt64(items.count)
            try out.writeLittleEndian(elementType.rawValue)
            try out.writeLittleEndian(UInt64(items.count))
            for (i, item) in items.enumerated() {
                guard item.type == elementType else {
                    throw ModelError(path, "\(what())[\(i)] is \(item.type) in an array of \(elementType)")
                }
                try value(item, into: &out, what: "\(what())[\(i)]", depth: depth + 1, budget: &budget, path: path)
            }
        }
    }
}
