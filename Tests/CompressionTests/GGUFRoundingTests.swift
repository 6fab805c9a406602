import Testing
@testable import Compression

/// Q8_0's rounding without a libm call equals `roundf` (half away from zero) on ties, near-ties and extremes
/// (as values: the sign of a zero result does not reach the int8 code).
struct GGUFRoundingTests {
    @Test func roundedHalfAwayEqualsRoundf() {
        var values: [Float] = [0, -0, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 126.5, -127.5, 127.49998, -128.5,
                               0.49999997, -0.49999997, 8_388_607.5, 8_388_608, 1e30, -1e30, .infinity, -.infinity,
                               Float.leastNonzeroMagnitude, 3.4028235e38]
        var seed: UInt32 = 1
        for _ in 0..<100_000 {
            seed = seed &* 1_664_525 &+ 1_013_904_223
            values.append(Float(Int32(bitPattern: seed)) / Float(1 << 24))   // |v| < 128, many ties
            values.append(Float(Int32(bitPattern: seed) >> 8) / 2)           // exact halves
        }
        for v in values {
            // Equal as values: roundf keeps the sign of a zero result (−0.3 → −0), which an int8 code drops.
            #expect(GGUFBlockQuantizer.roundedHalfAway(v) == v.rounded(.toNearestOrAwayFromZero), "\(v)")
        }
    }
}

/// Q8_0 blocks with NaN or infinite values are quantized without trapping.
struct GGUFQ8NonFiniteTests {
    @Test func nonFiniteBlocksDoNotTrap() {
        for bad in [Float.nan, .infinity, -.infinity] {
            var x = (0..<32).map { Float($0) / 8 - 2 }
            x[5] = bad
            let bytes = x.withUnsafeBufferPointer { GGUFBlockQuantizer.quantize($0, type: .q8_0) }
            #expect(bytes.count == 34)
        }
    }
}

/// Q8_0 (rounding without libm) equals ggml's rule (`d = amax/127`, `q = roundf(x/d)`) on blocks full of ties.
struct GGUFQ8LanesTests {
    @Test func lanesEqualTheScalarRule() {
        var seed: UInt32 = 99
        for _ in 0..<5000 {
            let x: [Float] = (0..<32).map { _ in
                seed = seed &* 1_664_525 &+ 1_013_904_223
                // Multiples of 1/2 and 1/4 with a block maximum of 127 make x·id land on ties.
                return Float(Int32(bitPattern: seed) >> 24) / (seed & 1 == 0 ? 2 : 4)
            }
            var amax: Float = 0
            for v in x { amax = max(amax, abs(v)) }
            let d = amax / 127, id: Float = d == 0 ? 0 : 1 / d
            var want = [UInt8](repeating: 0, count: 34)
            withUnsafeBytes(of: Float16(d).bitPattern.littleEndian) { want[0] = $0[0]; want[1] = $0[1] }
            for j in 0..<32 { want[2 + j] = UInt8(bitPattern: Int8(max(-128, min(127, (x[j] * id).rounded(.toNearestOrAwayFromZero))))) }
            let got = x.withUnsafeBufferPointer { GGUFBlockQuantizer.quantize($0, type: .q8_0) }
            #expect(got == want, "\(x)")
            if got != want { return }
        }
    }
}
