import Foundation
import WeightFormats

/// Opening a BF16 layer in one pass instead of two. A BF16 tensor holds at most 65 536 distinct values, so
/// beside the statistics (scanned chunk by chunk exactly as `LayerAnalysis.analyse` scans them) each worker
/// counts the bit patterns it sees; both histograms then come from that table:
/// - the display histogram needs [min, max], which only the statistics know at the end; binning each
///   distinct value once and adding its count gives the same integer counts as binning every value;
/// - the magnitude histogram's Σw² per bin is exact in Double for BF16 (each w² has at most 16 significant
///   bits and every value of a bin shares one exponent, so up to 2³⁷ of them add without rounding), hence
///   independent of the order of addition and equal to count × w² summed over the bin's patterns.
/// The result equals the two-pass analysis bit for bit (tested against it).
enum BFloat16Analysis {
    /// Per-worker tables of pattern counts (65 536 each), written by one worker each.
    final class PatternCounts: @unchecked Sendable {
        static let patterns = 1 << 16
        let tables: UnsafeMutablePointer<UInt32>
        let workers: Int

        init(workers: Int) {
            self.workers = workers
            tables = .allocate(capacity: workers * Self.patterns)
            tables.initialize(repeating: 0, count: workers * Self.patterns)
        }

        deinit { tables.deallocate() }

        /// Worker `w`'s table, where the statistics scan counts the high halves of decoded BF16 values
        /// (their bit patterns).
        func table(worker w: Int) -> UnsafeMutablePointer<UInt32> { tables + w * Self.patterns }

        /// Counts over all workers, by pattern.
        func totals() -> [Int] {
            var out = [Int](repeating: 0, count: Self.patterns)
            for w in 0..<workers {
                let t = tables + w * Self.patterns
                for i in 0..<Self.patterns { out[i] += Int(t[i]) }
            }
            return out
        }
    }

    /// Whether `tensor` can be analysed this way: BF16 and small enough that a worker's UInt32 counts cannot
    /// overflow.
    static func applies(to tensor: Tensor) -> Bool {
        tensor.dtype == .bfloat16 && tensor.parameters < Int(UInt32.max)
    }

    /// Whether the scan can read `tensor`'s stored bytes with the AVX2 kernels (`Statistics.add(bfloat16:)`):
    /// little-endian patterns in row-major order on a little-endian host with AVX2.
    static func readsStored(_ tensor: Tensor, avx2: Bool = KernelDispatch.avx2) -> Bool {
        avx2 && tensor.byteOrder == .little && ByteOrder.host == .little && !tensor.fortranOrder
    }

    /// `stored: false` forces the scan of decoded floats (the portable path; tests compare the two).
    static func analyse(_ tensor: Tensor, stored: Bool? = nil, cancelled: @Sendable () -> Bool) throws -> LayerAnalysis {
        let table = PatternCounts(workers: Swift.max(1, TensorScan.workers(tensor)))
        let statistics: Statistics
        if stored ?? readsStored(tensor) {
            statistics = try TensorScan.reduceStoredByWorker(
                tensor, initial: Statistics(), cancelled: cancelled,
                partial: { w, _, bytes in
                    var s = Statistics()
                    s.add(bfloat16: bytes.assumingMemoryBound(to: UInt16.self), patterns: table.table(worker: w))
                    return s
                },
                merge: { $0.merge($1) })
        } else {
            statistics = try TensorScan.reduceByWorker(
                tensor, initial: Statistics(), cancelled: cancelled,
                partial: { w, _, v in
                    var s = Statistics()
                    s.add(v, avx2: KernelDispatch.avx2, patterns: table.table(worker: w))
                    return s
                },
                merge: { $0.merge($1) })
        }
        let counts = table.totals()
        let lo = statistics.count > 0 ? statistics.min : -1, hi = statistics.count > 0 ? statistics.max : 1
        var values = ValueHistogram(bins: LayerAnalysis.displayBins, lo: lo, hi: hi)
        var binCounts = [Int](repeating: 0, count: MagnitudeHistogram.keyCount)
        var binSquares = [Double](repeating: 0, count: MagnitudeHistogram.keyCount)
        var first = MagnitudeHistogram.keyCount, last = -1
        for (pattern, n) in counts.enumerated() where n > 0 {
            let w = Float(bitPattern: UInt32(pattern) << 16)
            values.add(w, count: n)
            guard w.isFinite else { continue }
            let k = MagnitudeHistogram.key(w)
            binCounts[k] += n
            binSquares[k] += Double(n) * (Double(w) * Double(w))
            first = Swift.min(first, k)
            last = Swift.max(last, k)
        }
        let magnitudes = last < first ? MagnitudeHistogram()
            : MagnitudeHistogram(firstKey: first, counts: Array(binCounts[first...last]),
                                 sumSquares: Array(binSquares[first...last]))
        return LayerAnalysis(statistics: statistics, magnitudes: magnitudes, values: values)
    }
}
