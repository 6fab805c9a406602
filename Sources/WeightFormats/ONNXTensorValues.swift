/// ONNX elements in `raw_data` layout turned into a weightlab `Tensor`: plain types are the same bytes (read
/// in place); types weightlab has no dtype for are widened into memory here (FNUZ and E8M0 FP8 and FP4 to
/// F32, INT4/UINT4/INT2/UINT2 to I8/U8, complex to its real dtype with a trailing dimension of 2 for the
/// real and imaginary parts).
enum ONNXTensorValues {
    static func tensor(name: String, dataType t: Int64, shape: [Int], count: Int, raw: any ByteSource, path: String) throws -> Tensor {
        if let dtype = ONNXDataType.plainDType(t) {
            return try Tensor(name: name, dtype: dtype, shape: shape, data: raw)
        }
        switch t {
        case ONNXDataType.complex64:
            return try Tensor(name: name, dtype: .float32, shape: shape + [2], data: raw)
        case ONNXDataType.complex128:
            return try Tensor(name: name, dtype: .float64, shape: shape + [2], data: raw)
        case ONNXDataType.int4, ONNXDataType.uint4, ONNXDataType.int2, ONNXDataType.uint2:
            let bits = t == ONNXDataType.int4 || t == ONNXDataType.uint4 ? 4 : 2
            let signed = ONNXDataType.isSignedSubByte(t)
            let packed = try raw.bytes(at: 0, count: Int(raw.size))
            var out = [UInt8](repeating: 0, count: count)
            packed.withUnsafeBytes { p in
                for i in 0..<count { out[i] = UInt8(truncatingIfNeeded: ONNXDataType.subByteValue(p, index: i, bits: bits, signed: signed)) }
            }
            return try Tensor(name: name, dtype: signed ? .int8 : .uint8, shape: shape, data: MemorySource(out, path: path))
        case ONNXDataType.float4e2m1:
            let packed = try raw.bytes(at: 0, count: Int(raw.size))
            var out = [Float](repeating: 0, count: count)
            packed.withUnsafeBytes { p in
                for i in 0..<count { out[i] = ONNXDataType.float4Values[Int(ONNXDataType.subByteValue(p, index: i, bits: 4, signed: false))] }
            }
            return try Tensor(name: name, dtype: .float32, shape: shape, data: MemorySource(floats: out, path: path))
        case ONNXDataType.float8e4m3fnuz, ONNXDataType.float8e5m2fnuz, ONNXDataType.float8e8m0:
            let bytes = try raw.bytes(at: 0, count: count)
            let table = (0..<256).map { ONNXDataType.float8Value(UInt8($0), type: t)! }
            return try Tensor(name: name, dtype: .float32, shape: shape, data: MemorySource(floats: bytes.map { table[Int($0)] }, path: path))
        default:
            throw ModelError(path, "tensor '\(DisplayText.escaped(name))' has \(ONNXDataType.name(t)), which weightlab does not read")
        }
    }
}
