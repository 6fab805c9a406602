import Foundation
import ZIPFoundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The members of an `.npz` (a zip of `.npy` files), each as a byte source of its uncompressed bytes.
///
/// ZIPFoundation lists the entries (and inflates deflated ones); the central directory is also walked here,
/// with bounded `pread`s, because ZIPFoundation does not expose where an entry's local header lies, and
/// because its entry iterator silently stops at an unreadable record: the two listings must agree, or the
/// archive is reported as corrupt. Stored members are windows straight into the zip file; deflated members
/// are inflated on first read into an unlinked temporary file (`InflatedMemberSource`).
struct NpzArchive {
    struct Member {
        let name: String
        let isDirectory: Bool
        /// The member's uncompressed bytes.
        let source: any ByteSource
        /// At most `NpyHeader.maxPrefixBytes` leading bytes, for reading the header without inflating it all.
        let prefix: () throws -> [UInt8]
    }

    let members: [Member]

    static func open(_ path: String, file: FileSource) throws -> NpzArchive {
        let directory = try CentralDirectory.read(file)
        let archive: Archive
        do {
            archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .read)
        } catch {
            throw ModelError(path, "not a readable zip archive (\(zipErrorText(error)))")
        }
        let listed = Array(archive)
        guard listed.count == directory.records.count else {
            throw ModelError(path, "corrupt zip archive: the central directory declares \(directory.records.count) entries but only \(listed.count) can be read")
        }
        var members: [Member] = []
        for (entry, record) in zip(listed, directory.records) {
            guard entry.path == record.name else {
                throw ModelError(path, "corrupt zip archive: entry '\(DisplayText.escaped(record.name))' is inconsistent")
            }
            guard entry.compressedSize == record.compressedSize, entry.uncompressedSize == record.uncompressedSize else {
                throw ModelError(path, "corrupt zip archive: entry '\(DisplayText.escaped(record.name))' has inconsistent sizes")
            }
            let isDirectory = entry.type == .directory
            if isDirectory {
                members.append(Member(name: record.name, isDirectory: true, source: try SliceSource(file, offset: 0, count: 0),
                                      prefix: { [] }))
                continue
            }
            let shown = DisplayText.escaped(record.name)
            guard record.flags & 1 == 0 else { throw ModelError(path, "member '\(shown)' is encrypted") }
            let dataOffset = try localDataOffset(file, record: record)
            switch record.method {
            case 0:
                guard record.compressedSize == record.uncompressedSize else {
                    throw ModelError(path, "member '\(shown)' is stored but its compressed size \(record.compressedSize) differs from its size \(record.uncompressedSize)")
                }
                let slice: SliceSource
                do {
                    slice = try SliceSource(file, offset: dataOffset, count: record.uncompressedSize)
                } catch {
                    throw ModelError(path, "member '\(shown)' lies beyond the end of the file")
                }
                members.append(Member(name: record.name, isDirectory: false, source: slice, prefix: {
                    try slice.bytes(at: 0, count: Int(min(slice.size, UInt64(NpyHeader.maxPrefixBytes))))
                }))
            case 8:
                guard dataOffset <= file.size, record.compressedSize <= file.size - dataOffset else {
                    throw ModelError(path, "member '\(shown)' lies beyond the end of the file")
                }
                let inflated = InflatedMemberSource(file: file, member: record.name, dataOffset: dataOffset,
                                                    compressedSize: record.compressedSize,
                                                    uncompressedSize: record.uncompressedSize, crc32: record.crc32)
                members.append(Member(name: record.name, isDirectory: false, source: inflated, prefix: {
                    try inflated.prefix(NpyHeader.maxPrefixBytes)
                }))
            default:
                throw ModelError(path, "member '\(shown)' uses zip compression method \(record.method); only stored and deflated are supported")
            }
        }
        return NpzArchive(members: members)
    }

    /// Where a member's data begins: its local header (30 bytes + name + extra field) is read from the file.
    static func localDataOffset(_ file: FileSource, record: CentralDirectory.Record) throws -> UInt64 {
        let shown = DisplayText.escaped(record.name)
        guard record.localHeaderOffset <= file.size, file.size - record.localHeaderOffset >= 30 else {
            throw ModelError(file.path, "corrupt zip archive: local header of '\(shown)' lies beyond the end of the file")
        }
        let h = try file.bytes(at: record.localHeaderOffset, count: 30)
        guard h[0] == 0x50, h[1] == 0x4B, h[2] == 0x03, h[3] == 0x04 else {
            throw ModelError(file.path, "corrupt zip archive: bad local header signature for '\(shown)'")
        }
        let nameLength = UInt64(h[26]) | UInt64(h[27]) << 8
        let extraLength = UInt64(h[28]) | UInt64(h[29]) << 8
        return record.localHeaderOffset + 30 + nameLength + extraLength
    }

    static func zipErrorText(_ error: any Error) -> String {
        if let e = error as? Archive.ArchiveError {
            switch e {
            case .missingEndOfCentralDirectoryRecord: return "no end of central directory record"
            case .unreadableArchive: return "unreadable archive"
            default: return "\(e)"
            }
        }
        return "\(error)"
    }
}

