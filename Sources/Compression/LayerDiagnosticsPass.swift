import Dispatch
import Foundation
import WeightFormats

/// A layer's diagnostics gathered from the row pieces an evaluation already decodes, so `report --format
/// json` decodes each tensor once instead of twice. The numbers are bit-identical to `LayerDiagnostics.measure`:
///
/// - Statistics: `measure` merges 16 Ki-element blocks in order; a piece whose bounds are not on a block
///   boundary keeps its edge values (under one block each side), and `finish` joins each piece's tail with
///   the next piece's head into the block they share, so every block is scanned whole and merged in order.
/// - Row maxima: per row, within each piece.
/// - Outliers (beyond 6σ of the whole layer's mean, known only at the end): every piece counts its values'
///   high 16 bits (65 536 bins, ordered by value within a sign). A BF16 tensor's bins are its values (exact, as
///   `measure` counts them). For other dtypes a bin wholly beyond the bound counts in full, one wholly
///   within counts nothing, and only the pieces holding values in the (at most two) bins the bound cuts
///   through are decoded again and counted value by value.
final class LayerDiagnosticsPass: @unchecked Sendable {
    let tensor: Tensor
    let rowsPerPiece: Int
    private let rowElements: Int
    private let bfloat16: Bool
    private let lock = NSLock()
    private var pieces: [Piece?]

    /// What one piece leaves for `finish`.
    struct Piece {
        /// Values before the piece's first block boundary and after its last (all of them when none falls
        /// inside the piece: `blocks` is then empty and `tail` unused).
        var head: [Float]
        var blocks: [Statistics]
        var tail: [Float]
        var hasBoundary: Bool
        var rowMaxima: [Double]
        var bins: [UInt32]
    }

    /// For `tensor` (rank ≥ 2) evaluated in pieces of `rowsPerPiece` rows; a tensor evaluated whole is
    /// measured whole (`LayerDiagnostics.measure`).
    init(tensor: Tensor, rowsPerPiece: Int) {
        self.tensor = tensor
        let rows = max(1, tensor.shape[0])
        self.rowsPerPiece = rowsPerPiece
        rowElements = tensor.parameters / rows
        bfloat16 = BFloat16Analysis.applies(to: tensor)
        pieces = Array(repeating: nil, count: (rows + rowsPerPiece - 1) / rowsPerPiece)
    }

    /// Piece `p` (rows from `p · rowsPerPiece`), its decoded values, and for a BF16 tensor optionally the stored
    /// little-endian patterns they were decoded from: then the statistics blocks are scanned from those (2 bytes
    /// a value instead of 4; `Statistics.add(bfloat16:patterns:)`, equal to the scan of the decoded values).
    func add(piece p: Int, _ values: UnsafeBufferPointer<Float>, stored: UnsafeRawBufferPointer? = nil) {
        let patterns = bfloat16 && BFloat16Analysis.readsStored(tensor) && stored?.count == 2 * values.count
            ? stored.map { UnsafeBufferPointer(start: $0.baseAddress!.assumingMemoryBound(to: UInt16.self), count: values.count) } : nil
        let block = Statistics.blockElements
        let a0 = p * rowsPerPiece * rowElements, a1 = a0 + values.count
        let b0 = (a0 + block - 1) / block * block, b1 = a1 / block * block
        var bins = [UInt32](repeating: 0, count: 1 << 16)
        var piece = Piece(head: [], blocks: [], tail: [], hasBoundary: b0 < a1, rowMaxima: [], bins: [])
        bins.withUnsafeMutableBufferPointer { c in
            func fragment(_ from: Int, _ to: Int) -> [Float] {
                guard from < to else { return [] }
                let part = UnsafeBufferPointer(rebasing: values[(from - a0)..<(to - a0)])
                part.withMemoryRebound(to: UInt32.self) { for bits in $0 { c[Int(bits >> 16)] &+= 1 } }
                return Array(part)
            }
            guard piece.hasBoundary else {
                piece.head = fragment(a0, a1)
                return
            }
            piece.head = fragment(a0, b0)
            var a = b0
            while a < b1 {
                var s = Statistics()
                if let patterns {
                    s.add(bfloat16: UnsafeBufferPointer(rebasing: patterns[(a - a0)..<(a - a0 + block)]), patterns: c.baseAddress!)
                } else {
                    s.add(UnsafeBufferPointer(rebasing: values[(a - a0)..<(a - a0 + block)]), avx2: KernelDispatch.avx2, patterns: c.baseAddress)
                }
                piece.blocks.append(s)
                a += block
            }
            piece.tail = fragment(max(b0, b1), a1)
        }
        piece.bins = bins
        piece.rowMaxima = LayerDiagnostics.rowMaxima(values, rows: values.count / max(1, rowElements))
        lock.withLock { pieces[p] = piece }
    }

