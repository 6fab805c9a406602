import Testing
import WeightFormats
@testable import Compression

/// The many-option kernel on stored BF16 (`wl_int_menu_bf16_avx2`, the streamed menu's one pass) against the
/// one-option kernel (`wl_int_minmax_runs_bf16_avx2`), option by option: equal sums, maximum error, counts and
/// zeros bit for bit, on values with the edge cases — NaN, ±∞, subnormals, ±0, constant
/// and all-NaN groups — and shapes whose rows are not a multiple of the groups, rows shorter than a group, and
/// rows longer than a measuring piece.
struct IntMenuKernelTests {
    static let shapes: [[Int]] = [[48, 384], [7, 200], [5, 100], [3, 40_000], [9, 16], [4, 136], [2, 1000], [1, 8]]

    /// BF16 patterns with the edge cases, little-endian bytes.
    static func raw(_ n: Int, seed: UInt64, nonFinite: Bool) -> [UInt8] {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        func next() -> UInt64 { state ^= state << 13; state ^= state >> 7; state ^= state << 17; return state }
        var patterns = (0..<n).map { i -> UInt16 in
            let r = next()
            switch r % 31 {
            case 0: return 0x0000                                            // +0
            case 1: return 0x8000                                            // −0
            case 2: return UInt16(truncatingIfNeeded: r >> 16) & 0x807F | 1  // a subnormal
            case 3 where nonFinite: return [0x7FC0, 0x7F80, 0xFF80, 0xFFC1][Int(r >> 8) % 4]   // NaN, +∞, −∞, NaN
            default:
                // Exponents spread around 1, one value in three a thousand times larger (wide groups).
                let exponent = UInt16(110 + (r >> 20) % 30 + (i % 3 == 0 ? 10 : 0))
                return UInt16(r >> 40 & 1) << 15 | exponent << 7 | UInt16(r >> 32 & 0x7F)
            }
        }
        for i in 0..<min(n, 40) { patterns[i] = 0x3F00 }                      // a constant run (0.5)
        if n > 300 { for i in 160..<192 { patterns[i] = 0x7FC0 } }           // an all-NaN g32 group
        if !nonFinite { patterns = patterns.map { ($0 & 0x7F80) == 0x7F80 ? 0x3F80 : $0 } }
        return patterns.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
    }

    /// Equal bit for bit, except that two NaNs are equal whatever their payloads: when two NaNs of different
    /// sign meet in a sum, x86 keeps the first operand's, and which is first is the compiler's choice (it may
    /// commute an addition), which differs between the two kernels' inlined code.
    static func same(_ a: ErrorMetrics, _ b: ErrorMetrics) -> Bool {
        func eq(_ x: Double, _ y: Double) -> Bool { x.bitPattern == y.bitPattern || (x.isNaN && y.isNaN) }
        return a.count == b.count && a.zeros == b.zeros && eq(a.sumSquares, b.sumSquares)
            && eq(a.sumSquaredError, b.sumSquaredError) && eq(a.sumProducts, b.sumProducts)
            && eq(a.sumSquaresReconstructed, b.sumSquaresReconstructed) && eq(a.maxAbsError, b.maxAbsError)
    }

    /// The integer menu's options and a few others (8-bit groups of 8, int3 per row, int5 g16).
    static let quantizers: [IntegerQuantizer] = SolverMenu.integer.options.compactMap { IntCodec($0.quantize)?.quantizer } + [
        IntegerQuantizer(bits: 8, symmetric: false, granularity: .group(8)),
        IntegerQuantizer(bits: 3, symmetric: false, granularity: .channel),
        IntegerQuantizer(bits: 5, symmetric: true, granularity: .group(16)),
    ]

