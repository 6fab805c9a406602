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

    /// Runs the queued background jobs whose position in the queue `pick` accepts (the others stay queued,
    /// in order), then every delivery: for tests that need one answer before another.
    public func runJobs(_ pick: (Int) -> Bool) {
        let all = lock.withLock { defer { jobs.removeAll() }; return jobs }
        var kept: [@Sendable () -> Void] = []
        for (i, job) in all.enumerated() { if pick(i) { job() } else { kept.append(job) } }
        lock.withLock { jobs = kept + jobs }
        while let d = lock.withLock({ deliveries.isEmpty ? nil : deliveries.removeFirst() }) { d() }
    }

    /// Runs every queued background job (and any they queue), then every delivery.
    public func runAll() {
        while let job = lock.withLock({ jobs.isEmpty ? nil : jobs.removeFirst() }) { job() }
        while let d = lock.withLock({ deliveries.isEmpty ? nil : deliveries.removeFirst() }) { d() }
    }
}
