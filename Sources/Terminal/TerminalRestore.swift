import CNcursesw
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Puts the terminal back the way the shell left it, on every way out of the process: `close()`, `exit()`
/// (atexit), SIGINT/SIGTERM/SIGHUP, and crashes (SIGILL, SIGTRAP, SIGABRT, SIGSEGV, SIGBUS, SIGFPE — a Swift
/// trap runs no `defer`).
///
/// A signal handler may only make async-signal-safe calls, so everything it needs is prepared while the
/// screen opens: the bytes that undo ncurses' output modes (from terminfo: `sgr0`, `rmkx`, `cnorm`, `rmcup`,
/// plus the xterm mouse-off sequences) in a preallocated buffer, and the `termios` settings from before
/// ncurses changed them. The handler then only calls `write(2)`, `tcsetattr`, `sigaction` and `raise`.
/// SIGWINCH is left alone: ncurses needs it to deliver KEY_RESIZE.
enum TerminalRestore {
    static let bufferCapacity = 1024
    static let signalSlots = 65
    static let terminationSignals: [Int32] = [SIGINT, SIGTERM, SIGHUP]
    static let crashSignals: [Int32] = [SIGILL, SIGTRAP, SIGABRT, SIGSEGV, SIGBUS, SIGFPE]

    // Signal handlers cannot take part in Swift's isolation model: they interrupt any thread at any point.
    // These globals are therefore `nonisolated(unsafe)`, allocated once in `prepare()` before any handler is
    // installed, written only by the thread that opens/closes the screen, and read by handlers. The
    // "armed" flag that says whether a restore is due is a C atomic, so a restore happens at most once even
    // when a signal races with `close()` on another thread.
    nonisolated(unsafe) static var bytes: UnsafeMutablePointer<UInt8>? = nil
    nonisolated(unsafe) static var byteCount: Int = 0
    /// Saved terminal modes of stdin (0) and stdout (1), and whether each was saved.
    nonisolated(unsafe) static var savedModes: UnsafeMutablePointer<termios>? = nil
    nonisolated(unsafe) static var savedModeValid: UnsafeMutablePointer<Bool>? = nil
    /// 1 while a restore is due (screen open); exchanged to 0 by whoever restores.
    nonisolated(unsafe) static var armed: UnsafeMutablePointer<Int32>? = nil
    /// Previous action of each signal we handle, indexed by signal number, and whether we installed one.
    nonisolated(unsafe) static var previousActions: UnsafeMutablePointer<sigaction>? = nil
    nonisolated(unsafe) static var installed: UnsafeMutablePointer<Bool>? = nil
    nonisolated(unsafe) static var atexitRegistered = false
    /// Set to 1 by the SIGCONT handler: after a suspend (Ctrl-Z, `fg`), ncurses re-enables its own mouse
    /// mode, which switches the terminal out of drag reporting, so the screen must send it again.
    nonisolated(unsafe) static var continued: UnsafeMutablePointer<Int32>? = nil
    nonisolated(unsafe) static var continueHandlerInstalled = false

    /// Allocates the handler-visible state (once). Called before any handler can run.
    static func prepare() {
        if bytes != nil { return }
        bytes = .allocate(capacity: bufferCapacity)
        savedModes = .allocate(capacity: 2)
        savedModes!.initialize(repeating: termios(), count: 2)
        savedModeValid = .allocate(capacity: 2)
        savedModeValid!.initialize(repeating: false, count: 2)
        armed = .allocate(capacity: 1)
        armed!.initialize(to: 0)
        continued = .allocate(capacity: 1)
        continued!.initialize(to: 0)
        previousActions = .allocate(capacity: signalSlots)
        previousActions!.initialize(repeating: sigaction(), count: signalSlots)
        installed = .allocate(capacity: signalSlots)
        installed!.initialize(repeating: false, count: signalSlots)
        if !atexitRegistered {
            atexitRegistered = true
            atexit { TerminalRestore.restoreNow() }
        }
    }

    /// Saves the current modes of stdin and stdout (before ncurses changes them).
    static func saveTerminalModes() {
        prepare()
        for fd: Int32 in [0, 1] {
            savedModeValid![Int(fd)] = tcgetattr(fd, savedModes! + Int(fd)) == 0
        }
    }

    /// Stores the byte sequence a restore writes (truncated to the buffer).
    static func setRestoreSequence(_ sequence: [UInt8]) {
        prepare()
        let n = min(sequence.count, bufferCapacity)
        sequence.withUnsafeBufferPointer { src in bytes!.update(from: src.baseAddress!, count: n) }
        byteCount = n
    }

    /// The undo sequence for the current terminal (call after `newterm`, while its terminfo is loaded).
    static func restoreSequence() -> [UInt8] {
        var out: [UInt8] = []
        func capability(_ name: String) -> [UInt8]? {
            var buffer = [CChar](repeating: 0, count: 256)
            let n = wl_tigetstr_copy(name, &buffer, Int32(buffer.count))
            guard n > 0 else { return nil }
            return buffer[0..<Int(n)].map { UInt8(bitPattern: $0) }
        }
        out += capability("sgr0") ?? Array("\u{1B}[0m".utf8)
        // Every xterm mouse mode ncurses or we may have enabled (terminals ignore unknown private modes).
        out += Array("\u{1B}[?1002l\u{1B}[?1003l\u{1B}[?1000l\u{1B}[?1006l\u{1B}[?1015l".utf8)
        out += capability("rmkx") ?? []
        out += capability("cnorm") ?? Array("\u{1B}[?25h".utf8)
        out += capability("rmcup") ?? []
        return out
    }

    static func arm() {
        prepare()
        wl_atomic_store_int(armed!, 1)
    }

