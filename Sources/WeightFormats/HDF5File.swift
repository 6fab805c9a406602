/// A small, read-only HDF5 reader for the subset Keras and h5py files use (written from the HDF5 File Format
/// Specification 3.0; Netron's hdf5.js reads a similar subset). Chosen over linking Debian's libhdf5 1.10.8,
/// whose file parser has unfixed memory-safety CVEs: every address, size and count here comes from the file
/// and is checked against the file size, in 64-bit arithmetic, before it is read or anything is allocated.
///
/// Supported: superblock versions 0–3; object headers v1 and v2 with continuation blocks; groups kept as
/// symbol tables (v1 B-tree + local heap), as compact link messages or as dense links in a fractal heap
/// (`HDF5FractalHeap`); attributes, compact or dense (numbers, fixed strings, variable-length strings from
/// the global heap); contiguous, compact and v1-B-tree chunked datasets with no filter, deflate, shuffle or
/// Fletcher-32. Refused with a clear error: filtered fractal heaps, soft and external links,
/// external and virtual datasets, other filters, chunk indexes of layout version 4.
final class HDF5File {
    let source: any ByteSource
    var path: String { source.path }
    /// Bytes of a file address and of a length ("size of offsets", "size of lengths").
    let offsetSize: Int
    let lengthSize: Int
    /// Where the superblock starts; addresses are relative to it.
    let base: UInt64
    let superblockVersion: Int
    let rootAddress: UInt64

    static let signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]
    /// Nesting the reader follows at most (groups inside groups, B-tree levels, continuation blocks).
    static let maximumDepth = 64
    /// Header messages one object may have, summed over its continuation blocks.
    static let maximumMessages = 65_536

    init(_ source: any ByteSource) throws {
        self.source = source
        // The superblock sits at 0, 512, 1024, 2048, … (a user block may precede it).
        var at: UInt64 = 0
        var found: UInt64?
        while at + 8 <= source.size {
            if try source.bytes(at: at, count: 8) == Self.signature { found = at; break }
            at = at == 0 ? 512 : at * 2
        }
        guard let sb = found else { throw ModelError(source.path, "is not an HDF5 file (no HDF5 signature)") }
        let head = try source.bytes(at: sb, count: Int(min(source.size - sb, 128)))
        var c = HDF5Cursor(head, path: source.path, what: "superblock")
        c.position = 8
        let version = Int(try c.u8())
        superblockVersion = version
        switch version {
        case 0, 1:
            c.position += 4  // free-space, root symbol table, reserved, shared header versions
            offsetSize = Int(try c.u8())
            lengthSize = Int(try c.u8())
            c.position += 1 + 4 + 4  // reserved, leaf/internal K, consistency flags
            if version == 1 { c.position += 4 }
        case 2, 3:
            offsetSize = Int(try c.u8())
            lengthSize = Int(try c.u8())
            c.position += 1
        default:
            throw ModelError(source.path, "HDF5 superblock version \(version) is not supported")
        }
        guard [2, 4, 8].contains(offsetSize), [2, 4, 8].contains(lengthSize) else {
            throw ModelError(source.path, "HDF5 superblock: invalid address size \(offsetSize) or length size \(lengthSize)")
        }
        c.offsetSize = offsetSize
        c.lengthSize = lengthSize
        let baseAddress = try c.offset()
        base = baseAddress == HDF5Cursor.undefined ? sb : sb &+ baseAddress
        if version < 2 {
            _ = try c.offset()  // free space
            _ = try c.offset()  // end of file
            _ = try c.offset()  // driver info
            _ = try c.offset()  // root entry: link name offset
            rootAddress = try c.offset()
        } else {
            _ = try c.offset()  // superblock extension
            _ = try c.offset()  // end of file
            rootAddress = try c.offset()
        }
    }

    /// `count` bytes at file address `address` (relative to the superblock), checked against the file.
    func bytes(at address: UInt64, count: Int, _ what: @autoclosure () -> String) throws -> [UInt8] {
        let (absolute, overflow) = base.addingReportingOverflow(address)
        guard !overflow, count >= 0, absolute <= source.size, UInt64(count) <= source.size - absolute else {
            throw ModelError(path, "\(what()): \(count) bytes at address \(address) lie outside the file (\(source.size) bytes)")
        }
        return try source.bytes(at: absolute, count: count)
    }

    /// A byte window of the file at `address`, for dataset data read in place.
    func slice(at address: UInt64, count: UInt64, _ what: @autoclosure () -> String) throws -> any ByteSource {
        let (absolute, overflow) = base.addingReportingOverflow(address)
        guard !overflow, absolute <= source.size, count <= source.size - absolute else {
            throw ModelError(path, "\(what()): \(count) bytes of data at address \(address) lie outside the file (\(source.size) bytes)")
        }
        return try SliceSource(source, offset: absolute, count: count)
    }

    /// Bytes from `address` to at most `limit` bytes on (fewer at the end of the file).
    func prefix(at address: UInt64, limit: Int, _ what: @autoclosure () -> String) throws -> [UInt8] {
        let (absolute, overflow) = base.addingReportingOverflow(address)
        guard !overflow, absolute < source.size else {
            throw ModelError(path, "\(what()): address \(address) lies outside the file (\(source.size) bytes)")
        }
        return try source.bytes(at: absolute, count: Int(min(UInt64(limit), source.size - absolute)))
    }

    func cursor(_ bytes: [UInt8], _ what: String) -> HDF5Cursor {
        var c = HDF5Cursor(bytes, path: path, what: what)
        c.offsetSize = offsetSize
        c.lengthSize = lengthSize
        return c
    }
}

/// Little-endian reads from a bounded byte buffer; running off its end is a `ModelError` naming `what`.
struct HDF5Cursor {
    static let undefined = UInt64.max

    let bytes: [UInt8]
    let path: String
    let what: String
    var position = 0
    var offsetSize = 8
    var lengthSize = 8

    init(_ bytes: [UInt8], path: String, what: String) {
        self.bytes = bytes
        self.path = path
        self.what = what
    }

    var remaining: Int { bytes.count - position }

    mutating func take(_ n: Int) throws -> ArraySlice<UInt8> {
        guard n >= 0, n <= remaining else {
            throw ModelError(path, "\(what) is truncated: needs \(n) bytes at \(position), has \(max(0, remaining))")
        }
        defer { position += n }
        return bytes[position..<(position + n)]
    }

    mutating func skip(_ n: Int) throws { _ = try take(n) }

    mutating func uint(_ n: Int) throws -> UInt64 {
        let b = try take(n)
        var v: UInt64 = 0
        for (k, x) in b.enumerated() { v |= UInt64(x) << (8 * UInt64(k)) }
        return v
    }

    mutating func u8() throws -> UInt8 { UInt8(try uint(1)) }
    mutating func u16() throws -> UInt16 { UInt16(try uint(2)) }
    mutating func u32() throws -> UInt32 { UInt32(try uint(4)) }
    mutating func u64() throws -> UInt64 { try uint(8) }

    /// A file address; all bits set (of its size) is the undefined address.
    mutating func offset() throws -> UInt64 {
        let v = try uint(offsetSize)
        return v == (offsetSize == 8 ? UInt64.max : (UInt64(1) << (8 * UInt64(offsetSize))) - 1) ? Self.undefined : v
    }

    mutating func length() throws -> UInt64 { try uint(lengthSize) }

    /// Moves to the next multiple of `n` from `origin`.
    mutating func align(_ n: Int, from origin: Int = 0) {
        let r = (position - origin) % n
        if r != 0 { position += n - r }
    }
}
