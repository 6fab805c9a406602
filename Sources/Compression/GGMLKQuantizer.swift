import CKernels
import WeightFormats

/// ggml's quantizers for the 256-value K-quant super-blocks (Q2_K … Q6_K) and the IQ4 types, one block at
/// a time, bit-exact with `quantize_qX_K` / `quantize_iq4_nl` / `quantize_iq4_xs` of ggml-quants.c (what
/// `ggml_quantize_chunk` and llama-quantize run) built without FMA contraction:
///
/// - without importance weights (`qw == nil`): the `quantize_row_qX_K_ref` paths; IQ4 uses weights x² and
///   the 15-point scale search (`ntry = 7`), as `quantize_iq4_nl` / `quantize_iq4_xs` do;
/// - with importance weights (`qw` = this block's slice of the imatrix column vector): the
///   `quantize_row_qX_K_impl` paths, weights `qw·sqrt(σ² + x²)` with σ² over the super-block (Q6_K uses
///   `qw` itself).
///
/// Every K-quant computes its sub-block scale integers from the Float32 super-scale, then requantizes each
/// value with the float16-rounded `d` / `dmin` it stored, skipping sub-blocks whose scale is 0 (they keep
/// the first-pass levels). Layouts are ggml's `block_qX_K` structs, little-endian.
enum GGMLKQuantizer {
    typealias Search = GGMLScaleSearch
    typealias Lanes = GGMLSubBlockLanes

