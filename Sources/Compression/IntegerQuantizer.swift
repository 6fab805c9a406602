import CKernels
/// One uniform integer grid: `ŵ = (q − zero)·scale` with integer `q ∈ [qmin, qmax]`. A scale of 0 (an
/// all-zero range, or a clipping range of 0) reconstructs every value as 0, so an all-zero group stays exact.
public struct IntegerGrid: Hashable, Sendable {
    public var scale: Float
    public var zero: Float
    public var qmin: Float
    public var qmax: Float

    /// Symmetric b-bit grid for a clipping magnitude `c`: `qmax = 2^(b-1) − 1`, `scale = c / qmax` (Float32,
    /// as torch's fake-quantize computes it), `q ∈ [−qmax−1, qmax]`, zero point 0.
    public static func symmetric(bits: Int, clip c: Float) -> IntegerGrid {
        let qmax = Float((1 << (bits - 1)) - 1)
        return IntegerGrid(scale: c / qmax, zero: 0, qmin: -qmax - 1, qmax: qmax)
    }

    /// Asymmetric b-bit grid for a range `[lo, hi]`, first widened to contain 0 (`lo = min(lo, 0)`,
    /// `hi = max(hi, 0)`): `scale = (hi − lo)/(2^b − 1)`, `zero = round_half_even(−lo/scale)`, all in Float32.
    public static func asymmetric(bits: Int, lo: Float, hi: Float) -> IntegerGrid {
        let lo = min(lo, 0), hi = max(hi, 0)
        let levels = Float((1 << bits) - 1)
        let scale = (hi - lo) / levels
        let zero = scale == 0 ? 0 : roundHalfEven(-lo / scale)
        return IntegerGrid(scale: scale, zero: zero, qmin: 0, qmax: levels)
    }

    /// The integer code of `w`: `clamp(round_half_even(w/scale) + zero, qmin, qmax)`.
    @inline(__always)
    public func code(_ w: Float) -> Float {
        // clamp(round(t) + z, a, b) == round(clamp(t, a − z, b − z)) + z for integers a, b, z; clamping first
        // keeps the fast rounding in range.
        let t = min(max(w / scale, qmin - zero), qmax - zero)
        return roundHalfEven(t) + zero
    }

    /// `(code(w) − zero)·scale`, or 0 when the scale is 0.
    @inline(__always)
    public func fakeQuantize(_ w: Float) -> Float {
        scale == 0 ? 0 : (code(w) - zero) * scale
    }

    /// Fake-quantizes a run of values (8 lanes at a time, `KernelSIMD.fakeQuantize`).
    public func fakeQuantize(_ input: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>) {
        precondition(output.count >= input.count)
        let n = input.count
        guard n > 0 else { return }
        let o = output.baseAddress!
        if scale == 0 {
            for k in 0..<n { o[k] = 0 }
            return
        }
        // (round(clamp(t, a, b)) + zero − zero)·s == round(clamp(t, a, b))·s exactly (small integers).
        KernelSIMD.fakeQuantize(input, o, scale: scale, lo: qmin - zero, hi: qmax - zero)
    }
}

/// Uniform integer fake quantization, 2–8 bits (DESIGN.md §5), with one grid per tensor, per row of
/// dimension 0, or per run of `g` along the last dimension, and the grid's range from min/max, a
/// percentile, or an MSE search (`ClippingSearch`).
///
/// Arithmetic is Float32 throughout (scale, zero point, division, rounding, multiplication), as in torch's
/// `fake_quantize_per_*_affine`, except that `w / scale` is a true division (not `w · (1/scale)`), as DESIGN
/// writes it. The numpy reference (`Tests/Fixtures/make_compression.py`) uses the same float32 steps.
/// Note `(q − zero)·scale` equals `round(clamp(w/scale)))·scale` exactly, so an input 0 reconstructs as 0.
public struct IntegerQuantizer: Hashable, Sendable {
    public var bits: Int
    public var symmetric: Bool
    public var granularity: Granularity
    public var clip: Clipping

