import Foundation
import Testing
import WeightFormats

/// A `weightlab` command stopped by a signal in the middle of its write, for the tests that prove an output is
/// never half-written: the command starts, the test waits until the file that shows the write has begun exists
/// (a temporary or staging path, which depends on the process id), then sends the signal.
public enum InterruptedCommand {
    /// Runs `weightlab arguments`, waits (up to a minute) for `marker(pid)` to exist, sends `signal`, waits for
    /// the end and returns the process. Records an issue when the write never started.
    public static func run(_ arguments: [String], signal: Int32, marker: (Int32) -> String) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CommandRunner.executable)
        p.arguments = arguments
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        let path = marker(p.processIdentifier)
        let deadline = Date().addingTimeInterval(60)
        while !FileManager.default.fileExists(atPath: path) && p.isRunning && Date() < deadline {
            usleep(1000)
        }
        #expect(FileManager.default.fileExists(atPath: path), "the write never started")
        kill(p.processIdentifier, signal)
        p.waitUntilExit()
        return p
    }

    /// Whether `p` ended by `signal` itself (not by an exit code, which would mean the handler ran late).
    public static func endedBy(_ signal: Int32, _ p: Process) -> Bool {
        p.terminationReason == .uncaughtSignal && p.terminationStatus == signal
    }
}

extension TemporaryDirectory {
    /// The atomic writer's temporary files and staging directories left in this directory (`.weightlab-tmp-`).
    public func atomicLeftovers() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: path).filter { $0.contains(".weightlab-tmp-") }
    }
}
