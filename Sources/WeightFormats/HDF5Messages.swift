/// Decoders for the HDF5 header messages the reader needs (HDF5 spec IV.A.2): dataspace, datatype, data
/// layout, filter pipeline, attribute and link. Each takes the message bytes already bounded by the object
/// header, so a lying size can only make a decoder run off its own buffer, which is an error.

/// A dataspace: the shape (scalar = `[]`). A null dataspace has no elements.
struct HDF5Dataspace {
    let shape: [Int]
    let isNull: Bool

    init(_ data: [UInt8], file: HDF5File, what: String) throws {
        var c = file.cursor(data, "\(what): dataspace")
        let version = try c.u8()
        let rank = Int(try c.u8())
        let flags = try c.u8()
        var null = false
        switch version {
        case 1: try c.skip(5)
        case 2: null = try c.u8() == 2
        default: throw ModelError(file.path, "\(what): dataspace version \(version) is not supported")
        }
        guard rank <= 32 else { throw ModelError(file.path, "\(what): dataspace rank \(rank) exceeds HDF5's limit of 32") }
        var dims: [Int] = []
        for _ in 0..<rank {
            let d = try c.length()
            guard d <= UInt64(Int.max) else { throw ModelError(file.path, "\(what): dimension \(d) is too large") }
            dims.append(Int(d))
        }
        _ = flags
        shape = dims
        isNull = null
    }

    var elementCount: Int? { isNull ? 0 : Shape.elementCount(shape) }
}

/// A datatype, reduced to what weights and Keras attributes use.
indirect enum HDF5Datatype {
    case integer(size: Int, signed: Bool, bigEndian: Bool)
    case float(size: Int, bigEndian: Bool)
    case string(size: Int)
    case variableString
    case opaque(size: Int)
    case other(typeClass: Int, size: Int)

    var size: Int {
        switch self {
        case .integer(let s, _, _), .float(let s, _), .string(let s), .opaque(let s), .other(_, let s): s
        case .variableString: 0
        }
    }

    /// Parses one datatype at the cursor (and moves past it, properties included).
    static func parse(_ c: inout HDF5Cursor, file: HDF5File, what: String, depth: Int = 0) throws -> (HDF5Datatype, storedSize: Int) {
        guard depth < 8 else { throw ModelError(file.path, "\(what): datatype nested deeper than 8 levels") }
        let classAndVersion = try c.u8()
        let typeClass = Int(classAndVersion & 0x0F)
        let bits = try c.uint(3)
        let size = Int(try c.u32())
        switch typeClass {
        case 0:
            try c.skip(4)
            return (.integer(size: size, signed: bits & 0x08 != 0, bigEndian: bits & 0x01 != 0), size)
        case 1:
            try c.skip(12)
            return (.float(size: size, bigEndian: bits & 0x01 != 0), size)
        case 3:
            return (.string(size: size), size)
        case 5:
            // The tag: NUL-terminated ASCII padded to a multiple of 8 (the bit field holds its length).
            try c.skip(Int(bits & 0xFF))
            return (.opaque(size: size), size)
        case 9:
            let base = try parse(&c, file: file, what: what, depth: depth + 1).0
            let isString = bits & 0x0F == 1
            if isString { return (.variableString, size) }
            if case .integer(1, _, _) = base {
                // h5py stores vlen bytes as a sequence of one-byte integers; read them as text too.
                return (.variableString, size)
            }
            return (.other(typeClass: 9, size: size), size)
        default:
            // Other classes have properties this reader does not walk; only their size is known.
            return (.other(typeClass: typeClass, size: size), size)
        }
    }

    /// The weightlab dtype of a dataset of this type, or nil when it has none. An opaque 2-byte type is
    /// bfloat16 when the dataset says so (Keras 3 stores bf16 as opaque `|V2` with attribute dtype="bfloat16").
    func dtype(opaqueName: String?) -> (DType, ByteOrder)? {
        switch self {
        case .integer(let s, let signed, let be):
            let order: ByteOrder = be ? .big : .little
            switch (s, signed) {
            case (1, true): return (.int8, order)
            case (1, false): return (.uint8, order)
            case (2, true): return (.int16, order)
            case (2, false): return (.uint16, order)
            case (4, true): return (.int32, order)
            case (4, false): return (.uint32, order)
            case (8, true): return (.int64, order)
            case (8, false): return (.uint64, order)
            default: return nil
            }
        case .float(let s, let be):
            let order: ByteOrder = be ? .big : .little
            switch s {
            case 2: return (.float16, order)
            case 4: return (.float32, order)
            case 8: return (.float64, order)
            default: return nil
            }
        case .opaque(2) where opaqueName == "bfloat16": return (.bfloat16, .little)
        default: return nil
        }
    }

    var shortName: String {
        switch self {
        case .integer(let s, let signed, _): "\(signed ? "int" : "uint")\(8 * s)"
        case .float(let s, _): "float\(8 * s)"
        case .string(let s): "fixed string of \(s) bytes"
        case .variableString: "variable-length string"
        case .opaque(let s): "opaque \(s)-byte type"
        case .other(let k, _): "HDF5 type class \(k)"
        }
    }
}

