import Testing
@testable import Compression

/// The many-option kernel on stored BF16 (`wl_int_menu_bf16_avx2`) against the integer quantizer's piece
/// definition written out in Swift: each run (a row) measured in pieces of P values from its start,
/// P = g ≥ 16384 ? 16384 : (16384 / g)·g (g the group length, the row for a per-row grid), the last one shorter;
/// each piece's groups fake-quantized with their own min/max grids (`IntegerQuantizer.grids`,
/// `IntegerGrid.fakeQuantize`), the whole piece measured as one `ErrorMetrics(original:reconstructed:)` and the
/// pieces merged in order. Sums, maximum, counts and zeros equal bit for bit (NaN payloads aside:
/// `IntMenuKernelTests.same`), for the kernel's fast path (the solver's menu on rows that are a multiple of its
/// groups) and its generic path (groups of 8 and 16 in the list, ragged and short rows, rows over a piece).
struct IntMenuPieceDefinitionTests {
    static let shapes: [[Int]] = [[3, 4096], [2, 11008], [3, 40_000], [48, 384], [7, 200], [5, 100], [9, 16],
                                  [4, 136], [2, 1000], [1, 8], [1, 32_768]]

    /// `IntMenuKernelTests.raw`'s edge cases, and where the tensor is long enough an all-zero group of 128
    /// (a scale of 0), a group of 128 with only subnormals (a subnormal scale) and one with ±∞ and a large
    /// finite value (an infinite scale): groups whose chunks take every step of the fake-quantizer.
    static func raw(_ n: Int, seed: UInt64, nonFinite: Bool) -> [UInt8] {
        var raw = IntMenuKernelTests.raw(n, seed: seed, nonFinite: nonFinite)
        func set(_ i: Int, _ pattern: UInt16) { raw[2 * i] = UInt8(pattern & 0xFF); raw[2 * i + 1] = UInt8(pattern >> 8) }
        if n >= 4096 {
            for i in 1024..<1152 { set(i, i % 2 == 0 ? 0x0000 : 0x8000) }
            for i in 2048..<2176 { set(i, UInt16(i % 127 + 1) | (i % 3 == 0 ? 0x8000 : 0)) }
            if nonFinite { set(3000, 0x7F80); set(3001, 0x7F7F) }
        }
        return raw
    }

    /// The definition: per run, pieces of P values measured whole and merged in order.
    static func oracle(_ q: IntegerQuantizer, values: [Float], shape: [Int]) -> ErrorMetrics {
        let layout = TensorLayout(shape: shape)
        let segments = layout.segments(q.granularity)
        var reconstructed = [Float](repeating: .nan, count: values.count)
        values.withUnsafeBufferPointer { v in
            let grids = q.grids(v, shape: shape)
            reconstructed.withUnsafeMutableBufferPointer { o in
                for (s, range) in segments.enumerated() {
                    grids[s].fakeQuantize(UnsafeBufferPointer(rebasing: v[range]), into: UnsafeMutableBufferPointer(rebasing: o[range]))
                }
            }
        }
        let (runs, runLength): (Int, Int)
        let g: Int
        switch q.granularity {
        case .channel: (runs, runLength, g) = (layout.rows, layout.rowLength, layout.rowLength)
        case .group(let length): (runs, runLength, g) = (layout.count / layout.lastDimension, layout.lastDimension, length)
        case .tensor: fatalError("not a run granularity")
        }
        let piece = g >= KernelWork.pieceSize ? KernelWork.pieceSize : (KernelWork.pieceSize / g) * g
        var total = ErrorMetrics()
        values.withUnsafeBufferPointer { v in
            reconstructed.withUnsafeBufferPointer { h in
                for r in 0..<runs {
                    var a = r * runLength
                    while a < (r + 1) * runLength {
                        let b = min(a + piece, (r + 1) * runLength)
                        total = total + ErrorMetrics(original: UnsafeBufferPointer(rebasing: v[a..<b]),
                                                     reconstructed: UnsafeBufferPointer(rebasing: h[a..<b]))
                        a = b
                    }
                }
            }
        }
        return total
    }

