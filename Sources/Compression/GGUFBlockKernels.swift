import CKernels
import WeightFormats

/// Fast Q8_0 and Q4_0 block quantizers over raw pointers, byte-identical to the reference ones in
/// `GGUFBlockQuantizer` (`q8_0Reference`, `q4_0Reference`), which take over for the rare blocks the fast path
/// does not cover (a NaN or an infinity, or a largest magnitude so small that `1/d` loses precision).
///
/// Why this shape: baseline x86-64 has SSE2 only, so Swift's generic SIMD float→int conversions call libm per
/// lane (`rounded(.towardZero)`); the loops below are written as plain scalar loops over 32 values, without
/// clamps the fast path makes unnecessary, so LLVM turns them into `mulps`/`cvttps2dq`/`packssdw` code.
/// The block's absmax is taken on the bit patterns (`|x|` of a finite float orders like its bits), 4 lanes
/// at a time, and `d` is converted to float16 without the `__truncsfhf2` library call.
extension GGUFBlockQuantizer {
    /// Largest magnitude that keeps the fast path exact: from here up, `d = amax/127` (or `amax/8`) is a
    /// normal float, `1/d` is within an ulp, so `|x·id| ≤ 127·(1+3ε)` (Q8_0) and `x·id + 8.5 ≥ 0.49` (Q4_0).
    private static let smallestFastMagnitude: UInt32 = 0x0D80_0000  // 2^-100

    /// The bit pattern of the largest `|x|` of a 32-value block (`Float(bitPattern:)` gives it back), or nil
    /// when the block needs the reference path.
    @inline(__always)
    private static func fastAbsMaxBits(_ x: UnsafePointer<Float>) -> UInt32? {
        let raw = UnsafeRawPointer(x)
        let magnitude = SIMD4<Int32>(repeating: 0x7FFF_FFFF)
        var m = SIMD4<Int32>(repeating: 0)
        for k in 0..<8 {
            let v = raw.loadUnaligned(fromByteOffset: k * 16, as: SIMD4<Int32>.self) & magnitude
            m = m.replacing(with: v, where: v .> m)
        }
        let best = UInt32(max(max(m[0], m[1]), max(m[2], m[3])))
        // NaN and infinity are ≥ 0x7F800000; 0 is exact on the fast path (id = 0, every code 0).
        guard best < 0x7F80_0000, best == 0 || best >= smallestFastMagnitude else { return nil }
        return best
    }

    /// `Float16(v).bitPattern` (round to nearest even) without a library call for the normal float16 range,
    /// where it is a shift and a rounding increment; other values go through `Float16`.
    @inline(__always)
    static func halfBits(_ v: Float) -> UInt16 {
        let a = v.bitPattern & 0x7FFF_FFFF
        guard a >= 0x3880_0000 && a < 0x4780_0000 else { return Float16(v).bitPattern }
        let rest = a & 0x1FFF
        var h = (a - 0x3800_0000) >> 13
        h += (rest > 0x1000 || (rest == 0x1000 && h & 1 == 1)) ? 1 : 0  // a carry into the exponent is right
        return UInt16(truncatingIfNeeded: (v.bitPattern >> 16) & 0x8000) | UInt16(truncatingIfNeeded: h)
    }

    /// Whether `q8_0Blocks`/`q4_0Blocks` run the AVX2 + F16C kernels of gguf_blocks_avx2.c (the same bytes;
    /// `WEIGHTLAB_KERNELS=portable` forces the Swift loops below).
    static let vectorBlocks = KernelDispatch.avx2 && DecodeKernels.cpuHasAVX2F16C

    /// Runs `kernel` (a C kernel that stops at the first block its fast path does not cover) over `count`
    /// blocks, handing each such block to `reference`.
    @inline(__always)
    private static func withKernel(_ x: UnsafePointer<Float>, _ o: UnsafeMutableRawPointer, count: Int, typeSize: Int,
                                   _ kernel: (UnsafePointer<Float>, UnsafeMutablePointer<UInt8>, Int) -> Int,
                                   reference: (UnsafePointer<Float>, UnsafeMutableRawPointer) -> Void) {
        var b = 0
        while b < count {
            b += kernel(x + b * 32, (o + b * typeSize).assumingMemoryBound(to: UInt8.self), count - b)
            if b < count {
                reference(x + b * 32, o + b * typeSize)
                b += 1
            }
        }
    }

    /// Q8_0 blocks: `count` blocks of 32 values from `x` into `count` × 34 bytes at `o`.
    static func q8_0Blocks(_ x: UnsafePointer<Float>, _ o: UnsafeMutableRawPointer, count: Int, vector: Bool = vectorBlocks) {
        if vector {
            return withKernel(x, o, count: count, typeSize: 34, { wl_q8_0_blocks_avx2($0, $1, $2) }) { xb, ob in
                q8_0Reference(UnsafeBufferPointer(start: xb, count: 32), UnsafeMutableRawBufferPointer(start: ob, count: 34))
            }
        }
        for b in 0..<count {
            let xb = x + b * 32, ob = o + b * 34
            guard let bits = fastAbsMaxBits(xb) else {
                q8_0Reference(UnsafeBufferPointer(start: xb, count: 32), UnsafeMutableRawBufferPointer(start: ob, count: 34))
                continue
            }
            let d = Float(bitPattern: bits) / 127
            let id: Float = d == 0 ? 0 : 1 / d
            ob.storeBytes(of: halfBits(d).littleEndian, as: UInt16.self)
            let q = (ob + 2).assumingMemoryBound(to: Int8.self)
            for j in 0..<32 {
                // roundf: t = trunc(v), r = v − t is exact, trunc(2r) is ±1 exactly when |r| ≥ 0.5.
                let v = xb[j] * id
                let t = Int32(v)
                let r = v - Float(t)
                q[j] = Int8(truncatingIfNeeded: t &+ Int32(r + r))
            }
        }
    }

    /// Q4_0 blocks: `count` blocks of 32 values from `x` into `count` × 18 bytes at `o`.
    static func q4_0Blocks(_ x: UnsafePointer<Float>, _ o: UnsafeMutableRawPointer, count: Int, vector: Bool = vectorBlocks) {
        if vector {
            return withKernel(x, o, count: count, typeSize: 18, { wl_q4_0_blocks_avx2($0, $1, $2) }) { xb, ob in
                q4_0Reference(UnsafeBufferPointer(start: xb, count: 32), UnsafeMutableRawBufferPointer(start: ob, count: 18))
            }
        }
        for b in 0..<count {
            let xb = x + b * 32, ob = o + b * 18
            guard let bits = fastAbsMaxBits(xb) else {
                q4_0Reference(UnsafeBufferPointer(start: xb, count: 32), UnsafeMutableRawBufferPointer(start: ob, count: 18))
                continue
            }
            // The signed value of largest magnitude, the first on ties (+x and −x, or +0 and −0).
            var best: Float = 0
            for j in 0..<32 where xb[j].bitPattern & 0x7FFF_FFFF == bits { best = xb[j]; break }
            let d = best / -8
            let id: Float = d == 0 ? 0 : 1 / d
            ob.storeBytes(of: halfBits(d).littleEndian, as: UInt16.self)
            let q = (ob + 2).assumingMemoryBound(to: UInt8.self)
            for j in 0..<16 {
                let a = Int32(xb[j] * id + 8.5), c = Int32(xb[j + 16] * id + 8.5)
                q[j] = UInt8(truncatingIfNeeded: (a < 15 ? a : 15) | (c < 15 ? c : 15) << 4)
            }
        }
    }
}
