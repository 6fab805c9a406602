/// The 32-element ggml blocks: Q8_0, Q4_0, Q4_1, Q5_0, Q5_1. Each function decodes one block from `b` into
/// `o[0..<32]` with gguf-py's arithmetic (see `GGMLDequantizer`).
enum LegacyBlocks {
    /// `f16 d, i8 q[32]`: x = q · d.
    static func q8_0(_ b: UnsafeRawPointer, _ o: UnsafeMutablePointer<Float>) {
        let d = loadHalf(b, 0)
        let q = (b + 2).assumingMemoryBound(to: Int8.self)
        for j in 0..<32 { o[j] = Float(q[j]) * d }
    }

    /// `f16 d, u8 qs[16]`: element j is the low nibble of qs[j], element j+16 the high nibble; x = d · (q − 8).
    static func q4_0(_ b: UnsafeRawPointer, _ o: UnsafeMutablePointer<Float>) {
        let d = loadHalf(b, 0)
        let qs = (b + 2).assumingMemoryBound(to: UInt8.self)
        for j in 0..<16 {
            let v = qs[j]
            o[j] = d * Float(Int32(v & 0x0F) - 8)
            o[j + 16] = d * Float(Int32(v >> 4) - 8)
        }
    }

    /// `f16 d, f16 m, u8 qs[16]`: x = d · q + m.
    static func q4_1(_ b: UnsafeRawPointer, _ o: UnsafeMutablePointer<Float>) {
        let d = loadHalf(b, 0)
        let m = loadHalf(b, 2)
        let qs = (b + 4).assumingMemoryBound(to: UInt8.self)
        for j in 0..<16 {
            let v = qs[j]
            o[j] = d * Float(v & 0x0F) + m
            o[j + 16] = d * Float(v >> 4) + m
        }
    }

    /// `f16 d, u8 qh[4], u8 qs[16]`: bit j of the u32 qh is the fifth bit of element j; x = d · (q − 16).
    static func q5_0(_ b: UnsafeRawPointer, _ o: UnsafeMutablePointer<Float>) {
        let d = loadHalf(b, 0)
        let qh = UInt32(littleEndian: b.loadUnaligned(fromByteOffset: 2, as: UInt32.self))
        let qs = (b + 6).assumingMemoryBound(to: UInt8.self)
        for j in 0..<16 {
            let v = UInt32(qs[j])
            let lo = (v & 0x0F) | (((qh >> UInt32(j)) & 1) << 4)
            let hi = (v >> 4) | (((qh >> UInt32(j + 16)) & 1) << 4)
            o[j] = d * Float(Int32(lo) - 16)
            o[j + 16] = d * Float(Int32(hi) - 16)
        }
    }

    /// `f16 d, f16 m, u8 qh[4], u8 qs[16]`: x = d · q + m with 5-bit q.
    static func q5_1(_ b: UnsafeRawPointer, _ o: UnsafeMutablePointer<Float>) {
        let d = loadHalf(b, 0)
        let m = loadHalf(b, 2)
        let qh = UInt32(littleEndian: b.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
        let qs = (b + 8).assumingMemoryBound(to: UInt8.self)
        for j in 0..<16 {
            let v = UInt32(qs[j])
            let lo = (v & 0x0F) | (((qh >> UInt32(j)) & 1) << 4)
            let hi = (v >> 4) | (((qh >> UInt32(j + 16)) & 1) << 4)
            o[j] = d * Float(lo) + m
            o[j + 16] = d * Float(hi) + m
        }
    }
}
