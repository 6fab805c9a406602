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
