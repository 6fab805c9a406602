/// The bytes a pickle is read from: a window `[start, end)` of a byte source, read forward through a
/// 64 KiB buffer. Every length a pickle declares is checked against the bytes left before anything is
/// allocated, so a pickle that claims a 4 GB string costs nothing. The legacy PyTorch stream holds several
/// pickles and raw storages one after the other; `position` tells where a pickle ended.
struct PickleInput {
    let source: any ByteSource
    let end: UInt64
    private(set) var position: UInt64
    private var buffer: [UInt8] = []
    private var bufferStart: UInt64 = 0

    static let chunk = 1 << 16

    init(_ source: any ByteSource, start: UInt64 = 0, end: UInt64? = nil) {
        self.source = source
        self.end = min(end ?? source.size, source.size)
        self.position = min(start, self.end)
        self.bufferStart = self.position
    }

    var remaining: UInt64 { end - position }

    /// Thrown when the pickle needs more bytes than the window holds.
    struct Truncated: Error {}

    private mutating func fill(_ count: Int) throws {
        let inBuffer = position >= bufferStart && position - bufferStart <= UInt64(buffer.count)
            ? UInt64(buffer.count) - (position - bufferStart) : 0
        if inBuffer >= UInt64(count) { return }
        guard UInt64(count) <= remaining else { throw Truncated() }
        let n = Int(min(remaining, UInt64(max(count, Self.chunk))))
        buffer = try source.bytes(at: position, count: n)
        bufferStart = position
    }

    mutating func byte() throws -> UInt8 {
        try fill(1)
        let b = buffer[Int(position - bufferStart)]
        position += 1
        return b
    }

    /// `count` bytes, checked against the bytes left first.
    mutating func bytes(_ count: Int) throws -> [UInt8] {
        guard count >= 0, UInt64(count) <= remaining else { throw Truncated() }
        if count <= Self.chunk {
            try fill(count)
            let at = Int(position - bufferStart)
            position += UInt64(count)
            return Array(buffer[at..<(at + count)])
        }
        let out = try source.bytes(at: position, count: count)
        position += UInt64(count)
        return out
    }

    /// A little-endian unsigned integer of `count` bytes (at most 8).
    mutating func unsigned(_ count: Int) throws -> UInt64 {
        let b = try bytes(count)
        var v: UInt64 = 0
        for (i, x) in b.enumerated() { v |= UInt64(x) << (8 * UInt64(i)) }
        return v
    }

    /// A protocol-0 text argument: bytes up to a newline, at most `limit` of them.
    mutating func line(limit: Int = 256) throws -> [UInt8]? {
        var out: [UInt8] = []
        while true {
            let b = try byte()
            if b == 0x0A { return out }
            out.append(b)
            if out.count > limit { return nil }
        }
    }
}
