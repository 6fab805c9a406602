import CKernels
import WeightFormats

/// The grid to draw (`IntCodec.levels`) found from a piece's stored BF16 bytes, beside the fused kernel's
/// numbers (`LayerEvaluator.evaluateStoredBFloat16`), so the workbench's evaluations take the stored-bytes
/// path as `report`'s do instead of decoding the piece, reconstructing it and scanning it again.
///
/// One AVX2 pass reads each group's min/max from the 2-byte patterns (`wl_bf16_group_ranges_avx2`, the lanes
/// of `ClippingSearch.minMax`, so the same floats); each group's grid is then `IntegerGrid.symmetric` /
/// `.asymmetric` of that range, as `IntegerQuantizer.grid(for:)` makes it, and the first widest is kept, as
/// `IntCodec.levels` keeps it: the levels, their unit and their width are those of the Float path.
extension LevelFinder {
    /// The widest unit's levels for `settings` on a piece of `shape` given as little-endian BF16 `raw` bytes
    /// (rows offset by `firstRow`), or nil where the stored-bytes path does not apply (see
    /// `LayerEvaluator.readsStoredBFloat16`; also nil for an empty piece).
    public static func findStoredBFloat16(_ settings: LayerSettings, shape: [Int], raw: UnsafeRawBufferPointer,
                                          firstRow: Int = 0) -> Found? {
        guard KernelDispatch.avx2, settings.prune == .none, let codec = IntCodec(settings.quantize), codec.clip == .minmax else { return nil }
        let layout = TensorLayout(shape: shape)
        guard let runs = IntegerQuantizer.runs(layout, codec.granularity), raw.count == 2 * layout.count,
              let base = raw.baseAddress else { return nil }
        let perRun = (runs.length + runs.group - 1) / runs.group
        let count = runs.count * perRun
        var lo = [Float](repeating: 0, count: count), hi = [Float](repeating: 0, count: count)
        lo.withUnsafeMutableBufferPointer { l in
            hi.withUnsafeMutableBufferPointer { h in
                wl_bf16_group_ranges_avx2(base.assumingMemoryBound(to: UInt16.self), runs.count, runs.length, runs.group,
                                          l.baseAddress!, h.baseAddress!)
            }
        }
        let (bits, symmetric) = (codec.bits, codec.symmetric)
        func grid(_ k: Int) -> IntegerGrid {
            symmetric ? .symmetric(bits: bits, clip: max(-lo[k], hi[k])) : .asymmetric(bits: bits, lo: lo[k], hi: hi[k])
        }
        // `max(by:)` of `IntCodec.levels`: the first of the widest.
        var best = 0, bestGrid = grid(0), bestWidth = IntCodec.width(bestGrid)
        for k in 1..<count {
            let g = grid(k), w = IntCodec.width(g)
            if bestWidth < w { (best, bestGrid, bestWidth) = (k, g, w) }
        }
        let (r, j) = best.quotientAndRemainder(dividingBy: perRun)
        let start = r * runs.length + j * runs.group
        let segment = start ..< start + min(runs.group, runs.length - j * runs.group)
        return codec.found(bestGrid, segment: segment, layout: layout, firstRow: firstRow)
    }
}
