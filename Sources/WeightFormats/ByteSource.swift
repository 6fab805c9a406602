#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Random-access bytes of a stored model. Reads are bounded `pread` copies, never a mapping: a file that
/// another process truncates turns into a "file is shorter than expected" error instead of a SIGBUS.
public protocol ByteSource: AnyObject, Sendable {
    /// The path named in errors.
    var path: String { get }
    var size: UInt64 { get }
    /// Fills `buffer` completely from `offset` or throws; never reads past `size`.
    func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws
}

extension ByteSource {
    /// A bounded copy of `count` bytes at `offset`, checked against the file size before allocating.
    public func bytes(at offset: UInt64, count: Int) throws -> [UInt8] {
        guard count >= 0, offset <= size, UInt64(count) <= size - offset else {
            throw ModelError(path, "file is truncated: needs \(count) bytes at offset \(offset), file has \(size)")
        }
        var out = [UInt8](repeating: 0, count: count)
        try out.withUnsafeMutableBytes { try read(at: offset, into: $0) }
        return out
    }
}

/// A read-only open file. The descriptor is opened `O_RDONLY`: a model is never written to.
public final class FileSource: ByteSource, @unchecked Sendable {
    public let path: String
    public let size: UInt64
    private let fd: Int32

    public init(path: String) throws {
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw ModelError(path, Self.errnoText(errno, missing: "no such file"))
        }
        if (st.st_mode & S_IFMT) == S_IFDIR { throw ModelError(path, "is a directory") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw ModelError(path, "not a regular file") }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ModelError(path, Self.errnoText(errno, missing: "no such file")) }
        self.fd = fd
        self.path = path
        self.size = UInt64(st.st_size)
    }

    deinit { close(fd) }

    public func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws {
        guard offset <= size, UInt64(buffer.count) <= size - offset else {
            throw ModelError(path, "file is truncated: needs \(buffer.count) bytes at offset \(offset), file has \(size)")
        }
        var done = 0
        while done < buffer.count {
            let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw ModelError(path, Self.errnoText(errno, missing: "no such file"))
            }
            if n == 0 {
                throw ModelError(path, "file is shorter than expected (changed while reading?) at offset \(offset + UInt64(done))")
            }
            done += n
        }
    }

    static func errnoText(_ code: Int32, missing: String) -> String {
        switch code {
        case ENOENT: return missing
        case EACCES, EPERM: return "permission denied"
        case EISDIR: return "is a directory"
        default: return String(cString: strerror(code))
        }
    }
}

/// A byte window `[offset, offset+count)` of another source, so a reader can hand out a member of an
/// archive or a shard's data section as its own source with its own bound checks.
public final class SliceSource: ByteSource, @unchecked Sendable {
    public let base: any ByteSource
    public let offset: UInt64
    public let size: UInt64
    public var path: String { base.path }

    public init(_ base: any ByteSource, offset: UInt64, count: UInt64) throws {
        guard offset <= base.size, count <= base.size - offset else {
            throw ModelError(base.path, "data range \(offset)+\(count) lies beyond the end of the file (\(base.size) bytes)")
        }
        self.base = base
        self.offset = offset
        self.size = count
    }

    public func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws {
        guard offset <= size, UInt64(buffer.count) <= size - offset else {
            throw ModelError(path, "read of \(buffer.count) bytes at \(offset) is outside the member (\(size) bytes)")
        }
        try base.read(at: self.offset + offset, into: buffer)
    }
}

/// Bytes held in memory: generated data (benchmarks) and small models built by tests.
public final class MemorySource: ByteSource, @unchecked Sendable {
    public let path: String
    public let bytes: [UInt8]
    public var size: UInt64 { UInt64(bytes.count) }

    public init(_ bytes: [UInt8], path: String = "<memory>") {
        self.bytes = bytes
        self.path = path
    }

    /// The little-endian bytes of `values`, as an F32 tensor's data.
    public convenience init(floats values: [Float], path: String = "<memory>") {
        self.init(values.withUnsafeBytes { Array($0) }, path: path)
    }

    public func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws {
        guard offset <= size, UInt64(buffer.count) <= size - offset else {
            throw ModelError(path, "read of \(buffer.count) bytes at \(offset) is outside \(size) bytes")
        }
        bytes.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[Int(offset)..<(Int(offset) + buffer.count)])) }
    }
}
