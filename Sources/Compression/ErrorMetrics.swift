import Foundation

/// Reconstruction error of compressed weights against the originals, as mergeable sums (DESIGN.md §5), so
/// chunks can be measured on several cores and layers combined into model totals weighted by their counts.
///
/// Differences `w − ŵ` are taken in Double (exact for nearby Float32 values). Every sum is accumulated in
/// Double: each block of up to 1024 values is summed lane-wise in
/// `SIMD4<Double>` accumulators, then added to the running totals.
public struct ErrorMetrics: Hashable, Sendable {
    /// n: values measured.
    public var count: Int = 0
    /// Σw² of the originals.
    public var sumSquares: Double = 0
    /// Σ(w − ŵ)².
    public var sumSquaredError: Double = 0
    /// max |w − ŵ|.
    public var maxAbsError: Double = 0
    /// Σw·ŵ.
    public var sumProducts: Double = 0
    /// Σŵ².
    public var sumSquaresReconstructed: Double = 0
    /// Values of ŵ that are exactly 0.
    public var zeros: Int = 0

    public init() {}

    /// Metrics of one pair of buffers (of equal length).
    public init(original: UnsafeBufferPointer<Float>, reconstructed: UnsafeBufferPointer<Float>) {
        accumulate(original: original, reconstructed: reconstructed)
    }

    /// Mean squared error (0 when empty).
    public var mse: Double { count == 0 ? 0 : sumSquaredError / Double(count) }

    /// `10·log10(Σw² / Σ(w−ŵ)²)`: `+∞` when the reconstruction is exact (reports print null), `−∞` when the
    /// originals are all zero but the reconstruction is not.
    public var sqnrDB: Double {
        if sumSquaredError == 0 { return .infinity }
        if sumSquares == 0 { return -.infinity }
        return 10 * ((sumSquares / sumSquaredError)).log10
    }

    /// `Σwŵ / sqrt(Σw²·Σŵ²)`; 1 when both are all zero, 0 when exactly one is.
    public var cosineSimilarity: Double {
        if sumSquares == 0 && sumSquaresReconstructed == 0 { return 1 }
        if sumSquares == 0 || sumSquaresReconstructed == 0 { return 0 }
        return sumProducts / (sumSquares.squareRoot() * sumSquaresReconstructed.squareRoot())
    }

    /// Zeros of the compressed weights over n (0 when empty).
    public var sparsity: Double { count == 0 ? 0 : Double(zeros) / Double(count) }

    /// Adds another chunk's (or layer's) sums.
    public mutating func merge(_ other: ErrorMetrics) {
        count += other.count
        sumSquares += other.sumSquares
        sumSquaredError += other.sumSquaredError
        maxAbsError = max(maxAbsError, other.maxAbsError)
        sumProducts += other.sumProducts
        sumSquaresReconstructed += other.sumSquaresReconstructed
        zeros += other.zeros
    }

    public static func + (a: ErrorMetrics, b: ErrorMetrics) -> ErrorMetrics {
        var r = a
        r.merge(b)
        return r
    }

    /// Adds the sums of one chunk.
    public mutating func accumulate(original w: UnsafeBufferPointer<Float>, reconstructed h: UnsafeBufferPointer<Float>) {
        precondition(w.count == h.count)
        let n = w.count
        guard n > 0 else { return }
        let pw = UnsafeRawPointer(w.baseAddress!), ph = UnsafeRawPointer(h.baseAddress!)
        var maxErr: Double = 0
        var zeroCount = 0
        var a = 0
        while a < n {
            let end = min(a + 1024, n)
            var sww = SIMD4<Double>(), see = SIMD4<Double>(), swh = SIMD4<Double>(), shh = SIMD4<Double>()
            var vmax = SIMD4<Double>(), vzero = SIMD4<Int32>()
            var i = a
            while i + 4 <= end {
                let wf = pw.loadUnaligned(fromByteOffset: 4 * i, as: SIMD4<Float>.self)
                let hf = ph.loadUnaligned(fromByteOffset: 4 * i, as: SIMD4<Float>.self)
                vzero &-= unsafeBitCast(hf .== SIMD4<Float>(), to: SIMD4<Int32>.self)
                let wd = SIMD4<Double>(Double(wf[0]), Double(wf[1]), Double(wf[2]), Double(wf[3]))
                let hd = SIMD4<Double>(Double(hf[0]), Double(hf[1]), Double(hf[2]), Double(hf[3]))
                let ed = wd - hd
                vmax = pointwiseMax(vmax, pointwiseMax(ed, -ed))
                sww += wd * wd
                see += ed * ed
                swh += wd * hd
                shh += hd * hd
                i += 4
            }
            while i < end {
                let wv = w[i], hv = h[i]
                zeroCount += hv == 0 ? 1 : 0
                let wd = Double(wv), hd = Double(hv), ed = wd - hd
                maxErr = max(maxErr, abs(ed))
                sww[0] += wd * wd; see[0] += ed * ed; swh[0] += wd * hd; shh[0] += hd * hd
                i += 1
            }
            sumSquares += sww.sum()
            sumSquaredError += see.sum()
            sumProducts += swh.sum()
            sumSquaresReconstructed += shh.sum()
            maxErr = max(maxErr, vmax.max())
            zeroCount += Int(vzero.wrappedSum())
            a = end
        }
        count += n
        maxAbsError = max(maxAbsError, maxErr)
        zeros += zeroCount
    }

    /// Metrics of two whole buffers, measured in parallel pieces and merged.
    public static func measure(original: UnsafeBufferPointer<Float>, reconstructed: UnsafeBufferPointer<Float>) -> ErrorMetrics {
        precondition(original.count == reconstructed.count)
        let pieces = KernelWork.pieces([0..<original.count], pieceSize: 1 << 16)
        var parts = [ErrorMetrics](repeating: ErrorMetrics(), count: pieces.count)
        parts.withUnsafeMutableBufferPointer { p in
            KernelWork.forEach(pieces.count, totalWork: original.count) { k in
                let r = pieces[k].range
                p[k] = ErrorMetrics(original: UnsafeBufferPointer(rebasing: original[r]),
                                    reconstructed: UnsafeBufferPointer(rebasing: reconstructed[r]))
            }
        }
        return parts.reduce(ErrorMetrics(), +)
    }
}

private extension Double {
    var log10: Double { Foundation.log10(self) }
}
