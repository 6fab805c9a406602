import CKernels
/// Summary statistics of a tensor's values, accumulated in Double and mergeable across chunks, so chunks can
/// be scanned on several cores in any order. Moments use the pairwise-update formulas of Chan et al. and
/// Pébay (central moments M2…M4 per chunk, merged exactly), which stay accurate when the mean is far from 0.
///
/// NaN and ±Inf are counted but kept out of min/max/mean/std/kurtosis, which describe the finite values.
public struct Statistics: Sendable, Equatable {
    /// Finite values seen.
    public private(set) var count: Int = 0
    public private(set) var min: Double = .infinity
    public private(set) var max: Double = -.infinity
    public private(set) var mean: Double = 0
    /// Central moment sums Σ(x−mean)^k for k = 2, 3, 4.
    private(set) var m2: Double = 0
    private(set) var m3: Double = 0
    private(set) var m4: Double = 0
    public private(set) var zeros: Int = 0
    public private(set) var nans: Int = 0
    public private(set) var infinities: Int = 0

    public init() {}

    public var absmax: Double { count == 0 ? 0 : Swift.max(-min, max) }
    /// Population variance (numpy's default, ddof = 0).
    public var variance: Double { count == 0 ? 0 : m2 / Double(count) }
    public var std: Double { variance.squareRoot() }
    /// Excess kurtosis (0 for a normal distribution; scipy's default `fisher=True, bias=True`).
    public var kurtosis: Double {
        guard count > 0, m2 > 0 else { return 0 }
        let n = Double(count)
        return n * m4 / (m2 * m2) - 3
    }
    /// Fraction of all values (finite or not) that are exactly zero.
    public var zeroFraction: Double {
        let all = count + nans + infinities
        return all == 0 ? 0 : Double(zeros) / Double(all)
    }

    /// Adds one chunk of values.
    public mutating func add(_ values: UnsafeBufferPointer<Float>) {
        add(values, avx2: KernelDispatch.avx2)
    }

    /// Adds one chunk of values with the AVX2 or the portable kernels (equal results); with `patterns`, also
    /// counts every value's high 16 bits there (BF16 bit patterns, `BFloat16Analysis`), fused into the scan.
    mutating func add(_ values: UnsafeBufferPointer<Float>, avx2: Bool, patterns: UnsafeMutablePointer<UInt32>? = nil) {
        var chunk = Statistics()
        chunk.scan(values, avx2: avx2, patterns: patterns)
        merge(chunk)
    }

    /// Combines the statistics of two disjoint sets of values.
    public mutating func merge(_ o: Statistics) {
        zeros += o.zeros
        nans += o.nans
        infinities += o.infinities
        guard o.count > 0 else { return }
        guard count > 0 else {
            let (z, n, i) = (zeros, nans, infinities)
            self = o
            (zeros, nans, infinities) = (z, n, i)
            return
        }
        let na = Double(count), nb = Double(o.count), n = na + nb
        let delta = o.mean - mean
        let d2 = delta * delta, d3 = d2 * delta, d4 = d2 * d2
        let m4n = m4 + o.m4 + d4 * na * nb * (na * na - na * nb + nb * nb) / (n * n * n)
            + 6 * d2 * (na * na * o.m2 + nb * nb * m2) / (n * n) + 4 * delta * (na * o.m3 - nb * m3) / n
        let m3n = m3 + o.m3 + d3 * na * nb * (na - nb) / (n * n) + 3 * delta * (na * o.m2 - nb * m2) / n
        let m2n = m2 + o.m2 + d2 * na * nb / n
        mean += delta * nb / n
        (m2, m3, m4) = (m2n, m3n, m4n)
        count += o.count
        min = Swift.min(min, o.min)
        max = Swift.max(max, o.max)
    }

    /// Two passes over a chunk that fits in cache: sums and extremes, then central moments around the
    /// chunk's own mean. The common all-finite case runs branch-free loops the optimiser vectorises.
    /// Values per block of the scan: `add` merges the blocks' statistics in order, so statistics added block
    /// by block and merged in the same order are equal to those of one `add` of all the values.
    static let blockElements = 16_384