    /// The diagnostics, or nil when the evaluation did not decode the tensor (a cached answer) or was cut short.
    func finish() throws -> LayerDiagnostics? {
        guard !pieces.isEmpty, pieces.allSatisfy({ $0 != nil }) else { return nil }
        let parts = pieces.map { $0! }
        // Blocks in order, joining each boundary-free run of fragments into the block they share.
        var merged = Statistics()
        var pending: [Float] = []
        func flush() {
            guard !pending.isEmpty else { return }
            var s = Statistics()
            pending.withUnsafeBufferPointer { s.add($0, avx2: KernelDispatch.avx2) }
            merged.merge(s)
            pending.removeAll(keepingCapacity: true)
        }
        for part in parts {
            pending += part.head
            guard part.hasBoundary else { continue }
            flush()
            for b in part.blocks { merged.merge(b) }
            pending = part.tail
        }
        flush()
        let (mean, limit) = LayerDiagnostics.outlierBound(merged)
        func beyond(_ x: Float) -> Bool { abs(Double(x) - mean) > limit }
        var outliers = 0
        var recount: [Int] = []   // pieces holding values in a bin the bound cuts through
        for (p, part) in parts.enumerated() {
            var n = 0, cut = false
            for pattern in 0..<(1 << 16) where part.bins[pattern] != 0 {
                let first = Float(bitPattern: UInt32(pattern) << 16)
                guard first.isFinite else { continue }   // the exponent is in the high bits: the whole bin is Inf/NaN
                if bfloat16 {
                    if beyond(first) { n += Int(part.bins[pattern]) }
                    continue
                }
                let last = Float(bitPattern: UInt32(pattern) << 16 | 0xFFFF)
                let (lo, hi) = (min(first, last), max(first, last))
                // Double(x) − mean is monotone in x, so a bin's ends decide for every value between them.
                if Double(hi) - mean < -limit || Double(lo) - mean > limit {
                    n += Int(part.bins[pattern])
                } else if beyond(lo) || beyond(hi) {
                    cut = true
                }
            }
            if cut { recount.append(p) } else { outliers += n }
        }
        if !recount.isEmpty {
            let rows = tensor.shape.first ?? 1
            let slots = ResultSlots<Int>(count: recount.count)
            let statistics = merged, recount = recount
            DispatchQueue.concurrentPerform(iterations: recount.count) { k in
                let r0 = recount[k] * rowsPerPiece, r1 = min(rows, r0 + rowsPerPiece)
                let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: (r1 - r0) * rowElements)
                defer { buffer.deallocate() }
                do {
                    try tensor.decode((r0 * rowElements)..<(r1 * rowElements), into: buffer)
                    slots.set(k, LayerDiagnostics.outliers(UnsafeBufferPointer(buffer), beyond: statistics))
                } catch {
                    slots.fail(error)
                }
            }
            if let error = slots.error { throw error }
            outliers += slots.values.reduce(0) { $0 + ($1 ?? 0) }
        }
        return LayerDiagnostics(statistics: merged, rowMaxima: parts.flatMap(\.rowMaxima), outliers: outliers, shape: tensor.shape)
    }
}
