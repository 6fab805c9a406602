/// Encodes Float values as the plain floating dtypes a writer stores (little-endian), the inverse of
/// `ElementDecoder` for them: F32 and F64 exactly, F16 with IEEE round-to-nearest-even (Swift's `Float16(x)`,
/// what numpy's `astype(float16)` does), BF16 with round-to-nearest-even on the upper 16 bits (NaN kept quiet),
/// as ggml, PyTorch and gguf-py round.
public enum ElementEncoder {
    /// The dtypes `encode` writes.
    public static func canEncode(_ dtype: DType) -> Bool {
        switch dtype {
        case .float32, .float16, .bfloat16, .float64: true
        default: false
        }
    }

    /// Writes `values` as `dtype` into `out` (`values.count × dtype.blockBytes` bytes).
    public static func encode(_ values: UnsafeBufferPointer<Float>, as dtype: DType, into out: UnsafeMutableRawBufferPointer) {
        let n = values.count
        precondition(out.count >= n * dtype.blockBytes && canEncode(dtype))
        switch dtype {
        case .float32:
            for i in 0..<n { out.storeBytes(of: values[i].bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self) }
        case .float16:
            for i in 0..<n { out.storeBytes(of: Float16(values[i]).bitPattern.littleEndian, toByteOffset: 2 * i, as: UInt16.self) }
        case .bfloat16:
            for i in 0..<n { out.storeBytes(of: bfloat16Bits(values[i]).littleEndian, toByteOffset: 2 * i, as: UInt16.self) }
        case .float64:
            for i in 0..<n { out.storeBytes(of: Double(values[i]).bitPattern.littleEndian, toByteOffset: 8 * i, as: UInt64.self) }
        default:
            preconditionFailure("\(dtype) is not encoded")
        }
    }

    /// `values` as `dtype` would store them, read back as Float: what a reader of the written file gets.
    public static func rounded(_ x: Float, to dtype: DType) -> Float {
        switch dtype {
        case .float16: Float(Float16(x))
        case .bfloat16: Float(bitPattern: UInt32(bfloat16Bits(x)) << 16)
        default: x
        }
    }

    /// The BF16 bit pattern of `x`: round to nearest even on the dropped 16 bits; NaN stays a quiet NaN.
    public static func bfloat16Bits(_ x: Float) -> UInt16 {
        let u = x.bitPattern
        if x.isNaN { return UInt16(truncatingIfNeeded: (u >> 16) | 64) }
        return UInt16(truncatingIfNeeded: (u &+ 0x7fff &+ ((u >> 16) & 1)) >> 16)
    }
}
