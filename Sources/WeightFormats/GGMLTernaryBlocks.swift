/// The ggml ternary block types TQ1_0 and TQ2_0 (values −1, 0, 1 times one f16 scale per 256 elements). Each
/// function decodes one block from `b` into `o[0..<256]` with gguf-py's arithmetic: x = d · t.
enum TernaryBlocks {
    /// `u8 qs[48]`, `u8 qh[4]`, `f16 d`: five base-3 digits per byte, stored as a fixed-point fraction. Digit n
    /// of byte q is `((q · 3ⁿ mod 256) · 3) >> 8`, minus 1. Output order follows gguf-py: for qs[0..<32] all
    /// 32 first digits, then all second digits…; the same for qs[32..<48] (16 per digit) and qh (4 digits of 4).
    static func tq1_0(_ b: UnsafeRawPointer, _ o: UnsafeMutablePointer<Float>) {
        let q = b.assumingMemoryBound(to: UInt8.self)
        let d = loadHalf(b, 52)
        var pow3: UInt8 = 1
        for n in 0..<5 {
            digits(q, 32, pow3, d, o + n * 32)
            digits(q + 32, 16, pow3, d, o + 160 + n * 16)
            if n < 4 { digits(q + 48, 4, pow3, d, o + 240 + n * 4) }
            pow3 &*= 3
        }
    }

    /// One base-3 digit (selected by `pow3` = 3ⁿ) of `count` bytes, as d · (digit − 1).
    @inline(__always)
    private static func digits(_ q: UnsafePointer<UInt8>, _ count: Int, _ pow3: UInt8, _ d: Float,
                               _ out: UnsafeMutablePointer<Float>) {
        for k in 0..<count {
            let v = (UInt16(q[k] &* pow3) * 3) >> 8
            out[k] = d * Float(Int32(v) - 1)
        }
    }

    /// `u8 qs[64]`, `f16 d`: 2-bit codes; element 128j + 32l + k is bits 2l…2l+1 of qs[32j + k], minus 1.
    static func tq2_0(_ b: UnsafeRawPointer, _ o: UnsafeMutablePointer<Float>) {
        let qs = b.assumingMemoryBound(to: UInt8.self)
        let d = loadHalf(b, 64)
        for j in 0..<2 {
            for l in 0..<4 {
                let q = qs + 32 * j, out = o + 128 * j + 32 * l
                let shift = UInt8(2 * l)
                for k in 0..<32 {
                    out[k] = d * Float(Int32((q[k] >> shift) & 3) - 1)
                }
            }
        }
    }
}