    public init(bits: Int, symmetric: Bool, granularity: Granularity, clip: Clipping = .minmax) {
        precondition(IntCodec.bits.contains(bits), "integer quantization takes \(IntCodec.bits.lowerBound)–\(IntCodec.bits.upperBound) bits")
        self.bits = bits
        self.symmetric = symmetric
        self.granularity = granularity
        self.clip = clip
    }

    /// The grid of one segment (a tensor, row or group) under this quantizer's clipping rule.
    public func grid(for values: UnsafeBufferPointer<Float>) -> IntegerGrid {
        switch clip {
        case .minmax:
            let (lo, hi) = ClippingSearch.minMax(values)
            return symmetric ? .symmetric(bits: bits, clip: max(-lo, hi)) : .asymmetric(bits: bits, lo: lo, hi: hi)
        case .percentile(let p):
            return ClippingSearch.percentileGrid(values, bits: bits, symmetric: symmetric, percentile: p)
        case .mse:
            return ClippingSearch.mseGrid(values, bits: bits, symmetric: symmetric).grid
        }
    }

    /// The grids of every segment of a tensor, in `TensorLayout.segments(granularity)` order.
    public func grids(_ values: UnsafeBufferPointer<Float>, shape: [Int]) -> [IntegerGrid] {
        let segments = TensorLayout(shape: shape).segments(granularity)
        var grids = [IntegerGrid](repeating: IntegerGrid(scale: 0, zero: 0, qmin: 0, qmax: 0), count: segments.count)
        grids.withUnsafeMutableBufferPointer { g in
            KernelWork.forEach(segments.count, totalWork: segments.count > 1 ? values.count : 0) { s in
                g[s] = grid(for: UnsafeBufferPointer(rebasing: values[segments[s]]))
            }
        }
        return grids
    }

    /// Quantizes then dequantizes `input` (row-major, `shape`) into `output`. With `original`, also measures
    /// the output against it piece by piece (fused, while the piece is in cache) and returns the metrics.
    @discardableResult
    public func fakeQuantize(_ input: UnsafeBufferPointer<Float>, shape: [Int], into output: UnsafeMutableBufferPointer<Float>,
                             measuringAgainst original: UnsafeBufferPointer<Float>? = nil) -> ErrorMetrics? {
        fakeQuantize(input, shape: shape, into: output, measuringAgainst: original, fused: KernelDispatch.avx2)
    }

    /// `fakeQuantize`, with `fused` choosing the one-call AVX2 kernel for min/max grids (equal results).
    func fakeQuantize(_ input: UnsafeBufferPointer<Float>, shape: [Int], into output: UnsafeMutableBufferPointer<Float>,
                      measuringAgainst original: UnsafeBufferPointer<Float>?, fused: Bool) -> ErrorMetrics? {
        let layout = TensorLayout(shape: shape)
        precondition(input.count == layout.count && output.count >= layout.count)
        if fused, clip == .minmax, let runs = Self.runs(layout, granularity) {
            return fusedMinMax(input, runs: runs, into: output, measuringAgainst: original)
        }
        let grids = grids(input, shape: shape)
        let pieces = layout.measuringPieces(granularity)
        // A piece's segments are consecutive: one grid per group (a group's end, or the piece's end).
        let groupLength: Int
        switch granularity {
        case .group(let g): groupLength = g
        default: groupLength = Int.max
        }
        return KernelWork.run(pieces, totalWork: input.count, output: output, measuringAgainst: original) { piece in
            var a = piece.range.lowerBound, segment = piece.segment
            while a < piece.range.upperBound {
                let inRun = a % layout.lastDimension
                let b = groupLength == .max ? piece.range.upperBound
                    : min(piece.range.upperBound, a - inRun + min(layout.lastDimension, (inRun / groupLength + 1) * groupLength))
                grids[segment].fakeQuantize(UnsafeBufferPointer(rebasing: input[a..<b]),
                                            into: UnsafeMutableBufferPointer(rebasing: output[a..<b]))
                a = b
                segment += 1
            }
        }
    }

