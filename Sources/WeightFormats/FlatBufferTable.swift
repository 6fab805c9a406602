/// Read-only access to a FlatBuffer (the container of TFLite models) through bounded reads of a byte source.
///
/// A FlatBuffer is a graph of little-endian offsets: the root `uoffset32` at byte 0 points at a table; a
/// table starts with an `soffset32` back to its vtable (u16 vtable size, u16 table size, then one u16 field
/// offset per field, 0 for an absent field); reference fields hold a `uoffset32` relative to themselves;
/// vectors and strings start with a u32 element count. Every one of these offsets comes from the file, so
/// every position is checked against the file size (in 64-bit arithmetic, no overflow) before it is read,
/// and vector lengths are checked against the bytes that remain before anything is allocated.
///
/// Reads go through a small cache of 64 KiB pages, so walking thousands of tensors costs few `pread`s, and
/// a model larger than memory (TFLite buffers stored past the FlatBuffer) is never read whole.
final class FlatBufferFile {
    let source: any ByteSource
    var path: String { source.path }
    private var pages: [UInt64: [UInt8]] = [:]
    private static let pageSize: UInt64 = 1 << 16
    private static let maxCachedPages = 256

    init(_ source: any ByteSource) { self.source = source }

    /// `count` bytes at `position`, or an error naming `what` when they lie outside the file.
    func bytes(at position: UInt64, count: Int, _ what: @autoclosure () -> String) throws -> [UInt8] {
        guard count >= 0, position <= source.size, UInt64(count) <= source.size - position else {
            throw ModelError(path, "\(what()): offset \(position) (+\(count) bytes) lies outside the file (\(source.size) bytes)")
        }
        if count == 0 { return [] }
        var out = [UInt8]()
        out.reserveCapacity(count)
        var p = position
        let end = position + UInt64(count)
        while p < end {
            let pageIndex = p / Self.pageSize
            let page = try self.page(pageIndex)
            let start = Int(p - pageIndex * Self.pageSize)
            let take = min(page.count - start, Int(end - p))
            out.append(contentsOf: page[start..<(start + take)])
            p += UInt64(take)
        }
        return out
    }

    private func page(_ index: UInt64) throws -> [UInt8] {
        if let cached = pages[index] { return cached }
        let start = index * Self.pageSize
        let count = Int(min(Self.pageSize, source.size - start))
        let page = try source.bytes(at: start, count: count)
        if pages.count >= Self.maxCachedPages { pages.removeAll(keepingCapacity: true) }
        pages[index] = page
        return page
    }

    func u8(_ at: UInt64, _ what: @autoclosure () -> String) throws -> UInt8 { try bytes(at: at, count: 1, what())[0] }
    func u16(_ at: UInt64, _ what: @autoclosure () -> String) throws -> UInt16 { UInt16(truncatingIfNeeded: try le(at, 2, what())) }
    func u32(_ at: UInt64, _ what: @autoclosure () -> String) throws -> UInt32 { UInt32(truncatingIfNeeded: try le(at, 4, what())) }
    func u64(_ at: UInt64, _ what: @autoclosure () -> String) throws -> UInt64 { try le(at, 8, what()) }

    private func le(_ at: UInt64, _ n: Int, _ what: @autoclosure () -> String) throws -> UInt64 {
        let b = try bytes(at: at, count: n, what())
        var v: UInt64 = 0
        for i in 0..<n { v |= UInt64(b[i]) << (8 * UInt64(i)) }
        return v
    }

    /// The root table (the `uoffset32` at byte 0).
    func root() throws -> FlatBufferTable {
        let offset = try u32(0, "root offset")
        return try FlatBufferTable(file: self, position: UInt64(offset), what: "root table")
    }

    /// The target of the `uoffset32` stored at `position`.
    func follow(_ position: UInt64, _ what: @autoclosure () -> String) throws -> UInt64 {
        let offset = try u32(position, what())
        let target = position + UInt64(offset)
        guard target < source.size else {
            throw ModelError(path, "\(what()): offset \(offset) at \(position) points past the end of the file (\(source.size) bytes)")
        }
        return target
    }
}

/// One table of a FlatBuffer: its position and its vtable, with typed field accessors. Field `i` is the
/// i-th field of the schema (vtable slot `4 + 2i`).
struct FlatBufferTable {
    let file: FlatBufferFile
    let position: UInt64
    private let vtable: UInt64
    private let vtableSize: UInt16
    private let what: String

