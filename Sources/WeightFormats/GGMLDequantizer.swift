import CKernels

/// Dequantizes ggml block types to Float, bit-exact with gguf-py's `gguf.quants.dequantize` (0.19.0): every
/// block type gguf-py can dequantize (legacy, K-quant, IQ, TQ and FP4 types). Q8_1, Q8_K and Q1_0 are listed
/// but not decoded: gguf-py has no reference for them.
///
/// Bit-exactness rules taken from gguf-py's arithmetic: f16 scales are widened to Float first; every product
/// and sum is a separate Float operation in the order gguf-py writes it (`d * q + m`, `(d * sc) * q - dmin * m`),
/// never fused and never reassociated. Swift does not contract `a * b + c` into an FMA, so writing the same
/// expression gives the same rounding.
public enum GGMLDequantizer {
    /// Types this decoder can turn into floats.
    public static func canDecode(_ type: GGMLType) -> Bool {
        switch type.id {
        case GGMLType.q8_0.id, GGMLType.q4_0.id, GGMLType.q4_1.id, GGMLType.q5_0.id, GGMLType.q5_1.id,
             GGMLType.q2_K.id, GGMLType.q3_K.id, GGMLType.q4_K.id, GGMLType.q5_K.id, GGMLType.q6_K.id,
             GGMLType.iq2_XXS.id, GGMLType.iq2_XS.id, GGMLType.iq2_S.id, GGMLType.iq3_XXS.id, GGMLType.iq3_S.id,
             GGMLType.iq1_S.id, GGMLType.iq1_M.id, GGMLType.iq4_NL.id, GGMLType.iq4_XS.id,
             GGMLType.tq1_0.id, GGMLType.tq2_0.id, GGMLType.mxfp4.id, GGMLType.nvfp4.id:
            return true
        default:
            return false
        }
    }

    /// Decodes `count` elements (a whole number of blocks) from `raw` into `out[0..<count]`.
    public static func dequantize(_ raw: UnsafeRawBufferPointer, type: GGMLType, count: Int,
                                  into out: UnsafeMutableBufferPointer<Float>, path: String) throws {
        guard canDecode(type) else { throw ModelError(path, "cannot decode \(type.name) yet") }
        guard count >= 0, count % type.blockSize == 0 else {
            throw ModelError(path, "\(count) elements is not a whole number of \(type.name) blocks of \(type.blockSize)")
        }
        let blocks = count / type.blockSize
        guard raw.count >= blocks * type.typeSize, out.count >= count else {
            throw ModelError(path, "\(type.name): \(blocks) blocks need \(blocks * type.typeSize) bytes, got \(raw.count)")
        }
        if blocks == 0 { return }
        let src = raw.baseAddress!
        let dst = out.baseAddress!
        switch type.id {
        case GGMLType.q8_0.id where DecodeKernels.enabled: wl_q8_0_decode_avx2(src.assumingMemoryBound(to: UInt8.self), dst, blocks)
        case GGMLType.q4_0.id where DecodeKernels.enabled: wl_q4_0_decode_avx2(src.assumingMemoryBound(to: UInt8.self), dst, blocks)
        case GGMLType.q8_0.id: forEachBlock(blocks, 34, 32, src, dst, LegacyBlocks.q8_0)
        case GGMLType.q4_0.id: forEachBlock(blocks, 18, 32, src, dst, LegacyBlocks.q4_0)
        case GGMLType.q4_1.id: forEachBlock(blocks, 20, 32, src, dst, LegacyBlocks.q4_1)
        case GGMLType.q5_0.id: forEachBlock(blocks, 22, 32, src, dst, LegacyBlocks.q5_0)
        case GGMLType.q5_1.id: forEachBlock(blocks, 24, 32, src, dst, LegacyBlocks.q5_1)
        case GGMLType.q2_K.id: forEachBlock(blocks, 84, 256, src, dst, KQuantBlocks.q2_K)
        case GGMLType.q3_K.id: forEachBlock(blocks, 110, 256, src, dst, KQuantBlocks.q3_K)
        case GGMLType.q4_K.id: forEachBlock(blocks, 144, 256, src, dst, KQuantBlocks.q4_K)
        case GGMLType.q5_K.id: forEachBlock(blocks, 176, 256, src, dst, KQuantBlocks.q5_K)
        case GGMLType.q6_K.id: forEachBlock(blocks, 210, 256, src, dst, KQuantBlocks.q6_K)
        case GGMLType.iq2_XXS.id: IQuantBlocks.iq2_XXS(blocks, src, dst)
        case GGMLType.iq2_XS.id: IQuantBlocks.iq2_XS(blocks, src, dst)
        case GGMLType.iq2_S.id: IQuantBlocks.iq2_S(blocks, src, dst)
        case GGMLType.iq3_XXS.id: IQuantBlocks.iq3_XXS(blocks, src, dst)
        case GGMLType.iq3_S.id: IQuantBlocks.iq3_S(blocks, src, dst)
        case GGMLType.iq1_S.id: IQuantBlocks.iq1_S(blocks, src, dst)
        case GGMLType.iq1_M.id: IQuantBlocks.iq1_M(blocks, src, dst)
        case GGMLType.iq4_NL.id: IQuantBlocks.iq4_NL(blocks, src, dst)
        case GGMLType.iq4_XS.id: IQuantBlocks.iq4_XS(blocks, src, dst)
        case GGMLType.tq1_0.id: forEachBlock(blocks, 54, 256, src, dst, TernaryBlocks.tq1_0)
        case GGMLType.tq2_0.id: forEachBlock(blocks, 66, 256, src, dst, TernaryBlocks.tq2_0)
        case GGMLType.mxfp4.id: FP4Blocks.mxfp4(blocks, src, dst)
        case GGMLType.nvfp4.id: FP4Blocks.nvfp4(blocks, src, dst)
        default: throw ModelError(path, "cannot decode \(type.name) yet")
        }
    }

    /// Runs `decode` over consecutive blocks; inlined per type so each block call is direct.
    @inline(__always)
    private static func forEachBlock(_ blocks: Int, _ typeSize: Int, _ blockSize: Int,
                                     _ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>,
                                     _ decode: (UnsafeRawPointer, UnsafeMutablePointer<Float>) -> Void) {
        for b in 0..<blocks {
            decode(src + b * typeSize, dst + b * blockSize)
        }
    }
}

/// A little-endian IEEE half at `offset`, widened exactly to Float (as numpy's `astype(np.float32)`).
@inline(__always)
func loadHalf(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
    Float(Float16(bitPattern: UInt16(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self))))
}
