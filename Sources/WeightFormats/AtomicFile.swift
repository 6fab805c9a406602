import CKernels
import Dispatch
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
        // Runs before the file is closed and removed (defers run last first): on an error, the writer thread
        // stops before its descriptor goes.
        defer { sink.abandon() }
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

/// The buffered output of one `AtomicFile.write`: small writes are collected up to `bufferSize`, and full
/// buffers (or large arrays, as they are) go to a writer thread (`WriteBehind`) that calls `write(2)` and
/// starts the disk's writeback, so the caller computes the next bytes while the last ones go to the disk.
/// At most `WriteBehind.depth` chunks wait, so memory stays bounded. A write error surfaces at a later
/// `write` or at `flush` (which waits for every chunk), naming the target (disk full reads
/// "cannot write: No space left on device").
public struct FileSink: ByteSink {
    public static let bufferSize = 1 << 20
    private let behind: WriteBehind
    private var buffer: [UInt8] = []
    public private(set) var count: UInt64 = 0

    init(fd: Int32, path: String) {
        behind = WriteBehind(fd: fd, path: path)
        buffer.reserveCapacity(Self.bufferSize)
    }

    public mutating func write(_ bytes: UnsafeRawBufferPointer) throws {
        count += UInt64(bytes.count)
        if buffer.count + bytes.count <= Self.bufferSize {
            buffer.append(contentsOf: bytes)
            if buffer.count == Self.bufferSize { try handOver() }
            return
        }
        try handOver()
        if bytes.count >= Self.bufferSize {
            try behind.enqueue(Array(bytes))
        } else {
            buffer.append(contentsOf: bytes)
        }
    }

    /// A large array goes to the writer thread as it is (no copy); a small one is buffered.
    public mutating func write(_ bytes: [UInt8]) throws {
        guard bytes.count >= Self.bufferSize / 4 else { return try bytes.withUnsafeBytes { try write($0) } }
        count += UInt64(bytes.count)
        try handOver()
        try behind.enqueue(bytes)
    }

    /// Waits until every byte is handed to the kernel (they reach the disk at the final fsync).
    public mutating func flush() throws {
        try handOver()
        try behind.drain()
    }

    /// Stops the writer thread, dropping chunks not yet written (after an error, before the file is removed).
    func abandon() { behind.abandon() }

    private mutating func handOver() throws {
        guard !buffer.isEmpty else { return }
        let full = buffer
        buffer = []
        buffer.reserveCapacity(Self.bufferSize)
        try behind.enqueue(full)
    }
}

/// The writer thread of a `FileSink`: chunks are written in order by one serial queue; every
/// `writebackStep` bytes it starts the disk write of what the kernel holds (`sync_file_range`, without
/// waiting), and every `syncStep` bytes a second thread makes what is written so far durable
/// (`fdatasync`), so a large output streams to the disk while it is being produced and the final fsync
/// waits only for the tail. Both are needed on a virtual disk with a write cache: `sync_file_range`
/// only moves the data into that cache, and the final fsync's cache flush then wrote all of apply's
/// 143 MiB Q8_0 output at once (0.2–0.28 s measured, after the data had been handed over) — with a sync
/// every 16 MiB while writing, it waits 0.02–0.03 s. The producer blocks when `depth` chunks wait.
final class WriteBehind: @unchecked Sendable {
    /// Chunks (≥ 256 KiB, ≤ a few MiB each) that may wait for the writer.
    static let depth = 8
    /// How much written data waits before its writeback is started.
    static let writebackStep: UInt64 = 8 << 20
    /// How much written data waits before it is made durable (while the writer goes on).
    static let syncStep: UInt64 = 16 << 20

    private let fd: Int32
    private let path: String
    private let queue = DispatchQueue(label: "weightlab.write-behind")
    private let syncQueue = DispatchQueue(label: "weightlab.write-behind.sync")
    private let slots = DispatchSemaphore(value: WriteBehind.depth)
    private let lock = NSLock()
    private var failure: ModelError?
    private var stopped = false
    /// Touched by the serial queue only.
    private var written: UInt64 = 0
    private var writebackStarted: UInt64 = 0
    private var syncRequested: UInt64 = 0
    /// Whether the sync thread is busy (under `lock`): a request then waits for the next step.
    private var syncing = false

    init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    /// Queues `chunk` for writing; throws the first write error seen so far.
    func enqueue(_ chunk: [UInt8]) throws {
        try check()
        slots.wait()
        queue.async { [self] in
            defer { slots.signal() }
            if lock.withLock({ failure != nil || stopped }) { return }
            do {
                try chunk.withUnsafeBytes { try writeAll($0) }
                written += UInt64(chunk.count)
                startWriteback()
            } catch let e as ModelError {
                lock.withLock { failure = e }
            } catch {}
        }
    }

    /// Waits for every queued chunk (and sync); throws the first write or sync error.
    func drain() throws {
        queue.sync {}
        syncQueue.sync {}
        try check()
    }

    /// Drops the chunks not yet written and waits for both threads, so the descriptor can be closed.
    func abandon() {
        lock.withLock { stopped = true }
        queue.sync {}
        syncQueue.sync {}
    }

    private func check() throws {
        if let e = lock.withLock({ failure }) { throw e }
    }

    /// Advisory: a failure here shows up, if it matters, at the fsync.
    private func startWriteback() {
        if written - writebackStarted >= Self.writebackStep {
            _ = wl_start_writeback(fd, Int64(writebackStarted), Int64(written - writebackStarted))
            writebackStarted = written
        }
        guard written - syncRequested >= Self.syncStep, claimSync() else { return }
        syncRequested = written
        syncQueue.async { [self] in
            // Not advisory: the kernel reports a writeback error to one sync only, so a failure here is kept
            // and thrown by `drain` (the final fsync might not see it again).
            #if os(Linux)
            let failed = fdatasync(fd) != 0
            #else
            let failed = fsync(fd) != 0
            #endif
            let code = errno
            lock.withLock {
                syncing = false
                if failed && failure == nil { failure = ModelError(path, "cannot sync the written data: \(AtomicFile.errorText(code))") }
            }
        }
    }

    /// Marks the sync thread busy unless it already is (or the writer stopped).
    private func claimSync() -> Bool {
        lock.withLock {
            if syncing || stopped { return false }
            syncing = true
            return true
        }
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
