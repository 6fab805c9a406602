import CKernels
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The one way weightlab writes a file (plans, models): the bytes go to a temporary file
/// `.<name>.weightlab-tmp-<pid>` in the target's directory, which is fsynced and renamed over the target,
/// then the directory is fsynced. A reader of the target therefore sees the old file or the whole new one,
/// never part of it, whatever happens to the writer: an error (the temporary file is removed and the
/// target left untouched) or a SIGKILL (the temporary file stays behind, named for the dead process, and
/// `removeStaleTemporaries` clears it on the next write to that target).
///
/// Also the place that enforces the writing rules: never write over an input of the command (compared by
/// device and inode, so another spelling of the same path is caught), and never replace an existing file
/// unless asked to.
public enum AtomicFile {
    /// Writes the file that `body` streams into the sink. Errors are `ModelError`s naming `path`, except an
    /// error thrown by `body`, which is rethrown as it is (after the temporary file is removed).
    ///
    /// - Parameters:
    ///   - overwrite: replace an existing target (its permission bits are kept); otherwise an existing target
    ///     is an error and nothing is written.
    ///   - inputs: files the command reads; a target that is one of them is refused even with `overwrite`.
    ///   - beforeCommit: called with the temporary file's path once it is complete and synced, before it is
    ///     renamed into place (a writer verifies what it wrote here); an error it throws removes the file.
    public static func write(to path: String, overwrite: Bool = false, inputs: [String] = [],
                             beforeCommit: ((String) throws -> Void)? = nil,
                             _ body: (inout FileSink) throws -> Void) throws {
        let directory = try parentDirectory(path)
        var mode: mode_t = 0o644      // a new file: as open(2) makes it, less the umask
        var keepMode = false
        var st = stat()
        try checkTarget(path, overwrite: overwrite, inputs: inputs)
        if stat(path, &st) == 0 {
            mode = st.st_mode & 0o7777
            keepMode = true
        }
        removeStaleTemporaries(for: path)

        let temporary = temporaryPath(for: path)
        guard InFlight.shared.begin(temporary) else {
            throw ModelError(path, "is already being written by this process")
        }
        defer { InFlight.shared.end(temporary) }
        // Registered before the file exists, so an interrupt at any point after creation removes it.
        let cleanup = InterruptCleanup.register(temporary)
        defer { InterruptCleanup.unregister(cleanup) }
        var fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        if fd < 0 && errno == EEXIST {
            // Left by an earlier process that had our pid (we are not writing it: see InFlight): stale.
            unlink(temporary)
            fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        }
        guard fd >= 0 else {
            throw ModelError(path, "cannot create a temporary file in '\(DisplayText.escaped(directory))': \(errorText(errno))")
        }
        var isOpen = true
        var renamed = false
        defer {
            if isOpen { close(fd) }
            if !renamed { unlink(temporary) }
        }
        if keepMode { _ = fchmod(fd, mode) }   // open(2) applied the umask; a replaced file keeps its own bits
        var sink = FileSink(fd: fd, path: path)
        try body(&sink)
        try sink.flush()
        guard fsync(fd) == 0 else { throw ModelError(path, "cannot sync the written data: \(errorText(errno))") }
        isOpen = false
        guard close(fd) == 0 else { throw ModelError(path, "cannot close the written file: \(errorText(errno))") }
        try beforeCommit?(temporary)
        if !overwrite && access(path, F_OK) == 0 {
            throw ModelError(path, "already exists; refusing to replace it (it appeared while writing)")
        }
        guard rename(temporary, path) == 0 else {
            throw ModelError(path, "cannot move the written file into place: \(errorText(errno))")
        }
        renamed = true
        try syncDirectory(directory, for: path)
    }

    /// Writes `bytes` as the whole file.
    public static func write(_ bytes: [UInt8], to path: String, overwrite: Bool = false, inputs: [String] = []) throws {
        try write(to: path, overwrite: overwrite, inputs: inputs) { try $0.write(bytes) }
    }

    /// Writes `text` as UTF-8 as the whole file.
    public static func write(_ text: String, to path: String, overwrite: Bool = false, inputs: [String] = []) throws {
        try write(Array(text.utf8), to: path, overwrite: overwrite, inputs: inputs)
    }

    /// The temporary file a process `pid` writes `path` through: `.<name>.weightlab-tmp-<pid>` beside it.
    public static func temporaryPath(for path: String, pid: Int32 = getpid()) -> String {
        let (directory, name) = ((path as NSString).deletingLastPathComponent, (path as NSString).lastPathComponent)
        let file = "." + name + temporaryMarker + String(pid)
        return directory.isEmpty ? file : (directory as NSString).appendingPathComponent(file)
    }

