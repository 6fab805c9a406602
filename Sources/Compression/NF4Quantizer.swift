/// bitsandbytes NF4: per block of `group` consecutive values in flat order, `absmax` (kept as Float32),
/// normalise by multiplying with `1/absmax` (as bitsandbytes' blockwise kernel does), take the nearest of the
/// 16 NF4 levels, multiply the level back by `absmax`.
///
/// Nearest is decided against the 15 midpoints `(L[i] + L[i+1]) / 2` computed in Float32: the code is the
/// number of midpoints strictly below the normalised value, so a value exactly on a midpoint takes the lower
/// level (bitsandbytes' `dQuantizeNF4` also tests `x > midpoint`). A block whose absmax is 0 stays 0; 0 maps
/// to the level 0 exactly, so pruned zeros stay zero.
public struct NF4Quantizer: Hashable, Sendable {
    public var group: Int

    public init(group: Int = 64) {
        precondition(group > 0)
        self.group = group
    }

    /// bitsandbytes' NF4 code book, ascending.
    public static let levels: [Float] = [
        -1, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
        -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0,
        0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
        0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1,
    ]

    /// The 15 decision midpoints, in Float32.
    public static let midpoints: [Float] = (0..<15).map { (levels[$0] + levels[$0 + 1]) / 2 }

    /// The NF4 code (0…15) of a value already divided by its block's absmax.
    @inline(__always)
    public static func code(_ x: Float) -> Int {
        var c = 0
        for m in midpoints { c += x > m ? 1 : 0 }
        return c
    }

    /// Fake-quantizes `input` (flat order; the shape does not matter to NF4) into `output`; with `original`,
    /// also measures the output against it (fused) and returns the metrics.
    @discardableResult
    public func fakeQuantize(_ input: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>,
                             measuringAgainst original: UnsafeBufferPointer<Float>? = nil) -> ErrorMetrics? {
        precondition(output.count >= input.count)
        let blocks = (input.count + group - 1) / group
        let perTask = max(1, (1 << 14) / group)
        let tasks = (blocks + perTask - 1) / perTask
        let pieces = (0..<tasks).map {
            KernelWork.Piece(segment: $0, range: ($0 * perTask * group) ..< min(input.count, ($0 + 1) * perTask * group))
        }
        return Self.midpoints.withUnsafeBufferPointer { mids in
            Self.levels.withUnsafeBufferPointer { levels in
                KernelWork.run(pieces, totalWork: input.count, output: output, measuringAgainst: original) { piece in
                    let t = piece.segment
                    for b in (t * perTask) ..< min(blocks, (t + 1) * perTask) {
                        let lo = b * group, hi = min(lo + group, input.count)
                        let absmax = KernelSIMD.absMax(UnsafeBufferPointer(rebasing: input[lo..<hi]))
                        if absmax == 0 {
                            for i in lo..<hi { output[i] = 0 }
                            continue
                        }
                        let inv = 1 / absmax
                        var i = lo
                        let invV = SIMD8<Float>(repeating: inv)
                        while i + 8 <= hi {
                            let x = KernelSIMD.load(input.baseAddress! + i) * invV
                            var c = SIMD8<Int32>()
                            for k in 0..<15 { c &+= SIMD8<Int32>().replacing(with: 1, where: x .> SIMD8<Float>(repeating: mids[k])) }
                            for l in 0..<8 { output[i + l] = levels[Int(c[l])] * absmax }
                            i += 8
                        }
                        while i < hi {
                            let x = input[i] * inv
                            var c = 0
                            for k in 0..<15 { c &+= x > mids[k] ? 1 : 0 }
                            output[i] = levels[c] * absmax
                            i += 1
                        }
                    }
                }
            }
        }
    }
}
