/// Reads GGUF v2 and v3 files.
///
/// Layout (little-endian): magic `GGUF`, u32 version, u64 tensor count, u64 KV count, KV pairs (string key,
/// u32 value type, value), tensor infos (string name, u32 n_dims, n_dims × u64 dims innermost first, u32 ggml
/// type, u64 offset relative to the data section), then the data section at the header's end rounded up to
/// `general.alignment` (u32, default 32). The header is parsed from bounded `pread` windows; tensor data
/// becomes `SliceSource`s of the file.
public enum GGUFReader: ModelReader {
    public static let name = "GGUF"
    public static let fileExtensions = [".gguf"]

    /// The file starts with the bytes `GGUF` (the u32 0x46554747, little-endian).
    public static let magic: UInt32 = 0x4655_4747
    /// Data alignment when `general.alignment` is absent (ggml's `GGUF_DEFAULT_ALIGNMENT`).
    public static let defaultAlignment: UInt64 = 32
    /// The metadata key that sets the data alignment (a u32 power of two).
    public static let alignmentKey = "general.alignment"

    public static func sniff(head: [UInt8], name: String) -> SniffMatch? {
        head.starts(with: Array("GGUF".utf8)) ? .signature : nil
    }

    public static func open(_ source: FileSource) throws -> Model {
        try read(source).model(source)
    }

    /// Parses and validates the header of a GGUF file.
    static func read(_ source: any ByteSource) throws -> GGUFHeader {
        var c = GGUFCursor(source)
        guard source.size >= 4 else { throw c.fail("not a GGUF file (too short for the magic)") }
        let magic = try c.u32("magic")
        guard magic == Self.magic else { throw c.fail("bad magic: not a GGUF file") }
        let version = try c.u32("version")
        if version != 2 && version != 3 {
            if version & 0xFFFF == 0, [2, 3].contains(version.byteSwapped) {
                throw c.fail("big-endian GGUF files are not supported")
            }
            throw c.fail("unsupported GGUF version \(version) (only versions 2 and 3 are read)")
        }
        let tensorCount = try c.u64("tensor count")
        let kvCount = try c.u64("metadata count")
        // Smallest KV: u64 key length + u32 type + 1-byte value. Smallest tensor info: u64 name length,
        // u32 n_dims, u32 type, u64 offset.
        guard kvCount <= c.remaining / 13 else {
            throw c.fail("metadata (KV) count \(kvCount) cannot fit in the file")
        }
        guard tensorCount <= c.remaining / 24 else {
            throw c.fail("tensor count \(tensorCount) cannot fit in the file")
        }

        var entries: [GGUFEntry] = []
        entries.reserveCapacity(Int(min(kvCount, 1 << 12)))   // grows as entries actually parse
        var keys = Set<String>()
        var budget = GGUFLimits.maxArrayElements
        for i in 0..<kvCount {
            let key = try c.string("metadata key #\(i)")
            let type = try c.valueType("metadata '\(DisplayText.escaped(key))'")
            let value = try c.storedValue(type, what: "metadata '\(DisplayText.escaped(key))'", budget: &budget)
            guard keys.insert(key).inserted else {
                throw c.fail("duplicate metadata key '\(DisplayText.escaped(key))'")
            }
            entries.append(GGUFEntry(key: key, stored: value))
        }

        var alignment = defaultAlignment
        if let entry = entries.first(where: { $0.key == alignmentKey }) {
            guard entry.type == .uint32, let a = entry.value.unsignedValue else {
                throw c.fail("general.alignment must be a u32, found \(entry.type)")
            }
            if let problem = alignmentProblem(a) { throw c.fail(problem) }
            alignment = a
        }

        var infos: [GGUFTensorInfo] = []
        infos.reserveCapacity(Int(min(tensorCount, 1 << 12)))
        var names = Set<String>()
        for i in 0..<tensorCount {
            let info = try tensorInfo(&c, index: i)
            guard names.insert(info.name).inserted else {
                throw c.fail("duplicate tensor name '\(DisplayText.escaped(info.name))'")
            }
            infos.append(info)
        }

        let headerEnd = c.offset
        let (padded, overflow) = headerEnd.addingReportingOverflow(alignment - 1)
        guard !overflow else { throw c.fail("data section offset overflows") }
        let dataOffset = padded / alignment * alignment

        for info in infos {
            let name = DisplayText.escaped(info.name)
            guard info.offset % alignment == 0 else {
                throw c.fail("tensor '\(name)': offset \(info.offset) is not a multiple of the alignment \(alignment)")
            }
            let (start, o1) = dataOffset.addingReportingOverflow(info.offset)
            let (end, o2) = start.addingReportingOverflow(UInt64(info.byteCount))
            guard !o1, !o2, end <= source.size else {
                throw c.fail("tensor '\(name)': data at offset \(info.offset) (\(info.byteCount) bytes) lies beyond the end of the file (data section starts at \(dataOffset), file has \(source.size) bytes)")
            }
        }
        return GGUFHeader(version: version, alignment: alignment, dataOffset: dataOffset,
                          metadata: entries, tensors: infos)
    }

