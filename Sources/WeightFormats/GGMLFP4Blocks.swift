/// The ggml 4-bit float block types MXFP4 (32 elements, a power-of-two E8M0 scale) and NVFP4 (64 elements,
/// four unsigned E4M3 scales, one per 16). Codes index `GGMLGrids.fp4`, the E2M1 values doubled, so both
/// scales are halved. Each function decodes `blocks` consecutive blocks with gguf-py's arithmetic: x = d · value.
enum FP4Blocks {
    /// 17 bytes: `u8 e` (E8M0 exponent), `u8 qs[16]`; element j is the low nibble of qs[j], element j+16 the high
    /// nibble. d = 2^(e − 128), built from bits as ggml's `ggml_e8m0_to_fp32_half` does (subnormal for e < 2).
    static func mxfp4(_ blocks: Int, _ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>) {
        GGMLGrids.fp4.withUnsafeBufferPointer { kv in
            for n in 0..<blocks {
                let b = src.assumingMemoryBound(to: UInt8.self) + n * 17, o = dst + n * 32
                let e = UInt32(b[0])
                let d = Float(bitPattern: e < 2 ? 0x0020_0000 << e : (e - 1) << 23)
                let qs = b + 1
                for j in 0..<16 {
                    o[j] = d * Float(kv[Int(qs[j] & 0x0F)])
                    o[j + 16] = d * Float(kv[Int(qs[j] >> 4)])
                }
            }
        }
    }

    /// 36 bytes, 64 elements: `u8 scales[4]` (unsigned E4M3, one per 16 elements), `u8 qs[32]`; sub-block s
    /// holds the low nibbles of qs[8s..<8s+8], then their high nibbles.
    static func nvfp4(_ blocks: Int, _ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>) {
        GGMLGrids.fp4.withUnsafeBufferPointer { kv in
            for n in 0..<blocks {
                let b = src.assumingMemoryBound(to: UInt8.self) + n * 36, o = dst + n * 64
                for s in 0..<4 {
                    let d = ue4m3Half(b[s])
                    let qs = b + 4 + 8 * s, out = o + 16 * s
                    for k in 0..<8 {
                        out[k] = d * Float(kv[Int(qs[k] & 0x0F)])
                        out[k + 8] = d * Float(kv[Int(qs[k] >> 4)])
                    }
                }
            }
        }
    }

    /// Half the value of an unsigned E4M3 scale byte (bias 7, subnormal when the exponent is 0), as gguf-py's
    /// `NVFP4.ue4m3_to_fp32`: bit 7 is ignored, 0x00 and 0x7F give 0. Every result is exact in Float.
    @inline(__always)
    static func ue4m3Half(_ x: UInt8) -> Float {
        if x == 0 || x == 0x7F { return 0 }
        let exp = Int((x >> 3) & 0x0F), man = Float(x & 7)
        let value = exp == 0 ? man * 0x1p-9 : (1 + man / 8) * Float(sign: .plus, exponent: exp - 7, significand: 1)
        return value * 0.5
    }
}
