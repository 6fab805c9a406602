import Foundation

/// A task metric from the user's own evaluation: a shell command run on a written model (for instance
/// `llama-perplexity -m {} -f wiki.test.raw`, or a Python accuracy script), whose printed number is recorded
/// beside the plan's error numbers (`apply --eval`, and the workbench's apply-then-evaluate key).
///
/// `{}` in the command is replaced by the model's path, shell-quoted, and the command runs under `/bin/sh -c`
/// in a process group of its own, so a timeout or a cancel stops everything it started. The metric is the
/// last number the command prints on stdout (on stderr when stdout has none), or, with `metricPattern`, the
/// last match of that regular expression (its first capture group when it has one), searched the same way.
public struct TaskMetric: Sendable, Equatable {
    /// The command as the user wrote it, with `{}` where the model's path goes.
    public var command: String
    /// A regular expression whose last match (first capture group if any) is the metric; nil: the last number.
    public var metricPattern: String?
    /// Seconds before the command is stopped (SIGTERM to its process group, SIGKILL 2 s later).
    public var timeout: Double

    /// Checks the command and the pattern now, so a mistake is reported before a model is written.
    public init(command: String, metricPattern: String? = nil, timeout: Double = 3600) throws {
        guard command.contains("{}") else {
            throw TaskMetricError("the evaluation command must contain {} where the model's path goes: \(command)")
        }
        if let metricPattern {
            do { _ = try NSRegularExpression(pattern: metricPattern) } catch {
                throw TaskMetricError("--eval-metric is not a valid regular expression: \(metricPattern)")
            }
        }
        guard timeout > 0, timeout.isFinite else { throw TaskMetricError("the evaluation timeout must be a positive number of seconds") }
        self.command = command
        self.metricPattern = metricPattern
        self.timeout = timeout
    }

    /// The shell command line for `path`: every `{}` replaced by the path in single quotes.
    public func commandLine(for path: String) -> String {
        command.replacingOccurrences(of: "{}", with: Self.shellQuoted(path))
    }

    /// `path` as one shell word: in single quotes, each `'` written as `'\''`.
    public static func shellQuoted(_ s: String) -> String {
        "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// Runs the command on `path` and reads the metric. `isCancelled` is polled about ten times a second;
    /// when it returns true the command's process group is stopped and `CancellationError` is thrown.
    public func run(on path: String, isCancelled: @Sendable () -> Bool = { false }) throws -> TaskMetricResult {
        let line = commandLine(for: path)
        let started = Date()
        let run = try ChildProcess.run(["/bin/sh", "-c", line], timeout: timeout, isCancelled: isCancelled)
        let seconds = Date().timeIntervalSince(started)
        if run.cancelled { throw CancellationError() }
        let stdout = String(decoding: run.stdout, as: UTF8.self), stderr = String(decoding: run.stderr, as: UTF8.self)
        if run.timedOut {
            throw TaskMetricError("the evaluation command did not finish within \(Self.seconds(timeout)) and was stopped: \(line)",
                                  stderrTail: Self.tail(stderr))
        }
        if let signal = run.signal {
            throw TaskMetricError("the evaluation command was killed by signal \(signal): \(line)", stderrTail: Self.tail(stderr))
        }
        guard run.status == 0 else {
            throw TaskMetricError("the evaluation command failed with exit code \(run.status): \(line)", stderrTail: Self.tail(stderr))
        }
        guard let found = try metric(stdout: stdout, stderr: stderr) else {
            let what = metricPattern.map { "nothing matching --eval-metric \($0)" } ?? "no number"
            throw TaskMetricError("the evaluation command printed \(what): \(line)",
                                  stderrTail: Self.tail(stdout.isEmpty ? stderr : stdout))
        }
        return TaskMetricResult(value: found.value, text: found.text, commandLine: line, seconds: seconds,
                                stdout: stdout, stderr: stderr)
    }

    /// The metric in a command's output: stdout first, stderr when stdout has none.
    public func metric(stdout: String, stderr: String) throws -> (value: Double, text: String)? {
        for text in [stdout, stderr] {
            if let m = try lastMatch(in: text) { return m }
        }
        return nil
    }

    /// A decimal number as programs print them: optional sign, digits with an optional fraction (or a bare
    /// fraction), an optional exponent; also `nan` and `inf`.
    static let numberPattern = #"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:inf|nan)\b"#

    func lastMatch(in text: String) throws -> (value: Double, text: String)? {
        let regex = try NSRegularExpression(pattern: metricPattern ?? Self.numberPattern, options: metricPattern == nil ? [.caseInsensitive] : [])
        let ns = text as NSString
        let matches = regex.matches(in: text, range: NSRange(location: 0, length: ns.length))
        for m in matches.reversed() {
            let range = m.numberOfRanges > 1 && m.range(at: 1).location != NSNotFound ? m.range(at: 1) : m.range
            let s = ns.substring(with: range).trimmingCharacters(in: .whitespaces)
            if let v = Double(s) { return (v, s) }
            if metricPattern != nil {
                throw TaskMetricError("--eval-metric matched '\(s)', which is not a number")
            }
        }
        return nil
    }

    /// The last 20 lines (at most 2000 characters) of `text`.
    static func tail(_ text: String) -> String {
        var trimmed = Substring(text)
        while trimmed.last?.isNewline == true { trimmed.removeLast() }
        let t = trimmed.split(separator: "\n", omittingEmptySubsequences: false).suffix(20).joined(separator: "\n")
        return t.count > 2000 ? "…" + String(t.suffix(2000)) : t
    }

    static func seconds(_ s: Double) -> String { s == s.rounded() ? "\(Int(s)) s" : String(format: "%.1f s", s) }
}

/// The metric read from one run of the command.
public struct TaskMetricResult: Sendable, Equatable {
    public var value: Double
    /// The text the value was read from.
    public var text: String
    /// The command line that ran (with the path quoted in).
    public var commandLine: String
    public var seconds: Double
    public var stdout: String
    public var stderr: String
}

/// Why a task metric could not be read: one line, plus the tail of what the command wrote to stderr.
public struct TaskMetricError: Error, Equatable, Sendable, CustomStringConvertible {
    public let message: String
    public let stderrTail: String

