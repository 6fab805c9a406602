import WeightFormats

/// Where a network's weights come from: by name, as Float32 with a shape. Built from a loaded
/// `WeightFormats.Model` (decoding any stored dtype), optionally with some tensors' values replaced — that is
/// how a compressed reconstruction is evaluated against the original with the same architecture.
public struct WeightTable: Sendable {
    private let shapes: [String: [Int]]
    private let fetch: @Sendable (String) throws -> [Float]?
    /// Where the weights came from, for error lines.
    public let origin: String

    /// Weights as the model stores them. `substitute(name)` may return replacement values (same element count)
    /// for any tensor, e.g. a codec's reconstruction; nil keeps the stored values.
    public init(model: Model, substitute: (@Sendable (String) throws -> [Float]?)? = nil) {
        var shapes: [String: [Int]] = [:]
        var tensors: [String: Tensor] = [:]
        for t in model.tensors { shapes[t.name] = t.shape; tensors[t.name] = t }
        self.shapes = shapes
        self.origin = model.path
        let byName = tensors
        self.fetch = { name in
            if let values = try substitute?(name) { return values }
            guard let t = byName[name] else { return nil }
            var out = [Float](repeating: 0, count: t.parameters)
            try out.withUnsafeMutableBufferPointer { try t.decode(0..<t.parameters, into: $0) }
            return out
        }
    }

    /// Weights held in memory (tests, and callers that already decoded everything).
    public init(arrays: [String: EvalArray], origin: String = "in-memory weights") {
        self.shapes = arrays.mapValues(\.shape)
        self.origin = origin
        self.fetch = { arrays[$0]?.values }
    }

    public var names: [String] { shapes.keys.sorted() }
    public func contains(_ name: String) -> Bool { shapes[name] != nil }

    /// The named weight; its shape must equal `shape` when given (a dimension of -1 matches anything).
    public func array(_ name: String, shape expected: [Int]? = nil) throws -> EvalArray {
        guard let shape = shapes[name] else { throw EvaluationError("\(origin): no weight named '\(name)'") }
        if let expected, expected.count != shape.count || zip(expected, shape).contains(where: { $0 != -1 && $0 != $1 }) {
            throw EvaluationError("\(origin): weight '\(name)' has shape \(shape), the architecture needs \(expected)")
        }
        let values: [Float]
        do {
            guard let v = try fetch(name) else { throw EvaluationError("\(origin): no weight named '\(name)'") }
            values = v
        } catch let e as EvaluationError { throw e } catch {
            throw EvaluationError("\(origin): weight '\(name)': \(error)")
        }
        guard values.count == shape.reduce(1, *) else {
            throw EvaluationError("\(origin): weight '\(name)' has \(values.count) values for shape \(shape)")
        }
        return EvalArray(shape: shape, values: values)
    }
}
