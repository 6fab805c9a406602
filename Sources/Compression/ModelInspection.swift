import Dispatch
import Foundation
import WeightFormats

/// What `inspect` shows: every tensor with, for floating tensors, the statistics of its decoded values.
public struct ModelInspection: Sendable {
    public struct Row: Sendable {
        public let tensor: Tensor
        /// nil for integer and bool tensors, and when statistics were not asked for.
        public let statistics: Statistics?
    }

    public let model: Model
    public let rows: [Row]

    /// Scans the floating tensors' values (several tensors at once, each split across cores).
    /// With `statistics: false` no tensor data is read at all. `progress` gets (tensors scanned, tensors to
    /// scan) from the worker threads, for a progress line on a large model.
    public init(_ model: Model, statistics: Bool, progress: (@Sendable (Int, Int) -> Void)? = nil) throws {
        self.model = model
        guard statistics else {
            rows = model.tensors.map { Row(tensor: $0, statistics: nil) }
            return
        }
        let tensors = model.tensors
        let slots = ResultSlots<Statistics>(count: tensors.count)
        let toScan = tensors.filter(\.isFloating).count
        DispatchQueue.concurrentPerform(iterations: tensors.count) { i in
            guard tensors[i].isFloating else { return }
            do {
                slots.set(i, try TensorScan.statistics(tensors[i]))
            } catch {
                slots.fail(error)
            }
            if let progress { progress(slots.finishOne(), toScan) }
        }
        if let error = slots.error { throw error }
        rows = tensors.indices.map { Row(tensor: tensors[$0], statistics: slots.values[$0]) }
    }

    /// Statistics over every floating value of the model.
    public var total: Statistics {
        var s = Statistics()
        for r in rows { if let st = r.statistics { s.merge(st) } }
        return s
    }
}
