/// The protobuf wire format read straight from a file, field by field, without decoding a message into
/// memory: the ONNX reader walks a model with it and records where each tensor's bytes lie, so a `raw_data`
/// payload of gigabytes is never copied (see the README's ONNX section for why not swift-protobuf).
///
/// Every length is checked against the enclosing message before it is used, varints are at most 10 bytes,
/// and reads go through a small window, so a hostile file costs at most its own size in work.
struct ProtobufWire {
    /// Wire types of protobuf's encoding (groups, 3 and 4, are refused: no ONNX message uses them).
    enum WireType: UInt8 { case varint = 0, fixed64 = 1, length = 2, fixed32 = 5 }

    /// One field occurrence: for `.length`, `range` is its payload; for the fixed types, the value's bytes;
    /// for `.varint`, `value` holds the number and `range` its encoding.
    struct Field {
        let number: UInt64
        let type: WireType
        let value: UInt64
        let range: Range<UInt64>
        /// Where the field's key starts (the whole field is `start..<range.upperBound`).
        var start: UInt64 = 0
    }

    let source: any ByteSource
    /// What the file is called in messages (`ModelError.path`).
    var path: String { source.path }
    private var window: [UInt8] = []
    private var windowStart: UInt64 = 0
    static let windowBytes = 1 << 16

    init(_ source: any ByteSource) { self.source = source }

    /// The byte at `offset`; `limit` is the end of the message being read (for the error).
    private mutating func byte(at offset: UInt64, limit: UInt64, what: String) throws -> UInt8 {
        guard offset < limit else {
            throw ModelError(path, "truncated protobuf: \(what) at offset \(offset) runs past the end of its message (\(limit))")
        }
        if offset < windowStart || offset >= windowStart + UInt64(window.count) {
            let n = Int(min(UInt64(Self.windowBytes), source.size - min(offset, source.size)))
            guard n > 0 else { throw ModelError(path, "truncated protobuf: \(what) at offset \(offset) is past the end of the file") }
            window = try source.bytes(at: offset, count: n)
            windowStart = offset
        }
        return window[Int(offset - windowStart)]
    }

    /// A varint at `offset` and where it ends.
    mutating func varint(at offset: UInt64, limit: UInt64, what: String = "varint") throws -> (UInt64, UInt64) {
        var result: UInt64 = 0
        var p = offset
        for k in 0..<10 {
            let b = try byte(at: p, limit: limit, what: what)
            p += 1
            if k == 9 && b > 1 { throw ModelError(path, "bad varint at offset \(offset): more than 64 bits") }
            result |= UInt64(b & 0x7F) << (7 * UInt64(k))
            if b & 0x80 == 0 { return (result, p) }
        }
        throw ModelError(path, "bad varint at offset \(offset): longer than 10 bytes")
    }

    /// Calls `body` for every field of the message occupying `range`, in file order.
    mutating func forEachField(in range: Range<UInt64>, _ body: (inout ProtobufWire, Field) throws -> Void) throws {
        var p = range.lowerBound
        let end = range.upperBound
        guard end <= source.size else {
            throw ModelError(path, "truncated protobuf: message ends at \(end), the file has \(source.size) bytes")
        }
        while p < end {
            let (key, afterKey) = try varint(at: p, limit: end, what: "field key")
            let number = key >> 3
            guard number > 0, number < (1 << 29) else {
                throw ModelError(path, "bad protobuf field number \(number) at offset \(p)")
            }
            guard let type = WireType(rawValue: UInt8(key & 7)) else {
                throw ModelError(path, "unsupported protobuf wire type \(key & 7) at offset \(p)")
            }
            let field: Field
            switch type {
            case .varint:
                let (v, next) = try varint(at: afterKey, limit: end)
                field = Field(number: number, type: type, value: v, range: afterKey..<next)
            case .fixed32, .fixed64:
                let n: UInt64 = type == .fixed32 ? 4 : 8
                guard end - afterKey >= n else {
                    throw ModelError(path, "truncated protobuf: field \(number) at offset \(p) needs \(n) bytes")
                }
                field = Field(number: number, type: type, value: 0, range: afterKey..<(afterKey + n))
            case .length:
                let (n, start) = try varint(at: afterKey, limit: end, what: "length")
                guard n <= end - start else {
                    throw ModelError(path, "protobuf field \(number) at offset \(p) declares \(n) bytes, but its message has \(end - start) left")
                }
                field = Field(number: number, type: type, value: n, range: start..<(start + n))
            }
            var located = field
            located.start = p
            try body(&self, located)
            p = field.range.upperBound
        }
    }

    /// The bytes of `range` (a string or small message), bounded by `maxBytes`.
    mutating func bytes(_ range: Range<UInt64>, maxBytes: Int = 1 << 20, what: String) throws -> [UInt8] {
        let n = range.upperBound - range.lowerBound
        guard n <= UInt64(maxBytes) else {
            throw ModelError(path, "\(what) at offset \(range.lowerBound) is \(n) bytes, over the \(maxBytes)-byte limit")
        }
        if range.lowerBound >= windowStart && range.upperBound <= windowStart + UInt64(window.count) {
            let a = Int(range.lowerBound - windowStart)
            return Array(window[a..<(a + Int(n))])
        }
        return try source.bytes(at: range.lowerBound, count: Int(n))
    }

    /// A UTF-8 string field (names, op types); invalid UTF-8 is repaired rather than refused, since a name is
    /// only shown.
    mutating func string(_ field: Field, what: String) throws -> String {
        guard field.type == .length else { throw ModelError(path, "\(what) at offset \(field.range.lowerBound) is not a string") }
        return String(decoding: try bytes(field.range, maxBytes: 1 << 16, what: what), as: UTF8.self)
    }

    /// The varints of a repeated integer field: packed (a length payload) or one value (unpacked).
    mutating func integers(_ field: Field, into out: inout [Int64], max: Int, what: String) throws {
        switch field.type {
        case .varint:
            guard out.count < max else { throw ModelError(path, "\(what): more than \(max) values") }
            out.append(Int64(bitPattern: field.value))
        case .length:
            var p = field.range.lowerBound
            while p < field.range.upperBound {
                guard out.count < max else { throw ModelError(path, "\(what): more than \(max) values") }
                let (v, next) = try varint(at: p, limit: field.range.upperBound)
                out.append(Int64(bitPattern: v))
                p = next
            }
        default:
            throw ModelError(path, "\(what) at offset \(field.range.lowerBound) has wire type \(field.type.rawValue), not an integer")
        }
    }
}
