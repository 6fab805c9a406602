/// How one tensor's elements are stored. Plain element types come from safetensors and NumPy; quantized
/// blocks come from GGUF (`.ggml`). GGUF's own plain types (F32, F16, BF16, F64, I8…I64) map to the plain
/// cases so every reader shares one decoder for them.
public enum DType: Hashable, Sendable, CustomStringConvertible {
    case float64, float32, float16, bfloat16, float8E4M3, float8E5M2
    case int8, uint8, int16, uint16, int32, uint32, int64, uint64, bool
    /// A block-quantized ggml type (Q4_0, Q6_K, IQ2_XS, …).
    case ggml(GGMLType)

    /// The name shown to users; safetensors spellings for plain types, ggml names for blocks.
    /// The name with its indefinite article as it is read aloud ("an I64", "an F32", "a BF16", "a U8"), for
    /// messages.
    public var withArticle: String {
        let name = description
        let vowelSound = name.first.map { "AEFHILMNORSX".contains($0) } ?? false
        return (vowelSound ? "an " : "a ") + name
    }

    public var description: String {
        switch self {
        case .float64: "F64"
        case .float32: "F32"
        case .float16: "F16"
        case .bfloat16: "BF16"
        case .float8E4M3: "F8_E4M3"
        case .float8E5M2: "F8_E5M2"
        case .int8: "I8"
        case .uint8: "U8"
        case .int16: "I16"
        case .uint16: "U16"
        case .int32: "I32"
        case .uint32: "U32"
        case .int64: "I64"
        case .uint64: "U64"
        case .bool: "BOOL"
        case .ggml(let t): t.name
        }
    }

    /// Floating tensors (and quantized blocks, which decode to floats) are analysed and compressed;
    /// integer and bool tensors are listed only.
    public var isFloating: Bool {
        switch self {
        case .float64, .float32, .float16, .bfloat16, .float8E4M3, .float8E5M2, .ggml: true
        default: false
        }
    }

    /// Elements per storage block: 1 for plain types.
    public var blockSize: Int {
        if case .ggml(let t) = self { return t.blockSize }
        return 1
    }

    /// Bytes per storage block: the element size for plain types.
    public var blockBytes: Int {
        switch self {
        case .float64, .int64, .uint64: 8
        case .float32, .int32, .uint32: 4
        case .float16, .bfloat16, .int16, .uint16: 2
        case .float8E4M3, .float8E5M2, .int8, .uint8, .bool: 1
        case .ggml(let t): t.typeSize
        }
    }

    /// Bytes needed for `count` elements, or nil on overflow or a count that is not a whole number of blocks.
    public func byteCount(elements count: Int) -> Int? {
        guard count >= 0, count % blockSize == 0 else { return nil }
        let (bytes, overflow) = (count / blockSize).multipliedReportingOverflow(by: blockBytes)
        return overflow ? nil : bytes
    }

    /// Every dtype safetensors can store, as its header spells them (`description`); the one list the
    /// safetensors reader and writer share.
    public static let safetensorsTypes: [DType] = [
        .float64, .float32, .float16, .bfloat16, .float8E4M3, .float8E5M2,
        .int8, .uint8, .int16, .uint16, .int32, .uint32, .int64, .uint64, .bool,
    ]

    /// The plain dtype of a safetensors header spelling, or nil if safetensors has no such dtype.
    public init?(safetensorsName name: String) {
        guard let t = Self.safetensorsTypes.first(where: { $0.description == name }) else { return nil }
        self = t
    }

    /// The safetensors header spelling, or nil for a dtype safetensors cannot store (ggml blocks).
    public var safetensorsName: String? {
        Self.safetensorsTypes.contains(self) ? description : nil
    }

    /// The ggml type storing this dtype in GGUF, or nil for one GGUF has no type for (unsigned, bool, FP8).
    public var ggmlType: GGMLType? {
        switch self {
        case .float32: .f32
        case .float16: .f16
        case .bfloat16: GGMLType(id: 30)
        case .float64: GGMLType(id: 28)
        case .int8: GGMLType(id: 24)
        case .int16: GGMLType(id: 25)
        case .int32: GGMLType(id: 26)
        case .int64: GGMLType(id: 27)
        case .ggml(let t): t
        default: nil
        }
    }

    /// A ggml type as a dtype: ggml's plain types become the shared plain cases.
    public init(ggml t: GGMLType) {
        switch t.id {
        case 0: self = .float32
        case 1: self = .float16
        case 30: self = .bfloat16
        case 28: self = .float64
        case 24: self = .int8
        case 25: self = .int16
        case 26: self = .int32
        case 27: self = .int64
        default: self = .ggml(t)
        }
    }
}

public enum ByteOrder: Sendable, Equatable {
    case little, big

    /// This machine's byte order.
    public static let host: ByteOrder = 1.littleEndian == 1 ? .little : .big
}
