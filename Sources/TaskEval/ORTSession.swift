import Foundation
import WeightFormats

/// One ONNX model loaded into ONNX Runtime (a `TaskRunner`). Single-threaded intra-op (the machine's cores
/// are shared with builds; small models gain nothing from threads). Inputs and outputs are float32 or int64
/// tensors; other element types are refused with the input's name.
public final class ORTSession: TaskRunner, @unchecked Sendable {
    public let library: ORTLibrary
    public let inputNames: [String]
    public let outputNames: [String]
    /// ONNX element type of each input (1 float, 7 int64, ...), in `inputNames` order.
    public let inputTypes: [Int32]
    /// Each input's declared shape (-1 for a symbolic dimension).
    public let inputShapes: [[Int64]]
    private let session: OpaquePointer
    private let label: String

    static let float: Int32 = 1, int64: Int32 = 7

    /// A session over a model file.
    public convenience init(library: ORTLibrary, path: String) throws {
        try self.init(library: library, label: path) { options, out in
            path.withCString { library.fn(.createSession, ORTLibrary.CreateSessionFn.self)(library.env, $0, options, out) }
        }
    }

    /// A session over model bytes in memory.
    public convenience init(library: ORTLibrary, bytes: [UInt8], label: String) throws {
        try self.init(library: library, label: label) { options, out in
            bytes.withUnsafeBytes {
                library.fn(.createSessionFromArray, ORTLibrary.CreateSessionFromArrayFn.self)(library.env, $0.baseAddress!, $0.count, options, out)
            }
        }
    }

    private init(library: ORTLibrary, label: String,
                 create: (OpaquePointer, UnsafeMutablePointer<OpaquePointer?>) -> ORTLibrary.Status) throws {
        self.library = library
        self.label = label
        var options: OpaquePointer? = nil
        try library.check(library.fn(.createSessionOptions, ORTLibrary.CreateSessionOptionsFn.self)(&options), "CreateSessionOptions")
        guard let options else { throw EvalError("onnxruntime: CreateSessionOptions returned nothing") }
        defer { library.fn(.releaseSessionOptions, ORTLibrary.ReleaseFn.self)(options) }
        try library.check(library.fn(.setIntraOpNumThreads, ORTLibrary.SetIntFn.self)(options, 1), "SetIntraOpNumThreads")
        var s: OpaquePointer? = nil
        try library.check(create(options, &s), "\(label)")
        guard let s else { throw EvalError("onnxruntime: \(label): no session") }
        session = s
        do {
            inputNames = try Self.names(library, s, input: true)
            outputNames = try Self.names(library, s, input: false)
            var types: [Int32] = [], shapes: [[Int64]] = []
            for i in inputNames.indices {
                let (t, shape) = try Self.typeInfo(library, s, index: i, name: inputNames[i])
                types.append(t)
                shapes.append(shape)
            }
            inputTypes = types
            inputShapes = shapes
        } catch {
            library.fn(.releaseSession, ORTLibrary.ReleaseFn.self)(s)
            throw error
        }
    }

    deinit { library.fn(.releaseSession, ORTLibrary.ReleaseFn.self)(session) }

    private static func names(_ lib: ORTLibrary, _ s: OpaquePointer, input: Bool) throws -> [String] {
        var n = 0
        try lib.check(lib.fn(input ? .sessionGetInputCount : .sessionGetOutputCount, ORTLibrary.CountFn.self)(s, &n), "input/output count")
        var out: [String] = []
        for i in 0..<n {
            var p: UnsafeMutablePointer<CChar>? = nil
            try lib.check(lib.fn(input ? .sessionGetInputName : .sessionGetOutputName, ORTLibrary.NameFn.self)(s, i, lib.allocator, &p), "name \(i)")
            guard let p else { throw EvalError("onnxruntime: input/output \(i) has no name") }
            out.append(String(cString: p))
            _ = lib.fn(.allocatorFree, ORTLibrary.AllocatorFreeFn.self)(lib.allocator, p)
        }
        return out
    }

