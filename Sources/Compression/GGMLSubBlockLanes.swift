/// ggml's two symmetric searches over the sixteen 16-value sub-blocks of a 256-value super-block, run for
/// several sub-blocks at once, one sub-block per SIMD lane: `make_qx_quants(16, nmax, x, L, 1, qw)` (Q6_K,
/// and Q3_K with an importance matrix) and `make_q3_quants(16, 4, x, L, true)` (Q3_K's reference path).
///
/// Why lanes across sub-blocks: every sum in these searches runs over the 16 values of one sub-block, left
/// to right, and the coordinate descent of `make_q3_quants` is serial within a sub-block. With one sub-block
/// per lane, each lane performs exactly C's Float32 operations in C's order (the i-th value of every
/// sub-block is handled in the same step), unfused, so the bytes stay ggml's while four (SSE) lanes work at
/// once. Per-lane branches become masks: a lane accepts a trial or a coordinate move where C would.
///
/// Rounding: for |f| ≤ 2²² ggml's `nearest_int(f)` is round-half-even, and clamping that integer to
/// [lo, hi] equals round-half-even of f clamped to [lo, hi] (rounding is monotone and keeps integers), so
/// the levels are computed as Floats with a clamp, an add and a subtract of 1.5·2²³. Values outside that
/// range (where ggml's trick wraps) cannot occur in the first passes when the input is finite (|f| ≤ nmax+1);
/// the coordinate descent can produce them (a tiny positive `slx`), so it reports them and the caller runs
/// the scalar search for that super-block instead. Callers check that all 256 values are finite first.
enum GGMLSubBlockLanes {
    typealias V4 = SIMD4<Float>

    /// 1.5·2²³: adding and subtracting it rounds a Float of magnitude ≤ 2²² to an integer, half to even.
    private static let magic: Float = 12_582_912

    /// Whether all 256 values are finite: an exponent field of all ones plus one exponent step carries
    /// into the sign bit, anything smaller does not.
    @inline(__always)
    static func allFinite(_ x: UnsafePointer<Float>) -> Bool {
        var carry = SIMD4<UInt32>()
        let raw = UnsafeRawPointer(x)
        for k in 0..<64 {
            carry |= (raw.loadUnaligned(fromByteOffset: 16 * k, as: SIMD4<UInt32>.self) & 0x7F80_0000) &+ 0x0080_0000
        }
        return (carry & 0x8000_0000) == SIMD4<UInt32>()
    }

    /// Round half to even of f clamped to [lo, hi]. (Written for the concrete 4-lane type: through a generic
    /// `SIMD` parameter the comparisons compile to one branch per lane, and with 16 lanes the selects do not
    /// become `minps`/`maxps`; this form compiles to exactly those two.)
    @inline(__always)
    private static func roundClamped(_ f: V4, _ lo: V4, _ hi: V4) -> V4 {
        let a = lo.replacing(with: f, where: lo .< f)
        let c = hi.replacing(with: a, where: a .< hi)
        return (c + V4(repeating: magic)) - V4(repeating: magic)
    }