    /// Why `alignment` cannot be a GGUF data alignment, or nil if it can (shared with the writer).
    static func alignmentProblem(_ alignment: UInt64) -> String? {
        alignment > 0 && alignment & (alignment - 1) == 0 ? nil
            : "general.alignment \(alignment) is not a power of two greater than zero"
    }

    private static func tensorInfo(_ c: inout GGUFCursor, index: UInt64) throws -> GGUFTensorInfo {
        let name = try c.string("name of tensor #\(index)")
        let shown = DisplayText.escaped(name)
        let nDims = try c.u32("dimension count of tensor '\(shown)'")
        guard nDims <= GGUFLimits.maxDimensions else {
            throw c.fail("tensor '\(shown)' has \(nDims) dimensions (at most \(GGUFLimits.maxDimensions) are supported)")
        }
        guard UInt64(nDims) <= c.remaining / 8 else {
            throw c.fail("file is truncated: dimensions of tensor '\(shown)' cannot fit in the file")
        }
        var dims: [Int] = []       // innermost first, as stored
        var elements = 1
        for _ in 0..<nDims {
            let d = try c.u64("dimensions of tensor '\(shown)'")
            guard d <= UInt64(Int64.max) else {
                throw c.fail("tensor '\(shown)': dimension \(d) is too large")
            }
            dims.append(Int(d))
        }
        for d in dims {
            let (p, o) = elements.multipliedReportingOverflow(by: d)
            guard !o else {
                throw c.fail("tensor '\(shown)': dimensions \(dims) overflow (element count does not fit in 64 bits)")
            }
            elements = p
        }
        let typeID = try c.u32("type of tensor '\(shown)'")
        guard let type = GGMLType(id: typeID) else {
            throw c.fail("tensor '\(shown)' has unknown ggml type \(typeID)")
        }
        let rowLength = dims.first ?? 1
        guard rowLength % type.blockSize == 0 else {
            throw c.fail("tensor '\(shown)': row length \(rowLength) is not a multiple of the \(type.name) block size \(type.blockSize)")
        }
        let (bytes, o) = (elements / type.blockSize).multipliedReportingOverflow(by: type.typeSize)
        guard !o else { throw c.fail("tensor '\(shown)': data size overflows") }
        let offset = try c.u64("data offset of tensor '\(shown)'")
        return GGUFTensorInfo(name: name, type: type, dims: dims, offset: offset, byteCount: bytes)
    }
}

extension ModelFormat {
    public static let gguf = ModelFormat(rawValue: "gguf")
}

/// A parsed, validated GGUF header.
struct GGUFHeader: Sendable {
    let version: UInt32
    let alignment: UInt64
    /// Absolute file offset of the data section.
    let dataOffset: UInt64
    let metadata: [GGUFEntry]
    let tensors: [GGUFTensorInfo]

    func model(_ source: FileSource) throws -> Model {
        let tensors = try self.tensors.map { info in
            let data = try SliceSource(source, offset: dataOffset + info.offset, count: UInt64(info.byteCount))
            return try Tensor(name: info.name, dtype: DType(ggml: info.type), shape: info.shape, data: data)
        }
        return Model(path: source.path, format: .gguf, metadata: metadata.map { ($0.key, $0.value) },
                     tensors: tensors)
    }
}

/// One tensor info record.
struct GGUFTensorInfo: Sendable, Equatable {
    let name: String
    let type: GGMLType
    /// As stored: innermost (ne[0]) first.
    let dims: [Int]
    /// Relative to the data section.
    let offset: UInt64
    let byteCount: Int

    /// NumPy order: outermost first.
    var shape: [Int] { dims.reversed() }
}

extension GGUFReader {
    /// The metadata of the GGUF file at `path` exactly as stored (types included, in file order) and its
    /// data alignment, for a writer that copies them (`weightlab apply`).
    public static func storedMetadata(_ path: String) throws -> (entries: [GGUFEntry], alignment: Int) {
        let header = try read(try FileSource(path: path))
        return (header.metadata, Int(header.alignment))
    }
}
