/// ONNX's `TensorProto.DataType` numbers (onnx.proto3) and how weightlab holds each: the plain ones map to
/// a `DType` and are read in place; the ones weightlab has no dtype for (FNUZ FP8, E8M0, FP4, 4- and 2-bit
/// integers, complex) are widened into memory when the tensor is opened (they are rare and small).
enum ONNXDataType {
    static let float: Int64 = 1, uint8: Int64 = 2, int8: Int64 = 3, uint16: Int64 = 4, int16: Int64 = 5
    static let int32: Int64 = 6, int64: Int64 = 7, string: Int64 = 8, bool: Int64 = 9, float16: Int64 = 10
    static let double: Int64 = 11, uint32: Int64 = 12, uint64: Int64 = 13, complex64: Int64 = 14
    static let complex128: Int64 = 15, bfloat16: Int64 = 16, float8e4m3fn: Int64 = 17, float8e4m3fnuz: Int64 = 18
    static let float8e5m2: Int64 = 19, float8e5m2fnuz: Int64 = 20, uint4: Int64 = 21, int4: Int64 = 22
    static let float4e2m1: Int64 = 23, float8e8m0: Int64 = 24, uint2: Int64 = 25, int2: Int64 = 26

    static let names: [Int64: String] = [
        1: "FLOAT", 2: "UINT8", 3: "INT8", 4: "UINT16", 5: "INT16", 6: "INT32", 7: "INT64", 8: "STRING",
        9: "BOOL", 10: "FLOAT16", 11: "DOUBLE", 12: "UINT32", 13: "UINT64", 14: "COMPLEX64", 15: "COMPLEX128",
        16: "BFLOAT16", 17: "FLOAT8E4M3FN", 18: "FLOAT8E4M3FNUZ", 19: "FLOAT8E5M2", 20: "FLOAT8E5M2FNUZ",
        21: "UINT4", 22: "INT4", 23: "FLOAT4E2M1", 24: "FLOAT8E8M0", 25: "UINT2", 26: "INT2",
    ]

    static func name(_ t: Int64) -> String { names[t] ?? "data_type \(t)" }

    /// Bits one element takes in `raw_data` (complex counts both parts), or nil for STRING and unknown types.
    static func elementBits(_ t: Int64) -> Int? {
        switch t {
        case 1, 6, 12: 32
        case 2, 3, 9, 17, 18, 19, 20, 24: 8
        case 4, 5, 10, 16: 16
        case 7, 11, 13, 14: 64
        case 15: 128
        case 21, 22, 23: 4
        case 25, 26: 2
        default: nil
        }
    }

    /// Bytes `raw_data` holds for `count` elements (sub-byte types padded to a whole byte), nil on overflow.
    static func rawBytes(_ t: Int64, count: Int) -> Int? {
        guard let bits = elementBits(t) else { return nil }
        let (total, o) = count.multipliedReportingOverflow(by: bits)
        return o ? nil : (total + 7) / 8
    }

    /// The dtype a tensor of this type is read as in place (its raw bytes are exactly that dtype's bytes).
    static func plainDType(_ t: Int64) -> DType? {
        switch t {
        case 1: .float32
        case 2: .uint8
        case 3: .int8
        case 4: .uint16
        case 5: .int16
        case 6: .int32
        case 7: .int64
        case 9: .bool
        case 10: .float16
        case 11: .float64
        case 12: .uint32
        case 13: .uint64
        case 16: .bfloat16
        case 17: .float8E4M3
        case 19: .float8E5M2
        default: nil
        }
    }

    /// Whether values of this type are signed integers (for sub-byte unpacking).
    static func isSignedSubByte(_ t: Int64) -> Bool { t == int4 || t == int2 }

    /// Element `i` of a packed 4- or 2-bit array (first element in the least significant bits), as Int32.
    static func subByteValue(_ bytes: UnsafeRawBufferPointer, index i: Int, bits: Int, signed: Bool) -> Int32 {
        let per = 8 / bits
        let byte = bytes[i / per]
        let raw = Int32((byte >> UInt8((i % per) * bits)) & UInt8((1 << bits) - 1))
        return signed && raw >= (1 << (bits - 1)) ? raw - (1 << bits) : raw
    }

    /// The value of one 8-bit float pattern of the types weightlab has no dtype for (onnx numpy_helper /
    /// ml_dtypes semantics), or nil for a type this does not cover.
    static func float8Value(_ b: UInt8, type t: Int64) -> Float? {
        switch t {
        case float8e4m3fnuz:
            // 1 sign, 4 exponent (bias 8), 3 mantissa; 0x80 is the only NaN; no negative zero.
            if b == 0x80 { return .nan }
            let sign: Float = b & 0x80 != 0 ? -1 : 1
            let e = Int((b >> 3) & 0xF), m = Float(b & 7)
            return e == 0 ? sign * m * 0x1p-10 : sign * (1 + m / 8) * Float(sign: .plus, exponent: e - 8, significand: 1)
        case float8e5m2fnuz:
            // 1 sign, 5 exponent (bias 16), 2 mantissa; 0x80 is the only NaN.
            if b == 0x80 { return .nan }
            let sign: Float = b & 0x80 != 0 ? -1 : 1
            let e = Int((b >> 2) & 0x1F), m = Float(b & 3)
            return e == 0 ? sign * m * 0x1p-17 : sign * (1 + m / 4) * Float(sign: .plus, exponent: e - 16, significand: 1)
        case float8e8m0:
            // A power of two 2^(b-127); 0xFF is NaN.
            return b == 0xFF ? .nan : Float(sign: .plus, exponent: Int(b) - 127, significand: 1)
        default:
            return nil
        }
    }

    /// FLOAT4E2M1: 1 sign, 2 exponent (bias 1), 1 mantissa.
    static let float4Values: [Float] = (0..<16).map { v in
        let sign: Float = v & 8 != 0 ? -1 : 1
        let e = (v >> 1) & 3, m = Float(v & 1)
        return e == 0 ? sign * m * 0.5 : sign * (1 + m / 2) * Float(sign: .plus, exponent: e - 1, significand: 1)
    }
}