    public init(_ message: String, stderrTail: String = "") {
        self.message = message
        self.stderrTail = stderrTail
    }

    public var description: String {
        stderrTail.isEmpty ? message : message + "\n" + stderrTail.split(separator: "\n", omittingEmptySubsequences: false)
            .map { "  | " + $0 }.joined(separator: "\n")
    }
}

/// One child process with both output streams captured, in its own process group, stopped on timeout or
/// cancel. Foundation's `Process` is not used: it cannot put the child in a new group, and a shell's
/// grandchildren would keep the pipes open after the shell is killed.
enum ChildProcess {
    struct Outcome {
        var status: Int32 = 0
        var signal: Int32?
        var stdout = Data()
        var stderr = Data()
        var timedOut = false
        var cancelled = false
    }

    /// Each stream keeps at most its last 8 MiB.
    static let keptBytes = 8 << 20

    static func run(_ argv: [String], timeout: Double, isCancelled: () -> Bool) throws -> Outcome {
        var outPipe: [Int32] = [0, 0], errPipe: [Int32] = [0, 0]
        guard pipe(&outPipe) == 0 else { throw TaskMetricError("cannot create a pipe: \(String(cString: strerror(errno)))") }
        guard pipe(&errPipe) == 0 else {
            close(outPipe[0]); close(outPipe[1])
            throw TaskMetricError("cannot create a pipe: \(String(cString: strerror(errno)))")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        for fd in [outPipe[0], outPipe[1], errPipe[0], errPipe[1]] { posix_spawn_file_actions_addclose(&actions, fd) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // A new process group (to stop all of it), default signal dispositions and an empty mask (the
        // caller's ignored or blocked signals must not leak into the user's command).
        var all = sigset_t(), none = sigset_t()
        sigfillset(&all)
        sigemptyset(&none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        var cArgs = argv.map { strdup($0) } + [nil]
        defer { for a in cArgs { free(a) } }
        // This process's environment, passed on explicitly (`environ` is not visible on every platform).
        var cEnv = ProcessInfo.processInfo.environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for e in cEnv { free(e) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, &attributes, &cArgs, &cEnv)
        close(outPipe[1]); close(errPipe[1])
        guard rc == 0 else {
            close(outPipe[0]); close(errPipe[0])
            throw TaskMetricError("cannot run \(argv[0]): \(String(cString: strerror(rc)))")
        }

        var outcome = Outcome()
        var open: [Int32: Bool] = [outPipe[0]: true, errPipe[0]: true]
        let deadline = Date().addingTimeInterval(timeout)
        var killAt: Date? = nil
        var buffer = [UInt8](repeating: 0, count: 65536)
        while open.values.contains(true) {
            var fds = open.filter(\.value).keys.sorted().map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            _ = poll(&fds, nfds_t(fds.count), 100)
            for p in fds where p.revents != 0 {
                let n = read(p.fd, &buffer, buffer.count)
                if n > 0 {
                    if p.fd == outPipe[0] { append(&outcome.stdout, buffer[0..<n]) } else { append(&outcome.stderr, buffer[0..<n]) }
                } else if n == 0 || (errno != EINTR && errno != EAGAIN) {
                    open[p.fd] = false
                }
            }
            if killAt == nil {
                if isCancelled() { outcome.cancelled = true }
                else if Date() >= deadline { outcome.timedOut = true }
                if outcome.cancelled || outcome.timedOut {
                    kill(-pid, SIGTERM)
                    killAt = Date().addingTimeInterval(2)
                }
            } else if let k = killAt, Date() >= k {
                kill(-pid, SIGKILL)
                // Stop reading: a descendant that left the group could hold the pipes open forever.
                if Date() >= k.addingTimeInterval(1) { break }
            }
        }
        close(outPipe[0]); close(errPipe[0])
        // The streams are closed; the command may still be running (it can close them early), so the wait
        // keeps honouring the timeout and the cancel.
        var status: Int32 = 0
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid || (r < 0 && errno != EINTR) { break }
            if killAt == nil && (isCancelled() || Date() >= deadline) {
                if isCancelled() { outcome.cancelled = true } else { outcome.timedOut = true }
                kill(-pid, SIGTERM)
                killAt = Date().addingTimeInterval(2)
            } else if let k = killAt, Date() >= k {
                kill(-pid, SIGKILL)
            }
            usleep(20_000)
        }
        if killAt != nil { kill(-pid, SIGKILL) }   // anything of the group still running
        let low = status & 0x7f
        if low == 0 { outcome.status = (status >> 8) & 0xff } else { outcome.signal = low; outcome.status = 128 + low }
        return outcome
    }

    static func append(_ data: inout Data, _ bytes: ArraySlice<UInt8>) {
        data.append(contentsOf: bytes)
        if data.count > keptBytes { data.removeFirst(data.count - keptBytes) }
    }
}
