/// The element type of a PyTorch storage or dtype: a plain dtype weightlab decodes, or one of PyTorch's
/// quantized integer types (decoded through their scale and zero point).
struct TorchElement: Equatable {
    /// The name PyTorch gives it (`float32`, `qint8`).
    let name: String
    let byteSize: Int
    /// The stored dtype: for quantized types the integer they hold.
    let dtype: DType?
    let isQuantized: Bool

    static let table: [(storage: String, dtypeNames: [String], element: TorchElement)] = [
        ("DoubleStorage", ["float64", "double"], TorchElement(name: "float64", byteSize: 8, dtype: .float64, isQuantized: false)),
        ("FloatStorage", ["float32", "float"], TorchElement(name: "float32", byteSize: 4, dtype: .float32, isQuantized: false)),
        ("HalfStorage", ["float16", "half"], TorchElement(name: "float16", byteSize: 2, dtype: .float16, isQuantized: false)),
        ("BFloat16Storage", ["bfloat16"], TorchElement(name: "bfloat16", byteSize: 2, dtype: .bfloat16, isQuantized: false)),
        ("LongStorage", ["int64", "long"], TorchElement(name: "int64", byteSize: 8, dtype: .int64, isQuantized: false)),
        ("IntStorage", ["int32", "int"], TorchElement(name: "int32", byteSize: 4, dtype: .int32, isQuantized: false)),
        ("ShortStorage", ["int16", "short"], TorchElement(name: "int16", byteSize: 2, dtype: .int16, isQuantized: false)),
        ("CharStorage", ["int8"], TorchElement(name: "int8", byteSize: 1, dtype: .int8, isQuantized: false)),
        ("ByteStorage", ["uint8"], TorchElement(name: "uint8", byteSize: 1, dtype: .uint8, isQuantized: false)),
        ("BoolStorage", ["bool"], TorchElement(name: "bool", byteSize: 1, dtype: .bool, isQuantized: false)),
        ("QInt8Storage", ["qint8"], TorchElement(name: "qint8", byteSize: 1, dtype: .int8, isQuantized: true)),
        ("QUInt8Storage", ["quint8"], TorchElement(name: "quint8", byteSize: 1, dtype: .uint8, isQuantized: true)),
        ("QInt32Storage", ["qint32"], TorchElement(name: "qint32", byteSize: 4, dtype: .int32, isQuantized: true)),
        ("ComplexFloatStorage", ["complex64", "cfloat"], TorchElement(name: "complex64", byteSize: 8, dtype: nil, isQuantized: false)),
        ("ComplexDoubleStorage", ["complex128", "cdouble"], TorchElement(name: "complex128", byteSize: 16, dtype: nil, isQuantized: false)),
        ("UntypedStorage", [], TorchElement(name: "uint8", byteSize: 1, dtype: .uint8, isQuantized: false)),
        ("", ["float8_e4m3fn"], TorchElement(name: "float8_e4m3fn", byteSize: 1, dtype: .float8E4M3, isQuantized: false)),
        ("", ["float8_e5m2"], TorchElement(name: "float8_e5m2", byteSize: 1, dtype: .float8E5M2, isQuantized: false)),
        ("", ["uint16"], TorchElement(name: "uint16", byteSize: 2, dtype: .uint16, isQuantized: false)),
        ("", ["uint32"], TorchElement(name: "uint32", byteSize: 4, dtype: .uint32, isQuantized: false)),
        ("", ["uint64"], TorchElement(name: "uint64", byteSize: 8, dtype: .uint64, isQuantized: false)),
    ]

    static func storage(_ name: String) -> TorchElement? {
        table.first { !$0.storage.isEmpty && $0.storage == name }?.element
    }

    static func dtype(_ name: String) -> TorchElement? {
        table.first { $0.dtypeNames.contains(name) }?.element
    }
}

/// The globals a checkpoint may name, like `torch.load(weights_only=True)` allows
/// (torch/_weights_only_unpickler.py `_get_allowed_globals`): tensor and parameter rebuilds, ordered dicts,
/// storage types, dtypes, quantization schemes, `torch.Size`, `torch.device` and `_codecs.encode`.
/// TorchScript archives may also name their own `__torch__.…` classes and `torch.jit._pickle.build_intlist`,
/// which become inert objects and lists. Every other global is refused by name before anything else happens.
enum TorchGlobal {
    case orderedDict
    case rebuildTensor, rebuildTensorV2, rebuildTensorV3
    case rebuildParameter, rebuildParameterWithState
    case rebuildQTensor
    case storageType(TorchElement)
    case dtype(TorchElement)
    case qscheme(String)
    case size
    case device
    case codecsEncode
    case buildIntlist
    case scriptClass(String)

    var qualifiedName: String {
        switch self {
        case .orderedDict: "collections.OrderedDict"
        case .rebuildTensor: "torch._utils._rebuild_tensor"
        case .rebuildTensorV2: "torch._utils._rebuild_tensor_v2"
        case .rebuildTensorV3: "torch._utils._rebuild_tensor_v3"
        case .rebuildParameter: "torch._utils._rebuild_parameter"
        case .rebuildParameterWithState: "torch._utils._rebuild_parameter_with_state"
        case .rebuildQTensor: "torch._utils._rebuild_qtensor"
        case .storageType(let e): "torch." + (TorchElement.table.first { $0.element == e }?.storage ?? e.name)
        case .dtype(let e): "torch." + e.name
        case .qscheme(let s): "torch." + s
        case .size: "torch.Size"
        case .device: "torch.device"
        case .codecsEncode: "_codecs.encode"
        case .buildIntlist: "torch.jit._pickle.build_intlist"
        case .scriptClass(let name): name
        }
    }

    static let quantizationSchemes: Set<String> = [
        "per_tensor_affine", "per_tensor_symmetric", "per_channel_affine", "per_channel_symmetric",
        "per_channel_affine_float_qparams",
    ]

    /// The global `module.name` stands for, or nil when it is not allowed. `torchScript`: the pickle comes
    /// from a TorchScript archive, whose own classes are allowed as inert objects.
    static func resolve(module: String, name: String, torchScript: Bool) -> TorchGlobal? {
        switch (module, name) {
        case ("collections", "OrderedDict"): return .orderedDict
        case ("torch._utils", "_rebuild_tensor"): return .rebuildTensor
        case ("torch._utils", "_rebuild_tensor_v2"): return .rebuildTensorV2
        case ("torch._utils", "_rebuild_tensor_v3"): return .rebuildTensorV3
        case ("torch._utils", "_rebuild_parameter"): return .rebuildParameter
        case ("torch._utils", "_rebuild_parameter_with_state"): return .rebuildParameterWithState
        case ("torch._utils", "_rebuild_qtensor"): return .rebuildQTensor
        case ("torch", "Size"): return .size
        case ("torch", "device"): return .device
        case ("_codecs", "encode"): return .codecsEncode
        case ("torch.jit._pickle", "build_intlist") where torchScript: return .buildIntlist
        default: break
        }
        if module == "torch" {
            if let e = TorchElement.storage(name) { return .storageType(e) }
            if let e = TorchElement.dtype(name) { return .dtype(e) }
            if quantizationSchemes.contains(name) { return .qscheme(name) }
        }
        if torchScript, module == "__torch__" || module.hasPrefix("__torch__."), !name.isEmpty {
            return .scriptClass(module + "." + name)
        }
        return nil
    }
}