    /// The segments of `granularity` as (runs, run length, group length) when they are runs of groups the
    /// fused kernel walks (rows, or groups along the last dimension); nil for one grid per tensor.
    static func runs(_ layout: TensorLayout, _ granularity: Granularity) -> (count: Int, length: Int, group: Int)? {
        guard layout.count > 0 else { return nil }
        switch granularity {
        case .tensor: return nil
        case .channel: return (layout.rows, layout.rowLength, layout.rowLength)
        case .group(let g): return (layout.count / layout.lastDimension, layout.lastDimension, g)
        }
    }

    /// `fakeQuantize` of little-endian BF16 values measured against themselves (no pruning), from their stored
    /// 2-byte patterns, without the reconstruction: one AVX2 call decodes each group into a small buffer while
    /// it is in cache (`wl_int_minmax_runs_bf16_avx2`), so a piece is read once as bytes instead of being
    /// decoded to Float, read back and written out again. Returns the metrics `fakeQuantize(_:…measuringAgainst:)`
    /// gives (the same kernel arithmetic) and the values' exact zeros, or nil where that path does not apply:
    /// no AVX2, grids not from min/max, or one grid for the whole tensor.
    ///
    /// `combined` runs the one-pass many-option kernel with this one option where it applies
    /// (`measureBFloat16(_:raw:shape:)`): equal numbers, except that a NaN sum's payload may differ (see
    /// IntMenuKernelTests), so `report` keeps the one-option kernel, whose NaNs the Float32 kernel's equal.
    func measureBFloat16(_ raw: UnsafeRawBufferPointer, shape: [Int], combined: Bool = false) -> (metrics: ErrorMetrics, zeros: Int)? {
        if combined, let one = Self.measureBFloat16([self], raw: raw, shape: shape) { return one[0] }
        return measureBFloat16(raw, shape: shape, ranges: nil)
    }

    /// `measureBFloat16` that also hands back each group's (lo, hi), the range its grid came from
    /// (`ClippingSearch.minMax` of the group, bit for bit), in `runs(_:_:)` order, run after run: what the workbench
    /// draws its grid from (`LevelFinder.storedBFloat16`), found in the same pass instead of another one.
    func measureBFloat16Ranges(_ raw: UnsafeRawBufferPointer, shape: [Int]) -> (metrics: ErrorMetrics, zeros: Int, lo: [Float], hi: [Float])? {
        guard let runs = Self.runs(TensorLayout(shape: shape), granularity) else { return nil }
        let count = runs.count * ((runs.length + runs.group - 1) / runs.group)
        var lo = [Float](repeating: 0, count: count), hi = lo
        let measured = lo.withUnsafeMutableBufferPointer { l in
            hi.withUnsafeMutableBufferPointer { h in measureBFloat16(raw, shape: shape, ranges: (l.baseAddress!, h.baseAddress!)) }
        }
        guard let measured else { return nil }
        return (measured.metrics, measured.zeros, lo, hi)
    }

    private func measureBFloat16(_ raw: UnsafeRawBufferPointer, shape: [Int],
                                 ranges: (lo: UnsafeMutablePointer<Float>, hi: UnsafeMutablePointer<Float>)?) -> (metrics: ErrorMetrics, zeros: Int)? {
        let layout = TensorLayout(shape: shape)
        guard KernelDispatch.avx2, clip == .minmax, let runs = Self.runs(layout, granularity),
              raw.count == 2 * layout.count, let base = raw.baseAddress else { return nil }
        let work = UnsafeMutableBufferPointer<Float>.allocate(capacity: wl_int_minmax_bf16_work_floats(runs.length, runs.group, KernelWork.pieceSize))
        defer { work.deallocate() }
        var sums = (0.0, 0.0, 0.0, 0.0)
        var maxError = 0.0
        var count: Int64 = 0, zeros: Int64 = 0, sourceZeros: Int64 = 0
        withUnsafeMutableBytes(of: &sums) { s in
            wl_int_minmax_runs_bf16_avx2(base.assumingMemoryBound(to: UInt16.self), work.baseAddress!, runs.count, runs.length,
                                         runs.group, KernelWork.pieceSize, Int32(bits), symmetric ? 1 : 0,
                                         s.baseAddress!.assumingMemoryBound(to: Double.self), &maxError, &count, &zeros,
                                         &sourceZeros, ranges?.lo, ranges?.hi)
        }
        return (ErrorMetrics(kernelSums: sums, maxError: maxError, count: count, zeros: zeros), Int(sourceZeros))
    }

