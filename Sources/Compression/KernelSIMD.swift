import CKernels

/// Explicit 8-lane loops for the hot kernels. The optimiser does not vectorise Swift's scalar min/max
/// reductions or rounding on baseline x86-64, and these loops run 4–10× faster than the scalar forms while
/// producing bit-identical results (the same IEEE operations, lane by lane). NaNs are not expected in weights;
/// comparisons simply skip them. Where the CPU has AVX2, `minMax` and `fakeQuantize` run the same lane loops
/// in the CKernels target instead (`KernelDispatch`), with equal results.
enum KernelSIMD {
    typealias V = SIMD8<Float>

    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }

    @inline(__always)
    static func store(_ v: V, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self) }

    @inline(__always)
    static func abs(_ v: V) -> V {
        unsafeBitCast(unsafeBitCast(v, to: SIMD8<UInt32>.self) & 0x7fff_ffff, to: V.self)
    }

    /// (min, max) of the values; (+∞, −∞) when empty.
    static func minMax(_ x: UnsafeBufferPointer<Float>, avx2: Bool = KernelDispatch.avx2) -> (Float, Float) {
        let n = x.count
        guard n > 0 else { return (.infinity, -.infinity) }
        let p = x.baseAddress!
        var lo = V(repeating: .infinity), hi = V(repeating: -.infinity)
        var k = 0
        if avx2 {
            withUnsafeMutableBytes(of: &lo) { l in
                withUnsafeMutableBytes(of: &hi) { h in
                    wl_min_max_lanes_avx2(p, n, l.baseAddress!.assumingMemoryBound(to: Float.self),
                                          h.baseAddress!.assumingMemoryBound(to: Float.self))
                }
            }
            k = n & ~7
        }
        while k + 8 <= n {
            let v = load(p + k)
            lo = lo.replacing(with: v, where: v .< lo)
            hi = hi.replacing(with: v, where: v .> hi)
            k += 8
        }
        var l = lo.min(), h = hi.max()
        while k < n { l = Swift.min(l, p[k]); h = Swift.max(h, p[k]); k += 1 }
        return (l, h)
    }

    /// max |x| (0 when empty).
    static func absMax(_ x: UnsafeBufferPointer<Float>) -> Float {
        let n = x.count
        guard n > 0 else { return 0 }
        let p = x.baseAddress!
        var m = V()
        var k = 0
        while k + 8 <= n {
            let v = abs(load(p + k))
            m = m.replacing(with: v, where: v .> m)
            k += 8
        }
        var r = m.max()
        while k < n { r = Swift.max(r, Swift.abs(p[k])); k += 1 }
        return r
    }

    /// Exact zeros (+0 or −0).
    static func zeroCount(_ x: UnsafeBufferPointer<Float>) -> Int {
        let n = x.count
        guard n > 0 else { return 0 }
        let p = x.baseAddress!
        var total = 0
        var k = 0
        while k + 8 <= n {
            var z = SIMD8<Int32>()
            let end = Swift.min(n - 7, k + 8 * 4096)
            while k < end {
                z &+= SIMD8<Int32>().replacing(with: 1, where: load(p + k) .== 0)
                k += 8
            }
            total += Int(z.wrappedSum())
        }
        while k < n { total += p[k] == 0 ? 1 : 0; k += 1 }
        return total
    }

    /// `round_half_even(clamp(x/s, a, b))·s` for every value (the integer fake-quantizer's inner loop).
    static func fakeQuantize(_ x: UnsafeBufferPointer<Float>, _ o: UnsafeMutablePointer<Float>, scale s: Float, lo a: Float, hi b: Float,
                             avx2: Bool = KernelDispatch.avx2) {
        let n = x.count
        guard n > 0 else { return }
        let p = x.baseAddress!
        if avx2 {
            wl_fake_quantize_avx2(p, o, n, s, a, b)
            return
        }
        let sv = V(repeating: s), av = V(repeating: a), bv = V(repeating: b), magic = V(repeating: 0x1.8p23)
        var k = 0
        while k + 8 <= n {
            var t = load(p + k) / sv
            t = t.replacing(with: av, where: t .< av)
            t = t.replacing(with: bv, where: t .> bv)
            store(((t + magic) - magic) * sv, o + k)
            k += 8
        }
        while k < n { o[k] = roundHalfEven(Swift.min(Swift.max(p[k] / s, a), b)) * s; k += 1 }
    }

    /// FP8 rounding of `x/s`, multiplied back by `s` (see `FP8Quantizer.round`).
    static func fakeQuantizeFP8(_ x: UnsafeBufferPointer<Float>, _ o: UnsafeMutablePointer<Float>, scale s: Float,
                                mantissaBits mb: Int32, minNormalExponent mn: Int32, max m: Float) {
        let n = x.count
        guard n > 0 else { return }
        let p = x.baseAddress!
        let sv = V(repeating: s), mv = V(repeating: m), magic = V(repeating: 0x1.8p23)
        let bias = SIMD8<Int32>(repeating: 127), minE = SIMD8<Int32>(repeating: mn)
        var k = 0
        while k + 8 <= n {
            let y = load(p + k) / sv
            var a = abs(y)
            a = a.replacing(with: mv, where: a .> mv)
            let bits = unsafeBitCast(a, to: SIMD8<Int32>.self)
            var e = (bits &>> 23) &- bias
            e = e.replacing(with: minE, where: e .< minE)
            let quantum = unsafeBitCast(((e &- mb) &+ bias) &<< 23, to: V.self)
            let c = quantum * magic
            var r = (a + c) - c
            r = r.replacing(with: mv, where: r .> mv)
            let signed = unsafeBitCast(unsafeBitCast(r, to: SIMD8<UInt32>.self) | (unsafeBitCast(y, to: SIMD8<UInt32>.self) & 0x8000_0000), to: V.self)
            store(signed * sv, o + k)
            k += 8
        }
        while k < n {
            o[k] = FP8Quantizer.round(p[k] / s, mantissaBits: mb, minNormalExponent: mn, max: m) * s
            k += 1
        }
    }
}