    @Test(.enabled(if: KernelDispatch.cpuHasAVX2 && KernelDispatch.avx2), arguments: 0..<shapes.count)
    func everyOptionEqualsOneOptionKernel(_ c: Int) throws {
        let shape = Self.shapes[c]
        let n = shape.reduce(1, *)
        for nonFinite in [false, true] {
            let raw = Self.raw(n, seed: UInt64(300 + c), nonFinite: nonFinite)
            // The whole list at once, the menu alone, and each option alone (the combined path with one option).
            for list in [Self.quantizers, Array(Self.quantizers.prefix(11))] {
                let together = raw.withUnsafeBytes { IntegerQuantizer.measureBFloat16(list, raw: $0, shape: shape) }
                #expect(together != nil, "\(shape)")
                for (k, q) in list.enumerated() {
                    let alone = raw.withUnsafeBytes { q.measureBFloat16($0, shape: shape, combined: false) }
                    let combinedAlone = raw.withUnsafeBytes { IntegerQuantizer.measureBFloat16([q], raw: $0, shape: shape)?.first }
                    let what = "\(shape) \(q.granularity) int\(q.bits) sym \(q.symmetric) nonFinite \(nonFinite)"
                    guard let alone, let got = together?[k], let one = combinedAlone else {
                        Issue.record("no result: \(what)")
                        continue
                    }
                    #expect(Self.same(got.metrics, alone.metrics), "\(what): \(got.metrics) vs \(alone.metrics)")
                    #expect(Self.same(one.metrics, alone.metrics), "\(what) alone")
                    #expect(got.zeros == alone.zeros && one.zeros == alone.zeros, "\(what)")
                }
            }
        }
    }

    /// Options the kernel does not combine are refused as a whole (the caller then measures each alone), and
    /// the evaluator's many-option call still equals its one-option call there.
    @Test(.enabled(if: KernelDispatch.cpuHasAVX2 && KernelDispatch.avx2))
    func uncombinedOptionsFallBack() throws {
        let shape = [6, 120]
        let raw = Self.raw(720, seed: 5, nonFinite: false)
        let odd = [IntegerQuantizer(bits: 4, symmetric: true, granularity: .group(40)),   // 40 does not divide 64
                   IntegerQuantizer(bits: 4, symmetric: true, granularity: .group(24))]
        #expect(raw.withUnsafeBytes { IntegerQuantizer.measureBFloat16(odd, raw: $0, shape: shape) } == nil)
        let threeD = [IntegerQuantizer(bits: 8, symmetric: true, granularity: .channel)]
        #expect(raw.withUnsafeBytes { IntegerQuantizer.measureBFloat16(threeD, raw: $0, shape: [2, 3, 120]) } == nil)
        let options = odd.map { LayerSettings(quantize: .int(bits: $0.bits, symmetric: true, granularity: $0.granularity, clip: .minmax)) }
            + SolverMenu.integer.options.filter { SolverMenu.fits($0, shape: shape) }
        let together = try raw.withUnsafeBytes { try LayerEvaluator.evaluateStoredBFloat16(options, shape: shape, raw: $0) }
        for (k, s) in options.enumerated() {
            let alone = try raw.withUnsafeBytes { try LayerEvaluator.evaluateStoredBFloat16(s, shape: shape, raw: $0) }
            #expect(together[k] == alone, "\(s)")
        }
    }

    /// The evaluator's many-option call on the integer menu equals one call per option (metrics, size, zeros).
    @Test(.enabled(if: KernelDispatch.cpuHasAVX2 && KernelDispatch.avx2))
    func evaluatorMenuEqualsEachOption() throws {
        let shape = [64, 512]
        let raw = Self.raw(64 * 512, seed: 8, nonFinite: false)
        let options = SolverMenu.integer.options
        let together = try raw.withUnsafeBytes { try LayerEvaluator.evaluateStoredBFloat16(options, shape: shape, raw: $0) }
        for (k, s) in options.enumerated() {
            let alone = try raw.withUnsafeBytes { try LayerEvaluator.evaluateStoredBFloat16(s, shape: shape, raw: $0) }
            #expect(together[k] == alone, "\(s)")
            #expect((alone == nil) == (s.quantize == .none))
        }
    }
}