    /// Marks the terminal as restored without writing anything (after a normal `endwin`).
    static func disarm() {
        guard let armed else { return }
        wl_atomic_store_int(armed, 0)
    }

    static var isArmed: Bool { armed.map { wl_atomic_load_int($0) == 1 } ?? false }

    /// Writes the undo bytes and restores the saved terminal modes, if a restore is due. Async-signal-safe:
    /// only atomics, `write` and `tcsetattr` on preallocated memory.
    static func restoreNow() {
        guard let armed, wl_atomic_exchange_int(armed, 0) == 1 else { return }
        if let bytes {
            var offset = 0, failures = 0
            while offset < byteCount && failures < 4 {
                let n = write(1, bytes + offset, byteCount - offset)
                if n > 0 { offset += n } else { failures += 1 }
            }
        }
        if let savedModes, let savedModeValid {
            for fd in 0..<2 where savedModeValid[fd] { _ = tcsetattr(Int32(fd), TCSANOW, savedModes + fd) }
        }
    }

    /// Installs the handlers (idempotent). Termination signals that were ignored when we started (e.g. SIGHUP
    /// under `nohup`) stay ignored.
    static func installHandlers() {
        prepare()
        // A parent may have left signals blocked (the mask is inherited across exec): without SIGWINCH ncurses
        // never sees a resize, and blocked termination signals would never restore the terminal.
        var unblock = sigset_t()
        sigemptyset(&unblock)
        for sig in terminationSignals + crashSignals + [SIGWINCH] { sigaddset(&unblock, sig) }
        _ = pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
        for sig in terminationSignals + crashSignals where !installed![Int(sig)] {
            let previous = previousActions! + Int(sig)
            guard wl_install_signal_handler(sig, terminalSignalHandler, previous) == 0 else { continue }
            if isTermination(sig) && wl_sigaction_is_ignore(previous) != 0 {
                _ = sigaction(sig, previous, nil)
                continue
            }
            installed![Int(sig)] = true
        }
    }

    /// Notes SIGCONT (resume after a suspend), if nobody else handles it. The default action (continue the
    /// process) happens either way.
    static func installContinueHandler() {
        prepare()
        guard !continueHandlerInstalled else { return }
        let previous = previousActions! + Int(SIGCONT)
        guard wl_install_signal_handler(SIGCONT, continueSignalHandler, previous) == 0 else { return }
        if wl_sigaction_is_default(previous) == 0 {
            // Someone else's handler (or SIG_IGN): leave it in place.
            _ = sigaction(SIGCONT, previous, nil)
            return
        }
        continueHandlerInstalled = true
    }

    /// True once after each SIGCONT.
    static func takeContinued() -> Bool {
        guard let continued else { return false }
        return wl_atomic_exchange_int(continued, 0) == 1
    }

    /// Puts back the actions that were in place before `installHandlers()`.
    static func uninstallHandlers() {
        if continueHandlerInstalled {
            _ = sigaction(SIGCONT, previousActions! + Int(SIGCONT), nil)
            continueHandlerInstalled = false
        }
        guard let installed, let previousActions else { return }
        for sig in terminationSignals + crashSignals where installed[Int(sig)] {
            _ = sigaction(sig, previousActions + Int(sig), nil)
            installed[Int(sig)] = false
        }
    }

    /// SIGINT, SIGTERM or SIGHUP (plain comparisons: no array access inside a signal handler).
    @inline(__always)
    static func isTermination(_ sig: Int32) -> Bool { sig == SIGINT || sig == SIGTERM || sig == SIGHUP }

    /// After restoring: hand the signal to whatever handled it before us (or the default action).
    /// - Termination signals: the previous action (default: the process ends, and the shell sees status
    ///   128 + signal).
    /// - A real fault (`si_code > 0`): the previous handler, by returning — the faulting instruction runs again
    ///   and meets it (the Swift runtime's backtracer, or a core dump) with the true fault information.
    /// - A crash signal sent with kill(2) (`SI_USER`): the default action. Handlers written for faults, like
    ///   the Swift backtracer, return after reporting and expect the fault to end the process; a sent signal
    ///   would leave the process running, with the terminal already given back.
    /// - A crash signal raised inside the process (`abort()`, `raise`; `si_code < 0`): the previous handler,
    ///   so an abort still gets its backtrace (abort ends the process after the handler returns).
    static func chain(signal sig: Int32, code: Int32) {
        guard sig > 0, Int(sig) < signalSlots, let previousActions, let installed, installed[Int(sig)] else {
            _ = wl_set_default_action(sig)
            _ = raise(sig)
            return
        }
        installed[Int(sig)] = false
        if !isTermination(sig) && code == 0 {  // SI_USER
            _ = wl_set_default_action(sig)
            _ = raise(sig)
            return
        }
        _ = sigaction(sig, previousActions + Int(sig), nil)
        if isTermination(sig) || code < 0 {
            // Pending until this handler returns, then delivered to the previous action.
            _ = raise(sig)
        }
    }
}

/// The one handler for every signal we take: restore, then chain. `@convention(c)` and free of captures;
/// touches only the preallocated state above.
let terminalSignalHandler: @convention(c) (Int32, UnsafeMutablePointer<siginfo_t>?, UnsafeMutableRawPointer?) -> Void = {
    sig, info, _ in
    TerminalRestore.restoreNow()
    TerminalRestore.chain(signal: sig, code: wl_siginfo_code(info))
}

/// SIGCONT: only raises a flag the screen checks before it next reads input or draws.
let continueSignalHandler: @convention(c) (Int32, UnsafeMutablePointer<siginfo_t>?, UnsafeMutableRawPointer?) -> Void = {
    _, _, _ in
    if let flag = TerminalRestore.continued { wl_atomic_store_int(flag, 1) }
}
