/// A storage a checkpoint's pickle refers to by persistent id `('storage', storage_type, key, location,
/// numel[, view_metadata])` (torch/serialization.py `persistent_id`): which record holds it and how many
/// elements of its type it declares. The reader checks the declared size against the record it names.
struct TorchStorageRef {
    let key: String
    let element: TorchElement
    let elementCount: Int

    /// Parses a persistent id. Errors are reasons (the caller names file and place).
    static func parse(_ pid: PickleValue) throws -> TorchStorageRef {
        guard case .tuple(let t, _) = pid, t.count == 5 || t.count == 6 else {
            throw TorchPickleError("persistent id is \(pid.kind), not a ('storage', type, key, location, size) tuple")
        }
        guard case .string("storage") = t[0] else { throw TorchPickleError("persistent id is not a storage") }
        let element: TorchElement
        switch t[1] {
        case .global(.storageType(let e)): element = e
        case .global(.dtype(let e)): element = e
        default: throw TorchPickleError("storage type is \(t[1].kind), not a torch storage type")
        }
        guard case .string(let key) = t[2], !key.isEmpty, key.count <= 256,
              !key.contains("/"), key != ".", key != ".." else {
            throw TorchPickleError("storage key is \(t[2].kind) or not a plain name")
        }
        guard case .int(let n) = t[4], n >= 0 else { throw TorchPickleError("storage '\(DisplayText.escaped(key))' has no valid size") }
        if t.count == 6 {
            guard case .none = t[5] else {
                throw TorchPickleError("storage '\(DisplayText.escaped(key))' is a view of another storage (view_metadata), which is not supported")
            }
        }
        return TorchStorageRef(key: key, element: element, elementCount: n)
    }
}

/// How a quantized tensor's integers map to real values (`_rebuild_qtensor`'s `quantizer_params`).
indirect enum TorchQuantization {
    case perTensor(scheme: String, scale: Double, zeroPoint: Int)
    /// `scales` and `zeroPoints` are 1-D tensors of `size[axis]` values.
    case perChannel(scheme: String, scales: TorchTensorRecord, zeroPoints: TorchTensorRecord, axis: Int)
}

/// A tensor as the pickle describes it: a view of a storage (element offset, sizes and strides in elements,
/// `_rebuild_tensor`'s `t.set_(storage, storage_offset, size, stride)`), plus what it was rebuilt as.
struct TorchTensorRecord {
    let storage: TorchStorageRef
    /// The element type: the storage's, or the explicit dtype of `_rebuild_tensor_v3`.
    let element: TorchElement
    let offset: Int
    let size: [Int]
    let stride: [Int]
    var quantization: TorchQuantization?
    var isParameter = false

    static let maxRank = 64

    init(storage: TorchStorageRef, element: TorchElement, offset: PickleValue, size: PickleValue,
         stride: PickleValue) throws {
        self.storage = storage
        self.element = element
        guard case .int(let o) = offset, o >= 0 else { throw TorchPickleError("tensor storage offset is \(offset.kind), not a non-negative integer") }
        self.offset = o
        self.size = try Self.ints(size, "size")
        self.stride = try Self.ints(stride, "stride")
        guard self.size.count == self.stride.count else {
            throw TorchPickleError("tensor has \(self.size.count) sizes but \(self.stride.count) strides")
        }
    }

    private static func ints(_ v: PickleValue, _ what: String) throws -> [Int] {
        let items: [PickleValue]
        switch v {
        case .tuple(let t, _): items = t
        case .list(let l): items = l.items
        default: throw TorchPickleError("tensor \(what) is \(v.kind), not a tuple")
        }
        guard items.count <= maxRank else { throw TorchPickleError("tensor \(what) has \(items.count) dimensions (at most \(maxRank))") }
        var out: [Int] = []
        for item in items {
            guard case .int(let i) = item, i >= 0 else { throw TorchPickleError("tensor \(what) holds \(item.kind), not a non-negative integer") }
            out.append(i)
        }
        return out
    }

