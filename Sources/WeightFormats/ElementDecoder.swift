import CKernels

/// Decodes stored elements into Float. Plain types are converted element by element (loops the optimiser
/// vectorises); ggml block types go to `GGMLDequantizer`.
public enum ElementDecoder {
    public static func decode(_ raw: UnsafeRawBufferPointer, dtype: DType, byteOrder: ByteOrder, count: Int,
                              into out: UnsafeMutableBufferPointer<Float>, path: String) throws {
        precondition(out.count >= count)
        let o = out.baseAddress!
        let swap = byteOrder == .big
        switch dtype {
        case .float32:
            if swap {
                for i in 0..<count { o[i] = Float(bitPattern: UInt32(bigEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
            } else {
                UnsafeMutableRawBufferPointer(rebasing: UnsafeMutableRawBufferPointer(out)[0..<(4 * count)])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[0..<(4 * count)]))
            }
        case .float16:
            if !swap && DecodeKernels.enabled, count > 0 {
                wl_f16_to_f32_avx2(raw.baseAddress!.assumingMemoryBound(to: UInt16.self), o, count)
                return
            }
            // A table of all 65536 values: baseline x86-64 has no F16C, and the runtime's software
            // conversion per element is the slowest step of reading an F16 model.
            Float16Table.values.withUnsafeBufferPointer { t in
                for i in 0..<count {
                    let bits = raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)
                    o[i] = t[Int(swap ? bits.byteSwapped : bits)]
                }
            }
        case .bfloat16:
            // Two loops so that the common little-endian one has no branch inside and vectorises.
            if swap {
                for i in 0..<count {
                    o[i] = Float(bitPattern: UInt32(raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).byteSwapped) << 16)
                }
            } else {
                for i in 0..<count {
                    o[i] = Float(bitPattern: UInt32(raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16)
                }
            }
        case .float64:
            for i in 0..<count {
                let bits = raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)
                o[i] = Float(Double(bitPattern: swap ? bits.byteSwapped : bits))
            }
        case .float8E4M3:
            FP8Tables.e4m3.withUnsafeBufferPointer { t in
                for i in 0..<count { o[i] = t[Int(raw[i])] }
            }
        case .float8E5M2:
            FP8Tables.e5m2.withUnsafeBufferPointer { t in
                for i in 0..<count { o[i] = t[Int(raw[i])] }
            }
        case .int8:
            for i in 0..<count { o[i] = Float(Int8(bitPattern: raw[i])) }
        case .uint8:
            for i in 0..<count { o[i] = Float(raw[i]) }
        case .bool:
            for i in 0..<count { o[i] = raw[i] == 0 ? 0 : 1 }
        case .int16:
            for i in 0..<count {
                let v = raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)
                o[i] = Float(Int16(bitPattern: swap ? v.byteSwapped : v))
            }
        case .uint16:
            for i in 0..<count {
                let v = raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)
                o[i] = Float(swap ? v.byteSwapped : v)
            }
        case .int32:
            for i in 0..<count {
                let v = raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)
                o[i] = Float(Int32(bitPattern: swap ? v.byteSwapped : v))
            }
        case .uint32:
            for i in 0..<count {
                let v = raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)
                o[i] = Float(swap ? v.byteSwapped : v)
            }
        case .int64:
            for i in 0..<count {
                let v = raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)
                o[i] = Float(Int64(bitPattern: swap ? v.byteSwapped : v))
            }
        case .uint64:
            for i in 0..<count {
                let v = raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)
                o[i] = Float(swap ? v.byteSwapped : v)
            }
        case .ggml(let t):
            try GGMLDequantizer.dequantize(raw, type: t, count: count, into: out, path: path)
        }
    }
}

/// All 256 values of each FP8 format, built once from the bit layouts.
enum FP8Tables {
    /// E4M3FN: 1 sign, 4 exponent (bias 7), 3 mantissa; no infinities; S.1111.111 is NaN; max 448.
    static let e4m3: [Float] = (0..<256).map { b in
        let sign: Float = (b & 0x80) != 0 ? -1 : 1
        let e = (b >> 3) & 0xF, m = b & 0x7
        if e == 0xF && m == 0x7 { return .nan }
        if e == 0 { return sign * Float(m) * 0x1p-9 }
        return sign * (1 + Float(m) / 8) * Float(sign: .plus, exponent: e - 7, significand: 1)
    }
    /// E5M2: the upper byte of an IEEE half, so infinities and NaNs come out as IEEE says.
    static let e5m2: [Float] = (0..<256).map { b in Float(Float16(bitPattern: UInt16(b) << 8)) }
}

/// Every float16 bit pattern widened to Float (exact), indexed by the pattern.
enum Float16Table {
    static let values: [Float] = (0...UInt16.max).map { Float(Float16(bitPattern: $0)) }
}
