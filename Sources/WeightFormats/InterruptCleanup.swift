#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Files to remove if the process is interrupted (SIGINT, SIGTERM, SIGHUP) while it writes them: the
/// temporary files `AtomicFile` is writing, and outputs a multi-file writer has put in place but not yet
/// finished. A command that writes models calls `install()` once; from then on an interrupt removes every
/// registered path (files with `unlink`, then directories with `rmdir`, both async-signal-safe), restores the
/// signal's default action and re-raises it, so the process still dies of the signal. SIGKILL cannot be
/// caught: `AtomicFile.removeStaleTemporaries` clears what it leaves on the next run.
public enum InterruptCleanup {
    /// Slots for registered paths (C strings owned here). A fixed table: a handler may not allocate.
    static let capacity = 256
    nonisolated(unsafe) static let slots: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> = {
        let p = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: capacity)
        p.initialize(repeating: nil, count: capacity)
        return p
    }()
    /// Whether each slot is a directory (removed after the files).
    nonisolated(unsafe) static let isDirectory: UnsafeMutablePointer<Bool> = {
        let p = UnsafeMutablePointer<Bool>.allocate(capacity: capacity)
        p.initialize(repeating: false, count: capacity)
        return p
    }()
    private static let lock = Mutex()

    /// A registration, to pass back to `unregister`.
    public struct Token: Sendable { let slot: Int }

    /// Registers `path` for removal on an interrupt. Nil when the table is full (the path is then only
    /// cleaned by the normal error paths and the stale-file sweep).
    @discardableResult
    public static func register(_ path: String, directory: Bool = false) -> Token? {
        lock.locked {
            for i in 0..<capacity where slots[i] == nil {
                isDirectory[i] = directory
                slots[i] = strdup(path)
                return Token(slot: i)
            }
            return nil
        }
    }

    /// Stops removing the path of `token` on an interrupt.
    public static func unregister(_ token: Token?) {
        guard let token else { return }
        lock.locked {
            let p = slots[token.slot]
            slots[token.slot] = nil
            free(p)
        }
    }

    /// Installs the handlers for SIGINT, SIGTERM and SIGHUP and unblocks them in the calling thread (call it
    /// before starting other threads; once: later calls do nothing).
    public static func install() {
        lock.locked {
            guard !installed else { return }
            installed = true
            // A parent may have spawned us with these blocked (posix_spawn passes its mask on): unblock them,
            // or an interrupt would wait until the write finished.
            var unblock = sigset_t()
            sigemptyset(&unblock)
            for sig in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&unblock, sig) }
            pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
            for sig in [SIGINT, SIGTERM, SIGHUP] {
                var action = sigaction()
                #if canImport(Glibc)
                action.__sigaction_handler.sa_handler = interruptHandler
                #else
                action.__sigaction_u.__sa_handler = interruptHandler
                #endif
                sigemptyset(&action.sa_mask)
                action.sa_flags = 0
                sigaction(sig, &action, nil)
            }
        }
    }
    nonisolated(unsafe) private static var installed = false

    /// Removes every registered path (files first, then directories). Async-signal-safe.
    /// Files are unlinked twice: other threads keep running while the handler does, and a writer that renames
    /// its temporary to a registered staged name between the two unlinks of one pass would otherwise leave
    /// that file (and so its directory) behind.
    static func removeAll() {
        for pass in 0..<3 {
            for i in 0..<capacity {
                guard let p = slots[i], isDirectory[i] == (pass == 2) else { continue }
                if pass < 2 { unlink(p) } else { rmdir(p) }
            }
        }
    }

    /// A small lock usable from static context.
    final class Mutex: @unchecked Sendable {
        private var m = pthread_mutex_t()
        init() { pthread_mutex_init(&m, nil) }
        func locked<R>(_ body: () -> R) -> R {
            pthread_mutex_lock(&m)
            defer { pthread_mutex_unlock(&m) }
            return body()
        }
    }
}

private func interruptHandler(_ sig: Int32) {
    InterruptCleanup.removeAll()
    signal(sig, SIG_DFL)
    raise(sig)
}
