#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import WeightFormats

/// What every model-reader fuzz target does with one input: write it to this process's temporary file
/// (the readers take paths), open it as a model, and decode every tensor in small chunks. The only
/// acceptable failure is a `ModelError`; anything else (another error type) aborts so libFuzzer reports it.
public enum ModelFuzz {
    /// One temporary path per process, reused by every run. The suffix steers format sniffing
    /// (`.safetensors`, `.npy`, `.npz`, `.gguf`).
    nonisolated(unsafe) private static var paths: [String: String] = [:]

    static func path(suffix: String) -> String {
        if let p = paths[suffix] { return p }
        let dir = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        let p = "\(dir)/weightlab-fuzz-\(getpid())\(suffix)"
        paths[suffix] = p
        return p
    }

    /// Writes `bytes` to the temporary file (replacing its contents) or aborts: a write failure is the
    /// harness's problem, not an input's.
    static func store(_ data: UnsafePointer<UInt8>?, _ count: Int, to path: String) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { fatalError("fuzz harness: cannot create \(path)") }
        var done = 0
        while done < count {
            let n = write(fd, data! + done, count - done)
            if n < 0 { if errno == EINTR { continue }; fatalError("fuzz harness: cannot write \(path)") }
            done += n
        }
        close(fd)
    }

    /// Runs one input; returns 0 as libFuzzer expects.
    public static func run(_ data: UnsafePointer<UInt8>?, _ count: Int, suffix: String) -> Int32 {
        let path = path(suffix: suffix)
        store(data, count, to: path)
        do {
            try exercise(path)
        } catch let e as ModelError {
            _ = e.description
        } catch {
            fatalError("non-ModelError escaped a reader: \(type(of: error)): \(error)")
        }
        return 0
    }

    /// Opens `path` and decodes every tensor through `forEachChunk` (small chunks, so chunk boundaries and
    /// block rounding are exercised too), summing the values so the decode is not optimised away.
    @inline(never)
    static func exercise(_ path: String) throws {
        let model = try ModelFile.open(path)
        var sum: Float = 0
        for t in model.tensors {
            _ = t.name.count
            try t.forEachChunk(elements: 4096) { _, values in
                for v in values { sum += v }
            }
        }
        for kv in model.metadata { _ = kv.key.count }
        blackHole(sum)
    }

    @inline(never)
    static func blackHole(_ x: Float) { if x == .greatestFiniteMagnitude { print("") } }
}
