import Foundation
import Testing
@testable import Compression

/// The AVX2 kernels (CKernels target) against the portable Swift loops they replace: every result must be
/// equal bit for bit (the numbers `report` prints must not depend on the CPU). The data are chosen to reach
/// every branch: lengths around the 8-lane, 64-value block, 16 Ki statistics block and 65 536 zero-count
/// flush boundaries; ±0, NaN and ±∞; values spread over many binades (so Double sums round); BF16-rounded
/// values (the pattern counts). Skipped on CPUs without AVX2, where only the portable loops run.
struct AVX2KernelTests {
    /// `q.fakeQuantize` of `input` measured against `original`, by the fused min/max kernel and by the per-group
    /// path: (fused output, its metrics, per-group output, its metrics).
    static func fusedAndPerGroup(_ q: IntegerQuantizer, _ input: [Float], against original: [Float], shape: [Int])
        -> (fused: [Float], fusedMetrics: ErrorMetrics?, perGroup: [Float], perGroupMetrics: ErrorMetrics?) {
        var fo = [Float](repeating: .nan, count: input.count), po = fo
        let (fm, pm) = input.withUnsafeBufferPointer { x in
            original.withUnsafeBufferPointer { o in
                (fo.withUnsafeMutableBufferPointer { q.fakeQuantize(x, shape: shape, into: $0, measuringAgainst: o, fused: true) },
                 po.withUnsafeMutableBufferPointer { q.fakeQuantize(x, shape: shape, into: $0, measuringAgainst: o, fused: false) })
            }
        }
        return (fo, fm, po, pm)
    }

    static let lengths = [1, 7, 8, 9, 63, 64, 65, 127, 128, 129, 1000, 16_383, 16_384, 16_391, 65_536, 65_600, 200_003]

    /// Seeded values: mostly normal-ish with a wide spread of magnitudes, some exact zeros of both signs.
    static func values(_ n: Int, seed: UInt64, nonFinite: Bool = false, offset: Float = 0) -> [Float] {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        func next() -> UInt64 { state ^= state << 13; state ^= state >> 7; state ^= state << 17; return state }
        return (0..<n).map { i in
            let r = next()
            switch r % 29 {
            case 0: return 0
            case 1: return -0.0
            case 2 where nonFinite: return [Float.nan, .infinity, -.infinity][Int(r >> 8) % 3]
            default:
                let u = Float(r >> 40) / Float(1 << 24) - 0.5
                let scale = Float(pow(2.0, Double(Int(r >> 20 & 31)) - 20))
                return offset + u * scale * (i % 3 == 0 ? 1000 : 1)
            }
        }
    }

    static func bf16(_ v: [Float]) -> [Float] { v.map { Float(bitPattern: $0.bitPattern & 0xFFFF_0000) } }

    func bits(_ s: Statistics) -> [UInt64] {
        [s.min.bitPattern, s.max.bitPattern, s.mean.bitPattern, s.m2.bitPattern, s.m3.bitPattern, s.m4.bitPattern,
         UInt64(s.count), UInt64(s.zeros), UInt64(s.nans), UInt64(s.infinities)]
    }

    @Test(.enabled(if: KernelDispatch.cpuHasAVX2), arguments: lengths)
    func statisticsAndPatternCountsAreEqual(_ n: Int) {
        for (seed, nonFinite, offset) in [(UInt64(1), false, Float(0)), (2, true, 0), (3, false, 3.5)] {
            let v = Self.bf16(Self.values(n, seed: seed &+ UInt64(n), nonFinite: nonFinite, offset: offset))
            var countsA = [UInt32](repeating: 0, count: 1 << 16), countsP = countsA
            var a = Statistics(), p = Statistics()
            v.withUnsafeBufferPointer { b in
                countsA.withUnsafeMutableBufferPointer { a.add(b, avx2: true, patterns: $0.baseAddress) }
                countsP.withUnsafeMutableBufferPointer { p.add(b, avx2: false, patterns: $0.baseAddress) }
            }
            #expect(bits(a) == bits(p), "n = \(n), seed \(seed)")
            #expect(countsA == countsP, "n = \(n), seed \(seed)")
            #expect(countsA.reduce(0) { $0 + Int($1) } == n)
        }
    }

