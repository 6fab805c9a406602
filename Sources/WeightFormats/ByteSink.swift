/// Where a writer puts bytes, in order: a file being written through `AtomicFile` (`FileSink`) or memory
/// (`MemorySink`, for tests and small outputs). Writers are generic over it so they never hold a whole file.
public protocol ByteSink {
    /// Bytes accepted so far (the offset the next byte lands at).
    var count: UInt64 { get }
    mutating func write(_ bytes: UnsafeRawBufferPointer) throws
    /// An array of bytes (a requirement so that `FileSink` can hand a large one to its writer thread uncopied).
    mutating func write(_ bytes: [UInt8]) throws
}

extension ByteSink {
    public mutating func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    public mutating func write(_ text: String) throws {
        try write(Array(text.utf8))
    }

    /// A fixed-width integer, little-endian (every binary format weightlab writes is little-endian).
    mutating func writeLittleEndian<T: FixedWidthInteger>(_ value: T) throws {
        try withUnsafeBytes(of: value.littleEndian) { try write($0) }
    }

    /// `n` zero bytes (alignment padding).
    mutating func writeZeros(_ n: Int) throws {
        guard n > 0 else { return }
        try write([UInt8](repeating: 0, count: n))
    }
}

/// Bytes collected in memory.
public struct MemorySink: ByteSink {
    public private(set) var bytes: [UInt8] = []
    public init() {}
    public var count: UInt64 { UInt64(bytes.count) }
    public mutating func write(_ b: UnsafeRawBufferPointer) throws { bytes.append(contentsOf: b) }
}
