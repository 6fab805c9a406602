/// The key/value entries of a LevelDB-format table (TensorFlow's `tensorflow/core/lib/io/table*.cc`, the
/// format of a checkpoint's `.index` file), read in key order.
///
/// Layout: a 48-byte footer (metaindex and index block handles as varint64 offset/size pairs, zero padding,
/// magic `0xdb4775248b80fb57` little-endian); the index block maps separator keys to data block handles;
/// each block is followed by a 5-byte trailer (compression type, masked CRC-32C of contents + type). Block
/// entries are prefix-compressed (varint shared, unshared, value length) and end with a restart array.
/// Every handle is checked against the file, every CRC is checked, and only uncompressed blocks are read
/// (TensorFlow's BundleWriter writes no compression; a Snappy block is refused).
enum LevelDBTable {
    static let magic: UInt64 = 0xdb47_7524_8b80_fb57
    static let footerSize = 48

    static func entries(_ source: any ByteSource) throws -> [(key: [UInt8], value: [UInt8])] {
        let path = source.path
        guard source.size >= UInt64(footerSize) else {
            throw ModelError(path, "file is too small for a table footer (\(source.size) bytes)")
        }
        let footer = try source.bytes(at: source.size - UInt64(footerSize), count: footerSize)
        var m: UInt64 = 0
        for k in 0..<8 { m |= UInt64(footer[40 + k]) << (8 * UInt64(k)) }
        guard m == magic else { throw ModelError(path, "is not a TensorFlow checkpoint index (bad table magic)") }
        var c = ProtoCursor(footer, path: path, what: "table footer")
        _ = try c.varint(); _ = try c.varint()  // metaindex handle (unused)
        let indexOffset = try c.varint(), indexSize = try c.varint()
        let index = try block(source, offset: indexOffset, size: indexSize, what: "index block")
        var out: [(key: [UInt8], value: [UInt8])] = []
        var previousBlock: UInt64?
        for (_, handle) in try blockEntries(index, path: path, what: "index block") {
            var h = ProtoCursor(handle, path: path, what: "index block handle")
            let offset = try h.varint(), size = try h.varint()
            if let p = previousBlock, offset <= p {
                throw ModelError(path, "index block: data block handles are not in file order (offset \(offset) after \(p))")
            }
            previousBlock = offset
            let data = try block(source, offset: offset, size: size, what: "data block at \(offset)")
            out += try blockEntries(data, path: path, what: "data block at \(offset)")
        }
        return out
    }

    /// A block's contents, after checking its trailer (type 0, CRC).
    private static func block(_ source: any ByteSource, offset: UInt64, size: UInt64, what: String) throws -> [UInt8] {
        let path = source.path
        let (end, o) = offset.addingReportingOverflow(size)
        guard !o, end <= source.size, 5 <= source.size - end else {
            throw ModelError(path, "\(what): \(size) bytes at offset \(offset) lie beyond the end of the file (\(source.size) bytes)")
        }
        let bytes = try source.bytes(at: offset, count: Int(size) + 5)
        let type = bytes[Int(size)]
        guard type == 0 else {
            throw ModelError(path, "\(what): compression type \(type) is not supported (\(type == 1 ? "Snappy" : "unknown"); only uncompressed tables)")
        }
        var stored: UInt32 = 0
        for k in 0..<4 { stored |= UInt32(bytes[Int(size) + 1 + k]) << (8 * UInt32(k)) }
        let crc = CRC32C.masked(CRC32C.checksum(bytes[0...Int(size)]))
        guard crc == stored else { throw ModelError(path, "\(what): CRC-32C mismatch (corrupt block)") }
        return Array(bytes[0..<Int(size)])
    }