    /// The tensor a rebuild call makes from its arguments, or an error saying what was wrong.
    static func rebuild(_ g: TorchGlobal, _ args: [PickleValue]) throws -> PickleValue {
        func storage(_ v: PickleValue) throws -> TorchStorageRef {
            guard case .storage(let s) = v else { throw TorchPickleError("\(g.qualifiedName) got \(v.kind) instead of a storage") }
            return s
        }
        func need(_ n: ClosedRange<Int>) throws {
            guard n.contains(args.count) else { throw TorchPickleError("\(g.qualifiedName) called with \(args.count) arguments") }
        }
        switch g {
        case .rebuildTensor, .rebuildTensorV2:
            try need(g.isV2 ? 6...7 : 4...4)
            let s = try storage(args[0])
            return .tensor(try TorchTensorRecord(storage: s, element: s.element, offset: args[1], size: args[2], stride: args[3]))
        case .rebuildTensorV3:
            try need(7...8)
            let s = try storage(args[0])
            guard case .global(.dtype(let e)) = args[6] else { throw TorchPickleError("\(g.qualifiedName) dtype is \(args[6].kind)") }
            return .tensor(try TorchTensorRecord(storage: s, element: e, offset: args[1], size: args[2], stride: args[3]))
        case .rebuildParameter, .rebuildParameterWithState:
            try need(g.isParameterWithState ? 4...4 : 3...3)
            guard case .tensor(var t) = args[0] else { throw TorchPickleError("\(g.qualifiedName) got \(args[0].kind) instead of a tensor") }
            t.isParameter = true
            return .tensor(t)
        case .rebuildQTensor:
            try need(7...7)
            let s = try storage(args[0])
            guard s.element.isQuantized else { throw TorchPickleError("quantized tensor on a \(s.element.name) storage") }
            var t = try TorchTensorRecord(storage: s, element: s.element, offset: args[1], size: args[2], stride: args[3])
            t.quantization = try quantization(args[4], size: t.size)
            return .tensor(t)
        default:
            throw TorchPickleError("\(g.qualifiedName) is not a tensor rebuild")
        }
    }

    /// `(per_tensor_affine, scale, zero_point)` or `(per_channel_affine, scales, zero_points, axis)`, checked
    /// as current torch does: the axis within the rank and one scale and zero point per slice along it.
    static func quantization(_ v: PickleValue, size: [Int]) throws -> TorchQuantization {
        guard case .tuple(let p, _) = v, let first = p.first, case .global(.qscheme(let scheme)) = first else {
            throw TorchPickleError("quantized tensor parameters are \(v.kind), not (qscheme, ...)")
        }
        if scheme.hasPrefix("per_tensor") {
            guard p.count == 3 else { throw TorchPickleError("\(scheme) needs (scheme, scale, zero_point)") }
            let scale: Double
            switch p[1] {
            case .float(let d): scale = d
            case .int(let i): scale = Double(i)
            default: throw TorchPickleError("\(scheme) scale is \(p[1].kind)")
            }
            guard case .int(let zp) = p[2] else { throw TorchPickleError("\(scheme) zero point is \(p[2].kind)") }
            guard scale.isFinite else { throw TorchPickleError("\(scheme) scale is not finite") }
            return .perTensor(scheme: scheme, scale: scale, zeroPoint: zp)
        }
        guard p.count == 4 else { throw TorchPickleError("\(scheme) needs (scheme, scales, zero_points, axis)") }
        guard case .tensor(let scales) = p[1], case .tensor(let zeroPoints) = p[2], case .int(let axis) = p[3] else {
            throw TorchPickleError("\(scheme) needs tensors of scales and zero points and an integer axis")
        }
        guard axis >= 0, axis < size.count else { throw TorchPickleError("\(scheme) axis \(axis) is outside the tensor's \(size.count) dimensions") }
        for (what, t) in [("scales", scales), ("zero points", zeroPoints)] {
            guard t.size == [size[axis]], t.quantization == nil else {
                throw TorchPickleError("\(scheme) has \(what) of shape \(t.size) for \(size[axis]) channels")
            }
        }
        return .perChannel(scheme: scheme, scales: scales, zeroPoints: zeroPoints, axis: axis)
    }
}

extension TorchGlobal {
    fileprivate var isV2: Bool { if case .rebuildTensorV2 = self { true } else { false } }
    fileprivate var isParameterWithState: Bool { if case .rebuildParameterWithState = self { true } else { false } }
}

/// Why a pickle was refused, in a few words; the reader adds the file and the member.
struct TorchPickleError: Error {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}
