import Dispatch
import Foundation

/// Where the engine runs work and delivers results. The app uses `DispatchScheduler`; tests and the batch
/// `report` command use `ImmediateScheduler`, so every result arrives before the call returns.
public protocol Scheduler: Sendable {
    func background(_ work: @escaping @Sendable () -> Void)
    func deliver(_ work: @escaping @Sendable () -> Void)
}

/// Compute on a concurrent `.userInitiated` queue; results hop to `deliveryQueue` (the main queue, which owns
/// the UI state).
public struct DispatchScheduler: Scheduler {
    let work = DispatchQueue(label: "weightlab.engine", qos: .userInitiated, attributes: .concurrent)
    let deliveryQueue: DispatchQueue

    public init(deliveryQueue: DispatchQueue = .main) { self.deliveryQueue = deliveryQueue }

    public func background(_ job: @escaping @Sendable () -> Void) { work.async(execute: job) }
    public func deliver(_ job: @escaping @Sendable () -> Void) { deliveryQueue.async(execute: job) }
}

/// Runs everything inline on the caller's thread.
public struct ImmediateScheduler: Scheduler {
    public init() {}
    public func background(_ work: @escaping @Sendable () -> Void) { work() }
    public func deliver(_ work: @escaping @Sendable () -> Void) { work() }
}

/// A flag a job polls between chunks; setting it makes the job stop at its next check.
public final class CancellationToken: @unchecked Sendable {
    private let lock = NSLock()
    private var flag = false
    public init() {}
    public var isCancelled: Bool { lock.withLock { flag } }
    public func cancel() { lock.withLock { flag = true } }
}