    init(file: FlatBufferFile, position: UInt64, what: String) throws {
        self.file = file
        self.position = position
        self.what = what
        let soffset = Int64(Int32(bitPattern: try file.u32(position, "\(what)")))
        let v = Int64(position) - soffset
        guard v >= 0, UInt64(v) < file.source.size else {
            throw ModelError(file.path, "\(what): vtable offset \(soffset) at \(position) points outside the file")
        }
        vtable = UInt64(v)
        vtableSize = try file.u16(vtable, "\(what) vtable")
        guard vtableSize >= 4, vtableSize % 2 == 0 else {
            throw ModelError(file.path, "\(what): vtable at \(vtable) has an invalid size \(vtableSize)")
        }
        // The whole vtable must be inside the file before any slot is read.
        _ = try file.bytes(at: vtable, count: Int(vtableSize), "\(what) vtable")
    }

    /// The absolute position of field `i`, or nil when the table does not store it.
    func field(_ i: Int) throws -> UInt64? {
        let slot = 4 + 2 * i
        guard slot + 2 <= Int(vtableSize) else { return nil }
        let offset = try file.u16(vtable + UInt64(slot), "\(what) vtable")
        return offset == 0 ? nil : position + UInt64(offset)
    }

    func u8(_ i: Int, default d: UInt8 = 0) throws -> UInt8 {
        guard let p = try field(i) else { return d }
        return try file.u8(p, "\(what) field \(i)")
    }

    func u32(_ i: Int, default d: UInt32 = 0) throws -> UInt32 {
        guard let p = try field(i) else { return d }
        return try file.u32(p, "\(what) field \(i)")
    }

    func i32(_ i: Int, default d: Int32 = 0) throws -> Int32 { Int32(bitPattern: try u32(i, default: UInt32(bitPattern: d))) }

    func u64(_ i: Int, default d: UInt64 = 0) throws -> UInt64 {
        guard let p = try field(i) else { return d }
        return try file.u64(p, "\(what) field \(i)")
    }

    /// The sub-table in field `i`, or nil when absent.
    func table(_ i: Int, _ name: String) throws -> FlatBufferTable? {
        guard let p = try field(i) else { return nil }
        return try FlatBufferTable(file: file, position: try file.follow(p, name), what: name)
    }

    /// The vector in field `i`: its first element's position and its length, checked to fit in the file with
    /// `elementSize` bytes per element. Nil when absent.
    func vector(_ i: Int, elementSize: Int, _ name: String) throws -> (start: UInt64, count: Int)? {
        guard let p = try field(i) else { return nil }
        let at = try file.follow(p, name)
        let count = UInt64(try file.u32(at, name))
        let start = at + 4
        let (bytes, overflow) = count.multipliedReportingOverflow(by: UInt64(elementSize))
        guard !overflow, start <= file.source.size, bytes <= file.source.size - start else {
            throw ModelError(file.path, "\(name): vector of \(count) elements at \(at) runs past the end of the file (\(file.source.size) bytes)")
        }
        return (start, Int(count))
    }

    /// The string in field `i` (UTF-8, invalid bytes replaced), or nil when absent.
    func string(_ i: Int, _ name: String) throws -> String? {
        guard let v = try vector(i, elementSize: 1, name) else { return nil }
        return String(decoding: try file.bytes(at: v.start, count: v.count, name), as: UTF8.self)
    }

    /// The tables of a vector of tables in field `i` (empty when absent).
    func tables(_ i: Int, _ name: String) throws -> [FlatBufferTable] {
        guard let v = try vector(i, elementSize: 4, name) else { return [] }
        var out: [FlatBufferTable] = []
        out.reserveCapacity(v.count)
        for k in 0..<v.count {
            let slot = v.start + 4 * UInt64(k)
            out.append(try FlatBufferTable(file: file, position: try file.follow(slot, "\(name)[\(k)]"), what: "\(name)[\(k)]"))
        }
        return out
    }

    /// A vector of little-endian scalars of `size` bytes each, widened to UInt64 (empty when absent).
    func scalars(_ i: Int, size: Int, _ name: String) throws -> [UInt64] {
        guard let v = try vector(i, elementSize: size, name) else { return [] }
        let raw = try file.bytes(at: v.start, count: v.count * size, name)
        return (0..<v.count).map { k in
            var x: UInt64 = 0
            for b in 0..<size { x |= UInt64(raw[k * size + b]) << (8 * UInt64(b)) }
            return x
        }
    }
}
