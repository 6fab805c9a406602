import Foundation
import ZIPFoundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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
    let compressedSize: UInt64
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