    /// Removes temporary files (and staging directories) of `path` left by processes that no longer run (killed mid-write), and
    /// returns their paths. A temporary file of a live process, or of this one while it writes, is kept.
    @discardableResult
    public static func removeStaleTemporaries(for path: String) -> [String] {
        let directory = (path as NSString).deletingLastPathComponent
        let prefix = "." + (path as NSString).lastPathComponent + temporaryMarker
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory.isEmpty ? "." : directory) else {
            return []
        }
        var removed: [String] = []
        for entry in names where entry.hasPrefix(prefix) {
            let digits = entry.dropFirst(prefix.count)
            guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let pid = Int32(digits) else { continue }
            let full = directory.isEmpty ? entry : (directory as NSString).appendingPathComponent(entry)
            let dead: Bool
            if pid == getpid() {
                dead = !InFlight.shared.contains(full)
            } else {
                dead = kill(pid, 0) != 0 && errno == ESRCH
            }
            // A staging directory (`writeStaged`) goes with everything in it.
            var st = stat()
            let isDirectory = lstat(full, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
            if dead && (isDirectory ? (try? FileManager.default.removeItem(atPath: full)) != nil : unlink(full) == 0) {
                removed.append(full)
            }
        }
        return removed
    }

    static let temporaryMarker = ".weightlab-tmp-"

    /// The directory a target goes in, checking it exists.
    private static func parentDirectory(_ path: String) throws -> String {
        let name = (path as NSString).lastPathComponent
        guard !path.isEmpty, !path.hasSuffix("/"), name != ".", name != ".." else {
            throw ModelError(path, "is not a file name")
        }
        let parent = (path as NSString).deletingLastPathComponent
        let directory = parent.isEmpty ? "." : parent
        var st = stat()
        guard stat(directory, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else {
            throw ModelError(path, "directory '\(DisplayText.escaped(directory))' does not exist")
        }
        return directory
    }

    /// Makes the rename durable. Filesystems that cannot sync a directory (EINVAL) are accepted as they are.
    private static func syncDirectory(_ directory: String, for path: String) throws {
        let fd = open(directory, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        if fsync(fd) != 0 && errno != EINVAL {
            throw ModelError(path, "written, but its directory could not be synced: \(errorText(errno))")
        }
    }

    static func errorText(_ code: Int32) -> String { String(cString: strerror(code)) }

    /// Temporary files this process is writing now, so neither a second write to the same target nor the
    /// stale-file sweep can touch them.
    final class InFlight: @unchecked Sendable {
        static let shared = InFlight()
        private let lock = NSLock()
        private var paths = Set<String>()

        func begin(_ p: String) -> Bool { lock.withLock { paths.insert(p).inserted } }
        func end(_ p: String) { _ = lock.withLock { paths.remove(p) } }
        func contains(_ p: String) -> Bool { lock.withLock { paths.contains(p) } }
    }
}

/// The buffered output of one `AtomicFile.write`: bytes are collected up to `bufferSize` and written with
/// `write(2)`, so a writer can hand over values of any size without a system call each. Errors name the
/// target (disk full reads "cannot write: No space left on device").
public struct FileSink: ByteSink {
    public static let bufferSize = 1 << 20
    private let fd: Int32
    private let path: String
    private var buffer: [UInt8] = []
    public private(set) var count: UInt64 = 0

    init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
        buffer.reserveCapacity(Self.bufferSize)
    }

    public mutating func write(_ bytes: UnsafeRawBufferPointer) throws {
        count += UInt64(bytes.count)
        if buffer.count + bytes.count <= Self.bufferSize {
            buffer.append(contentsOf: bytes)
            return
        }
        try flush()
        if bytes.count >= Self.bufferSize {
            try writeAll(bytes)
            startWriteback()
        } else {
            buffer.append(contentsOf: bytes)
        }
    }

    /// Hands the buffered bytes to the kernel (they reach the disk at the final fsync).
    public mutating func flush() throws {
        guard !buffer.isEmpty else { return }
        try buffer.withUnsafeBytes { try writeAll($0) }
        buffer.removeAll(keepingCapacity: true)
        startWriteback()
    }

    /// Bytes handed to the disk's writeback so far (see `startWriteback`).
    private var writebackStarted: UInt64 = 0
    /// How much written data waits before its writeback is started.
    static let writebackStep: UInt64 = 8 << 20

    /// Starts the disk write of what the kernel holds beyond `writebackStarted`, every `writebackStep` bytes,
    /// without waiting: a large output then streams to the disk while the next pieces are computed, and the
    /// final fsync waits only for the tail (apply's Q8_0 output was written, then synced, one after the other).
    /// Advisory: a failure here shows up, if it matters, at the fsync.
    private mutating func startWriteback() {
        let written = count - UInt64(buffer.count)
        guard written - writebackStarted >= Self.writebackStep else { return }
        _ = wl_start_writeback(fd, Int64(writebackStarted), Int64(written - writebackStarted))
        writebackStarted = written
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < bytes.count {
            #if canImport(Glibc)
            let n = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
            #else
            let n = Darwin.write(fd, bytes.baseAddress! + done, bytes.count - done)
            #endif
            if n < 0 {
                if errno == EINTR { continue }
                throw ModelError(path, "cannot write: \(AtomicFile.errorText(errno))")
            }
            done += n
        }
    }
}