    /// Per-block scratch: level bytes and a few dozen floats, on the stack. (The level loops convert with
    /// `truncatingIfNeeded`: the values are clamped already, and a checked conversion keeps LLVM from
    /// vectorizing the loop.)
    @inline(__always)
    private static func withScratch(_ body: (UnsafeMutablePointer<UInt8>, UnsafeMutablePointer<Float>) -> Void) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 512) { b in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 160) { f in
                body(b.baseAddress!, f.baseAddress!)
            }
        }
    }

    @inline(__always)
    private static func storeHalf(_ v: Float, _ o: UnsafeMutableRawPointer, _ offset: Int) -> Float {
        let h = Float16(v)
        o.storeBytes(of: h.bitPattern.littleEndian, toByteOffset: offset, as: UInt16.self)
        return Float(h)
    }

    @inline(__always)
    private static func sumOfSquares(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var s: Float = 0
        for i in 0..<n { s += x[i] * x[i] }
        return s
    }

    /// `weight[l] = qw[l]·sqrt(σ² + x[l]²)` and their sum, the importance-weighted paths' weights.
    @inline(__always)
    private static func importanceWeights(_ qw: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int, sigma2: Float,
                                          into w: UnsafeMutablePointer<Float>) -> Float {
        var sum: Float = 0
        for l in 0..<n { w[l] = qw[l] * (sigma2 + x[l] * x[l]).squareRoot() }
        for l in 0..<n { sum += w[l] }
        return sum
    }

    /// Packs 256 2-bit levels as Q2_K and Q3_K do: byte 32h+l holds levels 128h+l, +32, +64, +96.
    @inline(__always)
    private static func pack2Bit(_ L: UnsafeMutablePointer<UInt8>, into qs: UnsafeMutableRawPointer) {
        for h in 0..<2 {
            let j = 128 * h
            for l in 0..<32 {
                qs.storeBytes(of: L[j + l] | L[j + l + 32] << 2 | L[j + l + 64] << 4 | L[j + l + 96] << 6,
                              toByteOffset: 32 * h + l, as: UInt8.self)
            }
        }
    }

    /// The asymmetric searches (`make_qkx2_quants` / `make_qkx3_quants`) of all `count` sub-blocks of `n`
    /// values of one super-block, their weights laid out beside them in `w`: with `kernels` and finite values,
    /// the AVX2 kernel that runs one sub-block per lane (each lane does C's operations in C's order, so the
    /// results are the portable search's); else the portable search, sub-block by sub-block. A super-block
    /// with a NaN or ±∞ always takes the portable search.
    @inline(__always)
    private static func asymmetricSubBlocks(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, n: Int, count: Int,
                                            nmax: Int32, _ L: UnsafeMutablePointer<UInt8>, scales: UnsafeMutablePointer<Float>,
                                            mins: UnsafeMutablePointer<Float>, _ Laux: UnsafeMutablePointer<UInt8>,
                                            rmin: Float, rdelta: Float, nstep: Int, mad: Bool, kernels: Bool) {
        if kernels && Lanes.allFinite(x) {
            wl_kquant_asymmetric_avx2(x, w, n, count / 8, nmax, rmin, rdelta, Int32(nstep), mad ? 1 : 0, L, scales, mins)
            return
        }
        for j in 0..<count {
            scales[j] = Search.asymmetric(n, nmax, x + n * j, w + n * j, L + n * j, &mins[j], Laux,
                                          rmin: rmin, rdelta: rdelta, nstep: nstep, mad: mad)
        }
    }

    /// 256 Floats of stack scratch (the weights of a whole super-block).
    @inline(__always)
    private static func withWeights(_ body: (UnsafeMutablePointer<Float>) -> Void) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 256) { body($0.baseAddress!) }
    }

    // MARK: Q2_K — scales[16] @0, qs[64] @16, d @80, dmin @82

    static func q2K(_ x: UnsafePointer<Float>, _ qw: UnsafePointer<Float>?, _ o: UnsafeMutableRawPointer) {
        q2K(x, qw, o, kernels: KernelDispatch.avx2)
    }

    /// `kernels`: whether the sub-block searches may run in the AVX2 kernel (tests compare both paths).
    static func q2K(_ x: UnsafePointer<Float>, _ qw: UnsafePointer<Float>?, _ o: UnsafeMutableRawPointer, kernels: Bool) {
        withScratch { bytes, floats in withWeights { weights in
            let L = bytes, Laux = bytes + 256, Ls = bytes + 288, Lm = bytes + 304
            let mins = floats + 16, scales = floats + 32, sw = floats + 48
            let sc = o.assumingMemoryBound(to: UInt8.self)
            var d: Float, dmin: Float
            if let qw {
                let sigma2 = sumOfSquares(x, 256) / 256
                for j in 0..<16 {
                    sw[j] = importanceWeights(qw + 16 * j, x + 16 * j, 16, sigma2: sigma2, into: weights + 16 * j)
                }
                asymmetricSubBlocks(x, weights, n: 16, count: 16, nmax: 3, L, scales: scales, mins: mins, Laux,
                                    rmin: -0.9, rdelta: 0.05, nstep: 36, mad: false, kernels: kernels)
                let dm = Search.positive(16, 15, scales, Ls, sw)
                let mm = Search.positive(16, 15, mins, Lm, sw)
                d = storeHalf(dm, o, 80)
                dmin = storeHalf(mm, o, 82)
                for j in 0..<16 { sc[j] = Ls[j] | Lm[j] << 4 }
            } else {
                var maxScale: Float = 0, maxMin: Float = 0
                for l in 0..<256 { weights[l] = abs(x[l]) }
                asymmetricSubBlocks(x, weights, n: 16, count: 16, nmax: 3, L, scales: scales, mins: mins, Laux,
                                    rmin: -0.5, rdelta: 0.1, nstep: 15, mad: true, kernels: kernels)
                for j in 0..<16 {
                    if scales[j] > maxScale { maxScale = scales[j] }
                    if mins[j] > maxMin { maxMin = mins[j] }
                }
                if maxScale > 0 {
                    let iscale = 15 / maxScale
                    for j in 0..<16 { sc[j] = UInt8(truncatingIfNeeded: Search.nearestInt(iscale * scales[j])) }
                    d = storeHalf(maxScale / 15, o, 80)
                } else {
                    for j in 0..<16 { sc[j] = 0 }
                    d = storeHalf(0, o, 80)
                }
                if maxMin > 0 {
                    let iscale = 15 / maxMin
                    for j in 0..<16 { sc[j] |= UInt8(truncatingIfNeeded: Search.nearestInt(iscale * mins[j]) << 4) }
                    dmin = storeHalf(maxMin / 15, o, 82)
                } else {
                    dmin = storeHalf(0, o, 82)
                }
            }
            for j in 0..<16 {
                let dl = d * Float(sc[j] & 0xF)
                if dl == 0 { continue }
                let dm = dmin * Float(sc[j] >> 4)
                for i in 0..<16 {
                    L[16 * j + i] = UInt8(truncatingIfNeeded: Search.clamp(Search.nearestInt((x[16 * j + i] + dm) / dl), 0, 3))
                }
            }
            pack2Bit(L, into: o + 16)
        } }
    }

    // MARK: Q3_K — hmask[32] @0, qs[64] @32, scales[12] @96, d @108

    static func q3K(_ x: UnsafePointer<Float>, _ qw: UnsafePointer<Float>?, _ o: UnsafeMutableRawPointer) {
        q3K(x, qw, o, kernels: KernelDispatch.avx2)
    }

    /// Q3_K with the choice of path made by the caller (tests compare the AVX2 and portable paths): with
    /// `kernels`, a finite super-block without importance weights runs `make_q3_quants` in
    /// `wl_q3k_search_avx2` (one sub-block per lane).
    static func q3K(_ x: UnsafePointer<Float>, _ qw: UnsafePointer<Float>?, _ o: UnsafeMutableRawPointer, kernels: Bool) {
        withScratch { bytes, floats in
            let L = UnsafeMutableRawPointer(bytes).assumingMemoryBound(to: Int8.self)
            let Ls = UnsafeMutableRawPointer(bytes + 256).assumingMemoryBound(to: Int8.self)
            let weights = floats, scales = floats + 16, sw = floats + 32
            let packed = (o + 96).assumingMemoryBound(to: UInt8.self)
            for k in 0..<12 { packed[k] = 0 }
            /// Stores the 6-bit scale code `l` (0...63) of sub-block j.
            let codes = floats + 48  // each sub-block's signed scale code, as the packed bytes give it back
            for j in 0..<16 { codes[j] = -32 }
            func store(_ j: Int, _ l: Int32) {
                codes[j] = Float(l - 32)
                let low = UInt8(truncatingIfNeeded: l & 0xF)
                if j < 8 { packed[j] = low } else { packed[j - 8] |= low << 4 }
                packed[j % 4 + 8] |= UInt8(truncatingIfNeeded: (l >> 4) << (2 * (j / 4)))
            }
            let d: Float
            let bounds = Lanes.bounds(4)
            if let qw {
                let sigma2 = 2 * sumOfSquares(x, 256) / 256
                if Lanes.allFinite(x) {
                    withUnsafeTemporaryAllocation(of: Float.self, capacity: 256) { wb in
                        let w = wb.baseAddress!
                        for j in 0..<16 {
                            sw[j] = importanceWeights(qw + 16 * j, x + 16 * j, 16, sigma2: sigma2, into: w + 16 * j)
                        }
                        Lanes.symmetric16(4, x, w, L, scales: scales)
                    }
                } else {
                    for j in 0..<16 {
                        sw[j] = importanceWeights(qw + 16 * j, x + 16 * j, 16, sigma2: sigma2, into: weights)
                        scales[j] = Search.symmetric(16, 4, x + 16 * j, L + 16 * j, weights)
                    }
                }
                let dBlock = Search.symmetric(16, 32, scales, Ls, sw)
                for j in 0..<16 { store(j, Int32(Ls[j])) }
                d = storeHalf(dBlock, o, 108)
            } else {
                var maxScale: Float = 0, amax: Float = 0
                if kernels && Lanes.allFinite(x) {
                    wl_q3k_search_avx2(x, bytes, scales)
                } else {
                    for j in 0..<16 { scales[j] = Lanes.refined(x + 16 * j, L + 16 * j, bounds: bounds) }
                }
                for j in 0..<16 {
                    let a = abs(scales[j])
                    if a > amax { amax = a; maxScale = scales[j] }
                }
                if maxScale != 0 {
                    let iscale = -32 / maxScale
                    for j in 0..<16 {
                        let l = Int32(Int8(truncatingIfNeeded: Search.nearestInt(iscale * scales[j])))
                        store(j, Search.clamp(l, -32, 31) + 32)
                    }
                    d = storeHalf(1 / iscale, o, 108)
                } else {
                    d = storeHalf(0, o, 108)
                }
            }
            for j in 0..<16 {
                let dl = d * codes[j]
                if dl == 0 { continue }
                Lanes.requantize16(x + 16 * j, dl, L + 16 * j, bounds: bounds)
            }
            // Levels 0...7: bit 2 goes to hmask (bit j/32 of byte j%32), bits 0-1 are packed as Q2_K's.
            let hmask = o.assumingMemoryBound(to: UInt8.self)
            for l in 0..<32 {
                hmask[l] = bytes[l] >> 2 | (bytes[32 + l] >> 2) << 1 | (bytes[64 + l] >> 2) << 2 | (bytes[96 + l] >> 2) << 3
                    | (bytes[128 + l] >> 2) << 4 | (bytes[160 + l] >> 2) << 5 | (bytes[192 + l] >> 2) << 6 | (bytes[224 + l] >> 2) << 7
            }
            let qs = (o + 32).assumingMemoryBound(to: UInt8.self)
            for h in 0..<2 {
                let q = bytes + 128 * h
                for l in 0..<32 {
                    qs[32 * h + l] = q[l] & 3 | (q[l + 32] & 3) << 2 | (q[l + 64] & 3) << 4 | (q[l + 96] & 3) << 6
                }
            }
        }
    }

    // MARK: Q4_K / Q5_K — d @0, dmin @2, scales[12] @4, then Q4_K qs[128] @16; Q5_K qh[32] @16, qs[128] @48

    static func q4K(_ x: UnsafePointer<Float>, _ qw: UnsafePointer<Float>?, _ o: UnsafeMutableRawPointer) {
        scaleMinK(x, qw, o, nmax: 15, rmin: -1, nstep: 20, kernels: KernelDispatch.avx2)
    }

    static func q5K(_ x: UnsafePointer<Float>, _ qw: UnsafePointer<Float>?, _ o: UnsafeMutableRawPointer) {
        scaleMinK(x, qw, o, nmax: 31, rmin: -0.5, nstep: 15, kernels: KernelDispatch.avx2)
    }

    /// Q4_K / Q5_K with the choice of path made by the caller (tests compare the AVX2 and portable paths).
    static func q4K(_ x: UnsafePointer<Float>, _ qw: UnsafePointer<Float>?, _ o: UnsafeMutableRawPointer, kernels: Bool) {
        scaleMinK(x, qw, o, nmax: 15, rmin: -1, nstep: 20, kernels: kernels)
    }

    static func q5K(_ x: UnsafePointer<Float>, _ qw: UnsafePointer<Float>?, _ o: UnsafeMutableRawPointer, kernels: Bool) {
        scaleMinK(x, qw, o, nmax: 31, rmin: -0.5, nstep: 15, kernels: kernels)
    }

    /// Q4_K (`nmax` 15) and Q5_K (31): eight sub-blocks of 32 with 6-bit scales and minima.
    @inline(__always)
    private static func scaleMinK(_ x: UnsafePointer<Float>, _ qw: UnsafePointer<Float>?, _ o: UnsafeMutableRawPointer,
                                  nmax: Int32, rmin: Float, nstep: Int, kernels: Bool) {
        withScratch { bytes, floats in withWeights { weights in
            let L = bytes, Laux = bytes + 256, Ls = bytes + 288, Lm = bytes + 304
            let mins = floats + 32, scales = floats + 40, sw = floats + 48
            let packed = (o + 4).assumingMemoryBound(to: UInt8.self)
            func store(_ j: Int, _ ls: UInt8, _ lm: UInt8) {
                if j < 4 {
                    packed[j] = ls
                    packed[j + 4] = lm
                } else {
                    packed[j + 4] = (ls & 0xF) | (lm & 0xF) << 4
                    packed[j - 4] |= (ls >> 4) << 6
                    packed[j] |= (lm >> 4) << 6
                }
            }
            let d: Float, dmin: Float
            if let qw {
                let sigma2 = 2 * sumOfSquares(x, 256) / 256
                for j in 0..<8 {
                    sw[j] = importanceWeights(qw + 32 * j, x + 32 * j, 32, sigma2: sigma2, into: weights + 32 * j)
                }
                asymmetricSubBlocks(x, weights, n: 32, count: 8, nmax: nmax, L, scales: scales, mins: mins, Laux,
                                    rmin: -0.9, rdelta: 0.05, nstep: 36, mad: false, kernels: kernels)
                let dBlock = Search.positive(8, 63, scales, Ls, sw)
                let mBlock = Search.positive(8, 63, mins, Lm, sw)
                for j in 0..<8 {
                    // Only ggml's Q5_K clamps here; the codes are ≤ 63 unless a scale came out negative.
                    if nmax == 31 { store(j, min(63, Ls[j]), min(63, Lm[j])) } else { store(j, Ls[j], Lm[j]) }
                }
                d = storeHalf(dBlock, o, 0)
                dmin = storeHalf(mBlock, o, 2)
            } else {
                var maxScale: Float = 0, maxMin: Float = 0
                for j in 0..<8 {
                    let xj = x + 32 * j
                    let avX = (sumOfSquares(xj, 32) / 32).squareRoot()
                    for l in 0..<32 { weights[32 * j + l] = avX + abs(xj[l]) }
                }
                asymmetricSubBlocks(x, weights, n: 32, count: 8, nmax: nmax, L, scales: scales, mins: mins, Laux,
                                    rmin: rmin, rdelta: 0.1, nstep: nstep, mad: false, kernels: kernels)
                for j in 0..<8 {
                    if scales[j] > maxScale { maxScale = scales[j] }
                    if mins[j] > maxMin { maxMin = mins[j] }
                }
                let invScale: Float = maxScale > 0 ? 63 / maxScale : 0
                let invMin: Float = maxMin > 0 ? 63 / maxMin : 0
                for j in 0..<8 {
                    let ls = UInt8(truncatingIfNeeded: Search.nearestInt(invScale * scales[j]))
                    let lm = UInt8(truncatingIfNeeded: Search.nearestInt(invMin * mins[j]))
                    store(j, min(63, ls), min(63, lm))
                }
                d = storeHalf(maxScale / 63, o, 0)
                dmin = storeHalf(maxMin / 63, o, 2)
            }
            for j in 0..<8 {
                let sc: UInt8, m: UInt8
                if j < 4 {
                    sc = packed[j] & 63; m = packed[j + 4] & 63
                } else {
                    sc = (packed[j + 4] & 0xF) | (packed[j - 4] >> 6) << 4
                    m = (packed[j + 4] >> 4) | (packed[j] >> 6) << 4
                }
                let dl = d * Float(sc)
                if dl == 0 { continue }
                let dm = dmin * Float(m)
                for i in 0..<32 {
                    L[32 * j + i] = UInt8(truncatingIfNeeded: Search.clamp(Search.nearestInt((x[32 * j + i] + dm) / dl), 0, nmax))
                }
            }
            if nmax == 15 {
                for c in 0..<4 {
                    for l in 0..<32 {
                        o.storeBytes(of: L[64 * c + l] | L[64 * c + 32 + l] << 4, toByteOffset: 16 + 32 * c + l, as: UInt8.self)
                    }
                }
            } else {
                let qh = (o + 16).assumingMemoryBound(to: UInt8.self)
                for k in 0..<32 { qh[k] = 0 }
                for c in 0..<4 {
                    for l in 0..<32 {
                        var l1 = L[64 * c + l], l2 = L[64 * c + 32 + l]
                        if l1 > 15 { l1 -= 16; qh[l] |= 1 << (2 * c) }
                        if l2 > 15 { l2 -= 16; qh[l] |= 2 << (2 * c) }
                        o.storeBytes(of: l1 | l2 << 4, toByteOffset: 48 + 32 * c + l, as: UInt8.self)
                    }
                }
            }
        } }
    }

    // MARK: Q6_K — ql[128] @0, qh[64] @128, scales[16] (int8) @192, d @208

    static func q6K(_ x: UnsafePointer<Float>, _ qw: UnsafePointer<Float>?, _ o: UnsafeMutableRawPointer) {
        withScratch { bytes, floats in
            let L = UnsafeMutableRawPointer(bytes).assumingMemoryBound(to: Int8.self)
            let scales = floats
            var maxScale: Float = 0, maxAbsScale: Float = 0
            if Lanes.allFinite(x) {
                Lanes.symmetric16(32, x, qw, L, scales: scales)
            } else {
                for ib in 0..<16 { scales[ib] = Search.symmetric(16, 32, x + 16 * ib, L + 16 * ib, qw.map { $0 + 16 * ib }) }
            }
            for ib in 0..<16 {
                let s = scales[ib]
                if abs(s) > maxAbsScale { maxAbsScale = abs(s); maxScale = s }
            }
            if maxAbsScale < Search.groupMaxEps {
                o.initializeMemory(as: UInt8.self, repeating: 0, count: 210)
                return
            }
            let iscale = -128 / maxScale
            let d = storeHalf(1 / iscale, o, 208)
            let sc = (o + 192).assumingMemoryBound(to: Int8.self)
            for ib in 0..<16 { sc[ib] = Int8(truncatingIfNeeded: min(127, Search.nearestInt(iscale * scales[ib]))) }
            for j in 0..<16 {
                let dl = d * Float(sc[j])
                if dl == 0 { continue }
                for i in 0..<16 {
                    L[16 * j + i] = Int8(truncatingIfNeeded: Search.clamp(Search.nearestInt(x[16 * j + i] / dl), -32, 31) + 32)
                }
            }
            for h in 0..<2 {
                let j = 128 * h
                for l in 0..<32 {
                    let q1 = bytes[j + l], q2 = bytes[j + l + 32], q3 = bytes[j + l + 64], q4 = bytes[j + l + 96]
                    o.storeBytes(of: (q1 & 0xF) | (q3 & 0xF) << 4, toByteOffset: 64 * h + l, as: UInt8.self)
                    o.storeBytes(of: (q2 & 0xF) | (q4 & 0xF) << 4, toByteOffset: 64 * h + 32 + l, as: UInt8.self)
                    o.storeBytes(of: (q1 >> 4) | (q2 >> 4) << 2 | (q3 >> 4) << 4 | (q4 >> 4) << 6,
                                 toByteOffset: 128 + 32 * h + l, as: UInt8.self)
                }
            }
        }
    }

    // MARK: IQ4_NL (d @0, qs[16] @2) and IQ4_XS (d @0, scales_h u16 @2, scales_l[4] @4, qs[128] @8)

    static func iq4NL(_ x: UnsafePointer<Float>, _ qw: UnsafePointer<Float>?, _ o: UnsafeMutableRawPointer) {
        iq4(x, qw, o, superBlock: 32, avx2: KernelDispatch.avx2)
    }

    static func iq4XS(_ x: UnsafePointer<Float>, _ qw: UnsafePointer<Float>?, _ o: UnsafeMutableRawPointer) {
        iq4(x, qw, o, superBlock: 256, avx2: KernelDispatch.avx2)
    }

    /// ggml's `kvalues_iq4nl` as Float (exact conversions, made once).
    private static let iq4Values: [Float] = GGMLGrids.iq4nl.map { Float($0) }

    /// The interval table of `GGMLScaleSearch.nearestIndex16` for `iq4Values`.
    private static let iq4Lows: [UInt8] = Search.intervalTable(iq4Values)

    /// `quantize_row_iq4_nl_impl(superBlock, 32, …, kvalues_iq4nl, qw, ntry: 7)`. With `avx2` the 16-scale
    /// search and the final levels run in the CKernels' `wl_iq4_scale_search_avx2` / `wl_iq4_pack_avx2`
    /// (trial scales in lanes, branch-free level choice; the same Float operations in the same order, so
    /// the same bytes), else in the Swift loops below (`WEIGHTLAB_KERNELS=portable`; the tests compare both).
    static func iq4(_ x: UnsafePointer<Float>, _ qw: UnsafePointer<Float>?, _ o: UnsafeMutableRawPointer, superBlock: Int,
                    avx2: Bool) {
        iq4Values.withUnsafeBufferPointer { kv in
          iq4Lows.withUnsafeBufferPointer { lowsBuffer in
            let values = kv.baseAddress!, lows = lowsBuffer.baseAddress! - Int(GGMLGrids.iq4nl[0])
            let ntry = 7
            withScratch { L, floats in
                let weight = floats, scales = floats + 32
                var sigma2: Float = 0
                for j in 0..<superBlock { sigma2 += x[j] * x[j] }
                sigma2 *= 2 / Float(superBlock)
                let blocks = superBlock / 32
                var maxScale: Float = 0, amaxScale: Float = 0
                let v0 = values[0]
                for ib in 0..<blocks {
                    let xb = x + 32 * ib, Lb = L + 32 * ib
                    if let qw {
                        for j in 0..<32 { weight[j] = qw[32 * ib + j] * (sigma2 + xb[j] * xb[j]).squareRoot() }
                    } else {
                        for j in 0..<32 { weight[j] = xb[j] * xb[j] }
                    }
                    var amax: Float = 0, max: Float = 0
                    for j in 0..<32 where abs(xb[j]) > amax { amax = abs(xb[j]); max = xb[j] }
                    if amax < GGMLScaleSearch.groupMaxEps {
                        scales[ib] = 0
                        continue
                    }
                    if avx2 {
                        let d = wl_iq4_scale_search_avx2(xb, weight, max)
                        scales[ib] = d
                        if abs(d) > amaxScale { amaxScale = abs(d); maxScale = d }
                        continue
                    }
                    var d = -max / v0
                    var id = 1 / d
                    var sumqx: Float = 0, sumq2: Float = 0
                    for j in 0..<32 {
                        let l = Search.nearestIndex16(values, lows, id * xb[j])
                        Lb[j] = UInt8(l)
                        let q = values[l]
                        let w = weight[j]
                        sumqx += w * q * xb[j]
                        sumq2 += w * q * q
                    }
                    d = sumq2 > 0 ? sumqx / sumq2 : 0
                    var best = d * sumqx
                    // Per trial: the levels, then the products (w·q)·x and (w·q)·q element-wise (vectorized,
                    // C's operations), then the sums left to right as C adds them.
                    let q = floats + 40, px = floats + 72, pq = floats + 104
                    for itry in -ntry...ntry {
                        id = Float(itry + Int(v0)) / max
                        for j in 0..<32 { q[j] = values[Search.nearestIndex16(values, lows, id * xb[j])] }
                        for j in 0..<32 {
                            let wq = weight[j] * q[j]
                            px[j] = wq * xb[j]
                            pq[j] = wq * q[j]
                        }
                        sumqx = 0; sumq2 = 0
                        for j in 0..<32 { sumqx += px[j]; sumq2 += pq[j] }
                        if sumq2 > 0 && sumqx * sumqx > best * sumq2 {
                            d = sumqx / sumq2; best = d * sumqx
                        }
                    }
                    scales[ib] = d
                    if abs(d) > amaxScale { amaxScale = abs(d); maxScale = d }
                }
                let qsOffset: Int
                if blocks > 1 {
                    qsOffset = 8
                    let d = -maxScale / 32
                    _ = storeHalf(d, o, 0)
                    let id: Float = d != 0 ? 1 / d : 0
                    var scalesH: UInt16 = 0
                    for ib in 0..<blocks {
                        var l = Search.clamp(Search.nearestInt(id * scales[ib]), -32, 31)
                        let dl = d * Float(l)
                        let idl: Float = dl != 0 ? 1 / dl : 0
                        if avx2 {
                            wl_iq4_pack_avx2(x + 32 * ib, idl, (o + 8 + 16 * ib).assumingMemoryBound(to: UInt8.self))
                        } else {
                            for j in 0..<32 { L[32 * ib + j] = UInt8(Search.nearestIndex16(values, lows, idl * x[32 * ib + j])) }
                        }
                        l += 32
                        let low = UInt8(l & 0xF), high = UInt16(l >> 4)
                        if ib % 2 == 0 {
                            o.storeBytes(of: low, toByteOffset: 4 + ib / 2, as: UInt8.self)
                        } else {
                            let prev = o.load(fromByteOffset: 4 + ib / 2, as: UInt8.self)
                            o.storeBytes(of: prev | low << 4, toByteOffset: 4 + ib / 2, as: UInt8.self)
                        }
                        scalesH |= high << (2 * (ib % 8))
                    }
                    o.storeBytes(of: scalesH.littleEndian, toByteOffset: 2, as: UInt16.self)
                } else {
                    qsOffset = 2
                    _ = storeHalf(scales[0], o, 0)
                    let id: Float = scales[0] != 0 ? 1 / scales[0] : 0
                    if avx2 {
                        wl_iq4_pack_avx2(x, id, (o + 2).assumingMemoryBound(to: UInt8.self))
                    } else {
                        for j in 0..<32 { L[j] = UInt8(Search.nearestIndex16(values, lows, id * x[j])) }
                    }
                }
                if avx2 { return }  // the kernel stored the packed levels
                for i in 0..<(superBlock / 32) {
                    for j in 0..<16 {
                        o.storeBytes(of: L[32 * i + j] | L[32 * i + 16 + j] << 4, toByteOffset: qsOffset + 16 * i + j, as: UInt8.self)
                    }
                }
            }
          }
        }
    }
}
