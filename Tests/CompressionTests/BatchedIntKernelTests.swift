import Foundation
import Testing
import WeightFormats
@testable import Compression

/// The min/max integer kernels' batches of eight groups (quantize_avx2.c: groups of a multiple of 64 values up
/// to 512, taken eight at a time, across runs when the groups divide them, each batch's grids found one batch
/// ahead) against the per-group path, on shapes that go into and out of batches every way: group counts not
/// multiples of eight, runs the groups do not divide (each run's shorter last group on its own), fewer groups than
/// a batch, the longest batched group and a longer one; with NaN, ±∞, ±0, subnormals, an all-zero group and a
/// group of signed zeros (scale 0) and an all-NaN group among the values. Also the ranges the BF16 kernel hands
/// back for the workbench's grid (`IntegerQuantizer.measureBFloat16Ranges`) against `ClippingSearch.minMax` of
/// each group, bit for bit, and the levels drawn from them against `LevelFinder.find` on the decoded values.
struct BatchedIntKernelTests {
    static let shapes: [([Int], Granularity)] = [
        ([5, 640], .group(128)),    // 25 groups: three batches across the runs, then one group on its own
        ([3, 1100], .group(64)),    // runs not divided: 17 whole groups a run (two batches, one more), then 12 values
        ([2, 128], .group(128)),    // fewer groups than a batch
        ([4, 1024], .group(512)),   // the longest batched group
        ([2, 1280], .group(640)),   // groups too long to batch
        ([17, 256], .group(256)),   // 17 groups
        ([9, 4096], .group(128)),   // rows of the 7B model's width: 288 groups
    ]