/// Where a dataset's bytes are.
enum HDF5Layout {
    case compact([UInt8])
    case contiguous(address: UInt64, size: UInt64)
    /// Chunk dimensions (rank of the dataset, without the trailing element size) and the v1 B-tree root.
    case chunked(btree: UInt64, chunk: [Int])

    init(_ data: [UInt8], rank: Int, file: HDF5File, what: String) throws {
        var c = file.cursor(data, "\(what): data layout")
        let version = try c.u8()
        guard version == 3 || version == 4 else {
            throw ModelError(file.path, "\(what): data layout version \(version) is not supported")
        }
        let layoutClass = try c.u8()
        switch layoutClass {
        case 0:
            let n = Int(try c.u16())
            self = .compact(Array(try c.take(n)))
        case 1:
            self = .contiguous(address: try c.offset(), size: try c.length())
        case 2:
            if version == 4 {
                throw ModelError(file.path, "\(what): chunk indexes of layout version 4 (libver=\"latest\") are not supported")
            }
            let dimensionality = Int(try c.u8())
            guard dimensionality == rank + 1 else {
                throw ModelError(file.path, "\(what): chunk rank \(dimensionality - 1) does not match the dataset's rank \(rank)")
            }
            let btree = try c.offset()
            var chunk: [Int] = []
            for _ in 0..<rank {
                let d = Int(try c.u32())
                guard d > 0 else { throw ModelError(file.path, "\(what): a chunk dimension is 0") }
                chunk.append(d)
            }
            _ = try c.u32()  // element size
            self = .chunked(btree: btree, chunk: chunk)
        case 3:
            throw ModelError(file.path, "\(what): virtual datasets are not supported")
        default:
            throw ModelError(file.path, "\(what): unknown data layout class \(layoutClass)")
        }
    }
}

/// The filters applied to each chunk, in the order they were applied when writing.
struct HDF5FilterPipeline {
    enum Filter: Equatable { case deflate, shuffle(elementSize: Int), fletcher32 }
    let filters: [Filter]

