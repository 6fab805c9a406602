import Foundation
import WeightFormats

/// The inputs of a task evaluation, from an `.npz`: one array per model input (named as the input) and an
/// optional `labels` array (integer class per sample). Every array's first axis is the sample axis.
public struct EvalData: Sendable {
    public var inputs: [String: EvalTensor]
    public var labels: [Int64]?
    /// Samples (the first axis, equal for every array).
    public var samples: Int

    public init(inputs: [String: EvalTensor], labels: [Int64]?) throws {
        self.inputs = inputs
        self.labels = labels
        let counts = Set(inputs.values.map { $0.shape.first ?? 1 } + (labels.map { [$0.count] } ?? []))
        guard counts.count <= 1 else {
            throw EvalError("the data's arrays disagree on the number of samples (first axis): \(counts.sorted())")
        }
        samples = counts.first ?? 0
    }

    /// Reads an `.npz` with the existing reader: floating arrays become Float32 tensors, integer arrays Int64.
    /// IDX image sets (a Fashion-MNIST directory or images file, `IDXData`) are read as their test split.
    public static func load(_ path: String) throws -> EvalData {
        if IDXData.handles(path) { return try IDXData.load(path) }
        let model = try NpzReader.open(path)
        var inputs: [String: EvalTensor] = [:]
        var labels: [Int64]? = nil
        for t in model.tensors {
            guard !t.shape.isEmpty else { throw EvalError("\(path): array '\(DisplayText.escaped(t.name))' is a scalar; every array needs a sample axis") }
            let tensor: EvalTensor
            if t.isFloating {
                var v = [Float](repeating: 0, count: t.parameters)
                try v.withUnsafeMutableBufferPointer { try t.decode(0..<t.parameters, into: $0) }
                tensor = EvalTensor(shape: t.shape, floats: v)
            } else {
                tensor = EvalTensor(shape: t.shape, int64: try integers(t, path))
            }
            if t.name == "labels" {
                guard case .int64(let v) = tensor.values, t.shape.count == 1 else {
                    throw EvalError("\(path): 'labels' must be a 1-D integer array (one class per sample), is \(t.dtype) \(t.shape)")
                }
                labels = v
            } else {
                inputs[t.name] = tensor
            }
        }
        do { return try EvalData(inputs: inputs, labels: labels) } catch let e as EvalError { throw EvalError("\(path): \(e.message)") }
    }

    /// An integer array's values, read from its little-endian row-major bytes.
    static func integers(_ t: Tensor, _ path: String) throws -> [Int64] {
        guard t.byteOrder == .little, !t.fortranOrder else {
            throw EvalError("\(path): array '\(DisplayText.escaped(t.name))' is big-endian or Fortran-ordered; save it row-major little-endian")
        }
        var bytes = [UInt8](repeating: 0, count: t.byteCount)
        try bytes.withUnsafeMutableBytes { try t.data.read(at: 0, into: $0) }
        return try bytes.withUnsafeBytes { b -> [Int64] in
            switch t.dtype {
            case .int64: return (0..<t.parameters).map { b.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self) }
            case .uint64: return (0..<t.parameters).map { Int64(truncatingIfNeeded: b.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self)) }
            case .int32: return (0..<t.parameters).map { Int64(b.loadUnaligned(fromByteOffset: $0 * 4, as: Int32.self)) }
            case .uint32: return (0..<t.parameters).map { Int64(b.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self)) }
            case .int16: return (0..<t.parameters).map { Int64(b.loadUnaligned(fromByteOffset: $0 * 2, as: Int16.self)) }
            case .uint16: return (0..<t.parameters).map { Int64(b.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self)) }
            case .int8: return (0..<t.parameters).map { Int64(Int8(bitPattern: b[$0])) }
            case .uint8, .bool: return (0..<t.parameters).map { Int64(b[$0]) }
            default: throw EvalError("\(path): array '\(DisplayText.escaped(t.name))' has dtype \(t.dtype), which cannot be fed to a model")
            }
        }
    }
}
