import CKernels
import Foundation

/// Reconstruction error of compressed weights against the originals, as mergeable sums (DESIGN.md §5), so
/// chunks can be measured on several cores and layers combined into model totals weighted by their counts.
///
/// Sums are kept in Double. Within a chunk, each lane of an 8-wide vector sums 8 consecutive products in
/// Float32 (a relative rounding error below 1e-6, far inside what the metrics are read for) before the
/// lane sums are added in Double; differences `w − ŵ` are taken in Float32 (exact whenever ŵ is within a
/// factor of 2 of w, by Sterbenz's lemma; otherwise rounded once).
///
/// Chunks are what the quantizer measures as one piece: the integer quantizer measures each run of a tensor in
/// pieces of whole groups up to 16 Ki values (`TensorLayout.measuringPieces`), so that groups of 32 cost what
/// groups of 128 cost and every path (portable, AVX2, stored BF16, the solver's many-option menu) gives the same
/// sums bit for bit.
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

    /// Metrics from a C kernel's outputs: `sums` in the kernels' order (Σw², Σ(w−ŵ)², Σwŵ, Σŵ²).
    init(kernelSums sums: (Double, Double, Double, Double), maxError: Double, count: Int64, zeros: Int64) {
        self.count = Int(count)
        sumSquares = sums.0
        sumSquaredError = sums.1
        sumProducts = sums.2
        sumSquaresReconstructed = sums.3
        maxAbsError = maxError
        self.zeros = Int(zeros)
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
        accumulate(original: w, reconstructed: h, avx2: KernelDispatch.avx2)
    }

    /// `accumulate` with the AVX2 kernel (`wl_error_sums_avx2`, the same sums in the same order) or the
    /// portable loop below.
    mutating func accumulate(original w: UnsafeBufferPointer<Float>, reconstructed h: UnsafeBufferPointer<Float>, avx2: Bool) {
        precondition(w.count == h.count)
        let n = w.count
        guard n > 0 else { return }
        let pw = w.baseAddress!, ph = h.baseAddress!
        if avx2 {
            var sums = (0.0, 0.0, 0.0, 0.0)
            var maxErr: Float = 0
            var zeroCount: Int64 = 0
            withUnsafeMutableBytes(of: &sums) { wl_error_sums_avx2(pw, ph, n, $0.baseAddress!.assumingMemoryBound(to: Double.self), &maxErr, &zeroCount) }
            count += n
            sumSquares += sums.0
            sumSquaredError += sums.1
            sumProducts += sums.2
            sumSquaresReconstructed += sums.3
            maxAbsError = max(maxAbsError, Double(maxErr))
            zeros += Int(zeroCount)
            return
        }
        typealias V = SIMD8<Float>
        var sww = 0.0, see = 0.0, swh = 0.0, shh = 0.0
        var maxErr: Float = 0
        var zeroCount = 0
        var vmax = V(), vzero = SIMD8<Int32>()
        var a = 0
        // Blocks of 64: each lane sums 8 products in Float32, then the 8 lane sums are added in Double.
        while a + 64 <= n {
            var aww = V(), aee = V(), awh = V(), ahh = V()
            var i = a
            while i < a + 64 {
                let wf = KernelSIMD.load(pw + i), hf = KernelSIMD.load(ph + i)
                let e = wf - hf
                aww += wf * wf
                aee += e * e
                awh += wf * hf
                ahh += hf * hf
                let ae = KernelSIMD.abs(e)
                vmax = vmax.replacing(with: ae, where: ae .> vmax)
                vzero &+= SIMD8<Int32>().replacing(with: 1, where: hf .== 0)
                i += 8
            }
            for l in 0..<8 {
                sww += Double(aww[l]); see += Double(aee[l]); swh += Double(awh[l]); shh += Double(ahh[l])
            }
            a += 64
            if a & 0xFFFF == 0 { zeroCount += Int(vzero.wrappedSum()); vzero = SIMD8<Int32>() }
        }
        while a < n {
            let wd = Double(pw[a]), hd = Double(ph[a])
            let e = pw[a] - ph[a]
            maxErr = max(maxErr, abs(e))
            zeroCount += ph[a] == 0 ? 1 : 0
            let ed = Double(e)
            sww += wd * wd; see += ed * ed; swh += wd * hd; shh += hd * hd
            a += 1
        }
        zeroCount += Int(vzero.wrappedSum())
        maxErr = max(maxErr, vmax.max())
        count += n
        sumSquares += sww
        sumSquaredError += see
        sumProducts += swh
        sumSquaresReconstructed += shh
        maxAbsError = max(maxAbsError, Double(maxErr))
        zeros += zeroCount
    }

    /// The pieces `measure` (and `unchanged`, which must give its bits) cuts whole buffers into.
    static let measuringPieceSize = 1 << 16

    /// Metrics of two whole buffers, measured in parallel pieces and merged.
    public static func measure(original: UnsafeBufferPointer<Float>, reconstructed: UnsafeBufferPointer<Float>) -> ErrorMetrics {
        precondition(original.count == reconstructed.count)
        let pieces = KernelWork.pieces([0..<original.count], pieceSize: measuringPieceSize)
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

    /// `measure(original: values, reconstructed: values)`, bit for bit, reading each value once: Σw², Σwŵ and
    /// Σŵ² are one sum (the same Float32 products in the same order) and the error is zero, so an unchanged
    /// layer (a menu's "keep" option) costs one pass instead of a measure and a zero count. Nil without the
    /// AVX2 kernel or when a value is not finite (w − w is then NaN, and `measure` carries it).
    static func unchanged(_ values: UnsafeBufferPointer<Float>, avx2: Bool = KernelDispatch.avx2) -> ErrorMetrics? {
        guard avx2 else { return nil }
        let pieces = KernelWork.pieces([0..<values.count], pieceSize: measuringPieceSize)
        var parts = [ErrorMetrics?](repeating: nil, count: pieces.count)
        parts.withUnsafeMutableBufferPointer { p in
            KernelWork.forEach(pieces.count, totalWork: values.count) { k in
                let r = pieces[k].range
                var sum = 0.0
                var zeros: Int64 = 0
                var finite: Int32 = 0
                wl_sum_squares_avx2(values.baseAddress! + r.lowerBound, r.count, &sum, &zeros, &finite)
                guard finite != 0 else { return }
                // `ErrorMetrics(original:reconstructed:)` of the piece: its sums added to 0.
                p[k] = ErrorMetrics(kernelSums: (0.0 + sum, 0, 0.0 + sum, 0.0 + sum), maxError: 0,
                                    count: Int64(r.count), zeros: zeros)
            }
        }
        var total = ErrorMetrics()
        for part in parts {
            guard let part else { return nil }
            total = total + part
        }
        return total
    }
}

private extension Double {
    var log10: Double { Foundation.log10(self) }
}