    init(_ data: [UInt8], file: HDF5File, what: String) throws {
        var c = file.cursor(data, "\(what): filter pipeline")
        let version = try c.u8()
        let count = Int(try c.u8())
        guard version == 1 || version == 2 else {
            throw ModelError(file.path, "\(what): filter pipeline version \(version) is not supported")
        }
        if version == 1 { try c.skip(6) }
        var out: [Filter] = []
        for _ in 0..<count {
            let id = try c.u16()
            let nameLength = version == 1 || id >= 256 ? Int(try c.u16()) : 0
            _ = try c.u16()  // flags
            let values = Int(try c.u16())
            if nameLength > 0 {
                try c.skip(nameLength)
                if version == 1 { c.align(8, from: 0) }
            }
            var client: [UInt32] = []
            for _ in 0..<values { client.append(try c.u32()) }
            if version == 1 && values % 2 == 1 { try c.skip(4) }
            switch id {
            case 1: out.append(.deflate)
            case 2: out.append(.shuffle(elementSize: Int(client.first ?? 0)))
            case 3: out.append(.fletcher32)
            default:
                let known = [4: "szip", 32000: "LZF", 32001: "Blosc", 32004: "LZ4", 32015: "Zstandard"][Int(id)]
                throw ModelError(file.path, "\(what): filter \(id)\(known.map { " (\($0))" } ?? "") is not supported (only deflate, shuffle and Fletcher-32)")
            }
        }
        filters = out
    }
}

/// One attribute: name, type, shape and raw value bytes.
struct HDF5Attribute {
    let name: String
    let type: HDF5Datatype
    let space: HDF5Dataspace
    let data: [UInt8]
    /// Bytes the message takes (header, name, type, space and value), so that messages packed back to back
    /// (in a fractal heap) can be walked.
    let encodedSize: Int

    init(_ message: [UInt8], file: HDF5File, what: String) throws {
        var c = file.cursor(message, "\(what): attribute")
        let version = try c.u8()
        guard (1...3).contains(version) else {
            throw ModelError(file.path, "\(what): attribute message version \(version) is not supported")
        }
        try c.skip(1)
        let nameSize = Int(try c.u16())
        let typeSize = Int(try c.u16())
        let spaceSize = Int(try c.u16())
        if version == 3 { try c.skip(1) }
        let nameBytes = Array(try c.take(nameSize))
        name = String(decoding: nameBytes.prefix { $0 != 0 }, as: UTF8.self)
        if version == 1 { c.align(8) }
        let typeBytes = Array(try c.take(typeSize))
        if version == 1 { c.align(8) }
        let spaceBytes = Array(try c.take(spaceSize))
        if version == 1 { c.align(8) }
        var tc = file.cursor(typeBytes, "\(what): attribute '\(DisplayText.escaped(name))' datatype")
        let (type, storedSize) = try HDF5Datatype.parse(&tc, file: file, what: what)
        self.type = type
        space = try HDF5Dataspace(spaceBytes, file: file, what: "\(what): attribute '\(DisplayText.escaped(name))'")
        data = Array(message[min(c.position, message.count)...])
        let (valueBytes, overflow) = (space.elementCount ?? Int.max).multipliedReportingOverflow(by: storedSize)
        guard !overflow, valueBytes <= data.count else {
            throw ModelError(file.path, "\(what): attribute '\(DisplayText.escaped(name))' value runs past its message")
        }
        encodedSize = c.position + valueBytes
    }

    /// The value as strings (fixed-length or variable-length), or nil for another type. Every length is
    /// checked against the bytes the attribute holds before anything is read.
    func strings(file: HDF5File, what: String) throws -> [String]? {
        guard let n = space.elementCount else { return nil }
        switch type {
        case .string(let size):
            guard size > 0 else { return Array(repeating: "", count: n) }
            let (total, o) = n.multipliedReportingOverflow(by: size)
            guard !o, total <= data.count else {
                throw ModelError(file.path, "\(what): attribute '\(DisplayText.escaped(name))' declares \(n) strings of \(size) bytes but holds \(data.count) bytes")
            }
            return (0..<n).map { k in
                String(decoding: data[(k * size)..<((k + 1) * size)].prefix { $0 != 0 }, as: UTF8.self)
            }
        case .variableString:
            let each = 4 + file.offsetSize + 4
            let (total, o) = n.multipliedReportingOverflow(by: each)
            guard !o, total <= data.count else {
                throw ModelError(file.path, "\(what): attribute '\(DisplayText.escaped(name))' declares \(n) strings but holds \(data.count) bytes")
            }
            var c = file.cursor(data, "\(what): attribute '\(DisplayText.escaped(name))'")
            var out: [String] = []
            var heap = HDF5GlobalHeap(file: file)
            for _ in 0..<n {
                let length = Int(try c.u32())
                let collection = try c.offset()
                let index = Int(try c.u32())
                if length == 0 && (collection == 0 || collection == HDF5Cursor.undefined) { out.append(""); continue }
                let bytes = try heap.object(collection: collection, index: index, what: "\(what): attribute '\(DisplayText.escaped(name))'")
                out.append(String(decoding: bytes.prefix(length).prefix { $0 != 0 }, as: UTF8.self))
            }
            return out
        default:
            return nil
        }
    }
}

