/// The 256-element ggml K-quant super-blocks: Q2_K, Q3_K, Q4_K, Q5_K, Q6_K. Each function decodes one block
/// from `b` into `o[0..<256]` with gguf-py's arithmetic: the sub-block scale `d · sc` (and `dmin · m`) is one
/// Float product, then each element is `scale · q` (minus the min product). Inner loops run over one sub-block
/// with a fixed shift so they vectorise.
enum KQuantBlocks {
    /// `u8 scales[16]` (low nibble scale, high nibble min), `u8 qs[64]` (2-bit), `f16 d`, `f16 dmin`.
    static func q2_K(_ b: UnsafeRawPointer, _ o: UnsafeMutablePointer<Float>) {
        let scales = b.assumingMemoryBound(to: UInt8.self)
        let qs = scales + 16
        let d = loadHalf(b, 80)
        let dmin = loadHalf(b, 82)
        for s in 0..<16 {
            let dl = d * Float(scales[s] & 0x0F)
            let ml = dmin * Float(scales[s] >> 4)
            let q = qs + (s >> 3) * 32 + (s & 1) * 16
            let shift = UInt8(2 * ((s >> 1) & 3))
            let out = o + s * 16
            for k in 0..<16 {
                out[k] = dl * Float((q[k] >> shift) & 3) - ml
            }
        }
    }

    /// `u8 hmask[32]`, `u8 qs[64]` (low 2 bits), `u8 scales[12]` (16 packed 6-bit scales, offset 32), `f16 d`.
    /// q = low2 − 4 when the hmask bit is clear, low2 when it is set.
    static func q3_K(_ b: UnsafeRawPointer, _ o: UnsafeMutablePointer<Float>) {
        let hmask = b.assumingMemoryBound(to: UInt8.self)
        let qs = hmask + 32
        let sc = hmask + 96
        let d = loadHalf(b, 108)
        for s in 0..<16 {
            let low = (sc[s & 7] >> UInt8(4 * (s >> 3))) & 0x0F
            let high = (sc[8 + (s & 3)] >> UInt8(2 * (s >> 2))) & 0x03
            let dl = d * Float(Int32(low | (high << 4)) - 32)
            let l0 = (s & 1) * 16
            let q = qs + (s >> 3) * 32 + l0
            let shift = UInt8(2 * ((s >> 1) & 3))
            let hbit = UInt8(s >> 1)
            let h = hmask + l0
            let out = o + s * 16
            for k in 0..<16 {
                let lo = Int32((q[k] >> shift) & 3)
                let sub = Int32(((h[k] >> hbit) & 1) ^ 1) << 2
                out[k] = dl * Float(lo - sub)
            }
        }
    }

    /// The 8 scale/min pairs of Q4_K and Q5_K, 6 bits each, packed in 12 bytes.
    @inline(__always)
    static func scaleMin(_ s: UnsafePointer<UInt8>, _ j: Int) -> (scale: UInt8, min: UInt8) {
        if j < 4 { return (s[j] & 0x3F, s[j + 4] & 0x3F) }
        return ((s[j + 4] & 0x0F) | ((s[j - 4] >> 2) & 0x30), (s[j + 4] >> 4) | ((s[j] >> 2) & 0x30))
    }

    /// `f16 d`, `f16 dmin`, `u8 scales[12]`, `u8 qs[128]` (4-bit): x = (d · sc) · q − dmin · m per 32 elements.
    static func q4_K(_ b: UnsafeRawPointer, _ o: UnsafeMutablePointer<Float>) {
        let d = loadHalf(b, 0)
        let dmin = loadHalf(b, 2)
        let scales = (b + 4).assumingMemoryBound(to: UInt8.self)
        let qs = scales + 12
        for s in 0..<8 {
            let (sc, m) = scaleMin(scales, s)
            let dl = d * Float(sc)
            let ml = dmin * Float(m)
            let q = qs + (s >> 1) * 32
            let shift = UInt8(4 * (s & 1))
            let out = o + s * 32
            for l in 0..<32 {
                out[l] = dl * Float((q[l] >> shift) & 0x0F) - ml
            }
        }
    }

    /// As Q4_K plus `u8 qh[32]` before qs: bit s of qh[l] is the fifth bit of element l of sub-block s.
    static func q5_K(_ b: UnsafeRawPointer, _ o: UnsafeMutablePointer<Float>) {
        let d = loadHalf(b, 0)
        let dmin = loadHalf(b, 2)
        let scales = (b + 4).assumingMemoryBound(to: UInt8.self)
        let qh = scales + 12
        let qs = qh + 32
        for s in 0..<8 {
            let (sc, m) = scaleMin(scales, s)
            let dl = d * Float(sc)
            let ml = dmin * Float(m)
            let q = qs + (s >> 1) * 32
            let shift = UInt8(4 * (s & 1))
            let hshift = UInt8(s)
            let out = o + s * 32
            for l in 0..<32 {
                let v = ((q[l] >> shift) & 0x0F) | (((qh[l] >> hshift) & 1) << 4)
                out[l] = dl * Float(v) - ml
            }
        }
    }

    /// `u8 ql[128]` (low 4 bits), `u8 qh[64]` (high 2 bits), `i8 scales[16]`, `f16 d`: x = (d · sc) · (q − 32).
    static func q6_K(_ b: UnsafeRawPointer, _ o: UnsafeMutablePointer<Float>) {
        let ql = b.assumingMemoryBound(to: UInt8.self)
        let qh = ql + 128
        let scales = (b + 192).assumingMemoryBound(to: Int8.self)
        let d = loadHalf(b, 208)
        for s in 0..<16 {
            let dl = d * Float(scales[s])
            let half = s >> 3
            let lq = ql + half * 64 + (s & 3) * 16
            let lshift = UInt8(4 * ((s >> 2) & 1))
            let hq = qh + half * 32 + (s & 1) * 16
            let hshift = UInt8(2 * ((s >> 1) & 3))
            let out = o + s * 16
            for k in 0..<16 {
                let v = ((lq[k] >> lshift) & 0x0F) | (((hq[k] >> hshift) & 3) << 4)
                out[k] = dl * Float(Int32(v) - 32)
            }
        }
    }
}