    static func decode(_ raw: [UInt8]) -> [Float] {
        (0..<raw.count / 2).map { Float(bitPattern: UInt32(raw[2 * $0]) << 16 | UInt32(raw[2 * $0 + 1]) << 24) }
    }

    /// The solver's menu (the fast path where the rows allow it), the whole list with groups of 8 and 16 (the
    /// generic path) and each option alone, against the definition.
    @Test(.enabled(if: KernelDispatch.cpuHasAVX2 && KernelDispatch.avx2), arguments: 0..<shapes.count)
    func everyOptionEqualsPieceDefinition(_ c: Int) throws {
        let shape = Self.shapes[c]
        let n = shape.reduce(1, *)
        for nonFinite in [false, true] {
            let raw = Self.raw(n, seed: UInt64(700 + c), nonFinite: nonFinite)
            let values = Self.decode(raw)
            let menu = Array(IntMenuKernelTests.quantizers.prefix(11))
            let expected = IntMenuKernelTests.quantizers.map { Self.oracle($0, values: values, shape: shape) }
            let lists = [IntMenuKernelTests.quantizers, menu] + IntMenuKernelTests.quantizers.map { [$0] }
            for list in lists {
                let got = raw.withUnsafeBytes { IntegerQuantizer.measureBFloat16(list, raw: $0, shape: shape) }
                guard let got else {
                    Issue.record("no result: \(shape) \(list.count) options")
                    continue
                }
                for (k, q) in list.enumerated() {
                    let want = expected[IntMenuKernelTests.quantizers.firstIndex(of: q)!]
                    let what = "\(shape) of \(list.count): \(q.granularity) int\(q.bits) sym \(q.symmetric) nonFinite \(nonFinite)"
                    #expect(IntMenuKernelTests.same(got[k].metrics, want), "\(what): \(got[k].metrics) vs \(want)")
                    #expect(got[k].zeros == values.filter { $0 == 0 }.count, "\(what)")
                }
            }
        }
    }

    /// Σw² is computed once per piece for every option (by the first option's loop): each option's Σw² equals
    /// the one it gets measured alone (where it computes its own), and all are the definition's.
    @Test(.enabled(if: KernelDispatch.cpuHasAVX2 && KernelDispatch.avx2))
    func sharedSumOfSquaresEqualsEachOptionsOwn() throws {
        let shape = [6, 11008]
        let raw = Self.raw(shape.reduce(1, *), seed: 31, nonFinite: false)
        let menu = Array(IntMenuKernelTests.quantizers.prefix(11))
        let together = try #require(raw.withUnsafeBytes { IntegerQuantizer.measureBFloat16(menu, raw: $0, shape: shape) })
        let want = Self.oracle(menu[0], values: Self.decode(raw), shape: shape).sumSquares
        for (k, q) in menu.enumerated() {
            let alone = try #require(raw.withUnsafeBytes { IntegerQuantizer.measureBFloat16([q], raw: $0, shape: shape) })
            #expect(together[k].metrics.sumSquares.bitPattern == alone[0].metrics.sumSquares.bitPattern, "\(q.granularity) int\(q.bits)")
            #expect(together[k].metrics.sumSquares.bitPattern == want.bitPattern)
        }
    }

    /// Group lengths that do not divide the piece give options different pieces: the kernel refuses them.
    @Test(.enabled(if: KernelDispatch.cpuHasAVX2 && KernelDispatch.avx2))
    func groupsThatDoNotDivideThePieceAreRefused() {
        let raw = Self.raw(2 * 480, seed: 3, nonFinite: false)
        let odd = [IntegerQuantizer(bits: 4, symmetric: true, granularity: .group(96)),
                   IntegerQuantizer(bits: 4, symmetric: true, granularity: .group(128))]
        #expect(raw.withUnsafeBytes { IntegerQuantizer.measureBFloat16(odd, raw: $0, shape: [2, 480]) } == nil)
    }
}
