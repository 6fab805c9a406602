import Foundation

/// The pieces of one tensor on their way from the worker threads that compute them to the one thread that
/// writes them, in order. A worker claims the next piece only while it is fewer than `window` pieces ahead
/// of the one the writer waits for, so the cores stay busy while finished pieces go to the sink, and at
/// most `window` pieces are held (memory stays bounded whatever the tensor's size).
final class PieceFlow: @unchecked Sendable {
    private let condition = NSCondition()
    private let count: Int
    private let window: Int
    private var claimed = 0
    private var taken = 0
    private var ready: [Int: [UInt8]] = [:]
    private var failure: (any Error)?
    private var stopped = false

    init(count: Int, window: Int) {
        self.count = count
        self.window = max(1, window)
    }

    /// The next piece to compute, once it is within the window; nil when every piece is claimed, a piece
    /// failed or the writer stopped.
    func claim() -> Int? {
        condition.lock()
        defer { condition.unlock() }
        while !stopped, failure == nil, claimed < count, claimed >= taken + window { condition.wait() }
        guard !stopped, failure == nil, claimed < count else { return nil }
        claimed += 1
        return claimed - 1
    }

    /// Piece `p`'s bytes, computed.
    func finish(_ p: Int, _ bytes: [UInt8]) {
        condition.lock()
        ready[p] = bytes
        condition.broadcast()
        condition.unlock()
    }

    /// A piece could not be computed: the writer gets the first such error, and no further piece starts.
    func fail(_ error: any Error) {
        condition.lock()
        if failure == nil { failure = error }
        condition.broadcast()
        condition.unlock()
    }

    /// Waits for piece `p` (taken in order: 0, 1, …) and hands its bytes over.
    func take(_ p: Int) throws -> [UInt8] {
        condition.lock()
        defer { condition.unlock() }
        while ready[p] == nil, failure == nil { condition.wait() }
        if let failure { throw failure }
        taken = p + 1
        condition.broadcast()
        return ready.removeValue(forKey: p)!
    }

    /// The writer is done (or gave up): workers stop claiming pieces.
    func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }
}
