import Foundation
import ZIPFoundation

/// The entries of a zip file (`.npz` today, PyTorch checkpoints later), each as a byte source of its
/// uncompressed bytes. Only stored and deflated entries are supported; ZIP64 sizes and offsets are honoured;
/// every offset and size is checked against the file size before anything is read or allocated.
///
/// ZIPFoundation lists the entries (and inflates deflated ones); the central directory is also walked here,
/// with bounded `pread`s, because ZIPFoundation does not expose where an entry's local header lies, and
/// because its entry iterator silently stops at an unreadable record: the two listings must agree, or the
/// archive is reported as corrupt. Stored entries are windows straight into the zip file; deflated entries
/// are inflated on first read into an unlinked temporary file (`InflatedMemberSource`).
struct ZipArchive {
    struct Entry {
        let name: String
        let isDirectory: Bool
        /// The entry's uncompressed bytes (empty for a directory).
        let source: any ByteSource

        /// At most `count` leading uncompressed bytes, without inflating the rest of a deflated entry (a
        /// format reads its header from these).
        func prefix(_ count: Int) throws -> [UInt8] {
            if let inflated = source as? InflatedMemberSource { return try inflated.prefix(count) }
            return try source.bytes(at: 0, count: Int(min(source.size, UInt64(max(count, 0)))))
        }
    }

    /// In central-directory order.
    let entries: [Entry]

    /// Lists the archive in `file`. Errors name the file; an entry that cannot be read (encrypted, an
    /// unsupported compression method, data beyond the end of the file) is an error here, before any entry
    /// is used.
    static func open(_ file: FileSource) throws -> ZipArchive {
        let path = file.path
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
        var entries: [Entry] = []
        for (listedEntry, record) in zip(listed, directory.records) {
            guard listedEntry.path == record.name else {
                throw ModelError(path, "corrupt zip archive: entry '\(DisplayText.escaped(record.name))' is inconsistent")
            }
            guard listedEntry.compressedSize == record.compressedSize, listedEntry.uncompressedSize == record.uncompressedSize else {
                throw ModelError(path, "corrupt zip archive: entry '\(DisplayText.escaped(record.name))' has inconsistent sizes")
            }
            if listedEntry.type == .directory {
                entries.append(Entry(name: record.name, isDirectory: true, source: try SliceSource(file, offset: 0, count: 0)))
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
                entries.append(Entry(name: record.name, isDirectory: false, source: slice))
            case 8:
                guard dataOffset <= file.size, record.compressedSize <= file.size - dataOffset else {
                    throw ModelError(path, "member '\(shown)' lies beyond the end of the file")
                }
                let inflated = InflatedMemberSource(file: file, member: record.name, dataOffset: dataOffset,
                                                    compressedSize: record.compressedSize,
                                                    uncompressedSize: record.uncompressedSize, crc32: record.crc32)
                entries.append(Entry(name: record.name, isDirectory: false, source: inflated))
            default:
                throw ModelError(path, "member '\(shown)' uses zip compression method \(record.method); only stored and deflated are supported")
            }
        }
        return ZipArchive(entries: entries)
    }

    /// Where an entry's data begins: its local header (30 bytes + name + extra field) is read from the file.
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
            // Checked here, before ZIPFoundation walks the same records: it converts offsets to `off_t` and
            // adds sizes without overflow checks, so a record pointing past the file would trap inside it.
            guard offset <= size, csize <= size, method != 0 || usize <= size else {
                throw ModelError(path, "corrupt zip archive: central directory record \(records.count) points beyond the end of the file")
            }
            records.append(Record(name: name, flags: flags, method: method, crc32: crc, compressedSize: csize,
                                  uncompressedSize: usize, localHeaderOffset: offset))
            p = end
        }
        return CentralDirectory(records: records)
    }
}