    private mutating func scan(_ v: UnsafeBufferPointer<Float>, avx2: Bool, patterns: UnsafeMutablePointer<UInt32>?) {
        let block = Self.blockElements
        var start = 0
        if let patterns, !avx2, let base = v.baseAddress {
            let bits = UnsafeRawPointer(base).assumingMemoryBound(to: UInt32.self)
            for i in 0..<v.count { patterns[Int(bits[i] >> 16)] &+= 1 }
        }
        while start < v.count {
            let part = UnsafeBufferPointer(rebasing: v[start..<Swift.min(v.count, start + block)])
            var s = Statistics()
            let finite = avx2 ? s.scanFiniteAVX2(part, patterns: patterns) : s.scanFinite(part)
            if !finite {
                s = Statistics()
                s.scanWithNonFinite(part)
            }
            merge(s)
            start += block
        }
    }

    /// The first pass's lane reductions and its scalar tail (the values after the last whole vector), shared
    /// by the Swift and AVX2 scans so both reduce in the same order.
    private static func firstPassTail(_ lo8: SIMD8<Float>, _ hi8: SIMD8<Float>, _ sum8: SIMD8<Double>, _ zero8: SIMD8<Int32>,
                                      base: UnsafePointer<Float>, from start: Int, to n: Int) -> (Float, Float, Double, Int) {
        var lo = lo8.min(), hi = hi8.max()
        var sum = sum8.sum()
        var z = Int(zero8.wrappedSum())
        for i in start..<n {
            let x = base[i]
            lo = Swift.min(lo, x)
            hi = Swift.max(hi, x)
            sum += Double(x)
            z += x == 0 ? 1 : 0
        }
        return (lo, hi, sum, z)
    }

    /// Returns false (leaving garbage) when the block holds a NaN or an infinity. Eight lanes at a time in
    /// explicit SIMD, since the compiler may not reorder Double sums on its own.
    private mutating func scanFinite(_ v: UnsafeBufferPointer<Float>) -> Bool {
        guard let base = v.baseAddress, !v.isEmpty else { return true }
        let n = v.count, vectors = n / 8
        let raw = UnsafeRawPointer(base)
        var lo8 = SIMD8<Float>(repeating: base[0]), hi8 = lo8
        var sum8 = SIMD8<Double>.zero
        var zero8 = SIMD8<Int32>.zero
        for k in 0..<vectors {
            let x = raw.loadUnaligned(fromByteOffset: 32 * k, as: SIMD8<Float>.self)
            lo8 = lo8.replacing(with: x, where: x .< lo8)   // pointwiseMin/Max are not specialised
            hi8 = hi8.replacing(with: x, where: x .> hi8)
            sum8 += SIMD8<Double>(x)
            zero8 &+= SIMD8<Int32>(repeating: 0).replacing(with: 1, where: x .== 0)
        }
        let (lo, hi, sum, z) = Self.firstPassTail(lo8, hi8, sum8, zero8, base: base, from: 8 * vectors, to: n)
        guard sum.isFinite, lo.isFinite, hi.isFinite else { return false }
        let mu = sum / Double(n)
        let mu8 = SIMD8<Double>(repeating: mu)
        var a1 = SIMD8<Double>.zero, a2 = a1, a3 = a1, a4 = a1
        for k in 0..<vectors {
            let d = SIMD8<Double>(raw.loadUnaligned(fromByteOffset: 32 * k, as: SIMD8<Float>.self)) - mu8
            let dd = d * d
            a1 += d
            a2 += dd
            a3 += dd * d
            a4 += dd * dd
        }
        finishScan(UnsafeBufferPointer(rebasing: v[(8 * vectors)...]), n: n, mu: mu, lanes: (a1, a2, a3, a4),
                   lo: lo, hi: hi, zeros: z)
        return true
    }