    private static func typeInfo(_ lib: ORTLibrary, _ s: OpaquePointer, index: Int, name: String) throws -> (Int32, [Int64]) {
        var info: OpaquePointer? = nil
        try lib.check(lib.fn(.sessionGetInputTypeInfo, ORTLibrary.TypeInfoFn.self)(s, index, &info), "type of input '\(name)'")
        guard let info else { throw EvalError("onnxruntime: input '\(name)' has no type") }
        defer { lib.fn(.releaseTypeInfo, ORTLibrary.ReleaseFn.self)(info) }
        var kind: Int32 = 0
        try lib.check(lib.fn(.getOnnxTypeFromTypeInfo, ORTLibrary.GetInt32Fn.self)(info, &kind), "kind of input '\(name)'")
        guard kind == 1 else { throw EvalError("onnxruntime: input '\(DisplayText.escaped(name))' is not a tensor (ONNX type \(kind)); only tensor inputs can be fed") }
        var tensorInfo: OpaquePointer? = nil   // owned by `info`
        try lib.check(lib.fn(.castTypeInfoToTensorInfo, ORTLibrary.CastFn.self)(info, &tensorInfo), "tensor info of '\(name)'")
        guard let tensorInfo else { throw EvalError("onnxruntime: input '\(name)' has no tensor info") }
        return try shapeInfo(lib, tensorInfo, name)
    }

    private static func shapeInfo(_ lib: ORTLibrary, _ info: OpaquePointer, _ name: String) throws -> (Int32, [Int64]) {
        var type: Int32 = 0, rank = 0
        try lib.check(lib.fn(.getTensorElementType, ORTLibrary.GetInt32Fn.self)(info, &type), "element type of '\(name)'")
        try lib.check(lib.fn(.getDimensionsCount, ORTLibrary.CountFn.self)(info, &rank), "rank of '\(name)'")
        var dims = [Int64](repeating: 0, count: rank)
        if rank > 0 {
            try lib.check(lib.fn(.getDimensions, ORTLibrary.GetDimsFn.self)(info, &dims, rank), "dims of '\(name)'")
        }
        return (type, dims)
    }

    /// Runs the model. Every input of the model must be given; all outputs are returned.
    public func run(_ inputs: [String: EvalTensor]) throws -> [String: EvalTensor] {
        let lib = library
        var values: [OpaquePointer?] = []
        // The input buffers must outlive Run: ORT reads them in place.
        var floatBuffers: [UnsafeMutableBufferPointer<Float>] = [], intBuffers: [UnsafeMutableBufferPointer<Int64>] = []
        defer {
            for v in values { lib.fn(.releaseValue, ORTLibrary.ReleaseFn.self)(v) }
            floatBuffers.forEach { $0.deallocate() }
            intBuffers.forEach { $0.deallocate() }
        }
        for (i, name) in inputNames.enumerated() {
            guard let t = inputs[name] else {
                throw EvalError("\(label): the model's input '\(DisplayText.escaped(name))' is not in the data (have: \(inputs.keys.sorted().joined(separator: ", ")))")
            }
            let declared = inputShapes[i]
            guard declared.count == t.shape.count,
                  zip(declared, t.shape).allSatisfy({ $0 < 0 || $0 == Int64($1) }) else {
                throw EvalError("\(label): input '\(DisplayText.escaped(name))' has shape \(t.shape); the model expects \(declared.map { $0 < 0 ? "?" : String($0) })")
            }
            let shape = t.shape.map { Int64($0) }
            var value: OpaquePointer? = nil
            let create = lib.fn(.createTensorWithDataAsOrtValue, ORTLibrary.CreateTensorFn.self)
            switch inputTypes[i] {
            case Self.float:
                let b = UnsafeMutableBufferPointer<Float>.allocate(capacity: max(1, t.count))
                floatBuffers.append(b)
                _ = b.initialize(from: t.floats)
                try lib.check(create(lib.memoryInfo, b.baseAddress!, t.count * 4, shape, shape.count, Self.float, &value), "input '\(name)'")
            case Self.int64:
                guard case .int64(let v) = t.values else {
                    throw EvalError("\(label): input '\(DisplayText.escaped(name))' is int64 in the model; the data holds floats")
                }
                let b = UnsafeMutableBufferPointer<Int64>.allocate(capacity: max(1, t.count))
                intBuffers.append(b)
                _ = b.initialize(from: v)
                try lib.check(create(lib.memoryInfo, b.baseAddress!, t.count * 8, shape, shape.count, Self.int64, &value), "input '\(name)'")
            default:
                throw EvalError("\(label): input '\(DisplayText.escaped(name))' has ONNX element type \(inputTypes[i]); only float32 and int64 inputs are supported")
            }
            values.append(value)
        }
        var outputs = [OpaquePointer?](repeating: nil, count: outputNames.count)
        defer { for v in outputs { lib.fn(.releaseValue, ORTLibrary.ReleaseFn.self)(v) } }
        let inNames = inputNames.map { strdup($0) }, outNames = outputNames.map { strdup($0) }
        defer { (inNames + outNames).forEach { free($0) } }
        let inConst = inNames.map { UnsafePointer<CChar>($0) }, outConst = outNames.map { UnsafePointer<CChar>($0) }
        try lib.check(lib.fn(.run, ORTLibrary.RunFn.self)(session, nil, inConst, values, values.count, outConst, outConst.count, &outputs), "\(label): Run")
        var result: [String: EvalTensor] = [:]
        for (k, name) in outputNames.enumerated() {
            guard let v = outputs[k] else { throw EvalError("onnxruntime: \(label): output '\(name)' is missing") }
            var info: OpaquePointer? = nil
            try lib.check(lib.fn(.getTensorTypeAndShape, ORTLibrary.CastFn.self)(v, &info), "output '\(name)'")
            guard let info else { throw EvalError("onnxruntime: output '\(name)' has no shape") }
            defer { lib.fn(.releaseTensorTypeAndShapeInfo, ORTLibrary.ReleaseFn.self)(info) }
            let (type, dims) = try Self.shapeInfo(lib, info, name)
            let shape = dims.map { Int($0) }
            let n = shape.reduce(1, *)
            var data: UnsafeMutableRawPointer? = nil
            try lib.check(lib.fn(.getTensorMutableData, ORTLibrary.GetDataFn.self)(v, &data), "data of output '\(name)'")
            guard n == 0 || data != nil, dims.allSatisfy({ $0 >= 0 }) else {
                throw EvalError("onnxruntime: \(label): output '\(DisplayText.escaped(name))' has shape \(dims) and no data")
            }
            switch type {
            case Self.float:
                let p = data?.assumingMemoryBound(to: Float.self)
                result[name] = EvalTensor(shape: shape, floats: n == 0 ? [] : Array(UnsafeBufferPointer(start: p, count: n)))
            case Self.int64:
                let p = data?.assumingMemoryBound(to: Int64.self)
                result[name] = EvalTensor(shape: shape, int64: n == 0 ? [] : Array(UnsafeBufferPointer(start: p, count: n)))
            default:
                continue   // outputs of other types are not compared
            }
        }
        return result
    }
}

