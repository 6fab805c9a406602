/// ggml's scale searches for its K-quants and importance-weighted quantizers (`make_qx_quants`,
/// `make_qkx2_quants` / `make_qkx3_quants`, `make_qp_quants`, `best_index_int8` and
/// `nearest_int` of ggml-quants.c), written so that every Float32 operation happens in C's order: sums run
/// left to right from 0, products associate left to right (`w*x*l` is `(w*x)*l`), integers convert to Float
/// where C converts them, and nothing is fused into a multiply-add. That is what makes the bytes equal to
/// a build of ggml without FMA contraction (x86-64 baseline), which is how stock llama-quantize is built.
///
/// Pointers, not arrays: these run per 16 or 32 values inside the hottest loops, and the callers own
/// fixed scratch for them.
enum GGMLScaleSearch {
    /// ggml's `GROUP_MAX_EPS`: below this magnitude a group counts as all zero.
    static let groupMaxEps: Float = 1e-15

    /// ggml's `nearest_int`: adds 1.5·2²³ and reads the low mantissa bits, i.e. round half to even for
    /// |f| ≤ 2²². Outside that range (and for NaN) it returns the same wrapped value C does.
    @inline(__always)
    static func nearestInt(_ f: Float) -> Int32 {
        let v = f + 12_582_912
        return (Int32(bitPattern: v.bitPattern) & 0x7F_FFFF) - 0x40_0000
    }

    @inline(__always)
    static func clamp(_ v: Int32, _ lo: Int32, _ hi: Int32) -> Int32 { v < lo ? lo : (v > hi ? hi : v) }

    /// The value of largest magnitude (the first one on ties, as ggml's `max`/`amax` loop), or nil after
    /// zeroing `L` when the group is all but zero (`amax < GROUP_MAX_EPS`): the symmetric searches' shared start.
    @inline(__always)
    static func signedAbsMax(_ n: Int, _ x: UnsafePointer<Float>, zeroing L: UnsafeMutablePointer<Int8>) -> Float? {
        var max: Float = 0, amax: Float = 0
        for i in 0..<n {
            let ax = abs(x[i])
            if ax > amax { amax = ax; max = x[i] }
        }
        if amax < groupMaxEps {
            for i in 0..<n { L[i] = 0 }
            return nil
        }
        return max
    }

    /// `make_qx_quants(n, nmax, x, L, 1, qw)`: symmetric levels `L` in `0..<2·nmax` (stored as l + nmax) and the
    /// scale (sign folded in) minimizing the weighted error over 19 trial scales. Weights are `qw`, or x².
    static func symmetric(_ n: Int, _ nmax: Int32, _ x: UnsafePointer<Float>, _ L: UnsafeMutablePointer<Int8>,
                          _ qw: UnsafePointer<Float>?) -> Float {
        guard let max = signedAbsMax(n, x, zeroing: L) else { return 0 }
        return withUnsafeTemporaryAllocation(of: Float.self, capacity: n) { wb in
            let weights = wb.baseAddress!
            if let qw { for i in 0..<n { weights[i] = qw[i] } } else { for i in 0..<n { weights[i] = x[i] * x[i] } }
            return symmetric(n, nmax, x, L, weights: weights, max: max)
        }
    }