    /// The second pass's scalar tail and the moments from its lane sums, shared by the Swift and the AVX2 scan:
    /// one copy of this arithmetic is what keeps the two equal bit for bit.
    /// `tail` holds the values after the last whole vector; `n` counts all of the block's values.
    private mutating func finishScan(_ tail: UnsafeBufferPointer<Float>, n: Int, mu: Double,
                                     lanes: (SIMD8<Double>, SIMD8<Double>, SIMD8<Double>, SIMD8<Double>),
                                     lo: Float, hi: Float, zeros z: Int) {
        var s1 = lanes.0.sum(), s2 = lanes.1.sum(), s3 = lanes.2.sum(), s4 = lanes.3.sum()
        for x in tail {
            let d = Double(x) - mu
            let dd = d * d
            s1 += d
            s2 += dd
            s3 += dd * d
            s4 += dd * dd
        }
        // s1 is the rounding residue of the first pass; folding it in makes the mean exact to ~1 ulp.
        let count = Double(n)
        mean = mu + s1 / count
        m2 = s2 - s1 * s1 / count
        m3 = s3
        m4 = s4
        self.count = n
        min = Double(lo)
        max = Double(hi)
        zeros = z
    }

    /// Four 8-lane vectors filled by a C kernel that writes each through a pointer (the AVX2 passes' lanes).
    private static func kernelLanes<A: SIMD, B: SIMD, C: SIMD, D: SIMD>(
        _ kernel: (UnsafeMutablePointer<A.Scalar>, UnsafeMutablePointer<B.Scalar>, UnsafeMutablePointer<C.Scalar>,
                   UnsafeMutablePointer<D.Scalar>) -> Void
    ) -> (A, B, C, D) {
        var a = A(), b = B(), c = C(), d = D()
        withUnsafeMutableBytes(of: &a) { pa in
            withUnsafeMutableBytes(of: &b) { pb in
                withUnsafeMutableBytes(of: &c) { pc in
                    withUnsafeMutableBytes(of: &d) { pd in
                        kernel(pa.baseAddress!.assumingMemoryBound(to: A.Scalar.self), pb.baseAddress!.assumingMemoryBound(to: B.Scalar.self),
                               pc.baseAddress!.assumingMemoryBound(to: C.Scalar.self), pd.baseAddress!.assumingMemoryBound(to: D.Scalar.self))
                    }
                }
            }
        }
        return (a, b, c, d)
    }

    /// `scanFinite` with its two lane loops in AVX2 (`wl_stats_pass1_avx2`, `wl_stats_pass2_avx2`): the lane
    /// values are the same, and the reductions and tails below are the same Swift code, so the result is equal
    /// bit for bit. Also counts BF16 patterns into `patterns` when given (every value of the block, once).
    private mutating func scanFiniteAVX2(_ v: UnsafeBufferPointer<Float>, patterns: UnsafeMutablePointer<UInt32>?) -> Bool {
        guard let base = v.baseAddress, !v.isEmpty else { return true }
        let n = v.count, vectors = n / 8
        let (lo8, hi8, sum8, zero8): (SIMD8<Float>, SIMD8<Float>, SIMD8<Double>, SIMD8<Int32>) =
            Self.kernelLanes { wl_stats_pass1_avx2(base, n, $0, $1, $2, $3, patterns) }
        let (lo, hi, sum, z) = Self.firstPassTail(lo8, hi8, sum8, zero8, base: base, from: 8 * vectors, to: n)
        guard sum.isFinite, lo.isFinite, hi.isFinite else { return false }
        let mu = sum / Double(n)
        let lanes: (SIMD8<Double>, SIMD8<Double>, SIMD8<Double>, SIMD8<Double>) =
            Self.kernelLanes { wl_stats_pass2_avx2(base, n, mu, $0, $1, $2, $3) }
        finishScan(UnsafeBufferPointer(rebasing: v[(8 * vectors)...]), n: n, mu: mu, lanes: lanes,
                   lo: lo, hi: hi, zeros: z)
        return true
    }

