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

    /// `roundClamped(f, lo, hi) + 1.5·2²³` (exact), for callers that only want the level's bits.
    @inline(__always)
    private static func roundClampedBiased(_ f: V4, _ lo: V4, _ hi: V4) -> V4 {
        let a = lo.replacing(with: f, where: lo .< f)
        let c = hi.replacing(with: a, where: a .< hi)
        return c + V4(repeating: magic)
    }

    /// `make_qx_quants(16, nmax, x_j, L_j, 1, w_j)` for the 16 sub-blocks j of `x` (256 finite values), four
    /// sub-blocks per group of lanes: levels `L` (l + nmax; 0 for an all-zero sub-block) and the 16 scales.
    /// Weights are `qw` (256), or x².
    static func symmetric16(_ nmax: Int32, _ x: UnsafePointer<Float>, _ qw: UnsafePointer<Float>?,
                            _ L: UnsafeMutablePointer<Int8>, scales: UnsafeMutablePointer<Float>) {
        withUnsafeTemporaryAllocation(of: V4.self, capacity: 80) { buffer in
            let xt = buffer.baseAddress!, wt = xt + 16, wxt = wt + 16, best = wxt + 16, cur = best + 16
            let fmax = Float(nmax)
            let (lo, hi) = bounds(fmax)
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

    /// The low bytes of 16 lanes, stored as 16 bytes.
    @inline(__always)
    static func storeLowBytes(_ a: SIMD4<UInt32>, _ b: SIMD4<UInt32>, _ c: SIMD4<UInt32>, _ d: SIMD4<UInt32>,
                              _ p: UnsafeMutableRawPointer) {
        let v = SIMD16<UInt32>(lowHalf: SIMD8(lowHalf: a, highHalf: b), highHalf: SIMD8(lowHalf: c, highHalf: d))
        p.storeBytes(of: SIMD16<UInt8>(truncatingIfNeeded: v), as: SIMD16<UInt8>.self)
    }

    /// `clamp(nearest_int(f), lo, hi)` lane-wise with `nearest_int`'s own bit trick (exact for every f,
    /// wrapping as C does past 2²²), as a Float.
    @inline(__always)
    private static func nearestClampedExact(_ f: V4, _ lo: Int32, _ hi: Int32) -> V4 {
        let bits = unsafeBitCast(f + V4(repeating: magic), to: SIMD4<Int32>.self)
        var l = (bits & 0x7F_FFFF) &- 0x40_0000
        l = l.replacing(with: SIMD4(repeating: lo), where: l .< SIMD4(repeating: lo))
        l = l.replacing(with: SIMD4(repeating: hi), where: l .> SIMD4(repeating: hi))
        return V4(l)
    }

    /// Whether any lane is NaN or has |f| > 2²² (where `nearest_int` stops being round-half-even).
    @inline(__always)
    private static func outOfRoundingRange(_ f: V4) -> SIMDMask<SIMD4<Int32>> {
        let af = unsafeBitCast(unsafeBitCast(f, to: SIMD4<UInt32>.self) & 0x7FFF_FFFF, to: V4.self)
        return .!(af .<= V4(repeating: 4_194_304))
    }

    @inline(__always)
    private static func anyLane(_ m: SIMDMask<SIMD4<Int32>>) -> Bool {
        let bits = unsafeBitCast(m, to: SIMD2<UInt64>.self)
        return bits[0] | bits[1] != 0
    }

    /// Q3_K's final levels of one sub-block: `clamp(nearest_int(x/dl), -4, 3) + 4`, with `nearest_int`'s own
    /// bit trick lane-wise (so huge quotients wrap exactly as in C).
    @inline(__always)
    static func requantize16(_ x: UnsafePointer<Float>, _ dl: Float, _ L: UnsafeMutablePointer<Int8>, bounds: (V4, V4)) {
        let raw = UnsafeRawPointer(x)
        let dlv = V4(repeating: dl)
        let f0 = raw.loadUnaligned(fromByteOffset: 0, as: V4.self) / dlv
        let f1 = raw.loadUnaligned(fromByteOffset: 16, as: V4.self) / dlv
        let f2 = raw.loadUnaligned(fromByteOffset: 32, as: V4.self) / dlv
        let f3 = raw.loadUnaligned(fromByteOffset: 48, as: V4.self) / dlv
        let (lo, hi) = bounds
        let l0: V4, l1: V4, l2: V4, l3: V4
        // Each l is the level plus 1.5·2²³ (bits 0x4B400000 + level), stored as its low byte plus 4.
        let m = V4(repeating: magic)
        if anyLane(outOfRoundingRange(f0) .| outOfRoundingRange(f1) .| outOfRoundingRange(f2) .| outOfRoundingRange(f3)) {
            l0 = nearestClampedExact(f0, -4, 3) + m; l1 = nearestClampedExact(f1, -4, 3) + m
            l2 = nearestClampedExact(f2, -4, 3) + m; l3 = nearestClampedExact(f3, -4, 3) + m
        } else {
            l0 = roundClampedBiased(f0, lo, hi); l1 = roundClampedBiased(f1, lo, hi)
            l2 = roundClampedBiased(f2, lo, hi); l3 = roundClampedBiased(f3, lo, hi)
        }
        storeLowBytes(unsafeBitCast(l0, to: SIMD4<UInt32>.self) &+ 4, unsafeBitCast(l1, to: SIMD4<UInt32>.self) &+ 4,
                      unsafeBitCast(l2, to: SIMD4<UInt32>.self) &+ 4, unsafeBitCast(l3, to: SIMD4<UInt32>.self) &+ 4,
                      UnsafeMutableRawPointer(L))
    }

    /// Stores 16 levels (exact small integers as Floats) plus `offset` as bytes: a level l plus 1.5·2²³ has
    /// the bits 0x4B400000 + l, so its low byte is l's.
    @inline(__always)
    static func storeLevels(_ l0: V4, _ l1: V4, _ l2: V4, _ l3: V4, offset: UInt32, _ L: UnsafeMutablePointer<Int8>) {
        let m = V4(repeating: magic), o = SIMD4<UInt32>(repeating: offset)
        storeLowBytes(unsafeBitCast(l0 + m, to: SIMD4<UInt32>.self) &+ o, unsafeBitCast(l1 + m, to: SIMD4<UInt32>.self) &+ o,
                      unsafeBitCast(l2 + m, to: SIMD4<UInt32>.self) &+ o, unsafeBitCast(l3 + m, to: SIMD4<UInt32>.self) &+ o,
                      UnsafeMutableRawPointer(L))
    }

    /// `GGMLScaleSearch.signedAbsMax` for 16 values, lane-wise: the largest |x| (a NaN never wins the
    /// comparison, as in C), then the first value of that magnitude; nil when the group is all but zero.
    /// The sign is read from which of ±max occur; only when both occur is the first one searched for.
    @inline(__always)
    static func signedAbsMax16(_ x: UnsafePointer<Float>) -> Float? {
        let raw = UnsafeRawPointer(x)
        var acc = V4()
        for k in 0..<4 {
            let v = raw.loadUnaligned(fromByteOffset: 16 * k, as: V4.self)
            let ax = unsafeBitCast(unsafeBitCast(v, to: SIMD4<UInt32>.self) & 0x7FFF_FFFF, to: V4.self)
            acc = acc.replacing(with: ax, where: acc .< ax)
        }
        var amax = acc[0]
        for lane in 1..<4 where acc[lane] > amax { amax = acc[lane] }
        if amax < GGMLScaleSearch.groupMaxEps { return nil }
        let positive = V4(repeating: amax), negative = V4(repeating: -amax)
        var plus = SIMDMask<SIMD4<Int32>>(), minus = SIMDMask<SIMD4<Int32>>()
        for k in 0..<4 {
            let v = raw.loadUnaligned(fromByteOffset: 16 * k, as: V4.self)
            plus .|= v .== positive
            minus .|= v .== negative
        }
        if !anyLane(minus) { return amax }
        if !anyLane(plus) { return -amax }
        for i in 0..<16 where abs(x[i]) == amax { return x[i] }
        return nil  // not reached: amax is one of the magnitudes
    }

    /// The clamp bounds −nmax and nmax − 1 as vectors, opaque to the optimiser: with constant bounds LLVM
    /// keeps compare-and-blend instead of `maxps`/`minps` (measured: 42 vs 30 million instructions for Q6_K).
    @_optimize(none)
    static func bounds(_ nmax: Float) -> (V4, V4) {
        (V4(repeating: -nmax), V4(repeating: nmax - 1))
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

    /// `make_q3_quants(16, 4, x, L, true)` for one 16-value sub-block, any input: levels `L` (l + 4; all 0 for an
    /// all-zero sub-block) and the scale.
    ///
    /// Here the lanes run across the sub-block's values. C's coordinate descent visits the values in order and
    /// changes the sums only when it accepts a move, so until the first accepted move every value's candidate
    /// is computed from the same sums: the candidates of all remaining values are computed at once (four
    /// lanes at a time), the first value where C would accept a move (or where `nearest_int` would wrap,
    /// |f| > 2²²) is found, that one value is stepped exactly as C steps it (scalar), and the search resumes
    /// after it with the new sums. A pass without a move ends the search, as in C. The first levels use
    /// `nearest_int`'s own bit trick lane-wise, so every input (NaN, ±∞, huge) gives C's levels.
    /// `bounds` is `bounds(4)`, made once by the caller.
    @inline(__always)
    static func refined(_ x: UnsafePointer<Float>, _ L: UnsafeMutablePointer<Int8>, bounds: (V4, V4)) -> Float {
        guard let max = signedAbsMax16(x) else {
            for i in 0..<16 { L[i] = 0 }
            return 0
        }
        return withUnsafeTemporaryAllocation(of: V4.self, capacity: 24) { buffer in
            // pv, qv: each value's wx·l and w·l·l for its current level, the terms C subtracts from the sums.
            let xv = buffer.baseAddress!, wv = xv + 4, wxv = wv + 4, lv = wxv + 4, pv = lv + 4, qv = pv + 4
            let (lo, hi) = bounds
            let iscale = V4(repeating: -4 / max)
            return withUnsafeTemporaryAllocation(of: Float.self, capacity: 32) { sb in
                let a = sb.baseAddress!
                let raw = UnsafeRawPointer(x)
                var wraps = SIMDMask<SIMD4<Int32>>()
                for k in 0..<4 {
                    let v = raw.loadUnaligned(fromByteOffset: 16 * k, as: V4.self)
                    xv[k] = v
                    let f = iscale * v
                    wraps .|= outOfRoundingRange(f)
                    lv[k] = roundClamped(f, lo, hi)
                }
                if anyLane(wraps) {
                    for k in 0..<4 { lv[k] = nearestClampedExact(iscale * xv[k], -4, 3) }
                }
                for k in 0..<4 {
                    let v = xv[k], fl = lv[k]
                    let w = v * v
                    wv[k] = w; wxv[k] = w * v
                    // (wx·l, w·l·l) pairs, so that both sums advance with one two-lane add per value.
                    let p = wxv[k] * fl, q = w * fl * fl
                    pv[k] = p; qv[k] = q
                    let pairs = UnsafeMutableRawPointer(a) + 32 * k
                    pairs.storeBytes(of: V4(p[0], q[0], p[1], q[1]), as: V4.self)
                    pairs.storeBytes(of: V4(p[2], q[2], p[3], q[3]), toByteOffset: 16, as: V4.self)
                }
                var sumlx: Float = 0, suml2: Float = 0
                var sums = SIMD2<Float>()
                let pairs = UnsafeRawPointer(a)
                for i in 0..<16 { sums += pairs.load(fromByteOffset: 8 * i, as: SIMD2<Float>.self) }
                sumlx = sums[0]; suml2 = sums[1]
                let xs = UnsafeRawPointer(xv).assumingMemoryBound(to: Float.self)
                let ws = UnsafeRawPointer(wv).assumingMemoryBound(to: Float.self)
                let wxs = UnsafeRawPointer(wxv).assumingMemoryBound(to: Float.self)
                let ls = UnsafeMutableRawPointer(lv).assumingMemoryBound(to: Float.self)
                let ps = UnsafeMutableRawPointer(pv).assumingMemoryBound(to: Float.self)
                let qs = UnsafeMutableRawPointer(qv).assumingMemoryBound(to: Float.self)
                // Values after the last move of a pass were checked against the final sums and did not move;
                // in the next pass, until a move happens, they would be checked against the same sums and
                // levels again: the scan may stop after the previous pass's last move.
                var end = 16
                for _ in 0..<5 {
                    var changed = 0
                    var lastMove = -1
                    var start = 0
                    scan: while start < end {
                        // Sums fixed until the next event: candidates of values start..<16 at once.
                        let sumlxV = V4(repeating: sumlx), suml2V = V4(repeating: suml2)
                        let bestLeft = sumlxV * sumlxV
                        var k = start >> 2
                        var event = -1
                        while k < 4 {
                            // A superset of C's events is enough (the scalar step decides): the tests of
                            // slx > 0 and of the new sl2 > 0 are left to it.
                            let li = lv[k]
                            let slx = sumlxV - pv[k]
                            let sl2 = suml2V - qv[k]
                            let f = xv[k] * sl2 / slx
                            let newL = roundClamped(f, lo, hi)
                            let nslx = slx + wxv[k] * newL
                            let nsl2 = sl2 + wv[k] * newL * newL
                            var hit = (newL .!= li) .& (nslx * nslx * suml2V .> bestLeft * nsl2) .| outOfRoundingRange(f)
                            if k == start >> 2 {
                                hit .&= SIMD4<Int32>(0, 1, 2, 3) .>= SIMD4<Int32>(repeating: Int32(start & 3))
                            }
                            if anyLane(hit) {
                                var lane = 0
                                while !hit[lane] { lane += 1 }
                                event = 4 * k + lane
                                break
                            }
                            k += 1
                        }
                        if event < 0 { break scan }
                        // C's step for that one value.
                        let i = event
                        let li = ls[i]
                        var slx = sumlx - ps[i]
                        if slx > 0 {
                            var sl2 = suml2 - qs[i]
                            let newL = GGMLScaleSearch.clamp(GGMLScaleSearch.nearestInt(xs[i] * sl2 / slx), -4, 3)
                            let fl = Float(newL)
                            if fl != li {
                                let p = wxs[i] * fl, q = ws[i] * fl * fl
                                slx += p
                                sl2 += q
                                if sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2 {
                                    ls[i] = fl; ps[i] = p; qs[i] = q; sumlx = slx; suml2 = sl2
                                    changed += 1
                                    lastMove = i
                                    end = 16
                                }
                            }
                        }
                        start = i + 1
                    }
                    if changed == 0 { break }
                    end = lastMove + 1
                }
                storeLevels(lv[0], lv[1], lv[2], lv[3], offset: 4, L)
                return suml2 > 0 ? sumlx / suml2 : 0
            }
        }
    }

}