    /// The search of `symmetric` once the weights are known and the group is not all zero.
    ///
    /// Faster than the C loop it ports, with the same bytes: per trial scale the levels and the products
    /// `(w·x)·l` and `(w·l)·l` are computed in plain element-wise loops (LLVM vectorizes them; every lane
    /// does C's operations, in C's order, unfused), then summed left to right from 0 as C does. `w·x` does
    /// not depend on the trial, so it is computed once. A trial whose levels equal the last evaluated
    /// trial's has the same sums, so it is accepted with the same scale (no change) or rejected again: it is
    /// skipped.
    @inline(__always)
    private static func symmetric(_ n: Int, _ nmax: Int32, _ x: UnsafePointer<Float>, _ L: UnsafeMutablePointer<Int8>,
                                  weights: UnsafePointer<Float>, max: Float) -> Float {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 3 * n) { fb in
            withUnsafeTemporaryAllocation(of: Int32.self, capacity: 2 * n) { ib in
                let wx = fb.baseAddress!, a = wx + n, b = a + n
                let levels = ib.baseAddress!, previous = levels + n
                for i in 0..<n { wx[i] = weights[i] * x[i] }
                let fmax = Float(nmax)
                var iscale = Float(-nmax) / max
                for i in 0..<n { levels[i] = clamp(nearestInt(iscale * x[i]), -nmax, nmax - 1) }
                for i in 0..<n {
                    let fl = Float(levels[i])
                    a[i] = wx[i] * fl
                    b[i] = weights[i] * fl * fl
                }
                var sumlx: Float = 0, suml2: Float = 0
                for i in 0..<n { sumlx += a[i]; suml2 += b[i] }
                for i in 0..<n { L[i] = Int8(truncatingIfNeeded: levels[i] + nmax); previous[i] = levels[i] }
                var scale: Float = suml2 != 0 ? sumlx / suml2 : 0
                var best = scale * sumlx
                for step in -9...9 where step != 0 {
                    iscale = -(fmax + 0.1 * Float(step)) / max
                    var changed: Int32 = 0
                    for i in 0..<n {
                        let l = clamp(nearestInt(iscale * x[i]), -nmax, nmax - 1)
                        levels[i] = l
                        changed |= l ^ previous[i]
                    }
                    if changed == 0 { continue }
                    for i in 0..<n {
                        let fl = Float(levels[i])
                        a[i] = wx[i] * fl
                        b[i] = weights[i] * fl * fl
                        previous[i] = levels[i]
                    }
                    sumlx = 0; suml2 = 0
                    for i in 0..<n { sumlx += a[i]; suml2 += b[i] }
                    if suml2 > 0 && sumlx * sumlx > best * suml2 {
                        for i in 0..<n { L[i] = Int8(truncatingIfNeeded: nmax + levels[i]) }
                        scale = sumlx / suml2
                        best = scale * sumlx
                    }
                }
                return scale
            }
        }
    }

    /// `make_qkx2_quants` / `make_qkx3_quants`: levels `L` in `0...nmax` with a scale and a minimum (returned
    /// through `theMin` as −min ≥ 0), trying `nstep + 1` scales `(rmin + rdelta·is + nmax)/(max − min)` and
    /// keeping the lowest weighted error (absolute with `mad`, else squared). Every caller has weights (ggml's
    /// x² default of `make_qkx3_quants` is never used by the quantizers ported here).
    static func asymmetric(_ n: Int, _ nmax: Int32, _ x: UnsafePointer<Float>, _ weights: UnsafePointer<Float>,
                           _ L: UnsafeMutablePointer<UInt8>, _ theMin: inout Float, _ Laux: UnsafeMutablePointer<UInt8>,
                           rmin: Float, rdelta: Float, nstep: Int, mad: Bool) -> Float {
        @inline(__always) func weight(_ i: Int) -> Float { weights[i] }
        var min = x[0], max = x[0]
        var sumW = weight(0)
        var sumX = sumW * x[0]
        for i in 1..<n {
            if x[i] < min { min = x[i] }
            if x[i] > max { max = x[i] }
            let w = weight(i)
            sumW += w
            sumX += w * x[i]
        }
        if min > 0 { min = 0 }
        // C's degenerate tests (`max == min` in qkx2, `max <= min` in qkx3) agree on every input: min ≤ max
        // unless a NaN is involved, and then both are false and C searches on (so must we, for its bytes).
        if max == min {
            for i in 0..<n { L[i] = 0 }
            theMin = -min
            return 0
        }
        return withUnsafeTemporaryAllocation(of: Float.self, capacity: 4 * n) { fb in
            withUnsafeTemporaryAllocation(of: Int32.self, capacity: 2 * n) { ib in
                searchAsymmetric(n, nmax, x, weights, L, &theMin, min: min, max: max, sumW: sumW, sumX: sumX,
                                 rmin: rmin, rdelta: rdelta, nstep: nstep, mad: mad,
                                 floats: fb.baseAddress!, ints: ib.baseAddress!)
            }
        }
    }

    /// The search of `asymmetric` for a group that is not constant, with scratch of 4n floats and 2n ints.
    ///
    /// As in `symmetric`, the per-element work of each trial (levels, `w·l`, `(w·l)·l`, `(w·l)·x`, the
    /// weighted error terms) runs in plain element-wise loops with C's operations, and only the sums run
    /// left to right as in C. `x − min` is kept per element and recomputed when the minimum changes (C
    /// computes it inside the loop from the current minimum, with the same result). A trial whose levels
    /// equal the last evaluated trial's has the same sums, scale, minimum and error; its error is not below
    /// the best (which it already was compared with, and the best only falls), so it is skipped.
    @inline(__always)
    private static func searchAsymmetric(_ n: Int, _ nmax: Int32, _ x: UnsafePointer<Float>, _ weights: UnsafePointer<Float>,
                                         _ L: UnsafeMutablePointer<UInt8>, _ theMin: inout Float, min initialMin: Float,
                                         max: Float, sumW: Float, sumX: Float, rmin: Float, rdelta: Float, nstep: Int,
                                         mad: Bool, floats: UnsafeMutablePointer<Float>, ints: UnsafeMutablePointer<Int32>) -> Float {
        let xm = floats, a = xm + n, b = a + n, c = b + n
        let levels = ints, previous = ints + n
        var min = initialMin
        /// `a[i] = w·f(s·l + m − x)` with f = |·| (`mad`) or the square, as C computes the error terms.
        @inline(__always) func errorTerms(_ s: Float, _ m: Float) {
            if mad {
                for i in 0..<n { a[i] = weights[i] * abs(s * Float(levels[i]) + m - x[i]) }
            } else {
                for i in 0..<n {
                    let diff = s * Float(levels[i]) + m - x[i]
                    a[i] = weights[i] * (diff * diff)
                }
            }
        }
        let fmax = Float(nmax)
        var iscale = fmax / (max - min)
        var scale = 1 / iscale
        for i in 0..<n { xm[i] = x[i] - min }
        for i in 0..<n { levels[i] = clamp(nearestInt(iscale * xm[i]), 0, nmax) }
        for i in 0..<n { L[i] = UInt8(truncatingIfNeeded: levels[i]) }
        errorTerms(scale, min)
        var bestError: Float = 0
        for i in 0..<n { bestError += a[i] }
        if nstep < 1 {
            theMin = -min
            return scale
        }
        var evaluated = false
        for step in 0...nstep {
            iscale = (rmin + rdelta * Float(step) + fmax) / (max - min)
            var changed: Int32 = 0
            for i in 0..<n {
                let l = clamp(nearestInt(iscale * xm[i]), 0, nmax)
                levels[i] = l
                changed |= l ^ previous[i]
            }
            if evaluated && changed == 0 { continue }
            evaluated = true
            for i in 0..<n {
                let fl = Float(levels[i])
                let wl = weights[i] * fl
                a[i] = wl
                b[i] = wl * fl
                c[i] = wl * x[i]
                previous[i] = levels[i]
            }
            var sumL: Float = 0, sumL2: Float = 0, sumXL: Float = 0
            for i in 0..<n { sumL += a[i]; sumL2 += b[i]; sumXL += c[i] }
            let D = sumW * sumL2 - sumL * sumL
            if D > 0 {
                var thisScale = (sumW * sumXL - sumX * sumL) / D
                var thisMin = (sumL2 * sumX - sumL * sumXL) / D
                if thisMin > 0 {
                    thisMin = 0
                    thisScale = sumXL / sumL2
                }
                errorTerms(thisScale, thisMin)
                var error: Float = 0
                for i in 0..<n { error += a[i] }
                if error < bestError {
                    for i in 0..<n { L[i] = UInt8(truncatingIfNeeded: levels[i]) }
                    bestError = error
                    scale = thisScale
                    min = thisMin
                    for i in 0..<n { xm[i] = x[i] - min }
                }
            }
        }
        theMin = -min
        return scale
    }

    /// `make_qp_quants(n, nmax, x, L, qw)`: levels `L` in `0...nmax` for non-negative `x` (the sub-block
    /// scales or minima of an importance-weighted K-quant), with the super-block scale found by a nine-point
    /// search and five passes of coordinate descent.
    static func positive(_ n: Int, _ nmax: Int32, _ x: UnsafePointer<Float>, _ L: UnsafeMutablePointer<UInt8>,
                         _ qw: UnsafePointer<Float>) -> Float {
        var max: Float = 0
        for i in 0..<n { max = max > x[i] ? max : x[i] }
        if max < groupMaxEps {
            for i in 0..<n { L[i] = 0 }
            return 0
        }
        let fmax = Float(nmax)
        var iscale = fmax / max
        for i in 0..<n { L[i] = UInt8(truncatingIfNeeded: nearestInt(iscale * x[i])) }
        let scale = 1 / iscale
        var bestMSE: Float = 0
        for i in 0..<n {
            let diff = x[i] - scale * Float(L[i])
            bestMSE += qw[i] * diff * diff
        }
        for step in -4...4 where step != 0 {
            let iscaleStep = (0.1 * Float(step) + fmax) / max
            let scaleStep = 1 / iscaleStep
            var mse: Float = 0
            for i in 0..<n {
                let l = Swift.min(nmax, nearestInt(iscaleStep * x[i]))
                let diff = x[i] - scaleStep * Float(l)
                mse += qw[i] * diff * diff
            }
            if mse < bestMSE {
                bestMSE = mse
                iscale = iscaleStep
            }
        }
        var sumlx: Float = 0, suml2: Float = 0
        for i in 0..<n {
            let l = Swift.min(nmax, nearestInt(iscale * x[i]))
            L[i] = UInt8(truncatingIfNeeded: l)
            let w = qw[i]
            let fl = Float(l)
            sumlx += w * x[i] * fl
            suml2 += w * fl * fl
        }
        for _ in 0..<5 {
            var changed = 0
            for i in 0..<n {
                let w = qw[i]
                let li = Float(L[i])
                var slx = sumlx - w * x[i] * li
                var sl2 = suml2 - w * li * li
                if slx > 0 && sl2 > 0 {
                    let newL = Swift.min(nmax, nearestInt(x[i] * sl2 / slx))
                    if newL != Int32(L[i]) {
                        let fl = Float(newL)
                        slx += w * x[i] * fl
                        sl2 += w * fl * fl
                        if slx * slx * suml2 > sumlx * sumlx * sl2 {
                            L[i] = UInt8(truncatingIfNeeded: newL); sumlx = slx; suml2 = sl2
                            changed += 1
                        }
                    }
                }
            }
            if changed == 0 { break }
        }
        return suml2 > 0 ? sumlx / suml2 : 0
    }

    /// `best_index_int8(16, values, x)` for a table of 16 sorted integers (IQ4's), without the binary
    /// search: for x strictly between the ends, the interval `values[lo] ≤ x < values[lo+1]` the search
    /// ends in depends only on ⌊x⌋ and is read from `lows` (index ⌊x⌋ − values[0]); the final choice is
    /// C's own comparison of the same Float differences, so ties go the same way. NaN gives 15, as the
    /// search does.
    @inline(__always)
    static func nearestIndex16(_ values: UnsafePointer<Float>, _ lows: UnsafePointer<UInt8>, _ x: Float) -> Int {
        if x <= values[0] { return 0 }
        if !(x < values[15]) { return 15 }
        var k = nearestInt(x)
        if Float(k) > x { k -= 1 }
        let lo = Int(lows[Int(k)])
        return x - values[lo] < values[lo + 1] - x ? lo : lo + 1
    }

    /// The `lows` table of `nearestIndex16` for sorted integer `values`: for each integer u from values[0]
    /// to values[15] − 1, how many of values[1...15] are ≤ u.
    static func intervalTable(_ values: [Float]) -> [UInt8] {
        let first = Int(values[0]), last = Int(values[15])
        return (first..<last).map { u in UInt8(values[1...].filter { $0 <= Float(u) }.count) }
    }

    /// `best_index_int8(n, values, x)`: the index of the nearest of the sorted `values` (ggml's int8 table,
    /// here already converted to Float, which is exact); on a tie the upper one.
    @inline(__always)
    static func nearestIndex(_ values: UnsafePointer<Float>, _ n: Int, _ x: Float) -> Int {
        if x <= values[0] { return 0 }
        if x >= values[n - 1] { return n - 1 }
        var lo = 0, hi = n - 1
        while hi - lo > 1 {
            let mid = (lo + hi) / 2
            if x < values[mid] { hi = mid } else { lo = mid }
        }
        return x - values[hi - 1] < values[hi] - x ? hi - 1 : hi
    }
}
