import CNcursesw
import Foundation
import Testing
@testable import Terminal
import Workbench
#if canImport(Glibc)
import Glibc
#endif

/// `TerminalScreen` against real terminals. The in-process test only runs when the test process has no
/// terminal (the usual case under `swift test` in CI). The others re-run this test binary as a child process
/// on a pseudo-terminal (so nothing here can disturb the terminal `swift test` runs in), selecting
/// `childEntry` below with environment variables, and check what the child reports and how it left the pty.
@Suite(.serialized) struct TerminalScreenTests {
    static let childModeVariable = "WEIGHTLAB_TERMINAL_CHILD"
    static let childResultVariable = "WEIGHTLAB_TERMINAL_RESULT"
    static var isChild: Bool { ProcessInfo.processInfo.environment[childModeVariable] != nil }
    static var hasNoTerminal: Bool { isatty(0) == 0 || isatty(1) == 0 }

    @Test(.enabled(if: !isChild && hasNoTerminal))
    func openFailsCleanlyWithoutATerminal() {
        #expect(throws: TerminalError.notATerminal) { _ = try TerminalScreen.open() }
        #expect(throws: TerminalError.self) { _ = try TerminalScreen.open(colorMode: ColorMode.none) }
        do {
            _ = try TerminalScreen.open()
            Issue.record("opened without a terminal")
        } catch {
            #expect(error.description.hasPrefix("not a terminal: "))
            #expect(error.description.contains("weightlab inspect"))
        }
        #expect(!TerminalRestore.isArmed)  // nothing was set up
    }

    // MARK: - Child processes on a pseudo-terminal

    struct ChildResult {
        var reason: Process.TerminationReason
        var status: Int32
        var report: String
        var output: String
        /// The pty's modes after the child ended.
        var canonical: Bool
        var echo: Bool
    }

    /// Runs `childEntry` in a fresh copy of this test binary whose stdin/stdout/stderr are a new pty (or, with
    /// `stdoutToFile`, stdout goes to a file instead).
    static func runChild(mode: String, term: String, stdoutToFile: Bool = false,
                         extraEnvironment: [String: String] = [:]) throws -> ChildResult {
        var nameBuffer = [CChar](repeating: 0, count: 128)
        let master = wl_open_pseudo_terminal(&nameBuffer, Int32(nameBuffer.count))
        #expect(master >= 0)
        guard master >= 0 else { throw TerminalError("cannot open a pseudo-terminal") }
        defer { Glibc.close(master) }
        let slave = Glibc.open(String(decoding: nameBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self), O_RDWR | O_NOCTTY)
        guard slave >= 0 else { throw TerminalError("cannot open \(String(decoding: nameBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))") }
        defer { Glibc.close(slave) }
        _ = fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK)

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("weightlab-terminal-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let reportPath = dir.appendingPathComponent("report.txt").path
        let stdoutPath = dir.appendingPathComponent("stdout.txt").path
        _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
        process.arguments = ["--testing-library", "swift-testing", "--filter", "TerminalScreenTests/childEntry"]
        var environment = [
            childModeVariable: mode, childResultVariable: reportPath, "TERM": term,
            "LANG": "C.UTF-8", "LINES": "24", "COLUMNS": "80", "SWIFT_BACKTRACE": "enable=no",
            "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin",
        ]
        environment.merge(extraEnvironment) { $1 }
        process.environment = environment
        let pty = FileHandle(fileDescriptor: slave, closeOnDealloc: false)
        process.standardInput = pty
        process.standardOutput = stdoutToFile ? FileHandle(forWritingAtPath: stdoutPath)! : pty
        process.standardError = pty
        try process.run()

        var output = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        func drain() {
            while true {
                let n = read(master, &buffer, buffer.count)
                if n <= 0 { break }
                output += buffer[0..<n]
            }
        }
        let deadline = Date().addingTimeInterval(60)
        while process.isRunning {
            drain()
            if Date() > deadline { process.terminate() }
            usleep(5_000)
        }
        process.waitUntilExit()
        drain()

        var modes = termios()
        _ = tcgetattr(slave, &modes)
        return ChildResult(
            reason: process.terminationReason, status: process.terminationStatus,
            report: (try? String(contentsOfFile: reportPath, encoding: .utf8)) ?? "",
            output: String(decoding: output, as: UTF8.self),
            canonical: modes.c_lflag & tcflag_t(ICANON) != 0, echo: modes.c_lflag & tcflag_t(ECHO) != 0)
    }