/// The zip central directory, walked with bounded reads: end record (zip64 aware), then each record.
struct CentralDirectory {
    struct Record {
        let name: String
        let flags: UInt16
        let method: UInt16
        let crc32: UInt32
        let compressedSize: UInt64
        let uncompressedSize: UInt64
        let localHeaderOffset: UInt64
    }

    let records: [Record]

    static func read(_ file: FileSource) throws -> CentralDirectory {
        let path = file.path
        let size = file.size
        guard size >= 22 else { throw ModelError(path, "corrupt zip archive: too small (\(size) bytes)") }
        // The end record is the last 22 bytes plus a comment of at most 65 535 bytes.
        let tailCount = Int(min(size, 22 + 65_535))
        let tail = try file.bytes(at: size - UInt64(tailCount), count: tailCount)
        var eocd: Int?
        var k = tailCount - 22
        while k >= 0 {
            if tail[k] == 0x50, tail[k + 1] == 0x4B, tail[k + 2] == 0x05, tail[k + 3] == 0x06 { eocd = k; break }
            k -= 1
        }
        guard let e = eocd else { throw ModelError(path, "corrupt zip archive: no end of central directory record") }
        func le(_ b: [UInt8], _ at: Int, _ n: Int) -> UInt64 {
            var v: UInt64 = 0
            for j in 0..<n { v |= UInt64(b[at + j]) << (8 * UInt64(j)) }
            return v
        }
        var count = le(tail, e + 10, 2)
        var cdSize = le(tail, e + 12, 4)
        var cdOffset = le(tail, e + 16, 4)
        let eocdPosition = size - UInt64(tailCount) + UInt64(e)
        if count == 0xFFFF || cdSize == 0xFFFF_FFFF || cdOffset == 0xFFFF_FFFF {
            // zip64: a 20-byte locator right before the end record points at the zip64 end record.
            guard eocdPosition >= 20 else { throw ModelError(path, "corrupt zip archive: zip64 locator missing") }
            let loc = try file.bytes(at: eocdPosition - 20, count: 20)
            guard le(loc, 0, 4) == 0x0706_4B50 else { throw ModelError(path, "corrupt zip archive: zip64 locator missing") }
            let recordOffset = le(loc, 8, 8)
            guard recordOffset <= size, size - recordOffset >= 56 else {
                throw ModelError(path, "corrupt zip archive: zip64 end record lies beyond the end of the file")
            }
            let r = try file.bytes(at: recordOffset, count: 56)
            guard le(r, 0, 4) == 0x0606_4B50 else { throw ModelError(path, "corrupt zip archive: bad zip64 end record") }
            count = le(r, 32, 8)
            cdSize = le(r, 40, 8)
            cdOffset = le(r, 48, 8)
        }
        guard cdOffset <= size, cdSize <= size - cdOffset else {
            throw ModelError(path, "corrupt zip archive: central directory lies beyond the end of the file")
        }
        // Each record takes at least 46 bytes, which bounds the count by the directory's size.
        guard count <= cdSize / 46 else {
            throw ModelError(path, "corrupt zip archive: \(count) entries cannot fit in a \(cdSize)-byte central directory")
        }
        let cd = try file.bytes(at: cdOffset, count: Int(cdSize))
        var records: [Record] = []
        records.reserveCapacity(Int(count))
        var p = 0
        for _ in 0..<count {
            guard p + 46 <= cd.count, le(cd, p, 4) == 0x0201_4B50 else {
                throw ModelError(path, "corrupt zip archive: bad central directory record \(records.count)")
            }
            let flags = UInt16(le(cd, p + 8, 2))
            let method = UInt16(le(cd, p + 10, 2))
            let crc = UInt32(le(cd, p + 16, 4))
            var csize = le(cd, p + 20, 4)
            var usize = le(cd, p + 24, 4)
            let nameLength = Int(le(cd, p + 28, 2))
            let extraLength = Int(le(cd, p + 30, 2))
            let commentLength = Int(le(cd, p + 32, 2))
            var offset = le(cd, p + 42, 4)
            let end = p + 46 + nameLength + extraLength + commentLength
            guard end <= cd.count else {
                throw ModelError(path, "corrupt zip archive: central directory record \(records.count) is truncated")
            }
            let nameBytes = Array(cd[(p + 46)..<(p + 46 + nameLength)])
            let name: String
            if flags & (1 << 11) != 0 {
                name = String(decoding: nameBytes, as: UTF8.self)
            } else {
                name = String(data: Data(nameBytes), encoding: .init(rawValue: 0x8000_0400)) // cp437, as ZIPFoundation
                    ?? String(decoding: nameBytes, as: UTF8.self)
            }
            // zip64 extended information: the 8-byte fields present are those whose 32-bit field is all ones.
            var x = p + 46 + nameLength
            let extraEnd = x + extraLength
            while x + 4 <= extraEnd {
                let id = le(cd, x, 2), len = Int(le(cd, x + 2, 2))
                guard x + 4 + len <= extraEnd else { break }
                if id == 0x0001 {
                    var f = x + 4
                    if usize == 0xFFFF_FFFF, f + 8 <= x + 4 + len { usize = le(cd, f, 8); f += 8 }
                    if csize == 0xFFFF_FFFF, f + 8 <= x + 4 + len { csize = le(cd, f, 8); f += 8 }
                    if offset == 0xFFFF_FFFF, f + 8 <= x + 4 + len { offset = le(cd, f, 8); f += 8 }
                }
                x += 4 + len
            }
            records.append(Record(name: name, flags: flags, method: method, crc32: crc, compressedSize: csize,
                                  uncompressedSize: usize, localHeaderOffset: offset))
            p = end
        }
        return CentralDirectory(records: records)
    }
}

