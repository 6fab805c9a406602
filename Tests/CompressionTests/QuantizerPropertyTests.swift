import Foundation
import Testing
@testable import Compression
import WeightFormats
import TestSupport

@Suite struct QuantizerPropertyTests {
    /// Every finite FP8 value rounds to itself; midpoints between neighbours go to the even code; values
    /// beyond the maximum saturate. The table comes from WeightFormats' decoder (independent bit layouts).
    @Test(arguments: [FP8Format.e4m3, .e5m2])
    func fp8RoundingAgainstDecodedTable(_ f: FP8Format) throws {
        let codes = (0..<128).map { UInt8($0) }
        var table = [Float](repeating: 0, count: 128)
        try codes.withUnsafeBytes { raw in
            try table.withUnsafeMutableBufferPointer {
                try ElementDecoder.decode(raw, dtype: f == .e4m3 ? .float8E4M3 : .float8E5M2, byteOrder: .little,
                                          count: 128, into: $0, path: "table")
            }
        }
        let finite = table.enumerated().filter { $0.element.isFinite }   // ascending with the code
        for (code, v) in finite {
            #expect(FP8Quantizer.round(v, f) == v)
            #expect(FP8Quantizer.round(-v, f) == -v)
            if code + 1 < finite.count {
                let next = finite[code + 1].element
                let mid = (v + next) / 2
                #expect(FP8Quantizer.round(mid, f) == (code % 2 == 0 ? v : next), "tie between \(v) and \(next)")
                #expect(FP8Quantizer.round(mid.nextDown, f) == v)
                #expect(FP8Quantizer.round(mid.nextUp, f) == next)
            }
        }
        let mx = FP8Quantizer.maxValue(f)
        #expect(finite.last!.element == mx)
        #expect(FP8Quantizer.round(mx * 4, f) == mx)
        #expect(FP8Quantizer.round(-.greatestFiniteMagnitude, f) == -mx)
    }

    @Test func nf4LevelsAndTies() {
        #expect(NF4Quantizer.levels.count == 16)
        for (i, l) in NF4Quantizer.levels.enumerated() { #expect(NF4Quantizer.code(l) == i) }
        for (i, m) in NF4Quantizer.midpoints.enumerated() {
            #expect(NF4Quantizer.code(m) == i, "a value on a midpoint takes the lower level")
            #expect(NF4Quantizer.code(m.nextUp) == i + 1)
        }
    }

    @Test func integerZeroRangeReproducesExactly() {
        let w: [Float] = [0, 0, 0, 0, 1, 1, 1, 1]
        for sym in [true, false] {
            for clip in [Clipping.minmax, .percentile(90), .mse] {
                var out = [Float](repeating: .nan, count: 8)
                let q = IntegerQuantizer(bits: 4, symmetric: sym, granularity: .group(4), clip: clip)
                w.withUnsafeBufferPointer { wp in out.withUnsafeMutableBufferPointer { q.fakeQuantize(wp, shape: [2, 4], into: $0) } }
                #expect(Array(out[0..<4]) == [0, 0, 0, 0])
            }
        }
        // Asymmetric keeps a constant positive group exact: the range widens to [0, 1].
        var out = [Float](repeating: .nan, count: 8)
        let q = IntegerQuantizer(bits: 2, symmetric: false, granularity: .group(4))
        w.withUnsafeBufferPointer { wp in out.withUnsafeMutableBufferPointer { q.fakeQuantize(wp, shape: [2, 4], into: $0) } }
        #expect(out == w)
    }

    @Test func roundHalfEvenAndClamp() {
        // scale = 1.0 for absmax 127 at 8 bits: 0.5 → 0, 1.5 → 2, 2.5 → 2, −0.5 → −0, 130 → 127, −200 → −128.
        let g = IntegerGrid.symmetric(bits: 8, clip: 127)
        #expect(g.scale == 1)
        #expect([0.5, 1.5, 2.5, -0.5, -2.5, 130, -200].map { g.fakeQuantize(Float($0)) } == [0, 2, 2, 0, -2, 127, -128])
        let a = IntegerGrid.asymmetric(bits: 8, lo: -1, hi: 3)
        #expect(a.zero == 64)            // round(1 / (4/255)) = round(63.75)
        #expect(a.fakeQuantize(0) == 0)
    }

    @Test func percentileFollowsNumpyLinear() {
        // np.percentile([1, 2, 3, 4], [0, 25, 50, 90, 100]) = 1, 1.75, 2.5, 3.7, 4
        let x: [Double] = [1, 2, 3, 4]
        #expect(ClippingSearch.percentile(sorted: x, 0) == 1)
        #expect(ClippingSearch.percentile(sorted: x, 25) == 1.75)
        #expect(ClippingSearch.percentile(sorted: x, 50) == 2.5)
        #expect(Swift.abs(ClippingSearch.percentile(sorted: x, 90) - 3.7) < 1e-15)
        #expect(ClippingSearch.percentile(sorted: x, 100) == 4)
    }

    @Test func mseSearchNeverWorseThanMinMax() throws {
        let w = try CompressionReference.input("studentt_1000")
        for bits in [2, 3, 4, 8] {
            for sym in [true, false] {
                let r = w.withUnsafeBufferPointer { ClippingSearch.mseGrid($0, bits: bits, symmetric: sym) }
                let full = w.withUnsafeBufferPointer { wp in
                    ClippingSearch.squaredError(wp, grid: IntegerQuantizer(bits: bits, symmetric: sym, granularity: .tensor).grid(for: wp))
                }
                #expect(r.error <= full)
                #expect(r.ratio <= 1 && r.ratio >= 0.2)
            }
        }
    }
}
