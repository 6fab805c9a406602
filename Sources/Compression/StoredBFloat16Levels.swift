import CKernels
import WeightFormats

/// The grid to draw (`IntCodec.levels`) found from a piece's stored BF16 bytes, beside the fused kernel's
/// numbers (`LayerEvaluator.evaluateStoredBFloat16(_:shape:raw:firstRow:)`), so the workbench's evaluations take
/// the stored-bytes path as `report`'s do instead of decoding the piece, reconstructing it and scanning it again.
///
/// The fused kernel hands back each group's min/max as it finds its grid (`IntegerQuantizer.measureBFloat16Ranges`,
/// the lanes of `ClippingSearch.minMax`, so the same floats); each group's grid is then `IntegerGrid.symmetric` /
/// `.asymmetric` of that range, as `IntegerQuantizer.grid(for:)` makes it, and the first widest is kept, as
/// `IntCodec.levels` keeps it: the levels, their unit and their width are those of the Float path.
extension LevelFinder {
    /// The widest unit's levels for `settings` on a piece of `shape` given as little-endian BF16 `raw` bytes
    /// (rows offset by `firstRow`), or nil where the stored-bytes path does not apply (see
    /// `LayerEvaluator.readsStoredBFloat16`; also nil for an empty piece).
    public static func findStoredBFloat16(_ settings: LayerSettings, shape: [Int], raw: UnsafeRawBufferPointer,
                                          firstRow: Int = 0) -> Found? {
        storedBFloat16(settings, shape: shape, raw: raw, firstRow: firstRow)?.found
    }

    /// The fused kernel's numbers on the stored bytes (`IntegerQuantizer.measureBFloat16`) and the levels
    /// `findStoredBFloat16` finds, from one pass.
    static func storedBFloat16(_ settings: LayerSettings, shape: [Int], raw: UnsafeRawBufferPointer,
                               firstRow: Int) -> (metrics: ErrorMetrics, zeros: Int, found: Found)? {
        guard KernelDispatch.avx2, settings.prune == .none, let codec = IntCodec(settings.quantize), codec.clip == .minmax else { return nil }
        let layout = TensorLayout(shape: shape)
        guard let runs = IntegerQuantizer.runs(layout, codec.granularity),
              let m = codec.quantizer.measureBFloat16Ranges(raw, shape: shape), !m.lo.isEmpty else { return nil }
        let perRun = (runs.length + runs.group - 1) / runs.group
        let (lo, hi) = (m.lo, m.hi)
        let (bits, symmetric) = (codec.bits, codec.symmetric)
        func grid(_ k: Int) -> IntegerGrid {
            symmetric ? .symmetric(bits: bits, clip: max(-lo[k], hi[k])) : .asymmetric(bits: bits, lo: lo[k], hi: hi[k])
        }
        // `max(by:)` of `IntCodec.levels`: the first of the widest. A grid's width never shrinks as its key grows
        // (the clip of a symmetric grid, the range widened to hold 0 of an asymmetric one: scale = key / levels,
        // width = (qmax − qmin)·scale; lo and hi are never NaN), so a group whose key is not above the largest
        // so far cannot be wider than the widest so far: only a new largest key needs its grid worked out.
        var best = 0, bestGrid = grid(0), bestWidth = IntCodec.width(bestGrid)
        lo.withUnsafeBufferPointer { lo in
            hi.withUnsafeBufferPointer { hi in
                func scan(_ key: (Float, Float) -> Float) {
                    var largest = key(lo[0], hi[0])
                    for k in 1..<lo.count {
                        let c = key(lo[k], hi[k])
                        guard c > largest else { continue }
                        largest = c
                        let g = grid(k), w = IntCodec.width(g)
                        if bestWidth < w { (best, bestGrid, bestWidth) = (k, g, w) }
                    }
                }
                if symmetric { scan { max(-$0, $1) } } else { scan { max($1, 0) - min($0, 0) } }
            }
        }
        let (r, j) = best.quotientAndRemainder(dividingBy: perRun)
        let start = r * runs.length + j * runs.group
        let segment = start ..< start + min(runs.group, runs.length - j * runs.group)
        return (m.metrics, m.zeros, codec.found(bestGrid, segment: segment, layout: layout, firstRow: firstRow))
    }
}
