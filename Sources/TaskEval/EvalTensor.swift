/// A tensor handed to and returned by a `TaskRunner`: a row-major shape and its values, Float32 or Int64
/// (token ids, indices). Kept this small on purpose: it is the one type the ONNX Runtime runner and the
/// pure-Swift evaluation module exchange with the metrics, so neither depends on the other's tensor type.
public struct EvalTensor: Equatable, Sendable {
    public enum Values: Equatable, Sendable {
        case float([Float])
        case int64([Int64])
    }

    public var shape: [Int]
    public var values: Values

    /// A Float32 tensor; `values.count` must equal the product of `shape`.
    public init(shape: [Int], floats: [Float]) {
        precondition(shape.reduce(1, *) == floats.count, "EvalTensor: \(floats.count) values for shape \(shape)")
        self.shape = shape
        values = .float(floats)
    }

    /// An Int64 tensor; `values.count` must equal the product of `shape`.
    public init(shape: [Int], int64: [Int64]) {
        precondition(shape.reduce(1, *) == int64.count, "EvalTensor: \(int64.count) values for shape \(shape)")
        self.shape = shape
        values = .int64(int64)
    }

    public var count: Int { shape.reduce(1, *) }

    /// The values as Float (Int64 values converted), for metrics.
    public var floats: [Float] {
        switch values {
        case .float(let v): v
        case .int64(let v): v.map { Float($0) }
        }
    }

    /// Rows `range` of the first axis (a batch slice).
    public func rows(_ range: Range<Int>) -> EvalTensor {
        let per = shape.isEmpty ? 1 : shape.dropFirst().reduce(1, *)
        let s = [range.count] + shape.dropFirst()
        switch values {
        case .float(let v): return EvalTensor(shape: s, floats: Array(v[range.lowerBound * per ..< range.upperBound * per]))
        case .int64(let v): return EvalTensor(shape: s, int64: Array(v[range.lowerBound * per ..< range.upperBound * per]))
        }
    }

    /// Tensors with equal trailing shape joined along the first axis (batches back into one tensor).
    public static func joined(_ parts: [EvalTensor]) -> EvalTensor? {
        guard let first = parts.first else { return nil }
        let tail = Array(first.shape.dropFirst())
        guard parts.allSatisfy({ Array($0.shape.dropFirst()) == tail && !$0.shape.isEmpty }) else { return nil }
        let rows = parts.reduce(0) { $0 + $1.shape[0] }
        switch first.values {
        case .float:
            var all: [Float] = []
            for p in parts { guard case .float(let v) = p.values else { return nil }; all += v }
            return EvalTensor(shape: [rows] + tail, floats: all)
        case .int64:
            var all: [Int64] = []
            for p in parts { guard case .int64(let v) = p.values else { return nil }; all += v }
            return EvalTensor(shape: [rows] + tail, int64: all)
        }
    }
}

/// Something that runs a model on named inputs: the ONNX Runtime session (`ORTSession`) or a pure-Swift
/// forward pass. The evaluation runs one runner for the original weights and one for the compressed weights
/// on the same inputs and compares their outputs (`TaskMetrics`).
public protocol TaskRunner {
    /// The model's input names, in its own order (the `.npz` arrays of these names are fed).
    var inputNames: [String] { get }
    /// The model's output names, in its own order (the first is the one the metrics judge).
    var outputNames: [String] { get }
    /// One forward pass. Inputs are batched on their first axis; outputs come back batched the same way.
    func run(_ inputs: [String: EvalTensor]) throws -> [String: EvalTensor]
}

/// A task evaluation that cannot proceed: one line naming what is wrong (the CLI prints it and exits 2).
public struct EvalError: Error, Equatable, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
