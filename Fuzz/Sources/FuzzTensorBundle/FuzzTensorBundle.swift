#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import FuzzSupport

/// The data shard every fuzzed index points into: 64 KiB of fixed bytes beside the temporary `.index`
/// (`weightlab-fuzz-<pid>.data-00000-of-00001`), written once, so entries get past "no such file" and their
/// offsets, sizes and CRCs are checked against real bytes.
nonisolated(unsafe) private var shardWritten = false

private func writeShard() {
    let dir = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
    let path = "\(dir)/weightlab-fuzz-\(getpid()).data-00000-of-00001"
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    guard fd >= 0 else { fatalError("fuzz harness: cannot create \(path)") }
    let bytes = (0..<65_536).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 7) }
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
    close(fd)
}

/// libFuzzer entry point: `ModelFile.open` on a temporary `*.index` file holding the input (with the shard
/// above), then every tensor decoded. Only `ModelError` may come out.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    if !shardWritten { writeShard(); shardWritten = true }
    return ModelFuzz.run(data, size, suffix: ".index")
}