    /// The key/value pairs of one block, keys rebuilt from their shared prefixes.
    private static func blockEntries(_ block: [UInt8], path: String, what: String) throws -> [(key: [UInt8], value: [UInt8])] {
        guard block.count >= 4 else { throw ModelError(path, "\(what) is too short for its restart count") }
        var restarts: UInt32 = 0
        for k in 0..<4 { restarts |= UInt32(block[block.count - 4 + k]) << (8 * UInt32(k)) }
        let (restartBytes, o) = (UInt64(restarts) + 1).multipliedReportingOverflow(by: 4)
        guard !o, restartBytes <= UInt64(block.count) else {
            throw ModelError(path, "\(what): \(restarts) restart points do not fit in \(block.count) bytes")
        }
        let end = block.count - Int(restartBytes)
        var c = ProtoCursor(Array(block[0..<end]), path: path, what: what)
        var out: [(key: [UInt8], value: [UInt8])] = []
        var key: [UInt8] = []
        while c.remaining > 0 {
            let shared = try c.varint(), unshared = try c.varint(), valueLength = try c.varint()
            guard shared <= UInt64(key.count) else {
                throw ModelError(path, "\(what): an entry shares \(shared) bytes with a previous key of \(key.count)")
            }
            key = Array(key[0..<Int(shared)]) + (try c.bytes(unshared))
            out.append((key, try c.bytes(valueLength)))
        }
        return out
    }
}

/// CRC-32C (Castagnoli), as LevelDB and TensorFlow use it, with their "masked" form for stored CRCs.
enum CRC32C {
    static let table: [UInt32] = (0..<256).map { i in
        var c = UInt32(i)
        for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
        return c
    }

    static func checksum<C: Collection>(_ bytes: C, initial: UInt32 = 0) -> UInt32 where C.Element == UInt8 {
        var crc = ~initial
        for b in bytes { crc = table[Int((crc ^ UInt32(b)) & 0xFF)] ^ (crc >> 8) }
        return ~crc
    }

    static func masked(_ crc: UInt32) -> UInt32 { ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8 }
}

/// Protocol-buffer wire-format reads from a bounded buffer (varints, length-delimited fields, fixed32/64),
/// enough to decode TensorFlow's BundleHeaderProto and BundleEntryProto by hand.
struct ProtoCursor {
    let buffer: [UInt8]
    let path: String
    let what: String
    var position = 0

    init(_ bytes: [UInt8], path: String, what: String) {
        self.buffer = bytes
        self.path = path
        self.what = what
    }

    var remaining: Int { buffer.count - position }

    mutating func varint() throws -> UInt64 {
        var v: UInt64 = 0
        for shift in stride(from: 0, to: 70, by: 7) {
            guard position < buffer.count else { throw ModelError(path, "\(what): truncated varint") }
            let b = buffer[position]
            position += 1
            guard shift < 64 else { throw ModelError(path, "\(what): varint longer than 10 bytes") }
            v |= UInt64(b & 0x7F) << UInt64(shift)
            if b & 0x80 == 0 { return v }
        }
        throw ModelError(path, "\(what): varint longer than 10 bytes")
    }

    mutating func bytes(_ n: UInt64) throws -> [UInt8] {
        guard n <= UInt64(remaining) else {
            throw ModelError(path, "\(what): a field of \(n) bytes runs past the end (\(remaining) left)")
        }
        defer { position += Int(n) }
        return Array(buffer[position..<(position + Int(n))])
    }

    mutating func fixed(_ n: Int) throws -> UInt64 {
        let b = try bytes(UInt64(n))
        var v: UInt64 = 0
        for (k, x) in b.enumerated() { v |= UInt64(x) << (8 * UInt64(k)) }
        return v
    }

    /// The next field: its number and its value (varint or fixed as a number, length-delimited as bytes).
    mutating func field() throws -> (number: UInt64, value: UInt64, data: [UInt8]?) {
        let tag = try varint()
        let number = tag >> 3
        switch tag & 7 {
        case 0: return (number, try varint(), nil)
        case 1: return (number, try fixed(8), nil)
        case 2: return (number, 0, try bytes(try varint()))
        case 5: return (number, try fixed(4), nil)
        default: throw ModelError(path, "\(what): unsupported protobuf wire type \(tag & 7) in field \(number)")
        }
    }
}
