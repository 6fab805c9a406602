/// Dequantizes ggml block types to Float, bit-exact with gguf-py's `gguf.quants.dequantize`.
public enum GGMLDequantizer {
    /// Types this decoder can turn into floats.
    public static func canDecode(_ type: GGMLType) -> Bool { false }

    public static func dequantize(_ raw: UnsafeRawBufferPointer, type: GGMLType, count: Int,
                                  into out: UnsafeMutableBufferPointer<Float>, path: String) throws {
        throw ModelError(path, "cannot decode \(type.name) yet")
    }
}