/// A link of a new-style group: a name and the object it names (hard links only).
struct HDF5Link {
    let name: String
    let address: UInt64
    /// Bytes the message takes, so that messages packed back to back (in a fractal heap) can be walked.
    let encodedSize: Int

    init(_ data: [UInt8], file: HDF5File, what: String) throws {
        var c = file.cursor(data, "\(what): link")
        let version = try c.u8()
        guard version == 1 else { throw ModelError(file.path, "\(what): link message version \(version) is not supported") }
        let flags = try c.u8()
        let type = flags & 0x08 != 0 ? try c.u8() : 0
        if flags & 0x04 != 0 { try c.skip(8) }
        if flags & 0x10 != 0 { try c.skip(1) }
        let nameLength = try c.uint(1 << Int(flags & 0x03))
        guard nameLength <= UInt64(c.remaining) else {
            throw ModelError(file.path, "\(what): link name of \(nameLength) bytes runs past its message")
        }
        name = String(decoding: try c.take(Int(nameLength)), as: UTF8.self)
        switch type {
        case 0:
            address = try c.offset()
            encodedSize = c.position
        case 1: throw ModelError(file.path, "\(what): soft link '\(DisplayText.escaped(name))' is not followed")
        case 64: throw ModelError(file.path, "\(what): external link '\(DisplayText.escaped(name))' is not followed")
        default: throw ModelError(file.path, "\(what): link '\(DisplayText.escaped(name))' has unknown type \(type)")
        }
    }
}

/// Objects of global heap collections (where variable-length strings live), one collection read at a time.
struct HDF5GlobalHeap {
    let file: HDF5File
    private var collections: [UInt64: [UInt8]] = [:]

    init(file: HDF5File) { self.file = file }

    mutating func object(collection address: UInt64, index: Int, what: String) throws -> [UInt8] {
        let bytes: [UInt8]
        if let cached = collections[address] {
            bytes = cached
        } else {
            var h = file.cursor(try file.bytes(at: address, count: 8 + file.lengthSize, "\(what): global heap"), "\(what): global heap")
            guard Array(try h.take(4)) == Array("GCOL".utf8) else {
                throw ModelError(file.path, "\(what): no global heap collection at address \(address)")
            }
            try h.skip(4)
            let size = try h.length()
            guard size <= file.source.size else {
                throw ModelError(file.path, "\(what): global heap collection size \(size) exceeds the file")
            }
            bytes = try file.bytes(at: address, count: Int(size), "\(what): global heap collection")
            collections[address] = bytes
        }
        var c = file.cursor(bytes, "\(what): global heap collection at \(address)")
        try c.skip(8 + file.lengthSize)
        while c.remaining >= 8 + file.lengthSize {
            let i = Int(try c.u16())
            try c.skip(6)
            let size = try c.length()
            if i == 0 { break }
            guard size <= UInt64(c.remaining) else {
                throw ModelError(file.path, "\(what): global heap object \(i) of \(size) bytes runs past its collection")
            }
            let data = Array(try c.take(Int(size)))
            c.align(8)
            if i == index { return data }
        }
        throw ModelError(file.path, "\(what): global heap collection at \(address) has no object \(index)")
    }
}