    /// What the child does, chosen by `WEIGHTLAB_TERMINAL_CHILD`; it reports through the file named by
    /// `WEIGHTLAB_TERMINAL_RESULT`. Skipped in normal test runs.
    @Test(.enabled(if: isChild))
    func childEntry() throws {
        let env = ProcessInfo.processInfo.environment
        let mode = env[Self.childModeVariable] ?? ""
        let reportPath = try #require(env[Self.childResultVariable])
        func report(_ text: String) {
            _ = FileManager.default.createFile(atPath: reportPath, contents: Data(text.utf8))
        }
        let screen: TerminalScreen
        do {
            screen = try TerminalScreen.open()
        } catch {
            report("error: \(error.message)\nalive\n")
            return
        }
        var grid = CellGrid(width: 30, height: 4, style: Style())
        grid.put("héllo 漢字 ok", x: 1, y: 1, style: Style(.title, bold: true))
        grid.put("selected", x: 1, y: 2, style: Style(.selectedForeground, on: .selectedBackground))
        screen.draw(grid, theme: .dark)
        screen.draw(grid, theme: .dark)  // second frame: cached pairs, nothing to send
        let size = screen.size
        let event = screen.nextEvent(timeoutMilliseconds: 0)
        let opened = "opened \(size.width)x\(size.height) \(screen.colorMode) unicode=\(screen.isUnicode) event=\(String(describing: event))\n"
        switch mode {
        case "term":
            report(opened)
            kill(getpid(), SIGTERM)
            sleep(10)
        case "segv":
            report(opened)
            kill(getpid(), SIGSEGV)
            sleep(10)
        case "fault":
            report(opened)
            let bad = UnsafeMutablePointer<Int>(bitPattern: 16)!
            bad.pointee = 1
        case "trap":
            report(opened)
            let values = [Int](repeating: 1, count: Int(getpid() % 2) + 1)
            _ = values[values.count + Int(size.width)]  // out of bounds: a Swift runtime trap
        case "exit":
            report(opened)
            exit(3)
        default:
            screen.close()
            screen.close()  // idempotent
            var modes = termios()
            _ = tcgetattr(0, &modes)
            report(opened + "closed icanon=\(modes.c_lflag & tcflag_t(ICANON) != 0) echo=\(modes.c_lflag & tcflag_t(ECHO) != 0)\n")
        }
    }

    @Test(.enabled(if: !isChild))
    func openFailsCleanlyWhenStdoutIsNotATerminal() throws {
        let r = try Self.runChild(mode: "open", term: "xterm-256color", stdoutToFile: true)
        #expect(r.report.hasPrefix("error: not a terminal: weightlab's workbench needs an interactive terminal"))
        #expect(r.report.contains("alive"))
        #expect(r.reason == .exit)
        #expect(r.canonical && r.echo)
    }

    @Test(.enabled(if: !isChild))
    func unknownTerminalTypeIsAnErrorNotAnExit() throws {
        let r = try Self.runChild(mode: "open", term: "definitely-not-a-terminal")
        #expect(r.report == "error: cannot use terminal type 'definitely-not-a-terminal' (no terminfo entry)\nalive\n")
        #expect(r.reason == .exit && r.status == 0)
        #expect(r.canonical && r.echo)
    }

    @Test(.enabled(if: !isChild))
    func terminalWithoutCursorAddressingIsRefused() throws {
        let r = try Self.runChild(mode: "open", term: "dumb")
        #expect(r.report == "error: cannot use terminal type 'dumb': it cannot move the cursor (try TERM=xterm-256color)\nalive\n")
        #expect(r.reason == .exit && r.status == 0)
        #expect(r.canonical && r.echo)
    }

    @Test(.enabled(if: !isChild))
    func opensDrawsAndCloses() throws {
        let r = try Self.runChild(mode: "open", term: "xterm-256color")
        #expect(r.report.hasPrefix("opened 80x24 256 colours unicode=true event=nil\n"), "\(r.report)")
        #expect(r.report.hasSuffix("closed icanon=true echo=true\n"))
        #expect(r.output.contains("h\u{e9}llo"))
        #expect(r.output.contains("漢字"))
        #expect(r.output.contains("\u{1B}[?1002h"))  // drag reporting on…
        #expect(r.output.contains("\u{1B}[?1002l"))  // …and off again
        #expect(r.output.contains("\u{1B}[?1049h") && r.output.contains("\u{1B}[?1049l"))
        #expect(r.reason == .exit && r.status == 0)
        #expect(r.canonical && r.echo)
    }

    @Test(.enabled(if: !isChild))
    func noColorMeansAttributesOnly() throws {
        let r = try Self.runChild(mode: "open", term: "xterm-256color", extraEnvironment: ["NO_COLOR": "1"])
        #expect(r.report.hasPrefix("opened 80x24 none "), "\(r.report)")
        #expect(!r.output.contains("\u{1B}[38;5;"))
        #expect(r.output.contains("\u{1B}[7m") || r.output.contains(";7m"))  // selection in reverse video
    }

    /// Each way out, with the Swift runtime's crash backtracer off and on (on, it is the handler ours chains
    /// to for crash signals; it must still end the process).
    @Test(.enabled(if: !isChild), arguments: [
        ("term", SIGTERM, false), ("segv", SIGSEGV, false), ("fault", SIGSEGV, false), ("trap", SIGILL, false),
        ("exit", 0, false), ("term", SIGTERM, true), ("segv", SIGSEGV, true), ("fault", SIGSEGV, true),
        ("trap", SIGILL, true),
    ])
    func terminalIsRestoredOnEveryExit(mode: String, signal: Int32, backtracer: Bool) throws {
        let backtrace = backtracer ? "enable=yes,interactive=no,color=no" : "enable=no"
        let r = try Self.runChild(mode: mode, term: "xterm-256color", extraEnvironment: ["SWIFT_BACKTRACE": backtrace])
        #expect(r.report.hasPrefix("opened 80x24"), "\(mode): \(r.report)")
        if signal == 0 {
            #expect(r.reason == .exit && r.status == 3)
        } else {
            #expect(r.reason == .uncaughtSignal, "\(mode)")
            // A Swift trap is SIGILL (ud2) on x86-64 and SIGTRAP (brk) on arm64.
            #expect(r.status == signal || (mode == "trap" && r.status == SIGTRAP), "\(mode): \(r.status)")
        }
        #expect(r.canonical && r.echo, "\(mode)")
        #expect(r.output.contains("\u{1B}[?1002l"), "\(mode)")
        #expect(r.output.contains("\u{1B}[?1049l"), "\(mode): left the alternate screen")
        #expect(r.output.contains("\u{1B}[?25h"), "\(mode): cursor shown")
    }
}
