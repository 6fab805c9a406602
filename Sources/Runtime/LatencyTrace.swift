import Dispatch
import Foundation

/// Appends timing lines to a file for `Benchmarks/workbench_latency.sh`; off unless WEIGHTLAB_TRACE is set.
public final class LatencyTrace {
    let handle: FileHandle
    let processStart: UInt64
    private var framesDrawn = 0

    public static func fromEnvironment() -> LatencyTrace? {
        guard let path = ProcessInfo.processInfo.environment["WEIGHTLAB_TRACE"], !path.isEmpty else { return nil }
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        guard let h = FileHandle(forWritingAtPath: path) else { return nil }
        return LatencyTrace(handle: h)
    }

    init(handle: FileHandle) {
        self.handle = handle
        processStart = LatencyTrace.launchTime
    }

    /// Set as early as `main` runs (see `Open.run`).
    nonisolated(unsafe) public static var launchTime = DispatchTime.now().uptimeNanoseconds

    func frameDrawn() {
        framesDrawn += 1
        if framesDrawn == 1 { record("first_frame_ms", since: processStart) }
    }

    func record(_ what: String, since start: UInt64) {
        let ms = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
        handle.write(Data(String(format: "%@ %.2f\n", what, ms).utf8))
    }
}