    /// `make_qx_quants(16, nmax, x_j, L_j, 1, w_j)` for the 16 sub-blocks j of `x` (256 finite values), four
    /// sub-blocks per group of lanes: levels `L` (l + nmax; 0 for an all-zero sub-block) and the 16 scales.
    /// Weights are `qw` (256), or x².
    static func symmetric16(_ nmax: Int32, _ x: UnsafePointer<Float>, _ qw: UnsafePointer<Float>?,
                            _ L: UnsafeMutablePointer<Int8>, scales: UnsafeMutablePointer<Float>) {
        withUnsafeTemporaryAllocation(of: V4.self, capacity: 80) { buffer in
            let xt = buffer.baseAddress!, wt = xt + 16, wxt = wt + 16, best = wxt + 16, cur = best + 16
            let fmax = Float(nmax)
            let (lo, hi) = bounds(nmax)
            for g in 0..<4 {
                // Lane k of xt[i] is value i of sub-block 4g + k.
                let base = x + 64 * g
                for i in 0..<16 {
                    let v = V4(base[i], base[16 + i], base[32 + i], base[48 + i])
                    let w: V4
                    if let qw {
                        let q = qw + 64 * g
                        w = V4(q[i], q[16 + i], q[32 + i], q[48 + i])
                    } else {
                        w = v * v
                    }
                    xt[i] = v; wt[i] = w; wxt[i] = w * v
                }
                var amax = V4(), max = V4()
                for i in 0..<16 {
                    let v = xt[i]
                    let ax = unsafeBitCast(unsafeBitCast(v, to: SIMD4<UInt32>.self) & 0x7FFF_FFFF, to: V4.self)
                    let bigger = ax .> amax
                    amax = amax.replacing(with: ax, where: bigger)
                    max = max.replacing(with: v, where: bigger)
                }
                let zero = amax .< V4(repeating: GGMLScaleSearch.groupMaxEps)
                max = max.replacing(with: V4(repeating: 1), where: zero)
                var iscale = V4(repeating: -fmax) / max
                var sumlx = V4(), suml2 = V4()
                for i in 0..<16 {
                    let l = roundClamped(iscale * xt[i], lo, hi)
                    best[i] = l
                    sumlx += wxt[i] * l
                    suml2 += wt[i] * l * l
                }
                var scale = (sumlx / suml2).replacing(with: V4(), where: suml2 .== V4())
                var bestError = scale * sumlx
                for step in -9...9 where step != 0 {
                    iscale = V4(repeating: -(fmax + 0.1 * Float(step))) / max
                    sumlx = V4(); suml2 = V4()
                    for i in 0..<16 {
                        let l = roundClamped(iscale * xt[i], lo, hi)
                        cur[i] = l
                        sumlx += wxt[i] * l
                        suml2 += wt[i] * l * l
                    }
                    let accept = (suml2 .> V4()) .& (sumlx * sumlx .> bestError * suml2)
                    if any(accept) {
                        for i in 0..<16 { best[i] = best[i].replacing(with: cur[i], where: accept) }
                        let s = sumlx / suml2
                        scale = scale.replacing(with: s, where: accept)
                        bestError = bestError.replacing(with: s * sumlx, where: accept)
                    }
                }
                scale = scale.replacing(with: V4(), where: zero)
                store(best, zero: zero, offset: nmax, group: g, L, scale, scales)
            }
        }
    }

    /// The clamp bounds −nmax and nmax − 1 as vectors, opaque to the optimiser: with constant bounds LLVM
    /// keeps compare-and-blend instead of `maxps`/`minps` (measured: 42 vs 30 million instructions for Q6_K).
    @_optimize(none)
    private static func bounds(_ nmax: Int32) -> (V4, V4) {
        (V4(repeating: -Float(nmax)), V4(repeating: Float(nmax) - 1))
    }

    /// Writes group g's levels (lane k of `levels[i]` is value i of sub-block 4g + k) as l + offset bytes,
    /// 0 for all-zero sub-blocks, and its four scales. A level l (|l| < 2²²) plus 1.5·2²³ has the bits
    /// 0x4B400000 + l, so its low byte is l's.
    @inline(__always)
    private static func store(_ levels: UnsafeMutablePointer<V4>, zero: SIMDMask<SIMD4<Int32>>, offset: Int32, group g: Int,
                              _ L: UnsafeMutablePointer<Int8>, _ scale: V4, _ scales: UnsafeMutablePointer<Float>) {
        let keep = SIMD4<UInt32>(repeating: 0xFF).replacing(with: 0, where: zero)
        let add = SIMD4<UInt32>(repeating: UInt32(truncatingIfNeeded: offset)).replacing(with: 0, where: zero)
        for i in 0..<16 {
            let bits = (unsafeBitCast(levels[i] + V4(repeating: magic), to: SIMD4<UInt32>.self) &+ add) & keep
            for k in 0..<4 { L[16 * (4 * g + k) + i] = Int8(truncatingIfNeeded: bits[k]) }
        }
        for k in 0..<4 { scales[4 * g + k] = scale[k] }
    }

