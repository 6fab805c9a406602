/// A forward-only little-endian reader over a byte source for parsing GGUF headers: bounded `pread` windows
/// (64 KiB), never a mapping. Every length read from the file is checked against the bytes that remain before
/// anything sized by it is allocated.
struct GGUFCursor {
    let source: any ByteSource
    /// Absolute offset of the next byte to read.
    private(set) var offset: UInt64 = 0
    private var window: [UInt8] = []
    private var windowStart: UInt64 = 0

    static let windowSize = 64 * 1024

    init(_ source: any ByteSource) {
        self.source = source
    }

    var path: String { source.path }
    var remaining: UInt64 { source.size - offset }

    func fail(_ reason: String) -> ModelError { ModelError(source.path, reason) }

    /// Makes `count` bytes at `offset` available in the window (count ≤ windowSize).
    private mutating func ensure(_ count: Int, what: @autoclosure () -> String) throws -> Int {
        let start = Int(truncatingIfNeeded: offset &- windowStart)
        if offset >= windowStart, start + count <= window.count { return start }
        guard UInt64(count) <= remaining else {
            throw fail("file is truncated: \(what()) needs \(count) bytes at offset \(offset), file has \(source.size)")
        }
        let n = Int(min(UInt64(max(Self.windowSize, count)), remaining))
        if window.count != n { window = [UInt8](repeating: 0, count: n) }
        try window.withUnsafeMutableBytes { try source.read(at: offset, into: $0) }
        windowStart = offset
        return 0
    }

    private mutating func load<T: FixedWidthInteger>(_: T.Type, what: @autoclosure () -> String) throws -> T {
        let size = MemoryLayout<T>.size
        let at = try ensure(size, what: what())
        let v = window.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: at, as: T.self)) }
        offset += UInt64(size)
        return v
    }

    mutating func u8(_ what: @autoclosure () -> String) throws -> UInt8 { try load(UInt8.self, what: what()) }
    mutating func u16(_ what: @autoclosure () -> String) throws -> UInt16 { try load(UInt16.self, what: what()) }
    mutating func u32(_ what: @autoclosure () -> String) throws -> UInt32 { try load(UInt32.self, what: what()) }
    mutating func u64(_ what: @autoclosure () -> String) throws -> UInt64 { try load(UInt64.self, what: what()) }

    /// Moves past `count` bytes that were already bound-checked by the caller.
    mutating func skip(_ count: UInt64, what: @autoclosure () -> String) throws {
        guard count <= remaining else {
            throw fail("file is truncated: \(what()) needs \(count) bytes at offset \(offset), file has \(source.size)")
        }
        offset += count
    }

    /// A GGUF string: u64 byte length, then that many bytes of UTF-8 (not NUL-terminated).
    mutating func string(_ what: @autoclosure () -> String) throws -> String {
        let length = try u64("length of \(what())")
        guard length <= remaining else {
            throw fail("string length \(length) of \(what()) at offset \(offset - 8) cannot fit in the file (\(remaining) bytes remain)")
        }
        guard length <= GGUFLimits.maxStringBytes else {
            throw fail("string length \(length) of \(what()) is too large (limit \(GGUFLimits.maxStringBytes) bytes)")
        }
        let count = Int(length)
        if count == 0 { return "" }
        let decoded: String?
        if count <= Self.windowSize {
            let at = try ensure(count, what: what())
            decoded = window.withUnsafeBufferPointer { Self.utf8(UnsafeBufferPointer(rebasing: $0[at..<(at + count)])) }
        } else {
            let bytes = try source.bytes(at: offset, count: count)
            decoded = bytes.withUnsafeBufferPointer { Self.utf8($0) }
        }
        guard let text = decoded else {
            throw fail("\(what()) at offset \(offset - 8) is not valid UTF-8")
        }
        offset += length
        return text
    }

    /// Strict UTF-8 validation (no overlongs, surrogates or truncated sequences), then decoding.
    static func utf8(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
        if bytes.allSatisfy({ $0 < 0x80 }) { return String(decoding: bytes, as: UTF8.self) }
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        loop: while true {
            switch decoder.decode(&iterator) {
            case .scalarValue: continue
            case .emptyInput: break loop
            case .error: return nil
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Sanity bounds beyond "fits in the file", so a large hostile file cannot make the header parser allocate
/// many times its own size or recurse without end.
enum GGUFLimits {
    /// ggml allows 4 dimensions; gguf-py writes whatever numpy has. More than 8 is not a real model.
    static let maxDimensions: UInt32 = 8
    /// Array elements across all metadata (real vocabularies hold a few hundred thousand tokens).
    static let maxArrayElements: UInt64 = 1 << 23
    /// Nesting depth of arrays of arrays.
    static let maxArrayDepth = 16
    /// One string (chat templates are kilobytes; this is generous).
    static let maxStringBytes: UInt64 = 256 << 20
}