/// A deflated zip member's uncompressed bytes. On first read the member is inflated (by ZIPFoundation's
/// zlib binding, in bounded chunks) into a temporary file that is unlinked at once, then reads are `pread`s
/// from it. The inflated length must equal the declared size exactly and the CRC-32 must match; more
/// output than declared stops the inflation at the cap (no zip bomb fills the disk).
final class InflatedMemberSource: ByteSource, @unchecked Sendable {
    let path: String
    let size: UInt64
    private let file: FileSource
    private let member: String
    private let dataOffset: UInt64
    private let compressedSize: UInt64
    private let crc32: UInt32
    private let lock = NSLock()
    private var fd: Int32 = -1

    init(file: FileSource, member: String, dataOffset: UInt64, compressedSize: UInt64, uncompressedSize: UInt64, crc32: UInt32) {
        self.file = file
        self.path = file.path
        self.member = member
        self.dataOffset = dataOffset
        self.compressedSize = compressedSize
        self.size = uncompressedSize
        self.crc32 = crc32
    }

    deinit { if fd >= 0 { close(fd) } }

    private var shown: String { DisplayText.escaped(member) }

    private struct EnoughBytes: Error {}
    private struct TooLong: Error {}

    static let chunk = 1 << 16

    /// Inflates the compressed bytes, handing each output chunk to `consume`. Compressed input is read in
    /// whole `chunk`-sized pieces (zero-padded past the member's end, because ZIPFoundation's inflate loop
    /// takes every provided chunk as full); asking for input beyond the member means the stream is truncated.
    private func inflate(_ consume: (Data) throws -> Void) throws -> UInt32 {
        var delivered: UInt64 = 0
        var calls = 0
        do {
            return try decompress(delivered: &delivered, calls: &calls, consume)
        } catch let e as ModelError {
            throw e
        } catch let e as EnoughBytes {
            throw e
        } catch let e as TooLong {
            throw e
        } catch {
            // zlib failed once every real byte had been handed over (it was reading the zero padding).
            if delivered == compressedSize {
                throw ModelError(path, "member '\(shown)': deflate stream is truncated or corrupt at its end")
            }
            throw ModelError(path, "member '\(shown)': corrupt deflate data")
        }
    }