    /// BF16 values (little-endian 2-byte patterns) and the Floats they decode to: `AVX2KernelTests.values`
    /// (±0, and NaN, ±∞ when `nonFinite`), with BF16 subnormals of both signs sprinkled in, group 1 all +0,
    /// group 2 of ±0 only, group 3 of subnormals only, and with `nonFinite` group 4 all NaN.
    static func stored(_ n: Int, group: Int, seed: UInt64, nonFinite: Bool) -> (raw: [UInt8], values: [Float]) {
        var patterns = AVX2KernelTests.bf16(AVX2KernelTests.values(n, seed: seed, nonFinite: nonFinite)).map { UInt16($0.bitPattern >> 16) }
        for i in stride(from: 5, to: n, by: 37) { patterns[i] = UInt16(i % 127 + 1) | (i % 2 == 0 ? 0x8000 : 0) }
        func fill(_ g: Int, _ value: (Int) -> UInt16) {
            guard (g + 1) * group <= n else { return }
            for i in g * group ..< (g + 1) * group { patterns[i] = value(i) }
        }
        fill(1) { _ in 0 }
        fill(2) { $0 % 3 == 0 ? 0 : 0x8000 }
        fill(3) { UInt16($0 % 127 + 1) | ($0 % 5 == 0 ? 0x8000 : 0) }
        if nonFinite { fill(4) { $0 % 2 == 0 ? 0x7FC0 : 0xFFC1 } }
        let values = patterns.map { Float(bitPattern: UInt32($0) << 16) }
        return (patterns.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }, values)
    }

    static func group(_ g: Granularity) -> Int {
        if case .group(let n) = g { return n }
        return 64
    }

    /// The Float32 kernel (its output and, on finite values, its sums; also a pruned copy measured against the
    /// original) equal to the portable per-group path, and the BF16 kernel's numbers equal to the Float32
    /// kernel's bit for bit (NaN payloads included), its zero count equal to the values' exact zeros.
    @Test(.enabled(if: KernelDispatch.cpuHasAVX2 && KernelDispatch.avx2), arguments: 0..<shapes.count)
    func batchesEqualPerGroupPath(_ c: Int) {
        let (shape, granularity) = Self.shapes[c]
        let n = shape.reduce(1, *)
        for nonFinite in [false, true] {
            let (raw, values) = Self.stored(n, group: Self.group(granularity), seed: UInt64(500 + c), nonFinite: nonFinite)
            let pruned = values.enumerated().map { $0.offset % 5 == 0 ? 0 : $0.element }
            let zeros = values.withUnsafeBufferPointer { KernelSIMD.zeroCount($0) }
            for bits in 2...8 {
                for symmetric in [true, false] {
                    let q = IntegerQuantizer(bits: bits, symmetric: symmetric, granularity: granularity)
                    let what = "\(shape) \(granularity) int\(bits) sym \(symmetric) nonFinite \(nonFinite)"
                    for (k, (input, original)) in [(values, values), (pruned, values)].enumerated() {
                        let (fo, fm, po, pm) = AVX2KernelTests.fusedAndPerGroup(q, input, against: original, shape: shape)
                        #expect(fo.map(\.bitPattern) == po.map(\.bitPattern), "\(what)")
                        if let fm, let pm {
                            #expect(nonFinite ? IntMenuKernelTests.same(fm, pm) : StoredBFloat16KernelTests.bits(fm) == StoredBFloat16KernelTests.bits(pm), "\(what)")
                        } else {
                            Issue.record("no metrics: \(what)")
                        }
                        if k == 0 {   // measured against themselves: what the BF16 kernel measures
                            let got = raw.withUnsafeBytes { q.measureBFloat16($0, shape: shape) }
                            #expect(got.map { StoredBFloat16KernelTests.bits($0.metrics) } == fm.map(StoredBFloat16KernelTests.bits), "\(what)")
                            #expect(got?.zeros == zeros, "\(what)")
                        }
                    }
                }
            }
        }
    }

    /// Each group's range handed back by the BF16 kernel equals `ClippingSearch.minMax` of the group's decoded
    /// values (signed zeros, ±∞ and the (0, 0) of a group with no number included), and the numbers that come
    /// with them equal `measureBFloat16`'s; on the batched shapes and on `FusedIntegerKernelTests`' shapes.
    @Test(.enabled(if: KernelDispatch.cpuHasAVX2 && KernelDispatch.avx2))
    func rangesEqualMinMaxOfEachGroup() {
        for (shape, granularity) in Self.shapes + FusedIntegerKernelTests.shapes {
            let n = shape.reduce(1, *)
            let segments = TensorLayout(shape: shape).segments(granularity)
            for nonFinite in [false, true] {
                let (raw, values) = Self.stored(n, group: Self.group(granularity), seed: 77, nonFinite: nonFinite)
                let expected = values.withUnsafeBufferPointer { v in
                    segments.map { ClippingSearch.minMax(UnsafeBufferPointer(rebasing: v[$0])) }
                }
                for symmetric in [true, false] {
                    let q = IntegerQuantizer(bits: 4, symmetric: symmetric, granularity: granularity)
                    let what = "\(shape) \(granularity) sym \(symmetric) nonFinite \(nonFinite)"
                    guard let got = raw.withUnsafeBytes({ q.measureBFloat16Ranges($0, shape: shape) }) else {
                        Issue.record("no ranges: \(what)")
                        continue
                    }
                    #expect(got.lo.map(\.bitPattern) == expected.map(\.lo.bitPattern), "\(what)")
                    #expect(got.hi.map(\.bitPattern) == expected.map(\.hi.bitPattern), "\(what)")
                    let alone = raw.withUnsafeBytes { q.measureBFloat16($0, shape: shape) }
                    #expect(alone.map { StoredBFloat16KernelTests.bits($0.metrics) } == StoredBFloat16KernelTests.bits(got.metrics)
                            && alone?.zeros == got.zeros, "\(what)")
                }
            }
        }
    }

    /// The grid drawn from the kernel's ranges equals `LevelFinder.find`'s on the decoded values (levels, unit,
    /// clip range, width), and the evaluation that comes with it equals `evaluateStoredBFloat16`'s.
    @Test(.enabled(if: KernelDispatch.cpuHasAVX2 && KernelDispatch.avx2), arguments: 0..<shapes.count)
    func levelsFromKernelRangesEqualDecodedValues(_ c: Int) throws {
        let (shape, granularity) = Self.shapes[c]
        let n = shape.reduce(1, *)
        for nonFinite in [false, true] {
            let (raw, values) = Self.stored(n, group: Self.group(granularity), seed: UInt64(600 + c), nonFinite: nonFinite)
            for bits in [2, 4, 8] {
                for symmetric in [true, false] {
                    let s = LayerSettings(quantize: .int(bits: bits, symmetric: symmetric, granularity: granularity, clip: .minmax))
                    let what = "\(shape) \(granularity) int\(bits) sym \(symmetric) nonFinite \(nonFinite)"
                    let expected = values.withUnsafeBufferPointer { LevelFinder.find(s.quantize, values: $0, shape: shape, firstRow: 3) }
                    let both = try raw.withUnsafeBytes { try LayerEvaluator.evaluateStoredBFloat16(s, shape: shape, raw: $0, firstRow: 3) }
                    let alone = try raw.withUnsafeBytes { try LayerEvaluator.evaluateStoredBFloat16(s, shape: shape, raw: $0) }
                    #expect(expected != nil && StoredBFloat16LevelsTests.bits(both?.levels) == StoredBFloat16LevelsTests.bits(expected), "\(what)")
                    #expect(both.map { StoredBFloat16KernelTests.bits($0.evaluation.metrics) } == alone.map { StoredBFloat16KernelTests.bits($0.metrics) }
                            && both?.evaluation.size == alone?.size && alone != nil, "\(what)")
                }
            }
        }
    }

    /// Symmetric grids with a subnormal scale, where x/scale can pass qmax (int5: 18·2^-149 / fl(18·2^-149 / 15) = 18 > 15):
    /// the batched Float32 kernel clamps those groups as the per-group path does (it leaves the clamp out only
    /// for normal scales), equal output and sums bit for bit.
    @Test(.enabled(if: KernelDispatch.cpuHasAVX2 && KernelDispatch.avx2))
    func subnormalScalesClampAsPerGroup() {
        let shape = [4, 1024]
        let n = shape.reduce(1, *)
        let values: [Float] = (0..<n).map { i in
            let units = UInt32((i * 7 + i / 128) % 19)
            let sign: Float = i % 2 == 0 ? 1 : -1
            return Float(bitPattern: units) * sign
        }
        for bits in 2...8 {
            let q = IntegerQuantizer(bits: bits, symmetric: true, granularity: .group(128))
            var fo = [Float](repeating: .nan, count: n), po = fo
            let (fm, pm) = values.withUnsafeBufferPointer { x in
                (fo.withUnsafeMutableBufferPointer { q.fakeQuantize(x, shape: shape, into: $0, measuringAgainst: x, fused: true) },
                 po.withUnsafeMutableBufferPointer { q.fakeQuantize(x, shape: shape, into: $0, measuringAgainst: x, fused: false) })
            }
            #expect(fo.map(\.bitPattern) == po.map(\.bitPattern), "int\(bits)")
            #expect(fm.map(StoredBFloat16KernelTests.bits) == pm.map(StoredBFloat16KernelTests.bits) && fm != nil, "int\(bits)")
        }
    }
}
