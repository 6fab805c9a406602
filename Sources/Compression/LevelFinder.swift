import WeightFormats

/// Finds the quantization grid worth drawing (each codec's `levels`): that of the unit (tensor, row, group or block) with the widest
/// range, since its levels are the coarsest and show the scheme's resolution at its worst.
///
/// Levels are found from the values the quantizer is given; a piece of a tensor reports its widest unit with
/// labels offset by `firstRow` (rows of the last dimension before the piece).
public enum LevelFinder {
    public struct Found: Sendable, Equatable {
        public var levels: QuantizationLevels
        /// The unit's range width, to pick the widest across pieces.
        public var width: Double
    }

    public static func find(_ q: QuantFormat, values: UnsafeBufferPointer<Float>, shape: [Int],
                            firstRow: Int = 0, clustering: KMeansClustering? = nil) -> Found? {
        guard TensorLayout(shape: shape).count > 0, let codec = q.codec else { return nil }
        return codec.levels(values, shape: shape, firstRow: firstRow, clustering: clustering)
    }

    static func unitName(_ g: Granularity, segment: Range<Int>, layout: TensorLayout, firstRow: Int) -> String {
        switch g {
        case .tensor:
            return "tensor"
        case .channel:
            return "row \(firstRow + segment.lowerBound / max(1, layout.rowLength))"
        case .group:
            let run = segment.lowerBound / max(1, layout.lastDimension)
            let rowsPerDim0 = max(1, layout.rowLength / max(1, layout.lastDimension))
            let group = (segment.lowerBound % max(1, layout.lastDimension)) / max(1, segment.count)
            return "group \(group) of row \(firstRow * rowsPerDim0 + run)"
        }
    }
}
