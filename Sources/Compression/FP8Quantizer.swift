/// FP8 fake quantization: `scale = absmax / max` (Float32) per tensor or per row of dimension 0, then
/// `w / scale` rounded to the nearest representable FP8 value with ties to even, saturating at ±max (no
/// infinities or NaNs are produced), then multiplied back by `scale`. Equivalent to numpy's
/// `np.clip(w / scale, -max, max).astype(ml_dtypes.float8_e4m3fn / float8_e5m2).astype(np.float32) * scale`.
/// A segment whose absmax is 0 stays 0; 0 is representable, so pruned zeros stay zero.
public struct FP8Quantizer: Hashable, Sendable {
    public var format: FP8Format
    public var granularity: Granularity

    public init(format: FP8Format, granularity: Granularity = .tensor) {
        self.format = format
        self.granularity = granularity
    }

    /// Largest finite value: 448 (E4M3FN) or 57344 (E5M2).
    public static func maxValue(_ f: FP8Format) -> Float { f == .e4m3 ? 448 : 57344 }

    /// Rounds `x` to the nearest value of the format (ties to even), saturating at ±max.
    @inline(__always)
    public static func round(_ x: Float, _ f: FP8Format) -> Float {
        let (mantissaBits, minNormalExponent): (Int32, Int32) = f == .e4m3 ? (3, -6) : (2, -14)
        return round(x, mantissaBits: mantissaBits, minNormalExponent: minNormalExponent, max: maxValue(f))
    }

    /// Rounding to a float grid with `mantissaBits` stored bits and subnormals below 2^minNormalExponent:
    /// the quantum of |x| is `2^(max(e, minNormal) − mantissaBits)`; adding and subtracting 1.5·2^23 times
    /// the quantum rounds to a multiple of it, ties to even.
    @inline(__always)
    static func round(_ x: Float, mantissaBits: Int32, minNormalExponent: Int32, max m: Float) -> Float {
        let a = min(abs(x), m)
        let e = Int32(bitPattern: a.bitPattern >> 23) - 127
        let qe = max(e, minNormalExponent) - mantissaBits
        let quantum = Float(bitPattern: UInt32(bitPattern: qe + 127) << 23)
        let c = quantum * 0x1.8p23
        let r = min((a + c) - c, m)
        return Float(bitPattern: r.bitPattern | (x.bitPattern & 0x8000_0000))
    }

    /// Fake-quantizes `input` (row-major, `shape`) into `output`; with `original`, also measures the output
    /// against it (fused) and returns the metrics.
    @discardableResult
    public func fakeQuantize(_ input: UnsafeBufferPointer<Float>, shape: [Int], into output: UnsafeMutableBufferPointer<Float>,
                             measuringAgainst original: UnsafeBufferPointer<Float>? = nil) -> ErrorMetrics? {
        let layout = TensorLayout(shape: shape)
        precondition(input.count == layout.count && output.count >= layout.count)
        let segments = layout.segments(granularity)
        var scales = [Float](repeating: 0, count: segments.count)
        let fmax = Self.maxValue(format)
        scales.withUnsafeMutableBufferPointer { s in
            KernelWork.forEach(segments.count, totalWork: segments.count > 1 ? input.count : 0) { k in
                s[k] = KernelSIMD.absMax(UnsafeBufferPointer(rebasing: input[segments[k]])) / fmax
            }
        }
        let (mb, mn): (Int32, Int32) = format == .e4m3 ? (3, -6) : (2, -14)
        let pieces = KernelWork.pieces(segments)
        return KernelWork.run(pieces, totalWork: input.count, output: output, measuringAgainst: original) { piece in
            let scale = scales[piece.segment]
            if scale == 0 {
                for i in piece.range { output[i] = 0 }
                return
            }
            KernelSIMD.fakeQuantizeFP8(UnsafeBufferPointer(rebasing: input[piece.range]), output.baseAddress! + piece.range.lowerBound,
                                       scale: scale, mantissaBits: mb, minNormalExponent: mn, max: fmax)
        }
    }
}
