import WeightFormats

/// llama.cpp's `llama_ftype` numbering (gguf-py `LlamaFileType`), written as `general.file_type`: the ftype
/// named for the type that holds most of a model's weights. K-quant types map to their `_M` mix (what
/// llama-quantize calls `Q4_K` etc.).
public enum LlamaFileType {
    /// ggml type id → llama_ftype.
    static let byGGMLType: [UInt32: UInt32] = [
        0: 0, 1: 1, 2: 2, 3: 3, 8: 7, 6: 8, 7: 9, 30: 32,
        10: 10, 11: 12, 12: 15, 13: 17, 14: 18,
        16: 19, 17: 20, 18: 23, 19: 24, 20: 25, 21: 26, 22: 28, 23: 30, 29: 31, 34: 36, 35: 37,
    ]

    /// The ftype of `type`, or nil when llama.cpp has none for it.
    public static func of(_ type: GGMLType) -> UInt32? { byGGMLType[type.id] }

    /// The ftype of a set of tensors: the block-quantized type with the most elements, else the float type
    /// with the most elements (F32 for none).
    public static func dominant(_ tensors: [(type: GGMLType, elements: Int)]) -> UInt32 {
        var quantized: [GGMLType: Int] = [:], plain: [GGMLType: Int] = [:]
        for t in tensors where of(t.type) != nil {
            if t.type.blockSize > 1 { quantized[t.type, default: 0] += t.elements } else { plain[t.type, default: 0] += t.elements }
        }
        let pool = quantized.isEmpty ? plain : quantized
        // Ties go to the lower type id, so the answer does not depend on dictionary order.
        let best = pool.max { a, b in a.value != b.value ? a.value < b.value : a.key.id > b.key.id }
        return best.flatMap { of($0.key) } ?? 0
    }
}