    @Test(.enabled(if: KernelDispatch.cpuHasAVX2), arguments: lengths)
    func minMaxFakeQuantizeAndErrorSumsAreEqual(_ n: Int) {
        let v = Self.values(n, seed: 7 &+ UInt64(n))
        v.withUnsafeBufferPointer { x in
            let (la, ha) = KernelSIMD.minMax(x, avx2: true), (lp, hp) = KernelSIMD.minMax(x, avx2: false)
            #expect(la.bitPattern == lp.bitPattern && ha.bitPattern == hp.bitPattern, "minMax, n = \(n)")
            for (s, a, b) in [(Float(0.0137), Float(-8), Float(7)), (0.5, -2, 1), (3e-7, 0, 15), (1e4, -128, 127)] {
                var oa = [Float](repeating: .nan, count: n), op = oa
                oa.withUnsafeMutableBufferPointer { KernelSIMD.fakeQuantize(x, $0.baseAddress!, scale: s, lo: a, hi: b, avx2: true) }
                op.withUnsafeMutableBufferPointer { KernelSIMD.fakeQuantize(x, $0.baseAddress!, scale: s, lo: a, hi: b, avx2: false) }
                #expect(oa.map(\.bitPattern) == op.map(\.bitPattern), "fakeQuantize, n = \(n), scale \(s)")
                var ma = ErrorMetrics(), mp = ErrorMetrics()
                oa.withUnsafeBufferPointer { h in
                    ma.accumulate(original: x, reconstructed: h, avx2: true)
                    mp.accumulate(original: x, reconstructed: h, avx2: false)
                }
                #expect(ma == mp, "error sums, n = \(n), scale \(s)")
                #expect(ma.sumSquaredError.bitPattern == mp.sumSquaredError.bitPattern
                        && ma.sumProducts.bitPattern == mp.sumProducts.bitPattern
                        && ma.maxAbsError.bitPattern == mp.maxAbsError.bitPattern)
            }
        }
    }

    /// An unchanged layer measured in one pass (`ErrorMetrics.unchanged`) equals measuring the values against
    /// themselves piece by piece with the portable loop, bit for bit, zeros included; non-finite values are
    /// left to `measure`.
    @Test(.enabled(if: KernelDispatch.cpuHasAVX2), arguments: lengths)
    func unchangedValuesMeasureAsAgainstThemselves(_ n: Int) throws {
        for seed: UInt64 in [3, 11] {
            let v = Self.values(n, seed: seed &+ UInt64(n)).enumerated().map { $0.offset % 101 == 5 ? Float.leastNonzeroMagnitude : $0.element }
            try v.withUnsafeBufferPointer { x in
                let one = try #require(ErrorMetrics.unchanged(x, avx2: true), "n = \(n)")
                var portable = ErrorMetrics()
                for start in stride(from: 0, to: n, by: 1 << 16) {
                    let piece = UnsafeBufferPointer(rebasing: x[start..<min(n, start + (1 << 16))])
                    var m = ErrorMetrics()
                    m.accumulate(original: piece, reconstructed: piece, avx2: false)
                    portable = portable + m
                }
                #expect(one == portable, "n = \(n), seed \(seed)")
                #expect(one.sumSquares.bitPattern == portable.sumSquares.bitPattern
                        && one.sumProducts.bitPattern == portable.sumProducts.bitPattern
                        && one.sumSquaresReconstructed.bitPattern == portable.sumSquaresReconstructed.bitPattern
                        && one.sumSquaredError.bitPattern == portable.sumSquaredError.bitPattern)
                #expect(one.zeros == v.filter { $0 == 0 }.count)
                #expect(one == ErrorMetrics.measure(original: x, reconstructed: x))
            }
            let bad = Self.values(n, seed: seed, nonFinite: true)
            if bad.contains(where: { !$0.isFinite }) {
                bad.withUnsafeBufferPointer { #expect(ErrorMetrics.unchanged($0, avx2: true) == nil, "n = \(n)") }
            }
        }
        #expect(ErrorMetrics.unchanged(UnsafeBufferPointer(start: nil, count: 0), avx2: true) == ErrorMetrics())
    }
}

/// The fused min/max integer kernel (`wl_int_minmax_runs_avx2`) against the per-group path: equal output
/// bits and equal error sums, for every bit width, both grid kinds, rows, groups that divide the rows and
/// groups that leave a shorter last run, rows longer than one 16 Ki piece, an all-zero group and a pruned
/// copy measured against the original.
struct FusedIntegerKernelTests {
    static let shapes: [([Int], Granularity)] = [
        ([64, 256], .group(128)), ([64, 256], .group(32)), ([7, 200], .group(64)), ([33, 40_000], .channel),
        ([300, 72], .channel), ([5, 3, 96], .group(32)), ([1000], .group(128)), ([9, 16], .group(16)),
    ]

    @Test(.enabled(if: KernelDispatch.cpuHasAVX2), arguments: 0..<shapes.count)
    func fusedEqualsPerGroup(_ c: Int) {
        let (shape, granularity) = Self.shapes[c]
        let n = shape.reduce(1, *)
        var values = AVX2KernelTests.values(n, seed: UInt64(100 + c))
        for i in 0..<min(n, 16) { values[i] = 0 }          // an all-zero first group
        let pruned = values.enumerated().map { $0.offset % 5 == 0 ? 0 : $0.element }
        for bits in 2...8 {
            for symmetric in [true, false] {
                let q = IntegerQuantizer(bits: bits, symmetric: symmetric, granularity: granularity)
                for (input, original) in [(values, values), (pruned, values)] {
                    let (fo, fm, po, pm) = AVX2KernelTests.fusedAndPerGroup(q, input, against: original, shape: shape)
                    #expect(fo.map(\.bitPattern) == po.map(\.bitPattern), "\(shape) \(granularity) int\(bits) sym \(symmetric)")
                    #expect(fm == pm && fm != nil, "\(shape) \(granularity) int\(bits) sym \(symmetric)")
                    #expect(fm?.sumSquaredError.bitPattern == pm?.sumSquaredError.bitPattern)
                }
            }
        }
    }
}
