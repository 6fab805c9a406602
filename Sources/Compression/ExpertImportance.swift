import WeightFormats

/// Importance weights of expert tensors. llama-quantize quantizes a 3-D tensor [experts, rows, columns]
/// (`ffn_*_exps`, ne2 experts) one expert at a time with that expert's slice of the imatrix entry
/// (`imatrix + i03·ne0`), so such a tensor has one weight per column per expert (`columns × experts`
/// values, experts after one another), where a matrix has one per column.
enum ExpertImportance {
    /// Whether `count` weights are per expert for a tensor of `shape` (3-D, more than one set of columns).
    static func isPerExpert(_ count: Int, shape: [Int]) -> Bool {
        guard shape.count == 3, let columns = shape.last, columns > 0 else { return false }
        return count != columns && count == columns * shape[0]
    }

    /// The weights of dimension-0 indices `rows` of a tensor of `shape` (for a piece of a few experts):
    /// per-expert weights are cut to those experts; one set per column is shared by every piece.
    static func slice(_ weights: [Float]?, shape: [Int], rows: Range<Int>) -> [Float]? {
        guard let weights, shape.count == 3, let columns = shape.last, weights.count == columns * shape[0],
              weights.count != columns else { return weights }
        return Array(weights[(rows.lowerBound * columns)..<(rows.upperBound * columns)])
    }

    /// Calls `body` with each expert's values and weights when `importance` is per expert (`count` values
    /// of experts after one another), else once with all of them.
    static func forEachExpert(_ values: UnsafeBufferPointer<Float>, columns: Int, importance: UnsafeBufferPointer<Float>,
                              _ body: (UnsafeBufferPointer<Float>, UnsafeBufferPointer<Float>) throws -> Void) rethrows {
        let experts = importance.count / max(1, columns)
        guard experts > 1 else { return try body(values, importance) }
        let per = values.count / experts
        for e in 0..<experts {
            try body(UnsafeBufferPointer(rebasing: values[(e * per)..<((e + 1) * per)]),
                     UnsafeBufferPointer(rebasing: importance[(e * columns)..<((e + 1) * columns)]))
        }
    }

    /// ggml's importance-matrix quantization of `values` (rows of `columns`), expert by expert when the
    /// weights are per expert.
    static func quantize(_ values: UnsafeBufferPointer<Float>, type: GGMLType, columns: Int,
                         importance: UnsafeBufferPointer<Float>) -> [UInt8] {
        var bytes: [UInt8] = []
        forEachExpert(values, columns: columns, importance: importance) { v, w in
            bytes += GGUFBlockQuantizer.quantize(v, type: type, rowLength: columns, importance: w)
        }
        return bytes
    }

    /// The importance-weighted error of `reconstructed` against `original`, expert by expert when the
    /// weights are per expert.
    static func error(original: UnsafeBufferPointer<Float>, reconstructed: UnsafeBufferPointer<Float>, columns: Int,
                      weights: UnsafeBufferPointer<Float>) -> ImportanceWeightedError {
        var total = ImportanceWeightedError()
        let experts = weights.count / max(1, columns)
        guard experts > 1 else { return ImportanceWeightedError(original: original, reconstructed: reconstructed, weights: weights) }
        let per = original.count / experts
        for e in 0..<experts {
            let r = (e * per)..<((e + 1) * per)
            total.merge(ImportanceWeightedError(original: UnsafeBufferPointer(rebasing: original[r]),
                                                reconstructed: UnsafeBufferPointer(rebasing: reconstructed[r]),
                                                weights: UnsafeBufferPointer(rebasing: weights[(e * columns)..<((e + 1) * columns)])))
        }
        return total
    }
}
