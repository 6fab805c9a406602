import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Outputs of several files that belong together (a compressed-tensors checkpoint and the `config.json`
/// beside it). Each file is written whole (through `write`) into a staging directory beside the output,
/// named as the output's temporary file (`.<name>.weightlab-tmp-<pid>`), and only when all of them are
/// complete and verified are they renamed into place, the output itself last. So a SIGKILL during the write
/// leaves none of them in place — only the staging directory, which `removeStaleTemporaries` clears on the
/// next write — and the output's presence means its companions are there too. The renames are one after
/// another, so a kill between them can leave new companions without the output. It can never leave an
/// output beside companions that are not its own: an output being replaced (`overwrite`) is first moved
/// aside into the staging directory, so from the first rename until the new output is in place there is
/// no output at all (the old one stays in the staging directory until it is removed with it).
extension AtomicFile {
    /// Writes `names` (file names, the output's own name last) into `output`'s directory: `body` gets the
    /// staging path of a name to write it to (with `write`, `overwrite: true`). Targets are checked first as
    /// `write` checks them (an input is refused, an existing file needs `overwrite`), and again before they
    /// are moved in. An error (or an interrupt) removes the staging directory and moves nothing.
    public static func writeStaged(output: String, names: [String], overwrite: Bool, inputs: [String],
                                   _ body: (_ staged: (String) -> String) throws -> Void) throws {
        let outName = (output as NSString).lastPathComponent
        precondition(names.last == outName, "the output is moved in last")
        let parent = (output as NSString).deletingLastPathComponent
        func target(_ name: String) -> String { parent.isEmpty ? name : (parent as NSString).appendingPathComponent(name) }
        for name in names { try checkTarget(target(name), overwrite: overwrite, inputs: inputs) }
        removeStaleTemporaries(for: output)

        let staging = temporaryPath(for: output)
        guard InFlight.shared.begin(staging) else { throw ModelError(output, "is already being written by this process") }
        defer { InFlight.shared.end(staging) }
        func staged(_ name: String) -> String { (staging as NSString).appendingPathComponent(name) }
        // Registered before the directory exists, so an interrupt at any point after `mkdir` removes it: the
        // staged files (their own temporaries are registered by `write`), then the directory itself.
        let aside = staged(".replaced-" + outName)
        let tokens = (names + [".replaced-" + outName]).map { InterruptCleanup.register(staged($0)) }
            + [InterruptCleanup.register(staging, directory: true)]
        defer { for t in tokens { InterruptCleanup.unregister(t) } }
        if mkdir(staging, 0o755) != 0 && errno == EEXIST {
            // Left by an earlier process that had our pid: stale.
            try? FileManager.default.removeItem(atPath: staging)
            _ = mkdir(staging, 0o755)
        }
        var st = stat()
        guard stat(staging, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else {
            throw ModelError(output, "cannot create a staging directory beside it: \(errorText(errno))")
        }
        var committed = false
        defer { if !committed { try? FileManager.default.removeItem(atPath: staging) } }

        try body(staged)
        for name in names {
            guard access(staged(name), F_OK) == 0 else { throw ModelError(target(name), "was not written") }
            try checkTarget(target(name), overwrite: overwrite, inputs: inputs)
        }
        // The output being replaced goes first, aside: no instant has an output with others' companions.
        var movedAside = false
        if access(target(outName), F_OK) == 0 {
            guard rename(target(outName), aside) == 0 else {
                throw ModelError(target(outName), "cannot move the file being replaced aside: \(errorText(errno))")
            }
            movedAside = true
        }
        for name in names {
            guard rename(staged(name), target(name)) == 0 else {
                let error = errno
                if movedAside { _ = rename(aside, target(outName)) }   // the old output back, with the error
                throw ModelError(target(name), "cannot move the written file into place: \(errorText(error))")
            }
        }
        committed = true
        if movedAside { unlink(aside) }
        rmdir(staging)
        let directory = parent.isEmpty ? "." : parent
        let fd = open(directory, O_RDONLY | O_CLOEXEC)
        if fd >= 0 { _ = fsync(fd); close(fd) }
    }

    /// `write`'s rules for a target: not a directory, not an input, not an existing file without `overwrite`.
    static func checkTarget(_ path: String, overwrite: Bool, inputs: [String]) throws {
        var st = stat()
        guard stat(path, &st) == 0 else { return }
        if (st.st_mode & S_IFMT) == S_IFDIR { throw ModelError(path, "is a directory") }
        for input in inputs {
            var other = stat()
            if stat(input, &other) == 0, other.st_dev == st.st_dev, other.st_ino == st.st_ino {
                throw ModelError(path, "is an input of this command; refusing to write over it")
            }
        }
        guard overwrite else { throw ModelError(path, "already exists; refusing to replace it") }
    }
}
