import Dispatch
import Foundation
import WeightFormats

/// Streams a tensor through an accumulator, splitting it into chunk ranges that several cores decode and
/// reduce independently (each with its own buffers), then merging the partial results in order.
public enum TensorScan {
    /// Elements per work item: large enough to amortise a `pread`, small enough to stay in cache.
    public static let chunkElements = 1 << 18

    /// Maps every chunk of `tensor` to a partial result with `partial`, then folds the partials with `merge`.
    /// `cancelled` is polled before each chunk; when it returns true the scan stops and throws `CancellationError`.
    public static func reduce<R: Sendable>(
        _ tensor: Tensor,
        initial: R,
        chunkElements: Int = TensorScan.chunkElements,
        cancelled: @Sendable () -> Bool = { false },
        partial: @Sendable (_ start: Int, _ values: UnsafeBufferPointer<Float>) -> R,
        merge: (inout R, R) -> Void
    ) throws -> R {
        try reduceByWorker(tensor, initial: initial, chunkElements: chunkElements, cancelled: cancelled,
                           partial: { _, start, values in partial(start, values) }, merge: merge)
    }

    /// Workers `reduce` runs for `tensor` (each claims the next chunk no worker has taken as it frees up).
    static func workers(_ tensor: Tensor, chunkElements: Int = TensorScan.chunkElements) -> Int {
        let b = tensor.dtype.blockSize
        let step = Swift.max(b, (chunkElements / b) * b)
        return Swift.min((tensor.parameters + step - 1) / step, ProcessInfo.activeCores)
    }

    /// As `reduce`, telling `partial` which worker (0 ..< `workers(tensor)`) runs it, so a kernel can also keep
    /// per-worker state whose result does not depend on the order of chunks (integer counts).
    static func reduceByWorker<R: Sendable>(
        _ tensor: Tensor,
        initial: R,
        chunkElements: Int = TensorScan.chunkElements,
        cancelled: @Sendable () -> Bool = { false },
        partial: @Sendable (_ worker: Int, _ start: Int, _ values: UnsafeBufferPointer<Float>) -> R,
        merge: (inout R, R) -> Void
    ) throws -> R {
        let b = tensor.dtype.blockSize
        let step = Swift.max(b, (chunkElements / b) * b)
        let chunks = (tensor.parameters + step - 1) / step
        if chunks == 0 { return initial }
        let results = ResultSlots<R>(count: chunks)
        let workers = Swift.min(chunks, ProcessInfo.activeCores)
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: step)
            defer { buffer.deallocate() }
            var scratch: [UInt8] = []
            while let c = results.claim() {
                if cancelled() { results.fail(CancellationError()); return }
                let lo = c * step, hi = Swift.min(tensor.parameters, lo + step)
                let out = UnsafeMutableBufferPointer(rebasing: buffer[0..<(hi - lo)])
                do {
                    try tensor.decode(lo..<hi, into: out, scratch: &scratch)
                } catch {
                    results.fail(error)
                    return
                }
                results.set(c, partial(w, lo, UnsafeBufferPointer(out)))
            }
        }
        if let error = results.error { throw error }
        var total = initial
        for r in results.values { if let r { merge(&total, r) } }
        return total
    }

    /// As `reduceByWorker` over the same chunks, handing `partial` each chunk's stored bytes instead of decoded
    /// values, for kernels that decode as they go. Only for tensors of whole 1-element blocks stored row-major
    /// (not in Fortran order), whose element i starts at byte i × the element size.
    static func reduceStoredByWorker<R: Sendable>(
        _ tensor: Tensor,
        initial: R,
        chunkElements: Int = TensorScan.chunkElements,
        cancelled: @Sendable () -> Bool = { false },
        partial: @Sendable (_ worker: Int, _ start: Int, _ stored: UnsafeRawBufferPointer) -> R,
        merge: (inout R, R) -> Void
    ) throws -> R {
        precondition(tensor.dtype.blockSize == 1 && !tensor.fortranOrder)
        let width = tensor.dtype.blockBytes
        let chunks = (tensor.parameters + chunkElements - 1) / chunkElements
        if chunks == 0 { return initial }
        let results = ResultSlots<R>(count: chunks)
        let workers = Swift.min(chunks, ProcessInfo.activeCores)
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: width * chunkElements, alignment: 64)
            defer { buffer.deallocate() }
            while let c = results.claim() {
                if cancelled() { results.fail(CancellationError()); return }
                let lo = c * chunkElements, hi = Swift.min(tensor.parameters, lo + chunkElements)
                let bytes = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<(width * (hi - lo))])
                do {
                    try tensor.data.read(at: UInt64(width * lo), into: bytes)
                } catch {
                    results.fail(error)
                    return
                }
                results.set(c, partial(w, lo, UnsafeRawBufferPointer(bytes)))
            }
        }
        if let error = results.error { throw error }
        var total = initial
        for r in results.values { if let r { merge(&total, r) } }
        return total
    }

    /// Statistics of a tensor's decoded values.
    public static func statistics(_ tensor: Tensor, cancelled: @Sendable () -> Bool = { false }) throws -> Statistics {
        try reduce(tensor, initial: Statistics(), cancelled: cancelled,
                   partial: { _, v in var s = Statistics(); s.add(v); return s },
                   merge: { $0.merge($1) })
    }
}

/// Per-chunk results written from several threads, each slot by exactly one of them.
final class ResultSlots<R>: @unchecked Sendable {
    private(set) var values: [R?]
    private(set) var error: (any Error)?
    private let lock = NSLock()

    init(count: Int) { values = Array(repeating: nil, count: count) }

    func set(_ i: Int, _ r: R) { lock.withLock { values[i] = r } }
    /// The next item no worker has taken yet (nil when all are taken, or after a failure): workers claim items
    /// as they free up, so one slowed by the rest of the machine does not leave the others waiting at the end.
    func claim() -> Int? {
        lock.withLock {
            guard error == nil, claimed < values.count else { return nil }
            claimed += 1
            return claimed - 1
        }
    }
    private var claimed = 0
    /// Counts one finished item and returns how many have finished (for progress lines).
    func finishOne() -> Int { lock.withLock { finished += 1; return finished } }
    private var finished = 0
    func fail(_ e: any Error) { lock.withLock { if error == nil { error = e } } }
}

extension ProcessInfo {
    /// Cores available to this process (at least 1).
    static var activeCores: Int { Swift.max(1, ProcessInfo.processInfo.activeProcessorCount) }
}
