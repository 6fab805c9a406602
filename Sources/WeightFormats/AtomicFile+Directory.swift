import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Outputs that are a directory of their own (a recovery export: weights, masks, plan, script). The files
/// are written into a staging directory beside the output, named as the output's temporary file
/// (`.<name>.weightlab-tmp-<pid>`), and the staging directory is renamed to the output only when every file
/// is complete: a reader never sees a half-written directory. Replacing an existing directory (`overwrite`)
/// moves it aside first (`.<name>.old.weightlab-tmp-<pid>`), moves the new one in, then removes the old one;
/// between the two renames the output is briefly absent, never partial. A SIGKILL leaves only the staging or
/// aside directory, which `removeStaleTemporaries` clears on the next write.
extension AtomicFile {
    /// Writes the files `names` (plain file names) into the directory `output`: `body` gets the staging path
    /// of a name to write it to (with `write`, `overwrite: true`). Refused before anything is written: an
    /// output that is a file, an existing output without `overwrite`, an output that is or contains one of
    /// `inputs` (replacing it would delete an input). An error (or an interrupt) removes the staging directory
    /// and leaves any existing output as it was.
    public static func writeDirectory(output: String, names: [String], overwrite: Bool, inputs: [String],
                                      _ body: (_ staged: (String) -> String) throws -> Void) throws {
        try checkDirectoryTarget(output, overwrite: overwrite, inputs: inputs)
        let parent = (output as NSString).deletingLastPathComponent
        var st = stat()
        guard stat(parent.isEmpty ? "." : parent, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else {
            throw ModelError(output, "directory '\(DisplayText.escaped(parent))' does not exist")
        }
        let aside = output + ".old"
        removeStaleTemporaries(for: output)
        removeStaleTemporaries(for: aside)

        let staging = temporaryPath(for: output)
        guard InFlight.shared.begin(staging) else { throw ModelError(output, "is already being written by this process") }
        defer { InFlight.shared.end(staging) }
        func staged(_ name: String) -> String { (staging as NSString).appendingPathComponent(name) }
        // Registered before the directory exists, so an interrupt at any point after `mkdir` removes it.
        let tokens = names.map { InterruptCleanup.register(staged($0)) } + [InterruptCleanup.register(staging, directory: true)]
        defer { for t in tokens { InterruptCleanup.unregister(t) } }
        if mkdir(staging, 0o755) != 0 && errno == EEXIST {
            try? FileManager.default.removeItem(atPath: staging)   // left by an earlier process with our pid
            _ = mkdir(staging, 0o755)
        }
        guard stat(staging, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else {
            throw ModelError(output, "cannot create a staging directory beside it: \(errorText(errno))")
        }
        var committed = false
        defer { if !committed { try? FileManager.default.removeItem(atPath: staging) } }

        try body(staged)
        for name in names where access(staged(name), F_OK) != 0 {
            throw ModelError((output as NSString).appendingPathComponent(name), "was not written")
        }
        try checkDirectoryTarget(output, overwrite: overwrite, inputs: inputs)
        let old = temporaryPath(for: aside)
        var movedAside = false
        if lstat(output, &st) == 0 {
            guard rename(output, old) == 0 else {
                throw ModelError(output, "cannot move the existing directory aside: \(errorText(errno))")
            }
            movedAside = true
        }
        guard rename(staging, output) == 0 else {
            let code = errno
            if movedAside { _ = rename(old, output) }
            throw ModelError(output, "cannot move the written directory into place: \(errorText(code))")
        }
        committed = true
        if movedAside { try? FileManager.default.removeItem(atPath: old) }
        let fd = open(parent.isEmpty ? "." : parent, O_RDONLY | O_CLOEXEC)
        if fd >= 0 { _ = fsync(fd); close(fd) }
    }

    /// The rules for a directory target: not a file, not existing without `overwrite`, and neither one of
    /// `inputs` nor a directory holding one (compared by resolved path).
    public static func checkDirectoryTarget(_ path: String, overwrite: Bool, inputs: [String]) throws {
        let name = (path as NSString).lastPathComponent
        guard !path.isEmpty, name != ".", name != "..", name != "/" else { throw ModelError(path, "is not a directory name") }
        var st = stat()
        guard stat(path, &st) == 0 else { return }
        guard (st.st_mode & S_IFMT) == S_IFDIR else { throw ModelError(path, "exists and is not a directory") }
        let target = URL(fileURLWithPath: path).resolvingSymlinksInPath().standardizedFileURL.path
        for input in inputs {
            let resolved = URL(fileURLWithPath: input).resolvingSymlinksInPath().standardizedFileURL.path
            if resolved == target || resolved.hasPrefix(target.hasSuffix("/") ? target : target + "/") {
                throw ModelError(path, "holds '\(DisplayText.escaped(input))', an input of this command; write elsewhere")
            }
        }
        guard overwrite else { throw ModelError(path, "already exists; use --force to replace it") }
    }
}
