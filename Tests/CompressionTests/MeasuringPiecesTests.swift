import Testing
@testable import Compression

/// The integer quantizer's error is measured in pieces of whole groups (`TensorLayout.measuringPieces`): each run
/// cut into (16 384 / g)·g values, or 16 384-value slices of a longer group. The pieces' shape, and the portable
/// and fused paths' numbers against metrics assembled here from the grids, one `ErrorMetrics` per piece.
struct MeasuringPiecesTests {
    static let cases: [(shape: [Int], granularity: Granularity)] = [
        ([3, 40_000], .group(128)), ([3, 40_000], .group(96)), ([2, 1000], .group(128)), ([5, 100], .group(32)),
        ([2, 50_000], .group(20_000)), ([2, 50_000], .group(16_384)), ([3, 40_000], .channel), ([40_000], .tensor),
        ([2, 3, 4096], .group(64)), ([7, 200], .group(48)), ([1, 8], .group(128)),
    ]

    /// The pieces cover the tensor in order, never cross a run, hold at most 16 384 values, start where a segment
    /// starts (or 16 384 values into a longer one) and end where one ends or the run ends.
    @Test(arguments: 0..<cases.count)
    func piecesAreWholeGroupsOfARun(_ c: Int) {
        let (shape, granularity) = Self.cases[c]
        let layout = TensorLayout(shape: shape)
        let segments = layout.segments(granularity)
        let pieces = layout.measuringPieces(granularity)
        let run = granularity == .channel ? layout.rowLength : granularity == .tensor ? layout.count : layout.lastDimension
        var at = 0
        for p in pieces {
            #expect(p.range.lowerBound == at && !p.range.isEmpty && p.range.count <= KernelWork.pieceSize, "\(shape) \(granularity) \(p)")
            #expect(p.range.lowerBound / run == (p.range.upperBound - 1) / run, "\(shape) \(granularity) crosses a run: \(p)")
            let s = segments[p.segment]
            #expect(s.contains(p.range.lowerBound), "\(shape) \(granularity) \(p) starts outside segment \(s)")
            #expect((p.range.lowerBound - s.lowerBound) % KernelWork.pieceSize == 0, "\(shape) \(granularity) \(p)")
            let last = segments.firstIndex { $0.contains(p.range.upperBound - 1) }!
            #expect(segments[last].upperBound == p.range.upperBound || p.range.count == KernelWork.pieceSize,
                    "\(shape) \(granularity) \(p) ends inside \(segments[last])")
            if case .group(let g) = granularity, g < KernelWork.pieceSize {
                // As many whole groups as fit, unless the run ends first.
                let rest = run - p.range.lowerBound % run
                #expect(p.range.count == min(KernelWork.pieceSize / g * g, rest), "\(shape) \(granularity) \(p)")
            }
            at = p.range.upperBound
        }
        #expect(at == layout.count)
    }

    /// The numbers assembled from the definition: each segment quantized with its own grid, then each run in
    /// steps of the piece's length (within each group when groups are longer), one ErrorMetrics per piece, merged
    /// in order. The portable path and (with AVX2) the fused kernels equal them bit for bit.
    @Test(arguments: 0..<cases.count)
    func metricsArePerPiece(_ c: Int) {
        let (shape, granularity) = Self.cases[c]
        let layout = TensorLayout(shape: shape)
        let input = AVX2KernelTests.values(layout.count, seed: UInt64(40 + c))
        let original = input.map { $0 * 1.0001 }
        for bits in [3, 4, 8] {
            for symmetric in [true, false] {
                let q = IntegerQuantizer(bits: bits, symmetric: symmetric, granularity: granularity)
                let grids = input.withUnsafeBufferPointer { q.grids($0, shape: shape) }
                var out = [Float](repeating: 0, count: layout.count)
                for (s, range) in layout.segments(granularity).enumerated() {
                    input.withUnsafeBufferPointer { x in
                        out.withUnsafeMutableBufferPointer { grids[s].fakeQuantize(UnsafeBufferPointer(rebasing: x[range]), into: UnsafeMutableBufferPointer(rebasing: $0[range])) }
                    }
                }
                var expected = ErrorMetrics()
                func measure(_ r: Range<Int>) {
                    expected = expected + original.withUnsafeBufferPointer { w in
                        out.withUnsafeBufferPointer { ErrorMetrics(original: UnsafeBufferPointer(rebasing: w[r]), reconstructed: UnsafeBufferPointer(rebasing: $0[r])) }
                    }
                }
                let runs: [Range<Int>]
                let step: Int
                switch granularity {
                case .tensor: runs = [0..<layout.count]; step = KernelWork.pieceSize
                case .channel: runs = layout.segments(.channel); step = KernelWork.pieceSize
                case .group(let g):
                    runs = (0..<(layout.count / layout.lastDimension)).map { $0 * layout.lastDimension ..< ($0 + 1) * layout.lastDimension }
                    step = g < KernelWork.pieceSize ? KernelWork.pieceSize / g * g : g
                }
                for run in runs {
                    for a in stride(from: run.lowerBound, to: run.upperBound, by: step) {
                        let end = min(a + step, run.upperBound)
                        // A group longer than a piece: its slices of 16 384.
                        for b in stride(from: a, to: end, by: KernelWork.pieceSize) { measure(b ..< min(b + KernelWork.pieceSize, end)) }
                    }
                }
                let what = "\(shape) \(granularity) int\(bits) sym \(symmetric)"
                let (fused, fm, portable, pm) = AVX2KernelTests.fusedAndPerGroup(q, input, against: original, shape: shape)
                #expect(portable.elementsEqual(out) { $0.bitPattern == $1.bitPattern }, "\(what)")
                #expect(pm.map { IntMenuKernelTests.same($0, expected) } == true, "\(what): \(String(describing: pm)) vs \(expected)")
                if KernelDispatch.avx2 {
                    #expect(fused.elementsEqual(out) { $0.bitPattern == $1.bitPattern }, "\(what) fused")
                    #expect(fm.map { IntMenuKernelTests.same($0, expected) } == true, "\(what) fused: \(String(describing: fm))")
                }
            }
        }
    }
}