    /// `measureBFloat16` of several quantizers on the same stored BF16 bytes in one pass
    /// (`wl_int_menu_bf16_avx2`): each row decoded once, each chunk's group extremes found once per group
    /// length, every option measured while the chunk is in cache. Equal, option by option, to the one-option
    /// kernel bit for bit. Nil where it does not apply: no AVX2, grids not from min/max or per tensor, row
    /// options whose rows are not the group options' runs (tensors of more than 2 dimensions), or group lengths
    /// the kernel does not combine (see CKernels.h); then measure each option on its own.
    static func measureBFloat16(_ quantizers: [IntegerQuantizer], raw: UnsafeRawBufferPointer,
                                shape: [Int]) -> [(metrics: ErrorMetrics, zeros: Int)]? {
        let layout = TensorLayout(shape: shape)
        guard KernelDispatch.avx2, !quantizers.isEmpty, layout.count > 0, raw.count == 2 * layout.count,
              let base = raw.baseAddress else { return nil }
        let rows = layout.count / layout.lastDimension, rowLength = layout.lastDimension
        var options: [wl_int_option] = []
        for q in quantizers {
            guard q.clip == .minmax else { return nil }
            switch q.granularity {
            case .tensor: return nil
            case .channel:
                guard layout.rows == rows else { return nil }
                options.append(wl_int_option(bits: Int32(q.bits), symmetric: q.symmetric ? 1 : 0, group_length: 0))
            case .group(let g):
                options.append(wl_int_option(bits: Int32(q.bits), symmetric: q.symmetric ? 1 : 0, group_length: Int64(g)))
            }
        }
        var results = [wl_int_result](repeating: wl_int_result(), count: options.count)
        var sourceZeros: Int64 = 0
        let done = results.withUnsafeMutableBufferPointer { r in
            wl_int_menu_bf16_avx2(base.assumingMemoryBound(to: UInt16.self), rows, rowLength, KernelWork.pieceSize,
                                  options, options.count, r.baseAddress!, &sourceZeros)
        }
        guard done == 1 else { return nil }
        return results.map { r in
            (ErrorMetrics(kernelSums: r.sums, maxError: r.max_error, count: r.count, zeros: r.zeros), Int(sourceZeros))
        }
    }

    /// `fakeQuantize` for min/max grids in one AVX2 call (`wl_int_minmax_runs_avx2`): the same grids, pieces
    /// and sums in the same order as the portable path, without its per-group calls and arrays. Single-threaded:
    /// the engine already runs row pieces on every core.
    private func fusedMinMax(_ input: UnsafeBufferPointer<Float>, runs: (count: Int, length: Int, group: Int),
                             into output: UnsafeMutableBufferPointer<Float>, measuringAgainst original: UnsafeBufferPointer<Float>?) -> ErrorMetrics? {
        var sums = (0.0, 0.0, 0.0, 0.0)
        var maxError = 0.0
        var count: Int64 = 0, zeros: Int64 = 0
        withUnsafeMutableBytes(of: &sums) { s in
            wl_int_minmax_runs_avx2(input.baseAddress!, original?.baseAddress, output.baseAddress!, runs.count, runs.length,
                                    runs.group, KernelWork.pieceSize, Int32(bits), symmetric ? 1 : 0,
                                    s.baseAddress!.assumingMemoryBound(to: Double.self), &maxError, &count, &zeros)
        }
        guard original != nil else { return nil }
        return ErrorMetrics(kernelSums: sums, maxError: maxError, count: count, zeros: zeros)
    }
}
