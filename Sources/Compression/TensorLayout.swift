import Dispatch
import Foundation

/// How the kernels see a tensor: its element count, the rows of dimension 0 (a 1-D tensor or a scalar is
/// one row) and the runs along the last dimension. Values are always in row-major (C) order.
public struct TensorLayout: Hashable, Sendable {
    public let shape: [Int]
    public let count: Int
    /// Rows of dimension 0 (1 for 0-D and 1-D tensors).
    public let rows: Int
    /// Elements per row of dimension 0 (`count / rows`).
    public let rowLength: Int
    /// Length of the last dimension (1 for a scalar).
    public let lastDimension: Int

    public init(shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        self.shape = shape
        count = shape.reduce(1, *)
        rows = shape.count >= 2 ? shape[0] : 1
        rowLength = rows == 0 ? 0 : count / rows
        lastDimension = shape.last ?? 1
    }

    /// The contiguous flat ranges that share one scale under `granularity`: the whole tensor, each row of
    /// dimension 0, or each run of `g` consecutive values along the last dimension (the last run of a row
    /// may be shorter when the last dimension is not a multiple of `g`).
    public func segments(_ granularity: Granularity) -> [Range<Int>] {
        guard count > 0 else { return [] }
        switch granularity {
        case .tensor:
            return [0..<count]
        case .channel:
            return (0..<rows).map { $0 * rowLength ..< ($0 + 1) * rowLength }
        case .group(let g):
            precondition(g > 0, "group size must be positive")
            let runs = count / lastDimension
            var out: [Range<Int>] = []
            out.reserveCapacity(runs * ((lastDimension + g - 1) / g))
            for r in 0..<runs {
                var j = 0
                while j < lastDimension {
                    out.append(r * lastDimension + j ..< r * lastDimension + min(j + g, lastDimension))
                    j += g
                }
            }
            return out
        }
    }

    /// The pieces a quantizer's error is measured in (each one `ErrorMetrics` of its original and reconstructed
    /// values, merged in order), as flat ranges with the segment each starts in: the runs the segments lie in
    /// (the whole tensor, each row of dimension 0, or each run of the last dimension) cut into whole segments of
    /// at most `pieceSize` values together, or `pieceSize`-slices of one longer segment. Many small groups are
    /// measured as one piece, so the measuring costs the same per value whatever the group length; a piece's
    /// groups are quantized and then measured while they are in cache.
    func measuringPieces(_ granularity: Granularity, pieceSize: Int = KernelWork.pieceSize) -> [KernelWork.Piece] {
        guard count > 0 else { return [] }
        guard case .group(let g) = granularity, g < pieceSize else { return KernelWork.pieces(segments(granularity), pieceSize: pieceSize) }
        let span = pieceSize / g * g, perRun = (lastDimension + g - 1) / g
        var out: [KernelWork.Piece] = []
        out.reserveCapacity((count / lastDimension) * ((lastDimension + span - 1) / span))
        for r in 0..<(count / lastDimension) {
            var j = 0
            while j < lastDimension {
                let e = min(j + span, lastDimension)
                out.append(KernelWork.Piece(segment: r * perRun + j / g, range: r * lastDimension + j ..< r * lastDimension + e))
                j = e
            }
        }
        return out
    }

    /// Number of scales `granularity` needs.
    public func segmentCount(_ granularity: Granularity) -> Int {
        guard count > 0 else { return 0 }
        switch granularity {
        case .tensor: return 1
        case .channel: return rows
        case .group(let g): return (count / lastDimension) * ((lastDimension + g - 1) / g)
        }
    }

    /// Fixed-size blocks of `size` values in flat order (the last may be shorter).
    public func blocks(of size: Int) -> [Range<Int>] {
        precondition(size > 0)
        return stride(from: 0, to: count, by: size).map { $0 ..< min($0 + size, count) }
    }
}

/// Work splitting for the kernels: runs `body` over pieces of at most about `chunk` elements, on every core
/// when there is enough work. Pieces never straddle a segment, so a body may use the segment's parameters.
enum KernelWork {
    static let activeProcessors: Int = max(1, ProcessInfo.processInfo.activeProcessorCount)
    /// Below this many elements work stays on the calling thread.
    static let minimumParallelWork = 1 << 17
    static let pieceSize = 1 << 14

    /// A piece of flat `range`, starting in segment `segment` (the segment it lies in, except for a measuring
    /// piece of several groups, which lie in `segment`, `segment + 1`, …).
    struct Piece { var segment: Int; var range: Range<Int> }

    static func pieces(_ segments: [Range<Int>], pieceSize: Int = pieceSize) -> [Piece] {
        var out: [Piece] = []
        for (i, s) in segments.enumerated() {
            var a = s.lowerBound
            while a < s.upperBound {
                let b = min(a + pieceSize, s.upperBound)
                out.append(Piece(segment: i, range: a..<b))
                a = b
            }
        }
        return out
    }

    /// Calls `body(index)` for every index in `0..<count`, spread over the cores when `totalWork` is large.
    static func forEach(_ count: Int, totalWork: Int, _ body: (Int) -> Void) {
        if count <= 1 || totalWork < minimumParallelWork {
            for i in 0..<count { body(i) }
            return
        }
        let workers = min(count, max(1, activeProcessors * 4))
        // The bodies write disjoint parts of caller-owned buffers; `concurrentPerform` returns only after
        // every iteration finished, so the non-escaping body never outlives this call.
        withoutActuallyEscaping(body) { body in
            let box = UncheckedBody(run: body)
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                let lo = count * w / workers, hi = count * (w + 1) / workers
                for i in lo..<hi { box.run(i) }
            }
        }
    }

    /// Runs `body` on every piece (spread over the cores), and when `original` is given, measures each
    /// piece of `output` against it right after it is written, while it is still in cache. Returns the
    /// merged metrics, or nil when nothing was measured.
    static func run(_ pieces: [Piece], totalWork: Int, output: UnsafeMutableBufferPointer<Float>,
                    measuringAgainst original: UnsafeBufferPointer<Float>?, _ body: (Piece) -> Void) -> ErrorMetrics? {
        guard let original else {
            forEach(pieces.count, totalWork: totalWork) { body(pieces[$0]) }
            return nil
        }
        var parts = [ErrorMetrics](repeating: ErrorMetrics(), count: pieces.count)
        parts.withUnsafeMutableBufferPointer { slots in
            forEach(pieces.count, totalWork: totalWork) { k in
                let piece = pieces[k]
                body(piece)
                slots[k] = ErrorMetrics(original: UnsafeBufferPointer(rebasing: original[piece.range]),
                                        reconstructed: UnsafeBufferPointer(rebasing: output[piece.range]))
            }
        }
        return parts.reduce(ErrorMetrics(), +)
    }

    private struct UncheckedBody: @unchecked Sendable {
        let run: (Int) -> Void
    }
}

/// Round to nearest, ties to even, for |x| ≤ 2^22: adding and subtracting 1.5·2^23 leaves x rounded to an
/// integer in the default rounding mode. Unlike `rounded(.toNearestOrEven)` it vectorises on baseline x86-64.
@inline(__always)
func roundHalfEven(_ x: Float) -> Float {
    (x + 0x1.8p23) - 0x1.8p23
}
