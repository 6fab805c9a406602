/// A dense row-major Float32 array with a shape: the value every evaluation kernel takes and returns.
/// Named apart from `WeightFormats.Tensor`, which describes stored (possibly quantized, lazily read) weights.
public struct EvalArray: Sendable, Equatable {
    public var shape: [Int]
    public var values: [Float]

    /// `values.count` must equal the product of `shape`; kernels rely on it, so it is checked here once.
    public init(shape: [Int], values: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 } && shape.reduce(1, *) == values.count,
                     "EvalArray shape \(shape) does not hold \(values.count) values")
        self.shape = shape
        self.values = values
    }

    public init(zeros shape: [Int]) {
        self.init(shape: shape, values: [Float](repeating: 0, count: shape.reduce(1, *)))
    }

    public var count: Int { values.count }
    public var rank: Int { shape.count }

    /// The same values under another shape with the same element count (`flatten` and head splits use it).
    public func reshaped(_ newShape: [Int]) -> EvalArray {
        EvalArray(shape: newShape, values: values)
    }
}

/// A failure while assembling or running a network: a missing weight, a shape that does not fit the
/// architecture, or bad input. One line, naming the place.
public struct EvaluationError: Error, CustomStringConvertible, Equatable, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