extension ORTLibrary {
    /// Checks the slot table on a model built here: Y = X·W with X = [1, 2], W = [[1, 2], [3, 4]] → [7, 10].
    /// A wrong slot or an incompatible library fails here, with the version, before any user model runs.
    public func selfTest() throws {
        typealias P = ProtobufEncoding
        let w: [Float] = [1, 2, 3, 4]
        let raw = w.withUnsafeBytes { Array($0) }
        func valueInfo(_ name: String, _ dims: [Int]) -> [UInt8] {
            let shape = dims.flatMap { P.field(1, P.field(1, int: Int64($0))) }
            return P.field(1, name) + P.field(2, P.field(1, P.field(1, int: 1) + P.field(2, shape)))
        }
        let node = P.field(1, "X") + P.field(1, "W") + P.field(2, "Y") + P.field(3, "matmul") + P.field(4, "MatMul")
        let initializer = P.field(1, P.varint(2) + P.varint(2)) + P.field(2, int: 1) + P.field(8, "W") + P.field(9, raw)
        let graph = P.field(1, node) + P.field(2, "selftest") + P.field(5, initializer)
            + P.field(11, valueInfo("X", [1, 2])) + P.field(12, valueInfo("Y", [1, 2]))
        let model = P.field(1, int: 7) + P.field(8, P.field(1, "") + P.field(2, int: 13)) + P.field(7, graph)
        do {
            let session = try ORTSession(library: self, bytes: model, label: "self-test model")
            let out = try session.run(["X": EvalTensor(shape: [1, 2], floats: [1, 2])])
            guard session.inputNames == ["X"], session.outputNames == ["Y"], out["Y"] == EvalTensor(shape: [1, 2], floats: [7, 10]) else {
                throw EvalError("self-test model gave \(String(describing: out["Y"])) for inputs \(session.inputNames), expected [7, 10]")
            }
        } catch let e as EvalError {
            throw EvalError("onnxruntime \(version) at \(path) failed its self-test: \(e.message)")
        }
    }
}
