import Compression
import Foundation

/// A scheduler that holds background jobs and deliveries until the test runs them, so tests can see what
/// was queued (coalescing, cancellation) and in what order results arrive.
public final class ManualScheduler: Scheduler, @unchecked Sendable {
    private let lock = NSLock()
    private var jobs: [@Sendable () -> Void] = []
    private var deliveries: [@Sendable () -> Void] = []

    public init() {}

    public func background(_ work: @escaping @Sendable () -> Void) { lock.withLock { jobs.append(work) } }
    public func deliver(_ work: @escaping @Sendable () -> Void) { lock.withLock { deliveries.append(work) } }

    public var queuedJobs: Int { lock.withLock { jobs.count } }

    /// Runs every queued background job (and any they queue), then every delivery.
    public func runAll() {
        while let job = lock.withLock({ jobs.isEmpty ? nil : jobs.removeFirst() }) { job() }
        while let d = lock.withLock({ deliveries.isEmpty ? nil : deliveries.removeFirst() }) { d() }
    }
}