    /// `make_q3_quants(16, 4, x_j, L_j, true)` for the 16 sub-blocks j of `x` (256 finite values), four
    /// sub-blocks per group of lanes: levels `L` (l + 4; 0 for an all-zero sub-block) and the 16 scales.
    /// False when a coordinate step met a value ggml's `nearest_int` wraps; then nothing is meaningful and the
    /// caller uses the scalar search.
    static func refined16(_ x: UnsafePointer<Float>, _ L: UnsafeMutablePointer<Int8>,
                          scales: UnsafeMutablePointer<Float>) -> Bool {
        withUnsafeTemporaryAllocation(of: V4.self, capacity: 64) { buffer in
            let xt = buffer.baseAddress!, wt = xt + 16, wxt = wt + 16, lt = wxt + 16
            let (lo, hi) = bounds(4), limit = V4(repeating: 4_194_304)
            for g in 0..<4 {
                let base = x + 64 * g
                for i in 0..<16 {
                    let v = V4(base[i], base[16 + i], base[32 + i], base[48 + i])
                    let w = v * v
                    xt[i] = v; wt[i] = w; wxt[i] = w * v
                }
                var amax = V4(), max = V4()
                for i in 0..<16 {
                    let v = xt[i]
                    let ax = unsafeBitCast(unsafeBitCast(v, to: SIMD4<UInt32>.self) & 0x7FFF_FFFF, to: V4.self)
                    let bigger = ax .> amax
                    amax = amax.replacing(with: ax, where: bigger)
                    max = max.replacing(with: v, where: bigger)
                }
                let zero = amax .< V4(repeating: GGMLScaleSearch.groupMaxEps)
                max = max.replacing(with: V4(repeating: 1), where: zero)
                let iscale = V4(repeating: -4) / max
                var sumlx = V4(), suml2 = V4()
                for i in 0..<16 {
                    let l = roundClamped(iscale * xt[i], lo, hi)
                    lt[i] = l
                    sumlx += wxt[i] * l
                    suml2 += wt[i] * l * l
                }
                var wrapped = SIMDMask<SIMD4<Int32>>()
                for _ in 0..<5 {
                    var changed = SIMDMask<SIMD4<Int32>>()
                    for i in 0..<16 {
                        let li = lt[i]
                        let slx = sumlx - wxt[i] * li
                        let positive = slx .> V4()
                        let sl2 = suml2 - wt[i] * li * li
                        let f = xt[i] * sl2 / slx
                        let af = unsafeBitCast(unsafeBitCast(f, to: SIMD4<UInt32>.self) & 0x7FFF_FFFF, to: V4.self)
                        wrapped .|= positive .& .!zero .& .!(af .<= limit)
                        let newL = roundClamped(f, lo, hi)
                        let nslx = slx + wxt[i] * newL
                        let nsl2 = sl2 + wt[i] * newL * newL
                        let accept = positive .& (newL .!= li) .& (nsl2 .> V4())
                            .& (nslx * nslx * suml2 .> sumlx * sumlx * nsl2)
                        lt[i] = li.replacing(with: newL, where: accept)
                        sumlx = sumlx.replacing(with: nslx, where: accept)
                        suml2 = suml2.replacing(with: nsl2, where: accept)
                        changed .|= accept
                    }
                    if !any(changed) { break }
                }
                if any(wrapped) { return false }
                let scale = (sumlx / suml2).replacing(with: V4(), where: .!(suml2 .> V4()) .| zero)
                store(lt, zero: zero, offset: 4, group: g, L, scale, scales)
            }
            return true
        }
    }
}
