import Compression
import Foundation
import Workbench

/// Actions posted from background threads, drained by the run loop on the main thread.
public final class Inbox: @unchecked Sendable {
    private let lock = NSLock()
    private var actions: [Action] = []

    public init() {}

    public func post(_ action: Action) { lock.withLock { actions.append(action) } }
    public var hasPending: Bool { lock.withLock { !actions.isEmpty } }
    public func drain() -> [Action] { lock.withLock { defer { actions.removeAll() }; return actions } }
}

/// The app's scheduler: background work on the engine's concurrent queue; deliveries run on the worker
/// (they only post to the inbox, which the run loop drains on the main thread).
public struct InboxScheduler: Scheduler {
    let work = DispatchScheduler()
    public init() {}
    public func background(_ job: @escaping @Sendable () -> Void) { work.background(job) }
    public func deliver(_ job: @escaping @Sendable () -> Void) { job() }
}
