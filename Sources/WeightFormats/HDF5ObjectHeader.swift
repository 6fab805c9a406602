/// The header messages of one HDF5 object (group or dataset), gathered from its object header and every
/// continuation block (HDF5 spec IV.A.1.a version 1, IV.A.1.b version 2). Continuation blocks are followed
/// once each (a block seen twice is a cycle), at most `HDF5File.maximumDepth` of them, and the message count
/// is capped, so a hostile header cannot loop or allocate without bound.
struct HDF5ObjectHeader {
    struct Message {
        let type: UInt16
        let flags: UInt8
        let data: [UInt8]
    }

    let address: UInt64
    let messages: [Message]

    enum Kind: UInt16 {
        case dataspace = 0x01, linkInfo = 0x02, datatype = 0x03, link = 0x06, externalFiles = 0x07
        case layout = 0x08, filters = 0x0B, attribute = 0x0C, continuation = 0x10, symbolTable = 0x11
        case attributeInfo = 0x15
    }

    func all(_ kind: Kind) -> [Message] { messages.filter { $0.type == kind.rawValue } }
    func first(_ kind: Kind) -> Message? { messages.first { $0.type == kind.rawValue } }

    init(file: HDF5File, address: UInt64) throws {
        self.address = address
        let what = "object header at \(address)"
        var messages: [Message] = []
        var blocks: [(address: UInt64, length: UInt64)] = []
        var seen = Set<UInt64>()
        let head = try file.prefix(at: address, limit: 16, what)
        let isV2 = head.starts(with: Array("OHDR".utf8))
        if isV2 {
            var c = file.cursor(try file.prefix(at: address, limit: 4 + 1 + 1 + 16 + 4 + 8, what), what)
            try c.skip(4)
            let version = try c.u8()
            guard version == 2 else { throw ModelError(file.path, "\(what): version \(version) is not supported") }
            let flags = try c.u8()
            if flags & 0x20 != 0 { try c.skip(16) }
            if flags & 0x10 != 0 { try c.skip(4) }
            let sizeBytes = 1 << Int(flags & 0x03)
            let chunkSize = try c.uint(sizeBytes)
            let start = c.position
            // The first chunk: its messages, then a 4-byte checksum.
            let chunk = try file.bytes(at: address, count: try Self.checkedCount(UInt64(start), chunkSize, 4, file, what), what)
            try Self.parseV2(chunk, from: start, to: chunk.count - 4, flags: flags, into: &messages, file: file, what: what)
            seen.insert(address)
        } else {
            var c = file.cursor(head, what)
            let version = try c.u8()
            guard version == 1 else {
                throw ModelError(file.path, "\(what): not an object header (version \(version))")
            }
            try c.skip(1)
            _ = try c.u16()  // message count: the blocks' contents are authoritative
            try c.skip(4)
            let size = UInt64(try c.u32())
            // Messages start 8-byte aligned after the 12-byte prefix, at 16.
            let body = try file.bytes(at: address &+ 16, count: try Self.checkedCount(0, size, 0, file, what), what)
            try Self.parseV1(body, into: &messages, file: file, what: what)
            seen.insert(address)
        }
        // Continuation blocks, breadth first, each once.
        var next = 0
        while true {
            for m in messages[next...] where m.type == Kind.continuation.rawValue {
                var c = file.cursor(m.data, "\(what): continuation message")
                blocks.append((try c.offset(), try c.length()))
            }
            next = messages.count
            guard let block = blocks.first else { break }
            blocks.removeFirst()
            guard seen.insert(block.address).inserted else {
                throw ModelError(file.path, "\(what): continuation blocks form a cycle (block at \(block.address) seen twice)")
            }
            guard seen.count <= HDF5File.maximumDepth * 16 else {
                throw ModelError(file.path, "\(what): more than \(HDF5File.maximumDepth * 16) continuation blocks")
            }
            let bytes = try file.bytes(at: block.address, count: try Self.checkedCount(0, block.length, 0, file, what), "\(what): continuation block")
            if isV2 {
                guard bytes.starts(with: Array("OCHK".utf8)), bytes.count >= 8 else {
                    throw ModelError(file.path, "\(what): continuation block at \(block.address) has no OCHK signature")
                }
                try Self.parseV2(bytes, from: 4, to: bytes.count - 4, flags: try Self.v2Flags(file, address), into: &messages, file: file, what: what)
            } else {
                try Self.parseV1(bytes, into: &messages, file: file, what: what)
            }
        }
        self.messages = messages
    }

    /// `prefix + size + suffix` as an Int, when it fits in the file at all.
    private static func checkedCount(_ prefix: UInt64, _ size: UInt64, _ suffix: UInt64, _ file: HDF5File, _ what: String) throws -> Int {
        let (a, o1) = prefix.addingReportingOverflow(size)
        let (b, o2) = a.addingReportingOverflow(suffix)
        guard !o1, !o2, b <= file.source.size else {
            throw ModelError(file.path, "\(what): declared size \(size) exceeds the file (\(file.source.size) bytes)")
        }
        return Int(b)
    }

    private static func v2Flags(_ file: HDF5File, _ address: UInt64) throws -> UInt8 {
        try file.bytes(at: address &+ 5, count: 1, "object header at \(address)")[0]
    }

    private static func parseV1(_ body: [UInt8], into messages: inout [Message], file: HDF5File, what: String) throws {
        var c = file.cursor(body, what)
        while c.remaining >= 8 {
            let type = try c.u16()
            let size = Int(try c.u16())
            let flags = try c.u8()
            try c.skip(3)
            let data = Array(try c.take(size))
            c.align(8)
            try append(Message(type: type, flags: flags, data: data), to: &messages, file: file, what: what)
        }
    }

    private static func parseV2(_ chunk: [UInt8], from start: Int, to end: Int, flags: UInt8, into messages: inout [Message],
                                file: HDF5File, what: String) throws {
        guard end >= start else { throw ModelError(file.path, "\(what): chunk is shorter than its header") }
        var c = file.cursor(Array(chunk[start..<end]), what)
        let headerBytes = 4 + (flags & 0x04 != 0 ? 2 : 0)
        while c.remaining >= headerBytes {
            let type = UInt16(try c.u8())
            let size = Int(try c.u16())
            let mflags = try c.u8()
            if flags & 0x04 != 0 { try c.skip(2) }
            let data = Array(try c.take(size))
            try append(Message(type: type, flags: mflags, data: data), to: &messages, file: file, what: what)
        }
    }

    private static func append(_ m: Message, to messages: inout [Message], file: HDF5File, what: String) throws {
        guard messages.count < HDF5File.maximumMessages else {
            throw ModelError(file.path, "\(what): more than \(HDF5File.maximumMessages) header messages")
        }
        if m.type != 0 { messages.append(m) }
    }
}