    /// Adds one chunk of little-endian BF16 patterns with the AVX2 kernels (callers check `KernelDispatch.avx2`),
    /// counting every pattern into `patterns`: equal to `add` of their decoded floats with the same table, since
    /// the blocks, lanes, reductions and tails are the same (`wl_stats_bf16_pass1_avx2`/`pass2` decode each
    /// vector as `ElementDecoder` does). Reads the stored bytes, 2 a value, instead of a decoded Float copy.
    mutating func add(bfloat16 stored: UnsafeBufferPointer<UInt16>, patterns: UnsafeMutablePointer<UInt32>) {
        var chunk = Statistics()
        var start = 0
        var decoded: UnsafeMutableBufferPointer<Float>? = nil
        defer { decoded?.deallocate() }
        while start < stored.count {
            let part = UnsafeBufferPointer(rebasing: stored[start..<Swift.min(stored.count, start + Self.blockElements)])
            var s = Statistics()
            if !s.scanFiniteBFloat16AVX2(part, patterns: patterns) {
                // A NaN or an infinity in this block (rare): the general per-value path on its decoded floats,
                // and the pattern counts that pass 2 would have made.
                let floats = decoded ?? .allocate(capacity: Self.blockElements)
                decoded = floats
                for (i, h) in part.enumerated() {
                    floats[i] = Float(bitPattern: UInt32(h) << 16)
                    patterns[Int(h)] &+= 1
                }
                s = Statistics()
                s.scanWithNonFinite(UnsafeBufferPointer(rebasing: floats[0..<part.count]))
            }
            chunk.merge(s)
            start += Self.blockElements
        }
        merge(chunk)
    }

    /// `scanFiniteAVX2` on BF16 patterns; the scalar tails run on the tail's decoded floats. Counts the block's
    /// patterns only when it is finite (pass 2 counts them); otherwise the caller does.
    private mutating func scanFiniteBFloat16AVX2(_ v: UnsafeBufferPointer<UInt16>, patterns: UnsafeMutablePointer<UInt32>) -> Bool {
        guard let base = v.baseAddress, !v.isEmpty else { return true }
        let n = v.count, vectors = n / 8
        var tail = SIMD8<Float>()
        for i in (8 * vectors)..<n { tail[i - 8 * vectors] = Float(bitPattern: UInt32(base[i]) << 16) }
        let (lo8, hi8, sum8, zero8): (SIMD8<Float>, SIMD8<Float>, SIMD8<Double>, SIMD8<Int32>) =
            Self.kernelLanes { wl_stats_bf16_pass1_avx2(base, n, $0, $1, $2, $3) }
        return withUnsafeBytes(of: &tail) { t in
            let tailValues = UnsafeBufferPointer(start: t.baseAddress!.assumingMemoryBound(to: Float.self), count: n - 8 * vectors)
            let (lo, hi, sum, z) = Self.firstPassTail(lo8, hi8, sum8, zero8, base: tailValues.baseAddress!, from: 0, to: tailValues.count)
            guard sum.isFinite, lo.isFinite, hi.isFinite else { return false }
            let mu = sum / Double(n)
            let lanes: (SIMD8<Double>, SIMD8<Double>, SIMD8<Double>, SIMD8<Double>) =
                Self.kernelLanes { wl_stats_bf16_pass2_avx2(base, n, mu, $0, $1, $2, $3, patterns) }
            finishScan(tailValues, n: n, mu: mu, lanes: lanes, lo: lo, hi: hi, zeros: z)
            return true
        }
    }

    private mutating func scanWithNonFinite(_ v: UnsafeBufferPointer<Float>) {
        for x in v {
            if x.isNaN { nans += 1; continue }
            if x.isInfinite { infinities += 1; continue }
            var one = Statistics()
            one.count = 1
            one.mean = Double(x)
            one.min = Double(x)
            one.max = Double(x)
            one.zeros = x == 0 ? 1 : 0
            merge(one)
        }
    }
}