    private func decompress(delivered: inout UInt64, calls: inout Int, _ consume: (Data) throws -> Void) throws -> UInt32 {
        return try Data.decompress(size: Int64(compressedSize), bufferSize: Self.chunk, skipCRC32: false,
            provider: { _, _ in
                // Every real byte has been handed over and zlib still wants more: the stream is cut short.
                guard delivered < self.compressedSize || calls == 0 else {
                    throw ModelError(self.path, "member '\(self.shown)': deflate stream is truncated")
                }
                calls += 1
                var data = Data(count: Self.chunk)
                let n = Int(min(UInt64(Self.chunk), self.compressedSize - delivered))
                if n > 0 {
                    try data.withUnsafeMutableBytes { raw in
                        try self.file.read(at: self.dataOffset + delivered,
                                           into: UnsafeMutableRawBufferPointer(rebasing: raw[0..<n]))
                    }
                }
                delivered += UInt64(n)
                return data
            },
            consumer: consume)
    }

    /// The first `count` uncompressed bytes (fewer if the member is shorter), without inflating the rest.
    func prefix(_ count: Int) throws -> [UInt8] {
        let want = Int(min(UInt64(count), size))
        var out: [UInt8] = []
        out.reserveCapacity(want)
        do {
            _ = try inflate { data in
                out.append(contentsOf: data.prefix(want - out.count))
                if out.count >= want { throw EnoughBytes() }
            }
        } catch is EnoughBytes {
            return out
        } catch let e as ModelError {
            throw e
        } catch {
            throw ModelError(path, "member '\(shown)': corrupt deflate data")
        }
        return out
    }

    func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws {
        guard offset <= size, UInt64(buffer.count) <= size - offset else {
            throw ModelError(path, "read of \(buffer.count) bytes at \(offset) is outside member '\(shown)' (\(size) bytes)")
        }
        if buffer.isEmpty { return }
        let fd = try materialized()
        var done = 0
        while done < buffer.count {
            let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw ModelError(path, "member '\(shown)': cannot read the inflated copy: \(String(cString: strerror(errno)))")
            }
            if n == 0 { throw ModelError(path, "member '\(shown)': inflated copy is shorter than expected") }
            done += n
        }
    }

    /// The descriptor of the inflated copy, inflating on first use. Failures are not cached: a later read
    /// tries again and reports the same error.
    private func materialized() throws -> Int32 {
        lock.lock()
        defer { lock.unlock() }
        if fd >= 0 { return fd }
        var template = Array((NSTemporaryDirectory() as NSString).appendingPathComponent("weightlab-npz-XXXXXX").utf8CString)
        let out = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard out >= 0 else {
            throw ModelError(path, "member '\(shown)': cannot create a temporary file: \(String(cString: strerror(errno)))")
        }
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        var written: UInt64 = 0
        let checksum: UInt32
        do {
            checksum = try inflate { data in
                guard UInt64(data.count) <= self.size - written else { throw TooLong() }
                try data.withUnsafeBytes { raw in
                    var done = 0
                    while done < raw.count {
                        let n = write(out, raw.baseAddress! + done, raw.count - done)
                        if n < 0 {
                            if errno == EINTR { continue }
                            throw ModelError(self.path, "member '\(self.shown)': cannot write the inflated copy: \(String(cString: strerror(errno)))")
                        }
                        done += n
                    }
                }
                written += UInt64(data.count)
            }
        } catch is TooLong {
            close(out)
            throw ModelError(path, "member '\(shown)': inflates to more than its declared \(size) bytes")
        } catch let e as ModelError {
            close(out)
            throw e
        } catch {
            close(out)
            throw ModelError(path, "member '\(shown)': corrupt deflate data")
        }
        guard written == size else {
            close(out)
            throw ModelError(path, "member '\(shown)': inflates to \(written) bytes, not its declared \(size)")
        }
        guard checksum == crc32 else {
            close(out)
            throw ModelError(path, "member '\(shown)': CRC-32 mismatch (corrupt data)")
        }
        fd = out
        return out
    }
}
